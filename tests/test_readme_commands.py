"""The README's main-job commands, as written, run in any order in one fresh folder.

The commands are read from the README's "Main job" section (the ``benchmark ...`` lines of each bash block; a
block, such as "synth then validate", is one unit) and run in-process in a fresh folder, in the README's order
and with the blocks reversed. CI cannot afford the ``cpu`` budget,
so the fast test gives the ``cpu`` profile the tiny budget and the ``small`` twin scale tiny-sized volumes (with
other case counts than ``tiny``, so a twin of one scale cannot pass for the other), and shrinks the ``dev`` suite
to one dataset: the folder keys, the skip decisions and the order independence are what is tested. The ``slow``
test runs the whole ``dev`` suite.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import re
import shlex
from pathlib import Path

import pytest

from benchmark.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_main_job_blocks() -> list[list[str]]:
    """The ``benchmark`` lines of each bash block of the "Main job" section (a block is run as one unit)."""
    text = README.read_text()
    section = text.split("## Main job", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    found = [[ln.strip() for ln in b.splitlines() if ln.strip().startswith("benchmark ")] for b in blocks]
    return [b for b in found if b]


def _run(command: str, replicates: str = "10") -> int:
    argv = []
    for token in shlex.split(command)[1:]:
        argv += sorted(glob.glob(token)) if any(c in token for c in "*?[") else [token]
    if argv[0] in ("run", "train"):
        argv.append("--no-progress")
    if argv[0] == "run":
        argv += ["--replicates", replicates]
    return main(argv)


@pytest.fixture
def laptop_sized(monkeypatch):
    """The ``cpu`` profile with the tiny budget and ``small`` twins of tiny size (see the module docstring)."""
    import benchmark.datasets as datasets
    from benchmark.synthetic import config
    from benchmark.training import profiles

    tiny_cpu = dataclasses.replace(profiles.TINY, name="cpu")
    monkeypatch.setitem(profiles.PROFILES._items, "cpu", tiny_cpu)
    from pretraining import profiles as pretraining_profiles

    # the dev grid's pre-training cells (mt, mae, ...) get the tiny pre-training budget too
    tiny_pre = dataclasses.replace(pretraining_profiles.TINY, name="cpu")
    monkeypatch.setitem(pretraining_profiles.PRETRAINING_PROFILES._items, "cpu", tiny_pre)
    small = dataclasses.replace(
        config.SCALES["tiny"], name="small", fixed_splits=config.SplitSizes(train=5, val=2, test=3, external_test=2)
    )
    monkeypatch.setitem(config.SCALES, "small", small)
    return datasets


def test_readme_lists_the_main_job_commands():
    commands = [c for block in readme_main_job_blocks() for c in block]
    assert commands[0] == "benchmark run --suite dev"
    assert any(c.startswith("benchmark train ") for c in commands)
    assert any("--profile tiny" in c for c in commands)


@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_readme_commands_in_any_order(order, laptop_sized, tmp_path, monkeypatch):
    monkeypatch.setitem(laptop_sized.SUITES, "dev", ("D06",))
    monkeypatch.setitem(laptop_sized.SUITES, "all", ("D06", "D03"))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DETBENCH_DATA", raising=False)
    blocks = readme_main_job_blocks()
    for block in blocks if order == "as written" else blocks[::-1]:
        for command in block:
            assert _run(command) == 0, command
    # both profiles' results are in the store, each under its own key, and each has its own analysis
    leaves = {p.parent.name for p in (tmp_path / "results" / "runs").rglob("result.json")}
    assert {"cpu_official_seed0", "tiny_official_seed0"} <= leaves
    assert {p.name for p in (tmp_path / "results" / "analysis").iterdir()} == {"cpu_seed0", "tiny_seed0"}
    # the main job filed the one-experiment run instead of training it again
    record = json.loads(
        (tmp_path / "results/runs/S06/retina_unet__fixed/cpu_official_seed0/result.json").read_text()
    )
    assert record["run_dir"] == "runs/S06/retina_unet__fixed/cpu_official_seed0"
    assert sorted(p.name for p in (tmp_path / "data" / "preprocessed").iterdir()) == [
        "S06-small-seed0",
        "S06-tiny-seed0",
    ]


@pytest.mark.slow
@pytest.mark.parametrize("order", ["as written", "reversed"])
def test_readme_commands_in_any_order_whole_dev_suite(order, laptop_sized, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DETBENCH_DATA", raising=False)
    blocks = readme_main_job_blocks()
    for block in blocks if order == "as written" else blocks[::-1]:
        for command in block:
            assert _run(command) == 0, command
