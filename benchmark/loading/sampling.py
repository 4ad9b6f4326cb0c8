"""Build one training batch as a pure function of ``(seed, epoch, batch index)``.

Every batch draws its randomness from ``numpy.random.SeedSequence([seed, epoch, batch_index])`` (one child
sequence per sample), so a batch is identical whichever process builds it: the loader is deterministic for a
seed regardless of the number of workers, and resumes exactly from a saved position.

Foreground oversampling (nnU-Net/nnDetection style): a ``foreground_fraction`` share of each batch (1/3 by
default; ``floor(B * f)`` samples plus one more with probability equal to the remainder, so the expected
share is exactly ``f``) is centred on an object: a case with objects, one of its instances and a random
voxel of it are drawn, and that voxel is placed at a random offset of at most ``foreground_jitter * patch``
from the patch centre *in the output patch*, so it stays inside the patch whatever the spatial transform.
The other samples are centred uniformly so that the patch lies inside the image where possible.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from benchmark.loading.augmentation import (
    AugmentationConfig,
    apply_intensity_augmentation,
    sample_displacement,
    sample_spatial_transform,
)
from benchmark.loading.data import PreprocessedData
from benchmark.loading.patches import extract_patch, relabel_patch


@dataclass(frozen=True)
class LoaderConfig:
    """Patch, batch and sampling settings of the training loader."""

    patch_size: tuple[int, int, int] = (128, 128, 128)
    batch_size: int = 4
    batches_per_epoch: int = 2500
    foreground_fraction: float = 1 / 3
    foreground_jitter: float = 0.25  # max offset of the chosen object voxel from the patch centre, x patch size
    augmentation: AugmentationConfig = field(default_factory=AugmentationConfig)

    def __post_init__(self) -> None:
        if len(self.patch_size) != 3 or any(int(p) < 1 for p in self.patch_size):
            raise ValueError(f"patch_size must be 3 positive integers (z, y, x), got {self.patch_size}")
        if self.batch_size < 1 or self.batches_per_epoch < 1:
            raise ValueError("batch_size and batches_per_epoch must be >= 1")
        if not 0.0 <= self.foreground_fraction <= 1.0:
            raise ValueError(f"foreground_fraction must be in [0, 1], got {self.foreground_fraction}")
        if not 0.0 <= self.foreground_jitter < 0.5:
            raise ValueError(f"foreground_jitter must be in [0, 0.5), got {self.foreground_jitter}")


def batch_seed_sequences(seed: int, epoch: int, batch_index: int, batch_size: int) -> list[np.random.SeedSequence]:
    """One SeedSequence for batch-level draws, then one per sample, all derived from (seed, epoch, batch index)."""
    return np.random.SeedSequence([int(seed), int(epoch), int(batch_index)]).spawn(batch_size + 1)


def _foreground_voxel(seg: np.ndarray, inst_id: int, box: Sequence[float], rng: np.random.Generator) -> np.ndarray:
    """Centre (voxel frame) of a random voxel of instance ``inst_id``."""
    lo = np.asarray(box[:3], dtype=np.int64)
    hi = np.asarray(box[3:], dtype=np.int64)
    for _ in range(16):  # rejection sampling in the box: cheap and usually enough
        v = rng.integers(lo, hi)
        if seg[tuple(v)] == inst_id:
            return v + 0.5
    crop = np.asarray(seg[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]])
    hits = np.argwhere(crop == inst_id)
    if len(hits) == 0:
        raise ValueError(f"instance {inst_id} has no voxels inside its stored box {list(box)}")
    return hits[rng.integers(len(hits))] + lo + 0.5


def _random_centre(shape: Sequence[int], patch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uniform centre keeping the patch inside the image where it fits (centred where it does not)."""
    shape = np.asarray(shape, dtype=np.float64)
    lo = np.minimum(patch / 2.0, shape / 2.0)
    hi = np.maximum(shape - patch / 2.0, shape / 2.0)
    return rng.uniform(lo, hi)


def sample_patch(
    data: PreprocessedData,
    case_id: str,
    config: LoaderConfig,
    rng: np.random.Generator,
    foreground: bool,
) -> dict:
    """One augmented patch of ``case_id``; centred on an object when ``foreground`` (and the case has one)."""
    meta = data.meta(case_id)
    image, seg = data.arrays(case_id)
    patch = np.asarray(config.patch_size, dtype=np.float64)
    aug = config.augmentation
    spacing = meta.resampled_geometry.spacing
    if aug.enabled:
        matrix = sample_spatial_transform(rng, aug.spatial, spacing)
        displacement = sample_displacement(rng, aug.spatial, config.patch_size)
    else:
        matrix, displacement = np.eye(3), None
    if foreground and meta.boxes:
        ids = sorted(meta.boxes)
        inst_id = ids[int(rng.integers(len(ids)))]
        voxel = _foreground_voxel(seg, inst_id, meta.boxes[inst_id], rng)
        offset = rng.uniform(-config.foreground_jitter, config.foreground_jitter, size=3) * patch
        centre = voxel - matrix @ offset
    else:
        centre = _random_centre(seg.shape, patch, rng)
    centre = np.floor(centre - patch / 2.0 + 0.5) + patch / 2.0  # output voxel centres on source voxel centres
    img, inst = extract_patch(image, seg, centre, matrix, config.patch_size, displacement)
    if aug.enabled:
        gen = torch.Generator().manual_seed(int(rng.integers(2**63)))
        img = apply_intensity_augmentation(img, rng, gen, aug.intensity)
    inst, boxes, labels = relabel_patch(inst, meta.classes)
    return {"image": img, "instances": inst, "boxes": boxes, "labels": labels}


def make_batch(
    data: PreprocessedData,
    case_ids: Sequence[str],
    config: LoaderConfig,
    seed: int,
    epoch: int,
    batch_index: int,
) -> dict:
    """Batch ``batch_index`` of ``epoch``: a dict of ``image [B, C, z, y, x]`` float32, ``instances [B, 1, z, y, x]``
    int32 (id ``i + 1`` is box ``i``), ``boxes`` (list of ``[N, 6]`` float32), ``labels`` (list of ``[N]`` long),
    ``case_ids``, ``foreground`` (``[B]`` bool: sample was centred on an object), ``epoch``, ``batch_index``.
    """
    if not case_ids:
        raise ValueError("no cases to sample from")
    seqs = batch_seed_sequences(seed, epoch, batch_index, config.batch_size)
    batch_rng = np.random.default_rng(seqs[0])
    n_fg = config.batch_size * config.foreground_fraction
    n_forced = int(np.floor(n_fg)) + int(batch_rng.random() < n_fg - np.floor(n_fg))
    with_objects = [c for c in case_ids if data.meta(c).boxes]
    samples, chosen, forced = [], [], []
    for i in range(config.batch_size):
        rng = np.random.default_rng(seqs[i + 1])
        fg = i < n_forced and bool(with_objects)
        pool = with_objects if fg else case_ids
        case_id = pool[int(rng.integers(len(pool)))]
        samples.append(sample_patch(data, case_id, config, rng, fg))
        chosen.append(case_id)
        forced.append(fg)
    return {
        "image": torch.stack([s["image"] for s in samples]),
        "instances": torch.stack([s["instances"] for s in samples])[:, None],
        "boxes": [s["boxes"] for s in samples],
        "labels": [s["labels"] for s in samples],
        "case_ids": chosen,
        "foreground": torch.tensor(forced, dtype=torch.bool),
        "epoch": int(epoch),
        "batch_index": int(batch_index),
    }


def batch_targets(batch: dict) -> list[dict]:
    """Per-image targets for ``Detector.compute_loss``: ``boxes``, ``labels`` and the ``instances`` map."""
    return [
        {"boxes": b, "labels": lab, "instances": inst[0]}
        for b, lab, inst in zip(batch["boxes"], batch["labels"], batch["instances"], strict=True)
    ]
