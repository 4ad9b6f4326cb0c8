"""D03 KiTS21: convert the KiTS21 repository's data folder (kidney cyst and tumour detection).

Source layout (https://github.com/neheller/kits21): ``data/case_XXXXX/imaging.nii.gz`` with the majority-vote
segmentation ``aggregated_MAJ_seg.nii.gz`` (0 background, 1 kidney, 2 tumour, 3 cyst). Instances are the
26-connected components of tumour and cyst; classes follow the registry order (0 cyst, 1 tumour). KiTS21's
test labels are not public, so the 300 labelled cases are split in the paper's 204/51/45 proportions with a
seeded split stored in splits.json and never regenerated.
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
from benchmark.datasets.d03_kits21 import SPEC

SPLIT_SEED = 20251
CLASS_OF_LABEL = {3: 0, 2: 1}  # cyst -> 0, tumour -> 1
SEGMENTATION = "aggregated_MAJ_seg.nii.gz"


def _load(folder: Path) -> Case:
    import SimpleITK as sitk

    img = read_image(folder / "imaging.nii.gz")
    semantic = sitk.GetArrayFromImage(read_image(folder / SEGMENTATION))
    instances, classes = instances_from_semantic(semantic, CLASS_OF_LABEL)
    return Case(
        folder.name, sitk.GetArrayFromImage(img).astype(np.float32)[None], Geometry.from_sitk(img), instances, classes
    )


def convert_kits21(source: str | Path, out: str | Path, workers: int = 1, overwrite: bool = False) -> Path:
    """Convert the KiTS21 ``data`` folder (or the repository root holding it) into a prepared dataset."""
    source, out = Path(source), Path(out)
    root = source / "data" if (source / "data").is_dir() else source
    folders = sorted(p for p in root.glob("case_*") if (p / "imaging.nii.gz").is_file())
    if not folders:
        raise FileNotFoundError(f"{source}: expected case_XXXXX/imaging.nii.gz folders (KiTS21 data)")
    missing = [p.name for p in folders if not (p / SEGMENTATION).is_file()]
    if missing:
        raise FileNotFoundError(f"{root}: no {SEGMENTATION} for {missing[:5]}")
    check_source_images([p / name for p in folders for name in ("imaging.nii.gz", SEGMENTATION)])
    splits = load_or_create_splits(out, lambda: seeded_split([p.name for p in folders], SPEC.splits, SPLIT_SEED))
    jobs = [CaseJob(p.name, splits.split_of(p.name), partial(_load, p)) for p in folders]
    write_cases(jobs, out, workers, overwrite, "convert KiTS21")
    meta = DatasetMeta(
        name="KiTS21",
        dataset_id="D03",
        modalities=["CT"],
        classes=list(SPEC.classes),
        provenance={
            "source": f"KiTS21 data/case_XXXXX (imaging.nii.gz, {SEGMENTATION})",
            "converter": "benchmark.converters.kits21",
            "instances": "26-connected components of label 3 (cyst, class 0) and label 2 (tumour, class 1)",
            "split": f"seeded split (seed {SPLIT_SEED}) in Table 1 proportions",
        },
    )
    write_dataset_files(out, meta, splits)
    return out


CONVERTERS.register("D03", convert_kits21)
