"""D06 LUNA16: convert the official challenge download into the canonical prepared format.

Source layout (https://luna16.grand-challenge.org/Data/): ``subset0/`` .. ``subset9/`` holding
``<seriesuid>.mhd``/``.raw`` scans, ``annotations.csv`` (``seriesuid,coordX,coordY,coordZ,diameter_mm``,
world mm) and optionally ``annotations_excluded.csv`` (findings the official evaluation ignores).
Nodules become spherical instances of class ``nodule``; the ten official subsets become ten folds, fold
``k`` testing on subset ``k``. Two schemes (``--scheme``): ``8-1-1`` validates on subset ``k - 1 mod 10`` and
trains on the other eight (nnDetection's LUNA16 experiments); ``9-0-1`` trains on nine subsets with no
validation set (the challenge's 10-fold cross-validation). The official train/val/test of ``splits.json`` is
fold ``--fold``; the LUNA16 tables report the CPM of all ten test folds pooled
(:func:`benchmark.metrics.protocols.luna16.luna16_pooled_froc`).
Case ids are series uids with ``.`` replaced by ``_`` (reversible: uids contain no ``_``).
The official CSVs are copied to ``ROOT/official/`` for the LUNA16 protocol.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import check_source_images
from benchmark.converters.spheres import rasterise_spheres
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry, world_to_voxel
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, Splits, read_image

NUM_SUBSETS = 10
ANNOTATION_COLUMNS = ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]


def case_id_from_uid(uid: str) -> str:
    return uid.replace(".", "_")


def uid_from_case_id(case_id: str) -> str:
    return case_id.replace("_", ".")


def find_scans(source: Path) -> dict[int, list[Path]]:
    """The ``.mhd`` files of each official subset folder ``subset0`` .. ``subset9``."""
    subsets: dict[int, list[Path]] = {}
    for folder in sorted(Path(source).glob("subset*")):
        m = re.fullmatch(r"subset(\d)", folder.name)
        if m and folder.is_dir():
            subsets[int(m.group(1))] = sorted(folder.glob("*.mhd"))
    missing = [k for k in range(NUM_SUBSETS) if not subsets.get(k)]
    if missing:
        raise FileNotFoundError(
            f"{source}: LUNA16 needs the ten official folders subset0..subset9 with .mhd scans; "
            f"missing or empty: {', '.join(f'subset{k}' for k in missing)}"
        )
    return subsets


def read_annotations(path: Path) -> pd.DataFrame:
    """An official LUNA16 findings CSV (``seriesuid,coordX,coordY,coordZ,diameter_mm``), checked."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing (the official LUNA16 {path.name})")
    try:
        df = pd.read_csv(path)
    except (ValueError, UnicodeDecodeError) as err:  # pandas' ParserError and EmptyDataError are ValueErrors
        raise ValueError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from None
    if list(df.columns) != ANNOTATION_COLUMNS:
        raise ValueError(f"{path}: expected columns {ANNOTATION_COLUMNS}, got {list(df.columns)}")
    numeric = ANNOTATION_COLUMNS[1:]
    bad = df[numeric].apply(pd.to_numeric, errors="coerce").isna().any(axis=1)
    if bad.any():
        raise ValueError(f"{path}: non-numeric coordinates or diameters on line(s) {(df.index[bad] + 2).tolist()[:5]}")
    return df


def findings_outside(nodules: pd.DataFrame, geometry: Geometry) -> list[int]:
    """Rows of ``nodules`` whose centre lies outside the scan (the conversion would have to drop them)."""
    if nodules.empty:
        return []
    centres = world_to_voxel(nodules[["coordX", "coordY", "coordZ"]].to_numpy(dtype=np.float64), geometry)
    outside = np.any(centres < 0, axis=1) | np.any(centres >= np.asarray(geometry.shape), axis=1)
    return [int(i) for i in np.flatnonzero(outside)]


SCHEMES = ("8-1-1", "9-0-1")


def luna16_folds(subset_cases: dict[int, list[str]], scheme: str = "8-1-1") -> list[dict[str, list[str]]]:
    """The ten folds of a LUNA16 scheme; fold k always tests on subset k.

    ``8-1-1`` (nnDetection's LUNA16 experiments): validate on subset k-1 (mod 10), train on the other eight.
    ``9-0-1`` (the challenge's own 10-fold cross-validation, Setio et al. 2017): train on the other nine, no
    validation set (training then keeps its default post-processing, nothing is tuned on a validation set).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown LUNA16 scheme {scheme!r}; valid: {', '.join(SCHEMES)}")
    folds = []
    for k in range(NUM_SUBSETS):
        val_k = (k - 1) % NUM_SUBSETS if scheme == "8-1-1" else None
        train = [c for j in range(NUM_SUBSETS) if j not in (k, val_k) for c in subset_cases[j]]
        val = list(subset_cases[val_k]) if val_k is not None else []
        folds.append({"train": train, "val": val, "test": list(subset_cases[k])})
    return folds


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """The scans of subset0..subset9 with their findings, after checking every finding lies in its scan."""
    subsets = find_scans(source)
    annotations = read_annotations(source / "annotations.csv")
    if (source / "annotations_excluded.csv").is_file():
        read_annotations(source / "annotations_excluded.csv")
    scans = [(k, mhd) for k, paths in subsets.items() for mhd in paths]
    known = {mhd.stem for _, mhd in scans}
    unknown = sorted(set(annotations.seriesuid.astype(str)) - known)
    if unknown:
        raise InputErrors([f"{source / 'annotations.csv'}: series {u} is in no subset folder" for u in unknown[:20]])
    geometries = check_source_images([mhd for _, mhd in scans])
    cases, problems = [], []
    for (k, mhd), geometry in zip(scans, geometries, strict=True):
        nodules = annotations[annotations.seriesuid == mhd.stem]
        if rows := findings_outside(nodules, geometry):
            problems.append(f"{mhd}: finding(s) {rows} of annotations.csv lie outside the scan")
        cases.append(SourceCase(case_id_from_uid(mhd.stem), (mhd,), str(k), nodules.reset_index(drop=True)))
    if problems:
        raise InputErrors(problems[:20])
    return cases


def load_case(case: SourceCase) -> Case:
    """One scan with its nodules as spheres of their diameter (instances 1..N, class ``nodule``)."""
    import SimpleITK as sitk

    img = read_image(case.files[0])
    geometry = Geometry.from_sitk(img)
    image = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    nodules = case.info
    centres = nodules[["coordX", "coordY", "coordZ"]].to_numpy(dtype=np.float64)
    instances = rasterise_spheres(centres, nodules["diameter_mm"].to_numpy(), geometry)
    present = sorted(int(v) for v in np.unique(instances) if v > 0)
    return Case(case.case_id, image, geometry, instances, {i: 0 for i in present})


def _subset_cases(cases: list[SourceCase]) -> dict[int, list[str]]:
    return {k: sorted(c.case_id for c in cases if c.group == str(k)) for k in range(NUM_SUBSETS)}


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    """The ten folds of ``--scheme``; fold ``--fold`` is the top-level train/val/test."""
    folds = luna16_folds(_subset_cases(cases), options["scheme"])
    k = options["fold"]
    return Splits(
        train=folds[k]["train"],
        val=folds[k]["val"],
        test=folds[k]["test"],
        folds=folds,
        version=f"luna16-{options['scheme']}-fold{k}",
    )


def check_options(options: Options) -> list[str]:
    problems = []
    if not (isinstance(options["fold"], int) and 0 <= options["fold"] < NUM_SUBSETS):
        problems.append(f"--fold must be in 0..{NUM_SUBSETS - 1}, got {options['fold']}")
    if options["scheme"] not in SCHEMES:
        problems.append(f"--scheme must be one of {', '.join(SCHEMES)}, got {options['scheme']!r}")
    return problems


def _provenance(cases: list[SourceCase], options: Options) -> dict:
    return {
        "subsets": {f"subset{k}": v for k, v in _subset_cases(cases).items()},
        "scheme": options["scheme"],
        "official_split_fold": options["fold"],
        "nodules_in_annotations": int(sum(len(c.info) for c in cases)),
    }


def evaluation_extras(root: str | Path) -> dict[str, pd.DataFrame]:
    """The official findings copied at conversion, keyed as the ``luna16`` protocol expects (case ids)."""
    extras = {}
    for name, key in (
        ("annotations.csv", "luna16_annotations"),
        ("annotations_excluded.csv", "luna16_annotations_excluded"),
    ):
        path = Path(root) / "official" / name
        if path.is_file():
            frame = read_annotations(path)
            extras[key] = frame.assign(seriesuid=frame["seriesuid"].map(case_id_from_uid))
    return extras


SPEC = CONVERTERS.register(
    "D06",
    ConverterSpec(
        dataset_id="D06",
        module=__name__,
        layout="the LUNA16 download: subset0..subset9 with <seriesuid>.mhd/.raw, annotations.csv "
        "(optional annotations_excluded.csv)",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule="official: fold k tests on subset k (8-1-1: validates on subset k-1; 9-0-1: no validation)",
        official_files=("annotations.csv", "annotations_excluded.csv"),
        options={"fold": 0, "scheme": "8-1-1"},
        check_options=check_options,
        seeded=False,
        provenance=_provenance,
    ),
)
