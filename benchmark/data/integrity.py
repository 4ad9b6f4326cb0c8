"""Integrity checks of image files before SimpleITK reads them: truncated or corrupt files are errors, not zeros.

ITK fills the missing part of a truncated ``.nii.gz`` or ``.nii`` with zeros without any error (an interrupted
download or copy then trains on half-black images). These checks compare the bytes a file holds with what its
header promises, using the header only, so they are cheap enough to run on every read:

* NIfTI-1/NIfTI-2 single files (``.nii``, ``.nii.gz``): voxel data end = ``vox_offset + prod(dim) * bitpix / 8``.
  For gzip the stored uncompressed size (the last four bytes, ISIZE) must match; only when it does not (a
  truncated file, a multi-member gzip or trailing padding) is the stream decompressed to decide.
* MetaImage (``.mhd`` with a separate uncompressed data file): the data file exists and is large enough.

Other formats and layouts are left to SimpleITK. Format facts: the NIfTI-1/NIfTI-2 header definitions
(nifti1.h / nifti2.h of the NIfTI Data Format Working Group) and the MetaIO file format description.
"""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path

__all__ = ["image_file_problem", "gzip_stream_problem"]

_CHUNK = 1 << 20
_META_TYPE_BYTES = {
    "MET_CHAR": 1,
    "MET_UCHAR": 1,
    "MET_SHORT": 2,
    "MET_USHORT": 2,
    "MET_INT": 4,
    "MET_UINT": 4,
    "MET_FLOAT": 4,
    "MET_DOUBLE": 8,
    "MET_LONG_LONG": 8,
    "MET_ULONG_LONG": 8,
}


def _nifti_data_end(header: bytes) -> int | None:
    """End offset of the voxel data of a single-file NIfTI-1/2 header (``None`` if not one or not checkable)."""
    if len(header) < 4:
        return None
    for order in ("<", ">"):
        size = struct.unpack(order + "i", header[:4])[0]
        if size == 348 and len(header) >= 348 and header[344:347] == b"n+1":
            dims = struct.unpack(order + "8h", header[40:56])
            bitpix = struct.unpack(order + "h", header[72:74])[0]
            offset = int(struct.unpack(order + "f", header[108:112])[0])
            break
        if size == 540 and len(header) >= 540 and header[4:7] == b"n+2":
            bitpix = struct.unpack(order + "h", header[14:16])[0]
            dims = struct.unpack(order + "8q", header[16:80])
            offset = struct.unpack(order + "q", header[168:176])[0]
            break
    else:
        return None
    ndim = dims[0]
    if not 1 <= ndim <= 7 or bitpix <= 0 or bitpix % 8 or any(d < 1 for d in dims[1 : ndim + 1]):
        return None  # malformed: SimpleITK reports it
    voxels = 1
    for d in dims[1 : ndim + 1]:
        voxels *= int(d)
    return max(int(offset), size) + voxels * (bitpix // 8)


def gzip_stream_problem(path: Path) -> tuple[int, str | None]:
    """Decompress the whole gzip file: ``(uncompressed bytes read, problem or None)``."""
    total = 0
    try:
        with gzip.open(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                total += len(chunk)
    except EOFError:
        return total, "truncated file (the gzip stream ends early)"
    except (gzip.BadGzipFile, zlib.error) as err:
        return total, f"unreadable or corrupt image (bad gzip data: {err})"
    return total, None


def _nifti_problem(path: Path) -> str | None:
    gz = path.name.lower().endswith(".gz")
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            header = fh.read(540)
    except EOFError:
        return "truncated file (the gzip stream ends inside the header)"
    except (gzip.BadGzipFile, zlib.error) as err:
        return f"unreadable or corrupt image (bad gzip data: {err})"
    end = _nifti_data_end(header)
    if end is None:
        return None
    if not gz:
        size = path.stat().st_size
        return None if size >= end else f"truncated file: holds {size} of the {end} bytes its header declares"
    with open(path, "rb") as fh:
        fh.seek(-4, 2)
        isize = struct.unpack("<I", fh.read(4))[0]
    if isize == end % (1 << 32):
        return None
    total, problem = gzip_stream_problem(path)
    if problem:
        return problem
    if total < end:
        return f"truncated file: holds {total} of the {end} bytes its header declares"
    return None


def _metaimage_problem(path: Path) -> str | None:
    fields: dict[str, str] = {}
    try:
        text = path.read_text(errors="replace")
    except UnicodeDecodeError:  # pragma: no cover - errors="replace" never raises
        return None
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            fields[key.strip()] = value.strip()
        if key.strip() == "ElementDataFile":
            break
    data = fields.get("ElementDataFile", "")
    compressed = fields.get("CompressedData", "False").lower() == "true"
    if not data or data.upper() in ("LOCAL", "LIST") or "%" in data or compressed:
        return None
    raw = path.parent / data
    if not raw.is_file():
        return f"its data file {raw.name} is missing"
    try:
        dims = [int(v) for v in fields.get("DimSize", "").split()]
        channels = int(fields.get("ElementNumberOfChannels", "1"))
        header_size = max(int(fields.get("HeaderSize", "0")), 0)
    except ValueError:
        return None
    nbytes = _META_TYPE_BYTES.get(fields.get("ElementType", ""))
    if not dims or nbytes is None:
        return None
    expected = header_size + channels * nbytes * math.prod(dims)
    size = raw.stat().st_size
    if size < expected:
        return f"truncated data file {raw.name}: holds {size} of the {expected} bytes its header declares"
    return None


def image_file_problem(path: str | Path) -> str | None:
    """What is wrong with the image file at ``path`` (missing, a folder, truncated, corrupt), or ``None``.

    Cheap: reads headers and file sizes (and decompresses a gzip file only when its stored size disagrees).
    """
    path = Path(path)
    if not path.exists():
        return "file is missing"
    if not path.is_file():
        return "not a file"
    name = path.name.lower()
    try:
        if name.endswith((".nii", ".nii.gz")):
            return _nifti_problem(path)
        if name.endswith(".mhd"):
            return _metaimage_problem(path)
    except OSError as err:
        return f"cannot be read ({err.strerror or err})"
    return None
