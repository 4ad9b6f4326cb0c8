"""PreprocessedData: compressed arrays read block-wise, decompressed cases cached within a byte budget."""

import pickle

import numpy as np
import pytest
import torch

from benchmark.loading import LoaderConfig, PatchLoader, PreprocessedData, write_synthetic_preprocessed
from benchmark.loading.data import available_memory


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    return write_synthetic_preprocessed(
        tmp_path_factory.mktemp("syn"), num_cases=3, shape=(20, 24, 28), radius_range=(2.0, 4.0)
    )


CASE_BYTES = 20 * 24 * 28 * (4 + 2)  # float32 image + int16 instance map


def test_preload_keeps_whole_cases_within_the_budget_without_eviction(root):
    data = PreprocessedData(root, cache_bytes=2 * CASE_BYTES)
    ids = data.case_ids()
    assert data.preload(ids) == ids[:2] and data.cached_bytes == 2 * CASE_BYTES
    assert data.preload(ids[::-1]) == [ids[1], ids[0]]  # a full budget never evicts (no thrashing)
    image, seg = data.arrays(ids[0])
    assert isinstance(image, np.ndarray) and isinstance(seg, np.ndarray)
    assert not image.flags.writeable and not seg.flags.writeable
    other_image, _ = data.arrays(ids[2])  # does not fit: read block-wise from the compressed file
    assert not isinstance(other_image, np.ndarray)
    np.testing.assert_array_equal(
        image, PreprocessedData(root, cache_bytes=0).arrays(ids[0])[0][:]
    )  # decompressed == compressed reads
    assert PreprocessedData(root, cache_bytes=0).preload(ids) == []


def test_default_budget_is_a_share_of_available_memory(root):
    data = PreprocessedData(root)
    assert data.cache_bytes is None
    data.preload([])
    assert data.cache_bytes == pytest.approx(0.25 * available_memory(), rel=0.2)
    with pytest.raises(ValueError, match="cache_bytes"):
        PreprocessedData(root, cache_bytes=-1)


def test_pickling_drops_arrays_and_cache(root):
    data = PreprocessedData(root, cache_bytes=10 * CASE_BYTES)
    data.preload(data.case_ids())
    assert len(pickle.dumps(data)) < CASE_BYTES  # workers never receive voxel data
    clone = pickle.loads(pickle.dumps(data))
    assert clone.cached_bytes == 0 and clone.case_ids() == data.case_ids()


def test_batches_are_identical_with_and_without_the_cache(root):
    config = LoaderConfig(patch_size=(16, 16, 16), batch_size=2, batches_per_epoch=3)
    cached = PreprocessedData(root)
    ids = cached.case_ids()
    a = list(PatchLoader(cached, ids, config, seed=3))
    assert cached.cached_bytes == 3 * CASE_BYTES  # PatchLoader preloads its cases (they fit here)
    b = list(PatchLoader(PreprocessedData(root, cache_bytes=0), ids, config, seed=3, num_workers=2))
    for x, y in zip(a, b, strict=True):
        assert torch.equal(x["image"], y["image"]) and torch.equal(x["instances"], y["instances"])
        assert all(torch.equal(p, q) for p, q in zip(x["boxes"], y["boxes"], strict=True))
