"""Two runners on one data root generate a twin once, without racing on its temporary files.

Found by running two ``benchmark run`` processes on one store: both generated S05 at once and one crashed on
the other's renamed temporary file. Twin generation is now under a shared lock per (twin, scale).
"""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path


def _resolve(data_root: str, queue) -> None:  # noqa: ANN001
    from benchmark.experiment import resolve_prepared_dataset

    try:
        queue.put(("ok", str(resolve_prepared_dataset("S06", Path(data_root), "tiny", progress=False))))
    except Exception as exc:  # reported to the parent, which fails the test with it
        queue.put(("error", repr(exc)))


def test_two_processes_generate_one_twin(tmp_path):
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_resolve, args=(str(tmp_path), queue)) for _ in range(2)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(status == "ok" for status, _ in results), results
    (first, _), (second, _) = [(r, None) for _, r in results]
    assert first == second
    root = Path(first)
    assert (root / "dataset.json").is_file() and not (root / ".partial").exists()
    from benchmark.data.format import PreparedDataset

    assert len(PreparedDataset(root).case_ids("test")) > 0
