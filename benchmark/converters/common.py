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
        for comp in range(1, n + 1):
            if sizes[comp] >= min_voxels:
                out[comps == comp] = next_id
                classes[next_id] = cls
                next_id += 1
    return out, classes


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


def case_written(out: Path, case_id: str, split: str) -> bool:
    """A converted case is complete: its label JSON, written last by :func:`write_case`, exists."""
    return image_path(out, case_id, 0, split).is_file() and label_json_path(out, case_id, split).is_file()


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
