"""Weight records: typed, complete, nothing invented; names resolve to local files or say where to put them."""

from __future__ import annotations

import pytest
import torch
from pretrain_cases import library_unet, nnssl_plan, save_nnssl_checkpoint

from benchmark.core.registry import UnknownNameError
from pretraining.checkpoint import CheckpointError
from pretraining.weights import WEIGHTS, WeightRecord, load_pretrained, resolve_weights


def test_the_study_encoders_are_recorded():
    labels = {WEIGHTS.get(n).paper_label for n in WEIGHTS}
    assert {"MAE", "S3D", "MG", "VoCo", "MT"} <= labels
    assert {"multitalent_resencl", "multitalent_retina_unet"} <= set(WEIGHTS)
    for name in WEIGHTS:
        record = WEIGHTS.get(name)
        assert isinstance(record, WeightRecord) and record.name == name
        assert record.encoder in ("plain", "resenc") and record.in_channels >= 1 and record.citation
        assert record.verified, f"{name}: say what was checked"
        if record.sha256 is None or record.url is None:
            assert "not" in record.verified  # an unknown hash / address is said to be unknown
        assert record.sha256 is None or len(record.sha256) == 64
    assert WEIGHTS.get("multitalent_retina_unet").encoder == "plain"


def test_resolve_paths_names_and_unknowns(tmp_path, monkeypatch):
    monkeypatch.setenv("DETBENCH_WEIGHTS", str(tmp_path / "cache"))
    (tmp_path / "w.pt").write_bytes(b"x")
    assert resolve_weights(tmp_path / "w.pt") == (tmp_path / "w.pt", None)
    with pytest.raises(FileNotFoundError, match="not on this machine.*cache/mae_resencl"):
        resolve_weights("mae_resencl")
    with pytest.raises(FileNotFoundError, match="huggingface.co/AnonRes/ResEncL-OpenMind-MAE"):
        resolve_weights("openmind_mae_resencl")
    with pytest.raises(UnknownNameError, match="Did you mean 'mae_resencl'"):
        resolve_weights("mae_resenc")
    with pytest.raises(FileNotFoundError, match="no pre-trained weights at"):
        resolve_weights(str(tmp_path / "nope.pth"))


def test_a_downloaded_record_loads_and_a_known_hash_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("DETBENCH_WEIGHTS", str(tmp_path))
    net = library_unet("resenc", [8, 16], strides=[1, 2], blocks=[1, 1])
    plan = nnssl_plan("ResidualEncoderUNet", None)
    plan["architecture_plans"]["arch_kwargs"] = {
        "n_stages": 2,
        "features_per_stage": [8, 16],
        "kernel_sizes": [[3, 3, 3]] * 2,
        "strides": [[1] * 3, [2] * 3],
        "n_blocks_per_stage": [1, 1],
        "norm_op": "torch.nn.InstanceNorm3d",
        "nonlin": "torch.nn.LeakyReLU",
    }
    save_nnssl_checkpoint(tmp_path / "mae_resencl" / "checkpoint_final.pth", net, plan)
    ck = load_pretrained("mae_resencl")
    assert ck.data["source"]["record"] == "mae_resencl" and ck.method == "mae"
    name = "fake_test_record"
    fake = WeightRecord(
        name, "", "mae", "resenc", 1, ("encoder",), "x", "checkpoint_final.pth", sha256="0" * 64, verified="test only"
    )
    WEIGHTS.register(name, fake)
    try:
        (tmp_path / name).mkdir()
        torch.save({}, tmp_path / name / "checkpoint_final.pth")
        with pytest.raises(CheckpointError, match="differs from the published"):
            load_pretrained(name)
    finally:
        WEIGHTS._items.pop(name)
