"""Claims on cells and locks on shared work, so runners and cluster jobs never do one cell twice.

A claim is a record ``STORE/grid/claims/<cell>.json`` (host, pid, start time, heartbeat, owner token) written
under a per-cell :class:`filelock.FileLock`, which makes the check-and-set atomic between processes and hosts
sharing the store. The owner refreshes the heartbeat from a daemon thread; a claim is **stale**, and may be
taken over, when its process is gone (same host, pid not alive) or its heartbeat is older than
``stale_after`` seconds (a crashed or killed job elsewhere; default 10 minutes). filelock is used, rather than
hand-made lock files, because it gives OS-level locks (``fcntl`` on POSIX) that die with their process.

:func:`shared_lock` serialises shared preparation work (twin generation and preprocessing of one dataset and
configuration), which several cells need and which must not be written by two processes at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmark.core.atomic import atomic_write_json
from benchmark.grid.records import claim_path, read_json

__all__ = ["Claim", "claim_cell", "claim_is_stale", "shared_lock"]

HEARTBEAT_SECONDS = 30.0
STALE_AFTER_SECONDS = 600.0
_LOCK_TIMEOUT = 120.0


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def claim_is_stale(record: dict[str, Any], stale_after: float = STALE_AFTER_SECONDS, now: float | None = None) -> bool:
    """True when the claim's owner is dead (same host) or silent for longer than ``stale_after`` seconds."""
    now = time.time() if now is None else now
    if record.get("host") == socket.gethostname() and not _pid_alive(int(record.get("pid", -1))):
        return True
    return now - float(record.get("heartbeat", 0.0)) > stale_after


class Claim:
    """A held claim; :meth:`release` (or leaving the ``with`` block) removes it if it is still ours."""

    def __init__(self, path: Path, record: dict[str, Any], heartbeat: float) -> None:
        self.path, self.record = path, record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(heartbeat,), daemon=True)
        self._thread.start()

    def _ours(self) -> bool:
        found = read_json(self.path)
        return found is not None and found.get("token") == self.record["token"]

    def _beat(self, every: float) -> None:
        while not self._stop.wait(every):
            with _file_lock(self.path):
                if not self._ours():
                    return  # taken over (we were judged stale): stop touching it
                self.record["heartbeat"] = time.time()
                atomic_write_json(self.path, self.record, indent=2)

    def release(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        with _file_lock(self.path):
            if self._ours():
                self.path.unlink(missing_ok=True)

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _file_lock(path: Path):  # noqa: ANN202 - filelock.FileLock
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    return FileLock(str(path.with_suffix(".lock")), timeout=_LOCK_TIMEOUT)


def claim_cell(
    store: str | Path,
    cell_id: str,
    info: dict[str, Any] | None = None,
    stale_after: float = STALE_AFTER_SECONDS,
    heartbeat: float = HEARTBEAT_SECONDS,
) -> Claim | None:
    """Claim ``cell_id`` in ``store``; ``None`` when another live process holds it. ``info`` is stored with it."""
    path = claim_path(store, cell_id)
    with _file_lock(path):
        existing = read_json(path)
        if existing is not None and not claim_is_stale(existing, stale_after):
            return None
        now = time.time()
        record = {
            **(info or {}),
            "cell": cell_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "token": uuid.uuid4().hex,
            "started": now,
            "heartbeat": now,
            "took_over": existing.get("token") if existing else None,
        }
        atomic_write_json(path, record, indent=2)
    return Claim(path, record, heartbeat)


@contextlib.contextmanager
def shared_lock(folder: str | Path, name: str, timeout: float = -1) -> Iterator[None]:
    """Hold ``FOLDER/locks/<name>.lock`` (blocking; ``timeout`` seconds, -1 waits forever)."""
    from filelock import FileLock

    path = Path(folder) / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path), timeout=timeout):
        yield
