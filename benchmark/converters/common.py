"""Shared pieces of converters: instances from semantic masks, seeded persisted splits, parallel case writing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.core.conventions import Geometry
from benchmark.core.errors import InputErrors
from benchmark.data.format import (
    Case,
    DatasetFormatError,
    Splits,
    _read_json,
    image_path,
    label_json_path,
    read_image_header,
    write_case,
)
from benchmark.datasets.spec import SplitSizes


def instances_from_semantic(
    semantic: np.ndarray, class_of_label: dict[int, int], min_voxels: int = 1
) -> tuple[np.ndarray, dict[int, int]]:
    """Instances = 26-connected components of each semantic label in ``class_of_label`` (label -> class index).

    Components smaller than ``min_voxels`` are dropped (annotation specks); other labels are background.
    One labelling pass per semantic label and one lookup table maps component ids to instance ids: no loop
    over objects touches the volume (a 512^3 scan with hundreds of fracture fragments stays one pass).
    """
    from scipy import ndimage

    out = np.zeros(semantic.shape, dtype=np.int32)
    classes: dict[int, int] = {}
    next_id = 1
    for label_value, cls in sorted(class_of_label.items()):
        comps, n = ndimage.label(semantic == label_value, structure=np.ones((3, 3, 3), dtype=bool))
        if n == 0:
            continue
        sizes = np.bincount(comps.ravel(), minlength=n + 1)
        keep = np.flatnonzero(sizes[1:] >= min_voxels) + 1
        lut = np.zeros(n + 1, dtype=np.int32)
        lut[keep] = np.arange(next_id, next_id + keep.size, dtype=np.int32)
        out += lut[comps]  # semantic labels are disjoint, so components of different labels never overlap
        classes.update({next_id + k: cls for k in range(keep.size)})
        next_id += keep.size
    return out, classes


def relabel(instances: np.ndarray, keep: dict[int, int]) -> tuple[np.ndarray, dict[int, int]]:
    """Instance map with only the ids in ``keep`` (id -> class), renumbered 1..N, through one lookup table."""
    inst = np.asarray(instances)
    top = int(inst.max(initial=0))
    present = set(np.unique(inst).tolist())
    ids = sorted(i for i in keep if 0 < i <= top and i in present)
    lut = np.zeros(top + 1, dtype=np.int32)
    lut[ids] = np.arange(1, len(ids) + 1, dtype=np.int32)
    return lut[inst], {k + 1: keep[i] for k, i in enumerate(ids)}


def instances_from_boxes(
    shape: Sequence[int], boxes: np.ndarray, classes: Sequence[int], overlap: str = "drop"
) -> tuple[np.ndarray, dict[int, int], list[int]]:
    """Instance map ``(z, y, x)`` from voxel boxes ``[N, 6]`` ``(z0, y0, x0, z1, y1, x1)``, half-open.

    Kept boxes become instances ``1..K`` in order, of class ``classes[k]``; boxes are clipped to the image and
    keep at least one voxel. Where boxes overlap the earlier box keeps the shared voxels. ``overlap="drop"``
    drops a box that overlaps an earlier one (every instance stays box-shaped, as a box-only dataset needs);
    ``overlap="free"`` gives it its free voxels (its bounding box is usually still its own box) and drops it only
    when no voxel is free. Returns the map, the classes of the kept instances and the indices of dropped boxes.
    """
    if overlap not in ("drop", "free"):
        raise ValueError(f"overlap must be 'drop' or 'free', got {overlap!r}")
    out = np.zeros(tuple(int(v) for v in shape), dtype=np.int32)
    kept: dict[int, int] = {}
    dropped: list[int] = []
    hi_limit = np.asarray(out.shape)
    for k, (box, cls) in enumerate(zip(np.asarray(boxes, dtype=np.int64).reshape(-1, 6), classes, strict=True)):
        lo = np.clip(box[:3], 0, hi_limit - 1)
        hi = np.maximum(np.clip(box[3:], 0, hi_limit), lo + 1)
        region = out[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]]
        free = region == 0
        if not free.any() or (overlap == "drop" and not free.all()):
            dropped.append(k)
            continue
        region[free] = len(kept) + 1
        kept[len(kept) + 1] = int(cls)
    return out, kept, dropped


def overlapping_boxes(boxes: np.ndarray) -> list[int]:
    """Indices of the boxes :func:`instances_from_boxes` drops: those overlapping an earlier kept box.

    Box arithmetic only (no volume), so a provenance can count them for thousands of scans.
    """
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 6)
    b = np.concatenate([b[:, :3], np.maximum(b[:, 3:], b[:, :3] + 1)], axis=1)
    kept: list[int] = []
    dropped: list[int] = []
    for k in range(len(b)):
        if kept and np.any(np.all((b[kept, :3] < b[k, 3:]) & (b[k, :3] < b[kept, 3:]), axis=1)):
            dropped.append(k)
        else:
            kept.append(k)
    return dropped


def seeded_split(case_ids: Sequence[str], sizes: SplitSizes, seed: int) -> Splits:
    """A reproducible train/val/test split of ``case_ids`` in the proportions of ``sizes`` (Table 1).

    With exactly ``sizes.total`` cases the split sizes are those of the paper. Used only for datasets
    without an official split; the result is stored in splits.json and reused, never regenerated
    (see :func:`load_or_create_splits`).
    """
    ids = sorted(case_ids)
    n = len(ids)
    total = sizes.train + sizes.val + sizes.test
    test, val = round(n * sizes.test / total), round(n * sizes.val / total)
    if n < 3 or test < 1 or n - test - val < 1:
        raise ValueError(f"too few cases ({n}) for a train/val/test split in the proportions {sizes}")
    order = np.random.default_rng(seed).permutation(n)
    test_ids = sorted(ids[i] for i in order[:test])
    val_ids = sorted(ids[i] for i in order[test : test + val])
    train_ids = sorted(ids[i] for i in order[test + val :])
    return Splits(train=train_ids, val=val_ids, test=test_ids, version=f"seeded-{seed}")


def seeded_folds(pool: Sequence[str], k: int, seed: int) -> list[dict[str, list[str]]]:
    """``k`` cross-validation folds over ``pool`` (a seeded permutation cut into ``k`` near-equal parts)."""
    ids = sorted(pool)
    if len(ids) < k:
        raise ValueError(f"too few cases ({len(ids)}) for {k} folds")
    order = np.random.default_rng(seed).permutation(len(ids))
    parts = np.array_split(order, k)
    folds = []
    for part in parts:
        val = sorted(ids[i] for i in part)
        folds.append({"train": sorted(set(ids) - set(val)), "val": val})
    return folds


def holdout(ids: Sequence[str], keep: int, held: int, seed: int) -> tuple[list[str], list[str]]:
    """Seeded hold-out of ``ids`` in the proportion ``keep:held`` (e.g. PN9's 6037:670 train:val).

    The held-out count is ``round(n * held / (keep + held))`` with at least one case on each side when
    ``held > 0``: with the full dataset the published sizes come out exactly; a tiny tree keeps the proportion.
    """
    ids = sorted(ids)
    n = len(ids)
    n_held = round(n * held / (keep + held)) if held else 0
    if held and n >= 2:
        n_held = min(max(n_held, 1), n - 1)
    order = np.random.default_rng(seed).permutation(n)
    held_ids = sorted(ids[i] for i in order[:n_held])
    return sorted(set(ids) - set(held_ids)), held_ids


def load_or_create_splits(out: Path, create: Callable[[], Splits]) -> Splits:
    """The splits already stored in ``out/splits.json`` if any (a stored split is never regenerated)."""
    path = Path(out) / "splits.json"
    if path.is_file():
        splits = Splits.from_json(_read_json(path), str(path))
        fresh = create()
        if sorted(splits.all_ids()) != sorted(fresh.all_ids()):
            raise DatasetFormatError(
                f"{path} lists other cases than the source holds; convert into a new folder or remove the file"
            )
        return splits
    return create()


@dataclass
class CaseJob:
    """One case to convert: its id, its split and a loader returning the :class:`Case`."""

    case_id: str
    split: str
    load: Callable[[], Case]


def check_source_images(paths: Iterable[Path], limit: int = 20) -> list[Geometry]:
    """Header and integrity check of every source image before anything is converted.

    Reads headers only (see :func:`benchmark.data.format.read_image_header`); every missing, truncated or
    unreadable file is one line of the :class:`InputErrors` raised, so a bad download fails before any
    output is written. Returns the geometries in ``paths`` order.
    """
    problems: list[str] = []
    geometries: list[Geometry] = []
    for path in paths:
        try:
            geometries.append(read_image_header(path))
        except DatasetFormatError as err:
            problems.append(f"source file {err}")
    if problems:
        more = [f"... and {len(problems) - limit} more unreadable source file(s)"] if len(problems) > limit else []
        raise InputErrors(problems[:limit] + more)
    return geometries


def case_written(out: Path, case_id: str, split: str, channels: int = 1) -> bool:
    """A converted case is complete: its channels and its label JSON, written last by :func:`write_case`, exist."""
    return (
        all(image_path(out, case_id, c, split).is_file() for c in range(channels))
        and label_json_path(out, case_id, split).is_file()
    )


def _run_job(job: CaseJob, out: Path) -> dict:
    case = job.load()
    write_case(out, case, job.split)
    return {"case_id": job.case_id, "instances": len(case.classes)}


def write_cases(jobs: Iterable[CaseJob], out: Path, workers: int, overwrite: bool, desc: str) -> list[dict]:
    """Write cases in parallel with a progress bar, skipping complete ones (see :func:`case_written`).

    With ``overwrite`` every case is written again.
    """
    from joblib import Parallel, delayed
    from tqdm import tqdm

    todo = [j for j in jobs if overwrite or not case_written(out, j.case_id, j.split)]
    results = Parallel(n_jobs=workers, return_as="generator")(delayed(_run_job)(j, out) for j in todo)
    return list(tqdm(results, total=len(todo), desc=desc, unit="case"))
