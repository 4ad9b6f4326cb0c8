"""The pre-training corpus, the ``benchmark synth`` command, resuming and overwriting, validation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from benchmark.synthetic.generate import CORPUS_DIR, corpus_image_paths, generate_twin


def _synth(argv: list[str]) -> int:
    """Run ``benchmark synth`` through the CLI when registered there, else through the command module."""
    from benchmark import cli
    from benchmark.commands import synth

    if "benchmark.commands.synth" in cli.COMMAND_MODULES:
        return cli.main(["synth", *argv])
    parser = argparse.ArgumentParser()
    synth.add_arguments(parser)
    try:
        return synth.run(parser.parse_args(argv))
    except ValueError:
        return 1


def test_corpus_is_unlabelled_and_documented(tiny_root: Path) -> None:
    root = tiny_root / CORPUS_DIR
    meta = json.loads((root / "corpus.json").read_text())
    assert meta["kind"] == "unlabeled_corpus" and meta["modalities"] == {"0": "CT"}
    paths = corpus_image_paths(root)
    assert len(paths) == len(meta["cases"]) > 0 and all(p.is_file() for p in paths)
    assert not (root / "labelsTr").exists() and not (root / "dataset.json").exists()
    assert sorted(p.name for p in root.iterdir()) == ["corpus.json", "imagesTr"]


def test_tiny_twins_pass_the_dataset_validator(tiny_twin_roots) -> None:
    from benchmark.data import validate

    for root in tiny_twin_roots.values():
        report = validate.validate_dataset(root)
        problems = report.problems if hasattr(report, "problems") else report
        assert list(problems) == [], root.name


def test_cli_writes_all_tiny_twins(tmp_path: Path) -> None:
    assert _synth(["--suite", "all", "--scale", "tiny", "--out", str(tmp_path), "--no-progress"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "S01_MSD_Pancreas",
        "S02_RibFrac",
        "S03_KiTS21",
        "S04_LIDC",
        "S05_Duke_Breast_MRI",
        "S06_LUNA16",
        "S07_PN9",
        "S08_CTA-A",
    ]
    assert not any((tmp_path / n / ".partial").exists() for n in names)


def test_resume_skips_written_cases_and_overwrite_rewrites(tmp_path: Path) -> None:
    root = generate_twin("S06", tmp_path, scale="tiny", seed=1, progress=False)
    image = root / "imagesTr" / "S06_0001_0000.nii.gz"
    label = root / "labelsTr" / "S06_0001.json"
    before = image.stat().st_mtime_ns
    label.unlink()  # an interrupted case: its completion marker is missing
    generate_twin("S06", tmp_path, scale="tiny", seed=1, progress=False)
    assert label.is_file()
    other = root / "imagesTs" / "S06_0007_0000.nii.gz"
    other_before = other.stat().st_mtime_ns
    generate_twin("S06", tmp_path, scale="tiny", seed=1, progress=False)
    assert other.stat().st_mtime_ns == other_before  # complete cases are skipped
    generate_twin("S06", tmp_path, scale="tiny", seed=1, overwrite=True, progress=False)
    assert image.stat().st_mtime_ns != before


def test_other_seed_into_existing_folder_needs_overwrite(tmp_path: Path) -> None:
    assert _synth(["--suite", "S06", "--scale", "tiny", "--out", str(tmp_path), "--no-progress"]) == 0
    assert _synth(["--suite", "S06", "--scale", "tiny", "--seed", "5", "--out", str(tmp_path), "--no-progress"]) == 1
    assert (
        _synth(
            ["--suite", "D06", "--scale", "tiny", "--seed", "5", "--out", str(tmp_path), "--no-progress", "--overwrite"]
        )
        == 0
    )
    prov = json.loads((tmp_path / "S06_LUNA16" / "dataset.json").read_text())["provenance"]
    assert prov["seed"] == 5


def test_corpus_only_and_default_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmark.commands.synth import default_out

    monkeypatch.setenv("DETBENCH_DATA", str(tmp_path))
    assert default_out() == tmp_path / "synthetic"
    monkeypatch.delenv("DETBENCH_DATA")
    assert default_out() == Path("data") / "synthetic"
    assert (
        _synth(["--corpus-only", "--corpus-cases", "3", "--scale", "tiny", "--out", str(tmp_path), "--no-progress"])
        == 0
    )
    assert len(corpus_image_paths(tmp_path / CORPUS_DIR)) == 3


def test_bad_choices_are_value_errors(tmp_path: Path) -> None:
    from benchmark.synthetic.config import DifficultyKnobs, get_scale
    from benchmark.synthetic.twins import get_twin

    with pytest.raises(ValueError, match="Valid scales"):
        get_scale("huge")
    with pytest.raises(ValueError, match="S06"):
        get_twin("S99")
    with pytest.raises(ValueError, match="count_model"):
        DifficultyKnobs(count_model="uniform")
    with pytest.raises(ValueError):
        generate_twin("S06", tmp_path, scale="tiny", seed=-1, progress=False)
    assert get_twin("LUNA16") is get_twin("D06") is get_twin("s06")
