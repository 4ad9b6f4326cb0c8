"""Fixtures of the leaderboard tests: a tiny S06 twin, a results store of three models on it, initialised boards."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

STORE_MODELS = (("retina_unet", "default"), ("retina_unet", "mae"), ("resenc_retina_unet", "voco"))


def noisy_predictions(dataset_root, case_ids, seed: int) -> dict:
    """Detections near the ground-truth boxes (some missed) plus false positives, inside each image."""
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import load_ground_truth

    rng = np.random.default_rng(seed)
    dataset = PreparedDataset(dataset_root)
    gt = load_ground_truth(dataset.root, case_ids)
    cases = {}
    for cid in case_ids:
        shape = np.asarray(dataset.load_geometry(cid).shape, float)
        boxes, scores, labels = [], [], []
        for box, label in zip(gt[cid].boxes, gt[cid].labels, strict=True):
            if rng.random() < 0.25:
                continue
            jitter = rng.normal(0, 0.6, 6)
            b = np.clip(np.asarray(box, float) + jitter, 0, np.concatenate([shape, shape]))
            if np.all(b[:3] < b[3:]):
                boxes.append(b.tolist())
                scores.append(float(rng.uniform(0.3, 1.0)))
                labels.append(int(label))
        for _ in range(3):
            lo = rng.uniform(0, shape - 3)
            boxes.append([*lo.tolist(), *(lo + 2).tolist()])
            scores.append(float(rng.uniform(0.0, 0.7)))
            labels.append(0)
        cases[cid] = {"boxes": boxes, "scores": scores, "labels": labels}
    return {"format_version": 1, "dataset": dataset.meta.dataset_id, "cases": cases}


def match_table_of(dataset_root, prediction_obj):
    """The IoU-0.1 match table of a prediction object on the dataset's test split (as benchmark evaluate)."""
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import EvaluationInput, get_metric, load_ground_truth, parse_predictions

    dataset = PreparedDataset(dataset_root)
    ids = dataset.case_ids("test")
    preds = parse_predictions(prediction_obj, ids, len(dataset.meta.classes))
    inputs = EvaluationInput(preds.cases, load_ground_truth(dataset.root, ids), tuple(dataset.meta.classes), "S06")
    return get_metric("map@0.1").match(inputs)


@pytest.fixture(scope="session")
def twin(tmp_path_factory):
    """The tiny S06 twin (`benchmark synth --suite S06 --scale tiny`), generated once."""
    from benchmark.synthetic.generate import generate_twin

    return generate_twin("S06", tmp_path_factory.mktemp("twin") / "synthetic" / "tiny", scale="tiny", seed=1,
                         progress=False)


@pytest.fixture(scope="session")
def store(twin, tmp_path_factory):
    """A results store with three models' runs on the twin's test split."""
    from analysis.store import write_run
    from benchmark.core.run_key import RunKey
    from benchmark.data.format import PreparedDataset

    root = tmp_path_factory.mktemp("store") / "store"
    ids = PreparedDataset(twin).case_ids("test")
    for k, (arch, pre) in enumerate(STORE_MODELS):
        table = match_table_of(twin, noisy_predictions(twin, ids, seed=10 + k))
        write_run(root, RunKey("S06", arch, pre, "tiny"), table)
    return root


@pytest.fixture(scope="session")
def seeded_boards(store, tmp_path_factory):
    """Boards after `leaderboard init` and `leaderboard add-store` (50 replicates), built once; copy before use."""
    from leaderboards.from_store import add_store
    from leaderboards.seed import init_boards, write_reported_entries

    root = tmp_path_factory.mktemp("boards") / "boards"
    init_boards(root)
    write_reported_entries(root)
    add_store(store, root, n_replicates=50, seed=0)
    return root


@pytest.fixture
def boards(seeded_boards, tmp_path):
    """A fresh copy of the seeded boards for one test."""
    root = tmp_path / "boards"
    shutil.copytree(seeded_boards, root)
    return root


@pytest.fixture
def good_predictions(twin):
    from benchmark.data.format import PreparedDataset

    return noisy_predictions(twin, PreparedDataset(twin).case_ids("test"), seed=99)


def write_json(path, obj) -> str:
    path.write_text(json.dumps(obj))
    return str(path)
