"""Write the whole leaderboard site into one folder: markdown pages, HTML pages and rank plots.

Layout of ``OUT`` (every link relative, so the folder can be opened from ``file://`` or copied to any static
host)::

    index.html, index.md               the list of boards
    <board_id>.html, <board_id>.md     one board: ranked table (+ plot)
    <board_id>-ranks.svg               its rank-distribution plot (absent when no entry is ranked)
    <board_id>/<slug>.html             one entry: values, provenance, per-case results
    .leaderboard-site.json             the list of files written (the folder's marker)

Every page is built in memory first, then written atomically (benchmark.core.atomic). The marker lists what a
render wrote, so the next render removes pages of boards or entries that no longer exist, and a folder without
the marker that is not empty is refused (so ``--out`` never deletes or mixes with files it did not write).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from leaderboards.render.html import board_page, entry_page, index_page
from leaderboards.render.markdown import board_markdown, index_markdown
from leaderboards.render.plot import rank_plot_svg
from leaderboards.render.text import as_dict, checked_name

__all__ = ["MARKER", "RenderedSite", "build_site", "out_dir_problem", "write_site"]

MARKER = ".leaderboard-site.json"


@dataclass(frozen=True)
class RenderedSite:
    """What a render wrote: the folder, the files (relative POSIX paths) and the files it removed."""

    out: Path
    files: tuple[str, ...]
    removed: tuple[str, ...]
    n_boards: int
    n_entries: int


def out_dir_problem(out: Path) -> str | None:
    """Why ``out`` cannot take a render (a non-empty folder without the marker, a file), or None."""
    if out.exists() and not out.is_dir():
        return f"--out {out}: is a file, expected a folder for the site"
    if out.is_dir() and not (out / MARKER).is_file() and any(out.iterdir()):
        return (
            f"--out {out}: folder is not empty and was not written by 'benchmark leaderboard render' "
            f"(no {MARKER}); choose a new or empty folder"
        )
    return None


def _plain(boards: Iterable[Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Boards as (spec, entries) of plain dicts, names checked, entry order kept (the store sorts best first)."""
    plain = []
    seen: set[str] = set()
    for board in boards:
        spec = as_dict(board.spec)
        bid = checked_name(spec.get("board_id"), "board id")
        if bid in seen:
            raise ValueError(f"board {bid!r} appears twice")
        seen.add(bid)
        entries = [as_dict(e) for e in board.entries]
        slugs = [checked_name(e.get("slug"), f"entry slug on board {bid}") for e in entries]
        if len(set(slugs)) != len(slugs):
            raise ValueError(f"board {bid!r} has two entries with one slug")
        plain.append((spec, entries))
    return sorted(plain, key=lambda b: b[0]["board_id"])


def build_site(boards: Iterable[Any], generator: str = "detbench") -> dict[str, bytes]:
    """Every file of the site as ``{relative path: bytes}`` (nothing written)."""
    return _build(_plain(boards), generator)


def _build(plain: list[tuple[dict[str, Any], list[dict[str, Any]]]], generator: str) -> dict[str, bytes]:
    files: dict[str, bytes] = {
        "index.html": index_page(plain, generator).encode("utf-8"),
        "index.md": index_markdown(plain).encode("utf-8"),
    }
    for spec, entries in plain:
        bid = spec["board_id"]
        svg = rank_plot_svg(spec, entries)
        plot_name = f"{bid}-ranks.svg" if svg is not None else None
        if svg is not None:
            files[f"{bid}-ranks.svg"] = svg
        files[f"{bid}.html"] = board_page(spec, entries, plot_name, generator).encode("utf-8")
        files[f"{bid}.md"] = board_markdown(spec, entries, plot_name).encode("utf-8")
        for position, entry in enumerate(entries, start=1):
            files[f"{bid}/{entry['slug']}.html"] = entry_page(spec, entry, position, generator).encode("utf-8")
    return files


def _previous_files(out: Path) -> list[str]:
    """Files the last render listed in the marker (only plain relative paths inside ``out`` are trusted)."""
    try:
        listed = json.loads((out / MARKER).read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError, AttributeError):
        return []
    safe = []
    for name in listed:
        p = PurePosixPath(str(name))
        if not p.is_absolute() and ".." not in p.parts and p.parts and p.name != MARKER:
            safe.append(str(p))
    return safe


def write_site(boards: Iterable[Any], out: str | Path, generator: str = "detbench") -> RenderedSite:
    """Render ``boards`` into ``out``; pages of the previous render that are gone now are removed."""
    from benchmark.core.atomic import atomic_write_bytes, atomic_write_json

    out = Path(out)
    problem = out_dir_problem(out)
    if problem:
        raise ValueError(problem)
    plain = _plain(boards)
    files = _build(plain, generator)  # all built before anything is written
    old = set(_previous_files(out)) if out.is_dir() else set()
    for rel, data in files.items():
        target = out / rel
        if not (target.is_file() and target.read_bytes() == data):  # unchanged pages keep their mtime
            atomic_write_bytes(target, data)
    removed = sorted(old - set(files))
    for rel in removed:
        target = out / rel
        if target.is_file() and not target.is_symlink():
            target.unlink()
            parent = target.parent
            if parent != out and parent.is_dir() and not any(parent.iterdir()):
                parent.rmdir()
    names = sorted(files)
    atomic_write_json(out / MARKER, {"generator": generator, "files": names})
    return RenderedSite(out, tuple(names), tuple(removed), len(plain), sum(len(entries) for _, entries in plain))
