"""Unlabelled pre-training data: any folder of volumes, or the synthetic pre-training corpus.

Both sources preprocess as the paper's pre-training (Eckstein et al. 2025, section 2.3): each volume is
z-scored (its own mean and standard deviation) and resampled to 1 mm isotropic (cubic spline,
:func:`benchmark.preprocessing.resampling.resample_image`, the resampling fine-tuning uses), once, into a cache
folder the caller names. Cached volumes are ``.npy`` files read memory-mapped, so sampling a patch reads only
the patch. A cache entry is keyed by the source file's path, size and modification time and by the spacing, so
a changed file is preprocessed again and the cache never serves stale data.

* :class:`VolumeFolderSource`: every ``.nii``, ``.nii.gz``, ``.mha``, ``.mhd``, ``.nrrd``, ``.nhdr`` file under a
  folder (recursively), read by SimpleITK after detbench's integrity checks (truncated files are errors).
* :class:`SyntheticCorpusSource`: the unlabelled synthetic CT corpus of :mod:`benchmark.synthetic.generate`
  (``SPT_*`` cases, drawn from the scenes of the CT twins). Its cases come from the seed stream
  ``CORPUS_KEY = 0`` while every twin S01-S08 draws from its own number (1..8), so no corpus case is a case of a
  twin used for fine-tuning, for any seed (tests/pretraining/test_pretrain_data.py checks the images too).

Both implement :class:`pretraining.sources.PatchSource`: ``sample(rng, batch_size)`` draws the volume and the
patch position from the caller's ``numpy`` generator only, so restoring that generator reproduces the batches.
Volumes smaller than the patch are padded with 0 (the mean after z-scoring).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write, atomic_write_json

__all__ = [
    "VOLUME_SUFFIXES",
    "PretrainDataError",
    "SyntheticCorpusSource",
    "VolumeFolderSource",
    "find_volumes",
    "preprocess_volume",
]

VOLUME_SUFFIXES = (".nii", ".nii.gz", ".mha", ".mhd", ".nrrd", ".nhdr")
INDEX_FILE = "index.json"
CACHE_VERSION = 1
CORPUS_SEED = 0  # the corpus's generator seed; disjoint from the twins through its own seed stream


class PretrainDataError(ValueError):
    """Pre-training data that cannot be used (empty folder, unreadable volume); the message names the file."""


def _has_suffix(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(s) for s in VOLUME_SUFFIXES)


def find_volumes(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively, sorted); PretrainDataError when there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PretrainDataError(f"{folder}: not a folder of volumes")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and _has_suffix(p) and not p.name.startswith("."))
    # a MetaImage header (.mhd) names its own data file; .raw/.zraw files are not listed, so no duplicates
    if not files:
        raise PretrainDataError(
            f"{folder}: no volumes found (looked for {', '.join(VOLUME_SUFFIXES)} files, recursively)"
        )
    return files


def preprocess_volume(path: str | Path, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> np.ndarray:
    """One volume as ``(z, y, x)`` float32: z-scored, then resampled to ``spacing`` (mm, ``(z, y, x)``).

    PretrainDataError for unreadable, truncated, non-3-D, multi-component, empty or constant volumes.
    """
    import SimpleITK as sitk

    from benchmark.data.format import DatasetFormatError, read_image
    from benchmark.preprocessing.resampling import resample_image, resampled_shape

    try:
        image = read_image(path)
    except DatasetFormatError as err:
        raise PretrainDataError(str(err)) from None
    if image.GetDimension() != 3:
        raise PretrainDataError(f"{path}: expected a 3-D volume, got {image.GetDimension()}-D")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise PretrainDataError(
            f"{path}: has {image.GetNumberOfComponentsPerPixel()} components per voxel; give one volume per file"
        )
    array = sitk.GetArrayFromImage(image).astype(np.float32)  # (z, y, x)
    if array.size == 0:
        raise PretrainDataError(f"{path}: empty volume")
    if not np.isfinite(array).all():
        raise PretrainDataError(f"{path}: holds NaN or infinite values")
    std = float(array.std())
    if std == 0.0:
        raise PretrainDataError(f"{path}: constant volume (z-scoring needs some variation)")
    array = (array - float(array.mean())) / std
    old_spacing = tuple(float(s) for s in reversed(image.GetSpacing()))  # (z, y, x)
    shape = resampled_shape(array.shape, old_spacing, spacing)
    return resample_image(array[None], shape, order=3)[0].astype(np.float32)


def _entry_name(path: Path, spacing: tuple[float, float, float]) -> str:
    stat = path.stat()
    text = json.dumps([str(path.resolve()), stat.st_size, stat.st_mtime_ns, list(spacing), CACHE_VERSION])
    return hashlib.sha256(text.encode()).hexdigest()[:20] + ".npy"


class _CachedVolumes:
    """Preprocessed volumes in a cache folder, memory-mapped; shared by both sources."""

    def __init__(
        self,
        files: list[Path],
        cache_dir: str | Path,
        patch_size: tuple[int, int, int],
        spacing: tuple[float, float, float],
        progress: bool = False,
    ) -> None:
        from tqdm.auto import tqdm

        self.patch_size = tuple(int(p) for p in patch_size)
        if len(self.patch_size) != 3 or min(self.patch_size) < 1:
            raise ValueError(f"patch_size must be 3 positive ints, got {patch_size}")
        self.in_channels = 1
        self.files = list(files)
        self.spacing = tuple(float(s) for s in spacing)
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        entries = []
        for path in tqdm(self.files, desc="preprocess volumes", unit="vol", disable=not progress):
            entry = self.cache_dir / _entry_name(path, self.spacing)
            if not entry.is_file():
                array = preprocess_volume(path, self.spacing)
                atomic_write(entry, lambda fh, a=array: np.save(fh, a))
            entries.append(entry)
        self.entries = entries
        atomic_write_json(
            self.cache_dir / INDEX_FILE,
            {
                "version": CACHE_VERSION,
                "spacing": list(self.spacing),
                "files": {e.name: str(p) for e, p in zip(entries, self.files, strict=True)},
            },
            indent=2,
        )
        self._arrays: list[np.ndarray | None] = [None] * len(entries)
        self.shapes = [tuple(self._array(i).shape) for i in range(len(entries))]

    def _array(self, index: int) -> np.ndarray:
        if self._arrays[index] is None:
            self._arrays[index] = np.load(self.entries[index], mmap_mode="r")
        return self._arrays[index]  # type: ignore[return-value]

    def patch(self, rng: np.random.Generator) -> np.ndarray:
        """One random patch ``(1, *patch_size)`` (volume and position from ``rng``)."""
        index = int(rng.integers(len(self.entries)))
        volume = self._array(index)
        out = np.zeros(self.patch_size, np.float32)
        src, dst = [], []
        for size, want in zip(volume.shape, self.patch_size, strict=True):
            if size >= want:
                start = int(rng.integers(size - want + 1))
                src.append(slice(start, start + want))
                dst.append(slice(0, want))
            else:  # smaller than the patch: a random offset inside the zero-padded patch
                offset = int(rng.integers(want - size + 1))
                src.append(slice(0, size))
                dst.append(slice(offset, offset + size))
        out[tuple(dst)] = volume[tuple(src)]
        return out[None]

    def batch(self, rng: np.random.Generator, batch_size: int):  # noqa: ANN201 - PretrainBatch
        import torch

        from pretraining.methods import PretrainBatch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return PretrainBatch(images=torch.from_numpy(np.stack([self.patch(rng) for _ in range(batch_size)])))

    def summary(self) -> dict[str, Any]:
        digest = hashlib.sha256("\n".join(e.name for e in self.entries).encode()).hexdigest()[:16]
        return {
            "volumes": len(self.entries),
            "voxels": int(sum(int(np.prod(s)) for s in self.shapes)),
            "cases_sha256": digest,
        }


class VolumeFolderSource:
    """Patches from every volume under ``folder``, preprocessed once into ``cache_dir`` (see the module docstring)."""

    def __init__(
        self,
        folder: str | Path,
        cache_dir: str | Path,
        patch_size: tuple[int, int, int],
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        progress: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self._volumes = _CachedVolumes(find_volumes(self.folder), cache_dir, patch_size, spacing, progress)
        self.patch_size = self._volumes.patch_size
        self.in_channels = 1

    def sample(self, rng: np.random.Generator, batch_size: int):  # noqa: ANN201 - PretrainBatch
        return self._volumes.batch(rng, batch_size)

    def describe(self) -> dict[str, Any]:
        return {"kind": "volume_folder", "folder": str(self.folder.resolve()), **self._volumes.summary()}

    def preprocessing(self) -> dict[str, Any]:
        return _preprocessing_record(self._volumes)


class SyntheticCorpusSource:
    """Patches from the synthetic unlabelled corpus (generated into ``cache_dir`` on first use).

    ``scale``/``cases`` pick the corpus (:func:`benchmark.synthetic.generate.plan_corpus`); the generator seed is
    :data:`CORPUS_SEED`. The corpus is written to ``cache_dir/corpus-<scale>-seed<seed>-n<cases>/`` and its
    preprocessed volumes to ``.../preprocessed``.
    """

    def __init__(
        self,
        cache_dir: str | Path,
        patch_size: tuple[int, int, int],
        scale: str = "tiny",
        cases: int | None = None,
        spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
        progress: bool = False,
        workers: int = 1,
    ) -> None:
        from benchmark.synthetic.config import get_scale
        from benchmark.synthetic.generate import corpus_image_paths, generate_pretraining_corpus

        scale_cfg = get_scale(scale)
        self.scale = scale_cfg.name
        self.cases = int(scale_cfg.corpus_cases if cases is None else cases)
        if self.cases < 1:
            raise ValueError(f"the corpus needs at least one case, got {self.cases}")
        folder = Path(cache_dir) / f"corpus-{self.scale}-seed{CORPUS_SEED}-n{self.cases}"
        root = generate_pretraining_corpus(
            folder, scale_cfg, CORPUS_SEED, workers=workers, cases=self.cases, progress=progress
        )
        self.root = root
        self.case_ids = [p.name.split("_0000")[0] for p in corpus_image_paths(root)]
        self._volumes = _CachedVolumes(corpus_image_paths(root), folder / "preprocessed", patch_size, spacing, progress)
        self.patch_size = self._volumes.patch_size
        self.in_channels = 1

    def sample(self, rng: np.random.Generator, batch_size: int):  # noqa: ANN201 - PretrainBatch
        return self._volumes.batch(rng, batch_size)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": "synthetic_corpus",
            "corpus_id": "SPT",
            "scale": self.scale,
            "seed": CORPUS_SEED,
            "cases": self.cases,
            "modality": "CT",
            "folder": str(self.root.resolve()),
            **self._volumes.summary(),
        }

    def preprocessing(self) -> dict[str, Any]:
        return _preprocessing_record(self._volumes)


def _preprocessing_record(volumes: _CachedVolumes) -> dict[str, Any]:
    return {
        "spacing": list(volumes.spacing),
        "normalization": "zscore_per_volume",
        "resampling": "cubic spline (scipy.ndimage.zoom, order 3)",
        "patch_size": list(volumes.patch_size),
    }
