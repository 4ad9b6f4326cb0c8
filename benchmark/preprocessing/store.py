"""On-disk layout of a preprocessed dataset, built for fast random patch reads.

::

    OUT/plans.json               the Plan
    OUT/dataset.json, splits.json copies of the source dataset's files (the folder is self-describing)
    OUT/<case>.npy               image (C, z, y, x), plan.image_dtype (float32 by default), C order
    OUT/<case>_seg.npy           instance map (z, y, x) int16 (int32 beyond 32767 instances); zeros without labels
    OUT/<case>.json              PreprocessedCaseMeta: classes, boxes, geometries, fingerprint, warnings
    OUT/preprocess_report.json   the report of the last run

Arrays are plain ``.npy`` files opened with ``np.load(mmap_mode="r")``: a random patch read touches only the
pages it needs and costs no decompression (measured against chunked compressed zarr/Blosc in
docs/preprocessing.md). The JSON is written last and atomically, so its presence marks a complete case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from benchmark.core.atomic import atomic_write, atomic_write_json
from benchmark.core.conventions import Geometry

REPORT_FILE = "preprocess_report.json"
RESERVED_NAMES = frozenset({"plans", "dataset", "splits", "preprocess_report"})  # folder-level JSON files


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
        )


def preprocessed_case_ids(out_dir: str | Path) -> list[str]:
    """Ids of the complete cases in a preprocessed folder (metadata JSON and instance map present)."""
    root = Path(out_dir)
    return sorted(
        p.stem for p in root.glob("*.json") if p.stem not in RESERVED_NAMES and seg_file(root, p.stem).is_file()
    )


def image_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}.npy"


def seg_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}_seg.npy"


def meta_file(out_dir: str | Path, case_id: str) -> Path:
    return Path(out_dir) / f"{case_id}.json"


def _save_npy_atomic(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, np.ascontiguousarray(array)))


def write_json_atomic(path: Path, obj: dict) -> None:
    """Write JSON atomically (:mod:`benchmark.core.atomic`), so readers never see half a file."""
    atomic_write_json(path, obj, indent=1)


def write_preprocessed_case(
    out_dir: str | Path, meta: PreprocessedCaseMeta, image: np.ndarray, instances: np.ndarray
) -> None:
    """Write image, instance map and (last) the metadata of one case."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if image.ndim != 4 or tuple(image.shape[1:]) != tuple(instances.shape):
        raise ValueError(f"case {meta.case_id}: image {image.shape} and instances {instances.shape} disagree")
    _save_npy_atomic(image_file(out, meta.case_id), image)
    _save_npy_atomic(seg_file(out, meta.case_id), instances)
    write_json_atomic(meta_file(out, meta.case_id), meta.to_json())


def read_case_meta(out_dir: str | Path, case_id: str) -> PreprocessedCaseMeta:
    """Read ``<case>.json`` of a preprocessed case."""
    path = meta_file(out_dir, case_id)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: case {case_id!r} has not been preprocessed into {out_dir}")
    return PreprocessedCaseMeta.from_json(json.loads(path.read_text()))


def open_case_arrays(out_dir: str | Path, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Memory-mapped (read-only) image ``(C, z, y, x)`` and instance map ``(z, y, x)`` of a case."""
    return (
        np.load(image_file(out_dir, case_id), mmap_mode="r"),
        np.load(seg_file(out_dir, case_id), mmap_mode="r"),
    )
