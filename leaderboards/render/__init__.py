"""Render the leaderboards: markdown pages and a static, self-contained HTML site (``benchmark leaderboard render``).

Reads boards only through :func:`leaderboards.store.load_boards` (see leaderboards/README.md); this package
turns them into pages and never changes an entry.
"""

from __future__ import annotations

from leaderboards.render.site import MARKER, RenderedSite, build_site, out_dir_problem, write_site

__all__ = ["MARKER", "RenderedSite", "build_site", "out_dir_problem", "write_site"]
