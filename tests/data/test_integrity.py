"""Truncated and corrupt image files are found from headers and sizes; intact files of any layout pass."""

import gzip

import numpy as np
import pytest
import SimpleITK as sitk

from benchmark.data.format import DatasetFormatError, read_image, read_image_header
from benchmark.data.integrity import image_file_problem


@pytest.fixture
def nifti(tmp_path):
    path = tmp_path / "img.nii.gz"
    sitk.WriteImage(
        sitk.GetImageFromArray(np.random.default_rng(0).normal(size=(8, 10, 12)).astype(np.float32)), str(path)
    )
    return path


def test_intact_files_pass(nifti, tmp_path):
    assert image_file_problem(nifti) is None
    plain = tmp_path / "img.nii"
    plain.write_bytes(gzip.decompress(nifti.read_bytes()))
    assert image_file_problem(plain) is None
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(tmp_path / "s.mhd"))
    assert image_file_problem(tmp_path / "s.mhd") is None
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(tmp_path / "s.mha"))
    assert image_file_problem(tmp_path / "s.mha") is None  # not checked: left to SimpleITK


def test_multi_member_and_padded_gzip_pass(nifti, tmp_path):
    raw = gzip.decompress(nifti.read_bytes())
    multi = tmp_path / "multi.nii.gz"
    multi.write_bytes(gzip.compress(raw[:1000]) + gzip.compress(raw[1000:]))  # ISIZE covers the last member only
    assert image_file_problem(multi) is None
    padded = tmp_path / "padded.nii.gz"
    padded.write_bytes(gzip.compress(raw + b"\0" * 16))
    assert image_file_problem(padded) is None
    assert sitk.GetArrayFromImage(read_image(multi)).shape == (8, 10, 12)


@pytest.mark.parametrize("keep", [0.05, 0.5, 0.99])
def test_truncated_gzip_is_an_error_naming_the_file(nifti, keep):
    data = nifti.read_bytes()
    nifti.write_bytes(data[: int(len(data) * keep)])
    assert "truncated" in image_file_problem(nifti)
    with pytest.raises(DatasetFormatError, match=r"img\.nii\.gz: truncated"):
        read_image(nifti)
    with pytest.raises(DatasetFormatError, match="truncated"):
        read_image_header(nifti)


def test_truncated_plain_nifti_and_metaimage(nifti, tmp_path):
    plain = tmp_path / "img.nii"
    plain.write_bytes(gzip.decompress(nifti.read_bytes())[:2000])
    assert image_file_problem(plain) == "truncated file: holds 2000 of the 4192 bytes its header declares"
    sitk.WriteImage(sitk.GetImageFromArray(np.zeros((4, 5, 6), np.int16)), str(tmp_path / "s.mhd"))
    raw = tmp_path / "s.raw"
    raw.write_bytes(raw.read_bytes()[:100])
    assert (
        image_file_problem(tmp_path / "s.mhd")
        == "truncated data file s.raw: holds 100 of the 240 bytes its header declares"
    )
    raw.unlink()
    assert image_file_problem(tmp_path / "s.mhd") == "its data file s.raw is missing"


def test_garbage_missing_and_folder(tmp_path):
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"garbage, not gzip")
    assert "unreadable or corrupt image" in image_file_problem(bad)
    text = tmp_path / "text.nii.gz"
    text.write_text("not an image")
    with pytest.raises(DatasetFormatError, match="unreadable or corrupt image"):
        read_image(text)
    assert image_file_problem(tmp_path / "none.nii.gz") == "file is missing"
    assert image_file_problem(tmp_path) == "not a file"
