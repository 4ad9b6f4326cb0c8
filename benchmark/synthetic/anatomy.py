"""Anatomical building blocks and whole scenes (thorax, abdomen, head CTA, breast MRI) for the twins.

Everything works on a :class:`Grid` of millimetre coordinates centred on the volume, in array order
``(z, y, x)``; with the identity direction +x is patient left, +y posterior, +z superior (LPS).
Large anatomy is sized relative to the body, thin structures (ribs, vessels, cortex) in real millimetres
with a floor of about one voxel so they stay visible on coarse grids. All drawing is vectorised numpy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import ndimage

from benchmark.synthetic.config import DifficultyKnobs

# Hounsfield-like reference values of CT tissues.
HU = {
    "air": -1000.0,
    "lung": -850.0,
    "fat": -100.0,
    "visceral_fat": -70.0,
    "fluid": 10.0,
    "soft": 40.0,
    "muscle": 50.0,
    "blood": 40.0,
    "liver": 100.0,
    "spleen": 110.0,
    "pancreas": 100.0,
    "kidney_cortex": 180.0,
    "kidney_medulla": 80.0,
    "enhanced_artery": 160.0,
    "enhanced_vein": 130.0,
    "marrow": 250.0,
    "bone": 700.0,
    "dense_bone": 1200.0,
    "brain": 35.0,
    "csf": 8.0,
    "cta_artery": 350.0,
    "cta_vein": 250.0,
}
CT_RANGE = (-1024.0, 3071.0)

# Fat-saturated T1 DCE-MRI signal per channel (pre, post1, post2, post3), arbitrary positive units.
MRI = {
    "air": (4.0, 4.0, 4.0, 4.0),
    "fat": (70.0, 75.0, 76.0, 76.0),
    "glandular": (260.0, 290.0, 320.0, 345.0),
    "muscle": (200.0, 240.0, 250.0, 255.0),
    "skin": (220.0, 250.0, 260.0, 262.0),
    "lung": (15.0, 18.0, 18.0, 18.0),
    "blood_pool": (180.0, 800.0, 620.0, 480.0),
    "vessel": (150.0, 650.0, 600.0, 520.0),
    "tumour": (240.0, 800.0, 900.0, 850.0),
    # benign mimics of S05 (``DifficultyKnobs.mimics``): tumour-sized, smooth, unlabelled, equal to the tumour
    # in every channel but one: the washout kind fades in post-contrast 3, the slow kind lags in post-contrast 1.
    "mimic_washout": (240.0, 800.0, 900.0, 520.0),
    "mimic_slow": (240.0, 470.0, 900.0, 850.0),
}


@dataclass(frozen=True)
class Crop:
    """A box of the grid: its slices and open local coordinate arrays (mm) relative to a centre."""

    slices: tuple[slice, slice, slice]
    z: np.ndarray
    y: np.ndarray
    x: np.ndarray
    clipped: bool

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.z.shape[0], self.y.shape[1], self.x.shape[2])


@dataclass(frozen=True)
class Grid:
    """Voxel centres in mm relative to the volume centre, array order ``(z, y, x)``."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]

    @property
    def half(self) -> np.ndarray:
        return np.asarray(self.shape, dtype=np.float64) * np.asarray(self.spacing) / 2.0

    def axis(self, a: int) -> np.ndarray:
        n, s = self.shape[a], self.spacing[a]
        return ((np.arange(n) + 0.5) * s - n * s / 2.0).astype(np.float32)

    def coords(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Open (broadcastable) coordinate arrays Z ``(n,1,1)``, Y ``(1,n,1)``, X ``(1,1,n)``."""
        return self.axis(0)[:, None, None], self.axis(1)[None, :, None], self.axis(2)[None, None, :]

    def crop(self, center: np.ndarray, half_extent: np.ndarray | float) -> Crop | None:
        """The voxels within ``center +- half_extent`` (mm), clipped to the volume; None if empty."""
        c = np.asarray(center, dtype=np.float64)
        h = np.broadcast_to(np.asarray(half_extent, dtype=np.float64), (3,))
        sp = np.asarray(self.spacing)
        lo = np.floor((c - h + self.half) / sp - 0.5).astype(int)
        hi = np.ceil((c + h + self.half) / sp - 0.5).astype(int) + 1
        shape = np.asarray(self.shape)
        clipped = bool(np.any(lo < 0) or np.any(hi > shape))
        lo, hi = np.clip(lo, 0, shape), np.clip(hi, 0, shape)
        if np.any(hi <= lo):
            return None
        sl = tuple(slice(int(a), int(b)) for a, b in zip(lo, hi, strict=True))
        z = self.axis(0)[sl[0]][:, None, None] - np.float32(c[0])
        y = self.axis(1)[sl[1]][None, :, None] - np.float32(c[1])
        x = self.axis(2)[sl[2]][None, None, :] - np.float32(c[2])
        return Crop(sl, z, y, x, clipped)  # type: ignore[arg-type]

    def point_of(self, flat_index: np.ndarray | int) -> np.ndarray:
        """Millimetre coordinates of voxel centres given flat indices."""
        idx = np.stack(np.unravel_index(np.asarray(flat_index), self.shape), axis=-1)
        return (idx + 0.5) * np.asarray(self.spacing) - self.half

    def floor_mm(self, mm: float, voxels: float = 0.6) -> float:
        """``mm``, but at least ``voxels`` times the coarsest spacing (keeps thin structures visible)."""
        return max(float(mm), voxels * max(self.spacing))


@dataclass
class Scene:
    """A synthetic body: image ``(C, z, y, x)``, named host masks and centre lines for object placement."""

    grid: Grid
    image: np.ndarray
    modality: str
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    paths: dict[str, list[tuple[np.ndarray, np.ndarray]]] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    _depths: dict[str, DepthMap] = field(default_factory=dict, repr=False)

    @property
    def channels(self) -> int:
        return self.image.shape[0]

    def fill(self, mask: np.ndarray, values: float | tuple[float, ...]) -> None:
        """Set the voxels of a full-volume mask to a per-channel value."""
        v = np.broadcast_to(np.asarray(values, dtype=np.float32), (self.channels,))
        for c in range(self.channels):
            self.image[c][mask] = v[c]

    def fill_crop(self, crop: Crop, mask: np.ndarray, values: Any) -> None:
        """Set masked voxels of a crop; ``values`` per channel, or an array ``(C, *crop)`` per voxel."""
        arr = np.asarray(values, dtype=np.float32)
        if arr.ndim == 4:
            arr = np.broadcast_to(arr, (self.channels, *mask.shape))
        for c in range(self.channels):
            region = self.image[c][crop.slices]
            if arr.ndim == 4:
                region[mask] = arr[c][mask]
            else:
                region[mask] = np.broadcast_to(arr, (self.channels,))[c]

    def depth_map(self, name: str, resolution_mm: float = 2.5) -> DepthMap:
        """Depth inside mask ``name`` (cached), on a sub-grid of about ``resolution_mm`` (placement only)."""
        if name not in self._depths:
            self._depths[name] = DepthMap.of(self.masks[name], self.grid, resolution_mm)
        return self._depths[name]


@dataclass(frozen=True)
class DepthMap:
    """Distance (mm) of mask voxels to the mask boundary (or the volume border), computed on a strided
    sub-grid of the mask's bounding box: exact enough to place objects, cheap on full-size volumes."""

    start: np.ndarray  # fine index of sample (0, 0, 0)
    stride: np.ndarray  # fine voxels per sample, per axis
    depth: np.ndarray  # float32 depth of each sample (0 outside the mask)
    inside: np.ndarray  # flat sample indices with depth > 0

    @classmethod
    def of(cls, mask: np.ndarray, grid: Grid, resolution_mm: float) -> DepthMap:
        stride = np.maximum(np.floor(resolution_mm / np.asarray(grid.spacing)), 1).astype(int)
        hits = [np.flatnonzero(mask.any(axis=tuple(a for a in range(3) if a != ax))) for ax in range(3)]
        if any(len(h) == 0 for h in hits):
            return cls(np.zeros(3, int), stride, np.zeros((1, 1, 1), np.float32), np.zeros(0, int))
        start = np.array([h[0] for h in hits])
        sl = tuple(slice(int(h[0]), int(h[-1]) + 1, int(s)) for h, s in zip(hits, stride, strict=True))
        sub = np.pad(mask[sl], 1)  # the volume border and the bounding box count as boundary
        depth = ndimage.distance_transform_edt(sub, sampling=np.asarray(grid.spacing) * stride)[1:-1, 1:-1, 1:-1]
        depth = depth.astype(np.float32)
        return cls(start, stride, depth, np.flatnonzero(depth > 0))

    def fine_index(self, sample: int) -> np.ndarray:
        """Fine voxel index (z, y, x) of a flat sample index."""
        return self.start + np.array(np.unravel_index(sample, self.depth.shape)) * self.stride


# ----------------------------------------------------------------------------------------------- primitives


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random 3x3 rotation matrix."""
    q, r = np.linalg.qr(rng.standard_normal((3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def ellipsoid(
    grid: Grid, center: np.ndarray, radii: np.ndarray, rotation: np.ndarray | None = None
) -> tuple[Crop, np.ndarray] | None:
    """Crop and mask of an (optionally rotated) ellipsoid; rotation columns are its axes in (z, y, x)."""
    radii = np.asarray(radii, dtype=np.float64)
    crop = grid.crop(center, radii.max() if rotation is not None else radii)
    if crop is None:
        return None
    if rotation is None:
        r2 = (crop.z / radii[0]) ** 2 + (crop.y / radii[1]) ** 2 + (crop.x / radii[2]) ** 2
        return crop, r2 <= 1.0
    u = [(rotation[0, i] * crop.z + rotation[1, i] * crop.y + rotation[2, i] * crop.x) / radii[i] for i in range(3)]
    return crop, (u[0] ** 2 + u[1] ** 2 + u[2] ** 2) <= 1.0


def add_ellipsoid(mask: np.ndarray, grid: Grid, center, radii, rotation=None) -> None:  # noqa: ANN001
    """OR an ellipsoid into a full-volume mask."""
    out = ellipsoid(grid, np.asarray(center, dtype=np.float64), radii, rotation)
    if out is not None:
        mask[out[0].slices] |= out[1]


def capsule_mask(crop: Crop, a: np.ndarray, b: np.ndarray, ra: float, rb: float) -> np.ndarray:
    """Mask of a tapered capsule from ``a`` to ``b`` (mm, relative to the crop centre) with radii ra, rb."""
    d = (b - a).astype(np.float32)
    length2 = float(d @ d)
    pz, py, px = crop.z - np.float32(a[0]), crop.y - np.float32(a[1]), crop.x - np.float32(a[2])
    if length2 <= 1e-12:
        t = np.zeros(1, np.float32)
    else:
        t = np.clip((pz * d[0] + py * d[1] + px * d[2]) / length2, 0.0, 1.0)
    dist2 = (pz - t * d[0]) ** 2 + (py - t * d[1]) ** 2 + (px - t * d[2]) ** 2
    radius = ra + t * (rb - ra)
    return dist2 <= radius * radius


def draw_path(grid: Grid, points: np.ndarray, radii: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """OR a tube along a polyline (points ``[N, 3]`` mm, radii ``[N]`` mm) into a full-volume mask."""
    if out is None:
        out = np.zeros(grid.shape, dtype=bool)
    pts = np.asarray(points, dtype=np.float64)
    rad = np.asarray(radii, dtype=np.float64)
    for i in range(len(pts) - 1):
        a, b = pts[i], pts[i + 1]
        mid = (a + b) / 2.0
        crop = grid.crop(mid, np.abs(b - a) / 2.0 + max(rad[i], rad[i + 1]))
        if crop is not None:
            out[crop.slices] |= capsule_mask(crop, a - mid, b - mid, rad[i], rad[i + 1])
    return out


def random_walk(
    rng: np.random.Generator,
    start: np.ndarray,
    direction: np.ndarray,
    steps: int,
    step_mm: float,
    radius: float,
    radius_decay: float,
    radius_min: float,
    turn: float = 0.35,
    keep_inside: Callable[[np.ndarray], bool] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A vessel-like polyline: a persistent random walk with a shrinking radius (stops when leaving)."""
    p = np.asarray(start, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64)
    d = d / (np.linalg.norm(d) + 1e-9)
    pts, rad = [p.copy()], [radius]
    r = radius
    for _ in range(steps):
        d = d + turn * rng.standard_normal(3)
        d /= np.linalg.norm(d) + 1e-9
        q = p + step_mm * d
        if keep_inside is not None and not keep_inside(q):
            break
        r = max(radius_min, r * radius_decay)
        p = q
        pts.append(p.copy())
        rad.append(r)
    return np.asarray(pts), np.asarray(rad)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, ...], sigma_vox: np.ndarray | float) -> np.ndarray:
    """Spatially correlated Gaussian noise with unit standard deviation (float32)."""
    field_ = rng.standard_normal(shape, dtype=np.float32)
    field_ = ndimage.gaussian_filter(field_, sigma=sigma_vox, mode="reflect")
    sd = float(field_.std())
    return field_ / sd if sd > 0 else field_


def texture(rng: np.random.Generator, grid: Grid, correlation_mm: float) -> np.ndarray:
    """Unit-SD tissue texture over the whole grid with the given correlation length."""
    sigma = np.maximum(correlation_mm / np.asarray(grid.spacing), 0.5)
    return smooth_noise(rng, grid.shape, sigma)


def bias_field(rng: np.random.Generator, grid: Grid, strength: float) -> np.ndarray:
    """Smooth multiplicative field ``exp(strength * f)``, ``f`` a random quadratic with max |f| ~ 1."""
    z, y, x = (a / np.float32(h) for a, h in zip(grid.coords(), grid.half, strict=True))
    terms = [z, y, x, z * y, y * x, z * x, z * z - 0.33, y * y - 0.33, x * x - 0.33]
    coef = rng.standard_normal(len(terms)).astype(np.float32)
    coef[:3] *= 1.5
    f = sum(c * t for c, t in zip(coef, terms, strict=True))
    f = f / (np.float32(np.abs(coef).sum() * 0.5) + np.float32(1e-6))
    return np.exp(np.float32(strength) * f).astype(np.float32)


def _jitter(rng: np.random.Generator, sd: float = 0.06) -> float:
    return float(np.clip(1.0 + sd * rng.standard_normal(), 1.0 - 2.5 * sd, 1.0 + 2.5 * sd))


def elliptic_cylinder(grid: Grid, cy: float, ay: float, ax: float, taper: float = 0.0) -> np.ndarray:
    """Mask of a body-like elliptic cylinder along z (semi-axes ay, ax), widening by ``taper`` toward -z."""
    z, y, x = grid.coords()
    scale = 1.0 - np.float32(taper) * z / np.float32(grid.half[0])
    return ((y - np.float32(cy)) / (np.float32(ay) * scale)) ** 2 + (x / (np.float32(ax) * scale)) ** 2 <= 1.0


# ----------------------------------------------------------------------------------------------- shared parts


def _body_wall(scene: Scene, ay: float, ax: float, cy: float, fat_mm: float) -> dict:
    """Air outside, a subcutaneous fat ring and a muscle wall; returns the body geometry."""
    g = scene.grid
    body = elliptic_cylinder(g, cy, ay, ax, taper=0.04)
    fat = g.floor_mm(fat_mm, 1.0)
    wall = g.floor_mm(0.06 * ax, 1.0)
    inner = elliptic_cylinder(g, cy, ay - fat, ax - fat, taper=0.04)
    cavity = elliptic_cylinder(g, cy, ay - fat - wall, ax - fat - wall, taper=0.04)
    scene.fill(body, HU["fat"])
    scene.fill(inner, HU["muscle"])
    scene.masks.update(body=body, cavity=cavity)
    return {"ay": ay, "ax": ax, "cy": cy, "fat": fat, "wall": wall}


def _spine(scene: Scene, rng: np.random.Generator, cy: float, r_body: float) -> None:
    """Vertebral column along z: bodies (cortex + marrow) separated by discs, canal and posterior arch."""
    g = scene.grid
    z, y, x = g.coords()
    img = scene.image[0]
    cortex = g.floor_mm(2.0, 0.8)
    rr = np.sqrt((y - np.float32(cy)) ** 2 + x**2)
    vb = rr <= r_body
    pitch = 1.6 * r_body
    disc = ((z - np.float32(rng.uniform(0, pitch))) % np.float32(pitch)) < np.float32(max(0.25 * pitch, g.spacing[0]))
    shape = g.shape
    bone = np.broadcast_to(vb, shape) & ~disc
    img[bone] = HU["marrow"]
    img[bone & np.broadcast_to(rr > r_body - cortex, shape)] = HU["bone"]
    img[np.broadcast_to(vb, shape) & disc] = 90.0
    r_canal = 0.4 * r_body
    c_canal = cy + r_body + r_canal + cortex
    rc = np.sqrt((y - np.float32(c_canal)) ** 2 + x**2)
    arch = (rc <= r_canal + 1.5 * cortex) & ~vb
    img[np.broadcast_to(arch, shape)] = HU["bone"]
    img[np.broadcast_to(rc <= r_canal, shape)] = HU["csf"]
    spinous = ((y - np.float32(c_canal + 1.6 * r_canal)) / np.float32(1.2 * r_canal)) ** 2 + (
        x / np.float32(g.floor_mm(0.25 * r_body, 1.0))
    ) ** 2 <= 1.0
    img[np.broadcast_to(spinous & ~(rc <= r_canal), shape)] = HU["bone"]
    scene.masks["spine"] = np.broadcast_to(vb | arch | spinous, shape).copy()


def _tube_fill(
    scene: Scene, paths: list[tuple[np.ndarray, np.ndarray]], value: float, within: np.ndarray | None = None
) -> np.ndarray:
    """Draw tubes along ``paths`` (optionally clipped to ``within``) with one CT value; return their mask."""
    mask = np.zeros(scene.grid.shape, dtype=bool)
    for pts, rad in paths:
        draw_path(scene.grid, pts, rad, mask)
    if within is not None:
        mask &= within
    scene.fill(mask, value)
    return mask


def _inside(mask: np.ndarray, grid: Grid) -> Callable[[np.ndarray], bool]:
    """Predicate: is the point (mm) inside ``mask``?"""
    shape = np.asarray(grid.shape)
    sp, half = np.asarray(grid.spacing), grid.half

    def check(p: np.ndarray) -> bool:
        i = np.floor((p + half) / sp).astype(int)
        return bool(np.all(i >= 0) and np.all(i < shape) and mask[tuple(i)])

    return check


# ----------------------------------------------------------------------------------------------- scenes


def thorax_scene(grid: Grid, rng: np.random.Generator, knobs: DifficultyKnobs) -> Scene:
    """Chest CT: body wall, two lungs with vessel trees, heart, aorta, spine and rib arcs."""
    scene = Scene(grid, np.full((1, *grid.shape), HU["air"], np.float32), "CT")
    hz, hy, hx = grid.half
    ax, ay, cy = 0.90 * hx * _jitter(rng), 0.64 * hy * _jitter(rng), 0.08 * hy
    wall = _body_wall(scene, ay, ax, cy, fat_mm=0.07 * ax)
    img = scene.image[0]
    tex = texture(rng, grid, 2.5)
    img[scene.masks["body"]] += np.float32(knobs.texture_sigma) * tex[scene.masks["body"]]

    r_vb = 0.15 * ay
    spine_cy = cy + ay - wall["fat"] - wall["wall"] - 1.1 * r_vb
    # lungs: two ellipsoids inside the cavity, minus mediastinum, heart and spine
    lungs = np.zeros(grid.shape, bool)
    lung_info = []
    for side in (-1.0, 1.0):
        c = np.array([0.1 * hz, cy - 0.02 * ay, side * 0.47 * ax])
        r = np.array([1.0 * hz, 0.88 * ay, 0.42 * ax]) * np.array([_jitter(rng), _jitter(rng), _jitter(rng)])
        add_ellipsoid(lungs, grid, c, r)
        lung_info.append((c, r))
    z, y, x = grid.coords()
    mediastinum = (x / np.float32(0.17 * ax)) ** 2 + ((y - np.float32(cy - 0.1 * ay)) / np.float32(1.1 * ay)) ** 2 <= 1
    heart = np.zeros(grid.shape, bool)
    add_ellipsoid(heart, grid, [-0.55 * hz, cy - 0.3 * ay, 0.12 * ax], [0.45 * hz, 0.45 * ay, 0.33 * ax])
    lungs &= scene.masks["cavity"] & ~np.broadcast_to(mediastinum, grid.shape) & ~heart
    lungs &= np.broadcast_to(np.sqrt((y - np.float32(spine_cy)) ** 2 + x**2) > 2.0 * r_vb, grid.shape)
    img[lungs] = HU["lung"] + np.float32(0.6 * knobs.texture_sigma) * tex[lungs]
    img[heart & scene.masks["cavity"]] = 45.0
    scene.masks["lungs"] = lungs

    # descending aorta beside the spine
    aorta = [
        (
            np.array([[-hz, spine_cy - 1.2 * r_vb, 0.25 * ax], [hz, spine_cy - 1.2 * r_vb, 0.22 * ax]]),
            np.full(2, 0.45 * r_vb),
        )
    ]
    _tube_fill(scene, aorta, HU["blood"])
    _spine(scene, rng, spine_cy, r_vb)

    # lung vessel trees from each hilum (also the distractor source: vessel cross-sections look like nodules)
    vessels = []
    r_min = grid.floor_mm(0.8, 0.5)
    for side in (-1.0, 1.0):
        hilum = np.array([0.0, cy, side * 0.2 * ax])
        for _ in range(knobs.vessel_count):
            d = np.array([rng.normal(0, 0.8), rng.normal(0, 0.5), side * rng.uniform(0.4, 1.0)])
            start = hilum + rng.normal(0, 0.05 * ay, 3)
            pts, rad = random_walk(
                rng, start, d, 12, 0.05 * ax + 2 * grid.spacing[2], grid.floor_mm(3.0, 0.7), 0.85, r_min, turn=0.3
            )
            vessels.append((pts, rad))
    vmask = _tube_fill(scene, vessels, HU["blood"], within=lungs)
    scene.masks["lung_vessels"] = vmask
    scene.paths["lung_vessels"] = vessels

    # ribs: arcs in the chest wall descending anteriorly; both sides
    r_rib = grid.floor_mm(4.5, 0.6)
    rho_y, rho_x = ay - wall["fat"] - 0.5 * wall["wall"], ax - wall["fat"] - 0.5 * wall["wall"]
    pitch = max(0.085 * 2 * hz, 2.6 * 2 * r_rib)
    top = hz - 0.6 * pitch
    levels = int(np.clip((2 * hz - 1.0 * pitch) // pitch, 3, 12))
    ribs = []
    theta = np.linspace(0.22, 2.45, 14)
    for i in range(levels):
        z0 = top - i * pitch + rng.normal(0, 0.05 * pitch)
        drop = 0.9 * pitch * _jitter(rng, 0.1)
        for side in (-1.0, 1.0):
            zz = z0 - drop * (theta - theta[0]) / (theta[-1] - theta[0])
            yy = cy + rho_y * np.cos(theta)
            xx = side * rho_x * np.sin(theta)
            pts = np.stack([zz, yy, xx], axis=1)
            ribs.append((pts, np.full(len(pts), r_rib)))
    rib_mask = _tube_fill(scene, ribs, HU["bone"])
    inner_r = r_rib - grid.floor_mm(1.5, 0.0)
    if inner_r >= 0.5 * min(grid.spacing):
        _tube_fill(scene, [(p, np.full(len(p), inner_r)) for p, _ in ribs], HU["marrow"])
    scene.masks["ribs"] = rib_mask
    scene.paths["ribs"] = ribs
    scene.info.update(body=wall, lungs=lung_info, rib_radius=r_rib)
    return scene


def abdomen_scene(grid: Grid, rng: np.random.Generator, knobs: DifficultyKnobs) -> Scene:
    """Portal-venous abdominal CT: body wall, bowel with gas, liver, spleen, kidneys, pancreas, vessels, spine."""
    scene = Scene(grid, np.full((1, *grid.shape), HU["air"], np.float32), "CT")
    hz, hy, hx = grid.half
    ax, ay, cy = 0.92 * hx * _jitter(rng), 0.68 * hy * _jitter(rng), 0.05 * hy
    b = ax  # unit of organ sizes
    wall = _body_wall(scene, ay, ax, cy, fat_mm=0.09 * ax)
    img = scene.image[0]
    cavity = scene.masks["cavity"]
    tex = texture(rng, grid, 2.0)
    img[cavity] = HU["visceral_fat"]
    img[scene.masks["body"]] += np.float32(knobs.texture_sigma) * tex[scene.masks["body"]]
    r_vb = 0.11 * b
    spine_cy = cy + ay - wall["fat"] - wall["wall"] - 1.2 * r_vb

    # bowel loops (fluid-filled tubes, some with gas) in the anterior cavity
    inside_cavity = _inside(cavity, grid)
    loops = []
    for _ in range(8):
        start = np.array([rng.uniform(-0.8, 0.8) * hz, cy - rng.uniform(0.1, 0.6) * ay, rng.uniform(-0.6, 0.6) * ax])
        pts, rad = random_walk(
            rng,
            start,
            rng.normal(size=3),
            10,
            0.12 * b,
            grid.floor_mm(0.07 * b, 1.0),
            1.0,
            0.0,
            turn=0.6,
            keep_inside=inside_cavity,
        )
        loops.append((pts, rad))
    bowel = _tube_fill(scene, loops, 30.0, within=cavity)
    gas = np.zeros(grid.shape, bool)
    for pts, rad in loops[::3]:
        gas |= draw_path(grid, pts, rad * 0.6)
    img[gas & bowel] = HU["air"]

    organs: dict[str, np.ndarray] = {}

    def organ(name: str, center, radii, value: float, tex_amp: float) -> np.ndarray:  # noqa: ANN001
        m = np.zeros(grid.shape, bool)
        add_ellipsoid(m, grid, np.asarray(center), np.asarray(radii) * np.array([_jitter(rng) for _ in range(3)]))
        m &= cavity
        img[m] = value + np.float32(tex_amp) * tex[m]
        organs[name] = m
        return m

    organ("liver", [0.5 * hz, cy - 0.05 * ay, -0.5 * ax], [0.4 * b, 0.55 * ay, 0.38 * ax], HU["liver"], 6.0)
    organ("spleen", [0.4 * hz, cy + 0.45 * ay, 0.62 * ax], [0.25 * b, 0.2 * ay, 0.13 * ax], HU["spleen"], 5.0)

    # kidneys: cortex shell, medulla, sinus fat; slightly rotated
    kidneys = np.zeros(grid.shape, bool)
    kidney_info = []
    cortex = grid.floor_mm(5.0, 1.0)
    for side in (-1.0, 1.0):
        c = np.array([-0.1 * hz + rng.normal(0, 0.05 * hz), spine_cy - 0.2 * r_vb, side * 0.42 * ax])
        radii = np.array([0.32 * b, 0.17 * b, 0.15 * b]) * np.array([_jitter(rng) for _ in range(3)])
        ang = side * np.deg2rad(rng.uniform(10, 25))
        rot = np.array([[1, 0, 0], [0, np.cos(ang), -np.sin(ang)], [0, np.sin(ang), np.cos(ang)]])
        outer = ellipsoid(grid, c, radii, rot)
        inner = ellipsoid(grid, c, np.maximum(radii - cortex, 0.3 * radii), rot)
        sinus = ellipsoid(grid, c + np.array([0, 0, -side * 0.4 * radii[2]]), radii * np.array([0.5, 0.35, 0.35]), rot)
        for part, value in ((outer, HU["kidney_cortex"]), (inner, HU["kidney_medulla"]), (sinus, HU["visceral_fat"])):
            if part is not None:
                crop, m = part
                scene.image[0][crop.slices][m] = value
        if outer is not None:
            kidneys[outer[0].slices] |= outer[1]
        kidney_info.append({"center": c, "radii": radii, "rotation": rot})
    scene.masks["kidneys"] = kidneys

    # great vessels along z
    vessels = [
        (
            np.array([[-hz, spine_cy - 1.5 * r_vb, 0.12 * ax], [hz, spine_cy - 1.5 * r_vb, 0.1 * ax]]),
            np.full(2, grid.floor_mm(0.065 * b, 1.0)),
        ),
    ]
    _tube_fill(scene, vessels, HU["enhanced_artery"])
    ivc = [
        (
            np.array([[-hz, spine_cy - 1.4 * r_vb, -0.14 * ax], [hz, spine_cy - 1.6 * r_vb, -0.16 * ax]]),
            np.full(2, grid.floor_mm(0.07 * b, 1.0)),
        )
    ]
    _tube_fill(scene, ivc, HU["enhanced_vein"])

    # pancreas: a tapering tube from the head (patient right) to the tail near the spleen
    zp = rng.uniform(-0.3, -0.05) * hz
    knots = np.array(
        [
            [zp - 0.08 * b, cy - 0.05 * ay, -0.2 * ax],
            [zp, cy - 0.22 * ay, -0.02 * ax],
            [zp + 0.05 * b, cy - 0.1 * ay, 0.22 * ax],
            [zp + 0.12 * b, cy + 0.2 * ay, 0.45 * ax],
        ]
    ) + rng.normal(0, 0.02 * b, (4, 3))
    t = np.linspace(0, 1, 16)
    pts = np.stack([np.interp(t, np.linspace(0, 1, 4), knots[:, a]) for a in range(3)], axis=1)
    r_head, r_tail = grid.floor_mm(0.08 * b, 1.2), grid.floor_mm(0.05 * b, 1.0)
    rad = r_head + (r_tail - r_head) * t
    splenic_vein = [
        (pts + np.array([0, 0.9 * r_tail + rad.mean() * 0.5, 0]), np.full(len(pts), grid.floor_mm(4.0, 0.6)))
    ]
    _tube_fill(scene, splenic_vein, HU["enhanced_vein"], within=cavity)
    pancreas = np.zeros(grid.shape, bool)
    draw_path(grid, pts, rad, pancreas)
    pancreas &= cavity
    img[pancreas] = HU["pancreas"] + np.float32(knobs.texture_sigma) * tex[pancreas]
    scene.masks["pancreas"] = pancreas
    scene.paths["pancreas"] = [(pts, rad)]
    _spine(scene, rng, spine_cy, r_vb)
    scene.masks.update(organs)
    scene.info.update(body=wall, kidneys=kidney_info, body_unit=b)
    return scene


def head_cta_scene(grid: Grid, rng: np.random.Generator, knobs: DifficultyKnobs) -> Scene:
    """Head CT angiography: scalp, skull, brain, skull base, contrast-filled arteries and venous sinuses."""
    scene = Scene(grid, np.full((1, *grid.shape), HU["air"], np.float32), "CT")
    hz, hy, hx = grid.half
    img = scene.image[0]
    ay, ax = 0.86 * hy * _jitter(rng, 0.04), 0.72 * hx * _jitter(rng, 0.04)
    rz, cz = 1.5 * hz, -0.55 * hz
    center = np.array([cz, 0.0, 0.0])

    def shell(offset: float) -> np.ndarray:
        m = np.zeros(grid.shape, bool)
        add_ellipsoid(m, grid, center, np.array([rz, ay, ax]) - offset)
        return m

    scalp, skull_t = grid.floor_mm(5.0, 1.0), grid.floor_mm(6.0, 1.2)
    head, skull_out, skull_in, brain = shell(0), shell(scalp), shell(scalp + skull_t), shell(scalp + skull_t + 2.5)
    img[head] = HU["soft"]
    img[skull_out] = HU["dense_bone"]
    img[skull_in] = HU["csf"]
    tex = texture(rng, grid, 3.0)
    img[brain] = HU["brain"] + np.float32(knobs.texture_sigma) * tex[brain]
    scene.masks.update(head=head, brain=brain)

    # skull base: petrous ridges, clivus and an air-filled sphenoid sinus (bright/dark structures near vessels)
    base_z = -0.8 * hz
    for side in (-1.0, 1.0):
        ang = side * np.deg2rad(50)
        rot = np.array([[1, 0, 0], [0, np.cos(ang), -np.sin(ang)], [0, np.sin(ang), np.cos(ang)]])
        out = ellipsoid(
            grid, np.array([base_z, 0.15 * ay, side * 0.35 * ax]), np.array([0.12 * hz + 4, 0.1 * ay, 0.38 * ax]), rot
        )
        if out is not None:
            img[out[0].slices][out[1] & brain[out[0].slices]] = HU["dense_bone"]
    clivus = ellipsoid(grid, np.array([base_z, 0.1 * ay, 0.0]), np.array([0.25 * hz, 0.08 * ay, 0.07 * ax]))
    if clivus is not None:
        img[clivus[0].slices][clivus[1]] = HU["bone"]
    sinus = ellipsoid(grid, np.array([base_z - 0.05 * hz, -0.35 * ay, 0.0]), np.array([0.15 * hz, 0.1 * ay, 0.12 * ax]))
    if sinus is not None:
        img[sinus[0].slices][sinus[1]] = HU["air"]

    # arteries: internal carotids, basilar, a circle of Willis ring, MCA/ACA/PCA and random small branches
    s = ax / 75.0  # about 1 for an adult head
    z_cw = -0.35 * hz + rng.normal(0, 0.04 * hz)
    r_cw = 14.0 * s
    r_ica, r_bas, r_mca, r_branch = (grid.floor_mm(v, 0.55) for v in (2.3, 1.7, 1.4, 0.9))
    paths: list[tuple[np.ndarray, np.ndarray]] = []
    ring_angles = np.deg2rad(np.array([-30.0, 30.0, 90.0, 150.0, 210.0, 270.0, 330.0]))
    ring = np.stack(
        [np.full(7, z_cw), r_cw * np.cos(ring_angles + np.pi) * 0.9, r_cw * np.sin(ring_angles + np.pi)], axis=1
    )
    paths.append((ring, np.full(len(ring), grid.floor_mm(1.2, 0.55))))
    bottom = -hz + 1.0
    for side in (-1.0, 1.0):
        term = np.array([z_cw, -0.1 * r_cw, side * r_cw])
        ica = np.array(
            [
                [bottom, 0.05 * ay, side * 0.22 * ax],
                [z_cw - 0.35 * hz, -0.05 * ay, side * 0.2 * ax],
                [z_cw - 0.15 * hz, -0.2 * ay, side * 0.18 * ax],
                [z_cw - 0.05 * hz, 0.0, side * 0.15 * ax],
                term,
            ]
        )
        paths.append((ica + rng.normal(0, 0.6 * s, ica.shape), np.full(len(ica), r_ica)))
        mca = np.array([term, term + [2 * s, -2 * s, side * 0.25 * ax], term + [8 * s, 0, side * 0.5 * ax]])
        paths.append((mca, np.array([r_mca, r_mca, r_mca * 0.8])))
        for _ in range(2):
            pts, rad = random_walk(
                rng,
                mca[-1],
                np.array([rng.uniform(0.2, 1.0), rng.normal(0, 0.6), side * 0.6]),
                6,
                0.08 * ax,
                r_mca * 0.8,
                0.85,
                r_branch,
                turn=0.4,
                keep_inside=_inside(brain, grid),
            )
            paths.append((pts, rad))
        aca0 = np.array([z_cw, -0.95 * r_cw, side * 0.3 * r_cw])
        aca = np.array(
            [aca0, aca0 + [0.15 * hz, -0.2 * ay, 0], aca0 + [0.45 * hz, -0.25 * ay, 0], aca0 + [0.8 * hz, 0.05 * ay, 0]]
        )
        paths.append((aca, np.full(4, grid.floor_mm(1.1, 0.55))))
        pca0 = np.array([z_cw, 0.9 * r_cw, side * 0.4 * r_cw])
        pca = np.array(
            [pca0, pca0 + [0.05 * hz, 0.2 * ay, side * 0.25 * ax], pca0 + [0.1 * hz, 0.5 * ay, side * 0.3 * ax]]
        )
        paths.append((pca, np.full(3, grid.floor_mm(1.1, 0.55))))
    basilar = np.array([[bottom, 0.22 * ay, 0.0], [z_cw - 0.2 * hz, 0.18 * ay, 0.0], [z_cw, 0.9 * r_cw, 0.0]])
    paths.append((basilar, np.full(3, r_bas)))
    keep = _inside(brain, grid)
    for _ in range(knobs.vessel_count):
        src_pts = paths[int(rng.integers(len(paths)))][0]
        start = src_pts[rng.integers(len(src_pts))]
        pts, rad = random_walk(
            rng,
            start,
            rng.normal(size=3),
            6,
            0.07 * ax,
            r_branch,
            0.9,
            grid.floor_mm(0.7, 0.5),
            turn=0.5,
            keep_inside=keep,
        )
        if len(pts) > 1:
            paths.append((pts, rad))
    arteries = np.zeros(grid.shape, bool)
    for pts, rad in paths:
        draw_path(grid, pts, rad, arteries)
    arteries &= head
    img[arteries] = HU["cta_artery"]
    # venous sinuses: superior sagittal (under the vertex) and transverse
    off = scalp + skull_t + 4.0
    ang = np.linspace(0.2, np.pi - 0.2, 10)
    sss = np.stack([cz + (rz - off) * np.sin(ang), -(ay - off) * np.cos(ang), np.zeros(10)], axis=1)
    veins = np.zeros(grid.shape, bool)
    draw_path(grid, sss, np.full(10, grid.floor_mm(3.0, 0.6)), veins)
    veins &= brain & ~arteries
    img[veins] = HU["cta_vein"]
    scene.masks["arteries"] = arteries
    scene.paths["arteries"] = paths
    scene.info.update(circle_of_willis_z=z_cw, head_scale=s)
    return scene


def breast_mri_scene(grid: Grid, rng: np.random.Generator, knobs: DifficultyKnobs) -> Scene:
    """Prone breast DCE-MRI, 4 channels (pre + 3 post-contrast): breasts with fibroglandular tissue, chest."""
    scene = Scene(grid, np.empty((4, *grid.shape), np.float32), "MRI")
    scene.fill(np.ones(grid.shape, bool), MRI["air"])
    hz, hy, hx = grid.half
    z, y, x = grid.coords()
    y_cw = 0.12 * hy * _jitter(rng)
    cyc, ryc = y_cw + 0.75 * hy, 0.75 * hy
    chest = ((y - np.float32(cyc)) / np.float32(ryc)) ** 2 + (x / np.float32(0.95 * hx)) ** 2 <= 1
    chest = np.broadcast_to(chest, grid.shape)
    muscle_t = grid.floor_mm(12.0, 1.5)
    interior = ((y - np.float32(cyc)) / np.float32(ryc - muscle_t)) ** 2 + (
        x / np.float32(0.95 * hx - muscle_t)
    ) ** 2 <= 1
    interior = np.broadcast_to(interior, grid.shape)
    scene.fill(chest, MRI["muscle"])
    scene.fill(interior, MRI["fat"])
    lungs = np.zeros(grid.shape, bool)
    for side in (-1.0, 1.0):
        add_ellipsoid(lungs, grid, [0.0, cyc + 0.35 * hy, side * 0.45 * hx], [1.2 * hz, 0.6 * hy, 0.35 * hx])
    heart = np.zeros(grid.shape, bool)
    add_ellipsoid(heart, grid, [-0.3 * hz, cyc + 0.1 * hy, 0.05 * hx], [0.7 * hz, 0.35 * hy, 0.3 * hx])
    scene.fill(lungs & interior, MRI["lung"])
    scene.fill(heart & interior, MRI["blood_pool"])

    breasts = np.zeros(grid.shape, bool)
    centers = []
    for side in (-1.0, 1.0):
        c = np.array([rng.normal(0, 0.05 * hz), y_cw, side * 0.45 * hx * _jitter(rng, 0.04)])
        r = np.array([0.75 * hz, 0.8 * (y_cw + hy), 0.4 * hx]) * np.array([_jitter(rng) for _ in range(3)])
        r[1] = min(r[1], 0.95 * (y_cw + hy))
        add_ellipsoid(breasts, grid, c, r)
        centers.append((c, r))
    breasts &= np.broadcast_to(y < np.float32(y_cw + muscle_t * 0.2), grid.shape)
    skin = breasts & ~ndimage.binary_erosion(breasts, iterations=1)
    scene.fill(breasts, MRI["fat"])
    # fibroglandular tissue: thresholded smooth noise, denser near the nipple-chest axis
    density = rng.uniform(0.15, 0.5)
    tex = texture(rng, grid, 4.0)
    closeness = np.zeros(grid.shape, np.float32)
    for c, r in centers:
        closeness = np.maximum(closeness, 1.0 - np.sqrt(((z - c[0]) / r[0]) ** 2 + ((x - c[2]) / r[2]) ** 2))
    fgt_score = tex + 2.0 * closeness
    thresh = np.quantile(fgt_score[breasts], 1.0 - density) if breasts.any() else np.inf
    fgt = breasts & (fgt_score >= thresh) & ~skin
    scene.fill(fgt, MRI["glandular"])
    fine = texture(rng, grid, 1.5)
    for c in range(4):
        scene.image[c][fgt] += np.float32(knobs.texture_sigma) * fine[fgt]
        scene.image[c][breasts & ~fgt] += np.float32(0.3 * knobs.texture_sigma) * fine[breasts & ~fgt]
    scene.fill(skin, MRI["skin"])

    # enhancing breast vessels (bright in post-contrast channels only)
    keep = _inside(breasts, grid)
    paths = []
    for c, r in centers:
        for _ in range(max(knobs.vessel_count // 3, 1)):
            start = c + np.array([rng.normal(0, 0.3 * r[0]), -0.1 * r[1], rng.normal(0, 0.3 * r[2])])
            pts, rad = random_walk(
                rng,
                start,
                np.array([rng.normal(), -1.0, rng.normal()]),
                8,
                0.08 * r[1],
                grid.floor_mm(1.5, 0.6),
                0.95,
                grid.floor_mm(0.8, 0.5),
                turn=0.4,
                keep_inside=keep,
            )
            if len(pts) > 1:
                paths.append((pts, rad))
    vessels = np.zeros(grid.shape, bool)
    for pts, rad in paths:
        draw_path(grid, pts, rad, vessels)
    vessels &= breasts & ~skin
    scene.fill(vessels, MRI["vessel"])
    scene.masks.update(breasts=breasts & ~skin, fgt=fgt, vessels=vessels, body=breasts | chest)
    scene.info.update(breasts=centers, density=density)
    return scene


SCENES: dict[str, Callable[[Grid, np.random.Generator, DifficultyKnobs], Scene]] = {
    "thorax": thorax_scene,
    "abdomen": abdomen_scene,
    "head_cta": head_cta_scene,
    "breast_mri": breast_mri_scene,
}
