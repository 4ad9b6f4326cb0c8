"""The low-data and fine-tuning grid axes: cells multiply, keys carry the options, bad values fail up front."""

from __future__ import annotations

import pytest

from benchmark.cli import main
from benchmark.grid.cells import build_plan
from benchmark.runner import SuiteConfig, experiment_config_for_key


def test_fractions_and_strategies_multiply_the_cells(tmp_path):
    cfg = SuiteConfig(suite="S06", architectures=("retina_unet",), pretraining=("fixed",), profile="tiny",
                      store=str(tmp_path / "store"), runs=str(tmp_path / "runs"), data_root=str(tmp_path / "data"),
                      fractions=(0.1, 0.5, 1.0), finetunes=("full", "linear-probe"), seeds=(0, 1))
    plan = build_plan(cfg)
    keys = [c.key for c in plan.finetune]
    assert len(keys) == len({k.folder for k in keys}) == 3 * 2 * 2
    for key in keys:  # the executor rebuilds each cell's experiment from its key: the same key again
        assert experiment_config_for_key(cfg, key).run_key() == key
    options = [dict(k.options) for k in keys]
    assert sum(o.get("fraction") == "0.1" and o.get("finetune") == "linear-probe" for o in options) == 2
    assert sum(o == {} for o in options) == 2  # the default cells keep their plain keys (one per seed)
    assert not (tmp_path / "data").exists()  # planning generates no data


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "--dataset", "S06", "--train-fraction", "0"], "--train-fraction 0: a training fraction must be in"),
        (["train", "--dataset", "S06", "--train-fraction", "1.5"], "must be in (0, 1]"),
        (["train", "--dataset", "S06", "--finetune", "lora", "--lora-rank", "0"], "--lora-rank must be >= 1"),
        (["train", "--dataset", "S06", "--lora-rank", "4"], "--lora-rank/--lora-alpha need --finetune lora"),
        (["train", "--dataset", "S06", "--profile", "tiny", "--finetune", "partial", "--partial-stages", "9"],
         "encoder has 4 stages"),
        (["run", "--suite", "S06", "--fractions", "0.1,2", "--dry-run"], "--fractions 2: a training fraction"),
        (["run", "--suite", "S06", "--finetune", "full,adapters", "--dry-run"], "unknown strategy"),
    ],
)
def test_bad_lowdata_flags_are_one_line_errors_before_any_work(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing generated, preprocessed or written
