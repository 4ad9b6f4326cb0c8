"""Validator of prepared datasets: reports every problem with the case it concerns, never a traceback.

Checked: dataset.json and splits.json parse and are well-formed; splits are non-empty, disjoint and refer to
existing cases; every case has all channels and a label map with its instance-class JSON; channels and label
share one geometry (size, spacing, origin, direction); voxels are finite; every instance has a class in range
and every listed instance has voxels; box-only datasets store box-shaped instances.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry
from benchmark.data.format import (
    FILE_ENDING,
    SPLIT_NAMES,
    DatasetFormatError,
    DatasetMeta,
    PreparedDataset,
    Splits,
    _read_json,
    image_path,
    label_json_path,
    label_path,
    read_image_header,
    read_instance_classes,
    read_nifti,
)
from benchmark.data.integrity import gzip_stream_problem

DATASET_LEVEL = "(dataset)"
_NIFTI1_FLOAT_TYPES = {16: np.float32, 64: np.float64}


def count_nonfinite_nifti(path: Path) -> int | None:
    """Count NaN/inf voxels in the raw data of a NIfTI-1 float image (``None`` if not NIfTI-1 float).

    ITK's NIfTI reader replaces NaN/inf by 0 when reading, so the raw bytes must be checked directly.
    """
    import gzip
    import zlib

    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        return _count_nonfinite(opener, path)
    except EOFError:
        raise DatasetFormatError(f"{path}: truncated file (the gzip stream ends early)") from None
    except (OSError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DatasetFormatError(f"{path}: unreadable or corrupt image (bad gzip data: {err})") from None


def _count_nonfinite(opener, path: Path) -> int | None:  # noqa: ANN001 - open or gzip.open
    with opener(path, "rb") as fh:
        header = fh.read(348)
        if len(header) < 348:
            return None
        for order in ("<", ">"):
            if np.frombuffer(header[:4], dtype=order + "i4")[0] == 348:
                break
        else:
            return None
        datatype = int(np.frombuffer(header[70:72], dtype=order + "i2")[0])
        if datatype not in _NIFTI1_FLOAT_TYPES:
            return None
        offset = int(np.frombuffer(header[108:112], dtype=order + "f4")[0])
        fh.read(max(offset - 348, 0))
        data = np.frombuffer(fh.read(), dtype=np.dtype(_NIFTI1_FLOAT_TYPES[datatype]).newbyteorder(order))
    return int(np.count_nonzero(~np.isfinite(data)))


@dataclass(frozen=True)
class Problem:
    """One problem: the case it concerns (or ``(dataset)``) and what is wrong."""

    case_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.case_id}: {self.message}"


@dataclass
class ValidationReport:
    root: Path
    problems: list[Problem]
    num_cases: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.ok:
            return f"OK: {self.root} ({self.num_cases} cases, no problems)"
        lines = [f"FAILED: {self.root} ({len(self.problems)} problem(s) in {self.num_cases} cases)"]
        lines += [f"  {p}" for p in self.problems]
        return "\n".join(lines)


def _load_meta_and_splits(root: Path, problems: list[Problem]) -> tuple[DatasetMeta | None, Splits | None]:
    meta = splits = None
    try:
        meta = DatasetMeta.from_json(_read_json(root / "dataset.json"), str(root / "dataset.json"))
    except DatasetFormatError as err:
        problems.append(Problem(DATASET_LEVEL, str(err)))
    try:
        splits = Splits.from_json(_read_json(root / "splits.json"), str(root / "splits.json"))
    except DatasetFormatError as err:
        problems.append(Problem(DATASET_LEVEL, str(err)))
    return meta, splits


def _check_instances(case_id: str, label: np.ndarray, classes: dict[int, int], meta: DatasetMeta) -> list[Problem]:
    out: list[Problem] = []
    if label.size and (label.min() < 0 or not np.all(np.mod(label, 1) == 0)):
        return [Problem(case_id, "label map must hold non-negative integer instance ids")]
    present = {int(v) for v in np.unique(label) if v > 0}
    unclassed = sorted(present - set(classes))
    if unclassed:
        out.append(Problem(case_id, f"instance id(s) {unclassed} in the label map have no class in the label JSON"))
    empty = sorted(set(classes) - present)
    if empty:
        out.append(Problem(case_id, f"instance id(s) {empty} listed in the label JSON have no voxels"))
    bad = {k: v for k, v in classes.items() if not 0 <= v < len(meta.classes)}
    if bad:
        out.append(
            Problem(
                case_id,
                f"class index out of range for instance(s) {sorted(bad)} (got {sorted(set(bad.values()))}; "
                f"valid 0..{len(meta.classes) - 1} = {meta.classes})",
            )
        )
    if meta.annotation == "boxes" and present:
        from scipy import ndimage

        lab = label.astype(np.int64)
        for inst, sl in enumerate(ndimage.find_objects(lab), start=1):
            if sl is not None and inst in present and not np.all(lab[sl] == inst):
                out.append(Problem(case_id, f"instance {inst} is not box-shaped, but dataset.json says boxes"))
    return out


def validate_case(root: Path, case_id: str, split: str, meta: DatasetMeta, require_label: bool = True) -> list[Problem]:
    """All problems of one case (channels, label, geometry, values, instance classes)."""
    import SimpleITK as sitk

    problems: list[Problem] = []
    geometry: Geometry | None = None
    for c in range(meta.num_channels):
        path = image_path(root, case_id, c, split)
        if not path.is_file():
            problems.append(Problem(case_id, f"missing channel {c} ({meta.modalities[c]}): {path.name} not found"))
            continue
        try:
            img = read_nifti(path)
        except DatasetFormatError as err:
            problems.append(Problem(case_id, str(err)))
            continue
        if img.GetDimension() != 3 or img.GetNumberOfComponentsPerPixel() != 1:
            problems.append(Problem(case_id, f"{path.name}: expected a 3-D scalar image"))
            continue
        g = Geometry.from_sitk(img)
        if geometry is None:
            geometry = g
        elif not g.same_as(geometry):
            problems.append(Problem(case_id, f"channel {c} geometry {g.to_dict()} differs from channel 0"))
        try:
            n = count_nonfinite_nifti(path)
            if n is None and path.name.endswith(".gz"):  # not decompressed above: check the whole stream (CRC)
                _, stream = gzip_stream_problem(path)
                if stream:
                    raise DatasetFormatError(f"{path}: {stream}")
        except DatasetFormatError as err:
            problems.append(Problem(case_id, str(err)))
            continue
        if n is None:
            arr = sitk.GetArrayViewFromImage(img)
            n = int(np.count_nonzero(~np.isfinite(arr))) if np.issubdtype(arr.dtype, np.floating) else 0
        if n:
            problems.append(Problem(case_id, f"channel {c} has {n} NaN/inf voxel(s)"))
    extra = image_path(root, case_id, meta.num_channels, split)
    if extra.is_file():
        problems.append(Problem(case_id, f"unexpected extra channel file {extra.name} ({meta.num_channels} declared)"))

    lpath = label_path(root, case_id, split)
    if not lpath.is_file():
        if require_label:
            problems.append(Problem(case_id, f"missing label map {lpath.name}"))
        return problems
    try:
        label_img = read_nifti(lpath)
        _, stream = gzip_stream_problem(lpath) if lpath.name.endswith(".gz") else (0, None)
        if stream:
            raise DatasetFormatError(f"{lpath}: {stream}")
    except DatasetFormatError as err:
        return problems + [Problem(case_id, str(err))]
    if label_img.GetDimension() != 3 or label_img.GetNumberOfComponentsPerPixel() != 1:
        return problems + [Problem(case_id, f"{lpath.name}: expected a 3-D scalar label map")]
    lg = Geometry.from_sitk(label_img)
    if geometry is not None and not lg.same_as(geometry):
        diffs = [
            f"{k}: label {lv} vs image {iv}"
            for k, lv, iv in (
                ("size", lg.shape, geometry.shape),
                ("spacing", lg.spacing_xyz, geometry.spacing_xyz),
                ("origin", lg.origin_xyz, geometry.origin_xyz),
                ("direction", lg.direction, geometry.direction),
            )
            if not np.allclose(lv, iv, atol=1e-4)
        ]
        problems.append(Problem(case_id, "label/image geometry mismatch (" + "; ".join(diffs) + ")"))
    try:
        classes = read_instance_classes(label_json_path(root, case_id, split))
    except DatasetFormatError as err:
        return problems + [Problem(case_id, str(err))]
    label = sitk.GetArrayViewFromImage(label_img)
    problems += _check_instances(case_id, np.asarray(label), classes, meta)
    return problems


def check_case_files(
    dataset: PreparedDataset, case_ids: Iterable[str] | None = None, require_labels: bool = False
) -> list[Problem]:
    """Fast check of the files of ``case_ids`` (default: every case) before a command reads them in bulk.

    Every channel (and the label map, when present or ``require_labels``) exists, is intact by its header
    and size (not truncated: :mod:`benchmark.data.integrity`), is 3-D and shares one geometry; the label JSON
    parses. Reads headers only; :func:`validate_dataset` is the full check (voxel values, instances).
    """
    problems: list[Problem] = []
    root, meta = dataset.root, dataset.meta
    for cid in dataset.case_ids() if case_ids is None else case_ids:
        try:
            split = dataset.splits.split_of(cid)
        except DatasetFormatError as err:
            problems.append(Problem(cid, str(err)))
            continue
        geometry = None
        for c in range(meta.num_channels):
            try:
                g = read_image_header(image_path(root, cid, c, split))
            except DatasetFormatError as err:
                problems.append(Problem(cid, str(err)))
                continue
            if geometry is None:
                geometry = g
            elif not g.same_as(geometry):
                problems.append(Problem(cid, f"channel {c} geometry {g.to_dict()} differs from channel 0"))
        lpath = label_path(root, cid, split)
        if not lpath.is_file() and not require_labels:
            continue
        try:
            g = read_image_header(lpath)
            read_instance_classes(label_json_path(root, cid, split))
        except DatasetFormatError as err:
            problems.append(Problem(cid, str(err)))
            continue
        if geometry is not None and not g.same_as(geometry):
            problems.append(Problem(cid, "label/image geometry mismatch (`benchmark validate-dataset` says how)"))
    return problems


def _stray_case_ids(root: Path, listed: set[str]) -> list[str]:
    found: set[str] = set()
    for sub in ("imagesTr", "imagesTs"):
        d = root / sub
        if d.is_dir():
            for p in d.glob(f"*_0000{FILE_ENDING}"):
                found.add(p.name[: -len(f"_0000{FILE_ENDING}")])
    return sorted(found - listed)


def validate_dataset(root: str | Path, progress: bool = False, require_labels: bool = True) -> ValidationReport:
    """Validate a prepared dataset and return every problem found (an empty list means valid)."""
    root = Path(root)
    problems: list[Problem] = []
    if not root.is_dir():
        return ValidationReport(root, [Problem(DATASET_LEVEL, f"{root} is not a directory")])
    meta, splits = _load_meta_and_splits(root, problems)
    if meta is None or splits is None:
        return ValidationReport(root, problems)
    if not splits.all_ids():
        problems.append(Problem(DATASET_LEVEL, "empty dataset: splits.json lists no cases"))
        return ValidationReport(root, problems)
    problems += [Problem(DATASET_LEVEL, f"splits.json: {p}") for p in splits.problems()]

    cases = [(cid, name) for name in SPLIT_NAMES for cid in dict.fromkeys(splits.get(name))]
    existing = []
    for cid, name in cases:
        if label_path(root, cid, name).is_file() or any(
            image_path(root, cid, c, name).is_file() for c in range(meta.num_channels)
        ):
            existing.append((cid, name))
        else:
            where = image_path(root, cid, 0, name).parent.name
            problems.append(Problem(cid, f"listed in split '{name}' but has no image in {where}/"))
    for cid in _stray_case_ids(root, {c for c, _ in cases}):
        problems.append(Problem(cid, "image files exist but the case is in no split of splits.json"))

    iterator = existing
    if progress:
        from tqdm import tqdm

        iterator = tqdm(existing, desc=f"validate {root.name}", unit="case")
    for cid, name in iterator:
        problems += validate_case(root, cid, name, meta, require_label=require_labels)
    return ValidationReport(root, problems, num_cases=len(cases))
