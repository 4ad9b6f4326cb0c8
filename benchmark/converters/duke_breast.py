"""D05 Duke Breast Cancer MRI: convert the TCIA download (DICOM DCE-MRI) with the annotation box table.

Source layout (https://www.cancerimagingarchive.net/collection/duke-breast-cancer-mri/): the DICOM tree
``Duke-Breast-Cancer-MRI/Breast_MRI_XXX/<study>/<series>/*.dcm`` and the box table ``Annotation_Boxes.csv``
(the TCIA spreadsheet ``Annotation_Boxes.xlsx`` saved as CSV; the .xlsx is read directly when openpyxl is
installed) with the columns ``Patient ID, Start Row, End Row, Start Column, End Column, Start Slice, End Slice``.

Channels (the registry's ``T1_pre, T1_post1, T1_post2, T1_post3``): the fat-saturated T1 dynamic series
(description containing ``dyn``), ordered by Series Number, i.e. by acquisition: the first is the pre-contrast
phase, the next three the first three post-contrast phases. Why these four: every patient has the pre-contrast
and at least three post-contrast phases (a fourth only some), and the tumour is the tissue that enhances early,
so pre plus the early post phases carry the contrast uptake (the subtraction post - pre is a function of them);
the non-fat-saturated ``ax t1`` series has no contrast information and is not used. A series whose description
says ``pre`` must come first, otherwise the case is an error (the phase order would be unclear).

One grid: the post-contrast phases are resampled (linear interpolation, identity transform in world
coordinates) onto the pre-contrast grid. The phases are one dynamic acquisition without moving the patient, so
they are co-registered by their DICOM geometry; no image registration is run.

Boxes (assumed 1-based and inclusive, not checked against a real download): rows are the array ``y`` axis,
columns ``x``, slices count the pre-contrast slices in Instance Number order. A box is stored as a box-shaped
instance of class ``tumour`` (box-only dataset, ``annotation: boxes``). Splits: no official split; a seeded
hold-out in the paper's 509/128/274 proportions, stored in splits.json and never regenerated.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import instances_from_boxes, seeded_split
from benchmark.converters.dicom import DicomSeries, read_series, scan_dicom_tree
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, Splits
from benchmark.datasets.d05_duke_breast import SPEC as DATASET

SPLIT_SEED = 20255
BOX_COLUMNS = ["Patient ID", "Start Row", "End Row", "Start Column", "End Column", "Start Slice", "End Slice"]
NUM_PHASES = len(DATASET.channels)


def read_boxes(source: Path) -> pd.DataFrame:
    """``Annotation_Boxes.csv`` (or ``.xlsx`` with openpyxl), checked: columns, integers, start <= end."""
    csv, xlsx = source / "Annotation_Boxes.csv", source / "Annotation_Boxes.xlsx"
    if csv.is_file():
        path, reader = csv, pd.read_csv
    elif xlsx.is_file():
        try:
            import openpyxl  # noqa: F401
        except ImportError:
            raise ValueError(f"{xlsx}: reading .xlsx needs openpyxl; install it or save the sheet as "
                             "Annotation_Boxes.csv") from None  # fmt: skip
        path, reader = xlsx, pd.read_excel
    else:
        raise FileNotFoundError(f"{source}: missing Annotation_Boxes.csv (the TCIA Annotation_Boxes.xlsx as CSV)")
    try:
        df = reader(path)
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable table ({str(err).strip().splitlines()[0]})") from None
    df.columns = [str(c).strip() for c in df.columns]
    missing = [c for c in BOX_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: missing column(s) {missing} (expected {', '.join(BOX_COLUMNS)})")
    numbers = df[BOX_COLUMNS[1:]].apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().any(axis=1)
    for a in ("Row", "Column", "Slice"):
        bad |= (numbers[f"Start {a}"] > numbers[f"End {a}"]) | (numbers[f"Start {a}"] < 1)
    if bad.any():
        raise ValueError(f"{path}: inconsistent box(es) on line(s) {(df.index[bad] + 2).tolist()[:5]} "
                         "(non-numeric, start > end or below 1)")  # fmt: skip
    df[BOX_COLUMNS[1:]] = numbers.astype(int)
    df["Patient ID"] = df["Patient ID"].astype(str).str.strip()
    return df


def dynamic_phases(series: list[DicomSeries]) -> list[DicomSeries]:
    """The pre-contrast and first three post-contrast series of one patient (rule in the module doc)."""
    dyn = sorted((s for s in series if "dyn" in s.description.lower()), key=lambda s: int(s.series_number or 0))
    described = ", ".join(f"{s.series_number}:{s.description!r}" for s in series)
    if len(dyn) < NUM_PHASES:
        raise ValueError(f"needs {NUM_PHASES} dynamic series (pre + 3 post-contrast), found {described}")
    pre = [k for k, s in enumerate(dyn) if re.search(r"\bpre\b", s.description.lower())]
    if pre and pre != [0]:
        raise ValueError(f"the pre-contrast series is not the first dynamic series by Series Number: {described}")
    return dyn[:NUM_PHASES]


def box_voxels(row: pd.Series, pre: DicomSeries) -> np.ndarray:
    """detbench box ``(z0, y0, x0, z1, y1, x1)`` of a 1-based inclusive box on the pre-contrast series."""
    slice_of_instance_rank = np.argsort(pre.instance_numbers, kind="stable")  # array index of the k-th slice
    z = slice_of_instance_rank[int(row["Start Slice"]) - 1 : int(row["End Slice"])]
    return np.array([z.min(), row["Start Row"] - 1, row["Start Column"] - 1,
                     z.max() + 1, row["End Row"], row["End Column"]], dtype=np.int64)  # fmt: skip


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Patients with their four dynamic phases and their boxes, all checked before any conversion."""
    boxes = read_boxes(source)
    series = scan_dicom_tree(source)
    if not series:
        raise FileNotFoundError(f"{source}: no DICOM files (*.dcm); expected Breast_MRI_XXX/<study>/<series>/*.dcm")
    by_patient: dict[str, list[DicomSeries]] = {}
    for s in series.values():
        by_patient.setdefault(s.patient, []).append(s)
    problems = [f"Annotation_Boxes: patient {p} has no DICOM series in {source}"
                for p in sorted(set(boxes["Patient ID"]) - set(by_patient))]  # fmt: skip
    cases = []
    for patient in sorted(by_patient):
        rows = boxes[boxes["Patient ID"] == patient]
        if rows.empty:
            problems.append(f"patient {patient}: no row in Annotation_Boxes")
            continue
        try:
            phases = dynamic_phases(by_patient[patient])
        except ValueError as err:
            problems.append(f"patient {patient}: {err}")
            continue
        pre = phases[0]
        voxel_boxes = []
        for _, row in rows.iterrows():
            if row["End Row"] > pre.rows or row["End Column"] > pre.columns or row["End Slice"] > len(pre.files):
                problems.append(f"patient {patient}: box {row[BOX_COLUMNS[1:]].tolist()} exceeds the pre-contrast "
                                f"series ({len(pre.files)} slices of {pre.rows} x {pre.columns})")  # fmt: skip
                continue
            voxel_boxes.append(box_voxels(row, pre))
        cases.append(SourceCase(patient, (), "", (tuple(phases), np.asarray(voxel_boxes).reshape(-1, 6))))
    if problems:
        raise InputErrors(problems[:20])
    return cases


def load_case(case: SourceCase) -> Case:
    """The four phases on the pre-contrast grid, the boxes as box-shaped tumour instances."""
    import SimpleITK as sitk

    phases, boxes = case.info
    reference = sitk.Cast(read_series(phases[0]), sitk.sitkFloat32)
    channels = [sitk.GetArrayFromImage(reference)]
    for phase in phases[1:]:
        moving = sitk.Cast(read_series(phase), sitk.sitkFloat32)
        resampled = sitk.Resample(moving, reference, sitk.Transform(), sitk.sitkLinear, 0.0, sitk.sitkFloat32)
        channels.append(sitk.GetArrayFromImage(resampled))
    image = np.stack(channels).astype(np.float32)
    instances, classes, _ = instances_from_boxes(image.shape[1:], boxes, [0] * len(boxes))
    return Case(case.case_id, image, Geometry.from_sitk(reference), instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    return seeded_split([c.case_id for c in cases], DATASET.splits, SPLIT_SEED)


SPEC = CONVERTERS.register(
    "D05",
    ConverterSpec(
        dataset_id="D05",
        module=__name__,
        layout="the TCIA Duke-Breast-Cancer-MRI download (Breast_MRI_XXX/<study>/<series>/*.dcm) with "
        "Annotation_Boxes.csv (or .xlsx)",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"seeded split (seed {SPLIT_SEED}) in Table 1 proportions 509/128/274",
        official_files=("Annotation_Boxes.csv", "Annotation_Boxes.xlsx"),
        provenance=lambda cases, opts: {
            "channels": "dynamic series by Series Number: pre-contrast, post-contrast 1, 2, 3",
            "grid": "post-contrast phases resampled (linear) onto the pre-contrast grid, identity transform",
            "boxes": "1-based inclusive rows/columns/slices (slices in Instance Number order of the pre phase)",
        },
    ),
)
