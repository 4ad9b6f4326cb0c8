"""Importers: format detection, the layouts of nnssl / nnU-Net v2 / MultiTalent v1 / plain state dicts, what
each file cannot say (strides), SparkMAE's diverging alias tensors, and clear refusals."""

from __future__ import annotations

import json

import pytest
import torch
from pretrain_cases import (
    dynamic_resenc_kwargs,
    library_unet,
    nnssl_plan,
    nnunet_plans,
    plain_kwargs,
    save_nnssl_checkpoint,
    save_nnunet_results,
)

from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.checkpoint import CheckpointError
from pretraining.importers import canonical_aliases, detect_format, import_weights, infer_encoder_config

SMALL = [8, 16, 32, 32]
SMALL_STRIDES = [1, 2, 2, 2]
SMALL_BLOCKS = [1, 2, 2, 1]


def _small_resenc(in_channels: int = 1):
    return library_unet("resenc", SMALL, SMALL_STRIDES, SMALL_BLOCKS, in_channels=in_channels)


def _assert_encoder_equal(ck, net):
    ref = net.encoder.state_dict()
    assert set(ck.encoder_weights) == set(ref)
    for key, value in ref.items():
        assert torch.equal(ck.encoder_weights[key], value), key


def test_nnssl_dynamic_plan_and_json_plan_beside_the_file(tmp_path):
    net = _small_resenc()
    plan = nnssl_plan("ResidualEncoderUNet", dynamic_resenc_kwargs(SMALL, SMALL_STRIDES, SMALL_BLOCKS))
    path = save_nnssl_checkpoint(tmp_path / "a" / "checkpoint_final.pth", net, plan, trainer="VoCoTrainer")
    ck = import_weights(path)
    assert ck.method == "voco" and ck.encoder["features"] == tuple(SMALL)
    assert ck.encoder["strides"] == tuple(SMALL_STRIDES) and ck.data["source"]["notes"] == []
    assert len(ck.data["source"]["sha256"]) == 64 and ck.code["framework"] == "nnssl"
    _assert_encoder_equal(ck, net)
    # a checkpoint without the embedded plan, next to the released adaptation_plan.json
    bare = tmp_path / "b" / "checkpoint_final.pth"
    bare.parent.mkdir()
    torch.save({"network_weights": net.state_dict(), "trainer_name": "ModelGenesisTrainer"}, bare)
    (bare.parent / "adaptation_plan.json").write_text(json.dumps(plan))
    ck2 = import_weights(bare.parent)
    assert ck2.method == "mg" and ck2.data["source"]["format"] == "nnssl"
    _assert_encoder_equal(ck2, net)


def test_nnssl_plan_that_contradicts_the_weights_is_refused(tmp_path):
    net = _small_resenc()
    path = save_nnssl_checkpoint(tmp_path / "ck.pth", net, nnssl_plan())  # ResEncL preset, but small weights
    with pytest.raises(CheckpointError, match="do not match the encoder its plan describes"):
        import_weights(path)


def test_sparkmae_alias_tensors_take_the_forward_ones(tmp_path):
    net = _small_resenc()
    state = net.state_dict()
    stale = {k: v.clone() for k, v in state.items()}
    trained = {}
    for key, value in state.items():  # nnssl's sparse conversion: only the all_modules copies train
        trained[key] = value + 1.0 if ".all_modules." in key else value.clone()
    plan = nnssl_plan("ResidualEncoderUNet", dynamic_resenc_kwargs(SMALL, SMALL_STRIDES, SMALL_BLOCKS))
    torch.save(
        {
            "network_weights": trained,
            "spark_weights": {"mask_tokens.0": torch.zeros(1, 8, 1, 1, 1)},
            "nnssl_adaptation_plan": plan,
            "trainer_name": "SparkMAETrainer",
        },
        tmp_path / "spark.pth",
    )
    ck = import_weights(tmp_path / "spark.pth")
    assert ck.method == "s3d"
    key = "stages.1.blocks.0.conv1"
    want = stale[f"encoder.{key}.all_modules.0.weight"] + 1.0
    assert torch.equal(ck.encoder_weights[f"{key}.conv.weight"], want)
    assert torch.equal(ck.encoder_weights[f"{key}.all_modules.0.weight"], want)
    notes = " ".join(ck.data["source"]["notes"])
    assert "differed" in notes and "spark_weights" in notes


def test_nnunet_fold_file_with_plans_in_the_trainer_folder(tmp_path):
    net = library_unet("plain", SMALL, SMALL_STRIDES, [2, 2, 2, 2], in_channels=2)
    plans = nnunet_plans(
        plain_kwargs(SMALL, SMALL_STRIDES), "dynamic_network_architectures.architectures.unet.PlainConvUNet"
    )
    folder = save_nnunet_results(tmp_path, net, plans, with_plans_in_checkpoint=False)
    ck = import_weights(folder / "fold_0" / "checkpoint_final.pth")  # numpy floats inside load fine
    assert ck.data["source"]["format"] == "nnunetv2" and ck.encoder["in_channels"] == 2
    assert ck.preprocessing["configuration"] == "3d_fullres" and ck.data["dataset"] == "Dataset004_Hippocampus"
    _assert_encoder_equal(ck, net)
    (folder / "fold_1").mkdir()
    (folder / "fold_1" / "checkpoint_final.pth").write_bytes((folder / "fold_0" / "checkpoint_final.pth").read_bytes())
    with pytest.raises(CheckpointError, match="several folds"):
        import_weights(folder)


def test_nnunet_old_style_plans(tmp_path):
    net = _small_resenc()
    plans = {
        "dataset_name": "Dataset002_Heart",
        "configurations": {
            "3d_fullres": {
                "UNet_class_name": "ResidualEncoderUNet",
                "UNet_base_num_features": 8,
                "unet_max_num_features": 32,
                "n_conv_per_stage_encoder": SMALL_BLOCKS,
                "n_conv_per_stage_decoder": [1, 1, 1],
                "conv_kernel_sizes": [[3, 3, 3]] * 4,
                "pool_op_kernel_sizes": [[s] * 3 for s in SMALL_STRIDES],
                "patch_size": [64, 64, 64],
            }
        },
    }
    folder = save_nnunet_results(tmp_path, net, plans)
    ck = import_weights(folder, fmt="nnunetv2")
    assert ck.encoder["kind"] == "resenc" and ck.encoder["blocks"] == tuple(SMALL_BLOCKS)
    _assert_encoder_equal(ck, net)


def test_plain_state_dicts_and_what_they_cannot_say(tmp_path):
    net = _small_resenc()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    ck = import_weights(tmp_path / "net.pt")
    assert ck.data["source"]["format"] == "state_dict" and ck.method == "unknown"
    # the ResEnc skip paths show the strides of stages 1-2 (pool + projection); stage 3 keeps its width
    assert ck.encoder["strides"] == (1, 2, 2, 2)
    assert any("assumed" in n for n in ck.data["source"]["notes"])
    _assert_encoder_equal(ck, net)
    enc = build_encoder(EncoderConfig(kind="plain", width_multiplier=0.25, n_stages=3))
    torch.save({"model": {f"encoder.{k}": v for k, v in enc.state_dict().items()}}, tmp_path / "run.pt")
    ck = import_weights(tmp_path / "run.pt", strides=(1, 2, 1))
    assert ck.encoder["strides"] == (1, 2, 1) and ck.encoder["features"] == (8, 16, 32)
    assert ck.data["source"]["notes"] == []


def test_refusals(tmp_path):
    torch.save({"x": torch.zeros(1)}, tmp_path / "nothing.pt")
    with pytest.raises(CheckpointError, match="no encoder keys"):
        import_weights(tmp_path / "nothing.pt")
    torch.save({"a": 1}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="unrecognised checkpoint"):
        import_weights(tmp_path / "other.pt")
    net = _small_resenc()
    torch.save(net.state_dict(), tmp_path / "net.pt")
    with pytest.raises(CheckpointError, match="looks like 'state_dict', not 'nnssl'"):
        import_weights(tmp_path / "net.pt", fmt="nnssl")
    with pytest.raises(ValueError, match="unknown weights format"):
        import_weights(tmp_path / "net.pt", fmt="onnx")
    with pytest.raises(FileNotFoundError):
        import_weights(tmp_path / "missing.pth")
    primus = nnssl_plan("PrimusM")
    primus.update(key_to_encoder="eva", key_to_stem="down_projection")
    save_nnssl_checkpoint(tmp_path / "primus.pth", net, primus)
    with pytest.raises(CheckpointError, match="CNN encoders only"):
        import_weights(tmp_path / "primus.pth")
    aniso = dynamic_resenc_kwargs(SMALL, SMALL_STRIDES, SMALL_BLOCKS)
    aniso["kernel_sizes"] = [[1, 3, 3]] + [[3, 3, 3]] * 3
    save_nnssl_checkpoint(tmp_path / "aniso.pth", net, nnssl_plan("ResidualEncoderUNet", aniso))
    with pytest.raises(CheckpointError, match="anisotropic"):
        import_weights(tmp_path / "aniso.pth")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        import_weights(tmp_path / "empty")


def test_detect_format_and_helpers():
    assert detect_format({"format": "detbench-pretrained"}) == "detbench"
    assert detect_format({"network_weights": {}, "nnssl_adaptation_plan": {}}) == "nnssl"
    assert detect_format({"network_weights": {}, "init_args": {"plans": {}}}) == "nnunetv2"
    assert detect_format({"state_dict": {"module.encoder.initial_conv.weight": torch.zeros(1)}}) == "multitalent_v1"
    assert detect_format({"conv_blocks_context.0.blocks.0.conv.weight": torch.zeros(1)}) == "multitalent_v1"
    assert detect_format({"w": torch.zeros(1)}) == "state_dict"
    with pytest.raises(CheckpointError):
        detect_format([1, 2])
    # canonical aliases: one name present -> both names, same tensor
    t = torch.randn(4, 1, 3, 3, 3)
    out, notes = canonical_aliases({"stem.convs.0.all_modules.0.weight": t, "other": 1})
    assert out["stem.convs.0.conv.weight"] is t and out["other"] == 1 and notes == []
    with pytest.raises(CheckpointError, match="isotropic"):
        infer_encoder_config({"stages.0.0.convs.0.conv.weight": torch.zeros(4, 1, 1, 3, 3)})
