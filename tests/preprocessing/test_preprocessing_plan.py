"""Planning: fixed/default configurations, patch-size heuristic, CT statistics from training cases only."""

import json

import numpy as np
import pytest
from preprocessing_cases import write_ct_dataset

from benchmark.preprocessing import Plan, fit_patch_size, load_plan, plan_preprocessing


def test_fixed_plan_and_json_round_trip(ct_dataset, tmp_path):
    plan = plan_preprocessing(ct_dataset, "fixed")
    assert plan.target_spacing == (1.0, 1.0, 1.0)
    assert plan.patch_size == (128, 128, 128)
    assert plan.train_cases == ("tr_0", "tr_1", "tr_2", "tr_3")
    (norm,) = plan.normalization
    assert norm.scheme == "ct" and norm.foreground == "instances"
    assert norm.lower < norm.mean < norm.upper and norm.std > 0
    path = plan.save(tmp_path / "out")
    assert path.name == "plans.json" and json.loads(path.read_text())["config"] == "fixed"
    again = load_plan(tmp_path / "out")
    assert again == plan and again.digest() == plan.digest()


def test_default_plan_uses_median_training_spacing(tmp_path):
    spacings = [(5.0, 0.6, 0.6), (4.0, 0.7, 0.7), (3.0, 0.8, 0.8), (2.0, 0.9, 0.9)]
    root = write_ct_dataset(tmp_path / "ds", train_spacings=spacings)
    plan = plan_preprocessing(root, "default", voxel_budget=32**3 * 2, num_stages=3)
    assert plan.target_spacing == pytest.approx((3.5, 0.75, 0.75), abs=1e-5)  # test cases (0.5, 3, 3) ignored
    assert all(p % 4 == 0 for p in plan.patch_size)
    assert np.prod(plan.patch_size) <= 32**3 * 2


def test_fit_patch_size_heuristic():
    assert fit_patch_size((300, 300, 300), 128**3, 6) == (128, 128, 128)
    assert fit_patch_size((40, 400, 400), 128**3, 6) == (32, 256, 256)  # aspect of the median image
    for shape in [(100, 512, 512), (200, 200, 60), (57, 91, 300)]:
        patch = fit_patch_size(shape, 128**3, 6)
        assert all(p % 32 == 0 for p in patch) and np.prod(patch) <= 128**3
    assert fit_patch_size((20, 50, 60), 128**3, 6) == (32, 64, 64)  # capped by the (rounded-up) image
    with pytest.raises(ValueError, match="voxel_budget"):
        fit_patch_size((100, 100, 100), 1000, 6)


def test_ct_statistics_from_training_cases_only(tmp_path):
    base = plan_preprocessing(write_ct_dataset(tmp_path / "a"), "fixed")
    shifted_test = plan_preprocessing(write_ct_dataset(tmp_path / "b", test_offset=800.0), "fixed")
    assert shifted_test.normalization == base.normalization
    fold_like = plan_preprocessing(tmp_path / "a", "fixed", train_cases=["tr_0", "te_0"])
    assert fold_like.normalization != base.normalization  # the statistics do follow the training cases


def test_foreground_sampling_uses_the_plan_seed(ct_dataset):
    a = plan_preprocessing(ct_dataset, "fixed", samples_per_case=5, seed=1)
    b = plan_preprocessing(ct_dataset, "fixed", samples_per_case=5, seed=1)
    c = plan_preprocessing(ct_dataset, "fixed", samples_per_case=5, seed=2)
    assert a == b
    assert a.normalization != c.normalization
    assert a.normalization[0].num_samples == 4 * 5


def test_mri_uses_per_case_zscore_and_cta_is_ct(tmp_path):
    plan = plan_preprocessing(write_ct_dataset(tmp_path / "mr", modality="T1_pre"), "fixed")
    assert [n.scheme for n in plan.normalization] == ["zscore_per_case"]
    plan = plan_preprocessing(write_ct_dataset(tmp_path / "cta", modality="CTA"), "fixed")
    assert [n.scheme for n in plan.normalization] == ["ct"]


def test_invalid_config_lists_choices(ct_dataset):
    with pytest.raises(ValueError, match="fixed, default"):
        plan_preprocessing(ct_dataset, "nnunet")
    with pytest.raises(ValueError, match="Valid configs"):
        Plan.from_json({**plan_preprocessing(ct_dataset).to_json(), "config": "x"})


def test_ct_without_any_instance_falls_back_to_body_voxels(tmp_path):
    from benchmark.preprocessing.intensity import BODY_THRESHOLD_HU, ct_normalization, foreground_samples

    rng = np.random.default_rng(0)
    channel = np.array([-1000.0, -900.0, 20.0, 40.0, 60.0])
    inside, body = foreground_samples(channel, np.zeros(5, np.int16), rng, 10)
    assert inside.size == 0 and sorted(body) == [20.0, 40.0, 60.0] and body.min() > BODY_THRESHOLD_HU
    norm = ct_normalization([inside], [body])
    assert norm.foreground == "body" and norm.mean == pytest.approx(40.0, abs=1.0)
    with_objects = ct_normalization([np.array([100.0, 110.0]), inside], [body, body])
    assert with_objects.foreground == "instances" and with_objects.mean == pytest.approx(105.0, abs=0.5)
