"""VoCo: base-crop grid, overlap targets equal to voxel-counted overlaps, cosine-similarity prediction, the
base-crop separation term, and a loss that decreases on both encoder kinds."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.methods import PretrainBatch, get_method
from pretraining.methods.voco import (
    VoCo,
    base_crop_origins,
    overlap_fractions,
    prediction_loss,
    regularisation_loss,
)

PATCH = (32, 32, 32)
KINDS = ("plain", "resenc")


def tiny_config(kind: str) -> EncoderConfig:
    return EncoderConfig(kind=kind, width_multiplier=0.25, n_stages=4)


def smooth_images(batch: int = 2, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return F.avg_pool3d(torch.randn(batch, 1, *PATCH, generator=gen), 5, 1, 2) * 3.0


def test_registered_with_citation():
    spec = get_method("voco")
    assert spec.name == "voco" and not spec.supervised
    assert "VoCo" in spec.citation and "CVPR 2024" in spec.citation


def test_base_crops_tile_the_patch_without_overlap():
    origins = base_crop_origins((32, 24, 16), (2, 3, 2))
    size = (16, 8, 8)
    assert origins.shape == (12, 3)
    cover = torch.zeros(32, 24, 16, dtype=torch.int32)
    for z, y, x in origins.tolist():
        cover[z : z + size[0], y : y + size[1], x : x + size[2]] += 1
    assert torch.all(cover == 1)


def _voxel_overlap(r, b, size) -> float:
    """Overlap by counting voxels of two boolean boxes in a volume (independent of overlap_fractions)."""
    vol = [max(r[i], b[i]) + size[i] + 1 for i in range(3)]
    a = torch.zeros(vol, dtype=torch.bool)
    c = torch.zeros(vol, dtype=torch.bool)
    a[r[0] : r[0] + size[0], r[1] : r[1] + size[1], r[2] : r[2] + size[2]] = True
    c[b[0] : b[0] + size[0], b[1] : b[1] + size[1], b[2] : b[2] + size[2]] = True
    return (a & c).sum().item() / a.sum().item()


def test_overlap_targets_equal_voxel_counted_overlaps():
    torch.manual_seed(0)
    method = VoCo(tiny_config("plain"), PATCH, grid=2, n_random=6, hidden_dim=32, out_dim=32)
    random = method.draw_random_origins(3)
    assert random.shape == (3, 6, 3)
    assert torch.all(random >= 0) and torch.all(random <= 16)  # inside the patch
    targets = overlap_fractions(random, method.base_origins, method.crop_size)
    assert targets.shape == (3, 6, 8)
    for b, n, k in itertools.product(range(3), range(6), range(8)):
        r = random[b, n].tolist()
        base = method.base_origins[k].tolist()
        assert targets[b, n, k].item() == pytest.approx(_voxel_overlap(r, base, method.crop_size))
    # a crop inside the patch is fully covered by the base crops
    torch.testing.assert_close(targets.sum(-1), torch.ones(3, 6))
    # hand cases: identical to base crop 0, half-shifted along x, disjoint
    hand = torch.tensor([[[0, 0, 0], [0, 0, 8], [16, 16, 16]]])
    t = overlap_fractions(hand, method.base_origins, (16, 16, 16))[0]
    assert t[0].tolist() == [1.0, 0, 0, 0, 0, 0, 0, 0]
    assert t[1, 0].item() == 0.5 and t[1, 1].item() == 0.5
    assert t[2, 7].item() == 1.0 and t[2, :7].sum().item() == 0.0


def test_separation_term_is_zero_for_orthogonal_and_one_for_identical_base_features():
    eye = torch.eye(4).unsqueeze(0)  # 4 orthogonal base features
    assert regularisation_loss(eye).item() == 0.0
    same = torch.ones(1, 4, 8)
    assert regularisation_loss(same).item() == pytest.approx(1.0)
    rand = torch.randn(2, 4, 16, generator=torch.Generator().manual_seed(0))
    assert 0.0 <= regularisation_loss(rand).item() < regularisation_loss(same).item()
    # anti-aligned features count as separated (ReLU of the cosine)
    assert regularisation_loss(torch.tensor([[[1.0, 0.0], [-1.0, 0.0]]])).item() == 0.0


def test_prediction_is_cosine_similarity_and_perfect_predictions_cost_nothing():
    base = torch.eye(4).unsqueeze(0)
    # target features whose cosine with the base crops equals the overlap: unit vectors of the overlaps
    overlaps = torch.tensor([[[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]]])
    target = overlaps.clone()
    assert prediction_loss(base, target, overlaps).item() == pytest.approx(0.0, abs=1e-5)
    wrong = torch.tensor([[[0.0, 1.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]]])
    assert prediction_loss(base, wrong, overlaps).item() > 1.0
    # the base features are detached in the prediction term (gradients reach the random crops only)
    base_p = base.clone().requires_grad_(True)
    target_p = (target + 0.1).requires_grad_(True)
    prediction_loss(base_p, target_p, overlaps).backward()
    assert base_p.grad is None or torch.count_nonzero(base_p.grad) == 0
    assert torch.count_nonzero(target_p.grad) > 0


@pytest.mark.parametrize("kind", KINDS)
def test_embeddings_come_from_pooled_encoder_stages_and_keys_transfer(kind):
    cfg = tiny_config(kind)
    method = VoCo(cfg, PATCH, hidden_dim=32, out_dim=16)
    assert list(method.encoder_state_dict()) == list(build_encoder(cfg).state_dict())
    assert method.crop_size == (16, 16, 16)
    emb = method.embed(torch.randn(3, 1, 16, 16, 16))
    assert emb.shape == (3, 16)
    first = method.projector.layers[0]
    assert isinstance(first, nn.Linear) and first.in_features == sum(cfg.stage_features)


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_adam_steps_decrease_the_loss(kind):
    torch.manual_seed(0)
    method = VoCo(tiny_config(kind), PATCH, hidden_dim=128, out_dim=128)
    optimiser = torch.optim.Adam(method.parameters(), lr=1e-3)
    batch = PretrainBatch(smooth_images())
    origins = method.draw_random_origins(2)
    losses = []
    for _ in range(14):  # lr 1e-3: larger rates can push every cosine below 0, where the ReLU stops gradients
        out = method.loss(batch, random_origins=origins)
        optimiser.zero_grad()
        out["loss"].backward()
        optimiser.step()
        losses.append(out["loss"].item())
        assert set(out) >= {"loss", "prediction", "regularisation"}
    assert losses[-1] < 0.9 * losses[0], losses


def test_default_grid_and_crops_resampled_when_the_stride_does_not_fit():
    from pretraining.methods.voco import default_grid, encoder_input_size

    assert default_grid((32, 32, 32)) == (2, 2, 2) and default_grid((48, 45, 32)) == (2, 3, 2)
    assert encoder_input_size((16, 16, 16), (8, 8, 8)) == (16, 16, 16)  # fits: not resampled
    assert encoder_input_size((24, 16, 96), (16, 16, 32)) == (32, 32, 96)
    # the cpu profile: 48^3 patch, 5 stages (stride 16): 24^3 crops go through the encoder at 32^3
    for kind in KINDS:
        method = VoCo(
            EncoderConfig(kind=kind, width_multiplier=0.125, n_stages=5), (48, 48, 48), hidden_dim=16, out_dim=16
        )
        assert method.grid == (2, 2, 2) and method.crop_size == (24, 24, 24) and method.input_size == (32, 32, 32)
        out = method.loss(PretrainBatch(torch.randn(1, 1, 48, 48, 48)))
        assert torch.isfinite(out["loss"])
