"""Read and write the boards folder: ``<root>/<board_id>/board.json`` and ``<root>/<board_id>/entries/<slug>.json``.

The boards root is always an explicit argument (the CLI's ``--boards``, default ``leaderboards/boards``), so
tests work in temporary folders. Every file is validated by :mod:`leaderboards.schema` on read; a broken file
is an error naming the file, never skipped silently. Writes go through :mod:`benchmark.core.atomic`, so a
reader sees the old entry or the whole new one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from benchmark.core.atomic import atomic_write_json
from leaderboards.schema import BoardSpec, Entry

__all__ = [
    "Board",
    "BoardStoreError",
    "EntryExistsError",
    "board_dir",
    "entry_path",
    "load_board",
    "load_boards",
    "load_spec",
    "sort_entries",
    "write_board_spec",
    "write_entry",
]

BOARD_FILE = "board.json"
ENTRIES_DIR = "entries"


class BoardStoreError(ValueError):
    """A board or entry file is missing, not JSON, or does not match the schema."""


class EntryExistsError(BoardStoreError):
    """An entry with this slug already exists on the board (pass ``replace=True`` to overwrite it)."""


@dataclass(frozen=True)
class Board:
    """One board: its ``spec`` (board.json) and its ``entries`` sorted best first."""

    spec: BoardSpec
    entries: list[Entry] = field(default_factory=list)
    path: Path | None = None

    @property
    def board_id(self) -> str:
        return self.spec.board_id

    def entry(self, slug: str) -> Entry | None:
        return next((e for e in self.entries if e.slug == slug), None)


def board_dir(root: str | Path, board_id: str) -> Path:
    return Path(root) / board_id


def entry_path(root: str | Path, board_id: str, slug: str) -> Path:
    return board_dir(root, board_id) / ENTRIES_DIR / f"{slug}.json"


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BoardStoreError(f"{path}: file not found") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BoardStoreError(f"{path}: not valid UTF-8 JSON ({exc})") from None


def _validation_message(path: Path, exc: ValidationError) -> str:
    problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or '(top level)'}: {e['msg']}" for e in exc.errors())
    return f"{path}: {problems}"


def load_spec(path: str | Path) -> BoardSpec:
    """A ``board.json`` file as a :class:`BoardSpec`; its folder name must be its ``board_id``."""
    path = Path(path)
    try:
        spec = BoardSpec.model_validate(_read_json(path))
    except ValidationError as exc:
        raise BoardStoreError(_validation_message(path, exc)) from None
    if path.parent.name != spec.board_id:
        raise BoardStoreError(f"{path}: board_id {spec.board_id!r} differs from its folder name {path.parent.name!r}")
    return spec


def _load_entry(path: Path, spec: BoardSpec) -> Entry:
    try:
        entry = Entry.model_validate(_read_json(path))
    except ValidationError as exc:
        raise BoardStoreError(_validation_message(path, exc)) from None
    if entry.board_id != spec.board_id:
        raise BoardStoreError(f"{path}: board_id {entry.board_id!r} but the file is on board {spec.board_id!r}")
    if path.stem != entry.slug:
        raise BoardStoreError(f"{path}: slug {entry.slug!r} differs from the file name {path.name!r}")
    return entry


def sort_entries(entries: list[Entry], higher_is_better: bool = True) -> list[Entry]:
    """Best first by value; ties keep a stable order by method name."""
    sign = -1.0 if higher_is_better else 1.0
    return sorted(entries, key=lambda e: (sign * e.value, e.method.lower()))


def load_board(root: str | Path, board_id: str) -> Board:
    """One board with its entries (best first); BoardStoreError if it or any entry is missing or invalid."""
    folder = board_dir(root, board_id)
    spec = load_spec(folder / BOARD_FILE)
    entries = [_load_entry(p, spec) for p in sorted((folder / ENTRIES_DIR).glob("*.json"))]
    return Board(spec=spec, entries=sort_entries(entries, spec.higher_is_better), path=folder)


def load_boards(root: str | Path) -> list[Board]:
    """Every board under ``root`` (folders holding a ``board.json``), sorted by board id."""
    root = Path(root)
    if not root.is_dir():
        raise BoardStoreError(f"{root}: boards folder not found")
    return [load_board(root, p.parent.name) for p in sorted(root.glob(f"*/{BOARD_FILE}"))]


def write_board_spec(root: str | Path, spec: BoardSpec) -> Path:
    """Write (or rewrite) ``<root>/<board_id>/board.json`` atomically."""
    return atomic_write_json(board_dir(root, spec.board_id) / BOARD_FILE, spec.model_dump(mode="json"))


def write_entry(root: str | Path, entry: Entry, replace: bool = False) -> Path:
    """Write ``entry`` to its board atomically; an existing slug is refused unless ``replace``.

    The board must exist (``benchmark leaderboard init``) and the entry's ``board_id`` must name it.
    """
    spec = load_spec(board_dir(root, entry.board_id) / BOARD_FILE)
    if spec.board_id != entry.board_id:  # pragma: no cover - load_spec checks the folder name
        raise BoardStoreError(f"entry for {entry.board_id!r} cannot go on board {spec.board_id!r}")
    path = entry_path(root, entry.board_id, entry.slug)
    if path.exists() and not replace:
        raise EntryExistsError(
            f"board {entry.board_id} already has an entry {entry.slug!r} ({path}); pass --replace to overwrite it"
        )
    return atomic_write_json(path, entry.to_json_dict(), indent=2, allow_nan=False)
