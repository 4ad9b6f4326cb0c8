"""Split sizes and proportions, object counts per image, empty images, cross-validation folds."""

from __future__ import annotations

import numpy as np
import pytest

from benchmark.data.format import PreparedDataset
from benchmark.synthetic.config import SCALES
from benchmark.synthetic.generate import plan_twin, twin_splits
from benchmark.synthetic.twins import TWINS, get_twin


@pytest.mark.parametrize("twin_id", ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"])
def test_small_scale_keeps_real_split_proportions(twin_id: str) -> None:
    twin = get_twin(twin_id)
    real, small = twin.spec.splits, SCALES["small"].split_sizes(twin.spec)
    assert SCALES["full"].split_sizes(twin.spec) == real
    for name in ("train", "val", "test", "external_test"):
        want = getattr(real, name) / real.total
        assert abs(getattr(small, name) / small.total - want) < 0.06, name
        assert (getattr(small, name) > 0) == (getattr(real, name) > 0)


def test_tiny_splits_and_external_test_only_for_s08(tiny_twin_roots) -> None:
    for twin_id, root in tiny_twin_roots.items():
        splits = PreparedDataset(root).splits
        assert splits.problems() == []
        assert (len(splits.train), len(splits.val), len(splits.test)) == (4, 2, 2)
        assert len(splits.external_test) == (2 if twin_id == "S08" else 0)
        assert len(set(splits.all_ids())) == len(splits.all_ids())
        assert all("." not in cid and cid.startswith(twin_id + "_") for cid in splits.all_ids())


def test_folds_where_the_real_dataset_has_them() -> None:
    for twin_id, n in (("S06", 10), ("S07", 5), ("S08", 5), ("S01", 0)):
        twin = get_twin(twin_id)
        splits = twin_splits(twin, plan_twin(twin, "small", 0))
        assert len(splits.folds) == n
        assert splits.problems() == []


@pytest.mark.parametrize("twin_id", ["S01", "S02", "S03", "S04", "S05", "S06", "S07", "S08"])
def test_planned_objects_per_image_and_empty_images_match_the_real_dataset(twin_id: str) -> None:
    twin = get_twin(twin_id)
    plans = plan_twin(twin, "small", 0)
    counts = np.array([len(p.classes) for p in plans])
    assert counts.mean() == pytest.approx(twin.spec.objects / twin.spec.splits.total, rel=0.05, abs=0.02)
    assert (counts == 0).mean() == pytest.approx(twin.knobs.empty_fraction, abs=0.06)
    assert counts.max() <= twin.knobs.max_objects
    assert all(0 <= c < twin.spec.num_classes for p in plans for c in p.classes)


def test_lung_twins_have_empty_scans_and_mostly_labelled_twins_do_not() -> None:
    def empty_share(twin_id: str) -> float:
        return float(np.mean([not p.classes for p in plan_twin(get_twin(twin_id), "small", 0)]))

    assert empty_share("S06") > 0.25  # LUNA16: 287 of 888 scans have no nodule
    assert empty_share("S02") < 0.1 and empty_share("S03") == 0.0 and empty_share("S04") < 0.15


def test_every_dataset_has_a_twin() -> None:
    from benchmark.datasets import DATASETS

    assert sorted(TWINS.names()) == sorted(DATASETS.get(d).twin_id for d in DATASETS.names())
