"""Shared pieces of the grid tests: a fast stand-in for training, and tiny suite configurations."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import benchmark.experiment as experiment
from benchmark.metrics import match_detections
from benchmark.runner import SuiteConfig


def fake_result(cfg):  # noqa: ANN001, ANN201
    """A deterministic finished experiment for ``cfg`` (the expensive training replaced by a match table)."""
    rng = np.random.default_rng(len(cfg.architecture) + len(cfg.pretraining) + cfg.seed)
    gt = {f"c{i}": (np.array([[0, 0, 0, 4, 4, 4.0]]), np.array([0])) for i in range(6)}
    preds = {c: (np.array([[0, 0, 0, 4, 4, 4.0], [9, 9, 9, 12, 12, 12]]), rng.random(2), np.array([0, 0])) for c in gt}
    table = match_detections(preds, gt, ["nodule"])
    return experiment.ExperimentResult(
        cfg.run_dir(), True, {"map@0.1": 0.5}, None, table, {"seed": cfg.seed}, cfg.run_key()
    )


def suite(tmp_path: Path, **kw) -> SuiteConfig:  # noqa: ANN003
    base = dict(
        suite="S06",
        architectures=("retina_unet",),
        pretraining=("default", "fixed"),
        classical=False,  # the fake experiments' ground truth is not the twin's: no reference row beside them
        store=str(tmp_path / "store"),
        runs=str(tmp_path / "runs"),
        replicates=20,
        progress=False,
        data_root=str(tmp_path / "data"),
        profile="tiny",
        analyze=False,
    )
    return SuiteConfig(**{**base, **kw})
