"""Planning: fixed/default configurations, patch-size heuristic, CT statistics from training cases only."""

import json

import numpy as np
import pytest
from preprocessing_cases import write_ct_dataset

from benchmark.preprocessing import Plan, fit_patch_size, load_plan, plan_preprocessing
from benchmark.preprocessing.planning import network_topology, plan_network_topology, scale_patch_to_budget


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


def test_network_topology_follows_nndetections_pooling_rule():
    iso = plan_network_topology((128, 128, 128), (1.0, 1.0, 1.0))
    assert iso.strides == ((1, 1, 1),) + ((2, 2, 2),) * 5  # the paper's fixed architecture (Table 5)
    assert iso.kernel_sizes == ((3, 3, 3),) * 6 and iso.total_stride == (32, 32, 32)
    # 3 mm slices, 1 mm in-plane: z is pooled only once in-plane has reached 2 mm, with 1x3x3 kernels until
    # then; every axis stops at a 4-voxel bottleneck (32 -> 4 along z: 3 poolings; 64 -> 4: 4 poolings)
    aniso = plan_network_topology((32, 64, 64), (3.0, 1.0, 1.0))
    assert aniso.strides == ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2), (2, 2, 2))
    assert aniso.kernel_sizes == ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))
    assert aniso.num_stages == 5 and aniso.total_stride == (8, 16, 16)
    # a short axis stops at 2 x the minimal feature map (z: 32 -> 4); one more in-plane pooling makes y/x
    # twice as coarse as z, which ends the in-plane pooling too (nnU-Net's rule, kept as is)
    flat = plan_network_topology((32, 128, 128), (1.0, 1.0, 1.0))
    assert flat.strides == ((1, 1, 1), (2, 2, 2), (2, 2, 2), (2, 2, 2), (1, 2, 2)) and flat.total_stride == (8, 16, 16)
    # at most num_stages - 1 = 5 poolings per axis (nnDetection would pool 256 a sixth time, to 4 voxels), so
    # fit_patch_size's multiples of 32 are always divisible and the encoder has at most six stages
    big = plan_network_topology((256, 256, 256), (1.0, 1.0, 1.0))
    assert big.num_stages == 6 and big.total_stride == (32, 32, 32)
    with pytest.raises(ValueError, match="not divisible by its planned total stride"):
        plan_network_topology((36, 64, 64), (1.0, 1.0, 1.0))


def test_default_plan_records_its_network_topology(tmp_path):
    root = write_ct_dataset(tmp_path / "ds")
    plan = plan_preprocessing(root, "default")
    topology = network_topology(plan)
    assert plan.planning["network"] == topology.to_json()
    assert all(p % t == 0 for p, t in zip(plan.patch_size, topology.total_stride, strict=True))
    assert topology.kernel_sizes[0] == (1, 3, 3)  # 5 mm slices vs 0.6 mm in-plane
    assert "network" not in plan_preprocessing(root, "fixed").planning  # fixed: the paper's architecture
    assert Plan.from_json(json.loads(json.dumps(plan.to_json()))) == plan


def test_scale_patch_to_budget_keeps_the_aspect_ratio():
    assert scale_patch_to_budget((32, 64, 64), 32**3, 8) == (16, 40, 40)
    assert scale_patch_to_budget((32, 64, 64), 64**3, 16) == (32, 64, 64)  # within budget: unchanged
    assert scale_patch_to_budget((128, 128, 128), 64**3, 16) == (64, 64, 64)
    patch = scale_patch_to_budget((64, 192, 160), 32**3, 8)
    assert np.prod(patch) <= 32**3 and all(p % 8 == 0 for p in patch) and patch[0] < patch[2] < patch[1]
    with pytest.raises(ValueError, match="voxel_budget"):
        scale_patch_to_budget((64, 64, 64), 100, 8)


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
