"""Multi-scale deformable attention in 3D (Zhu et al. 2021), pure PyTorch with trilinear sampling.

Every query attends to ``num_points`` sampled locations per head and feature level around its reference
point (or inside its reference box). Sampling uses ``torch.nn.functional.grid_sample`` on 5-D inputs
(``mode="bilinear"`` is trilinear; ``align_corners=False`` so normalised coordinate ``u`` in ``[0, 1]`` sits at
voxel-frame position ``u * size``, the frame of :mod:`benchmark.core.conventions`). It runs on CPU and GPU; a
fused CUDA kernel could replace :func:`multi_scale_deformable_attention_3d` later without other changes.
Locations are in array order ``(z, y, x)``; they are flipped to grid_sample's ``(x, y, z)`` only inside.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["MultiScaleDeformableAttention3D", "multi_scale_deformable_attention_3d"]


def multi_scale_deformable_attention_3d(
    value: Tensor,
    spatial_shapes: Sequence[tuple[int, int, int]],
    sampling_locations: Tensor,
    attention_weights: Tensor,
) -> Tensor:
    """Core of deformable attention.

    Args:
        value: ``[B, S, H, C]`` projected values of all levels, flattened level by level in (z, y, x) order.
        spatial_shapes: ``(D, H, W)`` of each level; their volumes sum to ``S``.
        sampling_locations: ``[B, Q, H, L, P, 3]`` normalised ``(z, y, x)`` in ``[0, 1]``.
        attention_weights: ``[B, Q, H, L, P]`` (softmax-normalised over ``L * P`` by the caller).

    Returns:
        ``[B, Q, H * C]`` attended features (zero padding outside the volume).
    """
    b, _, heads, c = value.shape
    _, q, _, levels, points, _ = sampling_locations.shape
    if len(spatial_shapes) != levels:
        raise ValueError(f"{len(spatial_shapes)} spatial shapes for {levels} sampling levels")
    sizes = [d * h * w for d, h, w in spatial_shapes]
    if sum(sizes) != value.shape[1]:
        raise ValueError(f"spatial shapes cover {sum(sizes)} tokens, value has {value.shape[1]}")
    grids = (2 * sampling_locations - 1).flip(-1)  # (z, y, x) in [0, 1] -> grid_sample's (x, y, z) in [-1, 1]
    sampled = []
    for level, (tokens, (d, h, w)) in enumerate(zip(value.split(sizes, dim=1), spatial_shapes, strict=True)):
        # [B, S_l, H, C] -> [B * H, C, D, H, W]
        v = tokens.permute(0, 2, 3, 1).reshape(b * heads, c, d, h, w)
        # [B, Q, H, P, 3] -> [B * H, Q, P, 1, 3]
        g = grids[:, :, :, level].permute(0, 2, 1, 3, 4).reshape(b * heads, q, points, 1, 3)
        s = F.grid_sample(v, g.to(v.dtype), mode="bilinear", padding_mode="zeros", align_corners=False)
        sampled.append(s.squeeze(-1))  # [B * H, C, Q, P]
    stacked = torch.stack(sampled, dim=-2).flatten(-2)  # [B * H, C, Q, L * P]
    weights = attention_weights.permute(0, 2, 1, 3, 4).reshape(b * heads, 1, q, levels * points)
    out = (stacked * weights.to(stacked.dtype)).sum(-1)  # [B * H, C, Q]
    return out.reshape(b, heads * c, q).transpose(1, 2)


class MultiScaleDeformableAttention3D(nn.Module):
    """Deformable attention module: offsets and weights predicted from the query, values projected.

    ``reference_points`` are ``[B, Q, 3]`` normalised centres (offsets scaled per level by the level's
    size, as in the encoder) or ``[B, Q, 6]`` normalised boxes ``(cz, cy, cx, dz, dy, dx)`` (offsets scaled by
    half the box size over ``num_points``, as in the refining decoder).
    """

    def __init__(self, dim: int, num_heads: int, num_levels: int, num_points: int) -> None:
        super().__init__()
        if dim % num_heads != 0:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.dim, self.num_heads, self.num_levels, self.num_points = dim, num_heads, num_levels, num_points
        self.sampling_offsets = nn.Linear(dim, num_heads * num_levels * num_points * 3)
        self.attention_weights = nn.Linear(dim, num_heads * num_levels * num_points)
        self.value_proj = nn.Linear(dim, dim)
        self.output_proj = nn.Linear(dim, dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Zero offset weights with biases spreading the heads' points over 3D directions (as in the paper)."""
        nn.init.zeros_(self.sampling_offsets.weight)
        # head directions on a spiral over the sphere, scaled so the largest component is 1
        k = torch.arange(self.num_heads, dtype=torch.float32) + 0.5
        polar = torch.acos(1 - 2 * k / self.num_heads)
        azimuth = math.pi * (1 + 5**0.5) * k
        dirs = torch.stack([polar.cos(), polar.sin() * azimuth.sin(), polar.sin() * azimuth.cos()], -1)
        dirs = dirs / dirs.abs().max(-1, keepdim=True).values
        bias = dirs[:, None, None, :].repeat(1, self.num_levels, self.num_points, 1)
        bias = bias * torch.arange(1, self.num_points + 1, dtype=torch.float32)[None, None, :, None]
        with torch.no_grad():
            self.sampling_offsets.bias.copy_(bias.flatten())
        nn.init.zeros_(self.attention_weights.weight)
        nn.init.zeros_(self.attention_weights.bias)
        for lin in (self.value_proj, self.output_proj):
            nn.init.xavier_uniform_(lin.weight)
            nn.init.zeros_(lin.bias)

    def sampling_locations(
        self, query: Tensor, reference_points: Tensor, spatial_shapes: Sequence[tuple[int, int, int]]
    ) -> Tensor:
        """Normalised sampling locations ``[B, Q, H, L, P, 3]`` in (z, y, x)."""
        b, q, _ = query.shape
        offsets = self.sampling_offsets(query).view(b, q, self.num_heads, self.num_levels, self.num_points, 3)
        if reference_points.shape[-1] == 3:
            normaliser = torch.tensor(spatial_shapes, dtype=offsets.dtype, device=offsets.device)  # [L, 3]
            return reference_points[:, :, None, None, None, :] + offsets / normaliser[None, None, None, :, None]
        if reference_points.shape[-1] == 6:
            ctr = reference_points[:, :, None, None, None, :3]
            half = reference_points[:, :, None, None, None, 3:] * 0.5
            return ctr + offsets / self.num_points * half
        raise ValueError(f"reference_points must end in 3 (points) or 6 (boxes), got {reference_points.shape[-1]}")

    def forward(
        self,
        query: Tensor,
        reference_points: Tensor,
        value: Tensor,
        spatial_shapes: Sequence[tuple[int, int, int]],
    ) -> Tensor:
        """``query`` ``[B, Q, dim]`` (position already added), ``value`` ``[B, S, dim]`` -> ``[B, Q, dim]``."""
        b, q, _ = query.shape
        v = self.value_proj(value).view(b, value.shape[1], self.num_heads, self.dim // self.num_heads)
        # offsets, weights and sampling in float32: under AMP, fp16 locations would be off by ~1e-3 of the
        # volume and grid_sample's gradients w.r.t. the locations are sensitive (cf. nnDetection's custom_fwd)
        with torch.autocast(device_type=query.device.type, enabled=False):
            dtype = torch.promote_types(query.dtype, torch.float32)
            q32 = query.to(dtype)
            weights = self.attention_weights(q32).view(b, q, self.num_heads, self.num_levels * self.num_points)
            weights = weights.softmax(-1).view(b, q, self.num_heads, self.num_levels, self.num_points)
            locations = self.sampling_locations(q32, reference_points.to(dtype), spatial_shapes)
            out = multi_scale_deformable_attention_3d(v.to(dtype), spatial_shapes, locations, weights)
        return self.output_proj(out.to(query.dtype))
