"""Extract one (augmented) patch of image and instance map with a single sampling grid.

Output voxel ``p`` (voxel frame, centre ``i + 0.5``) samples the source at ``centre + A (p - P/2)`` (+ an
optional elastic displacement). Only the source region the grid touches is read (from a compressed store:
only the blocks it overlaps), zero-padded outside the image; the image is sampled trilinearly and the
instance map with nearest neighbour (``torch.nn.functional.grid_sample``, CPU or GPU). A pure mirror/identity
transform is an integer crop plus flips -- exactly what the grid would give, without interpolation cost.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F


def crop_padded(array: np.ndarray, lo: Sequence[int], size: Sequence[int], dtype: np.dtype) -> np.ndarray:
    """``array[..., lo:lo+size]`` over the last three axes, zero outside the array (reads only the overlap)."""
    lead = array.shape[:-3]
    out = np.zeros((*lead, *[int(s) for s in size]), dtype=dtype)
    src, dst = [], []
    for start, n, dim in zip(lo, size, array.shape[-3:], strict=True):
        s0, s1 = max(int(start), 0), min(int(start) + int(n), int(dim))
        if s1 <= s0:
            return out
        src.append(slice(s0, s1))
        dst.append(slice(s0 - int(start), s1 - int(start)))
    every = (slice(None),) * len(lead)  # explicit slices, not Ellipsis: blosc2 3.0 arrays do not take it in tuples
    out[(*every, *dst)] = array[(*every, *src)]
    return out


def _is_mirror_only(matrix: np.ndarray) -> bool:
    return bool(np.allclose(np.abs(matrix), np.eye(3), atol=1e-9))


def extract_patch(
    image: np.ndarray,
    instances: np.ndarray,
    centre: Sequence[float],
    matrix: np.ndarray,
    patch_size: Sequence[int],
    displacement: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Patch of a ``(C, z, y, x)`` image (float32 ``[C, *P]``) and instance map (int32 ``[*P]``)."""
    size = np.asarray(patch_size, dtype=np.int64)
    centre = np.asarray(centre, dtype=np.float64)
    matrix = np.asarray(matrix, dtype=np.float64)
    if displacement is None and _is_mirror_only(matrix):
        lo = np.floor(centre - size / 2.0 + 0.5).astype(np.int64)
        img = crop_padded(image, lo, size, np.float32)
        inst = crop_padded(instances, lo, size, np.int32)
        flips = [a for a in range(3) if matrix[a, a] < 0]
        if flips:
            img = np.flip(img, axis=[a + 1 for a in flips])
            inst = np.flip(inst, axis=flips)
        return torch.from_numpy(np.ascontiguousarray(img)), torch.from_numpy(np.ascontiguousarray(inst))

    # Extreme source coordinates of the output voxel centres (corners of the affine grid), plus elastic reach.
    corners = np.array(np.meshgrid(*[[0.5 - n / 2.0, n / 2.0 - 0.5] for n in size], indexing="ij")).reshape(3, -1)
    reach = centre[:, None] + matrix @ corners
    margin = float(displacement.abs().max()) if displacement is not None else 0.0
    lo = np.floor(reach.min(axis=1) - margin - 0.5).astype(np.int64) - 1
    hi = np.ceil(reach.max(axis=1) + margin + 0.5).astype(np.int64) + 1
    # Only the part inside the image is read: grid_sample's zero padding is the outside of the image.
    lo = np.clip(lo, 0, instances.shape)
    hi = np.clip(hi, 0, instances.shape)
    region = hi - lo
    if np.any(region <= 0):
        return torch.zeros((image.shape[0], *size.tolist())), torch.zeros(size.tolist(), dtype=torch.int32)
    sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
    img = torch.from_numpy(np.array(image[(slice(None), *sl)], dtype=np.float32))
    inst = torch.from_numpy(np.array(instances[sl], dtype=np.float32))
    # Normalised output coords (align_corners=False) -> normalised region coords: one affine map, (z, y, x) order:
    # n_in = diag(2 / R) A diag(P / 2) n_out + (2 (centre - lo) / R - 1)
    theta = np.diag(2.0 / region) @ matrix @ np.diag(size / 2.0)
    offset = 2.0 * (centre - lo) / region - 1.0
    theta_xyz = np.concatenate([theta[::-1, ::-1], offset[::-1, None]], axis=1)  # grid_sample wants (x, y, z)
    grid = F.affine_grid(
        torch.from_numpy(theta_xyz).to(torch.float32)[None], [1, 1, *size.tolist()], align_corners=False
    )
    if displacement is not None:
        scale = torch.from_numpy((2.0 / region)[::-1].copy()).to(torch.float32)
        grid = grid + (displacement.flip(0).permute(1, 2, 3, 0) * scale)[None]
    out_img = F.grid_sample(img[None], grid, mode="bilinear", padding_mode="zeros", align_corners=False)[0]
    out_inst = F.grid_sample(inst[None, None], grid, mode="nearest", padding_mode="zeros", align_corners=False)[0, 0]
    return out_img, out_inst.to(torch.int32)


def relabel_patch(instances: torch.Tensor, classes: dict[int, int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Renumber a patch's instances to ``1..N`` (by source id) and box them: ``(instances, boxes, labels)``.

    Instance ``i + 1`` of the returned map is box ``i``; instances cut by the border keep their visible part,
    instances absent from the patch are dropped.
    """
    from scipy import ndimage

    arr = instances.numpy()
    slices = ndimage.find_objects(arr) if arr.any() else []  # one pass; equals conventions.boxes_from_instances
    ids = [i + 1 for i, sl in enumerate(slices) if sl is not None]
    found = {i: [s.start for s in slices[i - 1]] + [s.stop for s in slices[i - 1]] for i in ids}
    lut = np.zeros(len(slices) + 1, dtype=np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    relabelled = torch.from_numpy(lut[arr])
    boxes = torch.tensor(np.array([found[i] for i in ids]).reshape(-1, 6), dtype=torch.float32)
    labels = torch.tensor([classes[i] for i in ids], dtype=torch.int64)
    return relabelled, boxes, labels
