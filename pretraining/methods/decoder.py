"""A light U-Net decoder for reconstruction objectives (MAE, Models Genesis) and block masks.

The decoder takes every encoder stage's output (finest first, as :mod:`models.encoders` returns them) and goes
back up: per level a transposed convolution with the stage's stride, concatenation with the skip, one
conv-norm-LeakyReLU unit (:class:`models.encoders.ConvNormAct`), then a 1x1x1 convolution to the image
channels at full resolution. One unit per level keeps it light, so the encoder does most of the work
(He et al., MAE, CVPR 2022: a lightweight decoder; nnssl trains a ResEnc-L U-Net whose decoder is discarded).
Only the encoder transfers into detectors, so the decoder's tensors are not written as ``decoder_weights``.

:func:`block_mask` draws nnssl-style block masks (MIC-DKFZ/nnssl, ``create_blocky_mask``: the patch divided into
cubes of ``block`` voxels, ``int(ratio * n_cubes)`` of them masked); :func:`scaled_block_size` scales nnssl's
16^3 blocks of a 192^3 patch to a smaller patch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.config import EncoderConfig
from models.encoders import ConvNormAct

__all__ = ["LightDecoder", "block_mask", "scaled_block_size"]


class LightDecoder(nn.Module):
    """Encoder features (finest first) -> ``out_channels`` at the input resolution."""

    def __init__(self, encoder_config: EncoderConfig, out_channels: int) -> None:
        super().__init__()
        feats = encoder_config.stage_features
        strides = encoder_config.stage_strides_3d
        self.ups = nn.ModuleList()
        self.blocks = nn.ModuleList()
        for level in range(len(feats) - 1, 0, -1):
            self.ups.append(nn.ConvTranspose3d(feats[level], feats[level - 1], strides[level], strides[level]))
            self.blocks.append(ConvNormAct(2 * feats[level - 1], feats[level - 1], 3))
        self.first_stride = strides[0]
        self.head = nn.Conv3d(feats[0], out_channels, 1)

    def forward(self, features: list[Tensor]) -> Tensor:
        x = features[-1]
        for up, block, skip in zip(self.ups, self.blocks, reversed(features[:-1]), strict=True):
            x = block(torch.cat([up(x), skip], dim=1))
        if self.first_stride != (1, 1, 1):  # an encoder whose first stage downsamples: back to full size
            x = nn.functional.interpolate(x, scale_factor=self.first_stride, mode="trilinear", align_corners=False)
        return self.head(x)


def scaled_block_size(patch_size: tuple[int, int, int], full_block: int = 16, full_patch: int = 192) -> int:
    """The divisor of every patch axis closest to ``full_block * min(patch) / full_patch`` (ties: the larger).

    nnssl masks 16^3 blocks of 192^3 patches; a 48^3 patch gets 4^3 blocks, 32^3 gets 2^3, 128^3 gets 8^3.
    """
    target = full_block * min(patch_size) / full_patch
    common = patch_size[0]
    for p in patch_size[1:]:
        while p:
            common, p = p, common % p
    divisors = [d for d in range(1, common + 1) if common % d == 0]
    return min(divisors, key=lambda d: (abs(d - target), -d))


def block_mask(
    batch: int, patch_size: tuple[int, int, int], block: int, ratio: float, generator: torch.Generator | None = None
) -> Tensor:
    """``(B, 1, *patch)`` float mask, 1 = visible, 0 = masked: ``int(ratio * n_blocks)`` cubes masked per sample.

    Every axis of ``patch_size`` must be a multiple of ``block``. Random draws use ``generator`` (default:
    torch's global CPU generator, whose state the pre-training checkpoint saves).
    """
    if any(p % block for p in patch_size):
        raise ValueError(f"patch {patch_size} is not a multiple of the mask block {block}")
    if not 0.0 < ratio < 1.0:
        raise ValueError(f"mask ratio must be in (0, 1), got {ratio}")
    grid = tuple(p // block for p in patch_size)
    n = grid[0] * grid[1] * grid[2]
    n_masked = int(ratio * n)
    masks = []
    for _ in range(batch):
        flat = torch.ones(n)
        flat[torch.randperm(n, generator=generator)[:n_masked]] = 0.0
        masks.append(flat.reshape(grid))
    small = torch.stack(masks)[:, None]
    return small.repeat_interleave(block, 2).repeat_interleave(block, 3).repeat_interleave(block, 4)
