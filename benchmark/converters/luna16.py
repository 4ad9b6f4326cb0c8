"""D06 LUNA16: convert the official challenge download into the canonical prepared format.

Source layout (https://luna16.grand-challenge.org/Data/): ``subset0/`` .. ``subset9/`` holding
``<seriesuid>.mhd``/``.raw`` scans, ``annotations.csv`` (``seriesuid,coordX,coordY,coordZ,diameter_mm``,
world mm) and optionally ``annotations_excluded.csv`` (findings the official evaluation ignores).
Nodules become spherical instances of class ``nodule``; the ten official subsets become ten folds
(fold ``k`` tests on subset ``k``, validates on subset ``k - 1 mod 10`` and trains on the other eight, the
8-1-1 scheme of nnDetection's LUNA16 experiments); the official train/val/test of ``splits.json`` is fold
``--fold``. Case ids are series uids with ``.`` replaced by ``_`` (reversible: uids contain no ``_``).
The official CSVs are copied to ``ROOT/official/`` for the LUNA16 protocol.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import case_written, check_source_images
from benchmark.converters.spheres import rasterise_spheres
from benchmark.core.conventions import Geometry, world_to_voxel
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, DatasetMeta, Splits, read_image, write_case, write_dataset_files

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


def luna16_folds(subset_cases: dict[int, list[str]]) -> list[dict[str, list[str]]]:
    """Fold k: test subset k, val subset k-1 (mod 10), train the other eight subsets."""
    folds = []
    for k in range(NUM_SUBSETS):
        val_k = (k - 1) % NUM_SUBSETS
        train = [c for j in range(NUM_SUBSETS) if j not in (k, val_k) for c in subset_cases[j]]
        folds.append({"train": train, "val": list(subset_cases[val_k]), "test": list(subset_cases[k])})
    return folds


def _convert_scan(mhd: Path, nodules: pd.DataFrame, out: Path, split: str) -> dict:
    import SimpleITK as sitk

    img = read_image(mhd)
    geometry = Geometry.from_sitk(img)
    image = sitk.GetArrayFromImage(img).astype(np.float32)[None]
    centres = nodules[["coordX", "coordY", "coordZ"]].to_numpy(dtype=np.float64)
    instances = rasterise_spheres(centres, nodules["diameter_mm"].to_numpy(), geometry)
    present = sorted(int(v) for v in np.unique(instances) if v > 0)
    case_id = case_id_from_uid(mhd.stem)
    write_case(out, Case(case_id, image, geometry, instances, {i: 0 for i in present}), split)
    return {"case_id": case_id, "nodules": len(nodules), "instances": len(present)}


def convert_luna16(
    source: str | Path, out: str | Path, workers: int = 1, overwrite: bool = False, fold: int = 0
) -> Path:
    """Convert the official LUNA16 download at ``source`` into a prepared dataset at ``out``."""
    from joblib import Parallel, delayed
    from tqdm import tqdm

    source, out = Path(source), Path(out)
    if not 0 <= fold < NUM_SUBSETS:
        raise ValueError(f"fold must be in 0..{NUM_SUBSETS - 1}, got {fold}")
    subsets = find_scans(source)
    annotations = read_annotations(source / "annotations.csv")
    if (source / "annotations_excluded.csv").is_file():
        read_annotations(source / "annotations_excluded.csv")
    scans = [mhd for paths in subsets.values() for mhd in paths]
    problems = [
        f"{mhd}: finding(s) {rows} of annotations.csv lie outside the scan"
        for mhd, geometry in zip(scans, check_source_images(scans), strict=True)
        if (rows := findings_outside(annotations[annotations.seriesuid == mhd.stem], geometry))
    ]
    if problems:
        raise InputErrors(problems[:20])
    subset_cases = {k: [case_id_from_uid(p.stem) for p in paths] for k, paths in subsets.items()}
    folds = luna16_folds(subset_cases)
    splits = Splits(train=folds[fold]["train"], val=folds[fold]["val"], test=folds[fold]["test"], folds=folds)
    split_of = {c: name for name in ("train", "val", "test") for c in splits.get(name)}

    jobs = []
    for paths in subsets.values():
        for mhd in paths:
            cid = case_id_from_uid(mhd.stem)
            if overwrite or not case_written(out, cid, split_of[cid]):
                jobs.append((mhd, annotations[annotations.seriesuid == mhd.stem], split_of[cid]))
    results: Iterable[dict] = Parallel(n_jobs=workers, return_as="generator")(
        delayed(_convert_scan)(mhd, nod, out, split) for mhd, nod, split in jobs
    )
    lost = [
        r for r in tqdm(results, total=len(jobs), desc="convert LUNA16", unit="scan") if r["instances"] < r["nodules"]
    ]

    (out / "official").mkdir(parents=True, exist_ok=True)
    for name in ("annotations.csv", "annotations_excluded.csv"):
        if (source / name).is_file():
            shutil.copyfile(source / name, out / "official" / name)
    meta = DatasetMeta(
        name="LUNA16",
        dataset_id="D06",
        modalities=["CT"],
        classes=["nodule"],
        provenance={
            "source": "LUNA16 challenge download (subset0..subset9, annotations.csv)",
            "converter": "benchmark.converters.luna16",
            "subsets": {f"subset{k}": v for k, v in subset_cases.items()},
            "official_split_fold": fold,
            "nodules_merged_by_overlap": [r["case_id"] for r in lost],
        },
    )
    write_dataset_files(out, meta, splits)
    return out


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


CONVERTERS.register("D06", convert_luna16)
