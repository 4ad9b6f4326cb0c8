"""benchmarks/train_step_bench.py: the per-phase table and JSON on tiny synthetic data, and that its timed step
is ``Trainer.train_step`` (same losses, bitwise)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from benchmark.loading.synthetic import write_synthetic_preprocessed

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "train_step_bench.py"


def _bench():
    if "train_step_bench" not in sys.modules:
        spec = importlib.util.spec_from_file_location("train_step_bench", SCRIPT)
        module = importlib.util.module_from_spec(spec)
        sys.modules["train_step_bench"] = module
        spec.loader.exec_module(module)
    return sys.modules["train_step_bench"]


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    return write_synthetic_preprocessed(root / "syn", num_cases=3, shape=(32, 32, 32), num_classes=1, seed=0)


def test_table_json_and_losses_for_two_architectures(preprocessed, tmp_path, capsys):
    out, losses = tmp_path / "ms.json", tmp_path / "losses.json"
    argv = ["--data", str(preprocessed), "--profile", "tiny", "--arch", "retina_unet,deformable_detr"]
    assert _bench().main([*argv, "--warmup", "1", "--steps", "2", "--json", str(out), "--losses", str(losses)]) == 0
    printed = capsys.readouterr().out
    assert "| architecture | loader | forward | loss | backward | optimizer | total | cpu | cpu min |" in printed
    assert "| retina_unet |" in printed and "| deformable_detr |" in printed
    ms = json.loads(out.read_text(encoding="utf-8"))["ms"]
    for arch in ("retina_unet", "deformable_detr"):
        assert all(ms[arch][p] >= 0 for p in ("loader", "forward", "loss", "backward", "optimizer"))
        assert ms[arch]["forward"] > 0 and ms[arch]["backward"] > 0
        assert ms[arch]["total"] >= ms[arch]["forward"] + ms[arch]["backward"]
    steps = json.loads(losses.read_text(encoding="utf-8"))
    assert len(steps["retina_unet"]) == 3 and "loss" in steps["retina_unet"][0]


def test_timed_step_is_the_trainers_step(preprocessed, tmp_path):
    """The benchmark's phase-timed step gives bitwise the losses of ``Trainer.train_step`` on the same run."""
    bench = _bench()
    from benchmark.training.trainer import TrainConfig, Trainer

    def trainer(name: str) -> Trainer:
        cfg = TrainConfig(str(preprocessed), str(tmp_path / name), profile="tiny", device="cpu", progress=False)
        return Trainer(cfg)

    timed, plain = trainer("timed"), trainer("plain")
    timer = bench._ForwardTimer(timed.model)
    timed.model.forward = timer
    batches = bench._batches(timed)
    torch.manual_seed(1)  # the paper's hard-negative sampler (tiny profile) draws from the global RNG
    got = [bench.timed_step(timed, batches, timer)[1] for _ in range(2)]
    expected = []
    torch.manual_seed(1)
    for batch in plain.loader:
        plain._apply_schedule(plain.state.step)
        expected.append(plain.train_step(batch))
        plain.state.step += 1
        if len(expected) == 2:
            break
    assert got == expected
