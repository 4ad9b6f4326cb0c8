"""Rasterise spherical findings given in world millimetres into an instance map (used for LUNA16-style CSVs)."""

from __future__ import annotations

import numpy as np

from benchmark.core.conventions import Geometry, voxel_to_world, world_to_voxel


def rasterise_spheres(centres_xyz: np.ndarray, diameters_mm: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Instance map ``(z, y, x)`` with sphere ``k`` as instance ``k + 1`` (voxel centres within the radius).

    Earlier spheres keep shared voxels; a sphere smaller than a voxel still gets the voxel holding its centre,
    so no finding is lost. Spheres whose centre lies outside the image raise ``ValueError``.
    """
    shape = np.asarray(geometry.shape)
    out = np.zeros(tuple(shape), dtype=np.int16 if len(centres_xyz) < 32000 else np.int32)
    centres_vox = world_to_voxel(np.asarray(centres_xyz, dtype=np.float64).reshape(-1, 3), geometry)
    spacing = np.asarray(geometry.spacing)
    for k, (centre, diameter) in enumerate(zip(centres_vox, np.asarray(diameters_mm, dtype=np.float64), strict=True)):
        if np.any(centre < 0) or np.any(centre >= shape):
            raise ValueError(
                f"finding {k}: centre {centre.round(1).tolist()} (voxel frame) is outside the image {shape}"
            )
        radius = diameter / 2.0
        half = np.ceil(radius / spacing).astype(int) + 1  # generous: direction may rotate axes
        half = np.full(3, half.max()) if not np.allclose(np.abs(geometry.direction_matrix), np.eye(3)) else half
        lo = np.maximum(np.floor(centre).astype(int) - half, 0)
        hi = np.minimum(np.floor(centre).astype(int) + half + 1, shape)
        grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), axis=-1)
        world = voxel_to_world(grid.reshape(-1, 3) + 0.5, geometry)
        centre_world = voxel_to_world(centre[None], geometry)[0]
        inside = (np.sum((world - centre_world) ** 2, axis=1) < radius**2).reshape(grid.shape[:3])
        region = out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        region[inside & (region == 0)] = k + 1
        if not np.any(region == k + 1):
            c = np.floor(centre).astype(int)
            if out[tuple(c)] == 0:
                out[tuple(c)] = k + 1
    return out
