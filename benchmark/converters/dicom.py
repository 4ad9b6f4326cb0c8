"""DICOM series of an official download: a header pass over every file, then one series read per case.

The header pass (:func:`scan_dicom_tree`) reads the header of every ``*.dcm`` file with SimpleITK (GDCM),
without pixel data, and groups the files by Series Instance UID; an unreadable or truncated file is one line
of the :class:`InputErrors` it raises, before any case is converted. Slices are ordered by their position
along the slice normal (Image Position Patient projected on the normal of Image Orientation Patient), so the
array index ``z`` of a slice is its rank in that order; :func:`read_series` reads the files in exactly that
order, which lets annotations that name a slice by SOP Instance UID or z position find their array index.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.errors import InputErrors

TAGS = {
    "patient": "0010|0020",
    "study": "0020|000d",
    "series": "0020|000e",
    "sop": "0008|0018",
    "position": "0020|0032",
    "orientation": "0020|0037",
    "modality": "0008|0060",
    "description": "0008|103e",
    "series_number": "0020|0011",
    "instance": "0020|0013",
    "rows": "0028|0010",
    "columns": "0028|0011",
}


@dataclass(frozen=True)
class DicomSeries:
    """One series: files in slice order with their SOP Instance UIDs and positions along the normal (mm)."""

    uid: str
    patient: str
    study: str
    modality: str
    description: str
    series_number: str
    folder: Path
    files: tuple[Path, ...]
    sop_uids: tuple[str, ...]
    positions: tuple[float, ...]
    rows: int = 0
    columns: int = 0
    instance_numbers: tuple[int, ...] = ()

    def slice_of_sop(self) -> dict[str, int]:
        return {uid: k for k, uid in enumerate(self.sop_uids)}

    def slice_of_position(self, z: float, tolerance: float = 0.01) -> int | None:
        """Array index of the slice at position ``z`` mm along the normal (``None`` when none is that close)."""
        diffs = np.abs(np.asarray(self.positions) - z)
        k = int(np.argmin(diffs))
        return k if diffs[k] <= tolerance else None


def _header(path: Path) -> dict[str, str]:
    import SimpleITK as sitk

    from benchmark.data.format import sitk_error_line

    reader = sitk.ImageFileReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as err:
        raise ValueError(f"{path}: unreadable DICOM ({sitk_error_line(err)})") from None
    return {k: reader.GetMetaData(t).strip() if reader.HasMetaDataKey(t) else "" for k, t in TAGS.items()}


def _normal_position(meta: dict[str, str]) -> float:
    position = [float(v) for v in meta["position"].split("\\")]
    orientation = [float(v) for v in meta["orientation"].split("\\")] if meta["orientation"] else [1, 0, 0, 0, 1, 0]
    normal = np.cross(orientation[:3], orientation[3:])
    return float(np.dot(position, normal))


def scan_dicom_tree(root: Path, limit: int = 20) -> dict[str, DicomSeries]:
    """Every DICOM series under ``root`` (``*.dcm`` files, any depth), by Series Instance UID."""
    groups: dict[str, list[tuple[float, Path, dict[str, str]]]] = {}
    problems: list[str] = []
    for path in sorted(Path(root).rglob("*.dcm")):
        try:
            meta = _header(path)
            if not meta["series"] or not meta["position"]:
                raise ValueError(f"{path}: DICOM without Series Instance UID or Image Position (not an image slice?)")
            groups.setdefault(meta["series"], []).append((_normal_position(meta), path, meta))
        except ValueError as err:
            problems.append(str(err))
    if problems:
        more = [f"... and {len(problems) - limit} more unreadable DICOM file(s)"] if len(problems) > limit else []
        raise InputErrors(problems[:limit] + more)
    series = {}
    for uid, items in groups.items():
        items.sort(key=lambda t: t[0])
        positions = [t[0] for t in items]
        if len(set(np.round(positions, 3))) != len(positions):
            raise InputErrors([f"{items[0][1].parent}: series {uid} has two slices at one position"])
        first = items[0][2]
        series[uid] = DicomSeries(
            uid=uid,
            patient=first["patient"],
            study=first["study"],
            modality=first["modality"],
            description=first["description"],
            series_number=first["series_number"],
            folder=items[0][1].parent,
            files=tuple(t[1] for t in items),
            sop_uids=tuple(t[2]["sop"] for t in items),
            positions=tuple(positions),
            rows=int(first["rows"] or 0),
            columns=int(first["columns"] or 0),
            instance_numbers=tuple(int(float(t[2]["instance"] or -1)) for t in items),
        )
    return series


def read_series(series: DicomSeries):  # noqa: ANN201 - returns SimpleITK.Image
    """The 3-D image of ``series``, its slices in the order of :func:`scan_dicom_tree`."""
    import SimpleITK as sitk

    from benchmark.data.format import sitk_error_line

    reader = sitk.ImageSeriesReader()
    reader.SetFileNames([str(p) for p in series.files])
    try:
        return reader.Execute()
    except RuntimeError as err:
        raise ValueError(f"{series.folder}: series {series.uid} cannot be read ({sitk_error_line(err)})") from None
