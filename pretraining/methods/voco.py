"""VoCo: volume contrastive learning by predicting the overlap of random crops with a grid of base crops.

Source: Wu, Zhuang, Chen, "VoCo: A Simple-yet-Effective Volume Contrastive Learning Framework for 3D Medical
Image Analysis", CVPR 2024 (code github.com/Luffy03/VoCo), in the form of nnssl's ``VoCoTrainer``,
``VoCoArchitecture`` and ``VoCoLoss`` (github.com/MIC-DKFZ/nnssl), which the study (Eckstein et al., MICCAI
2025) used. The mechanics followed (re-implemented here, not copied):

* the patch is cut into a non-overlapping grid of *base crops* (``grid`` per axis, default 2 per axis,
  :func:`default_grid`; nnssl uses 3x3x1, the original 4x4x1) and ``n_random`` *random crops* of the same
  size are drawn inside it (nnssl: 5);
* the target of each random crop is its true volume overlap with every base crop, as a fraction of the
  crop's volume (:func:`overlap_fractions`; the fractions of one random crop sum to 1);
* every crop goes through the encoder, resampled first when the encoder's stride does not divide it at
  least twice (:func:`encoder_input_size`; the original resamples its 96^3 crops to 64^3); the stage outputs
  are average-pooled, concatenated and projected by an MLP (Linear, feature norm, ReLU twice, then Linear;
  nnssl: 2048 wide);
* prediction = ReLU of the cosine similarity of a random crop's projection with each base crop's (the base
  projections detached, as the reference code); loss on pairs that overlap ``-log(1 - |y - p|)`` weighted by
  the overlap ``y``, on pairs that do not ``p^2`` (nnssl's form of the paper's Eq. 3);
* the *regularisation* (Eq. 5) pushes the base crops of one volume apart: the mean ReLU cosine similarity over
  all pairs of distinct base crops (zero for orthogonal projections);
* loss = prediction + regularisation (weights 1 and 1).

Crop positions are drawn from torch's global generator (its state is part of the trainer's RNG states).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import EncoderConfig, Triple, as_triple
from pretraining.methods import METHODS, MethodSpec, PretrainBatch, PretrainingMethod

__all__ = [
    "VoCo",
    "base_crop_origins",
    "default_grid",
    "encoder_input_size",
    "overlap_fractions",
    "prediction_loss",
    "regularisation_loss",
]

CITATION = (
    "Wu et al., VoCo: A Simple-yet-Effective Volume Contrastive Learning Framework for 3D Medical Image "
    "Analysis, CVPR 2024 (github.com/Luffy03/VoCo); as nnssl's VoCoTrainer (github.com/MIC-DKFZ/nnssl)"
)


def default_grid(patch_size: Triple) -> Triple:
    """Per axis the smallest base-crop count >= 2 that divides the patch (2 for even sizes)."""
    grid = []
    for p in patch_size:
        fits = [g for g in range(2, p + 1) if p % g == 0]
        if not fits:
            raise ValueError(f"patch {tuple(patch_size)} cannot be cut into at least two base crops per axis")
        grid.append(fits[0])
    return tuple(grid)  # type: ignore[return-value]


def encoder_input_size(crop_size: Triple, total_stride: Triple) -> Triple:
    """The size crops are resampled to before the encoder: the crop itself when the encoder's total stride divides
    it at least twice, else the nearest such size above it (as VoCo resamples its 96^3 crops to 64^3)."""
    return tuple(
        c if c % t == 0 and c >= 2 * t else max(2, -(-c // t)) * t for c, t in zip(crop_size, total_stride, strict=True)
    )  # type: ignore[return-value]


def base_crop_origins(patch_size: Triple, grid: Triple) -> Tensor:
    """``(N_base, 3)`` origins (z, y, x) of the non-overlapping base crops, z slowest."""
    size = [p // g for p, g in zip(patch_size, grid, strict=True)]
    axes = [torch.arange(g) * s for g, s in zip(grid, size, strict=True)]
    zz, yy, xx = torch.meshgrid(*axes, indexing="ij")
    return torch.stack([zz.reshape(-1), yy.reshape(-1), xx.reshape(-1)], dim=1)


def overlap_fractions(random_origins: Tensor, base_origins: Tensor, crop_size: Sequence[int]) -> Tensor:
    """Volume of each random crop inside each base crop over the crop volume: ``(..., N_random, N_base)``.

    ``random_origins`` is ``(..., N_random, 3)``, ``base_origins`` ``(N_base, 3)``; all crops are ``crop_size``.
    """
    size = torch.as_tensor(list(crop_size), dtype=torch.float32)
    r = random_origins.float()[..., :, None, :]
    b = base_origins.float().to(r.device)[None, :, :]
    lo = torch.maximum(r, b)
    hi = torch.minimum(r + size.to(r.device), b + size.to(r.device))
    per_axis = (hi - lo).clamp_min(0.0)
    return per_axis.prod(dim=-1) / float(size.prod())


def prediction_loss(base: Tensor, target: Tensor, overlaps: Tensor) -> Tensor:
    """VoCo's prediction term: ``base`` ``(B, N_base, D)`` (detached here), ``target`` ``(B, N_random, D)``,
    ``overlaps`` ``(B, N_random, N_base)``."""
    sim = F.relu(F.cosine_similarity(base.detach()[:, None, :, :], target[:, :, None, :], dim=-1))
    positive = (overlaps > 0).to(sim.dtype)
    pos = (-torch.log((1.0 - (overlaps - sim).abs()).clamp_min(1e-6)) * overlaps).sum() / overlaps.sum().clamp_min(1e-6)
    neg = ((sim**2) * (1.0 - positive)).sum() / (1.0 - positive).sum().clamp_min(1.0)
    return pos + neg


def regularisation_loss(base: Tensor) -> Tensor:
    """VoCo's base-crop separation term: mean ReLU cosine similarity of distinct base crops, ``base`` ``(B, N, D)``."""
    n = base.shape[1]
    if n < 2:
        return base.new_zeros(())
    sim = F.relu(F.cosine_similarity(base[:, None, :, :], base[:, :, None, :], dim=-1))
    upper = torch.ones(n, n, device=base.device, dtype=sim.dtype).triu(diagonal=1)
    return ((sim * upper).sum(dim=(1, 2)) * 2.0 / (n * (n - 1))).mean()


class ProjectionHead(nn.Module):
    """Linear -> feature norm -> ReLU, twice, then Linear (nnssl's VocoProjectionHead; its InstanceNorm1d over
    a ``(N, D)`` input normalises each row, as LayerNorm without affine does here)."""

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.LayerNorm(hidden, elementwise_affine=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden),
            nn.LayerNorm(hidden, elementwise_affine=False),
            nn.ReLU(inplace=True),
            nn.Linear(hidden, out_features),
        )

    def forward(self, x: Tensor) -> Tensor:
        return self.layers(x)


class VoCo(PretrainingMethod):
    """VoCo on a detbench encoder (see the module docstring)."""

    name = "voco"

    def __init__(
        self,
        encoder_config: EncoderConfig,
        patch_size: Triple,
        grid: int | Sequence[int] | None = None,
        n_random: int = 4,
        hidden_dim: int = 2048,
        out_dim: int = 2048,
        pred_weight: float = 1.0,
        reg_weight: float = 1.0,
    ) -> None:
        super().__init__(encoder_config, patch_size)
        if grid is None:
            grid = default_grid(self.patch_size)
        self.grid: Triple = as_triple(grid if isinstance(grid, int) else tuple(grid), "grid")
        if min(self.grid) < 1 or math.prod(self.grid) < 2:
            raise ValueError(f"grid must have at least 2 base crops, got {self.grid}")
        if any(p % g for p, g in zip(self.patch_size, self.grid, strict=True)):
            raise ValueError(f"patch size {self.patch_size} must be divisible by the base-crop grid {self.grid}")
        self.crop_size: Triple = tuple(p // g for p, g in zip(self.patch_size, self.grid, strict=True))  # type: ignore[assignment]
        self.input_size: Triple = encoder_input_size(self.crop_size, encoder_config.total_stride)
        if n_random < 1:
            raise ValueError(f"n_random must be >= 1, got {n_random}")
        self.n_random = int(n_random)
        self.pred_weight, self.reg_weight = float(pred_weight), float(reg_weight)
        self.projector = ProjectionHead(sum(encoder_config.stage_features), int(hidden_dim), int(out_dim))
        self.register_buffer("base_origins", base_crop_origins(self.patch_size, self.grid), persistent=False)

    def embed(self, crops: Tensor) -> Tensor:
        """Projection of each crop (resampled to :attr:`input_size` if needed): pooled stage outputs
        concatenated, then the MLP. ``(N, out_dim)``."""
        if tuple(crops.shape[2:]) != self.input_size:
            crops = F.interpolate(crops, size=self.input_size, mode="trilinear", align_corners=False)
        pooled = [f.mean(dim=(2, 3, 4)) for f in self.encoder(crops)]
        return self.projector(torch.cat(pooled, dim=1))

    def draw_random_origins(self, batch: int, device: torch.device | None = None) -> Tensor:
        """``(B, n_random, 3)`` origins of random crops fully inside the patch."""
        hi = torch.tensor([p - c for p, c in zip(self.patch_size, self.crop_size, strict=True)]) + 1
        return (torch.rand(batch, self.n_random, 3) * hi).floor().long().to(device)

    def _cut(self, images: Tensor, origins: Tensor) -> Tensor:
        """``(B * N, C, *crop)`` crops of ``images`` at ``origins`` ``(B, N, 3)``."""
        cz, cy, cx = self.crop_size
        crops = [
            images[b, :, z : z + cz, y : y + cy, x : x + cx]
            for b in range(images.shape[0])
            for z, y, x in origins[b].tolist()
        ]
        return torch.stack(crops)

    def loss(self, batch: PretrainBatch, random_origins: Tensor | None = None) -> dict[str, Tensor]:
        images = batch.images
        b = images.shape[0]
        if random_origins is None:
            random_origins = self.draw_random_origins(b)
        base_origins = self.base_origins.unsqueeze(0).expand(b, -1, -1)
        n_base = base_origins.shape[1]
        crops = torch.cat([self._cut(images, base_origins), self._cut(images, random_origins)])
        emb = self.embed(crops)
        base = emb[: b * n_base].view(b, n_base, -1)
        target = emb[b * n_base :].view(b, self.n_random, -1)
        overlaps = overlap_fractions(random_origins.to(images.device), self.base_origins, self.crop_size)
        pred = prediction_loss(base.float(), target.float(), overlaps.float())
        reg = regularisation_loss(base.float())
        return {
            "loss": self.pred_weight * pred + self.reg_weight * reg,
            "prediction": pred.detach(),
            "regularisation": reg.detach(),
        }


def build(encoder_config: EncoderConfig, patch_size: Triple, **options: object) -> VoCo:
    """Build VoCo (options: ``grid``, ``n_random``, ``hidden_dim``, ``out_dim``, ``pred_weight``, ``reg_weight``)."""
    return VoCo(encoder_config, patch_size, **options)  # type: ignore[arg-type]


METHODS.register(
    "voco",
    MethodSpec(
        name="voco",
        label="VoCo",
        build=build,
        supervised=False,
        citation=CITATION,
        defaults={"n_random": 4, "hidden_dim": 2048, "out_dim": 2048},
    ),
)
