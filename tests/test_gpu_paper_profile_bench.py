"""benchmarks/gpu_paper_profile.py: the CPU smoke path end to end, its errors, its synthetic batches, and (on a
GPU) a short CUDA run with peak memory."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_paper_profile.py"
SMOKE = ["--device", "cpu", "--patch", "32", "--batch", "1", "--steps", "2", "--warmup", "1"]
SMOKE += ["--width", "0.125", "--stages", "4"]


def _bench():
    """The script as a module (registered in ``sys.modules``: its dataclasses look their module up there)."""
    if "gpu_paper_profile" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_paper_profile", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["gpu_paper_profile"] = module
        spec.loader.exec_module(module)
    return sys.modules["gpu_paper_profile"]


def test_cpu_smoke_two_architectures_prints_and_writes_figures(tmp_path, capsys):
    out = tmp_path / "figures.json"
    result = _bench().main([*SMOKE, "--archs", "retina_unet", "deformable_detr", "--json", str(out)])
    printed = capsys.readouterr().out
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved == json.loads(json.dumps(result))
    assert saved["setup"]["amp"] is False and saved["setup"]["patch"] == [32, 32, 32]
    assert [r["architecture"] for r in saved["rows"]] == ["retina_unet", "deformable_detr"]
    for row in saved["rows"]:
        assert row["parameters_m"] > 0 and row["median_ms"] > 0 and row["p90_ms"] >= row["median_ms"]
        assert row["steps_per_s"] > 0 and row["timed_steps"] == 2
        assert row["paper_parameters_m"] > 0 and row["paper_memory_gb"] > 0 and row["parameters_ratio"] > 0
        assert row["peak_gb"] is None and row["memory_ratio"] is None  # no GPU memory figure on CPU
    assert saved["rows"][0]["optimizer"].startswith("SGD (Nesterov)")  # the trainer's optimisers
    assert saved["rows"][1]["optimizer"].startswith("Adam (AMSGrad)")
    table = [line for line in printed.splitlines() if line.startswith(("retina_unet ", "deformable_detr "))]
    assert len(table) == 2 and all("n/a (CPU)" in line for line in table)
    assert "network step, not the loader" in printed and "paper columns do not apply" in printed


def test_paper_figures_match_the_registry():
    from models.registry import ARCHITECTURES

    figures = _bench().PAPER_FIGURES
    assert set(figures) == set(ARCHITECTURES.names())
    for name, spec in ARCHITECTURES.items():
        assert figures[name]["parameters_m"] == pytest.approx(spec.paper_parameters / 1e6)
        assert figures[name]["memory_gb"] == spec.paper_memory_gb


def test_bad_architecture_names_the_closest(capsys):
    with pytest.raises(SystemExit):
        _bench().main([*SMOKE, "--archs", "retina_unet", "retinaunet"])
    assert "Did you mean 'retina_unet'" in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error without CUDA")
def test_cuda_without_a_gpu_is_an_error(capsys):
    with pytest.raises(SystemExit):
        _bench().main(["--device", "cuda", "--archs", "retina_unet"])
    assert "no CUDA device is available" in capsys.readouterr().err


def test_synthetic_batches_are_in_the_loader_format():
    from benchmark.loading.sampling import batch_targets
    from models.base import check_targets

    data = _bench().SyntheticData((24, 32, 40), seed=3)
    batch = data.batch(3, torch.device("cpu"))
    assert batch["image"].shape == (3, 1, 24, 32, 40) and batch["instances"].shape == (3, 1, 24, 32, 40)
    targets = batch_targets(batch)
    check_targets(batch["image"], targets, 1)
    for target in targets:
        boxes, ids = target["boxes"], target["instances"].unique()
        assert 1 <= len(boxes) <= 3 and (boxes[:, 3:] > boxes[:, :3]).all()
        assert (boxes[:, 3:] <= torch.tensor([24.0, 32.0, 40.0])).all() and (boxes >= 0).all()
        assert int(ids.max()) <= len(boxes) and int(ids.max()) >= 1  # id i + 1 is box i
    _, _, ids = data.meta(data.case_ids("train")[0]).boxes_array()  # the anchor-planning boxes
    assert list(ids) == [1] and len(data.case_ids("train")) == 64 and data.case_ids("val") == []


@pytest.mark.gpu
def test_cuda_paper_width_three_steps_reports_peak_memory(tmp_path):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    out = tmp_path / "gpu.json"
    args = ["--device", "cuda", "--archs", "retina_unet", "--patch", "64", "--steps", "3", "--warmup", "1"]
    result = _bench().main([*args, "--json", str(out)])
    (row,) = result["rows"]
    assert result["setup"]["amp"] is True and row["peak_gb"] > 0 and row["peak_reserved_gb"] >= row["peak_gb"]
    assert row["memory_ratio"] > 0 and row["median_ms"] > 0
    assert json.loads(out.read_text(encoding="utf-8"))["rows"][0]["peak_gb"] == row["peak_gb"]
