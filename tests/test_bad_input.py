"""Bad input through the CLI, as a new user would type it: one clear line per problem, exit 1 or 2, nothing written.

Every case copies a small template (a valid prepared dataset, fake official downloads of MSD Pancreas and
LUNA16, a results store, a prediction file and a plain file), breaks something, runs ``benchmark.cli.main``
in that folder and asserts: the exit code, a message fragment, no traceback, every stderr line an ``error:``
line (exit 1), and an unchanged file tree (paths, sizes and modification times, folders included). A few
cases run ``python -m benchmark.cli`` in a subprocess to prove no traceback escapes the real entry point.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk
from builders import write_tiny_dataset

from benchmark.cli import main
from benchmark.data.format import image_path, label_path

REPO = Path(__file__).resolve().parents[1]
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
LUNA_UIDS = [f"1.3.6.1.4.1.14519.5.2.1.6279.6001.{k}0" for k in range(10)]


# -- the template folder ------------------------------------------------------------------------------------
def _write_image(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = sitk.GetImageFromArray(array)
    img.SetSpacing((0.8, 0.8, 2.5))
    sitk.WriteImage(img, str(path))


def _fake_msd(root: Path) -> None:
    rng = np.random.default_rng(0)
    for i in range(7):
        _write_image(root / "imagesTr" / f"pancreas_{i:03d}.nii.gz", rng.normal(size=(10, 16, 16)).astype(np.float32))
        sem = np.zeros((10, 16, 16), np.uint8)
        sem[2:4, 4:7, 4:7] = 2
        _write_image(root / "labelsTr" / f"pancreas_{i:03d}.nii.gz", sem)


def _fake_luna(root: Path) -> None:
    rng = np.random.default_rng(1)
    rows = []
    for k, uid in enumerate(LUNA_UIDS):
        (root / f"subset{k}").mkdir(parents=True)
        img = sitk.GetImageFromArray(rng.normal(-500, 50, size=(12, 20, 20)).astype(np.int16))
        img.SetSpacing((0.7, 0.7, 1.25))
        sitk.WriteImage(img, str(root / f"subset{k}" / f"{uid}.mhd"))
        rows.append([uid, 5.0, 6.0, 5.0, 3.0])
    pd.DataFrame(rows, columns=["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]).to_csv(
        root / "annotations.csv", index=False
    )


def _predictions(root: Path) -> None:
    empty = {"boxes": [], "scores": [], "labels": []}
    obj = {"format_version": 1, "dataset": "T01", "cases": {"c_004": empty, "c_005": empty}}
    (root / "preds.json").write_text(json.dumps(obj))


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    from analysis.synthetic_store import build_synthetic_store

    root = tmp_path_factory.mktemp("template")
    write_tiny_dataset(root / "ds")
    _fake_msd(root / "msd")
    _fake_luna(root / "luna")
    build_synthetic_store(
        root / "store", ("S01", "S06"), (("retina_unet", "default"), ("retina_unet", "fixed")), n_images=8
    )
    _predictions(root)
    (root / "afile").write_text("a plain file, not a folder\n")
    return root


@pytest.fixture
def work(template, tmp_path, monkeypatch) -> Path:
    """A fresh copy of the template as the current folder."""
    root = tmp_path / "w"
    shutil.copytree(template, root)
    monkeypatch.chdir(root)
    monkeypatch.delenv("DETBENCH_DATA", raising=False)  # the default data folder is ./data
    return root


def tree(root: Path) -> dict[str, tuple[bool, int, int]]:
    """Every path under ``root`` with (is folder, size, mtime_ns): any write, creation or removal changes it."""
    out = {".": (True, 0, root.stat().st_mtime_ns)}
    for p in sorted(root.rglob("*")):
        st = p.lstat()
        out[p.relative_to(root).as_posix()] = (p.is_dir(), 0 if p.is_dir() else st.st_size, st.st_mtime_ns)
    return out


# -- corruptions ---------------------------------------------------------------------------------------------
def _truncate(path: Path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


def _edit_json(path: Path, edit: Callable[[dict], None]) -> None:
    obj = json.loads(path.read_text())
    edit(obj)
    path.write_text(json.dumps(obj))


def truncate_train_image(root: Path) -> None:
    _truncate(image_path(root / "ds", "c_001", 0, "train"))


def truncate_test_label(root: Path) -> None:
    _truncate(label_path(root / "ds", "c_004", "test"))


def overlap_splits(root: Path) -> None:
    _edit_json(root / "ds" / "splits.json", lambda s: s["val"].append("c_000"))


def empty_train_split(root: Path) -> None:
    _edit_json(root / "ds" / "splits.json", lambda s: s.update(train=[]))


def remove_channel(root: Path) -> None:
    image_path(root / "ds", "c_002", 0, "train").unlink()


def label_size_mismatch(root: Path) -> None:
    path = label_path(root / "ds", "c_003", "val")
    sitk.WriteImage(sitk.Image([3, 3, 3], sitk.sitkUInt8), str(path))


def dataset_json_is_a_folder(root: Path) -> None:
    (root / "ds" / "dataset.json").unlink()
    (root / "ds" / "dataset.json").mkdir()


def provenance_not_an_object(root: Path) -> None:
    _edit_json(root / "ds" / "dataset.json", lambda m: m.update(provenance="converted by hand"))


def truncate_msd_image(root: Path) -> None:
    _truncate(root / "msd" / "imagesTr" / "pancreas_003.nii.gz")


def garbage_msd_label(root: Path) -> None:
    (root / "msd" / "labelsTr" / "pancreas_005.nii.gz").write_bytes(b"\x1f\x8b not a nifti at all")


def truncate_luna_raw(root: Path) -> None:
    _truncate(root / "luna" / "subset4" / f"{LUNA_UIDS[4]}.raw")


def remove_luna_annotations(root: Path) -> None:
    (root / "luna" / "annotations.csv").unlink()


def luna_finding_outside(root: Path) -> None:
    frame = pd.read_csv(root / "luna" / "annotations.csv")
    frame.loc[2, "coordX"] = 500.0
    frame.to_csv(root / "luna" / "annotations.csv", index=False)


def foreign_twin_folder(root: Path) -> None:
    (root / "syn" / "S01_MSD_Pancreas").mkdir(parents=True)
    (root / "syn" / "S01_MSD_Pancreas" / "notes.txt").write_text("mine\n")


def _run_file(root: Path, dataset: str, model: str, name: str) -> Path:
    (path,) = (root / "store" / "runs" / dataset / model).glob(f"*/{name}")
    return path


def corrupt_result_json(root: Path) -> None:
    _run_file(root, "S06", "retina_unet__fixed", "result.json").write_text("{oops")


def corrupt_match_table(root: Path) -> None:
    _run_file(root, "S01", "retina_unet__default", "match_table.npz").write_bytes(b"junk")


def remove_test_label(root: Path) -> None:
    label_path(root / "ds", "c_005", "test").unlink()


def foreign_twin_in_data(root: Path) -> None:
    (root / "data" / "synthetic" / "tiny" / "S06_LUNA16").mkdir(parents=True)
    (root / "data" / "synthetic" / "tiny" / "S06_LUNA16" / "notes.txt").write_text("mine\n")


def old_store_version(root: Path) -> None:
    (root / "store" / "store.json").write_text(json.dumps({"format": "detbench-results", "version": 1}))


def corrupt_store_marker(root: Path) -> None:
    (root / "store" / "store.json").write_text("{oops")


def empty_store(root: Path) -> None:
    (root / "empty_store" / "runs").mkdir(parents=True)
    shutil.copyfile(root / "store" / "store.json", root / "empty_store" / "store.json")


def read_only_folder(root: Path) -> None:
    (root / "ro").mkdir()
    (root / "ro").chmod(0o555)


def old_run_folder(root: Path) -> None:
    (root / "oldrun").mkdir()
    (root / "oldrun" / "train_config.json").write_text("{}")
    (root / "oldrun" / "model_final.pt").write_bytes(b"weights")


def corrupt_predictor(root: Path) -> None:
    old_run_folder(root)
    (root / "oldrun" / "predictor.json").write_text("{oops")


# -- the cases -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    code: int
    message: str
    setup: Callable[[Path], None] | None = None
    not_as_root: bool = False  # os.access says "writable" to root for any folder


def case(id: str, argv: str, message: str, setup=None, code: int = 1, not_as_root: bool = False) -> Case:  # noqa: ANN001
    return Case(id, tuple(argv.split()), code, message, setup, not_as_root)


EVAL = "evaluate --dataset ds --predictions preds.json"
TRAIN = "train --dataset ds --profile tiny"
SCANS = "ds/imagesTs"
PREDICT = f"predict --model ds --input {SCANS} --out p.json"
PRE = "pretrain --method mae --profile tiny --out pt"
RUN = "run --suite S06 --archs retina_unet --pretraining fixed --profile tiny --store results"
CASES = [
    # datasets: names through the registry, "did you mean" for suites, ids, twin ids and names
    case("datasets-suite-typo", "datasets --suite dve", "Did you mean 'dev'?"),
    case("datasets-unknown-twin", "datasets --suite S99", "Unknown dataset 'S99'"),
    case("datasets-name-typo", "datasets --suite luna61", "Did you mean 'LUNA16'?"),
    case(
        "datasets-two-unknown", "datasets --suite D01,LIDCC,X1", "Unknown datasets 'LIDCC', 'X1'. Did you mean 'LIDC'"
    ),
    # convert
    case("convert-wrong-folder", "convert D04 --source msd --out conv", "no readers' XML (*.xml) found"),
    case("convert-dataset-typo", "convert LUNA61 --source luna --out conv", "Did you mean 'LUNA16'?"),
    case("convert-source-missing", "convert D01 --source nowhere --out conv", "--source nowhere: not found"),
    case("convert-source-is-file", "convert D01 --source afile --out conv", "--source afile: is a file"),
    case("convert-out-is-file", "convert D01 --source msd --out afile", "--out afile: is a file, expected a folder"),
    case("convert-out-under-file", "convert D01 --source msd --out afile/x", "cannot be created, afile is a file"),
    case("convert-out-is-source", "convert D01 --source msd --out msd", "--out msd: is the --source folder"),
    case("convert-workers-zero", "convert D01 --source msd --out conv --workers 0", "--workers must be >= 1, got 0"),
    case("convert-fold-without-folds", "convert D01 --source msd --out conv --fold 2", "converter has no folds"),
    case("convert-fold-out-of-range", "convert D06 --source luna --out conv --fold 12", "fold must be in 0..9"),
    case(
        "convert-truncated-source",
        "convert D01 --source msd --out conv",
        "pancreas_003.nii.gz: truncated",
        truncate_msd_image,
    ),
    case(
        "convert-garbage-source",
        "convert D01 --source msd --out conv",
        "pancreas_005.nii.gz: unreadable or corrupt",
        garbage_msd_label,
    ),
    case("convert-truncated-raw", "convert D06 --source luna --out conv", "truncated data file", truncate_luna_raw),
    case(
        "convert-no-annotations",
        "convert D06 --source luna --out conv",
        "annotations.csv: missing",
        remove_luna_annotations,
    ),
    case(
        "convert-finding-outside", "convert D06 --source luna --out conv", "lie outside the scan", luna_finding_outside
    ),
    case(
        "convert-read-only-out",
        "convert D01 --source msd --out ro/x",
        "folder ro is not writable",
        read_only_folder,
        not_as_root=True,
    ),
    # synth
    case("synth-unknown-twin", "synth --suite S99 --scale tiny --out syn", "Unknown dataset 'S99'"),
    case("synth-out-is-file", "synth --suite S06 --scale tiny --out afile", "--out afile: is a file"),
    case("synth-out-under-file", "synth --suite S06 --scale tiny --out afile/x", "cannot be created, afile is a file"),
    case("synth-out-is-dataset", "synth --suite S06 --scale tiny --out ds", "--out ds: is a prepared dataset"),
    case("synth-negative-seed", "synth --suite S06 --scale tiny --out syn --seed -1", "--seed must be >= 0, got -1"),
    case("synth-workers-zero", "synth --suite S06 --scale tiny --out syn --workers 0", "--workers must be >= 1"),
    case(
        "synth-corpus-cases-alone",
        "synth --suite S06 --scale tiny --out syn --corpus-cases 3",
        "add --corpus or --corpus-only",
    ),
    case(
        "synth-corpus-cases-zero",
        "synth --corpus-only --scale tiny --out syn --corpus-cases 0",
        "--corpus-cases must be >= 1",
    ),
    case(
        "synth-foreign-folder",
        "synth --suite S06,S01 --scale tiny --out syn",
        "not written by the synthetic generator",
        foreign_twin_folder,
    ),
    case("synth-bad-scale", "synth --suite S06 --scale huge --out syn", "invalid choice: 'huge'", code=2),
    # validate-dataset (the report goes to stdout, exit 1)
    case(
        "validate-truncated-image",
        "validate-dataset --no-progress ds",
        "c_001: ds/imagesTr/c_001_0000.nii.gz: truncated",
        truncate_train_image,
    ),
    case(
        "validate-truncated-label",
        "validate-dataset --no-progress ds",
        "c_004: ds/labelsTs/c_004.nii.gz: truncated",
        truncate_test_label,
    ),
    case(
        "validate-dataset-json-folder",
        "validate-dataset ds",
        "dataset.json: is a folder, expected a JSON file",
        dataset_json_is_a_folder,
    ),
    case(
        "validate-provenance-string", "validate-dataset ds", "'provenance' must be an object", provenance_not_an_object
    ),
    # evaluate
    case(
        "evaluate-dataset-missing",
        "evaluate --dataset nowhere --predictions preds.json",
        "--dataset nowhere: not found",
    ),
    case("evaluate-predictions-folder", "evaluate --dataset ds --predictions ds", "--predictions ds: is a folder"),
    case(
        "evaluate-predictions-binary",
        "evaluate --dataset ds --predictions ds/imagesTs/c_004_0000.nii.gz",
        "not a UTF-8 text file",
    ),
    case("evaluate-out-is-folder", f"{EVAL} --out ds", "--out ds: is a folder, expected a file name"),
    case("evaluate-out-under-file", f"{EVAL} --out afile/r.json", "cannot be created, afile is a file"),
    case("evaluate-per-case-folder", f"{EVAL} --per-case ds", "--per-case ds: is a folder"),
    case("evaluate-out-is-input", f"{EVAL} --out preds.json", "--out preds.json: is an input of this command"),
    case("evaluate-same-two-outputs", f"{EVAL} --out r.json --per-case r.json", "is also given to --out"),
    case("evaluate-unknown-split", f"{EVAL} --split tset", "--split: unknown split 'tset'"),
    case("evaluate-unknown-protocol", f"{EVAL} --protocol map@0.1,lunna16", "Did you mean 'luna16'?"),
    case("evaluate-truncated-label", EVAL, "ds/labelsTs/c_004.nii.gz: truncated", truncate_test_label),
    case("evaluate-overlapping-splits", EVAL, "case 'c_000' is in both split 'train' and split 'val'", overlap_splits),
    case(
        "evaluate-read-only-out",
        f"{EVAL} --out ro/r.json",
        "folder ro is not writable",
        read_only_folder,
        not_as_root=True,
    ),
    # preprocess
    case(
        "preprocess-truncated-image",
        "preprocess ds --out pp --no-progress",
        "c_001: ds/imagesTr/c_001_0000.nii.gz: truncated",
        truncate_train_image,
    ),
    case(
        "preprocess-overlapping-splits",
        "preprocess ds --out pp",
        "case 'c_000' is in both split 'train' and split 'val'",
        overlap_splits,
    ),
    case("preprocess-empty-train", "preprocess ds --out pp", "split 'train' is empty", empty_train_split),
    case(
        "preprocess-missing-channel",
        "preprocess ds --out pp",
        "c_002: ds/imagesTr/c_002_0000.nii.gz: file is missing",
        remove_channel,
    ),
    case(
        "preprocess-label-mismatch",
        "preprocess ds --out pp",
        "c_003: label/image geometry mismatch",
        label_size_mismatch,
    ),
    case("preprocess-out-is-file", "preprocess ds --out afile", "--out afile: is a file"),
    case("preprocess-out-under-file", "preprocess ds --out afile/pp", "cannot be created, afile is a file"),
    case("preprocess-out-is-dataset", "preprocess ds --out ds", "--out ds: is the dataset folder itself"),
    case(
        "preprocess-fold-missing",
        "preprocess ds --out pp --fold 99",
        "--fold 99: splits.json defines no cross-validation folds",
    ),
    case("preprocess-workers-zero", "preprocess ds --out pp --workers 0", "--workers must be >= 1"),
    case("preprocess-dataset-is-file", "preprocess afile --out pp", "DATASET afile: is a file"),
    case("preprocess-bad-config", "preprocess ds --out pp --config nnunet", "invalid choice: 'nnunet'", code=2),
    # leaderboards and submit
    case("leaderboard-init-boards-is-file", "leaderboard init --boards afile", "--boards afile: is a file"),
    case("leaderboard-add-store-missing", "leaderboard add-store nowhere --boards ds", "STORE nowhere: not found"),
    case("leaderboard-add-store-no-boards", "leaderboard add-store store --boards nowhere",
         "--boards nowhere: not found"),
    case("leaderboard-render-boards-missing", "leaderboard render --boards nowhere --out site",
         "--boards nowhere: not found"),
    case("leaderboard-render-boards-is-file", "leaderboard render --boards afile --out site",
         "--boards afile: is a file"),
    case("leaderboard-render-out-is-file", "leaderboard render --boards ds --out afile", "--out afile: is a file"),
    case("leaderboard-render-out-is-boards", "leaderboard render --boards ds --out ds", "is the boards folder"),
    case("leaderboard-render-out-not-a-site", "leaderboard render --boards ds --out store",
         "was not written by 'benchmark leaderboard render'"),
    case("submit-boards-missing", "submit --dataset ds --predictions preds.json --method m --boards nowhere",
         "--boards nowhere: not found"),
    case("submit-predictions-missing", "submit --dataset ds --predictions nope.json --method m --boards ds",
         "--predictions nope.json: file not found"),
    case("submit-method-no-letters", "submit --dataset ds --predictions preds.json --method !!! --boards ds",
         "--method: method name '!!!' has no letters or digits"),
    case("submit-unknown-dataset", "submit --dataset S99 --predictions preds.json --method m --boards ds",
         "Unknown dataset 'S99'"),
    case("submit-dataset-without-boards", "submit --dataset ds --predictions preds.json --method m --boards store",
         "no boards for dataset 'T01'"),
    # analyze
    case(
        "analyze-corrupt-result",
        "analyze store --replicates 5 --no-figures",
        "synthetic_official_seed0/result.json: not valid JSON",
        corrupt_result_json,
    ),
    case(
        "analyze-corrupt-match-table",
        "analyze store --replicates 5 --no-figures",
        "match_table.npz: not a readable match table",
        corrupt_match_table,
    ),
    case("analyze-baseline-typo", "analyze store --replicates 5 --baseline defualt", "Did you mean 'default'?"),
    case(
        "analyze-baseline-unknown",
        "analyze store --replicates 5 --baseline mae",
        "--baseline 'mae' is not a pre-training setting",
    ),
    case("analyze-replicates-negative", "analyze store --replicates -5", "--replicates must be >= 1, got -5"),
    case("analyze-out-is-file", "analyze store --replicates 5 --out afile", "--out afile: is a file"),
    case("analyze-store-missing", "analyze nowhere --replicates 5", "STORE nowhere: not found"),
    case("analyze-empty-store", "analyze empty_store --replicates 5", "no runs in", empty_store),
    case("analyze-replicates-not-int", "analyze store --replicates many", "invalid int value: 'many'", code=2),
    # train: every check before any twin generation, preprocessing or training step
    case("train-arch-typo", f"{TRAIN} --arch retina_unt", "Did you mean 'retina_unet'"),
    case("train-profile-unknown", "train --dataset ds --profile cpuu", "Unknown training profile 'cpuu'"),
    case("train-pretraining-typo", f"{TRAIN} --pretraining fixd", "Did you mean 'fixed'?"),
    case("train-unknown-twin", "train --dataset S99 --profile tiny", "Unknown dataset 'S99'"),
    case("train-twin-fold-out-of-range", "train --dataset S06 --profile tiny --fold 99", "twin S06 defines folds 0..5"),
    case(
        "train-twin-without-folds",
        "train --dataset S01 --profile tiny --fold 2",
        "twin S01 defines no cross-validation",
    ),
    case("train-prepared-fold", f"{TRAIN} --fold 3", "--fold 3: splits.json defines no cross-validation folds"),
    case("train-negative-fold", f"{TRAIN} --fold -1", "--fold must be >= 0, got -1"),
    case("train-truncated-image", TRAIN, "c_001: ds/imagesTr/c_001_0000.nii.gz: truncated", truncate_train_image),
    case("train-overlapping-splits", TRAIN, "case 'c_000' is in both split 'train' and split 'val'", overlap_splits),
    case("train-missing-test-label", TRAIN, "c_005: ds/labelsTs/c_005.nii.gz: file is missing", remove_test_label),
    case(
        "train-real-not-prepared",
        "train --dataset D06 --profile tiny",
        "D06 (LUNA16) is not prepared under data/prepared/D06",
    ),
    case("train-dataset-path-missing", "train --dataset nowhere/ds --profile tiny", "--dataset nowhere/ds: not found"),
    case(
        "train-folder-not-dataset",
        "train --dataset luna --profile tiny",
        "--dataset luna: a folder without dataset.json",
    ),
    case("train-out-is-file", f"{TRAIN} --out afile", "--out afile: is a file"),
    case("train-out-is-dataset", f"{TRAIN} --out ds", "--out ds: is the dataset folder"),
    case(
        "train-runs-under-file", f"{TRAIN} --runs afile/runs", "--runs afile/runs: cannot be created, afile is a file"
    ),
    case("train-data-root-is-file", f"{TRAIN} --data-root afile", "--data-root afile: is a file"),
    case("train-negative-seed", f"{TRAIN} --seed -3", "--seed must be >= 0, got -3"),
    case("train-max-steps-zero", f"{TRAIN} --max-steps 0", "--max-steps must be >= 1, got 0"),
    case("train-workers-zero", f"{TRAIN} --workers 0", "--workers must be >= 1, got 0"),
    case(
        "train-foreign-twin-folder",
        "train --dataset S06 --profile tiny",
        "not written by the synthetic generator",
        foreign_twin_in_data,
    ),
    case("train-cuda-without-gpu", f"{TRAIN} --device cuda", "--device cuda: no CUDA device is available"),
    case("train-bad-device", f"{TRAIN} --device gpu", "invalid choice: 'gpu'", code=2),
    case("train-weights-missing", f"{TRAIN} --weights nowhere/enc.pt", "--weights: no pre-trained weights at"),
    case("train-weights-unknown-name", f"{TRAIN} --weights mea_encoder", "--weights: Unknown"),
    case(
        "train-weights-with-random-init",
        f"{TRAIN} --pretraining fixed --weights afile",
        "--pretraining fixed: trains from random weights and cannot take --weights",
    ),
    case("train-custom-without-weights", f"{TRAIN} --pretraining custom", "--pretraining custom: needs pre-trained"),
    case("train-bad-stem", f"{TRAIN} --weights afile --stem copy", "--stem 'copy': use random, replicate"),
    case("train-bad-transfer", f"{TRAIN} --transfer heads", "invalid choice: 'heads'", code=2),
    case("train-seeds-not-numbers", f"{TRAIN} --seeds 0,one", "--seeds '0,one': give comma-separated integers"),
    case("train-seeds-repeated", f"{TRAIN} --seeds 1,1", "seeds must be distinct integers >= 0"),
    case("train-seeds-with-out", f"{TRAIN} --seeds 0,1 --out myrun", "--out names one run folder"),
    # train with a study pre-training setting (weights from a record or a cached synthetic pre-training)
    case("train-ssl-on-plain", f"{TRAIN} --pretraining mae", "MAE applies to resenc_retina_unet, resenc_deformable"),
    case(
        "train-pretrained-with-weights",
        f"{TRAIN} --arch resenc_retina_unet --pretraining mg --weights afile",
        "--pretraining mg: brings its own weights",
    ),
    case("train-pretrained-cache-is-file", f"{TRAIN} --pretrained-cache afile", "--pretrained-cache afile: is a file"),
    case("run-ssl-only-on-plain", f"{RUN} --pretraining voco", "VoCo applies to resenc_retina_unet"),
    # pretrain: every argument and path before any corpus is generated or volume read
    case("pretrain-method-typo", f"{PRE} --method maee", "Did you mean 'mae'?"),
    case("pretrain-encoder-unknown", f"{PRE} --encoder vit", "--encoder 'vit': use plain or resenc"),
    case("pretrain-profile-typo", f"{PRE} --profile tinyy", "Unknown pre-training profile 'tinyy'"),
    case("pretrain-negative-seed", f"{PRE} --seed -2", "--seed must be >= 0, got -2"),
    case("pretrain-max-steps-zero", f"{PRE} --max-steps 0", "--max-steps must be >= 1, got 0"),
    case("pretrain-out-is-file", "pretrain --method mae --out afile", "--out afile: is a file"),
    case("pretrain-out-under-file", "pretrain --method mae --out afile/pt", "cannot be created, afile is a file"),
    case("pretrain-out-not-a-run", "pretrain --method mae --out ds", "--out ds: a non-empty folder that is not a pre"),
    case("pretrain-data-missing", f"{PRE} --data nowhere", "--data nowhere: not found"),
    case("pretrain-data-is-file", f"{PRE} --data afile", "--data afile: is a file"),
    case("pretrain-data-without-volumes", f"{PRE} --data store", "no volumes found"),
    case("pretrain-out-is-data", "pretrain --method mae --data msd --out msd", "--out msd: is the --data folder"),
    case("pretrain-cache-is-file", f"{PRE} --cache afile", "--cache afile: is a file"),
    case("pretrain-cuda-without-gpu", f"{PRE} --device cuda", "--device cuda: no CUDA device is available"),
    case("pretrain-no-method", "pretrain --out pt", "the following arguments are required: --method", code=2),
    case("run-seeds-negative", f"{RUN} --seeds 0,-1", "seeds must be distinct integers >= 0"),
    # run: a bad --store or --replicates is reported before the first experiment, not after all of them
    case("run-suite-typo", f"{RUN} --suite dve", "Did you mean 'dev'?"),
    case("run-archs-typo", f"{RUN} --archs retina_unet,deformable_dert", "Did you mean 'deformable_detr'"),
    case("run-archs-empty", f"{RUN} --archs ,", "--archs: give at least one architecture"),
    case("run-pretraining-unknown", f"{RUN} --pretraining default,mea", "Unknown pre-training setting 'mea'"),
    case("run-replicates-negative", f"{RUN} --replicates -5", "--replicates must be >= 1, got -5"),
    case("run-profile-unknown", "run --suite S06 --profile laptop", "Unknown training profile 'laptop'"),
    case("run-negative-seed", f"{RUN} --seed -1", "--seed must be >= 0, got -1"),
    case("run-store-is-file", f"{RUN} --store afile", "--store afile: is a file"),
    case("run-store-not-a-store", f"{RUN} --store ds", "--store ds: a non-empty folder that is not a results store"),
    case("run-store-old-layout", f"{RUN} --store store", "results store of layout version 1", old_store_version),
    # the grid: filters, executors, status
    case("run-only-bad-field", f"{RUN} --only archh=retina_unet", "unknown field 'archh' (did you mean 'arch'?)"),
    case("run-only-not-field-value", f"{RUN} --only retina_unet", "'retina_unet' is not field=value"),
    case("run-exclude-arch-typo", f"{RUN} --exclude arch=retina_unte", "Did you mean 'retina_unet'"),
    case("run-only-dataset-unknown", f"{RUN} --only dataset=S99", "Unknown dataset 'S99'"),
    case("run-gpus-bad", f"{RUN} --gpus 0,x", "--gpus '0,x': give distinct GPU ids >= 0"),
    case("run-gpus-repeated", f"{RUN} --gpus 1,1", "--gpus '1,1': give distinct GPU ids >= 0"),
    case("run-gpus-with-slurm", f"{RUN} --executor slurm --dry-run --slurm-dir sl --gpus 0", "--gpus is for"),
    case("run-slurm-dry-run-no-dir", f"{RUN} --executor slurm --dry-run", "give --slurm-dir DIR"),
    case("run-slurm-dir-is-file", f"{RUN} --executor slurm --dry-run --slurm-dir afile", "--slurm-dir afile"),
    case("run-slurm-flags-local", f"{RUN} --slurm-partition gpu", "need --executor slurm"),
    case("run-executor-unknown", f"{RUN} --executor k8s", "invalid choice: 'k8s'", code=2),
    case("run-stale-after-small", f"{RUN} --stale-after 5", "--stale-after must be >= 60, got 5"),
    case("status-missing", "status nowhere", "STORE nowhere: not found"),
    case("status-not-a-store", "status ds", "not a detbench results store"),
    case("status-old-store", "status store", "results store of layout version 1", old_store_version),
    case("run-store-corrupt-marker", f"{RUN} --store store", "store.json: not valid JSON", corrupt_store_marker),
    case("run-runs-under-file", f"{RUN} --runs afile/runs", "--runs afile/runs: cannot be created"),
    case("run-real-not-prepared", "run --suite D06 --real --profile tiny", "D06 (LUNA16) is not prepared"),
    case("run-foreign-twin-folder", RUN, "not written by the synthetic generator", foreign_twin_in_data),
    case("run-no-classical-typo", f"{RUN} --no-clasical", "unrecognized arguments: --no-clasical", code=2),
    # baseline: the classical reference detector checks everything before reading any image
    case("baseline-dataset-typo", "baseline --dataset LUNA61", "Did you mean 'LUNA16'?"),
    case("baseline-dataset-missing", "baseline --dataset nowhere/ds", "--dataset nowhere/ds: not found"),
    case("baseline-profile-unknown", "baseline --dataset ds --profile laptop", "Unknown training profile 'laptop'"),
    case("baseline-negative-seed", "baseline --dataset ds --seed -2", "--seed must be >= 0, got -2"),
    case("baseline-store-is-file", "baseline --dataset ds --store afile", "--store afile: is a file"),
    case("baseline-store-not-a-store", "baseline --dataset ds --store msd", "a non-empty folder that is not a results"),
    case("baseline-out-is-dataset", "baseline --dataset ds --out ds", "--out ds: is the dataset folder"),
    case("baseline-real-not-prepared", "baseline --dataset D06", "D06 (LUNA16) is not prepared"),
    # predict: the run folder, the inputs and the output are checked before any scan is read
    case("predict-model-missing", f"{PREDICT} --model nowhere", "--model nowhere: not found"),
    case("predict-model-not-a-run", PREDICT, "not a run folder written by `benchmark train` (no predictor.json)"),
    case("predict-old-run", f"predict --model oldrun --input {SCANS} --out p.json", "has no predictor.json",
         old_run_folder),
    case("predict-corrupt-predictor", f"predict --model oldrun --input {SCANS} --out p.json", "not valid JSON",
         corrupt_predictor),
    case("predict-input-missing", "predict --model ds --input nowhere --out p.json", "--input nowhere: not found"),
    case("predict-input-unsupported", "predict --model ds --input afile --out p.json", "not a supported image file"),
    case("predict-input-no-scans", "predict --model ds --input luna --out p.json", "no image files"),
    case("predict-out-is-folder", f"predict --model ds --input {SCANS} --out ds", "--out ds: is a folder"),
    case("predict-out-under-file", f"{PREDICT} --out afile/p.json", "cannot be created, afile is a file"),
    case(
        "predict-out-is-input",
        "predict --model ds --input ds/imagesTs/c_004_0000.nii.gz --out ds/imagesTs/c_004_0000.nii.gz",
        "is an input of this command",
    ),
    case("predict-cuda-without-gpu", f"{PREDICT} --device cuda", "--device cuda: no CUDA device is available"),
    case("predict-bad-device", f"{PREDICT} --device gpu", "invalid choice: 'gpu'", code=2),
]


def test_the_table_is_large_and_distinct():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)
    assert len({(c.argv, c.setup) for c in CASES}) == len(CASES)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _run_in_process(argv: tuple[str, ...], capsys) -> tuple[int, str, str]:  # noqa: ANN001
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse usage errors
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("bad", CASES, ids=lambda c: c.id)
def test_bad_input(bad: Case, work: Path, capsys) -> None:  # noqa: ANN001
    if bad.not_as_root and IS_ROOT:
        pytest.skip("running as root: os.access reports every folder writable (the file-in-the-way cases cover this)")
    if "cuda" in bad.argv and _cuda_available():
        pytest.skip("a CUDA device is available: --device cuda is good input here")
    if bad.setup is not None:
        bad.setup(work)
    before = tree(work)
    code, out, err = _run_in_process(bad.argv, capsys)
    assert "Traceback" not in out + err
    assert code == bad.code, (out, err)
    assert bad.message in out + err, (out, err)
    if code == 1:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if not bad.argv[0] == "validate-dataset":  # the validator prints its report to stdout
            assert lines, "an error must be printed"
        assert all(ln.startswith("error: ") for ln in lines), err
    assert tree(work) == before, "bad input must not write, create or remove anything"


SUBPROCESS_CASES = [
    "train-twin-fold-out-of-range",
    "run-store-not-a-store",
    "validate-truncated-image",
    "evaluate-out-is-folder",
    "analyze-corrupt-result",
    "convert-garbage-source",
]


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_no_traceback_escapes_the_entry_point(case_id: str, work: Path) -> None:
    bad = next(c for c in CASES if c.id == case_id)
    if bad.setup is not None:
        bad.setup(work)
    before = tree(work)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmark.cli", *bad.argv],
        cwd=work,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    assert proc.returncode == bad.code, proc.stderr
    assert bad.message in proc.stdout + proc.stderr
    assert tree(work) == before


def test_every_problem_is_reported_at_once(work: Path, capsys) -> None:
    code, _, err = _run_in_process(
        ("convert", "D01", "--source", "afile", "--out", "afile/x", "--workers", "0"), capsys
    )
    assert code == 1
    assert err.splitlines() == [
        "error: --workers must be >= 1, got 0",
        "error: --source afile: is a file, expected the folder of the official download",
        "error: --out afile/x: cannot be created, afile is a file",
    ]


def test_the_template_itself_is_good_input(work: Path, capsys) -> None:
    """The cases fail because of what they break: the untouched template passes the same commands."""
    assert _run_in_process(("validate-dataset", "--no-progress", "ds"), capsys)[0] == 0
    assert _run_in_process(("evaluate", "--dataset", "ds", "--predictions", "preds.json"), capsys)[0] == 0
    for dataset, source in (("D01", "msd"), ("D06", "luna")):
        code, out, err = _run_in_process(("convert", dataset, "--source", source, "--out", f"conv_{source}"), capsys)
        assert code == 0, err
        assert "OK:" in out
    code, out, err = _run_in_process(("analyze", "store", "--replicates", "5", "--no-figures"), capsys)
    assert code == 0, err
