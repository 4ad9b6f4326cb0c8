"""Errors that carry several user-facing problems at once (printed by the CLI one line each, no traceback)."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["InputErrors"]


class InputErrors(ValueError):
    """Problems with a command's arguments, inputs or outputs, one line each.

    A ``ValueError``, so callers that handle bad values keep working; ``str()`` joins the lines.
    """

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = [str(p) for p in problems] or ["invalid input"]
        super().__init__("\n".join(self.problems))
