"""benchmarks/loader_vs_batchgenerators.py: both pipelines make the same patch size; a clear message without it."""

from __future__ import annotations

import builtins
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import loader_vs_batchgenerators as vs  # noqa: E402


def _case():
    rng = np.random.default_rng(0)
    seg = np.zeros((30, 30, 30), np.int16)
    seg[10:16, 10:16, 10:16] = 1
    return rng.normal(size=(1, 30, 30, 30)).astype(np.float32), seg


def test_both_pipelines_time_the_same_patches():
    pytest.importorskip("batchgeneratorsv2")
    pytest.importorskip("skimage")
    image, seg = _case()
    pipeline = vs._bg_pipeline(vs.SETTINGS["every transform"], 12)
    out = pipeline(image=torch.from_numpy(image[:, :18, :18, :18].copy()),
                   segmentation=torch.from_numpy(seg[None, :18, :18, :18].copy()))
    assert tuple(out["image"].shape) == (1, 12, 12, 12) and tuple(out["segmentation"].shape) == (1, 12, 12, 12)
    results = vs.compare(image, seg, patch=12, patches=2, repeats=1)
    assert set(results) == {"default", "every transform"}
    for per_lib in results.values():
        assert set(per_lib) == {"detbench", "bgv2"}
        assert all(cpu > 0 and wall > 0 for cpu, wall in per_lib.values())


def test_missing_batchgenerators_prints_why(monkeypatch, capsys):
    real_import = builtins.__import__

    def no_bg(name, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if name.startswith("batchgeneratorsv2"):
            raise ImportError("No module named 'batchgeneratorsv2'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_bg)
    image, seg = _case()
    vs.print_comparison(image, seg, patch=12, patches=1, repeats=1)
    out = capsys.readouterr().out
    assert "not measured: batchgeneratorsv2 is not importable" in out and "pip install --no-deps" in out
