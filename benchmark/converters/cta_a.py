"""D08 CTA-A: convert the intracranial-aneurysm CTA release of Bo et al. (Patterns 2021, GLIA-Net).

Layout (the case table of the authors' GLIA-Net code, https://github.com/MeteorsHub/GLIA-Net,
``medical_data/aneurysm_seg.csv``): a case table with the columns ``subset,id,hospital,cta_img_file,
aneurysm_seg_file`` whose paths are relative to the table's folder (by default ``cta_img/<id>.nii.gz`` and
``ane_seg/<id>.nii.gz``). ``subset`` says where a case belongs: ``train`` or ``val`` (the development pool),
``test`` or ``internal_test`` (the internal test set, 152 cases) and ``external_test`` or ``external`` (the
external cohort, 138 cases). The external cohort is stored as the ``external_test`` split, apart from the
internal ``test`` split, so it is never mixed into training, tuning or the internal score.

Instances are the 26-connected components of the segmentation (every label > 0 is aneurysm). Splits: rows
marked ``val`` form the validation split when present; otherwise a seeded hold-out of the pool in the paper's
948:238 proportion. Five seeded folds over train + val.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import holdout, instances_from_semantic, seeded_folds
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, DatasetFormatError, Splits, read_image, read_image_header
from benchmark.datasets.d08_cta_a import SPEC as DATASET

SPLIT_SEED = 20259
FOLD_SEED = 20260
NUM_FOLDS = 5
COLUMNS = ("subset", "id", "hospital", "cta_img_file", "aneurysm_seg_file")
GROUP_OF_SUBSET = {
    "train": "pool",
    "val": "val",
    "test": "test",
    "internal_test": "test",
    "external_test": "external_test",
    "external": "external_test",
}


def find_table(source: Path) -> Path:
    """The case table: ``aneurysm_seg.csv`` or the one CSV in ``source`` with the CTA-A columns."""
    if (source / "aneurysm_seg.csv").is_file():
        return source / "aneurysm_seg.csv"
    candidates = []
    for path in sorted(source.glob("*.csv")):
        try:
            header = pd.read_csv(path, nrows=0).columns
        except (ValueError, UnicodeDecodeError):
            continue
        if set(COLUMNS) <= set(header):
            candidates.append(path)
    if len(candidates) != 1:
        found = "none" if not candidates else ", ".join(p.name for p in candidates)
        raise FileNotFoundError(
            f"{source}: expected one case table with columns {','.join(COLUMNS)} (aneurysm_seg.csv); found {found}"
        )
    return candidates[0]


def read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from None
    missing = [c for c in COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (expected {','.join(COLUMNS)})")
    bad = sorted(set(table["subset"].str.strip().str.lower()) - set(GROUP_OF_SUBSET))
    if bad:
        raise ValueError(f"{path}: unknown subset value(s) {bad}; valid: {', '.join(GROUP_OF_SUBSET)}")
    dup = sorted(table["id"][table["id"].duplicated()].unique())
    if dup:
        raise ValueError(f"{path}: case id(s) listed more than once: {dup[:5]}")
    return table


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Rows of the case table, with image and segmentation present and on the same grid."""
    path = find_table(source)
    table = read_table(path)
    root = path.parent
    cases, problems = [], []
    for row in table.itertuples(index=False):
        image, seg = root / str(row.cta_img_file), root / str(row.aneurysm_seg_file)
        try:
            gi, gs = read_image_header(image), read_image_header(seg)
        except DatasetFormatError as err:
            problems.append(f"case {row.id}: source file {err}")
            continue
        if gi.shape != gs.shape or not np.allclose(gi.spacing_xyz, gs.spacing_xyz, rtol=1e-4):
            problems.append(f"case {row.id}: segmentation grid {gs.shape} differs from the image grid {gi.shape}")
            continue
        group = GROUP_OF_SUBSET[str(row.subset).strip().lower()]
        cases.append(SourceCase(str(row.id), (image, seg), group, {"hospital": row.hospital}))
    if problems:
        raise InputErrors(problems[:20])
    return cases


def load_case(case: SourceCase) -> Case:
    import SimpleITK as sitk

    image, seg = case.files
    img = read_image(image)
    instances, classes = instances_from_semantic((sitk.GetArrayFromImage(read_image(seg)) > 0).astype(np.uint8), {1: 0})
    return Case(
        case.case_id, sitk.GetArrayFromImage(img).astype(np.float32)[None], Geometry.from_sitk(img), instances, classes
    )


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    by = {g: sorted(c.case_id for c in cases if c.group == g) for g in ("pool", "val", "test", "external_test")}
    if by["val"]:
        train, val = by["pool"], by["val"]
    else:
        train, val = holdout(by["pool"], DATASET.splits.train, DATASET.splits.val, SPLIT_SEED)
    folds = seeded_folds(train + val, NUM_FOLDS, FOLD_SEED) if len(train) + len(val) >= NUM_FOLDS else []
    return Splits(train=train, val=val, test=by["test"], external_test=by["external_test"], folds=folds,
                  version=f"cta-a-seeded-{SPLIT_SEED}")  # fmt: skip


SPEC = CONVERTERS.register(
    "D08",
    ConverterSpec(
        dataset_id="D08",
        module=__name__,
        layout="the CTA-A release: case table aneurysm_seg.csv (subset,id,hospital,cta_img_file,aneurysm_seg_file) "
        "with the CTA volumes and aneurysm segmentations it names",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"internal test and external test from the case table; train/val = table's val rows or a "
        f"seeded 948:238 hold-out (seed {SPLIT_SEED}); {NUM_FOLDS} seeded folds (seed {FOLD_SEED}) over train+val",
        official_files=("*.csv",),
        provenance=lambda cases, opts: {
            "instances": "26-connected components of segmentation > 0",
            "hospitals": sorted({str(c.info["hospital"]) for c in cases}),
        },
    ),
)
