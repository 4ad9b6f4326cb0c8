"""Checks every command runs on its arguments, inputs and output locations before any heavy work.

A command collects every problem in one :class:`Checks` (numbers in range, names known to their registries,
inputs that exist and are the right kind, outputs that are folders/files that can be written) and calls
:meth:`Checks.raise_if_any`: the CLI then prints one ``error: ...`` line per problem and exits 1, and nothing
has been read in bulk, computed or written. Standard library only, so checking stays fast.

Writability is judged with :func:`os.access`, which a superuser passes for any folder on a writable file
system (a read-only mount still fails); a folder that cannot be created because a file is in the way is
detected for every user.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from benchmark.core.errors import InputErrors

__all__ = ["Checks", "InputErrors", "nearest_existing"]

if TYPE_CHECKING:
    from benchmark.data.format import PreparedDataset

T = TypeVar("T")
MAX_LISTED = 20  # problems listed one by one; the rest are counted


def nearest_existing(path: Path) -> Path:
    """``path`` itself or its closest ancestor that exists (``.`` for a relative path with none)."""
    p = Path(path)
    while not (p.exists() or p.is_symlink()):
        if p.parent == p:
            return p
        p = p.parent
    return p


def _label(flag: str, path: Path | str) -> str:
    return f"{flag} {path}" if flag else str(path)


class Checks:
    """A list of problems found so far, with helpers for the usual kinds of argument."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            raise InputErrors(self.problems)

    # -- numbers and names ---------------------------------------------------------------------------
    def at_least(self, value: int | None, flag: str, minimum: int = 1) -> None:
        """``value`` (when given) must be an integer ``>= minimum``."""
        if value is not None and value < minimum:
            self.add(f"{flag} must be >= {minimum}, got {value}")

    def seed_list(self, text: str | None, flag: str = "--seeds") -> tuple[int, ...]:
        """``0,1,2`` as distinct integers >= 0 (empty tuple for ``None``); a problem otherwise."""
        if text is None:
            return ()
        parts = [t.strip() for t in str(text).split(",") if t.strip()]
        try:
            seeds = tuple(int(t) for t in parts)
        except ValueError:
            self.add(f"{flag} {text!r}: give comma-separated integers, e.g. 0,1,2")
            return ()
        if not seeds:
            self.add(f"{flag}: give at least one seed, e.g. 0,1,2")
        elif any(s < 0 for s in seeds) or len(set(seeds)) != len(seeds):
            self.add(f"{flag} {text!r}: seeds must be distinct integers >= 0")
        return seeds

    def in_range(self, value: int | None, flag: str, low: int, high: int, what: str = "") -> None:
        """``value`` (when given) must lie in ``low..high``."""
        if value is not None and not low <= value <= high:
            self.add(f"{flag} must be in {low}..{high}{what}, got {value}")

    def lookup(self, get: Callable[[str], T], value: str, flag: str = "") -> T | None:
        """``get(value)`` (a registry lookup); its error message (with "did you mean") becomes a problem."""
        try:
            return get(value)
        except (ValueError, KeyError) as err:
            message = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
            self.add(f"{flag}: {message}" if flag else message)
            return None

    # -- inputs --------------------------------------------------------------------------------------
    def input_dir(self, path: str | Path | None, flag: str, what: str = "folder") -> Path | None:
        """An existing, readable folder (``what`` says which folder, for the message)."""
        if path is None:
            return None
        p = Path(path)
        if not p.exists():
            self.add(f"{_label(flag, p)}: not found (expected {what})")
        elif not p.is_dir():
            self.add(f"{_label(flag, p)}: is a file, expected {what}")
        elif not os.access(p, os.R_OK | os.X_OK):
            self.add(f"{_label(flag, p)}: folder is not readable")
        else:
            return p
        return None

    def input_file(self, path: str | Path | None, flag: str, what: str = "a file") -> Path | None:
        """An existing, readable regular file."""
        if path is None:
            return None
        p = Path(path)
        if not p.exists():
            self.add(f"{_label(flag, p)}: not found (expected {what})")
        elif p.is_dir():
            self.add(f"{_label(flag, p)}: is a folder, expected {what}")
        elif not os.access(p, os.R_OK):
            self.add(f"{_label(flag, p)}: file is not readable")
        else:
            return p
        return None

    # -- outputs -------------------------------------------------------------------------------------
    def _creatable(self, p: Path, flag: str) -> bool:
        """A missing path can be made: its nearest existing ancestor is a writable folder."""
        base = nearest_existing(p)
        if base.is_symlink() and not base.exists():
            self.add(f"{_label(flag, p)}: cannot be created, {base} is a broken link")
        elif not base.is_dir():
            self.add(f"{_label(flag, p)}: cannot be created, {base} is a file")
        elif not os.access(base, os.W_OK | os.X_OK):
            self.add(f"{_label(flag, p)}: cannot be created, folder {base} is not writable")
        else:
            return True
        return False

    def output_dir(self, path: str | Path | None, flag: str) -> Path | None:
        """A folder to write into: an existing writable folder, or one that can be created."""
        if path is None:
            return None
        p = Path(path)
        if p.exists():
            if not p.is_dir():
                self.add(f"{_label(flag, p)}: is a file, expected a folder to write into")
                return None
            if not os.access(p, os.W_OK | os.X_OK):
                self.add(f"{_label(flag, p)}: folder is not writable")
                return None
            return p
        return p if self._creatable(p, flag) else None

    def output_file(self, path: str | Path | None, flag: str, inputs: Sequence[Path | None] = ()) -> Path | None:
        """A file to write (atomically: its folder must be writable); never one of ``inputs``."""
        if path is None:
            return None
        p = Path(path)
        if p.is_dir():
            self.add(f"{_label(flag, p)}: is a folder, expected a file name to write")
            return None
        for source in inputs:
            if source is not None and p.exists() and source.exists() and os.path.samefile(p, source):
                self.add(f"{_label(flag, p)}: is an input of this command; choose another file name")
                return None
        if p.exists():
            if not os.access(p.parent, os.W_OK | os.X_OK):
                self.add(f"{_label(flag, p)}: folder {p.parent} is not writable")
                return None
            return p
        return p if self._creatable(p, flag) else None

    def not_inside(self, out: Path | None, other: Path | None, flag: str, what: str) -> None:
        """``out`` must not be the folder ``other`` itself (writing there would mix outputs into an input)."""
        if out is None or other is None:
            return
        if out.exists() and other.exists() and os.path.samefile(out, other):
            self.add(f"{_label(flag, out)}: is {what}; choose another output folder")
        elif out.resolve() == other.resolve():
            self.add(f"{_label(flag, out)}: is {what}; choose another output folder")

    def distinct(self, paths: Sequence[tuple[str, Path | None]]) -> None:
        """Output files given to different flags must differ (one would overwrite the other)."""
        seen: dict[Path, str] = {}
        for flag, p in paths:
            if p is None:
                continue
            key = p.resolve()
            if key in seen:
                self.add(f"{flag} {p}: is also given to {seen[key]}; use two file names")
            seen.setdefault(key, flag)

    # -- prepared datasets ---------------------------------------------------------------------------
    def prepared_dataset(
        self, root: Path | None, fold: int | None = None, require_labels: bool = False, flag: str = "--fold"
    ) -> PreparedDataset | None:
        """Open a prepared dataset; check ``fold`` against its splits and every case's files by their headers.

        Problems (unreadable JSON, overlapping or empty splits, a missing fold, missing, truncated or
        mismatched files) are added one per line with the case id; no voxel data is read.
        """
        from benchmark.data.format import DatasetFormatError, PreparedDataset
        from benchmark.data.validate import check_case_files

        if root is None:
            return None
        try:
            dataset = PreparedDataset(root)
        except DatasetFormatError as err:
            self.add(str(err))
            return None
        if fold is not None:
            try:
                dataset.splits.fold(fold)
            except DatasetFormatError as err:
                self.add(f"{flag} {fold}: {err}")
        problems = check_case_files(dataset, require_labels=require_labels)
        for problem in problems[:MAX_LISTED]:
            self.add(str(problem))
        if len(problems) > MAX_LISTED:
            more = len(problems) - MAX_LISTED
            self.add(f"... and {more} more; `benchmark validate-dataset {root}` lists every problem")
        return dataset
