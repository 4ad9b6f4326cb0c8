"""3D multi-scale deformable attention against an explicit trilinear-sampling reference."""

from __future__ import annotations

import math

import pytest
import torch

from models.deformable_attention import MultiScaleDeformableAttention3D, multi_scale_deformable_attention_3d


def _trilinear(volume: torch.Tensor, z: float, y: float, x: float) -> torch.Tensor:
    """Value of ``volume`` [C, D, H, W] at voxel-frame point (z, y, x); zero outside (explicit 8-corner loop)."""
    _, d, h, w = volume.shape
    # voxel i covers [i, i + 1), its centre is i + 0.5: continuous index = coordinate - 0.5
    cz, cy, cx = z - 0.5, y - 0.5, x - 0.5
    z0, y0, x0 = math.floor(cz), math.floor(cy), math.floor(cx)
    out = torch.zeros(volume.shape[0], dtype=volume.dtype)
    for dz in (0, 1):
        for dy in (0, 1):
            for dx in (0, 1):
                iz, iy, ix = z0 + dz, y0 + dy, x0 + dx
                if not (0 <= iz < d and 0 <= iy < h and 0 <= ix < w):
                    continue
                weight = (1 - abs(cz - iz)) * (1 - abs(cy - iy)) * (1 - abs(cx - ix))
                out += weight * volume[:, iz, iy, ix]
    return out


def _naive_attention(value, shapes, locations, weights):
    b, _, heads, c = value.shape
    _, q, _, levels, points, _ = locations.shape
    sizes = [d * h * w for d, h, w in shapes]
    per_level = value.split(sizes, dim=1)
    out = torch.zeros(b, q, heads * c, dtype=value.dtype)
    for bi in range(b):
        for qi in range(q):
            for hi in range(heads):
                acc = torch.zeros(c, dtype=value.dtype)
                for li, (d, h, w) in enumerate(shapes):
                    vol = per_level[li][bi, :, hi, :].T.reshape(c, d, h, w)
                    for pi in range(points):
                        z, y, x = locations[bi, qi, hi, li, pi].tolist()
                        acc += weights[bi, qi, hi, li, pi] * _trilinear(vol, z * d, y * h, x * w)
                out[bi, qi, hi * c : (hi + 1) * c] = acc
    return out


def test_matches_naive_trilinear_reference():
    g = torch.Generator().manual_seed(0)
    shapes = [(4, 5, 3), (2, 3, 2)]  # anisotropic, odd sizes: catches axis-order mistakes
    b, q, heads, c, points = 2, 3, 2, 3, 4
    s = sum(d * h * w for d, h, w in shapes)
    value = torch.randn(b, s, heads, c, generator=g, dtype=torch.float64)
    # include points outside [0, 1] to exercise zero padding
    locations = torch.rand(b, q, heads, len(shapes), points, 3, generator=g, dtype=torch.float64) * 1.4 - 0.2
    weights = torch.rand(b, q, heads, len(shapes), points, generator=g, dtype=torch.float64)
    weights = weights / weights.sum((-1, -2), keepdim=True)
    fast = multi_scale_deformable_attention_3d(value, shapes, locations, weights)
    slow = _naive_attention(value, shapes, locations, weights)
    assert fast.shape == (b, q, heads * c)
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_float32_matches_reference_too():
    g = torch.Generator().manual_seed(1)
    shapes = [(3, 4, 5)]
    value = torch.randn(1, 60, 1, 2, generator=g)
    locations = torch.rand(1, 4, 1, 1, 2, 3, generator=g)
    weights = torch.full((1, 4, 1, 1, 2), 0.5)
    fast = multi_scale_deformable_attention_3d(value, shapes, locations, weights)
    slow = _naive_attention(value.double(), shapes, locations.double(), weights.double()).float()
    torch.testing.assert_close(fast, slow, atol=1e-5, rtol=1e-5)


def test_voxel_centre_samples_exact_voxel_value():
    # a location at the centre of voxel (z=1, y=2, x=0) of a (3, 4, 2) level returns that voxel's value
    shape = (3, 4, 2)
    volume = torch.arange(24, dtype=torch.float64).reshape(shape)
    value = volume.reshape(1, 24, 1, 1)
    loc = torch.tensor([(1 + 0.5) / 3, (2 + 0.5) / 4, (0 + 0.5) / 2], dtype=torch.float64)
    out = multi_scale_deformable_attention_3d(
        value, [shape], loc.view(1, 1, 1, 1, 1, 3), torch.ones(1, 1, 1, 1, 1, dtype=torch.float64)
    )
    assert out.item() == pytest.approx(volume[1, 2, 0].item())


def test_rejects_inconsistent_shapes():
    value = torch.zeros(1, 10, 1, 2)
    with pytest.raises(ValueError, match="spatial shapes cover"):
        locations, weights = torch.zeros(1, 1, 1, 1, 1, 3), torch.ones(1, 1, 1, 1, 1)
        multi_scale_deformable_attention_3d(value, [(2, 2, 2)], locations, weights)


def test_module_points_and_boxes_references_and_gradients():
    torch.manual_seed(0)
    attn = MultiScaleDeformableAttention3D(dim=16, num_heads=4, num_levels=2, num_points=2)
    shapes = [(4, 4, 4), (2, 2, 2)]
    value = torch.randn(2, 72, 16, requires_grad=True)
    query = torch.randn(2, 5, 16, requires_grad=True)
    for ref in (torch.rand(2, 5, 3), torch.cat([torch.rand(2, 5, 3), torch.rand(2, 5, 3) * 0.3], -1)):
        out = attn(query, ref, value, shapes)
        assert out.shape == (2, 5, 16)
        out.sum().backward()
    assert value.grad is not None and query.grad is not None
    assert attn.sampling_offsets.weight.grad is not None
    with pytest.raises(ValueError, match="3 \\(points\\) or 6 \\(boxes\\)"):
        attn(query, torch.rand(2, 5, 4), value, shapes)
