"""D01 MSD Pancreas: convert the Medical Segmentation Decathlon ``Task07_Pancreas`` download.

Source layout (http://medicaldecathlon.com/): ``imagesTr/pancreas_XXX.nii.gz``, ``labelsTr/pancreas_XXX.nii.gz``
with labels 0 background, 1 pancreas, 2 tumour (``imagesTs`` has no labels and is not used). Tumour instances
are the 26-connected components of label 2. MSD has no public test labels, so the 281 labelled cases are
split 156/40/85 (the paper's Table 1 sizes) with a seeded split stored in splits.json and never regenerated.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from benchmark.converters import CONVERTERS
from benchmark.converters.common import instances_from_semantic, seeded_split
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, Splits, read_image
from benchmark.datasets.d01_msd_pancreas import SPEC as DATASET

SPLIT_SEED = 20250
TUMOUR_LABEL = 2


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Every ``imagesTr/pancreas_XXX.nii.gz`` with its ``labelsTr`` label."""
    images = sorted(p for p in (source / "imagesTr").glob("pancreas_*.nii.gz") if not p.name.startswith("."))
    if not images:
        raise FileNotFoundError(f"{source}: expected imagesTr/pancreas_XXX.nii.gz (the MSD Task07_Pancreas folder)")
    cases = {p.name[: -len(".nii.gz")]: p for p in images}
    missing = [c for c in cases if not (source / "labelsTr" / f"{c}.nii.gz").is_file()]
    if missing:
        raise FileNotFoundError(f"{source}/labelsTr: no label for {missing[:5]}")
    return [SourceCase(c, (p, source / "labelsTr" / f"{c}.nii.gz")) for c, p in cases.items()]


def load_case(case: SourceCase) -> Case:
    import SimpleITK as sitk

    image, label = case.files
    img = read_image(image)
    instances, classes = instances_from_semantic(sitk.GetArrayFromImage(read_image(label)), {TUMOUR_LABEL: 0})
    array = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    return Case(case.case_id, array, Geometry.from_sitk(img), instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    return seeded_split([c.case_id for c in cases], DATASET.splits, SPLIT_SEED)


SPEC = CONVERTERS.register(
    "D01",
    ConverterSpec(
        dataset_id="D01",
        module=__name__,
        layout="Task07_Pancreas with imagesTr/pancreas_XXX.nii.gz and labelsTr/pancreas_XXX.nii.gz",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"seeded split (seed {SPLIT_SEED}) of the labelled cases in Table 1 proportions 156/40/85",
        official_files=("dataset.json",),
        provenance=lambda cases, opts: {"instances": "26-connected components of label 2 (tumour)"},
    ),
)
