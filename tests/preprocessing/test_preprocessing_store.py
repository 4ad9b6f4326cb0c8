"""The preprocessed store: compressed .b2nd arrays, exact round trip, format version, atomic and resumable writes."""

import json

import numpy as np
import pytest

from benchmark.core.conventions import Geometry
from benchmark.loading import PreprocessedData
from benchmark.preprocessing import StaleOutputError, plan_preprocessing, preprocess_dataset, store
from benchmark.preprocessing.store import (
    STORE_FORMAT,
    PreprocessedCaseMeta,
    StoreFormatError,
    image_file,
    meta_file,
    open_case_arrays,
    preprocessed_case_ids,
    read_case_meta,
    seg_file,
    write_preprocessed_case,
)


def ct_like_case(shape=(70, 64, 66)) -> tuple[np.ndarray, np.ndarray]:
    """Normalised-CT-like arrays: clipped air (constant) around a noisy body with one object."""
    rng = np.random.default_rng(0)
    z, y, x = np.ogrid[: shape[0], : shape[1], : shape[2]]
    body = (y - shape[1] / 2) ** 2 + (x - shape[2] / 2) ** 2 < (0.35 * shape[1]) ** 2
    image = np.where(body, 0.2 + 0.3 * rng.normal(size=shape), -2.5).astype(np.float32)[None]
    seg = np.zeros(shape, np.int16)
    seg[20:30, 25:35, 28:40] = 1
    return image, seg


def meta_of(case_id: str, shape) -> PreprocessedCaseMeta:
    geometry = Geometry(tuple(shape), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    return PreprocessedCaseMeta(case_id, "train", "fp", geometry, geometry, {1: 0}, {1: [20, 25, 28, 30, 35, 40]})


def test_arrays_are_compressed_and_read_back_exactly(tmp_path):
    image, seg = ct_like_case()
    write_preprocessed_case(tmp_path, meta_of("c0", seg.shape), image, seg)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["c0.b2nd", "c0.json", "c0_seg.b2nd"]  # no uncompressed .npy, no temporary file left
    stored = image_file(tmp_path, "c0").stat().st_size + seg_file(tmp_path, "c0").stat().st_size
    assert stored < 0.5 * (image.nbytes + seg.nbytes)  # about 0.3 here; the old .npy store was 1.0
    assert json.loads(meta_file(tmp_path, "c0").read_text())["store_format"] == STORE_FORMAT
    assert read_case_meta(tmp_path, "c0").store_format == STORE_FORMAT
    img, inst = open_case_arrays(tmp_path, "c0")
    assert img.shape == image.shape and img.dtype == np.float32 and inst.dtype == np.int16
    np.testing.assert_array_equal(img[:], image)  # lossless
    np.testing.assert_array_equal(inst[:], seg)
    # partial reads across chunk and block borders equal numpy slicing
    sl = (slice(None), slice(3, 69), slice(60, 64), slice(15, 66))
    np.testing.assert_array_equal(img[sl], image[sl])
    np.testing.assert_array_equal(np.asarray(inst[25, 30, 33]), seg[25, 30, 33])


def test_float16_and_int32_arrays_round_trip(tmp_path):
    image, seg = ct_like_case((9, 5, 130))
    seg = seg.astype(np.int32)
    seg[0, 0, 0] = 40_000
    write_preprocessed_case(tmp_path, meta_of("h", seg.shape), image.astype(np.float16), seg)
    img, inst = open_case_arrays(tmp_path, "h")
    assert img.dtype == np.float16 and inst.dtype == np.int32
    np.testing.assert_array_equal(img[:], image.astype(np.float16))
    np.testing.assert_array_equal(inst[:], seg)


@pytest.fixture
def done(ct_dataset, tmp_path):
    plan = plan_preprocessing(ct_dataset, "fixed")
    out = tmp_path / "out"
    preprocess_dataset(ct_dataset, out, plan, progress=False)
    return ct_dataset, out, plan


def test_preprocessed_folder_is_smaller_than_its_arrays(done):
    _, out, _ = done
    data = PreprocessedData(out, cache_bytes=0)
    raw = sum(np.prod(a.shape) * a.dtype.itemsize for c in data.case_ids() for a in data.arrays(c))
    stored = sum(p.stat().st_size for p in out.glob("*.b2nd"))
    assert not list(out.glob("*.npy"))
    assert stored < 0.5 * raw  # about 0.26: clipped air compresses; the old .npy store was 1.0


def make_format_1(out, case_ids) -> None:
    """Rewrite a folder the way the store before format 2 left it: .npy arrays, JSON without store_format."""
    for case_id in case_ids:
        image, seg = open_case_arrays(out, case_id)
        np.save(out / f"{case_id}.npy", image[:])
        np.save(out / f"{case_id}_seg.npy", seg[:])
        image_file(out, case_id).unlink()
        seg_file(out, case_id).unlink()
        meta = json.loads(meta_file(out, case_id).read_text())
        del meta["store_format"]
        meta_file(out, case_id).write_text(json.dumps(meta))


def test_folder_of_the_uncompressed_format_is_refused_then_rebuilt(done):
    root, out, plan = done
    case_ids = preprocessed_case_ids(out)
    make_format_1(out, case_ids)
    with pytest.raises(StoreFormatError, match="older storage format.*--overwrite"):
        PreprocessedData(out)
    with pytest.raises(StoreFormatError, match="older storage format"):
        open_case_arrays(out, case_ids[0])
    assert read_case_meta(out, case_ids[0]).store_format == 1
    with pytest.raises(StaleOutputError, match=r"7 of them in the older uncompressed \.npy store format"):
        preprocess_dataset(root, out, plan, progress=False)
    report = preprocess_dataset(root, out, plan, overwrite=True, progress=False)
    assert sorted(report.processed) == case_ids
    assert not list(out.glob("*.npy"))  # the old arrays are replaced, not kept next to the new ones
    data = PreprocessedData(out)
    assert data.case_ids() == case_ids and data.meta(case_ids[0]).store_format == STORE_FORMAT


def test_a_case_whose_json_says_format_1_is_stale_and_refused(done):
    root, out, plan = done
    meta = json.loads(meta_file(out, "tr_1").read_text())
    meta["store_format"] = 1
    meta_file(out, "tr_1").write_text(json.dumps(meta))
    with pytest.raises(StoreFormatError, match="older storage format"):
        PreprocessedData(out).meta("tr_1")
    with pytest.raises(StaleOutputError, match="tr_1"):
        preprocess_dataset(root, out, plan, progress=False)


def test_a_write_interrupted_after_the_image_never_looks_finished(done, monkeypatch):
    root, out, plan = done
    meta_file(out, "va_0").unlink()
    seg_file(out, "va_0").unlink()
    compress = store.compress_array
    calls = []

    def failing(array, *args, **kwargs):
        calls.append(array.ndim)
        if array.ndim == 3:  # the instance map, written after the image
            raise OSError("disk full")
        return compress(array, *args, **kwargs)

    monkeypatch.setattr(store, "compress_array", failing)
    with pytest.raises(OSError, match="disk full"):
        preprocess_dataset(root, out, plan, progress=False)
    assert calls == [4, 3]
    assert "va_0" not in preprocessed_case_ids(out) and not meta_file(out, "va_0").exists()
    assert not list(out.glob(".*.tmp"))  # no temporary file is left behind
    monkeypatch.setattr(store, "compress_array", compress)
    report = preprocess_dataset(root, out, plan, progress=False)  # resumes: only the unfinished case
    assert report.processed == ["va_0"] and len(report.skipped) == 6
    assert "va_0" in PreprocessedData(out).case_ids()
