"""Ground truth for evaluation: per-case boxes ``[N, 6]`` (voxel frame), 0-based labels, ignore flags.

Any mapping ``case_id -> (boxes, labels)`` or ``(boxes, labels, ignore)`` is accepted by
:func:`as_ground_truth`; :func:`load_ground_truth` builds one from a prepared dataset.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CaseGroundTruth", "GroundTruth", "as_case_ground_truth", "as_ground_truth", "load_ground_truth"]


@dataclass(frozen=True, eq=False)
class CaseGroundTruth:
    """Objects of one case: ``boxes`` ``[N, 6]`` ``(z1, y1, x1, z2, y2, x2)``, ``labels``, ``ignore`` ``[N]``.

    A detection matched to an ignored object counts neither as true nor as false positive, and ignored
    objects do not count towards recall.
    """

    boxes: np.ndarray
    labels: np.ndarray
    ignore: np.ndarray | None = None

    def __post_init__(self) -> None:
        boxes = np.asarray(self.boxes, dtype=np.float64)
        boxes = boxes.reshape(0, 6) if boxes.size == 0 else boxes
        labels = np.asarray(self.labels).reshape(-1)
        if boxes.ndim != 2 or boxes.shape[1] != 6:
            raise ValueError(f"ground-truth boxes must have shape [N, 6], got {list(boxes.shape)}")
        if labels.size and (
            not np.all(np.isfinite(labels.astype(np.float64)))
            or np.any(labels != np.round(labels.astype(np.float64)))
        ):
            raise ValueError("ground-truth labels must be integers (0-based class indices)")
        labels = labels.astype(np.int64)
        ignore = (
            np.zeros(len(labels), bool) if self.ignore is None else np.asarray(self.ignore, bool).reshape(-1)
        )
        if not (len(boxes) == len(labels) == len(ignore)):
            raise ValueError(
                f"ground-truth length mismatch: boxes {len(boxes)}, labels {len(labels)}, "
                f"ignore {len(ignore)}"
            )
        if not np.all(np.isfinite(boxes)):
            raise ValueError("ground-truth boxes contain NaN or inf")
        if np.any(boxes[:, 3:] < boxes[:, :3]):
            raise ValueError("ground-truth boxes are inverted (need z1 <= z2, y1 <= y2, x1 <= x2)")
        if np.any(labels < 0):
            raise ValueError("ground-truth labels must be >= 0")
        object.__setattr__(self, "boxes", boxes)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "ignore", ignore)

    def __len__(self) -> int:
        return len(self.labels)


GroundTruth = Mapping[str, CaseGroundTruth]


def as_case_ground_truth(obj: Any, case_id: str = "?", num_classes: int | None = None) -> CaseGroundTruth:
    """Coerce a :class:`CaseGroundTruth` or ``(boxes, labels[, ignore])``; ValueError naming the case."""
    try:
        if isinstance(obj, CaseGroundTruth):
            gt = obj
        elif isinstance(obj, (tuple, list)) and len(obj) in (2, 3):
            gt = CaseGroundTruth(*obj)
        else:
            raise ValueError(
                f"expected CaseGroundTruth or (boxes, labels[, ignore]), got {type(obj).__name__}"
            )
    except ValueError as err:
        raise ValueError(f"ground truth of case {case_id!r}: {err}") from None
    if num_classes is not None and np.any(gt.labels >= num_classes):
        raise ValueError(
            f"ground truth of case {case_id!r}: label {int(gt.labels.max())} out of range "
            f"(valid: 0..{num_classes - 1})"
        )
    return gt


def as_ground_truth(
    ground_truth: Mapping[str, Any], num_classes: int | None = None
) -> dict[str, CaseGroundTruth]:
    """Validate a mapping ``case_id -> ground truth`` (order is kept; it defines the image order)."""
    if not isinstance(ground_truth, Mapping):
        raise ValueError(
            f"ground truth must be a mapping case_id -> (boxes, labels), got {type(ground_truth)}"
        )
    return {str(cid): as_case_ground_truth(v, str(cid), num_classes) for cid, v in ground_truth.items()}


def load_ground_truth(dataset_root: str | Path, case_ids: Iterable[str]) -> dict[str, CaseGroundTruth]:
    """Boxes and classes of ``case_ids`` from a prepared dataset (``docs/dataset-format.md``).

    Reads only the label files (instance map + ``{"instances": {id: class}}``), never the images, and boxes
    every instance with :func:`benchmark.core.conventions.boxes_from_instances` (detbench voxel frame).
    """
    import SimpleITK as sitk

    from benchmark.core.conventions import boxes_from_instances
    from benchmark.data import format as fmt

    dataset = fmt.PreparedDataset(dataset_root)
    num_classes = len(dataset.meta.classes)
    out: dict[str, CaseGroundTruth] = {}
    for cid in case_ids:
        split = dataset.splits.split_of(cid)
        lpath = fmt.label_path(dataset.root, cid, split)
        if not lpath.is_file():
            raise FileNotFoundError(
                f"case {cid!r}: no label file {lpath}; cannot evaluate a case without labels"
            )
        instances = sitk.GetArrayFromImage(fmt.read_nifti(lpath))
        classes = fmt.read_instance_classes(fmt.label_json_path(dataset.root, cid, split))
        boxes = boxes_from_instances(instances)
        unlabelled = sorted(set(boxes) - set(classes))
        if unlabelled:
            raise ValueError(
                f"case {cid!r}: instances {unlabelled} of the label map have no class in its .json"
            )
        ids = sorted(boxes)  # ids listed in the .json but absent from the map have no box and are skipped
        out[str(cid)] = as_case_ground_truth(
            (np.stack([boxes[i] for i in ids]) if ids else np.zeros((0, 6)), [classes[i] for i in ids]),
            str(cid),
            num_classes,
        )
    return out
