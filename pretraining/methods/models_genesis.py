"""Models Genesis: restore the original patch from a distorted one.

Source: Zhou et al., "Models Genesis: Generic Autodidactic Models for 3D Medical Image Analysis", MICCAI 2019,
and "Models Genesis", Medical Image Analysis 67, 2021 (MrGiovanni/ModelsGenesis). Per sample, with the
paper's default probabilities:

* **flip** (rate 0.4): random axes flipped in input *and* target (an augmentation; the target is the
  flipped original);
* **local voxel shuffling** (rate 0.5): the voxels inside many small random blocks (sides up to a tenth of
  the patch) are permuted, so local texture is destroyed but the global shape kept; the original uses
  10,000 blocks on 64x64x32 patches, here scaled with the patch volume (at most 10,000);
* **non-linear intensity transform** (rate 0.9): intensities mapped through a random monotone cubic Bezier
  curve with end points (0, 0), (1, 1) (increasing or, half of the time, decreasing);
* **in-painting** (share 0.2 of painting) or **out-painting** (0.8), painting at rate 0.9: up to five random
  boxes (sides 1/6-1/3 of the patch) filled with uniform noise, or everything outside up to six random
  boxes (the first with sides 3/7-4/7 of the patch) replaced by noise.

The intensity transforms work on the patch mapped to [0, 1] (min-max of the patch), as Models Genesis's
inputs are, and the result is mapped back to the z-scored range. The network (encoder +
:class:`pretraining.methods.decoder.LightDecoder`) regresses the original patch, loss MSE over all voxels.
Random draws come from a ``numpy`` generator seeded from torch's global CPU generator (saved by the
pre-training checkpoint), so runs resume exactly. Written for detbench from the papers (no code copied).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from models.config import EncoderConfig, Triple
from pretraining.methods import METHODS, MethodSpec, PretrainBatch, PretrainingMethod
from pretraining.methods.decoder import LightDecoder

__all__ = [
    "ModelsGenesis",
    "bezier_transform",
    "in_paint",
    "local_shuffle",
    "out_paint",
]

RATES = {"flip": 0.4, "local": 0.5, "nonlinear": 0.9, "paint": 0.9, "inpaint": 0.2}
MG_BLOCKS = 10_000
MG_PATCH_VOXELS = 64 * 64 * 32


def bezier_transform(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``x`` in [0, 1] through a random monotone cubic Bezier curve from (0, 0) to (1, 1)."""
    p1, p2 = rng.random(2), rng.random(2)
    t = np.linspace(0.0, 1.0, 1000)
    coeff = [(1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t**2, t**3]
    xs = coeff[1] * p1[0] + coeff[2] * p2[0] + coeff[3]
    ys = coeff[1] * p1[1] + coeff[2] * p2[1] + coeff[3]
    order = np.argsort(xs)
    xs, ys = xs[order], np.sort(ys) if rng.random() < 0.5 else np.sort(ys)[::-1]
    return np.interp(x, xs, ys).astype(np.float32)


def local_shuffle(x: np.ndarray, rng: np.random.Generator, blocks: int | None = None) -> np.ndarray:
    """Permute the voxels inside random small blocks (sides 1..patch/10) of a ``(C, z, y, x)`` patch.

    Blocks may overlap; each permutes the values currently there, so the patch's values are only rearranged.
    """
    shape = x.shape[1:]
    n = (
        blocks
        if blocks is not None
        else max(1, min(MG_BLOCKS, round(MG_BLOCKS * int(np.prod(shape)) / MG_PATCH_VOXELS)))
    )
    out = x.copy()
    for _ in range(n):
        size = [int(rng.integers(1, max(2, s // 10 + 1))) for s in shape]
        start = [int(rng.integers(0, s - b + 1)) for s, b in zip(shape, size, strict=True)]
        region = tuple(slice(a, a + b) for a, b in zip(start, size, strict=True))
        for c in range(x.shape[0]):
            block = out[(c, *region)].ravel()  # the current values: each step is a permutation
            out[(c, *region)] = rng.permutation(block).reshape(size)
    return out


def _box(shape: tuple[int, ...], rng: np.random.Generator, low: float, high: float) -> tuple[slice, ...]:
    size = [int(rng.integers(max(1, int(s * low)), max(2, int(s * high)) + 1)) for s in shape]
    size = [min(b, s) for b, s in zip(size, shape, strict=True)]
    start = [int(rng.integers(0, s - b + 1)) for s, b in zip(shape, size, strict=True)]
    return tuple(slice(a, a + b) for a, b in zip(start, size, strict=True))


def in_paint(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Fill one to five random boxes (sides 1/6-1/3 of the patch) of a [0, 1] patch with uniform noise."""
    out = x.copy()
    count = 5
    while True:
        region = (slice(None), *_box(x.shape[1:], rng, 1 / 6, 1 / 3))
        out[region] = rng.random(out[region].shape, dtype=np.float32)
        count -= 1
        if count == 0 or rng.random() >= 0.95:
            return out


def out_paint(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Keep one to six random boxes of a [0, 1] patch (the first with sides 3/7-4/7) and noise elsewhere."""
    out = rng.random(x.shape, dtype=np.float32)
    region = (slice(None), *_box(x.shape[1:], rng, 3 / 7, 4 / 7))
    out[region] = x[region]
    count = 5
    while count > 0 and rng.random() < 0.95:
        region = (slice(None), *_box(x.shape[1:], rng, 3 / 7, 4 / 7))
        out[region] = x[region]
        count -= 1
    return out


class ModelsGenesis(PretrainingMethod):
    """Encoder + light decoder restoring the original from :meth:`distort`'s input."""

    name = "mg"

    def __init__(self, encoder_config: EncoderConfig, patch_size: Triple, **rates: float) -> None:
        super().__init__(encoder_config, patch_size)
        unknown = sorted(set(rates) - set(RATES))
        if unknown:
            raise ValueError(f"unknown Models Genesis rates {unknown}; valid: {', '.join(RATES)}")
        self.rates = {**RATES, **{k: float(v) for k, v in rates.items()}}
        self.decoder = LightDecoder(encoder_config, encoder_config.in_channels)

    def distort_one(self, patch: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(input, target)`` of one ``(C, z, y, x)`` z-scored patch."""
        r = self.rates
        target = patch
        if rng.random() < r["flip"]:
            axes = tuple(1 + a for a in range(3) if rng.random() < 0.5) or (1 + int(rng.integers(3)),)
            target = np.flip(patch, axis=axes).copy()
        lo, hi = float(target.min()), float(target.max())
        scale = hi - lo if hi > lo else 1.0
        x = (target - lo) / scale  # [0, 1], as Models Genesis's inputs
        if rng.random() < r["local"]:
            x = local_shuffle(x, rng)
        if rng.random() < r["nonlinear"]:
            x = bezier_transform(x, rng)
        if rng.random() < r["paint"]:
            x = in_paint(x, rng) if rng.random() < r["inpaint"] else out_paint(x, rng)
        return (x * scale + lo).astype(np.float32), np.ascontiguousarray(target, dtype=np.float32)

    def distort(self, images: Tensor) -> tuple[Tensor, Tensor]:
        """Distorted inputs and restoration targets of a batch (on ``images``' device)."""
        seed = int(torch.randint(0, 2**62, (1,)).item())  # torch's global CPU generator: saved, resumable
        rng = np.random.default_rng(seed)
        pairs = [self.distort_one(p, rng) for p in images.detach().float().cpu().numpy()]
        inputs = torch.from_numpy(np.stack([a for a, _ in pairs])).to(images.device)
        targets = torch.from_numpy(np.stack([b for _, b in pairs])).to(images.device)
        return inputs, targets

    def loss(self, batch: PretrainBatch) -> dict[str, Tensor]:
        inputs, targets = self.distort(batch.images)
        prediction = self.decoder(self.encoder(inputs))
        return {"loss": torch.mean((prediction.float() - targets) ** 2)}


def build(encoder_config: EncoderConfig, patch_size: Triple, **options: float) -> ModelsGenesis:
    return ModelsGenesis(encoder_config, patch_size, **options)


METHODS.register(
    "mg",
    MethodSpec(
        name="mg",
        label="MG",
        build=build,
        citation=(
            "Zhou et al.: Models Genesis: Generic Autodidactic Models for 3D Medical Image Analysis. MICCAI 2019; "
            "Zhou et al.: Models Genesis. Medical Image Analysis 67, 2021"
        ),
    ),
)
