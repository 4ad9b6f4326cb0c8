"""Prediction files: the typed per-case predictions and the JSON format of ``docs/predictions-format.md``.

:func:`load_predictions` validates a whole file and raises one :class:`PredictionFormatError` that names every
offending case (unknown or missing case ids, NaN/inf, inverted boxes, labels out of range, length mismatch).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_json

__all__ = [
    "FORMAT_VERSION",
    "CasePrediction",
    "PredictionFormatError",
    "PredictionSet",
    "as_case_prediction",
    "load_predictions",
    "parse_predictions",
    "save_predictions",
]

FORMAT_VERSION = 1
SUPPORTED_VERSIONS = (1,)
TOP_LEVEL_KEYS = ("format_version", "dataset", "cases", "metadata")
CASE_KEYS = ("boxes", "scores", "labels", "centers_world", "boxes_world")
MAX_LISTED_PROBLEMS = 20


class PredictionFormatError(ValueError):
    """A prediction file or object that breaks the format; the message lists every problem found."""


def _as_float_array(value: Any, name: str, width: int | None, problems: list[str]) -> np.ndarray | None:
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        problems.append(f"{name} must be numbers")
        return None
    if arr.size == 0 and width is not None:
        arr = arr.reshape(0, width)
    expected = "[N]" if width is None else f"[N, {width}]"
    if (width is None and arr.ndim != 1) or (width is not None and (arr.ndim != 2 or arr.shape[1] != width)):
        problems.append(f"{name} must have shape {expected}, got {list(arr.shape)}")
        return None
    if not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr).reshape(len(arr), -1).all(axis=1))
        problems.append(f"{name} contain NaN or inf (entries {_few(bad)})")
    return arr


def _few(idx: Sequence[int] | np.ndarray, n: int = 5) -> str:
    idx = [int(i) for i in idx]
    return ", ".join(map(str, idx[:n])) + (f", ... ({len(idx)} in all)" if len(idx) > n else "")


def _check_box_order(boxes: np.ndarray, name: str, problems: list[str], axes: str) -> None:
    inverted = boxes[:, 3:] < boxes[:, :3]
    if inverted.any():
        rows = np.flatnonzero(inverted.any(axis=1))
        first = int(rows[0])
        axis = axes[int(np.flatnonzero(inverted[first])[0])]
        order = ", ".join([f"{a}1" for a in axes] + [f"{a}2" for a in axes])
        problems.append(
            f"{name} {_few(rows)} inverted ({axis}2 < {axis}1, e.g. {boxes[first].tolist()}); "
            f"{name} are ({order}), minima first"
        )


def _case_problems(
    boxes: Any,
    scores: Any,
    labels: Any,
    num_classes: int | None,
    centers_world: Any = None,
    boxes_world: Any = None,
) -> tuple[list[str], dict[str, np.ndarray | None]]:
    problems: list[str] = []
    b = _as_float_array(boxes, "boxes", 6, problems)
    s = _as_float_array(scores, "scores", None, problems)
    lab = _as_float_array(labels, "labels", None, problems)
    if b is not None and np.isfinite(b).all():
        _check_box_order(b, "boxes", problems, "zyx")
    lab_int = None
    if lab is not None and np.isfinite(lab).all():
        if np.any(lab != np.round(lab)):
            problems.append("labels must be integers (0-based class indices)")
        else:
            lab_int = lab.astype(np.int64)
            out_of_range = lab_int < 0
            if num_classes is not None:
                out_of_range |= lab_int >= num_classes
            bad = np.flatnonzero(out_of_range)
            if len(bad):
                valid = f"0..{num_classes - 1}" if num_classes else "non-negative"
                problems.append(f"labels out of range at {_few(bad)} (got {lab_int[bad[0]]}, valid: {valid})")
    lengths = {k: len(v) for k, v in (("boxes", b), ("scores", s), ("labels", lab)) if v is not None}
    cw = bw = None
    if centers_world is not None:
        cw = _as_float_array(centers_world, "centers_world", 3, problems)
        if cw is not None:
            lengths["centers_world"] = len(cw)
    if boxes_world is not None:
        bw = _as_float_array(boxes_world, "boxes_world", 6, problems)
        if bw is not None:
            lengths["boxes_world"] = len(bw)
            if np.isfinite(bw).all():
                _check_box_order(bw, "boxes_world", problems, "xyz")
    if len(set(lengths.values())) > 1:
        problems.append("length mismatch: " + ", ".join(f"{k} {n}" for k, n in lengths.items()))
    arrays = {"boxes": b, "scores": s, "labels": lab_int, "centers_world": cw, "boxes_world": bw}
    return problems, arrays


@dataclass(frozen=True, eq=False)
class CasePrediction:
    """Detections of one case: ``boxes`` ``[N, 6]`` (voxel frame), ``scores`` and 0-based ``labels`` ``[N]``.

    Optional ``centers_world`` ``[N, 3]`` are ``(x, y, z)`` mm and ``boxes_world`` ``[N, 6]`` are
    ``(x1, y1, z1, x2, y2, z2)`` mm (the axis-aligned world bounds), for protocols that score in millimetres.
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    centers_world: np.ndarray | None = None
    boxes_world: np.ndarray | None = None

    def __post_init__(self) -> None:
        problems, arrays = _case_problems(
            self.boxes, self.scores, self.labels, None, self.centers_world, self.boxes_world
        )
        if problems:
            raise PredictionFormatError("invalid case prediction: " + "; ".join(problems))
        for key, arr in arrays.items():
            object.__setattr__(self, key, arr)

    def __len__(self) -> int:
        return len(self.scores)

    @classmethod
    def empty(cls) -> CasePrediction:
        return cls(np.zeros((0, 6)), np.zeros(0), np.zeros(0, dtype=np.int64))

    def to_dict(self) -> dict[str, list]:
        out = {"boxes": self.boxes.tolist(), "scores": self.scores.tolist(), "labels": self.labels.tolist()}
        if self.centers_world is not None:
            out["centers_world"] = self.centers_world.tolist()
        if self.boxes_world is not None:
            out["boxes_world"] = self.boxes_world.tolist()
        return out


def as_case_prediction(obj: Any, case_id: str = "?", num_classes: int | None = None) -> CasePrediction:
    """Coerce a :class:`CasePrediction`, a mapping with the JSON keys, or a ``(boxes, scores, labels)`` tuple.

    Validates once; ``num_classes`` adds the label range check. Errors name ``case_id``.
    """
    if isinstance(obj, CasePrediction):  # already validated; only the label range is new
        if num_classes is not None and len(obj) and (obj.labels.min() < 0 or obj.labels.max() >= num_classes):
            bad = np.flatnonzero((obj.labels < 0) | (obj.labels >= num_classes))
            raise PredictionFormatError(
                f"case {case_id!r}: labels out of range at {_few(bad)} "
                f"(got {obj.labels[bad[0]]}, valid: 0..{num_classes - 1})"
            )
        return obj
    if isinstance(obj, Mapping):
        unknown = sorted(set(obj) - set(CASE_KEYS))
        if unknown:
            raise PredictionFormatError(
                f"case {case_id!r}: unknown keys {unknown}; valid keys: {', '.join(CASE_KEYS)}"
            )
        missing = [k for k in ("boxes", "scores", "labels") if k not in obj]
        if missing:
            raise PredictionFormatError(f"case {case_id!r}: missing keys {missing}")
        fields = {k: obj.get(k) for k in CASE_KEYS}
    elif isinstance(obj, (tuple, list)) and len(obj) == 3:
        fields = {
            "boxes": obj[0],
            "scores": obj[1],
            "labels": obj[2],
            "centers_world": None,
            "boxes_world": None,
        }
    else:
        raise PredictionFormatError(
            f"case {case_id!r}: expected a CasePrediction, a mapping or (boxes, scores, labels), "
            f"got {type(obj).__name__}"
        )
    problems, arrays = _case_problems(num_classes=num_classes, **fields)
    if problems:
        raise PredictionFormatError(f"case {case_id!r}: " + "; ".join(problems))
    checked = object.__new__(CasePrediction)  # skip __post_init__: the arrays were just validated
    for key, arr in arrays.items():
        object.__setattr__(checked, key, arr)
    return checked


@dataclass(frozen=True, eq=False)
class PredictionSet:
    """All predictions of one model on one dataset split, keyed by case id."""

    dataset: str
    cases: dict[str, CasePrediction]
    format_version: int = FORMAT_VERSION
    metadata: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.cases)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "dataset": self.dataset,
            "metadata": dict(self.metadata),
            "cases": {cid: case.to_dict() for cid, case in self.cases.items()},
        }


def _raise_problems(problems: list[str], source: str) -> None:
    if not problems:
        return
    shown = problems[:MAX_LISTED_PROBLEMS]
    more = f"\n  ... and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
    raise PredictionFormatError(f"{source}: {len(problems)} problem(s):\n  " + "\n  ".join(shown) + more)


def parse_predictions(
    obj: Any,
    case_ids: Iterable[str] | None = None,
    num_classes: int | None = None,
    allow_missing: bool = False,
    source: str = "predictions",
) -> PredictionSet:
    """Validate a decoded JSON object and return a :class:`PredictionSet`.

    ``case_ids`` are the ground-truth cases: a predicted case outside them is an error, and so is a
    ground-truth case without predictions unless ``allow_missing`` (it then counts as no detections).
    """
    if not isinstance(obj, Mapping):
        raise PredictionFormatError(f"{source}: top level must be a JSON object, got {type(obj).__name__}")
    problems: list[str] = []
    unknown = sorted(set(obj) - set(TOP_LEVEL_KEYS))
    if unknown:
        problems.append(f"unknown top-level keys {unknown}; valid keys: {', '.join(TOP_LEVEL_KEYS)}")
    version = obj.get("format_version")
    if version not in SUPPORTED_VERSIONS or isinstance(version, bool):
        problems.append(f"format_version must be one of {list(SUPPORTED_VERSIONS)}, got {version!r}")
    dataset = obj.get("dataset")
    if not isinstance(dataset, str) or not dataset:
        problems.append(f"dataset must be a non-empty string (a dataset id such as 'D07'), got {dataset!r}")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, Mapping):
        problems.append(f"metadata must be an object, got {type(metadata).__name__}")
    raw_cases = obj.get("cases")
    if not isinstance(raw_cases, Mapping):
        problems.append(
            f"cases must be an object mapping case id -> predictions, got {type(raw_cases).__name__}"
        )
        _raise_problems(problems, source)
    known = None if case_ids is None else list(case_ids)
    if known is not None:
        known_set = set(known)
        extra = [c for c in raw_cases if c not in known_set]
        if extra:
            problems.append(
                f"{len(extra)} case id(s) not in the ground truth: {', '.join(map(repr, extra[:10]))}"
                + (" ..." if len(extra) > 10 else "")
            )
        absent = [c for c in known if c not in raw_cases]
        if absent and not allow_missing:
            problems.append(
                f"{len(absent)} ground-truth case(s) have no predictions: {', '.join(map(repr, absent[:10]))}"
                + (" ..." if len(absent) > 10 else "")
                + " (write an empty case, or use allow_missing / --allow-missing to count them as"
                " no detections)"
            )
    cases: dict[str, CasePrediction] = {}
    for cid, raw in raw_cases.items():
        try:
            cases[str(cid)] = as_case_prediction(raw, str(cid), num_classes)
        except PredictionFormatError as err:
            problems.append(str(err))
    _raise_problems(problems, source)
    if known is not None and allow_missing:
        for cid in known:
            cases.setdefault(cid, CasePrediction.empty())
    return PredictionSet(dataset=dataset, cases=cases, format_version=int(version), metadata=dict(metadata))


def load_predictions(
    path: str | Path,
    case_ids: Iterable[str] | None = None,
    num_classes: int | None = None,
    allow_missing: bool = False,
) -> PredictionSet:
    """Read and validate a prediction JSON file (see ``docs/predictions-format.md``)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"prediction file not found: {path}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))  # NaN/Infinity parse, so validation can name the case
    except json.JSONDecodeError as err:
        raise PredictionFormatError(f"{path}: not valid JSON ({err})") from None
    except UnicodeDecodeError:
        raise PredictionFormatError(f"{path}: not a UTF-8 text file (expected prediction JSON)") from None
    return parse_predictions(obj, case_ids, num_classes, allow_missing, source=str(path))


def save_predictions(path: str | Path, predictions: PredictionSet) -> Path:
    """Write ``predictions`` as JSON (refuses non-finite values, which JSON cannot carry)."""
    for cid, case in predictions.cases.items():
        if not (np.isfinite(case.scores).all() and np.isfinite(case.boxes).all()):
            raise PredictionFormatError(f"case {cid!r}: NaN or inf cannot be written to JSON")
    path = Path(path)
    return atomic_write_json(path, predictions.to_dict(), indent=None, allow_nan=False)
