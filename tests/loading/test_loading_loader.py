"""PatchLoader: deterministic for a seed with any worker count, exact resume, foreground oversampling share."""

import numpy as np
import pytest
import torch

from benchmark.loading import (
    AugmentationConfig,
    LoaderConfig,
    PatchLoader,
    PreprocessedData,
    SpatialAugmentation,
    batch_targets,
    make_batch,
    write_synthetic_preprocessed,
)

AUG = AugmentationConfig(SpatialAugmentation(p_rotation=0.5, p_scale=0.5))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = write_synthetic_preprocessed(
        tmp_path_factory.mktemp("syn"), num_cases=4, shape=(24, 28, 32), empty_cases=1, radius_range=(2.0, 4.0)
    )
    return PreprocessedData(root)


def same_batch(a: dict, b: dict) -> bool:
    return (
        torch.equal(a["image"], b["image"])
        and torch.equal(a["instances"], b["instances"])
        and all(torch.equal(x, y) for x, y in zip(a["boxes"], b["boxes"], strict=True))
        and all(torch.equal(x, y) for x, y in zip(a["labels"], b["labels"], strict=True))
        and a["case_ids"] == b["case_ids"]
    )


def test_batch_format(data):
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=3, batches_per_epoch=2, augmentation=AUG)
    batch = make_batch(data, data.case_ids("train"), config, seed=0, epoch=0, batch_index=0)
    assert batch["image"].shape == (3, 1, 16, 16, 16) and batch["image"].dtype == torch.float32
    assert batch["instances"].shape == (3, 1, 16, 16, 16)
    assert len(batch["boxes"]) == len(batch["labels"]) == 3
    for boxes, labels in zip(batch["boxes"], batch["labels"], strict=True):
        assert boxes.dtype == torch.float32 and boxes.shape[1:] == (6,) and labels.dtype == torch.int64
    targets = batch_targets(batch)
    assert targets[0]["instances"].shape == (16, 16, 16)


def test_same_seed_same_batches_with_0_and_2_workers(data):
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=2, batches_per_epoch=4, augmentation=AUG)
    ids = data.case_ids("train")
    serial = list(PatchLoader(data, ids, config, seed=7, num_workers=0))
    parallel = list(PatchLoader(data, ids, config, seed=7, num_workers=2))
    assert len(serial) == len(parallel) == 4
    assert all(same_batch(a, b) for a, b in zip(serial, parallel, strict=True))
    other = PatchLoader(data, ids, config, seed=8).batch(0, 0)
    assert not same_batch(serial[0], other)
    assert not same_batch(serial[0], serial[1])


def test_resume_from_saved_position_is_exact(data):
    config = LoaderConfig(patch_size=(12, 12, 12), batch_size=2, batches_per_epoch=3, augmentation=AUG)
    ids = data.case_ids("train")
    full = PatchLoader(data, ids, config, seed=3)
    reference = list(full) + list(full)  # two epochs
    assert full.position.epoch == 2 and full.position.batch == 0

    first = PatchLoader(data, ids, config, seed=3)
    it = iter(first)
    got = [next(it), next(it)]
    state = first.state_dict()
    assert state["epoch"] == 0 and state["batch"] == 2
    resumed = PatchLoader(data, ids, config, seed=3)
    resumed.load_state_dict(state)
    got += list(resumed)
    assert resumed.position.epoch == 1
    got += list(resumed)
    assert all(same_batch(a, b) for a, b in zip(reference, got, strict=True))
    with pytest.raises(ValueError, match="seed"):
        PatchLoader(data, ids, config, seed=4).load_state_dict(state)


def test_foreground_oversampling_share(data):
    ids = data.case_ids("train")
    three = LoaderConfig(patch_size=(12, 12, 12), batch_size=3, augmentation=AugmentationConfig.none())
    for index in range(10):
        batch = make_batch(data, ids, three, seed=0, epoch=0, batch_index=index)
        assert batch["foreground"].tolist() == [True, False, False]  # exactly a third of each batch
        assert len(batch["boxes"][0]) >= 1  # centred on an object
    four = LoaderConfig(patch_size=(8, 8, 8), batch_size=4, augmentation=AugmentationConfig.none())
    forced = [make_batch(data, ids, four, seed=1, epoch=0, batch_index=i)["foreground"] for i in range(150)]
    share = float(torch.cat(forced).float().mean())
    assert abs(share - 1 / 3) < 0.06  # floor(4/3) = 1 per batch plus one more with probability 1/3
    empty_case = ids[-1]
    assert not data.meta(empty_case).boxes  # the case without objects is only drawn for random patches


def test_invalid_settings_raise_with_the_valid_range(data):
    with pytest.raises(ValueError, match=r"foreground_fraction must be in \[0, 1\]"):
        LoaderConfig(foreground_fraction=1.5)
    with pytest.raises(ValueError, match="not preprocessed"):
        PatchLoader(data, ["nope"])
    assert np.isclose(LoaderConfig().foreground_fraction, 1 / 3)


def test_loader_reads_a_preprocessed_prepared_dataset(tmp_path):
    from builders import write_tiny_dataset

    from benchmark.preprocessing import plan_preprocessing, preprocess_dataset

    root = write_tiny_dataset(tmp_path / "ds")
    out = tmp_path / "pre"
    preprocess_dataset(root, out, plan_preprocessing(root, "fixed"), progress=False)
    data = PreprocessedData(out)
    assert data.case_ids("train") == ["c_000", "c_001", "c_002"] and data.plan.config == "fixed"
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=3, batches_per_epoch=1, augmentation=AUG)
    batch = next(iter(PatchLoader(data, data.case_ids("train"), config, seed=0)))
    assert batch["foreground"].tolist() == [True, False, False] and len(batch["boxes"][0]) >= 1
    assert set(torch.cat(batch["labels"]).tolist()) <= {0, 1}


def test_prefetch_thread_gives_the_same_batches_positions_and_resume(data):
    """The background-thread loader hands out exactly the serial loader's batches, positions and resumes."""
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=2, batches_per_epoch=4, augmentation=AUG)
    ids = data.case_ids("train")
    serial = list(PatchLoader(data, ids, config, seed=7, num_workers=0))
    threaded = PatchLoader(data, ids, config, seed=7, num_workers=0, prefetch_thread=True)
    seen, positions = [], []
    for batch in threaded:
        seen.append(batch)
        positions.append((threaded.position.epoch, threaded.position.batch))
    assert len(seen) == 4 and all(same_batch(a, b) for a, b in zip(serial, seen, strict=True))
    assert positions == [(0, 1), (0, 2), (0, 3), (1, 0)]
    # stopped early (the trainer's mid-epoch break), then resumed from the saved position in a new loader
    early = PatchLoader(data, ids, config, seed=7, num_workers=0, prefetch_thread=True)
    for index, _ in enumerate(early):
        if index == 1:
            break
    state = early.state_dict()
    assert (state["epoch"], state["batch"]) == (0, 2)
    resumed = PatchLoader(data, ids, config, seed=7, num_workers=0, prefetch_thread=True)
    resumed.load_state_dict(state)
    rest = list(resumed)
    assert len(rest) == 2 and all(same_batch(a, b) for a, b in zip(serial[2:], rest, strict=True))


def test_prefetch_thread_raises_the_builders_error(data, monkeypatch):
    """An error while building a batch in the background thread is raised in the consumer."""
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=2, batches_per_epoch=3, augmentation=AUG)
    loader = PatchLoader(data, data.case_ids("train"), config, seed=7, num_workers=0, prefetch_thread=True)
    original = PatchLoader.batch

    def failing(self, epoch, index):
        if index == 1:
            raise RuntimeError("broken case")
        return original(self, epoch, index)

    monkeypatch.setattr(PatchLoader, "batch", failing)
    got = []
    with pytest.raises(RuntimeError, match="broken case"):
        for batch in loader:
            got.append(batch)
    assert len(got) == 1
