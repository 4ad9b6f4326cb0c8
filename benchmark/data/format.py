"""Reader and writer of the canonical prepared-dataset format (docs/dataset-format.md).

Layout (nnDetection's ``raw_splitted`` layout plus two JSON files)::

    ROOT/dataset.json                      name, id, modalities, classes, annotation kind, provenance
    ROOT/splits.json                       official train/val/test (+external_test) ids and CV folds
    ROOT/imagesTr/<case>_<CCCC>.nii.gz     one file per channel (train and val cases)
    ROOT/labelsTr/<case>.nii.gz            instance map: 0 background, 1..N objects
    ROOT/labelsTr/<case>.json              {"instances": {"1": 0, ...}}  instance id -> class index
    ROOT/imagesTs/, ROOT/labelsTs/         the same for test and external-test cases

Arrays follow :mod:`benchmark.core.conventions` (``(z, y, x)``; images ``(C, z, y, x)``).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.core.atomic import atomic_write_json
from benchmark.core.conventions import Geometry, boxes_from_instances
from benchmark.data.integrity import image_file_problem

FORMAT_VERSION = 1
FILE_ENDING = ".nii.gz"
SPLIT_NAMES = ("train", "val", "test", "external_test")
FOLD_KEYS = ("train", "val", "test")
TEST_SPLITS = ("test", "external_test")
ANNOTATION_KINDS = ("masks", "boxes")


class DatasetFormatError(ValueError):
    """A prepared dataset that does not follow the canonical format; the message says how to fix it."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetFormatError(f"{path}: file is missing") from None
    except IsADirectoryError:
        raise DatasetFormatError(f"{path}: is a folder, expected a JSON file") from None
    except PermissionError:
        raise DatasetFormatError(f"{path}: permission denied") from None
    except UnicodeDecodeError:
        raise DatasetFormatError(f"{path}: not a UTF-8 text file (expected JSON)") from None
    except json.JSONDecodeError as err:
        raise DatasetFormatError(f"{path}: not valid JSON ({err.msg} at line {err.lineno})") from None


def _write_json(path: Path, obj: Any) -> None:
    atomic_write_json(path, obj, indent=2, sort_keys=False)


@dataclass
class DatasetMeta:
    """Contents of ``dataset.json``."""

    name: str
    dataset_id: str
    modalities: list[str]
    classes: list[str]
    annotation: str = "masks"
    provenance: dict = field(default_factory=dict)
    version: str = "1"
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.annotation not in ANNOTATION_KINDS:
            raise DatasetFormatError(
                f"dataset.json: annotation must be one of {ANNOTATION_KINDS}, got {self.annotation!r}"
            )
        if not self.modalities:
            raise DatasetFormatError("dataset.json: 'modalities' must list at least one channel")
        if not self.classes:
            raise DatasetFormatError("dataset.json: 'labels' must list at least one class")

    @property
    def num_channels(self) -> int:
        return len(self.modalities)

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "name": self.name,
            "dataset_id": self.dataset_id,
            "version": self.version,
            "dim": 3,
            "modalities": {str(i): m for i, m in enumerate(self.modalities)},
            "labels": {str(i): c for i, c in enumerate(self.classes)},
            "annotation": self.annotation,
            "file_ending": FILE_ENDING,
            "provenance": self.provenance,
        }

    @classmethod
    def from_json(cls, obj: dict, source: str = "dataset.json") -> DatasetMeta:
        if not isinstance(obj, dict):
            raise DatasetFormatError(f"{source}: expected a JSON object")
        missing = [k for k in ("name", "modalities", "labels") if k not in obj]
        if missing:
            raise DatasetFormatError(f"{source}: missing required field(s) {missing}")

        def ordered(d: Any, what: str) -> list[str]:
            if not isinstance(d, dict) or not d:
                raise DatasetFormatError(f"{source}: '{what}' must be a non-empty object {{'0': ...}}")
            try:
                keys = sorted(int(k) for k in d)
            except ValueError:
                raise DatasetFormatError(f"{source}: '{what}' keys must be integers, got {list(d)}") from None
            if keys != list(range(len(keys))):
                raise DatasetFormatError(f"{source}: '{what}' keys must be 0..{len(keys) - 1}, got {keys}")
            return [str(d[str(k)]) for k in keys]

        fv = obj.get("format_version", FORMAT_VERSION)
        if fv != FORMAT_VERSION:
            raise DatasetFormatError(f"{source}: format_version {fv} is not supported (expected {FORMAT_VERSION})")
        if not isinstance(obj.get("provenance", {}), dict):
            raise DatasetFormatError(f"{source}: 'provenance' must be an object")
        return cls(
            name=str(obj["name"]),
            dataset_id=str(obj.get("dataset_id", obj["name"])),
            modalities=ordered(obj["modalities"], "modalities"),
            classes=ordered(obj["labels"], "labels"),
            annotation=str(obj.get("annotation", "masks")),
            provenance=dict(obj.get("provenance", {})),
            version=str(obj.get("version", "1")),
            format_version=int(fv),
        )


@dataclass
class Splits:
    """Contents of ``splits.json``: official splits and optional cross-validation folds."""

    train: list[str]
    val: list[str]
    test: list[str]
    external_test: list[str] = field(default_factory=list)
    folds: list[dict[str, list[str]]] = field(default_factory=list)
    version: str = "1"

    def problems(self) -> list[str]:
        """Every structural problem (empty splits, overlaps, duplicate ids, malformed folds)."""
        out: list[str] = []
        for name in ("train", "test"):
            if not getattr(self, name):
                out.append(f"split '{name}' is empty")
        seen: dict[str, str] = {}
        for name in SPLIT_NAMES:
            ids = getattr(self, name)
            dup = sorted(i for i, n in Counter(ids).items() if n > 1)
            if dup:
                out.append(f"split '{name}' lists case(s) more than once: {dup[:5]}")
            for i in ids:
                if i in seen and seen[i] != name:
                    out.append(f"case '{i}' is in both split '{seen[i]}' and split '{name}'")
                seen.setdefault(i, name)
        pool = set(self.train) | set(self.val)
        every = set(self.all_ids())
        for k, fold in enumerate(self.folds):
            if not isinstance(fold, dict) or not {"train", "val"} <= set(fold) or set(fold) - set(FOLD_KEYS):
                out.append(f"fold {k} must be an object with 'train' and 'val' lists (and optionally 'test')")
                continue
            if not fold["train"]:
                out.append(f"fold {k} has an empty 'train' list")
            parts = {name: set(fold.get(name, [])) for name in FOLD_KEYS}
            for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
                both = sorted(parts[a] & parts[b])
                if both:
                    out.append(f"fold {k}: case(s) in both {a} and {b}: {both[:5]}")
            if "test" in fold:  # whole-dataset rotation (e.g. LUNA16's ten subsets): any case of the dataset
                outside = sorted(set().union(*parts.values()) - every)
                where = "the dataset"
            else:  # cross-validation inside the official train/val pool
                outside = sorted((parts["train"] | parts["val"]) - pool)
                where = "the official train/val pool"
            if outside:
                out.append(f"fold {k}: case(s) not in {where}: {outside[:5]}")
        return out

    def check(self, source: str = "splits.json") -> None:
        probs = self.problems()
        if probs:
            raise DatasetFormatError(f"{source}: " + "; ".join(probs))

    def all_ids(self) -> list[str]:
        return [i for name in SPLIT_NAMES for i in getattr(self, name)]

    def split_of(self, case_id: str) -> str:
        for name in SPLIT_NAMES:
            if case_id in getattr(self, name):
                return name
        raise DatasetFormatError(f"case '{case_id}' is in no split of splits.json")

    def get(self, name: str) -> list[str]:
        if name not in SPLIT_NAMES:
            raise ValueError(f"Unknown split {name!r}. Valid splits: {', '.join(SPLIT_NAMES)}")
        return list(getattr(self, name))

    def fold(self, k: int) -> dict[str, list[str]]:
        if not self.folds:
            raise DatasetFormatError("splits.json defines no cross-validation folds")
        if not 0 <= k < len(self.folds):
            raise DatasetFormatError(f"fold {k} does not exist: splits.json defines folds 0..{len(self.folds) - 1}")
        return self.folds[k]

    def to_json(self) -> dict:
        obj: dict[str, Any] = {"version": self.version}
        for name in SPLIT_NAMES:
            obj[name] = list(getattr(self, name))
        obj["folds"] = self.folds
        return obj

    @classmethod
    def from_json(cls, obj: Any, source: str = "splits.json") -> Splits:
        if not isinstance(obj, dict):
            raise DatasetFormatError(f"{source}: expected a JSON object with train/val/test lists")
        missing = [k for k in ("train", "val", "test") if k not in obj]
        if missing:
            raise DatasetFormatError(f"{source}: missing split(s) {missing}")
        for name in SPLIT_NAMES:
            v = obj.get(name, [])
            if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
                raise DatasetFormatError(f"{source}: split '{name}' must be a list of case id strings")
        folds = obj.get("folds", [])
        if not isinstance(folds, list):
            raise DatasetFormatError(
                f"{source}: 'folds' must be a list of {{'train': [...], 'val': [...], optional 'test': [...]}}"
            )
        return cls(
            train=list(obj["train"]),
            val=list(obj["val"]),
            test=list(obj["test"]),
            external_test=list(obj.get("external_test", [])),
            folds=folds,
            version=str(obj.get("version", "1")),
        )


@dataclass
class Case:
    """One case in memory: image ``(C, z, y, x)`` float32, instance map ``(z, y, x)``, instance classes."""

    case_id: str
    image: np.ndarray
    geometry: Geometry
    instances: np.ndarray | None = None
    classes: dict[int, int] = field(default_factory=dict)

    def boxes(self) -> tuple[np.ndarray, np.ndarray]:
        """Ground-truth boxes ``[N, 6]`` (voxel frame) and class indices ``[N]``, ordered by instance id."""
        if self.instances is None:
            return np.zeros((0, 6)), np.zeros((0,), dtype=np.int64)
        found = boxes_from_instances(self.instances)
        ids = sorted(found)
        boxes = np.stack([found[i] for i in ids]) if ids else np.zeros((0, 6))
        labels = np.array([self.classes[i] for i in ids], dtype=np.int64)
        return boxes, labels


def _subset_dir(split: str) -> str:
    return "Ts" if split in TEST_SPLITS else "Tr"


def image_path(root: Path, case_id: str, channel: int, split: str) -> Path:
    return Path(root) / f"images{_subset_dir(split)}" / f"{case_id}_{channel:04d}{FILE_ENDING}"


def label_path(root: Path, case_id: str, split: str) -> Path:
    return Path(root) / f"labels{_subset_dir(split)}" / f"{case_id}{FILE_ENDING}"


def label_json_path(root: Path, case_id: str, split: str) -> Path:
    return Path(root) / f"labels{_subset_dir(split)}" / f"{case_id}.json"


def read_image(path: str | Path):  # noqa: ANN201 - returns SimpleITK.Image
    """Read one image with SimpleITK (any format it reads), after the integrity check.

    Missing, truncated and corrupt files raise a one-line :class:`DatasetFormatError` naming the file (see
    :mod:`benchmark.data.integrity`: ITK itself reads a truncated file as zeros without an error).
    """
    import SimpleITK as sitk

    path = Path(path)
    problem = image_file_problem(path)
    if problem:
        raise DatasetFormatError(f"{path}: {problem}")
    try:
        return sitk.ReadImage(str(path))
    except RuntimeError as err:
        raise DatasetFormatError(f"{path}: unreadable or corrupt image ({sitk_error_line(err)})") from None


def read_nifti(path: str | Path):  # noqa: ANN201 - returns SimpleITK.Image
    """Read one image of a prepared dataset (see :func:`read_image`)."""
    return read_image(path)


def read_image_header(path: str | Path) -> Geometry:
    """Geometry of an image from its header only, after the integrity check (no voxel data is decoded)."""
    import SimpleITK as sitk

    path = Path(path)
    problem = image_file_problem(path)
    if problem:
        raise DatasetFormatError(f"{path}: {problem}")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise DatasetFormatError(f"{path}: unreadable or corrupt image ({sitk_error_line(err)})") from None
    if reader.GetDimension() != 3:
        raise DatasetFormatError(f"{path}: expected a 3-D image, got {reader.GetDimension()}-D")
    size = reader.GetSize()
    return Geometry(
        shape=(int(size[2]), int(size[1]), int(size[0])),
        spacing_xyz=tuple(float(v) for v in reader.GetSpacing()),  # type: ignore[arg-type]
        origin_xyz=tuple(float(v) for v in reader.GetOrigin()),  # type: ignore[arg-type]
        direction=tuple(float(v) for v in reader.GetDirection()),
    )


def sitk_error_line(err: BaseException) -> str:
    """The informative last line of a SimpleITK exception (its message starts with C++ source locations)."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    if not lines:
        return "unreadable"
    line = lines[-1]
    for prefix in ("sitk::ERROR: ", "ITK ERROR: "):
        if line.startswith(prefix):
            line = line[len(prefix) :]
    return line


def write_nifti(path: Path, array: np.ndarray, geometry: Geometry) -> None:
    """Write an image atomically: SimpleITK writes a temporary file next to ``path``, which then replaces it.

    An interrupted write never leaves a half file under the final name (resumable writers test for it).
    """
    import os
    import uuid

    import SimpleITK as sitk

    img = sitk.GetImageFromArray(array)
    geometry.apply_to_sitk(img)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stem = path.name[: -len(FILE_ENDING)] if path.name.endswith(FILE_ENDING) else path.stem
    suffix = FILE_ENDING if path.name.endswith(FILE_ENDING) else path.suffix
    tmp = path.with_name(f".{stem}.{uuid.uuid4().hex[:12]}.tmp{suffix}")  # the suffix picks the file format
    try:
        sitk.WriteImage(img, str(tmp), useCompression=True)
        os.replace(tmp, path)
    except RuntimeError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(f"{path}: cannot be written ({sitk_error_line(err)})") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_instance_classes(path: Path) -> dict[int, int]:
    obj = _read_json(path)
    if not isinstance(obj, dict) or not isinstance(obj.get("instances"), dict):
        raise DatasetFormatError(f"{path}: expected {{'instances': {{'1': 0, ...}}}} (instance id -> class index)")
    try:
        return {int(k): int(v) for k, v in obj["instances"].items()}
    except (TypeError, ValueError):
        raise DatasetFormatError(f"{path}: instance ids and class indices must be integers") from None


def write_case(root: Path, case: Case, split: str) -> None:
    """Write a case's channels, instance map and instance classes into ``root`` for ``split``."""
    if split not in SPLIT_NAMES:
        raise ValueError(f"Unknown split {split!r}. Valid splits: {', '.join(SPLIT_NAMES)}")
    image = np.asarray(case.image)
    if image.ndim != 4:
        raise ValueError(f"case {case.case_id}: image must be (C, z, y, x), got shape {image.shape}")
    if tuple(image.shape[1:]) != tuple(case.geometry.shape):
        raise ValueError(f"case {case.case_id}: image shape {image.shape[1:]} != geometry {case.geometry.shape}")
    for c in range(image.shape[0]):
        write_nifti(image_path(root, case.case_id, c, split), image[c].astype(np.float32), case.geometry)
    if case.instances is not None:
        inst = np.asarray(case.instances)
        dtype = np.uint8 if inst.max(initial=0) < 256 else np.uint16
        write_nifti(label_path(root, case.case_id, split), inst.astype(dtype), case.geometry)
        _write_json(
            label_json_path(root, case.case_id, split),
            {"instances": {str(k): int(v) for k, v in sorted(case.classes.items())}},
        )


def write_dataset_files(root: Path, meta: DatasetMeta, splits: Splits) -> None:
    """Write ``dataset.json`` and ``splits.json`` (splits are checked first)."""
    splits.check()
    _write_json(Path(root) / "dataset.json", meta.to_json())
    _write_json(Path(root) / "splits.json", splits.to_json())


class PreparedDataset:
    """A prepared dataset on disk: metadata, splits and lazy case access."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise DatasetFormatError(f"{self.root}: not a directory (expected a prepared dataset)")
        self.meta = DatasetMeta.from_json(_read_json(self.root / "dataset.json"), str(self.root / "dataset.json"))
        self.splits = Splits.from_json(_read_json(self.root / "splits.json"), str(self.root / "splits.json"))
        problems = self.splits.problems()  # overlapping splits would leak test cases into training
        if problems:
            raise DatasetFormatError(
                f"{self.root / 'splits.json'}: " + "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
                + ". Fix splits.json: every case in exactly one split, train and test not empty "
                "(`benchmark validate-dataset` lists every problem)"
            )

    def case_ids(self, split: str | None = None) -> list[str]:
        return self.splits.all_ids() if split is None else self.splits.get(split)

    def load_geometry(self, case_id: str) -> Geometry:
        split = self.splits.split_of(case_id)
        return Geometry.from_sitk(read_nifti(image_path(self.root, case_id, 0, split)))

    def load_case(self, case_id: str, with_label: bool = True) -> Case:
        """Read a case (all channels; its labels when present and ``with_label``)."""
        import SimpleITK as sitk

        split = self.splits.split_of(case_id)
        channels, geometry = [], None
        for c in range(self.meta.num_channels):
            img = read_nifti(image_path(self.root, case_id, c, split))
            geometry = geometry or Geometry.from_sitk(img)
            channels.append(sitk.GetArrayFromImage(img).astype(np.float32))
        case = Case(case_id=case_id, image=np.stack(channels), geometry=geometry)
        lpath = label_path(self.root, case_id, split)
        if with_label and lpath.is_file():
            case.instances = sitk.GetArrayFromImage(read_nifti(lpath)).astype(np.int32)
            case.classes = read_instance_classes(label_json_path(self.root, case_id, split))
        return case

    def __repr__(self) -> str:
        return f"PreparedDataset({str(self.root)!r}, name={self.meta.name!r}, cases={len(self.case_ids())})"
