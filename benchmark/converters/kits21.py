"""D03 KiTS21: convert the KiTS21 repository's data folder (kidney cyst and tumour detection).

Source layout (https://github.com/neheller/kits21): ``data/case_XXXXX/imaging.nii.gz`` with the majority-vote
segmentation ``aggregated_MAJ_seg.nii.gz`` (0 background, 1 kidney, 2 tumour, 3 cyst). Instances are the
26-connected components of tumour and cyst; classes follow the registry order (0 cyst, 1 tumour). KiTS21's
test labels are not public, so the 300 labelled cases are split in the paper's 204/51/45 proportions with a
seeded split stored in splits.json and never regenerated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.converters import CONVERTERS
from benchmark.converters.common import instances_from_semantic, seeded_split
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, Splits, read_image
from benchmark.datasets.d03_kits21 import SPEC as DATASET

SPLIT_SEED = 20251
SEGMENTATION = "aggregated_MAJ_seg.nii.gz"
CLASS_OF_LABEL = {3: DATASET.classes.index("cyst"), 2: DATASET.classes.index("tumour")}


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Every ``case_XXXXX`` folder of ``data`` (or of ``source`` itself) with image and segmentation."""
    root = source / "data" if (source / "data").is_dir() else source
    folders = sorted(p for p in root.glob("case_*") if (p / "imaging.nii.gz").is_file())
    if not folders:
        raise FileNotFoundError(f"{source}: expected case_XXXXX/imaging.nii.gz folders (KiTS21 data)")
    missing = [p.name for p in folders if not (p / SEGMENTATION).is_file()]
    if missing:
        raise FileNotFoundError(f"{root}: no {SEGMENTATION} for {missing[:5]}")
    return [SourceCase(p.name, (p / "imaging.nii.gz", p / SEGMENTATION)) for p in folders]


def load_case(case: SourceCase) -> Case:
    import SimpleITK as sitk

    image, segmentation = case.files
    img = read_image(image)
    instances, classes = instances_from_semantic(sitk.GetArrayFromImage(read_image(segmentation)), CLASS_OF_LABEL)
    array = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    return Case(case.case_id, array, Geometry.from_sitk(img), instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    return seeded_split([c.case_id for c in cases], DATASET.splits, SPLIT_SEED)


SPEC = CONVERTERS.register(
    "D03",
    ConverterSpec(
        dataset_id="D03",
        module=__name__,
        layout=f"the KiTS21 data folder with case_XXXXX/imaging.nii.gz and case_XXXXX/{SEGMENTATION}",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"seeded split (seed {SPLIT_SEED}) in Table 1 proportions 204/51/45",
        official_files=("kits.json", "data/kits.json"),
        provenance=lambda cases, opts: {
            "instances": "26-connected components of label 3 (cyst, class 0) and label 2 (tumour, class 1)"
        },
    ),
)
