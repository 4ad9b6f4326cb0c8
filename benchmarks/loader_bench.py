"""Throughput of the training loader on this machine, old uncompressed store vs the compressed one, side by side.

Runs on synthetic preprocessed data in a temporary folder, or on a preprocessed folder (``--data``, e.g. a
twin preprocessed with ``benchmark preprocess``). Prints four tables:

1. storage: bytes of one case and random patch reads from it (warm page cache, copied into float32):
   memory-mapped uncompressed ``.npy`` (the store before format 2) float32 / float16, and Blosc2 ``.b2nd``
   with several codecs, chunk and block sizes (the store's choice is marked);
2. augmentation backend: one rotated and scaled patch (image trilinear + instance map nearest) with torch
   ``affine_grid/grid_sample`` vs ``scipy.ndimage.map_coordinates``;
3. read and 4. loader, for three stores of the same cases: ``npy mmap`` (old), ``b2nd`` (compressed,
   block-wise reads, no cache) and ``b2nd+cache`` (compressed, cases decompressed into memory by
   :meth:`PreprocessedData.preload`, the default when they fit). *read*: CPU milliseconds of the loader's read
   of one patch (image + instance map) from a random case. *loader*: patches per second of
   :class:`~benchmark.loading.PatchLoader` without augmentation (crops only: the read matters most), with the
   default augmentation and with rotation+scaling on every patch, per patch size and worker count. The stores
   take turns within each repeat (in a rotating order), so they share the machine's load; the first batch of
   each measurement (worker start-up, preloading) is not timed. The median of ``--repeats`` is printed, and
   for ``workers=0`` also the CPU milliseconds per patch of this process, which depend less on other jobs.

5. ``--vs-batchgenerators``: the same augmentations by detbench and by batchgeneratorsv2 on the same 128^3
   patches, one core, side by side with the ratio (``benchmarks/loader_vs_batchgenerators.py``; needs the
   optional ``bench`` extra, else the table says why it is missing).

Run: ``python benchmarks/loader_bench.py`` (``--help`` for sizes, workers, repeats and batch counts).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from benchmark.loading import (
    AugmentationConfig,
    LoaderConfig,
    PatchLoader,
    PreprocessedData,
    SpatialAugmentation,
    write_synthetic_preprocessed,
)
from benchmark.loading.augmentation import sample_spatial_transform
from benchmark.loading.patches import extract_patch
from benchmark.preprocessing.store import CHUNK, CLEVEL, CODEC, IMAGE_BLOCK, SEG_BLOCK, compress_array, open_array


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


class NpyData(PreprocessedData):
    """The same cases read the way the store before format 2 did: memory-mapped uncompressed ``.npy``."""

    def __init__(self, root: Path, npy_dir: Path) -> None:
        super().__init__(root, cache_bytes=0)
        self.npy_dir = npy_dir

    def arrays(self, case_id: str) -> tuple[np.ndarray, np.ndarray]:
        if case_id not in self._arrays:
            self._arrays[case_id] = (
                np.load(self.npy_dir / f"{case_id}.npy", mmap_mode="r"),
                np.load(self.npy_dir / f"{case_id}_seg.npy", mmap_mode="r"),
            )
        return self._arrays[case_id]


def write_npy_copy(data: PreprocessedData, case_ids: list[str], out: Path) -> Path:
    """Decompressed ``.npy`` copies of ``case_ids`` (the old store's files)."""
    out.mkdir(parents=True, exist_ok=True)
    for case_id in case_ids:
        image, seg = data.arrays(case_id)
        np.save(out / f"{case_id}.npy", image[:])
        np.save(out / f"{case_id}_seg.npy", seg[:])
    return out


def _read_rate(array, patch: int, n: int, rng: np.random.Generator) -> float:
    """Random ``patch^3`` reads per second, each copied into a float32 array."""
    shape = array.shape
    np.array(array[:patch, :patch, :patch], dtype=np.float32)  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        lo = [int(rng.integers(0, s - patch + 1)) for s in shape]
        np.array(array[lo[0] : lo[0] + patch, lo[1] : lo[1] + patch, lo[2] : lo[2] + patch], dtype=np.float32)
    return n / (time.perf_counter() - start)


def storage_table(tmp: Path, data: PreprocessedData, patch_sizes: list[int]) -> None:
    """Bytes per case (image + instance map) and random patch reads from the image, per store variant."""
    case_id = data.case_ids()[0]
    image, seg = (np.asarray(a[:]) for a in data.arrays(case_id))
    volume = image[0]
    seg_b2nd = len(compress_array(seg, SEG_BLOCK))
    stores: dict[str, tuple[object, int]] = {}
    for dtype in ("float32", "float16"):
        path = tmp / f"store_{dtype}.npy"
        np.save(path, volume.astype(dtype))
        size = image.astype(dtype).nbytes + seg.nbytes
        stores[f"npy mmap {dtype} (old store)"] = (np.load(path, mmap_mode="r"), size)
    variants = [(c, lv, CHUNK, IMAGE_BLOCK) for c, lv in (("lz4", 5), (CODEC, CLEVEL), ("zstd", 1), ("zstd", 5))]
    variants += [(CODEC, CLEVEL, chunk, block) for chunk, block in ((32, 16), (128, 16), (64, 32), (64, 8))]
    for codec, clevel, chunk, block in variants:
        path = tmp / f"store_{codec}{clevel}_{chunk}_{block}.b2nd"
        path.write_bytes(compress_array(volume, block, codec, clevel, chunk=chunk))
        size = len(compress_array(image, block, codec, clevel, chunk=chunk)) + seg_b2nd
        chosen = " *" if (codec, clevel, chunk, block) == (CODEC, CLEVEL, CHUNK, IMAGE_BLOCK) else ""
        stores[f"b2nd {codec}-{clevel} c{chunk} b{block}{chosen}"] = (open_array(path), size)
    print(f"\n[storage] case {case_id} {image.shape}: MB of image + instance map, random image patch reads")
    print("(warm page cache, one thread; * = the store's settings)")
    print(f"{'store':36s} {'MB':>7s} " + " ".join(f"{f'{p}^3 /s':>10s}" for p in patch_sizes))
    for name, (array, size) in stores.items():
        rates = [_read_rate(array, p, 40 if p >= 128 else 200, np.random.default_rng(1)) for p in patch_sizes]
        print(f"{name:36s} {size / 1e6:7.1f} " + " ".join(f"{r:10.1f}" for r in rates))


def backend_table(data: PreprocessedData, patch_sizes: list[int]) -> None:
    from scipy import ndimage

    case_id = data.case_ids()[0]
    image, seg = data.arrays(case_id)
    spatial = SpatialAugmentation(p_rotation=1.0, p_scale=1.0, p_mirror=0.5)
    print("\n[augmentation backend] one rotated+scaled patch, image trilinear + instance map nearest, 1 thread")
    for p in patch_sizes:
        rng = np.random.default_rng(0)
        matrix = sample_spatial_transform(rng, spatial)
        centre = np.asarray(seg.shape) / 2.0
        extract_patch(image, seg, centre, matrix, (p, p, p))
        n = 5 if p >= 128 else 20
        start = time.perf_counter()
        for _ in range(n):
            extract_patch(image, seg, centre, matrix, (p, p, p))
        torch_s = (time.perf_counter() - start) / n
        axes = np.meshgrid(*[np.arange(p) + 0.5 - p / 2.0] * 3, indexing="ij")
        start = time.perf_counter()
        for _ in range(max(2, n // 5)):
            q = centre[:, None, None, None] + np.einsum("ij,jzyx->izyx", matrix, np.stack(axes))
            ndimage.map_coordinates(np.asarray(image[0]), q - 0.5, order=1, mode="constant", cval=0.0)
            ndimage.map_coordinates(np.asarray(seg), q - 0.5, order=0, mode="constant", cval=0)
        scipy_s = (time.perf_counter() - start) / max(2, n // 5)
        print(f"{p}^3: torch affine_grid/grid_sample {torch_s * 1e3:7.1f} ms", end="   ")
        print(f"scipy map_coordinates {scipy_s * 1e3:7.1f} ms")


def read_table(stores: dict[str, PreprocessedData], case_ids: list[str], patch_sizes: list[int], repeats: int) -> None:
    """CPU ms of the loader's read of one patch (image + instance map, ``crop_padded``) from a random case."""
    from benchmark.loading.patches import crop_padded

    for data in stores.values():
        data.preload(case_ids)  # what PatchLoader does first (a no-op for the stores without a cache)

    def one_run(data: PreprocessedData, p: int, n: int) -> float:
        rng = np.random.default_rng(0)
        start = time.process_time()
        for _ in range(n):
            image, seg = data.arrays(case_ids[int(rng.integers(len(case_ids)))])
            lo = [int(rng.integers(-p // 4, s - p + p // 4 + 1)) for s in seg.shape]
            crop_padded(image, lo, (p, p, p), np.float32)
            crop_padded(seg, lo, (p, p, p), np.int32)
        return 1e3 * (time.process_time() - start) / n

    print(f"\n[read] CPU ms to read one patch (image + instance map) from a random case, median of {repeats}")
    print(f"{'patch':8s} " + " ".join(f"{name:>22s}" for name in stores))
    for p in patch_sizes:
        n = 20 if p >= 128 else 100
        results: dict[str, list[float]] = {s: [] for s in stores}
        names = list(stores)
        for r in range(repeats):
            for store in names[r % len(names) :] + names[: r % len(names)]:
                results[store].append(one_run(stores[store], p, n))
        print(f"{f'{p}^3':8s} " + " ".join(f"{float(np.median(results[s])):19.2f} ms" for s in stores))


def _measure(data: PreprocessedData, case_ids: list[str], config: LoaderConfig, workers: int) -> tuple[float, float]:
    """(patches/s, CPU ms per patch of this process) of one epoch after its first (untimed) batch."""
    loader = PatchLoader(data, case_ids, config, seed=0, num_workers=workers)
    it = iter(loader)
    next(it)
    start, cpu = time.perf_counter(), time.process_time()
    n = sum(b["image"].shape[0] for b in it)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return n / wall, 1e3 * cpu / n


def loader_table(
    stores: dict[str, PreprocessedData],
    case_ids: list[str],
    patch_sizes: list[int],
    workers: list[int],
    batch: int,
    batches: int,
    repeats: int,
) -> None:
    variants = {
        "no aug": AugmentationConfig.none(),  # crop + relabel only: where the store matters most
        "default aug": AugmentationConfig(),
        "rot+scale always": AugmentationConfig(SpatialAugmentation(p_rotation=1.0, p_scale=1.0)),
    }
    print(f"\n[loader] PatchLoader patches/s, median of {repeats} (batch {batch}; {batches} timed batches for 128^3")
    print("patches, x (128/p)^2 for smaller ones, after one warm-up batch); for workers=0 also CPU ms per patch of")
    print("the loading process (median); the stores take turns within each repeat, in a rotating order")
    print(f"{'setting':32s} " + " ".join(f"{name:>22s}" for name in stores))
    for p in patch_sizes:
        timed = max(1, round(batches * max(1.0, (128 / p) ** 2)))
        for name, aug in variants.items():
            for w in workers:
                config = LoaderConfig(
                    patch_size=(p, p, p), batch_size=batch, batches_per_epoch=timed + 1, augmentation=aug
                )
                results: dict[str, list[tuple[float, float]]] = {s: [] for s in stores}
                names = list(stores)
                for r in range(repeats):
                    for store in names[r % len(names) :] + names[: r % len(names)]:
                        results[store].append(_measure(stores[store], case_ids, config, w))
                cells = []
                for store in stores:
                    rate = float(np.median([r for r, _ in results[store]]))
                    cpu = float(np.median([c for _, c in results[store]]))
                    cells.append(f"{rate:8.2f}/s" + (f" {cpu:7.1f} ms" if w == 0 else " " * 11))
                print(f"{f'{p}^3 {name} workers={w}':32s} " + " ".join(f"{c:>22s}" for c in cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=None, help="a preprocessed folder (default: synthetic cases)")
    parser.add_argument("--shape", type=int, nargs=3, default=(160, 192, 192), help="voxels per synthetic case")
    parser.add_argument("--cases", type=int, default=3, help="synthetic cases, or the first N cases of --data")
    parser.add_argument("--patch-sizes", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6, help="timed batches per setting")
    parser.add_argument("--repeats", type=int, default=3, help="measurements per setting and store (median)")
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-backends", action="store_true")
    parser.add_argument("--skip-loader", action="store_true")
    parser.add_argument(
        "--vs-batchgenerators", action="store_true", help="also time batchgeneratorsv2 doing the same transforms"
    )
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, intra-op threads in the main process: 1")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="loader_bench_") as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        if args.data is None:
            root = write_synthetic_preprocessed(
                tmp / "data", num_cases=args.cases, shape=args.shape, objects_per_case=6, radius_range=(4.0, 16.0)
            )
            print(f"synthetic data: {args.cases} cases of {tuple(args.shape)} in {time.perf_counter() - start:.1f} s")
        else:
            root = args.data
        data = PreprocessedData(root, cache_bytes=0)
        case_ids = data.case_ids()[: args.cases]
        if not args.skip_storage:
            storage_table(tmp, data, args.patch_sizes)
        if not args.skip_backends:
            backend_table(data, args.patch_sizes)
        if not args.skip_loader:
            stores = {
                "npy mmap (old)": NpyData(root, write_npy_copy(data, case_ids, tmp / "npy")),
                "b2nd": PreprocessedData(root, cache_bytes=0),
                "b2nd+cache (default)": PreprocessedData(root),
            }
            b2nd = sum(_size_mb(p) for c in case_ids for p in root.glob(f"{c}*.b2nd"))
            npy = sum(_size_mb(p) for c in case_ids for p in (tmp / "npy").glob(f"{c}*.npy"))
            print(f"\nloader cases: {len(case_ids)}, npy {npy:.1f} MB, b2nd {b2nd:.1f} MB ({npy / b2nd:.1f}x smaller)")
            read_table(stores, case_ids, args.patch_sizes, args.repeats)
            loader_table(stores, case_ids, args.patch_sizes, args.workers, args.batch_size, args.batches, args.repeats)
        if args.vs_batchgenerators:
            import sys

            sys.path.insert(0, str(Path(__file__).resolve().parent))
            from loader_vs_batchgenerators import print_comparison

            image, seg = (np.asarray(a[:]) for a in data.arrays(case_ids[0]))
            print_comparison(image, seg, patch=128, repeats=args.repeats)


if __name__ == "__main__":
    main()
