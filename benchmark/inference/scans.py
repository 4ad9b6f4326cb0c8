"""Finding and reading the scans ``benchmark predict`` is given: image files or DICOM series.

``PATH`` is one image file or a folder. In a folder every image file directly inside is a case (NIfTI
``.nii``/``.nii.gz``, MetaImage ``.mha``/``.mhd``, NRRD ``.nrrd``/``.nhdr``); files named ``<case>_<CCCC>.<ext>``
(nnU-Net's channel naming, ``CCCC`` = 0000, 0001, ...) are the channels of one case. Every DICOM series in the
folder or any folder below it is a case too (found with SimpleITK's ``ImageSeriesReader``, read with its
slice sorting and rescale slope/intercept applied), named by its folder (plus the end of its series UID when a
folder holds several series). A file with vector pixels (e.g. a 4-component ``.mha``) gives one channel per
component.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry

IMAGE_ENDINGS = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".nhdr")
CHANNEL_NAME = re.compile(r"^(?P<case>.+)_(?P<channel>\d{4})$")


@dataclass(frozen=True)
class ScanSource:
    """Where one case's voxels come from: ``files`` (one per channel) or one DICOM ``series`` in ``folder``."""

    case_id: str
    files: tuple[Path, ...] = ()
    folder: Path | None = None
    series_uid: str = ""

    @property
    def kind(self) -> str:
        return "dicom" if self.folder is not None else "files"

    @property
    def location(self) -> str:
        return str(self.folder) if self.folder is not None else ", ".join(str(f) for f in self.files)


@dataclass
class Scan:
    """A read case: SimpleITK images (one per channel, or one vector image), its geometry and DICOM modality."""

    source: ScanSource
    images: list  # SimpleITK.Image, one per file
    modality: str = ""  # DICOM Modality tag (0008,0060), "" for other formats

    @property
    def geometry(self) -> Geometry:
        return Geometry.from_sitk(self.images[0])

    @property
    def num_channels(self) -> int:
        return sum(int(img.GetNumberOfComponentsPerPixel()) for img in self.images)

    def channel(self, index: int) -> np.ndarray:
        """Channel ``index`` as a ``(z, y, x)`` array view of the SimpleITK buffer (no copy, any dtype)."""
        import SimpleITK as sitk

        for img in self.images:
            n = int(img.GetNumberOfComponentsPerPixel())
            if index < n:
                view = sitk.GetArrayViewFromImage(img)
                return view if n == 1 else view[..., index]
            index -= n
        raise IndexError(f"channel {index} out of range")


def image_ending(path: Path) -> str | None:
    """The supported ending of ``path`` (``.nii.gz`` etc., case-insensitive), or ``None``."""
    name = path.name.lower()
    return next((e for e in IMAGE_ENDINGS if name.endswith(e)), None)


def _stem(path: Path) -> str:
    ending = image_ending(path) or path.suffix
    return path.name[: len(path.name) - len(ending)]


def _image_files(folder: Path) -> list[ScanSource]:
    groups: dict[str, dict[int, Path]] = {}
    for path in sorted(p for p in folder.iterdir() if p.is_file() and image_ending(p)):
        stem = _stem(path)
        match = CHANNEL_NAME.match(stem)
        case, channel = (match["case"], int(match["channel"])) if match else (stem, 0)
        groups.setdefault(case, {})[channel] = path
    return [ScanSource(case, tuple(ch[k] for k in sorted(ch))) for case, ch in groups.items()]


def _dicom_series(root: Path) -> list[ScanSource]:
    import SimpleITK as sitk

    out = []
    warnings_on = sitk.ProcessObject.GetGlobalWarningDisplay()
    sitk.ProcessObject.SetGlobalWarningDisplay(False)  # ITK warns "No Series were found" for every plain folder
    try:
        for here, dirs, _ in os.walk(root):
            dirs.sort()
            folder = Path(here)
            uids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder)) or ()
            rel = folder.relative_to(root).as_posix()
            base = root.name if rel == "." else rel.replace("/", "_")
            for uid in sorted(uids):
                case = base if len(uids) == 1 else f"{base}_{uid[-8:]}"
                out.append(ScanSource(case or "series", folder=folder, series_uid=uid))
    finally:
        sitk.ProcessObject.SetGlobalWarningDisplay(warnings_on)
    return out


def discover_scans(path: str | Path) -> list[ScanSource]:
    """Every case under ``path`` (see the module docstring); ValueError when there is none or ids clash."""
    path = Path(path)
    if path.is_file():
        if not image_ending(path):
            raise ValueError(
                f"{path}: not a supported image file (endings: {', '.join(IMAGE_ENDINGS)}); "
                "for DICOM pass the folder of the series"
            )
        return [ScanSource(_stem(path), (path,))]
    sources = _image_files(path) + _dicom_series(path)
    if not sources:
        raise ValueError(
            f"{path}: no image files ({', '.join(IMAGE_ENDINGS)}) and no DICOM series in this folder or below"
        )
    seen: dict[str, ScanSource] = {}
    for s in sources:
        if s.case_id in seen:
            first = seen[s.case_id].location
            raise ValueError(f"{path}: two inputs are named {s.case_id!r} ({first} and {s.location})")
        seen[s.case_id] = s
    return sources


def read_scan(source: ScanSource) -> Scan:
    """Read the voxels of ``source`` (all channel files, or the whole DICOM series)."""
    import SimpleITK as sitk

    if source.kind == "files":
        return Scan(source, [sitk.ReadImage(str(f)) for f in source.files])
    reader = sitk.ImageSeriesReader()
    names = reader.GetGDCMSeriesFileNames(str(source.folder), source.series_uid)
    reader.SetFileNames(names)
    image = reader.Execute()
    header = sitk.ImageFileReader()
    header.SetFileName(names[0])
    header.ReadImageInformation()
    modality = header.GetMetaData("0008|0060").strip() if header.HasMetaDataKey("0008|0060") else ""
    return Scan(source, [image], modality)
