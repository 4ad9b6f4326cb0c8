"""S3D (SparkMAE): block mask at the coarsest grid, sparse convs and norms on the detbench encoder, mask tokens,
densifying convs, loss on masked voxels only, keys that transfer, and a loss that decreases."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.methods import PretrainBatch, get_method
from pretraining.methods.s3d import (
    S3D,
    block_mask,
    masked_reconstruction_loss,
    sparse_instance_norm,
    upsample_mask,
)

PATCH = (32, 32, 32)
KINDS = ("plain", "resenc")


def tiny_config(kind: str, n_stages: int = 4) -> EncoderConfig:
    return EncoderConfig(kind=kind, width_multiplier=0.25, n_stages=n_stages)


def smooth_images(batch: int = 2, channels: int = 1, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, channels, *PATCH, generator=gen)
    return nn.functional.avg_pool3d(x, 5, 1, 2) * 3.0


def test_registered_with_citation():
    spec = get_method("s3d")
    assert spec.name == "s3d" and not spec.supervised
    assert "SparK" in spec.citation and "nnssl" in spec.citation
    assert isinstance(spec.build(tiny_config("plain"), PATCH), S3D)


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_keys_and_shapes_equal_models_encoders(kind):
    cfg = tiny_config(kind)
    method = S3D(cfg, PATCH)
    reference = build_encoder(cfg).state_dict()
    ours = method.encoder_state_dict()
    assert list(ours) == list(reference)
    assert all(ours[k].shape == reference[k].shape for k in reference)
    # and they load strictly into a fresh encoder
    build_encoder(cfg).load_state_dict(ours, strict=True)


def test_block_mask_hides_75_percent_of_coarse_cells_in_cubic_blocks():
    mask = block_mask(3, (4, 4, 4), 0.75, torch.Generator().manual_seed(0))
    assert mask.shape == (3, 1, 4, 4, 4)
    assert torch.all(mask.sum(dim=(1, 2, 3, 4)) == 16)  # 64 cells, 48 masked per sample
    full = upsample_mask(mask, PATCH)
    assert full.shape == (3, 1, *PATCH)
    assert float(1 - full.mean()) == pytest.approx(0.75)
    blocks = full.view(3, 1, 4, 8, 4, 8, 4, 8)  # every 8^3 block is constant
    assert torch.all(blocks.amax(dim=(3, 5, 7)) == blocks.amin(dim=(3, 5, 7)))
    method = S3D(tiny_config("plain"), PATCH)
    assert method.mask_grid == (4, 4, 4) and method.mask_ratio == 0.75  # coarsest grid = patch / total stride


@pytest.mark.parametrize("kind", KINDS)
def test_masked_positions_are_zero_after_every_conv_and_norm(kind):
    torch.manual_seed(0)
    method = S3D(tiny_config(kind), PATCH)
    seen: list[tuple[str, torch.Tensor]] = []
    layers = [
        (name, m)
        for name, m in method.encoder.named_modules()
        if isinstance(m, (nn.Conv3d, nn.InstanceNorm3d, nn.AvgPool3d))
    ]
    for name, module in layers:
        module.register_forward_hook(lambda mod, inp, out, name=name: seen.append((name, out.detach())))
    mask = block_mask(2, method.mask_grid, 0.75, torch.Generator().manual_seed(1))
    outputs = method.sparse_encode(smooth_images(), mask)
    assert {name for name, _ in seen} == {name for name, _ in layers}  # every conv, norm and pool ran
    n_conv = sum(isinstance(m, nn.Conv3d) for _, m in layers)
    assert n_conv >= 8
    for name, out in seen + [(f"stage{i}", o) for i, o in enumerate(outputs)]:
        hidden = 1.0 - upsample_mask(mask, out.shape[2:])
        assert torch.count_nonzero(out * hidden) == 0, name
        visible = upsample_mask(mask, out.shape[2:]).expand_as(out).bool()
        assert torch.count_nonzero(out[visible]) > 0, name


def test_sparse_norm_statistics_ignore_masked_positions():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 8, 8, 8, generator=gen) * 4 + 1
    mask = upsample_mask(block_mask(2, (4, 4, 4), 0.75, gen), (8, 8, 8))
    norm = nn.InstanceNorm3d(3, affine=True)
    y = sparse_instance_norm(x, mask, norm)
    changed = x + (1 - mask) * 1000.0 * torch.randn(x.shape, generator=gen)  # only masked values change
    y_changed = sparse_instance_norm(changed, mask, norm)
    torch.testing.assert_close(y, y_changed)
    assert torch.count_nonzero(y * (1 - mask)) == 0
    # statistics are those of the visible voxels: visible outputs have mean 0 and variance 1 per channel
    visible = mask.expand_as(x).bool()
    for b in range(2):
        for c in range(3):
            values = y[b, c][visible[b, c]]
            ref = x[b, c][visible[b, c]]
            assert values.mean().item() == pytest.approx(0.0, abs=1e-5)
            expected = (ref - ref.mean()) / torch.sqrt(ref.var(unbiased=False) + norm.eps)
            torch.testing.assert_close(values, expected)
    # a dense instance norm would not ignore them
    dense = nn.functional.instance_norm(changed, eps=norm.eps)
    assert not torch.allclose(dense * mask, y)


@pytest.mark.parametrize("kind", KINDS)
def test_hidden_input_values_do_not_reach_the_encoder_outputs(kind):
    torch.manual_seed(0)
    method = S3D(tiny_config(kind), PATCH)
    mask = block_mask(2, method.mask_grid, 0.75, torch.Generator().manual_seed(2))
    images = smooth_images()
    hidden = 1.0 - upsample_mask(mask, PATCH)
    altered = images + hidden * 50.0 * torch.randn_like(images)
    a = method.sparse_encode(images, mask)
    b = method.sparse_encode(altered, mask)
    for fa, fb in zip(a, b, strict=True):
        torch.testing.assert_close(fa, fb)


@pytest.mark.parametrize("kind", KINDS)
def test_encoder_is_dense_outside_the_sparse_forward(kind):
    method = S3D(tiny_config(kind), PATCH)
    method.loss(PretrainBatch(smooth_images()))  # hooks installed and used
    fresh = build_encoder(tiny_config(kind))
    fresh.load_state_dict(method.encoder_state_dict())
    images = smooth_images(seed=3)
    with torch.no_grad():
        for ours, ref in zip(method.encoder(images), fresh(images), strict=True):
            torch.testing.assert_close(ours, ref)


def test_mask_tokens_fill_masked_positions_and_densify_convs_skip_the_finest_level():
    torch.manual_seed(0)
    method = S3D(tiny_config("plain"), PATCH)
    assert len(method.mask_tokens) == 4
    assert isinstance(method.densify_projs[0], nn.Identity)
    assert all(isinstance(p, nn.Conv3d) for p in method.densify_projs[1:])
    mask = block_mask(2, method.mask_grid, 0.75, torch.Generator().manual_seed(4))
    features = method.sparse_encode(smooth_images(), mask)
    dense = method.densify(features, mask)
    finest = dense[0]  # identity projection: masked positions hold the level's mask token
    hidden = (1.0 - upsample_mask(mask, finest.shape[2:])).bool().expand_as(finest)
    token = method.mask_tokens[0].expand_as(finest)
    torch.testing.assert_close(finest[hidden], token[hidden])
    # after the densifying conv the coarser levels are dense (no position left at zero)
    assert all(torch.count_nonzero(d == 0) == 0 for d in dense[1:])


def test_loss_counts_masked_voxels_only():
    gen = torch.Generator().manual_seed(0)
    images = torch.randn(2, 1, *PATCH, generator=gen)
    mask = block_mask(2, (4, 4, 4), 0.75, gen)
    visible = upsample_mask(mask, PATCH)
    rec = torch.randn(images.shape, generator=gen)
    base = masked_reconstruction_loss(rec, images, mask)
    changed = rec + visible * 100.0  # only visible voxels change
    assert masked_reconstruction_loss(changed, images, mask).item() == pytest.approx(base.item())
    perfect_hidden = rec * visible + images * (1 - visible)
    assert masked_reconstruction_loss(perfect_hidden, images, mask).item() == 0.0


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_adam_steps_decrease_the_loss(kind):
    torch.manual_seed(0)
    method = S3D(tiny_config(kind), PATCH)
    optimiser = torch.optim.Adam(method.parameters(), lr=1e-3)
    batch = PretrainBatch(smooth_images())
    losses = []
    for _ in range(8):
        torch.manual_seed(1)  # the same mask every step: the decrease is learning, not a luckier mask
        loss = method.loss(batch)["loss"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.85 * losses[0], losses


def test_a_deep_copy_has_its_own_sparse_state_and_pickles():
    import copy
    import pickle

    method = S3D(tiny_config("resenc"), PATCH)
    clone = copy.deepcopy(method)
    mask = block_mask(2, clone.mask_grid, 0.75, torch.Generator().manual_seed(5))
    outputs = clone.sparse_encode(smooth_images(), mask)
    for out in outputs:
        assert torch.count_nonzero(out * (1.0 - upsample_mask(mask, out.shape[2:]))) == 0
    norms = [m for m in clone.encoder.modules() if isinstance(m, nn.InstanceNorm3d)]
    assert all(n._s3d_sparse is clone._sparse for n in norms)
    assert method._sparse is not clone._sparse and method._sparse.mask is None
    restored = pickle.loads(pickle.dumps(method))
    torch.testing.assert_close(restored.encoder(smooth_images()), method.encoder(smooth_images()))
