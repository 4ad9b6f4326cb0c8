"""Pre-training data: a folder of volumes (1 mm, z-score, cache, errors) and the synthetic corpus's disjointness."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import SimpleITK as sitk

from pretraining.data import PretrainDataError, SyntheticCorpusSource, VolumeFolderSource, find_volumes
from pretraining.sources import PatchSource


def _write(path: Path, array: np.ndarray, spacing_xyz: tuple[float, float, float]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(spacing_xyz)
    sitk.WriteImage(image, str(path))


@pytest.fixture
def volumes(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    folder = tmp_path / "vols"
    _write(folder / "a.nii.gz", (100 + 20 * rng.normal(size=(10, 20, 24))).astype(np.float32), (2.0, 2.0, 3.0))
    _write(folder / "sub" / "b.mha", rng.normal(size=(8, 12, 12)).astype(np.int16) * 50, (1.0, 1.0, 1.0))
    _write(folder / "c.nrrd", rng.normal(size=(16, 16, 16)).astype(np.float32), (0.5, 0.5, 0.5))
    (folder / "notes.txt").write_text("not a volume\n")
    return folder


def test_folder_source_resamples_to_1mm_zscores_and_caches(volumes: Path, tmp_path: Path) -> None:
    source = VolumeFolderSource(volumes, tmp_path / "cache", (16, 16, 16))
    assert isinstance(source, PatchSource)
    assert [p.name for p in find_volumes(volumes)] == ["a.nii.gz", "c.nrrd", "b.mha"]
    # (z, y, x) shapes at 1 mm: a: 10 slices x 3 mm -> 30, 20 x 2 mm -> 40, 24 x 2 -> 48; c: 16 x 0.5 -> 8
    assert sorted(source._volumes.shapes) == sorted([(30, 40, 48), (8, 8, 8), (8, 12, 12)])
    for i, shape in enumerate(source._volumes.shapes):
        arr = np.asarray(source._volumes._array(i), dtype=np.float64)
        assert abs(arr.mean()) < 0.1  # z-scored, then resampled (which smooths noise, so its std drops)
        if shape == (8, 12, 12):  # b.mha is at 1 mm already: exactly z-scored
            assert abs(arr.mean()) < 1e-5 and abs(arr.std() - 1.0) < 1e-4
    entries = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(entries) == 3
    stamps = [e.stat().st_mtime_ns for e in entries]
    again = VolumeFolderSource(volumes, tmp_path / "cache", (16, 16, 16))  # preprocessed once
    assert [e.stat().st_mtime_ns for e in sorted((tmp_path / "cache").glob("*.npy"))] == stamps
    batch = again.sample(np.random.default_rng(3), 4)
    assert tuple(batch.images.shape) == (4, 1, 16, 16, 16) and batch.labels is None
    assert np.array_equal(batch.images.numpy(), source.sample(np.random.default_rng(3), 4).images.numpy())
    described = source.describe()
    assert described["kind"] == "volume_folder" and described["volumes"] == 3


def test_a_changed_volume_is_preprocessed_again(volumes: Path, tmp_path: Path) -> None:
    VolumeFolderSource(volumes, tmp_path / "cache", (8, 8, 8))
    _write(volumes / "c.nrrd", np.ones((4, 4, 4), np.float32) * np.arange(4, dtype=np.float32), (1.0, 1.0, 1.0))
    source = VolumeFolderSource(volumes, tmp_path / "cache", (8, 8, 8))
    assert (4, 4, 4) in source._volumes.shapes


def test_empty_unreadable_and_constant_folders_are_clear_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PretrainDataError, match="no volumes found"):
        VolumeFolderSource(tmp_path / "empty", tmp_path / "c1", (8, 8, 8))
    with pytest.raises(PretrainDataError, match="not a folder"):
        VolumeFolderSource(tmp_path / "missing", tmp_path / "c2", (8, 8, 8))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.nii.gz").write_bytes(b"\x1f\x8b not a volume")
    with pytest.raises(PretrainDataError, match="x.nii.gz"):
        VolumeFolderSource(tmp_path / "bad", tmp_path / "c3", (8, 8, 8))
    _write(tmp_path / "flat" / "f.nii.gz", np.zeros((6, 6, 6), np.float32), (1.0, 1.0, 1.0))
    with pytest.raises(PretrainDataError, match="constant volume"):
        VolumeFolderSource(tmp_path / "flat", tmp_path / "c4", (8, 8, 8))


def _digest(path: Path) -> str:
    return hashlib.sha256(sitk.GetArrayFromImage(sitk.ReadImage(str(path))).tobytes()).hexdigest()


def test_synthetic_corpus_shares_no_case_with_the_twins(tmp_path: Path) -> None:
    from benchmark.data.format import PreparedDataset, image_path
    from benchmark.synthetic.generate import CORPUS_KEY, generate_suite
    from benchmark.synthetic.twins import resolve_twins

    twins = resolve_twins("all")
    assert CORPUS_KEY not in {t.number for t in twins}  # its own seed stream, for every generator seed
    source = SyntheticCorpusSource(tmp_path / "cache", (16, 16, 16), scale="tiny", cases=4)
    corpus = {_digest(p) for p in sorted(source.root.glob("imagesTr/*.nii.gz"))}
    assert len(corpus) == 4 and all(c.startswith("SPT_") for c in source.case_ids)
    roots = generate_suite("all", tmp_path / "twins", scale="tiny", seed=0, workers=1, progress=False)
    twin_images = set()
    for root in roots:
        data = PreparedDataset(root)
        for split in ("train", "val", "test", "external_test"):
            for case in data.case_ids(split):
                for c in range(data.meta.num_channels):
                    twin_images.add(_digest(image_path(root, case, c, split)))
    assert twin_images and not corpus & twin_images
    described = source.describe()
    assert described["kind"] == "synthetic_corpus" and described["cases"] == 4
