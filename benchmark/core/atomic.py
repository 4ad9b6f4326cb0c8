"""Atomic file writes: readers see the old file or the whole new one, never half of one.

Every writer of results, checkpoints, plans, splits and stores goes through :func:`atomic_write`: the bytes
go to a unique temporary file in the target's folder (so two writers never share a temporary name), are
flushed and ``fsync``-ed, and the temporary file is moved over the target with ``os.replace`` (atomic on
POSIX and Windows when both are on one file system). A failure removes the temporary file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

__all__ = ["atomic_open", "atomic_write", "atomic_write_bytes", "atomic_write_json", "atomic_write_text"]


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a unique temporary file next to ``path``; on a clean exit it replaces ``path``."""
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open writes whole files: mode must be 'wb' or 'w', not {mode!r}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if mode == "w" else {})) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(binary_file)`` on a temporary file, then move it over ``path``; returns ``path``."""
    with atomic_open(path, "wb") as fh:
        write(fh)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda fh: fh.write(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any, indent: int | None = 2, **kwargs: Any) -> Path:
    """``obj`` as JSON (with a final newline); keyword arguments go to :func:`json.dumps`."""
    return atomic_write_text(path, json.dumps(obj, indent=indent, **kwargs) + "\n")
