"""Synthetic labelled segmentation datasets for supervised pre-training (MultiTalent), disjoint from the twins.

MultiTalent (Ulrich et al., MICCAI 2023) pre-trains on many labelled segmentation datasets at once, each with
its own label set. detbench has no real ones offline, so this module builds several from the anatomy of the
synthetic twins (:mod:`benchmark.synthetic.anatomy`): each dataset renders one scene (abdomen, thorax, head
CTA, breast MRI) on an isotropic grid, finishes it with the noise model of a twin (its knobs), z-scores it per
channel and labels the scene's host structures (organs, bones, vessels), never the twins' lesions:

=======================  ==========  ========  ====================================================
dataset                  modality    channels  classes
=======================  ==========  ========  ====================================================
``SUP01_AbdomenCT``      CT          1         liver, spleen, kidneys, pancreas
``SUP02_ThoraxCT``       CT          1         lungs, ribs, spine, lung_vessels
``SUP03_HeadCTA``        CT          1         brain, arteries
``SUP04_BreastMRI``      MRI         4         breasts, fgt (fibroglandular tissue), vessels
``SUP05_BreastMRI2ch``   MRI         2         body, fgt
=======================  ==========  ========  ====================================================

Disjointness from fine-tuning: every case draws from ``numpy.random.SeedSequence(seed, spawn_key=(stream,
index))`` (:func:`benchmark.synthetic.generate.case_rng`) with its own ``stream`` (:data:`SUPERVISED_STREAMS`,
``200 + n``); the twins S01-S08 use their twin number (1-8) and the unlabelled corpus 0, so no supervised case
shares a random stream with any twin case, whatever seeds either is generated with (a test checks the streams
and the arrays' hashes).

Patch source: ``SupervisedPatchSource(root: Path | None, patch_size, seed=0, scale="tiny", datasets=None)``
implements :class:`pretraining.sources.PatchSource`. ``root=None`` generates the cases in memory; a folder
caches them there (``<root>/<dataset>/<case>.npz`` plus ``supervised.json``, reused when seed, scale and
datasets match, regenerated otherwise; a non-empty folder without ``supervised.json`` is refused, so a folder of
real data is never written into: reading real labelled datasets is not implemented). Scales (cases per dataset,
voxels per axis): ``tiny`` 3 x 40^3, ``small`` 8 x 64^3, ``full`` 32 x 192^3 (about 12 GB of arrays for all five
datasets at ``full``; give a folder there). ``datasets`` picks a subset by name (default all five).
:meth:`SupervisedPatchSource.sample` draws one dataset per batch (uniformly), then ``batch_size`` random
patches of its cases (a third centred on a random foreground voxel, as nnU-Net oversamples foreground), and
returns a :class:`pretraining.methods.PretrainBatch` with ``images`` ``(B, C_d, *patch)``, binary ``labels``
``(B, K_d, *patch)`` and ``dataset``. ``in_channels`` is 1: the channel count of the encoder's own stem (the
CT stem); each dataset's own count is in :func:`label_sets`.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_bytes, atomic_write_json

__all__ = [
    "SUPERVISED_DATASETS",
    "SUPERVISED_SCALES",
    "SUPERVISED_STREAMS",
    "SupervisedCase",
    "SupervisedDataset",
    "SupervisedPatchSource",
    "case_seed_keys",
    "generate_case",
    "generate_dataset",
    "label_sets",
]

STREAM_BASE = 200  # twin numbers are 1..99 and the corpus uses 0: 200+ is free
META_FILE = "supervised.json"
KIND = "synthetic_supervised"
FOREGROUND_FRACTION = 1.0 / 3.0


@dataclass(frozen=True)
class SupervisedDataset:
    """One synthetic labelled dataset: a scene, the twin whose knobs finish it, channels and classes.

    ``classes`` maps each class name to the scene masks whose union it is; ``channels`` selects scene image
    channels (the breast MRI scene renders 4); ``fov_mm`` is the isotropic field of view of a full-size case.
    """

    name: str
    number: int
    scene: str
    twin: str
    modality: str
    channels: tuple[int, ...]
    classes: tuple[tuple[str, tuple[str, ...]], ...]
    fov_mm: float

    @property
    def stream(self) -> int:
        """First seed key of this dataset's cases (never a twin number, never the corpus)."""
        return STREAM_BASE + self.number

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.classes)

    @property
    def in_channels(self) -> int:
        return len(self.channels)


SUPERVISED_DATASETS: dict[str, SupervisedDataset] = {
    d.name: d
    for d in (
        SupervisedDataset(
            "SUP01_AbdomenCT", 1, "abdomen", "S01", "CT", (0,),
            (("liver", ("liver",)), ("spleen", ("spleen",)), ("kidneys", ("kidneys",)), ("pancreas", ("pancreas",))),
            400.0,
        ),
        SupervisedDataset(
            "SUP02_ThoraxCT", 2, "thorax", "S04", "CT", (0,),
            (("lungs", ("lungs",)), ("ribs", ("ribs",)), ("spine", ("spine",)), ("lung_vessels", ("lung_vessels",))),
            350.0,
        ),
        SupervisedDataset(
            "SUP03_HeadCTA", 3, "head_cta", "S08", "CT", (0,),
            (("brain", ("brain",)), ("arteries", ("arteries",))),
            220.0,
        ),
        SupervisedDataset(
            "SUP04_BreastMRI", 4, "breast_mri", "S05", "MRI", (0, 1, 2, 3),
            (("breasts", ("breasts",)), ("fgt", ("fgt",)), ("vessels", ("vessels",))),
            320.0,
        ),
        SupervisedDataset(
            "SUP05_BreastMRI2ch", 5, "breast_mri", "S05", "MRI", (0, 1),
            (("body", ("body",)), ("fgt", ("fgt",))),
            320.0,
        ),
    )
}  # fmt: skip

#: The seed stream of each dataset (first spawn key of its cases).
SUPERVISED_STREAMS: dict[str, int] = {name: d.stream for name, d in SUPERVISED_DATASETS.items()}


@dataclass(frozen=True)
class SupervisedScale:
    """Cases per dataset, voxels per axis of a case (isotropic cube) and the fraction of the full field of view."""

    name: str
    cases: int
    voxels: int
    fov_scale: float


SUPERVISED_SCALES: dict[str, SupervisedScale] = {
    "tiny": SupervisedScale("tiny", cases=3, voxels=40, fov_scale=0.4),
    "small": SupervisedScale("small", cases=8, voxels=64, fov_scale=0.5),
    "full": SupervisedScale("full", cases=32, voxels=192, fov_scale=1.0),
}


@dataclass(frozen=True)
class SupervisedCase:
    """A generated case: z-scored ``image`` ``(C, z, y, x)`` float32 and binary ``labels`` ``(K, z, y, x)`` uint8."""

    dataset: str
    case_id: str
    image: np.ndarray
    labels: np.ndarray
    spacing_mm: float

    def sha256(self) -> str:
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.image).tobytes())
        h.update(np.ascontiguousarray(self.labels).tobytes())
        return h.hexdigest()


def _get_scale(scale: str) -> SupervisedScale:
    if scale not in SUPERVISED_SCALES:
        raise ValueError(f"unknown scale {scale!r}; valid: {', '.join(SUPERVISED_SCALES)}")
    return SUPERVISED_SCALES[scale]


def _get_dataset(name: str) -> SupervisedDataset:
    if name not in SUPERVISED_DATASETS:
        import difflib

        close = difflib.get_close_matches(name, list(SUPERVISED_DATASETS), n=3, cutoff=0.4)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise ValueError(f"unknown supervised dataset {name!r}.{hint} Valid: {', '.join(SUPERVISED_DATASETS)}")
    return SUPERVISED_DATASETS[name]


def case_seed_keys(dataset: str, index: int) -> tuple[int, int]:
    """The ``spawn_key`` ``(stream, index)`` of a case (its generator is ``case_rng(seed, *keys)``)."""
    return (_get_dataset(dataset).stream, int(index))


def label_sets(datasets: Sequence[str] | None = None) -> dict[str, dict[str, Any]]:
    """``{dataset: {"channels": C, "classes": [...], "modality": ...}}``: what MultiTalent needs to build."""
    names = list(SUPERVISED_DATASETS) if datasets is None else list(datasets)
    out = {}
    for name in names:
        d = _get_dataset(name)
        out[name] = {"channels": d.in_channels, "classes": list(d.class_names), "modality": d.modality}
    return out


def generate_case(dataset: str, index: int, seed: int = 0, scale: str = "tiny") -> SupervisedCase:
    """Render case ``index`` of ``dataset``: scene, the twin's finishing (blur, noise), z-score, labels."""
    from benchmark.synthetic.anatomy import SCENES, Grid
    from benchmark.synthetic.generate import case_rng, finish_image
    from benchmark.synthetic.twins import get_twin

    d, s = _get_dataset(dataset), _get_scale(scale)
    twin = get_twin(d.twin)
    rng = case_rng(int(seed), *case_seed_keys(dataset, index))
    spacing = round(d.fov_mm * s.fov_scale / s.voxels, 6)
    grid = Grid((s.voxels, s.voxels, s.voxels), (spacing, spacing, spacing))
    scene = SCENES[d.scene](grid, rng, twin.knobs)
    image = finish_image(scene.image, grid, rng, twin, scene.modality, 0.0)[list(d.channels)]
    mean = image.mean(axis=(1, 2, 3), keepdims=True)
    std = image.std(axis=(1, 2, 3), keepdims=True)
    image = ((image - mean) / np.maximum(std, 1e-6)).astype(np.float32)
    labels = np.zeros((len(d.classes), *grid.shape), np.uint8)
    for k, (_, masks) in enumerate(d.classes):
        for mask in masks:
            labels[k] |= np.asarray(scene.masks[mask], dtype=bool)
    return SupervisedCase(d.name, f"{d.name}_{index + 1:04d}", image, labels, spacing)


def generate_dataset(dataset: str, seed: int = 0, scale: str = "tiny") -> list[SupervisedCase]:
    """Every case of ``dataset`` at ``scale``."""
    return [generate_case(dataset, i, seed, scale) for i in range(_get_scale(scale).cases)]


def _save_case(path: Path, case: SupervisedCase) -> None:
    buf = io.BytesIO()
    np.savez_compressed(buf, image=case.image, labels=case.labels, spacing=np.float64(case.spacing_mm))
    atomic_write_bytes(path, buf.getvalue())


def _load_case(path: Path, dataset: str) -> SupervisedCase:
    with np.load(path, allow_pickle=False) as z:
        return SupervisedCase(dataset, path.stem, z["image"], z["labels"], float(z["spacing"]))


class SupervisedPatchSource:
    """Patches of the synthetic labelled datasets, one dataset per batch (see the module docstring)."""

    in_channels: int = 1

    def __init__(
        self,
        root: str | Path | None,
        patch_size: Sequence[int] | int,
        seed: int = 0,
        scale: str = "tiny",
        datasets: Sequence[str] | None = None,
    ) -> None:
        ps = (patch_size,) * 3 if isinstance(patch_size, int) else tuple(int(v) for v in patch_size)
        if len(ps) != 3 or min(ps) < 1:
            raise ValueError(f"patch_size must be 3 positive ints (z, y, x), got {patch_size!r}")
        if seed < 0:
            raise ValueError(f"seed must be >= 0, got {seed}")
        self.patch_size: tuple[int, int, int] = ps  # type: ignore[assignment]
        self.seed = int(seed)
        self.scale = _get_scale(scale).name
        self.dataset_names = list(SUPERVISED_DATASETS) if datasets is None else [_get_dataset(n).name for n in datasets]
        if not self.dataset_names:
            raise ValueError("at least one supervised dataset is needed")
        self.root = None if root is None else Path(root)
        self.cases: dict[str, list[SupervisedCase]] = self._load_or_generate()
        self._cases_sha256: str | None = None

    # -- data ------------------------------------------------------------------------------------------
    def _manifest(self) -> dict[str, Any]:
        return {"kind": KIND, "seed": self.seed, "scale": self.scale, "datasets": self.dataset_names}

    def _load_or_generate(self) -> dict[str, list[SupervisedCase]]:
        if self.root is None:
            return {n: generate_dataset(n, self.seed, self.scale) for n in self.dataset_names}
        meta = self.root / META_FILE
        n_cases = _get_scale(self.scale).cases
        if self.root.exists() and not self.root.is_dir():
            raise ValueError(f"{self.root}: not a folder")
        if self.root.is_dir() and not meta.is_file() and any(self.root.iterdir()):
            raise ValueError(
                f"{self.root}: not a cache of the synthetic supervised datasets (no {META_FILE}) and not empty; "
                "reading real labelled datasets is not supported yet: pass no data folder to use the synthetic ones"
            )
        if meta.is_file():
            try:
                stored = json.loads(meta.read_text())
            except json.JSONDecodeError:
                stored = None
            if isinstance(stored, dict) and {k: stored.get(k) for k in self._manifest()} == self._manifest():
                paths = {
                    n: [self.root / n / f"{n}_{i + 1:04d}.npz" for i in range(n_cases)] for n in self.dataset_names
                }
                if all(p.is_file() for ps in paths.values() for p in ps):
                    return {n: [_load_case(p, n) for p in ps] for n, ps in paths.items()}
        cases = {n: generate_dataset(n, self.seed, self.scale) for n in self.dataset_names}
        for name, items in cases.items():
            for case in items:
                _save_case(self.root / name / f"{case.case_id}.npz", case)
        atomic_write_json(meta, {**self._manifest(), "label_sets": label_sets(self.dataset_names)}, indent=2)
        return cases

    def label_sets(self) -> dict[str, dict[str, Any]]:
        """The datasets of this source with their channels and classes (MultiTalent's ``datasets`` option)."""
        return label_sets(self.dataset_names)

    # -- sampling --------------------------------------------------------------------------------------
    def _crop(self, case: SupervisedCase, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        shape = np.asarray(case.image.shape[1:])
        patch = np.asarray(self.patch_size)
        pad = np.maximum(patch - shape, 0)
        image, labels = case.image, case.labels
        if pad.any():  # volumes smaller than the patch: pad (image with its minimum, labels with 0)
            widths = [(0, 0)] + [(int(p) // 2, int(p) - int(p) // 2) for p in pad]
            image = np.pad(image, widths, constant_values=float(image.min()))
            labels = np.pad(labels, widths)
            shape = np.asarray(image.shape[1:])
        hi = shape - patch
        start = np.array([rng.integers(0, h + 1) for h in hi])
        if rng.random() < FOREGROUND_FRACTION:
            present = [k for k in range(labels.shape[0]) if labels[k].any()]
            if present:
                k = present[int(rng.integers(len(present)))]
                voxels = np.flatnonzero(labels[k])
                centre = np.array(np.unravel_index(voxels[int(rng.integers(voxels.size))], labels.shape[1:]))
                start = np.clip(centre - patch // 2, 0, hi)
        sl = tuple(slice(int(a), int(a + p)) for a, p in zip(start, patch, strict=True))
        return image[(slice(None), *sl)], labels[(slice(None), *sl)]

    def sample(self, rng: np.random.Generator, batch_size: int) -> Any:
        """One dataset (uniformly), then ``batch_size`` patches of its cases, with labels and the dataset name."""
        import torch

        from pretraining.methods import PretrainBatch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        name = self.dataset_names[int(rng.integers(len(self.dataset_names)))]
        cases = self.cases[name]
        crops = [self._crop(cases[int(rng.integers(len(cases)))], rng) for _ in range(batch_size)]
        images = torch.from_numpy(np.stack([c[0] for c in crops]).astype(np.float32))
        labels = torch.from_numpy(np.stack([c[1] for c in crops]).astype(np.float32))
        return PretrainBatch(images=images, labels=labels, dataset=name)

    def describe(self) -> dict[str, Any]:
        """The checkpoint's ``data`` record: kind, seed, scale, datasets (channels, classes, cases), cases' hash."""
        if self._cases_sha256 is None:  # the cases never change: hash them once
            h = hashlib.sha256()
            for name in self.dataset_names:
                for case in self.cases[name]:
                    h.update(case.sha256().encode())
            self._cases_sha256 = h.hexdigest()
        datasets = {}
        for name in self.dataset_names:
            d = SUPERVISED_DATASETS[name]
            datasets[name] = {
                "channels": d.in_channels,
                "classes": list(d.class_names),
                "modality": d.modality,
                "scene": d.scene,
                "finished_as": d.twin,
                "cases": len(self.cases[name]),
                "seed_stream": d.stream,
            }
        return {
            "kind": KIND,
            "seed": self.seed,
            "scale": self.scale,
            "patch_size": list(self.patch_size),
            "root": None if self.root is None else str(self.root),
            "datasets": datasets,
            "cases_sha256": self._cases_sha256,
            "note": "Organ/structure masks of synthetic scenes; seed streams disjoint from the twins S01-S08.",
        }
