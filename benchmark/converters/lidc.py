"""D04 LIDC-IDRI: convert the TCIA download (CT DICOM series with the readers' XML) into benign/malignant nodules.

Source layout (https://www.cancerimagingarchive.net/collection/lidc-idri/, downloaded with the NBIA Data
Retriever): ``LIDC-IDRI/LIDC-IDRI-XXXX/<study>/<series>/*.dcm`` and, in each CT series folder, the readers' XML
(``LidcReadMessage``; the XML-only archive works too, as long as the XML files lie under ``--source``). Each XML
names its CT series (``ResponseHeader/SeriesInstanceUid``); every ``readingSession`` is one radiologist, every
``unblindedReadNodule`` one of their marks, its ``roi`` elements one outline per slice (``imageSOP_UID``,
``imageZposition``, ``inclusion``, ``edgeMap`` pixel ``xCoord``/``yCoord``) and ``characteristics/malignancy``
the rating 1..5 (Armato et al., Med. Phys. 38, 2011; the LIDC XML documentation).

Rules (own implementation of the rules pylidc applies, https://pylidc.github.io; pylidc itself needs its SQL
database):

* **Nodules >= 3 mm**: marks with a malignancy rating (the LIDC protocol rates nodules >= 3 mm only; marks of
  nodules < 3 mm are a single point without characteristics and are skipped, like the ``nonNodule`` marks).
* **Reader mask**: per ``roi`` the pixels inside or on the outline; ``inclusion = FALSE`` outlines are holes.
* **Clustering**: marks whose masks overlap or touch (26-neighbourhood) belong to one nodule: one
  connected-component pass over the union of all marks of the scan, each component one nodule (pylidc groups
  marks whose outlines lie within a tolerance of about one voxel; touching masks is the voxel version of that).
* **Nodule voxels**: voxels marked by at least half of the nodule's marks (pylidc's ``consensus`` at level 0.5);
  if none reaches that level, the union.
* **Class**: the median of the marks' ratings (``statistics.median_high``, the rule of common pylidc-based
  LIDC preprocessing) > 3 is ``malignant``, otherwise ``benign``. A median of exactly 3 ("indeterminate") is
  *benign*, not dropped: dropping it would make a real nodule background and penalise a model that finds it.

Splits: LIDC has no official split; a seeded hold-out in the paper's 690/173/155 proportions over the scans
(stored in splits.json and never regenerated). Case ids are the patient ids (``LIDC-IDRI-0001``), with the
series number appended when a patient has more than one CT scan.
"""

from __future__ import annotations

import statistics
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmark.converters import CONVERTERS
from benchmark.converters.common import seeded_split
from benchmark.converters.dicom import DicomSeries, read_series, scan_dicom_tree
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, Splits
from benchmark.datasets.d04_lidc import SPEC as DATASET

SPLIT_SEED = 20254
MALIGNANT_ABOVE = 3  # median rating > 3 -> malignant; <= 3 benign


@dataclass(frozen=True)
class Outline:
    """One ``roi``: the slice it lies on (array index), whether it adds or removes, and its pixels (x, y)."""

    slice_index: int
    inclusion: bool
    points: tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Mark:
    """One reader's mark of a nodule >= 3 mm: reader index, malignancy rating and outlines."""

    reader: int
    nodule_id: str
    malignancy: int
    outlines: tuple[Outline, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(node: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in node if _local(c.tag) == name]


def _text(node: ET.Element, name: str) -> str:
    found = _children(node, name)
    return (found[0].text or "").strip() if found else ""


def read_xml_series_uid(path: Path) -> str | None:
    """The CT series an LIDC XML annotates; ``None`` for other XML (the chest radiograph ``IdriReadMessage``)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as err:
        raise ValueError(f"{path}: not valid XML ({err})") from None
    if _local(root.tag) != "LidcReadMessage":
        return None
    header = _children(root, "ResponseHeader")
    uid = _text(header[0], "SeriesInstanceUid") if header else ""
    if not uid:
        raise ValueError(f"{path}: LIDC XML without ResponseHeader/SeriesInstanceUid")
    return uid


def read_marks(path: Path, series: DicomSeries, shape_yx: tuple[int, int]) -> list[Mark]:
    """The marks of nodules >= 3 mm in one LIDC XML, located on ``series`` (inconsistencies are errors)."""
    root = ET.parse(path).getroot()
    by_sop = series.slice_of_sop()
    marks, problems = [], []
    for reader, session in enumerate(_children(root, "readingSession")):
        for nodule in _children(session, "unblindedReadNodule"):
            chars = _children(nodule, "characteristics")
            rating = _text(chars[0], "malignancy") if chars else ""
            if not rating:
                continue  # a nodule < 3 mm: one point, no characteristics
            nid = _text(nodule, "noduleID")
            if not rating.isdigit() or not 1 <= int(rating) <= 5:
                problems.append(f"{path}: reader {reader + 1} nodule {nid}: malignancy {rating!r} is not 1..5")
                continue
            outlines = []
            for roi in _children(nodule, "roi"):
                sop, z = _text(roi, "imageSOP_UID"), _text(roi, "imageZposition")
                k = by_sop.get(sop)
                if k is None and z:
                    k = series.slice_of_position(float(z))
                if k is None:
                    problems.append(f"{path}: reader {reader + 1} nodule {nid}: outline on a slice not in the series "
                                    f"(SOP {sop or '-'}, z {z or '-'})")  # fmt: skip
                    continue
                pts = tuple((int(_text(e, "xCoord")), int(_text(e, "yCoord"))) for e in _children(roi, "edgeMap"))
                if any(not (0 <= x < shape_yx[1] and 0 <= y < shape_yx[0]) for x, y in pts):
                    problems.append(f"{path}: reader {reader + 1} nodule {nid}: outline outside the image")
                    continue
                outlines.append(Outline(k, _text(roi, "inclusion").upper() != "FALSE", pts))
            if outlines:
                marks.append(Mark(reader, nid, int(rating), tuple(outlines)))
    if problems:
        raise InputErrors(problems[:20])
    return marks


def _fill_outline(points: tuple[tuple[int, int], ...], shape_yx: tuple[int, int]) -> tuple[slice, slice, np.ndarray]:
    """Pixels inside or on a closed outline, as a window ``(rows, cols)`` of the slice and its mask."""
    from matplotlib.path import Path as Polygon

    pts = np.asarray(points, dtype=np.float64)
    x0, y0 = pts.min(axis=0).astype(int)
    x1, y1 = pts.max(axis=0).astype(int) + 1
    ys, xs = np.mgrid[y0:y1, x0:x1]
    mask = np.zeros((y1 - y0, x1 - x0), dtype=bool)
    if len(pts) >= 3:
        inside = Polygon(pts).contains_points(np.c_[xs.ravel(), ys.ravel()], radius=1e-9)
        mask |= inside.reshape(mask.shape)
    mask[pts[:, 1].astype(int) - y0, pts[:, 0].astype(int) - x0] = True  # the outline pixels themselves
    return slice(y0, y1), slice(x0, x1), mask


def mark_mask(mark: Mark, shape: tuple[int, int, int]) -> tuple[tuple[slice, ...], np.ndarray]:
    """A mark's voxels as a window of the volume and its boolean mask (holes removed)."""
    zs = [o.slice_index for o in mark.outlines]
    pts = np.asarray([p for o in mark.outlines for p in o.points])
    window = (slice(min(zs), max(zs) + 1), slice(pts[:, 1].min(), pts[:, 1].max() + 1),
              slice(pts[:, 0].min(), pts[:, 0].max() + 1))  # fmt: skip
    mask = np.zeros(tuple(s.stop - s.start for s in window), dtype=bool)
    for o in sorted(mark.outlines, key=lambda o: not o.inclusion):  # additions first, then holes
        rows, cols, m = _fill_outline(o.points, shape[1:])
        sub = mask[o.slice_index - window[0].start, rows.start - window[1].start : rows.stop - window[1].start,
                   cols.start - window[2].start : cols.stop - window[2].start]  # fmt: skip
        if o.inclusion:
            sub |= m
        else:
            sub &= ~m
    return window, mask


def nodules_from_marks(marks: list[Mark], shape: tuple[int, int, int]) -> tuple[np.ndarray, dict[int, int], dict]:
    """Cluster marks into nodules and give each its consensus voxels and class (rules in the module doc).

    One pass of connected components over the union of the marks; a lookup table gives each component its
    consensus level; no loop over nodules touches the whole volume.
    """
    from scipy import ndimage

    count = np.zeros(shape, dtype=np.uint8)
    masks = [mark_mask(m, shape) for m in marks]
    for window, mask in masks:
        count[window] += mask.astype(np.uint8)
    comps, n = ndimage.label(count > 0, structure=np.ones((3, 3, 3), dtype=bool))
    ratings: dict[int, list[int]] = {c: [] for c in range(1, n + 1)}
    for mark, (window, mask) in zip(marks, masks, strict=True):
        for c in np.unique(comps[window][mask]):
            if c:
                ratings[int(c)].append(mark.malignancy)
    needed = np.zeros(n + 1, dtype=np.int32)
    for c, r in ratings.items():
        needed[c] = max(1, int(np.ceil(len(r) / 2)))
    consensus = (comps > 0) & (count >= needed[comps])
    reached = np.zeros(n + 1, dtype=bool)
    reached[np.unique(comps[consensus])] = True
    voxels = consensus | ((comps > 0) & ~reached[comps])  # a component without consensus keeps its union
    instances = np.where(voxels, comps, 0).astype(np.int32)
    malignant = DATASET.classes.index("malignant")
    benign = DATASET.classes.index("benign")
    medians = {c: statistics.median_high(r) for c, r in ratings.items() if r}
    classes = {c: malignant if m > MALIGNANT_ABOVE else benign for c, m in medians.items()}
    stats = {
        "nodules": len(classes),
        "indeterminate_median_3_as_benign": sum(m == 3 for m in medians.values()),
        "marks": len(marks),
    }
    return instances, classes, stats


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """CT series with their readers' XML; every XML must name a series of the download."""
    xmls = sorted(source.rglob("*.xml"))
    if not xmls:
        raise FileNotFoundError(f"{source}: no readers' XML (*.xml) found; expected the TCIA LIDC-IDRI download")
    series = scan_dicom_tree(source)
    problems, xml_of = [], {}
    for path in xmls:
        try:
            uid = read_xml_series_uid(path)
        except ValueError as err:
            problems.append(str(err))
            continue
        if uid is None:
            continue
        if uid not in series:
            problems.append(f"{path}: annotates series {uid}, which is not in the download (missing DICOM folder?)")
        elif uid in xml_of:
            problems.append(f"{path}: a second XML for series {uid} (first: {xml_of[uid]})")
        else:
            xml_of[uid] = path
    ct = {uid: s for uid, s in series.items() if s.modality == "CT"}
    problems += [f"{s.folder}: CT series without readers' XML" for uid, s in ct.items() if uid not in xml_of]
    if problems:
        raise InputErrors(problems[:20])
    per_patient: dict[str, int] = {}
    for s in ct.values():
        per_patient[s.patient] = per_patient.get(s.patient, 0) + 1
    cases = []
    for uid, s in sorted(ct.items(), key=lambda kv: (kv[1].patient, kv[1].series_number, kv[0])):
        case_id = s.patient if per_patient[s.patient] == 1 else f"{s.patient}_{s.series_number or uid[-6:]}"
        try:  # every mark is located on its series before any case is converted
            marks = read_marks(xml_of[uid], s, (s.rows, s.columns))
        except InputErrors as err:
            problems += err.problems
            continue
        cases.append(SourceCase(case_id, (), s.patient, (s, marks)))
    if problems:
        raise InputErrors(problems[:20])
    return cases


def load_case(case: SourceCase) -> Case:
    import SimpleITK as sitk

    series, marks = case.info
    img = read_series(series)
    array = sitk.GetArrayFromImage(img).astype(np.float32)
    instances, classes, _ = nodules_from_marks(marks, array.shape)
    return Case(case.case_id, array[None], Geometry.from_sitk(img), instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    return seeded_split([c.case_id for c in cases], DATASET.splits, SPLIT_SEED)


SPEC = CONVERTERS.register(
    "D04",
    ConverterSpec(
        dataset_id="D04",
        module=__name__,
        layout="the TCIA LIDC-IDRI download: LIDC-IDRI-XXXX/<study>/<series>/*.dcm with the readers' XML",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"seeded split (seed {SPLIT_SEED}) of the scans in Table 1 proportions 690/173/155",
        provenance=lambda cases, opts: {
            "nodules": "marks >= 3 mm (with a malignancy rating) clustered by overlapping/touching masks",
            "voxels": "consensus of >= half of a nodule's marks (union if none)",
            "class": "median_high of the ratings > 3 malignant, else benign (median 3 = benign)",
        },
    ),
)
