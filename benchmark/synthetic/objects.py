"""Target objects of the twins (nodules, tumours, cysts, fractures, aneurysms) and their unlabelled look-alikes.

A *placer* draws the objects of one image into a :class:`~benchmark.synthetic.anatomy.Scene` and records
them in an :class:`InstancePainter`, which guarantees the label rules of the prepared format: instance
ids ``1..N`` in placement order, every instance has voxels, objects lie fully inside the volume (not
touching its border) and do not overlap or touch (masks grown by a margin; boxes for box-only twins).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.special import ndtr, ndtri

from benchmark.synthetic.anatomy import HU, MRI, Crop, Scene, capsule_mask, random_rotation, smooth_noise
from benchmark.synthetic.config import DifficultyKnobs

MAX_TRIES = 40


class InstancePainter:
    """Instance map plus occupancy, enforcing non-overlapping objects fully inside the volume."""

    def __init__(self, shape: tuple[int, int, int], box_shaped: bool = False, margin: int = 1) -> None:
        self.instances = np.zeros(shape, dtype=np.int32)
        self.occupied = np.zeros(shape, dtype=bool)
        self.classes: dict[int, int] = {}
        self.box_shaped = box_shaped
        self.margin = margin

    def _global_box(self, crop: Crop, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        idx = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
        if any(len(i) == 0 for i in idx):
            return None
        start = np.array([s.start for s in crop.slices])
        return start + np.array([i[0] for i in idx]), start + np.array([i[-1] for i in idx])

    def is_free(self, crop: Crop, mask: np.ndarray) -> bool:
        """True when ``mask`` touches no placed object (used for unlabelled distractors)."""
        return not bool(self.occupied[crop.slices][mask].any())

    def try_add(self, crop: Crop, mask: np.ndarray, class_index: int, min_voxels: int = 4) -> int | None:
        """Add the object if it is big enough, inside the volume and free; return its instance id or None."""
        if int(mask.sum()) < min_voxels:
            return None
        box = self._global_box(crop, mask)
        if box is None:
            return None
        lo, hi = box
        shape = np.asarray(self.instances.shape)
        if np.any(lo < 1) or np.any(hi > shape - 2):
            return None  # touching the border would truncate the object
        if self.box_shaped:  # boxes must not overlap: occupy the widened box
            elo = np.maximum(lo - self.margin, 0)
            ehi = np.minimum(hi + 1 + self.margin, shape)
            wide = tuple(slice(int(a), int(b)) for a, b in zip(elo, ehi, strict=True))
            if self.occupied[wide].any():
                return None
            new_id = len(self.classes) + 1
            self.instances[tuple(slice(int(a), int(b) + 1) for a, b in zip(lo, hi, strict=True))] = new_id
            self.occupied[wide] = True
        else:  # masks must not overlap or touch: occupy the mask grown by the margin
            grown = ndimage.binary_dilation(mask, structure=np.ones((3, 3, 3), bool), iterations=self.margin)
            if self.occupied[crop.slices][grown].any():
                return None
            new_id = len(self.classes) + 1
            self.instances[crop.slices][mask] = new_id
            self.occupied[crop.slices] |= grown
        self.classes[new_id] = int(class_index)
        return new_id


@dataclass
class PlacementContext:
    """What a placer needs: the scene, the case's generator, knobs and the size floor of the scale."""

    scene: Scene
    rng: np.random.Generator
    knobs: DifficultyKnobs
    painter: InstancePainter
    min_diameter_mm: float
    contrast: float

    def diameter_range(self, hi_limit: float | None = None) -> tuple[float, float]:
        """(min, max) object size in mm: the knob's range, capped by ``hi_limit``, floored for visibility."""
        lo, hi = self.knobs.object_diameter_mm
        if hi_limit is not None:
            hi = min(hi, hi_limit)
        lo = max(lo, self.min_diameter_mm)
        if lo > 0.8 * hi:  # the grid is too coarse for the real range: keep the largest objects
            lo = 0.8 * hi
        return lo, hi

    def sample_diameter(self, class_index: int, hi_limit: float | None = None, attempt: int = 0) -> float:
        """Truncated log-normal diameter (mm) with the class's median and the knob's spread and range.

        Each failed placement ``attempt`` lowers the upper bound by 3%, so crowded or small hosts still
        receive their planned objects (a little smaller) instead of fewer objects.
        """
        hi = self.knobs.object_diameter_mm[1] if hi_limit is None else min(self.knobs.object_diameter_mm[1], hi_limit)
        lo, hi = self.diameter_range(hi * 0.97**attempt)
        mu = np.log(self.knobs.object_median_mm[class_index])
        s = max(self.knobs.object_size_spread, 1e-3)
        a, b = (np.log(lo) - mu) / s, (np.log(hi) - mu) / s
        if a > 0:  # sample the upper tail through the survival function to stay precise
            z = -ndtri(self.rng.uniform(ndtr(-b), ndtr(-a)))
        else:
            z = ndtri(self.rng.uniform(ndtr(a), ndtr(b)))
        return float(np.clip(np.exp(mu + s * z), lo, hi))

    def local_texture(self, crop: Crop, correlation_mm: float) -> np.ndarray:
        sigma = np.maximum(correlation_mm / np.asarray(self.scene.grid.spacing), 0.5)
        return smooth_noise(self.rng, crop.shape, sigma)

    def mix(self, host: float | np.ndarray, target: float | np.ndarray) -> np.ndarray:
        """Object intensity: host + contrast * (target - host)."""
        host_a = np.asarray(host, dtype=np.float32)
        return host_a + np.float32(self.contrast) * (np.asarray(target, dtype=np.float32) - host_a)


def blob_mask(
    crop: Crop,
    radii: np.ndarray,
    rotation: np.ndarray,
    rng: np.random.Generator,
    lobes: float = 0.0,
    spikes: float = 0.0,
    n_lobes: int = 5,
    n_spikes: int = 8,
) -> np.ndarray:
    """Ellipsoid (crop centre, rotated) with a lobulated margin and optional spicules."""
    u = [
        (rotation[0, i] * crop.z + rotation[1, i] * crop.y + rotation[2, i] * crop.x) / np.float32(radii[i])
        for i in range(3)
    ]
    rho = np.sqrt(u[0] ** 2 + u[1] ** 2 + u[2] ** 2) + np.float32(1e-6)
    surface = np.ones_like(rho)
    if lobes > 0:
        dirs = rng.standard_normal((n_lobes, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        w = rng.uniform(-1.0, 1.0, n_lobes)
        w /= np.abs(w).sum()
        for v, wk in zip(dirs, w, strict=True):
            t = (v[0] * u[0] + v[1] * u[1] + v[2] * u[2]) / rho
            surface += np.float32(lobes * wk) * (3.0 * t * t - 1.0)
    if spikes > 0:
        dirs = rng.standard_normal((n_spikes, 3))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        for v in dirs:
            t = np.clip((v[0] * u[0] + v[1] * u[1] + v[2] * u[2]) / rho, 0.0, 1.0)
            surface += np.float32(spikes * rng.uniform(0.5, 1.0)) * t**40
    return rho <= surface


def _blob_crop(ctx: PlacementContext, center: np.ndarray, radii: np.ndarray, reach: float) -> Crop | None:
    return ctx.scene.grid.crop(center, float(np.max(radii)) * reach + max(ctx.scene.grid.spacing))


def _random_unit(rng: np.random.Generator) -> np.ndarray:
    v = rng.standard_normal(3)
    return v / (np.linalg.norm(v) + 1e-9)


def _ovoid(rng: np.random.Generator, r: float, sd: float = 0.12) -> np.ndarray:
    return r * np.clip(1.0 + sd * rng.standard_normal(3), 1.0 - 2 * sd, 1.0 + 2 * sd)


def _sample_inside(ctx: PlacementContext, mask_name: str, depth_mm: float, prefer: np.ndarray | None = None):  # noqa: ANN202
    """A random point (mm) of mask ``mask_name`` about ``depth_mm`` or deeper inside it, or None.

    With ``prefer`` (a full-volume mask), 70% of the draws are restricted to it when possible.
    """
    dm = ctx.scene.depth_map(mask_name)
    cand = dm.inside
    if cand.size == 0:
        return None
    if prefer is not None and ctx.rng.random() < 0.7:
        idx = np.stack(np.unravel_index(cand, dm.depth.shape)) * dm.stride[:, None] + dm.start[:, None]
        pref = cand[prefer[tuple(idx)]]
        if pref.size:
            cand = pref
    flat = dm.depth.ravel()
    g = ctx.scene.grid
    for _ in range(20):
        i = cand[ctx.rng.integers(cand.size)]
        if flat[i] >= depth_mm:
            fine = dm.fine_index(int(i))
            jitter = ctx.rng.uniform(-0.5, 0.5, 3) * dm.stride
            return (fine + 0.5 + jitter) * np.asarray(g.spacing) - g.half
    return None


def _point_on_path(rng: np.random.Generator, pts: np.ndarray, rad: np.ndarray, margin: int = 1):  # noqa: ANN202
    """A random point on a polyline (away from its ends), the unit tangent there and the local radius."""
    n = len(pts) - 1
    j = int(rng.integers(min(margin, n - 1), max(n - margin, min(margin, n - 1) + 1)))
    t = rng.random()
    p = pts[j] + t * (pts[j + 1] - pts[j])
    d = pts[j + 1] - pts[j]
    d = d / (np.linalg.norm(d) + 1e-9)
    return p, d, float(rad[j] + t * (rad[j + 1] - rad[j]))


# ----------------------------------------------------------------------------------------------- placers


def place_lung_nodules(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Nodules in the lungs: solid (~30 HU), some sub-solid (ground glass); two classes = benign/malignant.

    Benign nodules (LIDC class 0) are small, smooth and sometimes calcified; malignant ones (class 1) are
    larger (per-class median size) and spiculated (per-class ``spiculation``), sometimes part-solid.
    Distractors: short vessel segments along z, which look like nodules in an axial slice.
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    two_class = len(k.object_median_mm) == 2
    lung = HU["lung"]
    for cls in classes:
        for attempt in range(MAX_TRIES):
            r = ctx.sample_diameter(cls, attempt=attempt) / 2.0
            center = _sample_inside(ctx, "lungs", 0.7 * r)
            if center is None:
                continue
            radii = _ovoid(rng, r)
            spikes = k.spiculation[cls]
            crop = _blob_crop(ctx, center, radii, 1.0 + k.irregularity + spikes)
            if crop is None:
                continue
            mask = blob_mask(crop, radii, random_rotation(rng), rng, k.irregularity, spikes)
            if ctx.painter.try_add(crop, mask, cls) is None:
                continue
            kind = rng.random()
            if two_class and cls == 0 and kind < 0.25:
                target = 350.0  # calcified granuloma
            elif kind < (0.2 if (two_class and cls == 1) else 0.12):
                target = -550.0  # ground glass / part-solid
            else:
                target = 30.0
            value = ctx.mix(lung, target) + np.float32(12.0) * ctx.local_texture(crop, 1.5)
            scene.fill_crop(crop, mask, value[None])
            if target == -550.0 and two_class and cls == 1:
                core = blob_mask(crop, radii * 0.5, np.eye(3), rng, 0.1)
                scene.fill_crop(crop, core & mask, ctx.mix(lung, 30.0))
            break
    for _ in range(k.distractors):
        r = ctx.sample_diameter(0) / 2.0 * 0.8
        center = _sample_inside(ctx, "lungs", 1.2 * r)
        if center is None:
            continue
        axis = np.array([1.0, 0.3 * rng.standard_normal(), 0.3 * rng.standard_normal()])
        half = axis / np.linalg.norm(axis) * r * rng.uniform(2.0, 3.0)
        crop = scene.grid.crop(center, np.abs(half) + r + max(scene.grid.spacing))
        if crop is None:
            continue
        mask = capsule_mask(crop, -half, half, r, r) & scene.masks["lungs"][crop.slices]
        if ctx.painter.is_free(crop, mask):
            scene.fill_crop(crop, mask, ctx.mix(lung, 30.0))


def place_pancreatic_tumours(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Hypodense (~45 HU vs ~100 HU parenchyma), lobulated tumours centred in the pancreas.

    Distractors: fluid-filled round bowel cross-sections (~20 HU) right next to the pancreas.
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    pts, rad = scene.paths["pancreas"][0]
    cavity = scene.masks["cavity"]
    for cls in classes:
        for attempt in range(MAX_TRIES):
            p, _, r_host = _point_on_path(rng, pts, rad, margin=2)
            r = ctx.sample_diameter(cls, attempt=attempt) / 2.0
            center = p + _random_unit(rng) * rng.uniform(0, 0.4) * r_host
            radii = _ovoid(rng, r, 0.15)
            crop = _blob_crop(ctx, center, radii, 1.0 + k.irregularity + k.spiculation[cls])
            if crop is None:
                continue
            mask = blob_mask(crop, radii, random_rotation(rng), rng, k.irregularity, k.spiculation[cls])
            mask &= cavity[crop.slices]
            if ctx.painter.try_add(crop, mask, cls) is None:
                continue
            value = ctx.mix(HU["pancreas"], 45.0) + np.float32(10.0) * ctx.local_texture(crop, 2.0)
            scene.fill_crop(crop, mask, value[None])
            break
    for _ in range(k.distractors):
        p, d, r_host = _point_on_path(rng, pts, rad, margin=1)
        r = ctx.sample_diameter(0) / 2.0 * rng.uniform(0.5, 0.9)
        side = np.cross(d, _random_unit(rng))
        side /= np.linalg.norm(side) + 1e-9
        center = p + side * (r_host + r + 1.0)
        crop = _blob_crop(ctx, center, np.full(3, r), 1.0)
        if crop is None:
            continue
        mask = blob_mask(crop, np.full(3, r), np.eye(3), rng) & cavity[crop.slices]
        mask &= ~scene.masks["pancreas"][crop.slices]
        if ctx.painter.is_free(crop, mask):
            scene.fill_crop(crop, mask, 20.0)


def place_kidney_lesions(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Renal cysts (class 0: homogeneous fluid ~10 HU, round, sharp) and tumours (class 1: heterogeneous,
    enhancing ~110 HU with texture SD ~35 HU, lobulated, necrotic core when large), at the renal cortex.

    Distractors: simple cysts in the liver (not labelled: only renal lesions are targets).
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    kidneys = scene.info["kidneys"]
    host = 150.0
    for cls in classes:
        for attempt in range(MAX_TRIES):
            kid = kidneys[int(rng.integers(len(kidneys)))]
            u = _random_unit(rng)
            center = kid["center"] + kid["rotation"] @ (kid["radii"] * u) * rng.uniform(0.55, 1.0)
            r = ctx.sample_diameter(cls, 2.0 * float(np.mean(kid["radii"])), attempt) / 2.0
            tumour = cls == 1
            radii = _ovoid(rng, r, 0.15 if tumour else 0.05)
            lobes = k.irregularity * (1.5 if tumour else 0.2)
            crop = _blob_crop(ctx, center, radii, 1.0 + lobes + k.spiculation[cls])
            if crop is None:
                continue
            rot = random_rotation(rng)
            mask = blob_mask(crop, radii, rot, rng, lobes, k.spiculation[cls]) & scene.masks["cavity"][crop.slices]
            if ctx.painter.try_add(crop, mask, cls) is None:
                continue
            if tumour:
                value = ctx.mix(host, 110.0) + np.float32(35.0) * ctx.local_texture(crop, 2.0)
                scene.fill_crop(crop, mask, value[None])
                if r > 12.0:
                    core = blob_mask(crop, radii * 0.45, rot, rng, 0.2) & mask
                    scene.fill_crop(crop, core, ctx.mix(host, 35.0))
            else:
                scene.fill_crop(crop, mask, ctx.mix(host, HU["fluid"]))
            break
    if "liver" in scene.masks:
        for _ in range(k.distractors):
            r = ctx.sample_diameter(0) / 2.0
            center = _sample_inside(ctx, "liver", r)
            if center is None:
                continue
            crop = _blob_crop(ctx, center, np.full(3, r), 1.0)
            if crop is None:
                continue
            mask = blob_mask(crop, np.full(3, r), np.eye(3), rng) & scene.masks["liver"][crop.slices]
            if ctx.painter.is_free(crop, mask):
                scene.fill_crop(crop, mask, HU["fluid"])


def place_rib_fractures(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Fractures on rib arcs: the label is a thin capsule around a rib segment (length = 'diameter' knob).

    The image shows a fracture gap (soft tissue across the cortex) and, for healing fractures, callus
    around the rib and a sclerotic band; buckle fractures show only a cortical bulge.
    Distractors: sclerotic bone islands (dense spots on intact ribs).
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    grid = scene.grid
    ribs = scene.paths["ribs"]
    r_rib = float(scene.info["rib_radius"])
    r_label = r_rib + grid.floor_mm(2.0, 0.8)
    gap = grid.floor_mm(2.0, 1.0)
    bone = HU["bone"]
    for cls in classes:
        for attempt in range(MAX_TRIES):
            pts, rad = ribs[int(rng.integers(len(ribs)))]
            c, d, _ = _point_on_path(rng, pts, rad, margin=1)
            length = ctx.sample_diameter(cls, attempt=attempt)
            a, b = -d * length / 2.0, d * length / 2.0
            crop = grid.crop(c, np.abs(b) + r_label + max(grid.spacing))
            if crop is None:
                continue
            mask = capsule_mask(crop, a, b, r_label, r_label)
            if ctx.painter.try_add(crop, mask, cls) is None:
                continue
            rib = scene.masks["ribs"][crop.slices]
            proj = np.abs(crop.z * d[0] + crop.y * d[1] + crop.x * d[2])
            kind = rng.choice(3, p=[0.5, 0.3, 0.2])  # displaced, healing, buckle
            if kind == 0:
                scene.fill_crop(crop, mask & rib & (proj < gap / 2 + 0.5 * grid.spacing[0]), ctx.mix(bone, 60.0))
            elif kind == 1:
                callus = mask & ~rib & (proj < length / 4)
                keep = rng.random(callus.shape) < 0.7
                scene.fill_crop(crop, callus & keep, ctx.mix(40.0, 300.0))
                scene.fill_crop(crop, mask & rib & (proj < gap), ctx.mix(bone, 1000.0))
            else:
                bulge = capsule_mask(
                    crop, a / 3, b / 3, r_rib + grid.floor_mm(1.0, 0.6), r_rib + grid.floor_mm(1.0, 0.6)
                )
                scene.fill_crop(crop, bulge & mask & (proj < gap), ctx.mix(40.0, bone))
            break
    for _ in range(k.distractors):
        pts, rad = ribs[int(rng.integers(len(ribs)))]
        c, _, _ = _point_on_path(rng, pts, rad, margin=1)
        r = grid.floor_mm(rng.uniform(1.5, 3.0), 0.6)
        crop = grid.crop(c, r + max(grid.spacing))
        if crop is None:
            continue
        mask = blob_mask(crop, np.full(3, r), np.eye(3), rng) & scene.masks["ribs"][crop.slices]
        if ctx.painter.is_free(crop, mask):
            scene.fill_crop(crop, mask, 1100.0)


def place_aneurysms(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Saccular aneurysms: contrast-filled sacs (sometimes with a daughter bleb) bulging from an artery wall.

    The label is the sac outside the parent artery. Distractors: infundibulum-like bumps smaller than the
    smallest aneurysm.
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    paths = scene.paths["arteries"]
    arteries, head = scene.masks["arteries"], scene.masks["head"]
    weights = np.array([float(np.mean(r)) * max(len(p) - 1, 0) for p, r in paths])
    weights = weights / weights.sum()

    def sac(r: float, bleb: bool):  # noqa: ANN202
        p_idx = int(rng.choice(len(paths), p=weights))
        pts, rad = paths[p_idx]
        p, d, r_v = _point_on_path(rng, pts, rad, margin=0)
        n = rng.standard_normal(3)
        n -= (n @ d) * d
        n /= np.linalg.norm(n) + 1e-9
        center = p + n * (r_v + 0.5 * r)
        radii = _ovoid(rng, r, 0.1)
        crop = _blob_crop(ctx, center, radii, 1.0 + k.irregularity + 0.8)
        if crop is None:
            return None
        mask = blob_mask(crop, radii, random_rotation(rng), rng, k.irregularity)
        if bleb:
            b_center = n * r * 0.95
            b_crop_mask = (crop.z - b_center[0]) ** 2 + (crop.y - b_center[1]) ** 2 + (crop.x - b_center[2]) ** 2
            mask |= b_crop_mask <= (0.4 * r) ** 2
        mask &= ~arteries[crop.slices] & head[crop.slices]
        return crop, mask

    for cls in classes:
        for attempt in range(MAX_TRIES):
            r = ctx.sample_diameter(cls, attempt=attempt) / 2.0
            out = sac(r, rng.random() < 0.25)
            if out is None:
                continue
            crop, mask = out
            if ctx.painter.try_add(crop, mask, cls, min_voxels=3) is None:
                continue
            scene.fill_crop(crop, mask, ctx.mix(HU["brain"], HU["cta_artery"]))
            break
    for _ in range(k.distractors):
        out = sac(0.35 * ctx.diameter_range()[0], False)
        if out is None:
            continue
        crop, mask = out
        if ctx.painter.is_free(crop, mask):
            scene.fill_crop(crop, mask, HU["cta_artery"])


def place_breast_tumours(ctx: PlacementContext, classes: tuple[int, ...]) -> None:
    """Irregular, spiculated mass enhancing strongly after contrast (wash-in, plateau/wash-out), mostly in
    fibroglandular tissue; large masses enhance at the rim. Labels are boxes (the painter is box-shaped).

    Distractors: small enhancing foci (benign background enhancement) in the fibroglandular tissue.
    Mimics (``knobs.mimics``): tumour-sized smooth benign lesions whose enhancement curve equals the tumour's
    in every phase but one (washout in the last, or a slow wash-in in the first), so no single channel
    separates them from the tumour; margins (smooth vs spiculated) and the channels together do.
    """
    scene, rng, k = ctx.scene, ctx.rng, ctx.knobs
    host = np.asarray(MRI["glandular"], np.float32)[:, None, None, None]
    tumour = np.asarray(MRI["tumour"], np.float32)[:, None, None, None]
    fgt = scene.masks["fgt"]
    for cls in classes:
        for attempt in range(MAX_TRIES):
            r = ctx.sample_diameter(cls, attempt=attempt) / 2.0
            center = _sample_inside(ctx, "breasts", 0.9 * r, prefer=fgt)
            if center is None:
                continue
            radii = _ovoid(rng, r, 0.15)
            crop = _blob_crop(ctx, center, radii, 1.0 + k.irregularity + k.spiculation[cls])
            if crop is None:
                continue
            rot = random_rotation(rng)
            mask = blob_mask(crop, radii, rot, rng, k.irregularity, k.spiculation[cls])
            mask &= scene.masks["breasts"][crop.slices]
            if ctx.painter.try_add(crop, mask, cls) is None:
                continue
            tex = ctx.local_texture(crop, 2.0)[None]
            value = ctx.mix(host, tumour) * (1.0 + np.float32(0.08) * tex)
            if r > 8.0:
                core = blob_mask(crop, radii * 0.5, rot, rng, 0.1)[None]
                value = np.where(core, ctx.mix(host, (host + tumour) / 2), value)
            scene.fill_crop(crop, mask, value)
            break
    for _ in range(k.distractors):
        r = scene.grid.floor_mm(rng.uniform(1.5, 2.5), 0.8)
        center = _sample_inside(ctx, "breasts", r, prefer=fgt)
        if center is None:
            continue
        crop = _blob_crop(ctx, center, np.full(3, r), 1.0)
        if crop is None:
            continue
        mask = blob_mask(crop, np.full(3, r), np.eye(3), rng) & scene.masks["breasts"][crop.slices]
        if ctx.painter.is_free(crop, mask):
            scene.fill_crop(crop, mask, ctx.mix(host, tumour)[:, 0, 0, 0] * 0.8)
    kinds = ("mimic_washout", "mimic_slow")
    for i in range(k.mimics):
        # tumour-sized smooth ovoids with another enhancement curve, alternating between the two kinds
        target = np.asarray(MRI[kinds[i % 2]], np.float32)[:, None, None, None]
        for attempt in range(MAX_TRIES):
            r = ctx.sample_diameter(0, attempt=attempt) / 2.0
            center = _sample_inside(ctx, "breasts", 0.9 * r, prefer=fgt)
            if center is None:
                continue
            radii = _ovoid(rng, r, 0.15)
            crop = _blob_crop(ctx, center, radii, 1.1)
            if crop is None:
                continue
            rot = random_rotation(rng)
            mask = blob_mask(crop, radii, rot, rng, 0.05) & scene.masks["breasts"][crop.slices]
            if not mask.any() or not ctx.painter.is_free(crop, mask):
                continue
            tex = ctx.local_texture(crop, 2.0)[None]
            value = ctx.mix(host, target) * (1.0 + np.float32(0.08) * tex)
            if r > 8.0:  # the same rim enhancement as a large tumour, so a component's mean does not tell them apart
                core = blob_mask(crop, radii * 0.5, rot, rng, 0.1)[None]
                value = np.where(core, ctx.mix(host, (host + target) / 2), value)
            scene.fill_crop(crop, mask, value)
            break


PLACERS: dict[str, Callable[[PlacementContext, tuple[int, ...]], None]] = {
    "lung_nodule": place_lung_nodules,
    "pancreatic_tumour": place_pancreatic_tumours,
    "kidney_lesion": place_kidney_lesions,
    "rib_fracture": place_rib_fractures,
    "aneurysm": place_aneurysms,
    "breast_tumour": place_breast_tumours,
}
