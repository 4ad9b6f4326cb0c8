"""S3D / SparkMAE: sparse masked image modelling for CNNs, on the encoders of :mod:`models.encoders`.

Source: Tian et al., "Designing BERT for Convolutional Networks: Sparse and Hierarchical Masked Modeling"
(SparK, ICLR 2023), in the 3D form of nnssl's ``SparK3D`` / ``SparkTrainer`` (MIC-DKFZ/nnssl,
``architectures/spark_model.py`` and ``spark_utils.py``), the S3D of Eckstein et al. (MICCAI 2025). The
mechanics followed (re-implemented here, not copied):

* a random block mask keeps 25% of the cells of the encoder's coarsest grid (``mask_ratio`` 0.75; one cell
  is ``total_stride`` voxels per axis) and is upsampled (nearest) to every resolution; the input is masked;
* *sparse convolution*: the mask of the output's resolution is re-applied after every convolution (and
  pooling) of the encoder, so masked positions stay exactly zero and information never leaks into them;
* *sparse instance norm*: mean and variance per sample and channel over the visible voxels only, the output
  zero at masked positions;
* *densify*: per level a sparse instance norm, a learnable mask token filling the masked positions, then a
  3x3x3 convolution on every level but the highest-resolution one (identity there, as nnssl);
* a light U-Net decoder (one conv unit per level) reconstructs the input; the loss is the mean squared error
  on the masked voxels only.

The encoder is ``self.encoder`` itself (keys exactly those of :mod:`models.encoders`, so it transfers as is):
sparsity is added by forward hooks on its convolutions and pooling layers and by giving its InstanceNorm layers
the class :class:`SparseInstanceNorm3d` (same parameters), all of which compute exactly the dense encoder while
no mask is set (outside :meth:`S3D.loss`). :class:`UNetDecoder` is shared with MultiTalent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import EncoderConfig, Triple
from models.encoders import ConvNormAct
from pretraining.methods import METHODS, MethodSpec, PretrainBatch, PretrainingMethod

__all__ = [
    "S3D",
    "SparseInstanceNorm3d",
    "SparseState",
    "UNetDecoder",
    "block_mask",
    "make_sparse",
    "masked_reconstruction_loss",
    "sparse_instance_norm",
    "upsample_mask",
]

CITATION = (
    "Tian et al., Designing BERT for Convolutional Networks: Sparse and Hierarchical Masked Modeling "
    "(SparK), ICLR 2023; 3D form as nnssl's SparK3D (github.com/MIC-DKFZ/nnssl)"
)


# -- masks -------------------------------------------------------------------------------------------
def block_mask(batch: int, grid: Triple, mask_ratio: float, generator: torch.Generator | None = None) -> Tensor:
    """``(B, 1, *grid)`` float mask, 1 = visible: exactly ``round(mask_ratio * cells)`` cells masked per sample
    (at least one cell stays visible)."""
    if not 0.0 <= mask_ratio < 1.0:
        raise ValueError(f"mask_ratio must be in [0, 1), got {mask_ratio}")
    cells = math.prod(grid)
    n_masked = min(int(round(mask_ratio * cells)), cells - 1)
    order = torch.rand(batch, cells, generator=generator).argsort(dim=1)
    visible = (order >= n_masked).float()  # the n_masked lowest-ranked cells are masked
    return visible.view(batch, 1, *grid)


def upsample_mask(mask: Tensor, shape: Sequence[int]) -> Tensor:
    """Nearest upsampling of a coarse ``(B, 1, *grid)`` mask to ``shape`` (integer factors per axis)."""
    grid = mask.shape[2:]
    if tuple(shape) == tuple(grid):
        return mask
    out = mask
    for axis, (n, g) in enumerate(zip(shape, grid, strict=True)):
        if n % g:
            raise ValueError(f"feature size {tuple(shape)} is not a multiple of the mask grid {tuple(grid)}")
        out = out.repeat_interleave(n // g, dim=2 + axis)
    return out


def sparse_instance_norm(x: Tensor, mask: Tensor, norm: nn.InstanceNorm3d | None = None, eps: float = 1e-5) -> Tensor:
    """Instance norm whose statistics are over visible voxels (``mask`` 1) only; output 0 where masked.

    ``mask`` is ``(B, 1, *x.shape[2:])``; ``norm`` (optional) gives ``eps`` and the affine weight and bias.
    """
    eps = norm.eps if norm is not None else eps
    dtype = x.dtype
    x, mask = x.float(), mask.float()  # statistics in float32 (half-precision sums overflow on large volumes)
    n = mask.sum(dim=(2, 3, 4), keepdim=True).clamp_min(1.0)
    mean = (x * mask).sum(dim=(2, 3, 4), keepdim=True) / n
    var = (((x - mean) * mask) ** 2).sum(dim=(2, 3, 4), keepdim=True) / n
    out = (x - mean) * torch.rsqrt(var + eps)
    if norm is not None and norm.affine:
        out = out * norm.weight.float().view(1, -1, 1, 1, 1) + norm.bias.float().view(1, -1, 1, 1, 1)
    return (out * mask).to(dtype)


# -- sparse encoder --------------------------------------------------------------------------------
class SparseState:
    """The coarse visible-mask of the sparse forward in progress (``None``: the encoder runs dense)."""

    def __init__(self) -> None:
        self.mask: Tensor | None = None


def _mask_like(mask: Tensor, x: Tensor) -> Tensor:
    return upsample_mask(mask, x.shape[2:]).to(dtype=x.dtype, device=x.device)


def _mask_after(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> Tensor | None:
    """Forward hook of a conv / pooling layer: re-apply the mask to its output (sparse convolution)."""
    mask = module._s3d_sparse.mask  # type: ignore[union-attr]
    return None if mask is None else output * _mask_like(mask, output)


class SparseInstanceNorm3d(nn.InstanceNorm3d):
    """An encoder InstanceNorm3d whose class :func:`make_sparse` swapped in: dense without a mask, else
    :func:`sparse_instance_norm` (same parameters and keys; picklable and deep-copyable)."""

    _s3d_sparse: SparseState

    def forward(self, x: Tensor) -> Tensor:
        mask = self._s3d_sparse.mask
        if mask is None:
            return super().forward(x)
        return sparse_instance_norm(x, _mask_like(mask, x), self)


def make_sparse(encoder: nn.Module, state: SparseState) -> None:
    """Hook every conv and pooling layer of ``encoder`` and make every InstanceNorm a :class:`SparseInstanceNorm3d`.

    Parameters, buffers and keys are untouched; while ``state.mask`` is ``None`` the encoder computes exactly
    what it computes without them. The state is an attribute of each layer and the hook a module-level
    function, so ``copy.deepcopy`` of the method gives a copy with its own state.
    """
    for module in encoder.modules():
        if isinstance(module, (nn.Conv3d, nn.AvgPool3d, nn.MaxPool3d)):
            module._s3d_sparse = state
            module.register_forward_hook(_mask_after)
        elif isinstance(module, nn.InstanceNorm3d):
            module._s3d_sparse = state
            module.__class__ = SparseInstanceNorm3d


# -- decoder -----------------------------------------------------------------------------------------
class UNetDecoder(nn.Module):
    """A light U-Net decoder over an encoder's stage outputs (finest first): per level a transposed conv up,
    concatenation with the skip, one ConvNormAct; a 1x1x1 conv gives ``out_channels`` at the finest level,
    upsampled to the input size if the first stage was strided."""

    def __init__(self, config: EncoderConfig, out_channels: int) -> None:
        super().__init__()
        feats = config.stage_features
        cum = config.cumulative_strides_3d
        kw = {"eps": config.norm_eps, "negative_slope": config.negative_slope}
        self.ups = nn.ModuleList()
        self.convs = nn.ModuleList()
        for i in range(len(feats) - 1, 0, -1):
            step = tuple(c // p for c, p in zip(cum[i], cum[i - 1], strict=True))
            self.ups.append(nn.ConvTranspose3d(feats[i], feats[i - 1], step, step))
            self.convs.append(ConvNormAct(2 * feats[i - 1], feats[i - 1], config.stage_kernel_sizes[i - 1], 1, **kw))
        self.head = nn.Conv3d(feats[0], out_channels, 1)
        self.first_stride = cum[0]

    def forward(self, features: Sequence[Tensor]) -> Tensor:
        x = features[-1]
        for j, (up, conv) in enumerate(zip(self.ups, self.convs, strict=True)):
            skip = features[len(features) - 2 - j]
            x = conv(torch.cat([up(x), skip], dim=1))
        x = self.head(x)
        if self.first_stride != (1, 1, 1):
            x = F.interpolate(x, scale_factor=self.first_stride, mode="trilinear", align_corners=False)
        return x


# -- the method --------------------------------------------------------------------------------------
class S3D(PretrainingMethod):
    """SparkMAE on a detbench encoder (see the module docstring)."""

    name = "s3d"

    def __init__(self, encoder_config: EncoderConfig, patch_size: Triple, mask_ratio: float = 0.75) -> None:
        super().__init__(encoder_config, patch_size)
        total = encoder_config.total_stride
        if any(p % t for p, t in zip(self.patch_size, total, strict=True)):
            raise ValueError(f"patch size {self.patch_size} must be a multiple of the encoder's total stride {total}")
        if not 0.0 < mask_ratio < 1.0:
            raise ValueError(f"mask_ratio must be in (0, 1), got {mask_ratio}")
        self.mask_ratio = float(mask_ratio)
        self.mask_grid: Triple = tuple(p // t for p, t in zip(self.patch_size, total, strict=True))  # type: ignore[assignment]
        feats = encoder_config.stage_features
        self.mask_tokens = nn.ParameterList(
            [nn.Parameter(torch.randn(1, f, 1, 1, 1).clamp_(-2, 2) * 0.02) for f in feats]
        )
        self.densify_norms = nn.ModuleList(
            [nn.InstanceNorm3d(f, eps=encoder_config.norm_eps, affine=True) for f in feats]
        )
        self.densify_projs = nn.ModuleList([nn.Identity()] + [nn.Conv3d(f, f, 3, padding=1) for f in feats[1:]])
        self.decoder = UNetDecoder(encoder_config, encoder_config.in_channels)
        self._sparse = SparseState()
        make_sparse(self.encoder, self._sparse)

    def sparse_encode(self, images: Tensor, mask: Tensor) -> list[Tensor]:
        """Encoder outputs of ``images`` under the coarse visible-mask ``mask`` ``(B, 1, *mask_grid)``."""
        self._sparse.mask = mask
        try:
            return self.encoder(images * _mask_like(mask, images))
        finally:
            self._sparse.mask = None

    def densify(self, features: Sequence[Tensor], mask: Tensor) -> list[Tensor]:
        """Sparse norm, mask tokens into the masked positions, then the densifying convolutions."""
        out = []
        for i, f in enumerate(features):
            m = upsample_mask(mask, f.shape[2:]).to(f.dtype)
            f = sparse_instance_norm(f, m, self.densify_norms[i])
            f = torch.where(m.bool(), f, self.mask_tokens[i].to(f.dtype).expand_as(f))
            out.append(self.densify_projs[i](f))
        return out

    # objective --------------------------------------------------------------------------------------
    def forward(self, images: Tensor, mask: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Reconstruction of ``images`` and the coarse visible-mask used (drawn if not given)."""
        if mask is None:
            mask = block_mask(images.shape[0], self.mask_grid, self.mask_ratio).to(images.device)
        features = self.sparse_encode(images, mask)
        return self.decoder(self.densify(features, mask)), mask

    def loss(self, batch: PretrainBatch) -> dict[str, Tensor]:
        images = batch.images
        reconstruction, mask = self(images)
        loss = masked_reconstruction_loss(reconstruction, images, mask)
        return {"loss": loss, "visible_fraction": mask.mean().detach()}


def masked_reconstruction_loss(reconstruction: Tensor, images: Tensor, mask: Tensor) -> Tensor:
    """Mean squared error over the masked (hidden) voxels only; ``mask`` is the coarse visible-mask."""
    hidden = 1.0 - upsample_mask(mask, images.shape[2:]).to(torch.float32)
    err = ((reconstruction.float() - images.float()) ** 2) * hidden
    return err.sum() / (hidden.sum() * images.shape[1]).clamp_min(1.0)


def build(encoder_config: EncoderConfig, patch_size: Triple, **options: object) -> S3D:
    """Build S3D (options: ``mask_ratio``)."""
    return S3D(encoder_config, patch_size, **options)  # type: ignore[arg-type]


METHODS.register(
    "s3d",
    MethodSpec(
        name="s3d",
        label="S3D (SparkMAE)",
        build=build,
        supervised=False,
        citation=CITATION,
        defaults={"mask_ratio": 0.75},
    ),
)
