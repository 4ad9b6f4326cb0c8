"""D01 MSD Pancreas: convert the Medical Segmentation Decathlon ``Task07_Pancreas`` download.

Source layout (http://medicaldecathlon.com/): ``imagesTr/pancreas_XXX.nii.gz``, ``labelsTr/pancreas_XXX.nii.gz``
with labels 0 background, 1 pancreas, 2 tumour (``imagesTs`` has no labels and is not used). Tumour instances
are the 26-connected components of label 2. MSD has no public test labels, so the 281 labelled cases are
split 156/40/85 (the paper's Table 1 sizes) with a seeded split stored in splits.json and never regenerated.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from benchmark.converters import CONVERTERS
from benchmark.converters.common import (
    CaseJob,
    check_source_images,
    instances_from_semantic,
    load_or_create_splits,
    seeded_split,
    write_cases,
)
from benchmark.core.conventions import Geometry
from benchmark.data.format import Case, DatasetMeta, read_image, write_dataset_files
from benchmark.datasets.d01_msd_pancreas import SPEC

SPLIT_SEED = 20250
TUMOUR_LABEL = 2


def _load(image: Path, label: Path, case_id: str) -> Case:
    import SimpleITK as sitk

    img = read_image(image)
    semantic = sitk.GetArrayFromImage(read_image(label))
    instances, classes = instances_from_semantic(semantic, {TUMOUR_LABEL: 0})
    array = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    return Case(case_id, array, Geometry.from_sitk(img), instances, classes)


def convert_msd_pancreas(source: str | Path, out: str | Path, workers: int = 1, overwrite: bool = False) -> Path:
    """Convert ``Task07_Pancreas`` at ``source`` into a prepared dataset at ``out``."""
    source, out = Path(source), Path(out)
    images = sorted(p for p in (source / "imagesTr").glob("pancreas_*.nii.gz") if not p.name.startswith("."))
    if not images:
        raise FileNotFoundError(f"{source}: expected imagesTr/pancreas_XXX.nii.gz (the MSD Task07_Pancreas folder)")
    cases = {p.name[: -len(".nii.gz")]: p for p in images}
    missing = [c for c in cases if not (source / "labelsTr" / f"{c}.nii.gz").is_file()]
    if missing:
        raise FileNotFoundError(f"{source}/labelsTr: no label for {missing[:5]}")
    check_source_images([p for c, path in cases.items() for p in (path, source / "labelsTr" / f"{c}.nii.gz")])
    splits = load_or_create_splits(out, lambda: seeded_split(list(cases), SPEC.splits, SPLIT_SEED))
    jobs = [
        CaseJob(cid, splits.split_of(cid), partial(_load, path, source / "labelsTr" / f"{cid}.nii.gz", cid))
        for cid, path in cases.items()
    ]
    write_cases(jobs, out, workers, overwrite, "convert MSD Pancreas")
    meta = DatasetMeta(
        name="MSD Pancreas",
        dataset_id="D01",
        modalities=["CT"],
        classes=["tumour"],
        provenance={
            "source": "Medical Segmentation Decathlon Task07_Pancreas (imagesTr/labelsTr)",
            "converter": "benchmark.converters.msd_pancreas",
            "instances": "26-connected components of label 2 (tumour)",
            "split": f"seeded split (seed {SPLIT_SEED}) of the labelled cases in Table 1 proportions",
        },
    )
    write_dataset_files(out, meta, splits)
    return out


CONVERTERS.register("D01", convert_msd_pancreas)
