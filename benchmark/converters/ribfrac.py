"""D02 RibFrac: convert the RibFrac challenge download (rib fracture detection).

Source layout (https://ribfrac.grand-challenge.org/dataset/): ``RibFracN-image.nii.gz`` and
``RibFracN-label.nii.gz`` (instance maps) in the train/val folders, with ``ribfrac-*-info.csv``
(``public_id,label_id,label_code``; code -1 marks fractures the challenge ignores). Files are found
recursively, so Part1/Part2 sub-folders work as downloaded. The official validation cases become the test
split; the official training cases are split in the paper's 336/84 proportions with a stored seeded split.
Instances with code -1 are removed from the instance map and counted in the provenance.
"""

from __future__ import annotations

import re
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import CaseJob, check_source_images, load_or_create_splits, seeded_split, write_cases
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, Splits, read_image, write_dataset_files
from benchmark.datasets.d02_ribfrac import SPEC
from benchmark.datasets.spec import SplitSizes

SPLIT_SEED = 20252
IGNORE_CODE = -1


def _load(image: Path, label: Path, case_id: str, codes: dict[int, int]) -> Case:
    import SimpleITK as sitk

    img = read_image(image)
    inst = sitk.GetArrayFromImage(read_image(label)).astype(np.int32)
    ignored = [i for i, code in codes.items() if code == IGNORE_CODE]
    if ignored:
        inst[np.isin(inst, ignored)] = 0
    present = sorted(int(v) for v in np.unique(inst) if v > 0)
    return Case(
        case_id,
        sitk.GetArrayFromImage(img).astype(np.float32)[None],
        Geometry.from_sitk(img),
        inst,
        {i: 0 for i in present},
    )


def _read_info(path: Path) -> pd.DataFrame:
    """One ``ribfrac-*-info.csv`` (``public_id,label_id,label_code``), checked."""
    try:
        info = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from None
    missing = sorted({"public_id", "label_id", "label_code"} - set(info.columns))
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (expected public_id,label_id,label_code)")
    if info[["label_id", "label_code"]].apply(pd.to_numeric, errors="coerce").isna().any(axis=None):
        raise ValueError(f"{path}: label_id and label_code must be integers")
    return info


def _official_part(image: Path) -> str:
    return "val" if re.search(r"val", str(image.parent), re.IGNORECASE) else "train"


def convert_ribfrac(source: str | Path, out: str | Path, workers: int = 1, overwrite: bool = False) -> Path:
    """Convert the RibFrac download at ``source`` into a prepared dataset at ``out``."""
    source, out = Path(source), Path(out)
    images = {p.name[: -len("-image.nii.gz")]: p for p in sorted(source.rglob("RibFrac*-image.nii.gz"))}
    if not images:
        raise FileNotFoundError(f"{source}: expected RibFracN-image.nii.gz files (the RibFrac download)")
    labels = {p.name[: -len("-label.nii.gz")]: p for p in source.rglob("RibFrac*-label.nii.gz")}
    missing = sorted(set(images) - set(labels))
    if missing:
        raise FileNotFoundError(f"{source}: no RibFracN-label.nii.gz for {missing[:5]}")
    check_source_images([p for c in images for p in (images[c], labels[c])])
    infos = [_read_info(p) for p in sorted(source.rglob("*info*.csv"))]
    info = pd.concat(infos) if infos else pd.DataFrame(columns=["public_id", "label_id", "label_code"])
    codes = {
        cid: dict(zip(g.label_id.astype(int), g.label_code.astype(int), strict=True))
        for cid, g in info.groupby("public_id")
    }
    official_val = sorted(c for c, p in images.items() if _official_part(p) == "val")
    official_train = sorted(c for c in images if c not in official_val)
    if not official_val:
        raise FileNotFoundError(f"{source}: found no official validation cases (a folder named like 'ribfrac-val-*')")

    def create() -> Splits:
        # the held-out part of the seeded split becomes val; the official validation cases are the test split
        inner = seeded_split(official_train, SplitSizes(SPEC.splits.train, 0, SPEC.splits.val), SPLIT_SEED)
        return Splits(train=inner.train, val=inner.test, test=official_val, version=inner.version)

    splits = load_or_create_splits(out, create)
    jobs = [CaseJob(c, splits.split_of(c), partial(_load, images[c], labels[c], c, codes.get(c, {}))) for c in images]
    write_cases(jobs, out, workers, overwrite, "convert RibFrac")
    meta = DatasetMeta(
        name="RibFrac",
        dataset_id="D02",
        modalities=["CT"],
        classes=["fracture"],
        provenance={
            "source": "RibFrac challenge train/val download (images, instance labels, info CSVs)",
            "converter": "benchmark.converters.ribfrac",
            "ignored_instances_removed": int(sum(v == IGNORE_CODE for c in codes.values() for v in c.values())),
            "split": f"test = official validation cases; train/val = seeded split (seed {SPLIT_SEED}) of training",
        },
    )
    write_dataset_files(out, meta, splits)
    return out


CONVERTERS.register("D02", convert_ribfrac)
