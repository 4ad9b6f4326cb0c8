"""The grid's plan: the paper's rows, pre-training cells as dependencies, filters and the GPU-hour estimate."""

import pytest

from benchmark.cli import main
from benchmark.grid.cells import build_plan
from benchmark.grid.estimates import finetune_gpu_hours, pretrain_gpu_hours
from benchmark.grid.filters import parse_filter
from benchmark.grid.rows import PAPER_ROWS, Row, available_rows, select_rows
from pretraining.registry import PRETRAINING
from tests.grid.helpers import suite


def test_the_paper_has_twenty_rows_and_unregistered_ones_are_named():
    assert len(PAPER_ROWS) == 20 and len(set(PAPER_ROWS)) == 20
    assert sum(r.architecture == "resenc_deformable_detr" for r in PAPER_ROWS) == 7
    assert {r.pretraining for r in PAPER_ROWS if r.architecture == "retina_unet"} == {"default", "fixed", "mt"}
    kept, skipped = available_rows(list(PAPER_ROWS))
    assert {r.pretraining for r in kept} <= set(PRETRAINING.names())
    for row, why in skipped:
        assert (
            row.pretraining not in PRETRAINING
            and why == f"pre-training {row.pretraining!r} not available in this build"
        )
    assert len(kept) + len(skipped) == 20
    assert select_rows(("retina_unet",), ("custom",)) == [Row("retina_unet", "custom")]  # both given: product


def test_pretraining_cells_are_shared_dependencies(tmp_path):
    plan = build_plan(suite(tmp_path, suite="S06,S07", architectures=(), pretraining=()))
    pre = {c.id: c for c in plan.pretrain}
    expected = ["pretrain.mt__plain.tiny"] + [f"pretrain.{m}__resenc.tiny" for m in ("mt", "voco", "mae", "s3d", "mg")]
    assert sorted(pre) == sorted(expected)  # the study's six: one per (method, encoder)
    assert plan.cells[:6] == list(pre.values())  # dependencies come first
    users = [c for c in plan.finetune if c.deps]
    assert {c.row for c in users} == {str(r) for r in PAPER_ROWS if r.pretraining not in ("default", "fixed")}
    assert {c.deps for c in users if "resenc" not in c.row} == {("pretrain.mt__plain.tiny",)}
    assert {c.deps for c in users if c.row == "resenc_deformable_detr__mt"} == {("pretrain.mt__resenc.tiny",)}
    assert len(users) == 2 * 12 and len(plan.finetune) == 2 * 20  # two datasets x 20 rows
    assert all(not c.deps for c in plan.finetune if c.row.split("__")[1] in ("default", "fixed"))


def test_only_and_exclude_filters(tmp_path):
    plan = build_plan(suite(tmp_path, architectures=(), pretraining=(), only=("arch=retina_unet,pretraining=fixed",)))
    assert [c.row for c in plan.finetune] == ["retina_unet__fixed"]
    plan = build_plan(
        suite(
            tmp_path,
            suite="S06,S07",
            architectures=(),
            pretraining=(),
            only=("arch=retina_unet+deformable_detr",),
            exclude=("dataset=S07", "pretraining=default"),
        )
    )
    assert sorted((c.dataset, c.row) for c in plan.finetune) == [
        ("S06", "deformable_detr__fixed"),
        ("S06", "deformable_detr__mt"),
        ("S06", "retina_unet__fixed"),
        ("S06", "retina_unet__mt"),
    ]
    assert [c.id for c in plan.pretrain] == ["pretrain.mt__plain.tiny"]  # only what the kept cells need
    assert plan.filtered_out > 0
    with pytest.raises(ValueError, match="did you mean 'arch'"):
        parse_filter("ach=retina_unet")


def test_dry_run_of_the_full_study(tmp_path, capsys):
    argv = [
        "run",
        "--dry-run",
        "--suite",
        "all",
        "--profile",
        "paper",
        "--store",
        str(tmp_path / "s"),
        "--runs",
        str(tmp_path / "r"),
        "--data-root",
        str(tmp_path / "d"),
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "20 model row(s), 6 pre-training cell(s), 160 fine-tuning cell(s)" in out
    ft = sum(8 * finetune_gpu_hours("paper", r.architecture) for r in PAPER_ROWS)
    pt = 6 * pretrain_gpu_hours("paper")
    assert f"estimated GPU-hours: {ft:.0f} fine-tuning + {pt:.0f} pre-training = {ft + pt:.0f} in total" in out
    # the paper's budget: 125,000 Retina U-Net iterations, 250,000 Deformable DETR iterations per cell
    assert finetune_gpu_hours("paper", "deformable_detr") / finetune_gpu_hours("paper", "retina_unet") == pytest.approx(
        2 * 0.5 / 0.6
    )
    assert "S08/resenc_deformable_detr__mae/paper_official_seed0" in out and "after pretrain.mae__resenc.paper" in out
    assert "S01/retina_unet__mt/paper_official_seed0" in out and "after pretrain.mt__plain.paper  [to run]" in out
    if "mae" not in PRETRAINING:
        assert "row resenc_retina_unet__mae: pre-training 'mae' not available in this build" in out
    assert not (tmp_path / "s").exists()  # a dry run writes nothing


def test_slurm_dry_run_scripts(tmp_path, capsys):
    folder = tmp_path / "sl"
    argv = [
        "run",
        "--dry-run",
        "--executor",
        "slurm",
        "--slurm-dir",
        str(folder),
        "--suite",
        "S06,S07",
        "--profile",
        "paper",
        "--store",
        str(tmp_path / "s"),
        "--data-root",
        str(tmp_path / "d"),
        "--slurm-partition",
        "gpu",
    ]
    assert main(argv) == 0
    scripts = {p.name: p.read_text() for p in folder.glob("*.sbatch")}
    pre = scripts.pop("00_pretrain.sbatch")
    assert "#SBATCH --array=0-5%6" in pre and "#SBATCH --gres=gpu:4" in pre  # the six (method, encoder)
    ru = next(t for n, t in scripts.items() if n.endswith("finetune_retina_unet.sbatch"))
    assert "#SBATCH --array=0-3%4" in ru and "#SBATCH --gres=gpu:1" in ru  # {default, fixed} x {S06, S07}
    assert "GPU memory needed: 10 GB" in ru and "#SBATCH --partition=gpu" in ru
    hours = finetune_gpu_hours("paper", "retina_unet") * 1.5
    assert f"#SBATCH --time={int(hours):02d}:" in ru
    assert "GPU memory needed: 15 GB" in next(
        t for n, t in scripts.items() if n.endswith("resenc_deformable_detr.sbatch")
    )
    assert "-m benchmark.grid.worker" in ru and '"$SLURM_ARRAY_TASK_ID"' in ru
    submit = (folder / "submit.sh").read_text().splitlines()
    assert submit[4] == "PRETRAIN=$(sbatch --parsable 00_pretrain.sbatch)"
    dependent = [line for line in submit if "--dependency=afterok:${PRETRAIN}" in line]
    assert len(dependent) == 4 and all("_pretrained.sbatch" in line for line in dependent)
    assert "nothing submitted" in capsys.readouterr().out


def test_a_plan_with_pretraining_cells_has_a_time_estimate(tmp_path):
    # the README smoke run plans pre-training cells: its estimate must not be "unknown" (issue 9, item 7)
    plan = build_plan(suite(tmp_path, suite="S06", architectures=("retina_unet",), pretraining=()))
    assert plan.pretrain and all(plan.estimates[c.id] is not None for c in plan.cells)
    assert plan.estimated_seconds() is not None and plan.estimated_seconds() > 0
