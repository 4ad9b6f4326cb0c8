"""Array, box and coordinate conventions of detbench, written once (see docs/conventions.md).

* **Arrays** are numpy arrays in *array order* ``(z, y, x)`` -- the order ``SimpleITK.GetArrayFromImage``
  returns; multi-channel images are ``(C, z, y, x)``. Spacing given "in array order" is ``(sz, sy, sx)`` mm.
* **Voxel frame**: continuous coordinates in array order in which voxel ``i`` occupies ``[i, i + 1)``;
  the centre of voxel ``i`` is ``i + 0.5``. Points and boxes in voxel coordinates always use this frame.
* **Boxes** are ``(z1, y1, x1, z2, y2, x2)`` in the voxel frame: all minima, then all maxima, in array
  order. A box around an instance whose voxels span indices ``lo..hi`` (inclusive) on an axis is
  ``(lo, hi + 1)`` on that axis, so the box extent equals the voxel count. nnDetection instead uses
  ``(lo - 1, hi + 1)`` and the axis-interleaved order ``(x1, y1, x2, y2, z1, z2)``; see
  :func:`to_nndetection_boxes`.
* **World frame**: physical millimetres ``(x, y, z)`` as ITK/SimpleITK define them (LPS for DICOM-derived
  images): ``world = origin + direction @ (spacing * itk_index)`` with ``itk_index`` the continuous ITK
  index ``(x, y, z)`` of a voxel *centre*. World points are always in ``(x, y, z)`` order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOX_ORDER = ("z1", "y1", "x1", "z2", "y2", "x2")
AXIS_ORDER = ("z", "y", "x")


@dataclass(frozen=True)
class Geometry:
    """Image geometry in ITK's native ``(x, y, z)`` terms, plus the array ``shape`` in ``(z, y, x)``."""

    shape: tuple[int, int, int]
    spacing_xyz: tuple[float, float, float]
    origin_xyz: tuple[float, float, float]
    direction: tuple[float, ...] = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.shape) != 3 or len(self.spacing_xyz) != 3 or len(self.origin_xyz) != 3:
            raise ValueError("Geometry needs 3-D shape, spacing and origin")
        if len(self.direction) != 9:
            raise ValueError(f"direction must have 9 entries (row-major 3x3), got {len(self.direction)}")
        if any(s <= 0 for s in self.spacing_xyz):
            raise ValueError(f"spacing must be positive, got {self.spacing_xyz}")

    @property
    def spacing(self) -> tuple[float, float, float]:
        """Spacing in array order ``(sz, sy, sx)``."""
        return tuple(float(s) for s in self.spacing_xyz[::-1])  # type: ignore[return-value]

    @property
    def direction_matrix(self) -> np.ndarray:
        return np.asarray(self.direction, dtype=np.float64).reshape(3, 3)

    @classmethod
    def from_sitk(cls, image) -> Geometry:  # noqa: ANN001 - SimpleITK.Image, imported lazily
        size = image.GetSize()
        return cls(
            shape=(int(size[2]), int(size[1]), int(size[0])),
            spacing_xyz=tuple(float(v) for v in image.GetSpacing()),
            origin_xyz=tuple(float(v) for v in image.GetOrigin()),
            direction=tuple(float(v) for v in image.GetDirection()),
        )

    def apply_to_sitk(self, image) -> None:  # noqa: ANN001
        image.SetSpacing(self.spacing_xyz)
        image.SetOrigin(self.origin_xyz)
        image.SetDirection(self.direction)

    def same_as(self, other: Geometry, atol: float = 1e-4) -> bool:
        return (
            tuple(self.shape) == tuple(other.shape)
            and np.allclose(self.spacing_xyz, other.spacing_xyz, atol=atol)
            and np.allclose(self.origin_xyz, other.origin_xyz, atol=atol)
            and np.allclose(self.direction, other.direction, atol=atol)
        )

    def to_dict(self) -> dict:
        return {
            "shape": list(self.shape),
            "spacing_xyz": list(self.spacing_xyz),
            "origin_xyz": list(self.origin_xyz),
            "direction": list(self.direction),
        }


def voxel_to_world(points_zyx: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Map ``[N, 3]`` voxel-frame points ``(z, y, x)`` to world millimetres ``(x, y, z)``."""
    p = np.asarray(points_zyx, dtype=np.float64).reshape(-1, 3)
    itk_index = p[:, ::-1] - 0.5  # voxel frame -> ITK continuous index of centres, (x, y, z)
    scaled = itk_index * np.asarray(geometry.spacing_xyz)
    return np.asarray(geometry.origin_xyz) + scaled @ geometry.direction_matrix.T


def world_to_voxel(points_xyz: np.ndarray, geometry: Geometry) -> np.ndarray:
    """Map ``[N, 3]`` world points ``(x, y, z)`` mm to voxel-frame points ``(z, y, x)``."""
    w = np.asarray(points_xyz, dtype=np.float64).reshape(-1, 3) - np.asarray(geometry.origin_xyz)
    scaled = np.linalg.solve(geometry.direction_matrix, w.T).T
    itk_index = scaled / np.asarray(geometry.spacing_xyz)
    return itk_index[:, ::-1] + 0.5


def box_centers(boxes: np.ndarray) -> np.ndarray:
    """Centres ``[N, 3]`` (array order) of ``[N, 6]`` boxes."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return (b[:, :3] + b[:, 3:]) / 2.0


def box_sizes(boxes: np.ndarray) -> np.ndarray:
    """Extents ``[N, 3]`` (array order) of ``[N, 6]`` boxes, in voxels."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return b[:, 3:] - b[:, :3]


def boxes_from_instances(instance_map: np.ndarray) -> dict[int, np.ndarray]:
    """Box of every instance id > 0 of a ``(z, y, x)`` instance map, in the voxel frame."""
    from scipy import ndimage

    arr = np.asarray(instance_map)
    if arr.ndim != 3:
        raise ValueError(f"instance map must be 3-D (z, y, x), got shape {arr.shape}")
    ids = np.unique(arr)
    ids = ids[ids > 0].astype(np.int64)
    out: dict[int, np.ndarray] = {}
    if len(ids) == 0:
        return out
    slices = ndimage.find_objects(arr.astype(np.int64))
    for inst in ids:
        sl = slices[inst - 1]
        if sl is None:
            continue
        out[int(inst)] = np.array([s.start for s in sl] + [s.stop for s in sl], dtype=np.float64)
    return out


def to_nndetection_boxes(boxes: np.ndarray) -> np.ndarray:
    """Convert detbench boxes to nnDetection's ``(x1, y1, x2, y2, z1, z2)`` with its one-voxel margin rule.

    nnDetection names array axes 0/1/2 as x/y/z and boxes an instance spanning ``lo..hi`` as
    ``(lo - 1, hi + 1)``; detbench's ``(lo, hi + 1)`` therefore gains ``-1`` on the minima.
    """
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return np.stack([b[:, 0] - 1, b[:, 1] - 1, b[:, 3], b[:, 4], b[:, 2] - 1, b[:, 5]], axis=1)


def from_nndetection_boxes(boxes: np.ndarray) -> np.ndarray:
    """Inverse of :func:`to_nndetection_boxes`."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 6)
    return np.stack([b[:, 0] + 1, b[:, 1] + 1, b[:, 4] + 1, b[:, 2], b[:, 3], b[:, 5]], axis=1)
