"""Read access to a preprocessed dataset folder (see :mod:`benchmark.preprocessing.store`).

Arrays are the compressed ``.b2nd`` files of the store, opened lazily and cached per process (least recently
used, at most ``max_open`` cases: each open array holds a memory map); a patch read decompresses only the
blocks it touches. :meth:`PreprocessedData.preload` additionally keeps whole decompressed cases in memory
while they fit a byte budget (by default a quarter of the memory available when it is first called): reads
from them cost no decompression, so the loader is as fast as with the former uncompressed memory-mapped
``.npy`` store (measured in docs/preprocessing.md). :class:`~benchmark.loading.loader.PatchLoader` preloads
its cases before starting workers, which then share the decompressed arrays copy-on-write (``fork``).
Open arrays and the decompressed cache are dropped when the object is pickled (workers started with
``spawn``/``forkserver`` reopen their own and read partially), so sending it to a worker never copies voxel data.
"""

from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmark.data.format import Splits
from benchmark.preprocessing.plan import Plan
from benchmark.preprocessing.store import (
    STORE_FORMAT,
    PreprocessedCaseMeta,
    StoreFormatError,
    check_store_format,
    legacy_format_message,
    open_case_arrays,
    preprocessed_case_ids,
    read_case_meta,
)

DEFAULT_CACHE_FRACTION = 0.25  # of the memory available at the first preload, when cache_bytes is None


def available_memory() -> int:
    """Bytes of memory available to new allocations (``MemAvailable`` on Linux; 0 when unknown)."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return 0


def _nbytes(array: Any) -> int:
    return int(np.prod(array.shape, dtype=np.int64)) * int(np.dtype(array.dtype).itemsize)


class PreprocessedData:
    """A preprocessed dataset: its plan, splits, per-case metadata and (compressed or decompressed) arrays.

    ``cache_bytes`` bounds the decompressed cases :meth:`preload` keeps in memory (``0`` disables it;
    ``None``: :data:`DEFAULT_CACHE_FRACTION` of :func:`available_memory` when first needed).
    """

    def __init__(self, root: str | Path, max_open: int = 128, cache_bytes: int | None = None) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be >= 1, got {max_open}")
        if cache_bytes is not None and cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0 or None, got {cache_bytes}")
        self.root = Path(root)
        self.max_open = max_open
        self.cache_bytes = cache_bytes
        self.plan = Plan.load(self.root)
        check_store_format(self.root)
        splits_path = self.root / "splits.json"
        self.splits = Splits.from_json(json.loads(splits_path.read_text())) if splits_path.is_file() else None
        self._meta: dict[str, PreprocessedCaseMeta] = {}
        self._arrays: OrderedDict[str, tuple[Any, Any]] = OrderedDict()
        self._cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._sizes: dict[str, int] = {}  # decompressed bytes per case

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_arrays"] = OrderedDict()
        state["_cache"] = {}
        return state

    def case_ids(self, split: str | None = None) -> list[str]:
        """Preprocessed cases of ``split`` (all preprocessed cases when ``None``)."""
        present = preprocessed_case_ids(self.root)
        if split is None:
            return present
        if self.splits is None:
            raise ValueError(f"{self.root} has no splits.json; pass case ids explicitly")
        have = set(present)
        return [c for c in self.splits.get(split) if c in have]

    def fold_case_ids(self, fold: int, part: str = "train") -> list[str]:
        """Cases of ``part`` (train/val/test) of cross-validation fold ``fold``."""
        if self.splits is None:
            raise ValueError(f"{self.root} has no splits.json; pass case ids explicitly")
        f = self.splits.fold(fold)
        if part not in f:
            raise ValueError(f"fold {fold} has no {part!r} part. Valid parts: {', '.join(f)}")
        return list(f[part])

    def meta(self, case_id: str) -> PreprocessedCaseMeta:
        if case_id not in self._meta:
            meta = read_case_meta(self.root, case_id)
            if meta.store_format != STORE_FORMAT:
                raise StoreFormatError(legacy_format_message(self.root))
            self._meta[case_id] = meta
        return self._meta[case_id]

    def arrays(self, case_id: str) -> tuple[Any, Any]:
        """Image ``(C, z, y, x)`` and instance map ``(z, y, x)``: numpy arrays if preloaded, else read-only
        ``blosc2.NDArray`` (numpy-style slicing returns ndarrays; ``np.asarray`` decompresses all)."""
        if case_id in self._cache:
            return self._cache[case_id]
        if case_id in self._arrays:
            self._arrays.move_to_end(case_id)
        else:
            self.meta(case_id)  # refuses cases of another store format
            self._arrays[case_id] = open_case_arrays(self.root, case_id)
            while len(self._arrays) > self.max_open:
                self._arrays.popitem(last=False)
        return self._arrays[case_id]

    @property
    def cached_bytes(self) -> int:
        """Bytes of decompressed arrays held by :meth:`preload`."""
        return sum(_nbytes(a) + _nbytes(b) for a, b in self._cache.values())

    def preload(self, case_ids: Sequence[str]) -> list[str]:
        """Decompress ``case_ids`` into memory, in order, skipping cases that would exceed the byte budget.

        Values are identical either way (the store is lossless); only the read cost changes. Cases are never
        evicted, so a budget smaller than the data does not thrash: the cases that do not fit keep being read
        block-wise from disk. Returns the cases now held in memory.
        """
        if self.cache_bytes is None:
            self.cache_bytes = int(DEFAULT_CACHE_FRACTION * available_memory())
        used = self.cached_bytes
        for case_id in case_ids:
            if case_id in self._cache:
                continue
            if case_id not in self._sizes:
                image, seg = self.arrays(case_id)
                self._sizes[case_id] = _nbytes(image) + _nbytes(seg)
            if used + self._sizes[case_id] > self.cache_bytes:
                continue
            image, seg = self.arrays(case_id)
            arrays = (np.asarray(image[:]), np.asarray(seg[:]))
            for array in arrays:
                array.flags.writeable = False  # like the read-only memory maps it replaces
            self._cache[case_id] = arrays
            self._arrays.pop(case_id, None)
            used += self._sizes[case_id]
        return [c for c in case_ids if c in self._cache]

    def __repr__(self) -> str:
        return f"PreprocessedData({str(self.root)!r}, config={self.plan.config!r})"
