"""A pool worker whose training is a stand-in: ``python -m tests.grid.fake_worker JOB.json``.

The pool tests (tests/grid/test_jobs.py) run real subprocesses through :func:`benchmark.grid.executors.run_pool`
with this module as the worker: everything but the training is the real cell code (claims, dependency checks,
store entries, result files). Each cell appends ``<kind> <cell> <pid> <start> <end> <OMP_NUM_THREADS>`` to the
file named by ``$DETBENCH_TEST_CALLS`` after sleeping ``$DETBENCH_TEST_SLEEP`` seconds (default 1), so the test
can tell that cells ran once each, concurrently, and after their dependencies; the fine-tuning cell named in
``$DETBENCH_TEST_FAIL`` (``S06/retina_unet__default``) then raises. The pre-training setting ``zz`` (an encoder
pre-trained with the ``mae`` method) is registered here, as the test registers it in its own process.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import benchmark.experiment as experiment
import benchmark.grid.pretrain as grid_pretrain
from benchmark.grid import worker
from pretraining.registry import PRETRAINING, PretrainingSpec
from tests.grid.helpers import fake_result


def _log(kind: str, name: str, start: float) -> None:
    line = f"{kind} {name} {os.getpid()} {start:.3f} {time.time():.3f} {os.environ.get('OMP_NUM_THREADS', '-')}\n"
    with open(os.environ["DETBENCH_TEST_CALLS"], "a") as fh:
        fh.write(line)


def fake_experiment(cfg):  # noqa: ANN001, ANN201 - ExperimentConfig -> ExperimentResult
    """The stand-in training; the cell named in ``$DETBENCH_TEST_FAIL`` raises instead."""
    start = time.time()
    name = f"{cfg.dataset}/{cfg.architecture}__{cfg.pretraining}"
    time.sleep(float(os.environ.get("DETBENCH_TEST_SLEEP", "1")))
    _log("finetune", name, start)
    if name == os.environ.get("DETBENCH_TEST_FAIL"):
        raise RuntimeError(f"boom in {name}")
    return fake_result(cfg)


def fake_pretraining(method, encoder, profile, data_root=None, device="auto", progress=False):  # noqa: ANN001, ANN201
    """The stand-in pre-training: a checkpoint file beside the calls file."""
    start = time.time()
    time.sleep(float(os.environ.get("DETBENCH_TEST_SLEEP", "1")))
    checkpoint = Path(os.environ["DETBENCH_TEST_CALLS"]).parent / f"{method}__{encoder}.pt"
    checkpoint.write_bytes(b"stand-in")
    _log("pretrain", f"{method}__{encoder}", start)
    return checkpoint


if __name__ == "__main__":
    PRETRAINING._items.setdefault("zz", PretrainingSpec("zz", "ZZ", "fixed", "pretrained", method="mae"))
    experiment.run_experiment = fake_experiment
    grid_pretrain.run_pretraining_cell = fake_pretraining
    sys.exit(worker.main())
