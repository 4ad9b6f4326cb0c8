"""On-disk layout of a preprocessed dataset: compressed, chunked arrays built for random patch reads.

::

    OUT/plans.json               the Plan
    OUT/dataset.json, splits.json copies of the source dataset's files (the folder is self-describing)
    OUT/<case>.b2nd              image (C, z, y, x), plan.image_dtype (float32 by default)
    OUT/<case>_seg.b2nd          instance map (z, y, x) int16 (int32 beyond 32767 instances); zeros without labels
    OUT/<case>.json              PreprocessedCaseMeta: classes, boxes, geometries, fingerprint, warnings, store format
    OUT/preprocess_report.json   the report of the last run

Arrays are Blosc2 NDArrays (``.b2nd``, the container nnU-Net v2 also uses): lossless, cut into chunks of
:data:`CHUNK` ^3 voxels and blocks of :data:`IMAGE_BLOCK` ^3 (image) / :data:`SEG_BLOCK` ^3 (instance map)
voxels per channel, so a patch read decompresses only the blocks it touches. Codec, chunk and block sizes were
chosen by measurement (docs/preprocessing.md, ``benchmarks/loader_bench.py``).

Every array file is written whole to a temporary file and renamed (:func:`benchmark.core.atomic.atomic_write`),
the JSON last, so its presence marks a complete case. The JSON records the :data:`STORE_FORMAT` it was written
with; folders of the uncompressed ``.npy`` layout (format 1) are refused with :class:`StoreFormatError`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_bytes, atomic_write_json
from benchmark.core.conventions import Geometry

REPORT_FILE = "preprocess_report.json"
RESERVED_NAMES = frozenset({"plans", "dataset", "splits", "preprocess_report"})  # folder-level JSON files

STORE_FORMAT = 2  # 1: uncompressed .npy (meta JSON without "store_format"); 2: Blosc2 .b2nd
ARRAY_SUFFIX = ".b2nd"
LEGACY_SUFFIX = ".npy"
CODEC = "lz4hc"  # Blosc2 codec and level (measured: LZ4-fast decompression, ~10% smaller than LZ4)
CLEVEL = 5
CHUNK = 64  # voxels per chunk axis (one chunk per channel)
IMAGE_BLOCK = 16  # voxels per block axis of images: 16 KiB float32 blocks, fast partial reads
SEG_BLOCK = 32  # instance maps are mostly zeros: larger blocks read faster and are still tiny


class StoreFormatError(ValueError):
    """A preprocessed folder (or file) was written in another storage format than this code reads."""


@dataclass
class PreprocessedCaseMeta:
    """Contents of ``<case>.json``: everything needed to train on a case and map predictions back."""

    case_id: str
    split: str
    fingerprint: str
    original_geometry: Geometry
    resampled_geometry: Geometry
    classes: dict[int, int] = field(default_factory=dict)  # instance id -> class index
    boxes: dict[int, list[float]] = field(default_factory=dict)  # instance id -> box in the preprocessed frame
    has_labels: bool = True
    warnings: list[str] = field(default_factory=list)
    store_format: int = STORE_FORMAT  # how the arrays were stored; 1 for JSON files written before the field

    def boxes_array(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes ``[N, 6]``, class indices ``[N]`` and instance ids ``[N]``, ordered by instance id."""
        ids = sorted(self.boxes)
        boxes = np.array([self.boxes[i] for i in ids], dtype=np.float64).reshape(-1, 6)
        return boxes, np.array([self.classes[i] for i in ids], dtype=np.int64), np.array(ids, dtype=np.int64)

    def to_json(self) -> dict:
        return {
            "case_id": self.case_id,
            "split": self.split,
            "fingerprint": self.fingerprint,
            "has_labels": self.has_labels,
            "instances": {str(k): int(v) for k, v in sorted(self.classes.items())},
            "boxes": {str(k): [float(x) for x in v] for k, v in sorted(self.boxes.items())},
            "original_geometry": self.original_geometry.to_dict(),
            "resampled_geometry": self.resampled_geometry.to_dict(),
            "warnings": list(self.warnings),
            "store_format": int(self.store_format),
        }

    @classmethod
    def from_json(cls, obj: dict) -> PreprocessedCaseMeta:
        def geometry(d: dict) -> Geometry:
            return Geometry(
                shape=tuple(int(v) for v in d["shape"]),  # type: ignore[arg-type]
                spacing_xyz=tuple(float(v) for v in d["spacing_xyz"]),  # type: ignore[arg-type]
                origin_xyz=tuple(float(v) for v in d["origin_xyz"]),  # type: ignore[arg-type]
                direction=tuple(float(v) for v in d["direction"]),
            )

        return cls(
            case_id=str(obj["case_id"]),
            split=str(obj["split"]),
            fingerprint=str(obj["fingerprint"]),
            original_geometry=geometry(obj["original_geometry"]),
            resampled_geometry=geometry(obj["resampled_geometry"]),
            classes={int(k): int(v) for k, v in obj.get("instances", {}).items()},
            boxes={int(k): [float(x) for x in v] for k, v in obj.get("boxes", {}).items()},
            has_labels=bool(obj.get("has_labels", True)),
            warnings=list(obj.get("warnings", [])),
            store_format=int(obj.get("store_format", 1)),
        )


def preprocessed_case_ids(out_dir: str | Path) -> list[str]:
    """Ids of the complete cases in a preprocessed folder (metadata JSON and instance map present)."""
    root = Path(out_dir)
    return sorted(
        p.stem for p in root.glob("*.json") if p.stem not in RESERVED_NAMES and seg_file(root, p.stem).is_file()
    )


def image_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}{ARRAY_SUFFIX}"


def seg_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}_seg{ARRAY_SUFFIX}"


def meta_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}.json"


def legacy_files(out_dir: str | Path, case_id: str) -> list[Path]:
    """The uncompressed ``.npy`` files of a case written in store format 1 (those that exist)."""
    root = Path(out_dir)
    paths = (root / f"{case_id}{LEGACY_SUFFIX}", root / f"{case_id}_seg{LEGACY_SUFFIX}")
    return [p for p in paths if p.is_file()]


def legacy_format_message(out_dir: str | Path) -> str:
    return (
        f"{out_dir} was preprocessed with an older storage format (uncompressed .npy, store format 1; this code "
        f"reads format {STORE_FORMAT}, compressed .b2nd): rerun preprocessing with --overwrite "
        "(benchmark preprocess --overwrite, benchmark train --overwrite-preprocessing) or use another folder"
    )


def check_store_format(out_dir: str | Path) -> None:
    """Raise :class:`StoreFormatError` if the folder holds a complete case of the uncompressed format 1."""
    root = Path(out_dir)
    suffix = f"_seg{LEGACY_SUFFIX}"
    for path in root.glob(f"*{suffix}"):
        if meta_file(root, path.name[: -len(suffix)]).is_file():
            raise StoreFormatError(legacy_format_message(root))


def _blocks(shape: Sequence[int], block: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Chunk and block shape: :data:`CHUNK` / ``block`` voxels per spatial axis (clamped), 1 per leading axis."""
    lead = len(shape) - 3
    chunks = (1,) * lead + tuple(max(1, min(CHUNK, int(n))) for n in shape[lead:])
    blocks = (1,) * lead + tuple(min(block, c) for c in chunks[lead:])
    return chunks, blocks


def compress_array(
    array: np.ndarray, block: int, codec: str = CODEC, clevel: int = CLEVEL, chunk: int | None = None
) -> bytes:
    """``array`` as the bytes of a Blosc2 ``.b2nd`` file (a contiguous frame), chunked for patch reads.

    ``chunk`` overrides :data:`CHUNK` (for measurements); decompression by the reader is single-threaded.
    """
    import blosc2

    array = np.ascontiguousarray(array)
    chunks, blocks = _blocks(array.shape, block)
    if chunk is not None:
        lead = array.ndim - 3
        chunks = chunks[:lead] + tuple(max(1, min(int(chunk), int(n))) for n in array.shape[lead:])
        blocks = blocks[:lead] + tuple(min(block, c) for c in chunks[lead:])
    cparams = {"codec": blosc2.Codec[codec.upper()], "clevel": int(clevel), "nthreads": 1}
    return blosc2.asarray(array, chunks=chunks, blocks=blocks, cparams=cparams).to_cframe()


def open_array(path: str | Path) -> Any:
    """Open a ``.b2nd`` file read-only and memory-mapped; returns a ``blosc2.NDArray`` (numpy-style slicing).

    Anything but a plain NDArray (e.g. a lazy expression, which would compute on read) is refused: preprocessed
    folders may come from elsewhere.
    """
    import blosc2

    array = blosc2.open(str(path), mode="r", mmap_mode="r", dparams={"nthreads": 1})
    if type(array) is not blosc2.NDArray:
        raise StoreFormatError(f"{path}: not a Blosc2 NDArray file ({type(array).__name__})")
    return array


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write JSON atomically (:mod:`benchmark.core.atomic`), so readers never see half a file."""
    atomic_write_json(path, obj, indent=1)


def write_preprocessed_case(
    out_dir: str | Path, meta: PreprocessedCaseMeta, image: np.ndarray, instances: np.ndarray
) -> None:
    """Write image, instance map and (last) the metadata of one case; removes its format-1 ``.npy`` files."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if image.ndim != 4 or tuple(image.shape[1:]) != tuple(instances.shape):
        raise ValueError(f"case {meta.case_id}: image {image.shape} and instances {instances.shape} disagree")
    if meta.store_format != STORE_FORMAT:
        raise ValueError(f"case {meta.case_id}: cannot write store format {meta.store_format}, only {STORE_FORMAT}")
    atomic_write_bytes(image_file(out, meta.case_id), compress_array(image, IMAGE_BLOCK))
    atomic_write_bytes(seg_file(out, meta.case_id), compress_array(instances, SEG_BLOCK))
    for path in legacy_files(out, meta.case_id):
        path.unlink(missing_ok=True)
    write_json_atomic(meta_file(out, meta.case_id), meta.to_json())


def read_case_meta(out_dir: str | Path, case_id: str) -> PreprocessedCaseMeta:
    """Read ``<case>.json`` of a preprocessed case."""
    path = meta_file(out_dir, case_id)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: case {case_id!r} has not been preprocessed into {out_dir}")
    return PreprocessedCaseMeta.from_json(json.loads(path.read_text()))


def open_case_arrays(out_dir: str | Path, case_id: str) -> tuple[Any, Any]:
    """Image ``(C, z, y, x)`` and instance map ``(z, y, x)`` of a case, opened read-only (``blosc2.NDArray``).

    They slice like numpy arrays (``image[:, z0:z1, y0:y1, x0:x1]`` returns an ndarray) and decompress only the
    blocks a slice touches; ``image[:]`` gives the whole array.
    """
    image, seg = image_file(out_dir, case_id), seg_file(out_dir, case_id)
    if not (image.is_file() and seg.is_file()) and legacy_files(out_dir, case_id):
        raise StoreFormatError(legacy_format_message(out_dir))
    return open_array(image), open_array(seg)
