"""Write tiny DICOM series with SimpleITK for the converter tests (no real data needed)."""

from pathlib import Path

import numpy as np
import SimpleITK as sitk


def write_series(
    folder: Path,
    volume: np.ndarray,
    *,
    patient: str,
    series_uid: str,
    description: str = "",
    spacing=(0.7, 0.7, 2.5),
    origin=(-100.0, -120.0, -50.0),
    modality: str = "CT",
    series_number: int = 1,
    reverse_files: bool = False,
    descending_instances: bool = False,
) -> list[str]:
    """One ``.dcm`` file per slice of ``volume`` ``(z, y, x)``; returns the SOP Instance UIDs in slice order."""
    folder.mkdir(parents=True, exist_ok=True)
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    sops = []
    for k in range(volume.shape[0]):
        img = sitk.GetImageFromArray(volume[k].astype(np.int16))
        img.SetSpacing(spacing[:2])
        sop = f"{series_uid}.{k + 1}"
        z = origin[2] + k * spacing[2]
        for tag, value in (
            ("0010|0020", patient),
            ("0020|000d", series_uid.rsplit(".", 1)[0]),
            ("0020|000e", series_uid),
            ("0008|0018", sop),
            ("0008|0016", "1.2.840.10008.5.1.4.1.1.2"),
            ("0020|0032", f"{origin[0]}\\{origin[1]}\\{z}"),
            ("0020|0037", "1\\0\\0\\0\\1\\0"),
            ("0008|0060", modality),
            ("0020|0013", str(volume.shape[0] - k if descending_instances else k + 1)),
            ("0020|0011", str(series_number)),
            ("0008|103e", description),
        ):
            img.SetMetaData(tag, value)
        index = volume.shape[0] - 1 - k if reverse_files else k  # file names need not follow the slice order
        writer.SetFileName(str(folder / f"1-{index + 1:03d}.dcm"))
        writer.Execute(img)
        sops.append(sop)
    return sops
