"""D02 RibFrac: convert the RibFrac challenge download (rib fracture detection).

Source layout (https://ribfrac.grand-challenge.org/dataset/): ``RibFracN-image.nii.gz`` and
``RibFracN-label.nii.gz`` (instance maps) in the train/val folders, with ``ribfrac-*-info.csv``
(``public_id,label_id,label_code``; code -1 marks fractures the challenge ignores). Files are found
recursively, so Part1/Part2 sub-folders work as downloaded. The official validation cases become the test
split; the official training cases are split in the paper's 336/84 proportions with a stored seeded split.
Instances with code -1 are removed from the instance map (one lookup table) and counted in the provenance.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import relabel, seeded_split
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, Splits, read_image
from benchmark.datasets.d02_ribfrac import SPEC as DATASET
from benchmark.datasets.spec import SplitSizes

SPLIT_SEED = 20252
IGNORE_CODE = -1


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


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Image/label pairs found recursively, each with its info-CSV codes and its official part."""
    images = {p.name[: -len("-image.nii.gz")]: p for p in sorted(source.rglob("RibFrac*-image.nii.gz"))}
    if not images:
        raise FileNotFoundError(f"{source}: expected RibFracN-image.nii.gz files (the RibFrac download)")
    labels = {p.name[: -len("-label.nii.gz")]: p for p in source.rglob("RibFrac*-label.nii.gz")}
    missing = sorted(set(images) - set(labels))
    if missing:
        raise FileNotFoundError(f"{source}: no RibFracN-label.nii.gz for {missing[:5]}")
    infos = [_read_info(p) for p in sorted(source.rglob("*info*.csv"))]
    info = pd.concat(infos) if infos else pd.DataFrame(columns=["public_id", "label_id", "label_code"])
    codes = {
        cid: dict(zip(g.label_id.astype(int), g.label_code.astype(int), strict=True))
        for cid, g in info.groupby("public_id")
    }
    if not any(_official_part(p) == "val" for p in images.values()):
        raise FileNotFoundError(f"{source}: found no official validation cases (a folder named like 'ribfrac-val-*')")
    return [SourceCase(c, (images[c], labels[c]), _official_part(images[c]), codes.get(c, {})) for c in sorted(images)]


def load_case(case: SourceCase) -> Case:
    import SimpleITK as sitk

    image, label = case.files
    img = read_image(image)
    inst = sitk.GetArrayFromImage(read_image(label)).astype(np.int32)
    present = set(np.unique(inst).tolist()) - {0}
    instances, classes = relabel(inst, {i: 0 for i in present if case.info.get(i) != IGNORE_CODE})
    array = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    return Case(case.case_id, array, Geometry.from_sitk(img), instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    """Test = the official validation cases; train/val = a seeded 336:84 split of the official training cases."""
    official_val = sorted(c.case_id for c in cases if c.group == "val")
    official_train = sorted(c.case_id for c in cases if c.group != "val")
    inner = seeded_split(official_train, SplitSizes(DATASET.splits.train, 0, DATASET.splits.val), SPLIT_SEED)
    return Splits(train=inner.train, val=inner.test, test=official_val, version=inner.version)


SPEC = CONVERTERS.register(
    "D02",
    ConverterSpec(
        dataset_id="D02",
        module=__name__,
        layout="the RibFrac train/val download (RibFracN-image.nii.gz, RibFracN-label.nii.gz, ribfrac-*-info.csv)",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"test = official validation cases; train/val = seeded split (seed {SPLIT_SEED}) of training",
        official_files=("**/*info*.csv",),
        provenance=lambda cases, opts: {
            "ignored_instances_removed": int(sum(v == IGNORE_CODE for c in cases for v in c.info.values()))
        },
    ),
)
