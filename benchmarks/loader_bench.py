"""Throughput of the training loader on this machine, on synthetic preprocessed data in a temporary folder.

Prints three tables:

1. storage: random patch reads (warm page cache) from memory-mapped ``.npy`` float32 / float16, and from
   chunked Blosc-compressed zarr when ``zarr`` is importable (it is not a dependency of detbench);
2. augmentation backend: one rotated and scaled patch (image trilinear + instance map nearest) with torch
   ``affine_grid/grid_sample`` vs ``scipy.ndimage.map_coordinates``;
3. loader: patches per second of :class:`~benchmark.loading.PatchLoader` with the default augmentation (and
   with rotation+scaling on every patch) per patch size and worker count; the first batch (worker start-up)
   is not timed.

Run: ``python benchmarks/loader_bench.py`` (``--help`` for sizes, workers and batch counts).
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


def _size_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def _read_rate(array, patch: int, n: int, rng: np.random.Generator) -> float:
    """Random ``patch^3`` reads per second, each copied into a float32 array."""
    shape = array.shape
    np.array(array[:patch, :patch, :patch], dtype=np.float32)  # warm-up
    start = time.perf_counter()
    for _ in range(n):
        lo = [int(rng.integers(0, s - patch + 1)) for s in shape]
        np.array(array[lo[0] : lo[0] + patch, lo[1] : lo[1] + patch, lo[2] : lo[2] + patch], dtype=np.float32)
    return n / (time.perf_counter() - start)


def storage_table(tmp: Path, volume: np.ndarray, patch_sizes: list[int]) -> None:
    stores: dict[str, tuple[object, Path]] = {}
    for dtype in ("float32", "float16"):
        path = tmp / f"store_{dtype}.npy"
        np.save(path, volume.astype(dtype))
        stores[f"npy mmap {dtype}"] = (np.load(path, mmap_mode="r"), path)
    try:
        import numcodecs
        import zarr

        for dtype in ("float32", "float16"):
            path = tmp / f"store_{dtype}.zarr"
            z = zarr.open(
                str(path),
                mode="w",
                shape=volume.shape,
                chunks=(64, 64, 64),
                dtype=dtype,
                compressor=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
            )
            z[:] = volume.astype(dtype)
            stores[f"zarr blosc-lz4 64^3 chunks {dtype}"] = (zarr.open(str(path), mode="r"), path)
    except ImportError:
        print("(zarr not importable: chunked-compressed storage not measured)")
    print(f"\n[storage] random patch reads from a {volume.shape} volume (warm page cache)")
    print(f"{'store':36s} {'MB':>7s} " + " ".join(f"{f'{p}^3 /s':>10s}" for p in patch_sizes))
    for name, (array, path) in stores.items():
        rates = [_read_rate(array, p, 40 if p >= 128 else 200, np.random.default_rng(1)) for p in patch_sizes]
        print(f"{name:36s} {_size_mb(path):7.1f} " + " ".join(f"{r:10.1f}" for r in rates))


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


def loader_table(data: PreprocessedData, patch_sizes: list[int], workers: list[int], batch: int, batches: int) -> None:
    variants = {
        "default aug": AugmentationConfig(),
        "rot+scale always": AugmentationConfig(SpatialAugmentation(p_rotation=1.0, p_scale=1.0)),
    }
    print(f"\n[loader] PatchLoader patches/s (batch {batch}, {batches} timed batches after one warm-up batch)")
    for p in patch_sizes:
        for name, aug in variants.items():
            for w in workers:
                config = LoaderConfig(
                    patch_size=(p, p, p), batch_size=batch, batches_per_epoch=batches + 1, augmentation=aug
                )
                loader = PatchLoader(data, data.case_ids(), config, seed=0, num_workers=w)
                it = iter(loader)
                next(it)
                start = time.perf_counter()
                n = sum(b["image"].shape[0] for b in it)
                rate = n / (time.perf_counter() - start)
                print(f"{p}^3 {name:17s} workers={w}: {rate:7.2f} patches/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(160, 192, 192), help="voxels per synthetic case")
    parser.add_argument("--cases", type=int, default=3)
    parser.add_argument("--patch-sizes", type=int, nargs="+", default=[128, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--batches", type=int, default=6, help="timed batches per setting")
    parser.add_argument("--skip-storage", action="store_true")
    parser.add_argument("--skip-backends", action="store_true")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {os.cpu_count()} CPUs, intra-op threads in the main process: 1")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="loader_bench_") as tmp_name:
        tmp = Path(tmp_name)
        start = time.perf_counter()
        root = write_synthetic_preprocessed(
            tmp / "data", num_cases=args.cases, shape=args.shape, objects_per_case=6, radius_range=(4.0, 16.0)
        )
        print(f"synthetic data: {args.cases} cases of {tuple(args.shape)} in {time.perf_counter() - start:.1f} s")
        data = PreprocessedData(root)
        if not args.skip_storage:
            storage_table(tmp, np.asarray(data.arrays(data.case_ids()[0])[0][0]), args.patch_sizes)
        if not args.skip_backends:
            backend_table(data, args.patch_sizes)
        loader_table(data, args.patch_sizes, args.workers, args.batch_size, args.batches)


if __name__ == "__main__":
    main()
