"""Builders of the pre-training tests: reference networks from dynamic-network-architectures and checkpoints in
the ecosystem's layouts (nnssl, nnU-Net v2, MultiTalent v1), written the way those frameworks write them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

FEATURES = [32, 64, 128, 256, 320, 320]  # the study's fixed configuration (appendix C.2)
STRIDES = [1, 2, 2, 2, 2, 2]
RESENC_BLOCKS = [1, 3, 4, 6, 6, 6]


def library_unet(kind: str, features=FEATURES, strides=STRIDES, blocks=None, in_channels: int = 1, seed: int = 0):
    """A dynamic-network-architectures ResidualEncoderUNet / PlainConvUNet with random (seeded) weights."""
    unet = pytest.importorskip("dynamic_network_architectures.architectures.unet")
    torch.manual_seed(seed)
    n = len(features)
    common = dict(
        input_channels=in_channels,
        n_stages=n,
        features_per_stage=list(features),
        conv_op=nn.Conv3d,
        kernel_sizes=[[3, 3, 3]] * n,
        strides=[[s, s, s] for s in strides],
        num_classes=2,
        conv_bias=True,
        norm_op=nn.InstanceNorm3d,
        norm_op_kwargs={"eps": 1e-5, "affine": True},
        nonlin=nn.LeakyReLU,
        nonlin_kwargs={"inplace": True},
    )
    if kind == "resenc":
        return unet.ResidualEncoderUNet(
            n_blocks_per_stage=list(blocks or RESENC_BLOCKS), n_conv_per_stage_decoder=[1] * (n - 1), **common
        )
    return unet.PlainConvUNet(
        n_conv_per_stage=list(blocks or [2] * n), n_conv_per_stage_decoder=[2] * (n - 1), **common
    )


def randomise(module: nn.Module, seed: int = 1) -> None:
    """Give every parameter random values (norm weights included), so equality checks mean something."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))


def nnssl_plan(arch_class_name: str = "ResEncL", arch_kwargs: dict | None = None, in_channels: int = 1) -> dict:
    """An nnssl adaptation plan as ``AdaptationPlan.serialize`` writes it."""
    return {
        "architecture_plans": {
            "arch_class_name": arch_class_name,
            "arch_kwargs": arch_kwargs,
            "arch_kwargs_requiring_import": ["conv_op", "norm_op", "nonlin"] if arch_kwargs else None,
        },
        "pretrain_plan": {
            "dataset_name": "Dataset745_CTRATE_ABCD",
            "plans_name": "nnsslPlans",
            "configurations": {
                "onemmiso": {
                    "spacing_style": "onemmiso",
                    "normalization_schemes": ["ZScoreNormalization"],
                    "spacing": [1.0, 1.0, 1.0],
                    "patch_size": [160, 160, 160],
                }
            },
        },
        "pretrain_num_input_channels": in_channels,
        "recommended_downstream_patchsize": [160, 160, 160],
        "key_to_encoder": "encoder.stages",
        "key_to_stem": "encoder.stem",
        "keys_to_in_proj": ["encoder.stem.convs.0.conv", "encoder.stem.convs.0.all_modules.0"],
        "key_to_lpe": None,
    }


def dynamic_resenc_kwargs(features=FEATURES, strides=STRIDES, blocks=RESENC_BLOCKS) -> dict:
    n = len(features)
    return {
        "n_stages": n,
        "features_per_stage": list(features),
        "conv_op": "torch.nn.modules.conv.Conv3d",
        "kernel_sizes": [[3, 3, 3]] * n,
        "strides": [[s, s, s] for s in strides],
        "n_blocks_per_stage": list(blocks),
        "n_conv_per_stage_decoder": [1] * (n - 1),
        "conv_bias": True,
        "norm_op": "torch.nn.modules.instancenorm.InstanceNorm3d",
        "norm_op_kwargs": {"eps": 1e-05, "affine": True},
        "dropout_op": None,
        "dropout_op_kwargs": None,
        "nonlin": "torch.nn.modules.activation.LeakyReLU",
        "nonlin_kwargs": {"inplace": True},
    }


def save_nnssl_checkpoint(path: Path, network: nn.Module, plan: dict, trainer: str = "BaseMAETrainer", **extra) -> Path:
    """nnssl's ``save_checkpoint`` layout (training fields included)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "network_weights": network.state_dict(),
            "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0, 1]}]},
            "grad_scaler_state": None,
            "logging": {"train_losses": [0.5, 0.4], "val_losses": [0.6, 0.5]},
            "_best_ema": 0.5,
            "current_epoch": 1000,
            "init_args": {"fold": 0, "device": torch.device("cpu")},
            "trainer_name": trainer,
            "nnssl_adaptation_plan": plan,
            **extra,
        },
        path,
    )
    return path


def nnunet_plans(arch_kwargs: dict, class_name: str) -> dict:
    return {
        "dataset_name": "Dataset004_Hippocampus",
        "plans_name": "nnUNetPlans",
        "configurations": {
            "3d_fullres": {
                "data_identifier": "nnUNetPlans_3d_fullres",
                "patch_size": [128, 128, 128],
                "spacing": [1.0, 1.0, 1.0],
                "normalization_schemes": ["CTNormalization"],
                "architecture": {
                    "network_class_name": class_name,
                    "arch_kwargs": arch_kwargs,
                    "_kw_requires_import": ["conv_op", "norm_op", "dropout_op", "nonlin"],
                },
            },
            "3d_lowres": {"inherits_from": "3d_fullres", "spacing": [2.0, 2.0, 2.0]},
        },
    }


def plain_kwargs(features=FEATURES, strides=STRIDES, convs=None) -> dict:
    kw = dynamic_resenc_kwargs(features, strides, [1] * len(features))
    del kw["n_blocks_per_stage"]
    kw["n_conv_per_stage"] = list(convs or [2] * len(features))
    kw["n_conv_per_stage_decoder"] = [2] * (len(features) - 1)
    return kw


def save_nnunet_results(root: Path, network: nn.Module, plans: dict, with_plans_in_checkpoint: bool = True) -> Path:
    """An nnU-Net v2 results folder ``Dataset/Trainer__Plans__Config/{plans.json, dataset.json, fold_0/...}``;
    returns the trainer folder. The checkpoint holds numpy floats, as nnU-Net v2's logger writes them."""
    folder = root / "Dataset004_Hippocampus" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    (folder / "fold_0").mkdir(parents=True)
    dataset_json = {"channel_names": {"0": "CT"}, "labels": {"background": 0, "organ": 1}, "file_ending": ".nii.gz"}
    (folder / "plans.json").write_text(json.dumps(plans))
    (folder / "dataset.json").write_text(json.dumps(dataset_json))
    init = {"configuration": "3d_fullres", "fold": 0, "device": torch.device("cpu")}
    if with_plans_in_checkpoint:
        init.update(plans=plans, dataset_json=dataset_json)
    torch.save(
        {
            "network_weights": network.state_dict(),
            "optimizer_state": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0]}]},
            "grad_scaler_state": None,
            "logging": {"ema_fg_dice": [np.float64(0.71), np.float64(0.74)], "mean_fg_dice": [np.float64(0.7)]},
            "_best_ema": np.float64(0.74),
            "current_epoch": 1000,
            "init_args": init,
            "trainer_name": "nnUNetTrainer",
            "inference_allowed_mirroring_axes": (0, 1, 2),
        },
        folder / "fold_0" / "checkpoint_final.pth",
    )
    return folder


# -- MultiTalent / nnU-Net v1 names, written out from the v1 module structure ------------------------------
def v1_residual_state(features=FEATURES, blocks=RESENC_BLOCKS, in_channels: int = 1, seed: int = 0) -> dict:
    """A ``FabiansUNet`` state dict (v1 residual U-Net): ``encoder.initial_conv/initial_norm``, then per stage
    ``encoder.stages.s.convs.b.{conv1,norm1,conv2,norm2}`` and, on a block that strides or changes width,
    ``downsample_skip.{0: 1x1 conv (no bias), 1: norm}``; plus decoder tensors."""
    gen = torch.Generator().manual_seed(seed)

    def t(*shape):
        return torch.randn(shape, generator=gen)

    sd = {
        "encoder.initial_conv.weight": t(features[0], in_channels, 3, 3, 3),
        "encoder.initial_conv.bias": t(features[0]),
        "encoder.initial_norm.weight": t(features[0]),
        "encoder.initial_norm.bias": t(features[0]),
    }
    prev = features[0]
    for s, (out, n) in enumerate(zip(features, blocks, strict=True)):
        for b in range(n):
            cin = prev if b == 0 else out
            p = f"encoder.stages.{s}.convs.{b}."
            sd.update(
                {
                    p + "conv1.weight": t(out, cin, 3, 3, 3),
                    p + "conv1.bias": t(out),
                    p + "norm1.weight": t(out),
                    p + "norm1.bias": t(out),
                    p + "conv2.weight": t(out, out, 3, 3, 3),
                    p + "conv2.bias": t(out),
                    p + "norm2.weight": t(out),
                    p + "norm2.bias": t(out),
                }
            )
            if b == 0 and (s > 0 or cin != out):
                sd.update(
                    {
                        p + "downsample_skip.0.weight": t(out, cin, 1, 1, 1),
                        p + "downsample_skip.1.weight": t(out),
                        p + "downsample_skip.1.bias": t(out),
                    }
                )
        prev = out
    sd["decoder.tus.0.weight"] = t(features[-1], features[-2], 2, 2, 2)
    sd["decoder.stages.0.convs.0.conv1.weight"] = t(features[-2], 2 * features[-2], 3, 3, 3)
    sd["decoder.deep_supervision_outputs.0.weight"] = t(2, features[0], 1, 1, 1)
    return sd


def v1_generic_unet_state(features=FEATURES, convs: int = 2, in_channels: int = 1, seed: int = 0) -> dict:
    """A ``Generic_UNet`` state dict: ``conv_blocks_context.d.blocks.m.{conv,instnorm}`` for the first stages,
    the bottleneck as two stacks ``conv_blocks_context.D.0.blocks.m`` and ``.D.1.blocks.0``; plus decoder."""
    gen = torch.Generator().manual_seed(seed)

    def t(*shape):
        return torch.randn(shape, generator=gen)

    sd: dict = {}
    prev = in_channels
    last = len(features) - 1
    for d, out in enumerate(features):
        units = [f"conv_blocks_context.{d}.blocks.{m}." for m in range(convs)]
        if d == last:
            units = [f"conv_blocks_context.{d}.0.blocks.{m}." for m in range(convs - 1)]
            units.append(f"conv_blocks_context.{d}.1.blocks.0.")
        for m, p in enumerate(units):
            cin = prev if m == 0 else out
            sd.update(
                {
                    p + "conv.weight": t(out, cin, 3, 3, 3),
                    p + "conv.bias": t(out),
                    p + "instnorm.weight": t(out),
                    p + "instnorm.bias": t(out),
                }
            )
        prev = out
    sd["conv_blocks_localization.0.0.blocks.0.conv.weight"] = t(features[-2], 2 * features[-2], 3, 3, 3)
    sd["tu.0.weight"] = t(features[-1], features[-2], 2, 2, 2)
    sd["seg_outputs.0.weight"] = t(2, features[0], 1, 1, 1)
    return sd


def save_v1_checkpoint(path: Path, state: dict) -> Path:
    """nnU-Net v1's ``model_final_checkpoint.model`` layout (``state_dict`` plus training fields)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "epoch": 1000,
            "state_dict": {f"module.{k}": v for k, v in state.items()},  # saved from the DDP-wrapped network
            "optimizer_state_dict": {"state": {}, "param_groups": [{"lr": 0.01, "params": [0]}]},
            "amp_grad_scaler": {"scale": 1024.0},
            "plot_stuff": ([0.5], [0.4], [0.3], [0.2]),
            "best_stuff": (10, 0.2, 0.3, 0.4),
        },
        path,
    )
    return path
