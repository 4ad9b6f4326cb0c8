"""``--pretraining default`` trains and predicts with what nnDetection's plan says.

The S06 twin at tiny scale is anisotropic (median spacing 6.25 x 3.5 x 3.5 mm): its ``default`` plan asks for
a 32 x 64 x 64 patch and a five-stage network whose last stage does not pool z, while the profiles' fixed
setting uses cubic patches and six (paper) or fewer isotropic stages.
"""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

import benchmark.inference.predict as predict_module
from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.preprocessing.pipeline import preprocess_dataset
from benchmark.preprocessing.plan import Plan
from benchmark.preprocessing.planning import plan_preprocessing
from benchmark.synthetic.generate import generate_twin
from benchmark.training.profiles import PAPER, PROFILES
from benchmark.training.trainer import TrainConfig, Trainer

# what the old code lacked is imported inside the tests, so that they fail on it by assertion, not on import


@pytest.fixture(scope="module")
def twin(tmp_path_factory) -> Path:
    return generate_twin("S06", tmp_path_factory.mktemp("data") / "synthetic", scale="tiny", progress=False)


@pytest.fixture(scope="module")
def default_preprocessed(twin, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("pre") / "default"
    preprocess_dataset(twin, out, plan_preprocessing(twin, "default"), progress=False)
    return out


def _cfg(pre, out, **kw):
    return TrainConfig(str(pre), str(out), progress=False, **kw)


def test_the_default_plan_differs_from_the_profiles(default_preprocessed):
    from benchmark.preprocessing.planning import network_topology

    plan = Plan.load(default_preprocessed)
    assert plan.config == "default" and plan.patch_size == (32, 64, 64)
    assert plan.patch_size != PROFILES.get("paper").patch_size
    assert network_topology(plan).strides == ((1, 1, 1), (2, 2, 2), (2, 2, 2), (2, 2, 2), (1, 2, 2))


def test_default_trains_with_the_planned_patch_capped_to_the_tiny_budget(default_preprocessed, tmp_path):
    trainer = Trainer(_cfg(default_preprocessed, tmp_path / "run", profile="tiny", max_steps=1))
    tiny = PROFILES.get("tiny")
    # the plan's 32 x 64 x 64 scaled to the tiny profile's 32^3 voxels, aspect kept, multiples of its stride 8
    batch = trainer.loader.batch(0, 0)
    assert tuple(batch["image"].shape) == (tiny.batch_size, 1, 16, 40, 40)
    assert trainer.loader.config.patch_size == trainer.val_loader.config.patch_size == (16, 40, 40)
    assert trainer.patch_size == (16, 40, 40) != tiny.patch_size
    result = trainer.fit()  # one real optimiser step on the planned patch
    assert result.steps == 1 and np.isfinite(trainer.validate())
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["preprocessing"] == "default" and saved["patch_size"] == [16, 40, 40]


def test_cpu_profile_keeps_a_plan_within_its_budget(default_preprocessed):
    from benchmark.preprocessing.planning import scale_patch_to_budget
    from benchmark.training.trainer import run_geometry

    plan = Plan.load(default_preprocessed)
    # the cpu budget is its patch's voxels (32^3) with a four-stage network (total stride 8): the planned
    # 32x64x64 is scaled down
    budget = PROFILES.get("cpu").voxel_budget
    assert budget == 32**3
    cpu = run_geometry(PROFILES.get("cpu"), plan)
    assert cpu == (scale_patch_to_budget(plan.patch_size, budget, 8), None)
    assert all(p % 8 == 0 for p in cpu[0]) and cpu[0][0] * cpu[0][1] * cpu[0][2] <= budget
    assert run_geometry(PROFILES.get("tiny"), plan) == (scale_patch_to_budget(plan.patch_size, 32**3, 8), None)


def test_fixed_preprocessing_keeps_the_profile_patch(tmp_path):
    pre = write_synthetic_preprocessed(tmp_path / "fixed", num_cases=2, shape=(32, 32, 32), patch_size=(48, 48, 48))
    trainer = Trainer(_cfg(pre, tmp_path / "run", profile="tiny"))
    assert trainer.data.plan.config == "fixed"
    assert trainer.patch_size == (32, 32, 32) and trainer.topology is None


@pytest.mark.parametrize("architecture", ["retina_unet", "deformable_detr"])
def test_paper_profile_builds_the_planned_network(default_preprocessed, tmp_path, architecture):
    trainer = Trainer(_cfg(default_preprocessed, tmp_path / "run", profile="paper", architecture=architecture))
    enc = trainer.model.config.encoder
    assert trainer.loader.config.patch_size == trainer.data.plan.patch_size == (32, 64, 64)  # the plan, not capped
    assert enc.num_stages == 5  # the planned depth, not the paper profile's fixed six

    from benchmark.preprocessing.planning import network_topology

    planned = network_topology(trainer.data.plan)
    assert trainer.patch_size == (32, 64, 64) and planned.num_stages == 5
    assert enc.stage_strides_3d == planned.strides and enc.stage_kernel_sizes == planned.kernel_sizes
    assert enc.width_multiplier == 1.0 and enc.stage_features == (32, 64, 128, 256, 320)
    assert trainer.geometry()["encoder_strides"] == [list(s) for s in planned.strides]
    with torch.no_grad():
        feats = trainer.model.encoder(torch.zeros(1, 1, *trainer.patch_size))
    assert tuple(feats[-1].shape[2:]) == (4, 4, 4)  # 32/8, 64/16, 64/16: nnDetection's 4-voxel bottleneck


def test_exact_profiles_cannot_fix_the_number_of_stages():
    with pytest.raises(ValueError, match="n_stages=None"):
        replace(PAPER, n_stages=4)
    assert replace(PAPER, n_stages=4, default_plan="capped").n_stages == 4
    with pytest.raises(ValueError, match="default_plan must be one of exact, capped"):
        replace(PAPER, default_plan="planned")


def test_experiment_predicts_with_the_trainers_patch(twin, tmp_path, monkeypatch):
    from benchmark.experiment import ExperimentConfig, run_experiment

    tiles = []
    original = predict_module.predict_volume

    def spy(model, image, config):
        tiles.append(tuple(config.patch_size))
        return original(model, image, config)

    monkeypatch.setattr(predict_module, "predict_volume", spy)
    cfg = ExperimentConfig(
        dataset=str(twin),
        profile="tiny",
        pretraining="default",
        data_root=str(tmp_path / "data"),
        out=str(tmp_path / "run"),
        progress=False,
    )
    result = run_experiment(cfg)
    assert result.finished and tiles
    assert set(tiles) == {(16, 40, 40)}  # every case was tiled with the planned (capped) patch, not 32^3
    trained = json.loads((tmp_path / "run" / "train_config.json").read_text())["patch_size"]
    assert trained == [16, 40, 40]  # the patch the model was trained with
