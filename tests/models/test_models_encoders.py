"""Encoders: configuration, and state-dict / numerical compatibility with dynamic-network-architectures."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.config import EncoderConfig
from models.encoders import build_encoder, extract_encoder_state_dict, load_encoder_weights


def _library_unet(kind: str, features, strides, blocks, in_channels: int = 1, kernel_sizes=3):
    """The dynamic-network-architectures UNet (nnU-Net / nnssl / MultiTalent) of the same configuration."""
    unet = pytest.importorskip("dynamic_network_architectures.architectures.unet")
    n = len(features)
    common = dict(
        input_channels=in_channels,
        n_stages=n,
        features_per_stage=list(features),
        conv_op=nn.Conv3d,
        kernel_sizes=kernel_sizes if isinstance(kernel_sizes, int) else [list(k) for k in kernel_sizes],
        strides=[s if isinstance(s, int) else list(s) for s in strides],
        num_classes=2,
        conv_bias=True,
        norm_op=nn.InstanceNorm3d,
        norm_op_kwargs={"eps": 1e-5, "affine": True},
        nonlin=nn.LeakyReLU,
        nonlin_kwargs={"inplace": True},
    )
    if kind == "resenc":
        decoder = [1] * (n - 1)
        return unet.ResidualEncoderUNet(n_blocks_per_stage=list(blocks), n_conv_per_stage_decoder=decoder, **common)
    return unet.PlainConvUNet(n_conv_per_stage=list(blocks), n_conv_per_stage_decoder=[2] * (n - 1), **common)


@pytest.mark.parametrize("kind", ["plain", "resenc"])
def test_paper_size_state_dict_keys_and_shapes_equal_library(kind):
    cfg = EncoderConfig(kind=kind)
    ours = build_encoder(cfg)
    lib = _library_unet(kind, cfg.stage_features, cfg.stage_strides, cfg.stage_blocks)
    ours_sd = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
    lib_sd = {k: tuple(v.shape) for k, v in lib.encoder.state_dict().items()}
    assert ours_sd == lib_sd
    result = ours.load_state_dict(extract_encoder_state_dict(lib.state_dict()), strict=True)
    assert not result.missing_keys and not result.unexpected_keys
    expected = {"plain": 14_025_120, "resenc": 90_296_576}[kind]  # ecosystem notes: 14.03 M / 90.30 M
    assert sum(p.numel() for p in ours.parameters()) == expected


@pytest.mark.parametrize("kind", ["plain", "resenc"])
def test_loaded_library_weights_give_identical_features(kind):
    torch.manual_seed(0)
    cfg = EncoderConfig(kind=kind, in_channels=2, width_multiplier=0.125, n_stages=4)
    lib = _library_unet(kind, cfg.stage_features, cfg.stage_strides, cfg.stage_blocks, in_channels=2).eval()
    ours = build_encoder(cfg).eval()
    load_encoder_weights(ours, lib.state_dict())
    x = torch.randn(1, 2, 16, 16, 16)
    lib.encoder.return_skips = True
    with torch.no_grad():
        expected = lib.encoder(x)
        got = ours(x)
    assert len(got) == len(expected) == 4
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", ["plain", "resenc"])
def test_planned_per_axis_strides_and_kernels_match_the_library(kind):
    """An nnDetection-planned anisotropic topology (1x3x3 kernels, no z pooling at first) equals the library's."""
    torch.manual_seed(0)
    strides = ((1, 1, 1), (1, 2, 2), (2, 2, 2), (2, 2, 2))
    kernels = ((1, 3, 3), (3, 3, 3), (3, 3, 3), (3, 3, 3))
    cfg = EncoderConfig(
        kind=kind, features=(32, 64, 128, 256), strides=strides, kernel_sizes=kernels, width_multiplier=0.125
    )
    assert cfg.cumulative_strides_3d == ((1, 1, 1), (1, 2, 2), (2, 4, 4), (4, 8, 8)) and cfg.total_stride == (4, 8, 8)
    with pytest.raises(ValueError, match="cumulative_strides_3d"):
        _ = cfg.cumulative_strides
    lib = _library_unet(kind, cfg.stage_features, strides, cfg.stage_blocks, kernel_sizes=kernels).eval()
    ours = build_encoder(cfg).eval()
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == {
        k: tuple(v.shape) for k, v in lib.encoder.state_dict().items()
    }
    load_encoder_weights(ours, lib.state_dict())
    x = torch.randn(1, 1, 8, 16, 16)
    lib.encoder.return_skips = True
    with torch.no_grad():
        expected, got = lib.encoder(x), ours(x)
    assert [tuple(o.shape[2:]) for o in got] == [(8, 16, 16), (8, 8, 8), (4, 4, 4), (2, 2, 2)]
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_nnssl_checkpoint_layout_is_understood():
    cfg = EncoderConfig(kind="resenc", width_multiplier=0.125, n_stages=3)
    src = build_encoder(cfg)
    full = {f"encoder.{k}": v for k, v in src.state_dict().items()}
    full.update({f"decoder.encoder.{k}": v for k, v in src.state_dict().items()})
    full["decoder.seg_layers.0.weight"] = torch.zeros(1)
    checkpoint = {"network_weights": full, "nnssl_adaptation_plan": {"key_to_encoder": "encoder.stages"}}
    dst = build_encoder(cfg)
    load_encoder_weights(dst, checkpoint)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)
    with pytest.raises(ValueError, match="no encoder keys"):
        extract_encoder_state_dict({"decoder.x": torch.zeros(1)})


def test_config_shapes_and_validation():
    cfg = EncoderConfig(kind="resenc", width_multiplier=0.25, n_stages=4)
    assert cfg.stage_features == (8, 16, 32, 64)
    assert cfg.stage_blocks == (1, 3, 4, 6)
    assert cfg.cumulative_strides == (1, 2, 4, 8)
    assert EncoderConfig().stage_blocks == (2, 2, 2, 2, 2, 2)
    enc = build_encoder(cfg)
    outs = enc(torch.randn(1, 1, 16, 16, 16))
    assert [tuple(o.shape[1:]) for o in outs] == [(8, 16, 16, 16), (16, 8, 8, 8), (32, 4, 4, 4), (64, 2, 2, 2)]
    with pytest.raises(ValueError, match="'plain', 'resenc'"):
        EncoderConfig(kind="resnet")
    with pytest.raises(ValueError, match="n_stages"):
        EncoderConfig(n_stages=7)
    with pytest.raises(ValueError, match="width_multiplier"):
        EncoderConfig(width_multiplier=0)


def test_leading_blocks_replace_only_the_first_stages():
    from models.config import RESENC_L_BLOCKS, EncoderConfig

    enc = EncoderConfig(kind="resenc", n_stages=4)
    assert enc.stage_blocks == RESENC_L_BLOCKS[:4]
    shallow = enc.with_leading_blocks((1, 1, 2, 2))
    assert shallow.stage_blocks == (1, 1, 2, 2) and shallow.blocks == (1, 1, 2, 2, 6, 6)
    assert enc.with_leading_blocks(None) is enc and enc.with_leading_blocks(()) is enc
    assert sum(p.numel() for p in build_encoder(shallow).parameters()) < sum(
        p.numel() for p in build_encoder(enc).parameters()
    )
    with pytest.raises(ValueError, match="blocks per stage must be >= 1"):
        enc.with_leading_blocks((1, 0))
    with pytest.raises(ValueError, match="at most 6 stages"):
        enc.with_leading_blocks((1,) * 7)


def test_channels_last_units_keep_the_layout_and_are_bitwise_the_plain_path():
    """On a channels-last-3d network a unit's output stays channels-last, with the values and gradients of
    running ``all_modules`` as is (the layout change must not change the numbers)."""
    from models.encoders import ConvStack

    torch.manual_seed(0)
    stack = ConvStack(3, 8, 2, 3, 2).to(memory_format=torch.channels_last_3d)
    x = torch.randn(2, 3, 12, 12, 12).contiguous(memory_format=torch.channels_last_3d)

    def run(plain: bool):
        stack.zero_grad()
        inp = x.clone().requires_grad_(True)
        out = inp
        for unit in stack.convs:
            out = unit.all_modules(out) if plain else unit(out)
        (out * out).sum().backward()
        return out.detach(), inp.grad, [p.grad.clone() for p in stack.parameters()]

    new, plain = run(False), run(True)
    assert new[0].is_contiguous(memory_format=torch.channels_last_3d) and not new[0].is_contiguous()
    assert torch.equal(new[0], plain[0]) and torch.equal(new[1], plain[1])
    assert all(torch.equal(a, b) for a, b in zip(new[2], plain[2], strict=True))
    # a contiguous network keeps the plain path's layout
    stack_c = ConvStack(3, 8, 2, 3, 2)
    assert stack_c(torch.randn(2, 3, 12, 12, 12)).is_contiguous()
