"""Defining mechanics of MAE (75% block mask, loss on masked voxels only) and Models Genesis (each distortion
changes the input, the target is the original)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.config import EncoderConfig
from pretraining.methods import PretrainBatch, get_method
from pretraining.methods.decoder import block_mask, scaled_block_size
from pretraining.methods.models_genesis import bezier_transform, in_paint, local_shuffle, out_paint

ENCODER = EncoderConfig(kind="resenc", width_multiplier=0.125, n_stages=4)
PATCH = (32, 32, 32)


def test_block_size_scales_nnssl_16_of_192() -> None:
    assert scaled_block_size((192, 192, 192)) == 16
    assert scaled_block_size((48, 48, 48)) == 4
    assert scaled_block_size((32, 32, 32)) == 2
    assert scaled_block_size((128, 128, 128)) == 8


@pytest.mark.parametrize("patch,block", [((32, 32, 32), 2), ((48, 48, 48), 4), ((32, 48, 64), 16)])
def test_mask_ratio_is_75_percent_in_cubic_blocks(patch, block) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    mask = block_mask(3, patch, block, 0.75)
    assert tuple(mask.shape) == (3, 1, *patch)
    n_blocks = np.prod([p // block for p in patch])
    expected = int(0.75 * n_blocks) / n_blocks  # exact at block granularity
    for m in mask:
        assert float((1 - m).mean()) == pytest.approx(expected, abs=1e-9)
        assert abs(float((1 - m).mean()) - 0.75) <= 1.0 / n_blocks
        # cubic blocks: every block is constant
        view = m[0].reshape(patch[0] // block, block, patch[1] // block, block, patch[2] // block, block)
        assert torch.all(view.amax(dim=(1, 3, 5)) == view.amin(dim=(1, 3, 5)))
    assert not torch.equal(mask[0], mask[1])


def test_mae_loss_only_sees_masked_voxels() -> None:
    mae = get_method("mae").build(ENCODER, PATCH)
    torch.manual_seed(1)
    x = torch.randn(2, 1, *PATCH)
    mask = mae.make_mask(2)
    pred = torch.randn_like(x)
    base = mae.masked_mse(pred, x, mask)
    changed = pred + 5.0 * mask  # only visible voxels (mask == 1) change
    assert torch.equal(mae.masked_mse(changed, x, mask), base)
    hidden = pred + 0.5 * (1 - mask)
    assert mae.masked_mse(hidden, x, mask) != base
    manual = ((pred - x) ** 2)[mask.expand_as(x) == 0].mean()
    assert float(base) == pytest.approx(float(manual), rel=1e-5)


def test_mae_encoder_sees_masked_voxels_as_zero() -> None:
    mae = get_method("mae").build(ENCODER, PATCH)
    x = torch.randn(1, 1, *PATCH)
    seen = {}
    mae.encoder.register_forward_pre_hook(lambda _m, args: seen.setdefault("x", args[0]))
    torch.manual_seed(2)
    out = mae.loss(PretrainBatch(images=x))
    torch.manual_seed(2)
    mask = mae.make_mask(1)
    assert torch.equal(seen["x"], x * mask)
    assert float(out["masked_fraction"]) == pytest.approx(0.75, abs=1 / 4096)


def _patch() -> np.ndarray:
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, 24)] * 3, indexing="ij")
    rng = np.random.default_rng(0)
    return (np.exp(-(x**2 + y**2 + z**2) * 3) + 0.1 * rng.normal(size=x.shape)).astype(np.float32)[None]


@pytest.mark.parametrize("transform", [bezier_transform, local_shuffle, in_paint, out_paint])
def test_each_models_genesis_transform_changes_the_input(transform) -> None:  # noqa: ANN001
    patch = _patch()
    unit = (patch - patch.min()) / (patch.max() - patch.min())
    original = unit.copy()
    out = transform(unit, np.random.default_rng(4))
    assert out.shape == unit.shape and out.dtype == np.float32
    assert not np.allclose(out, original)
    assert np.array_equal(unit, original)  # the input array itself is untouched
    if transform is local_shuffle:  # a permutation inside blocks: same values
        assert np.allclose(np.sort(out.ravel()), np.sort(original.ravel()))


@pytest.mark.parametrize("only", ["local", "nonlinear", "inpaint", "outpaint"])
def test_models_genesis_target_is_the_original(only: str) -> None:
    rates = {"flip": 0.0, "local": 0.0, "nonlinear": 0.0, "paint": 0.0, "inpaint": 0.0}
    if only in ("local", "nonlinear"):
        rates[only] = 1.0
    else:
        rates["paint"] = 1.0
        rates["inpaint"] = 1.0 if only == "inpaint" else 0.0
    mg = get_method("mg").build(ENCODER, (24, 24, 24), **rates)
    images = torch.from_numpy(np.stack([_patch(), 2 * _patch()]))
    torch.manual_seed(5)
    inputs, targets = mg.distort(images)
    assert torch.equal(targets, images)
    for i in range(2):
        assert not torch.allclose(inputs[i], images[i])


def test_models_genesis_flips_input_and_target_alike() -> None:
    mg = get_method("mg").build(ENCODER, (24, 24, 24), flip=1.0, local=0.0, nonlinear=0.0, paint=0.0)
    images = torch.from_numpy(_patch()[None])
    torch.manual_seed(0)
    inputs, targets = mg.distort(images)
    assert not torch.equal(targets, images)
    assert torch.allclose(inputs, targets, atol=1e-5)  # no distortion: the (flipped) original both ways
    flips = [torch.flip(images, dims) for dims in ([2], [3], [4], [2, 3], [2, 4], [3, 4], [2, 3, 4])]
    assert any(torch.equal(targets, f) for f in flips)


def test_models_genesis_loss_is_mse_against_the_original() -> None:
    mg = get_method("mg").build(ENCODER, PATCH)
    x = torch.randn(2, 1, *PATCH)
    torch.manual_seed(3)
    loss = mg.loss(PretrainBatch(images=x))["loss"]
    torch.manual_seed(3)
    inputs, targets = mg.distort(x)
    expected = torch.mean((mg.decoder(mg.encoder(inputs)) - targets) ** 2)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_unknown_models_genesis_rate_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Models Genesis rates"):
        get_method("mg").build(ENCODER, PATCH, shuffle=0.5)
