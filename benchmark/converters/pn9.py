"""D07 PN9: convert the released PN9 volumes and box annotations (pulmonary nodule detection).

PN9 (Mei et al., SANet, TPAMI 2021; released on request by the authors, https://jiemei.xyz/publications/SANet)
ships CT volumes resampled to 1 mm and box tables with the columns
``pid,nodule_class,xmin,xmax,ymin,ymax,zmin,zmax,nodule_id,center_x,center_y,center_z,diameter,x_size,y_size``
in voxel coordinates of the released volumes (x = column, y = row, z = slice), plus the lists of the official
split. Expected ``--source`` layout (file names as in the public SANet code; not checked against a real download):

* the volumes ``<pid>.<ext>`` or ``<pid>_clean.<ext>`` directly in ``--source`` or in ``--source/images``, any
  of ``.nii.gz .nii .mha .mhd .nrrd`` (geometry from the header) or ``.npy`` (``(z, y, x)`` array, stored at the
  release's 1 mm isotropic spacing, origin 0);
* ``train.txt`` and ``test.txt`` (one pid per line; ``val.txt`` too if the release has it);
* the box tables ``*_anno*.csv`` (e.g. ``train_anno_center.csv``, ``test_anno_center.csv``).

Box rule: the bounds are *inclusive* voxel indices. Evidence: 923 of the 4,690 test nodules have
``zmin == zmax`` (a one-slice nodule; with exclusive bounds it would have no voxel), and ``center = (min + max) / 2``
is then the centre voxel. A nodule is stored as the instance over voxels ``min..max`` on each axis (detbench box
``[min, max + 1)``); all nine PN9 nodule types become the one class ``nodule`` (the type is kept in
``ROOT/official/``). A box sticking out of the volume, bounds with ``min > max`` or centres that disagree with the
bounds are errors. Boxes overlap: the earlier nodule keeps the shared voxels and the later one gets its free
voxels. On the released test table (4,690 nodules) 49 overlap an earlier box; 4 of them lie wholly inside earlier
boxes and are lost, 16 get a smaller bounding box, 29 keep theirs (keeping only box-shaped instances would lose
all 49). The overlapping nodules are listed in the provenance. For that reason the prepared PN9 is stored as
``masks`` (the registry's kind), not as box-shaped ``boxes``.

Splits: the official test list is the test split; with a ``val.txt`` the official validation list is val,
otherwise a seeded hold-out of the training list in the paper's 6037:670 proportion. Five seeded folds over
train + val.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from benchmark.converters import CONVERTERS
from benchmark.converters.common import holdout, instances_from_boxes, overlapping_boxes, seeded_folds
from benchmark.converters.template import ConverterSpec, Options, SourceCase
from benchmark.core.conventions import Geometry
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, Splits, read_image
from benchmark.datasets.d07_pn9 import SPEC as DATASET

SPLIT_SEED = 20257
FOLD_SEED = 20258
NUM_FOLDS = 5
COLUMNS = [
    "pid", "nodule_class", "xmin", "xmax", "ymin", "ymax", "zmin", "zmax", "nodule_id",
    "center_x", "center_y", "center_z", "diameter", "x_size", "y_size",
]  # fmt: skip
IMAGE_ENDINGS = (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".npy")
LISTS = ("train", "val", "test")


def normalise_pid(pid: object) -> str:
    """``"0042"``, ``42`` and ``"42"`` are the same scan (tables store ints, file names may be padded)."""
    text = str(pid).strip()
    return str(int(text)) if text.isdigit() else text


def _find_volumes(source: Path) -> dict[str, Path]:
    folder = source / "images" if (source / "images").is_dir() else source
    volumes: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        ending = next((e for e in IMAGE_ENDINGS if path.name.endswith(e)), None)
        if ending is None or path.name.startswith(".") or not path.is_file():
            continue
        stem = re.sub(r"_clean$", "", path.name[: -len(ending)])
        volumes[normalise_pid(stem)] = path
    return volumes


def read_split_list(path: Path) -> list[str]:
    """One pid per line (blank lines ignored)."""
    try:
        return [normalise_pid(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a text file (expected one PN9 pid per line)") from None


def read_boxes(path: Path) -> pd.DataFrame:
    """One PN9 box table, checked: columns, integers, ``min <= max`` and centres that match the bounds."""
    try:
        df = pd.read_csv(path, dtype={"pid": str, "nodule_class": str})
    except (ValueError, UnicodeDecodeError) as err:
        raise ValueError(f"{path}: not a readable CSV ({str(err).strip().splitlines()[0]})") from None
    if list(df.columns) != COLUMNS:
        raise ValueError(f"{path}: expected the PN9 columns {','.join(COLUMNS)}, got {','.join(map(str, df.columns))}")
    numbers = df[COLUMNS[2:]].apply(pd.to_numeric, errors="coerce")
    bad = numbers.isna().any(axis=1)
    for a in "xyz":
        lo, hi = numbers[f"{a}min"], numbers[f"{a}max"]
        bad |= (lo > hi) | ((numbers[f"center_{a}"] - (lo + hi) / 2).abs() > 0.51)
    if bad.any():
        lines = (df.index[bad] + 2).tolist()[:5]
        raise ValueError(f"{path}: inconsistent box(es) on line(s) {lines} (non-numeric, min > max or centre off)")
    df[COLUMNS[2:]] = numbers
    df["pid"] = df["pid"].map(normalise_pid)
    return df


def _shape_of(path: Path) -> tuple[int, int, int]:
    if path.name.endswith(".npy"):
        try:
            arr = np.load(path, mmap_mode="r")
        except (ValueError, OSError) as err:
            raise ValueError(f"{path}: unreadable .npy volume ({err})") from None
        if arr.ndim != 3:
            raise ValueError(f"{path}: expected a 3-D (z, y, x) volume, got shape {arr.shape}")
        return tuple(int(v) for v in arr.shape)  # type: ignore[return-value]
    from benchmark.data.format import read_image_header

    return read_image_header(path).shape


def find_cases(source: Path, options: Options) -> list[SourceCase]:
    """Volumes, split lists and box tables, cross-checked: every listed pid has a volume and boxes inside it."""
    lists = {name: read_split_list(source / f"{name}.txt") for name in LISTS if (source / f"{name}.txt").is_file()}
    missing = [f"{name}.txt" for name in ("train", "test") if name not in lists]
    if missing:
        raise FileNotFoundError(f"{source}: missing {', '.join(missing)} (the PN9 split lists, one pid per line)")
    tables = sorted(source.glob("*anno*.csv"))
    if not tables:
        raise FileNotFoundError(
            f"{source}: no box table *_anno*.csv (e.g. train_anno_center.csv, test_anno_center.csv)"
        )
    boxes = pd.concat([read_boxes(p) for p in tables], ignore_index=True)
    volumes = _find_volumes(source)
    group = {}
    problems = []
    for name, pids in lists.items():
        for pid in pids:
            if pid in group:
                problems.append(f"pid {pid} is listed in both {group[pid]}.txt and {name}.txt")
            group[pid] = name
    problems += [
        f"pid {pid} ({group[pid]}.txt): no volume <pid>.nii.gz/.mha/.npy" for pid in group if pid not in volumes
    ]
    unlisted = sorted(set(boxes.pid) - set(group))
    problems += [f"box table row(s) of pid {pid}: the pid is in no split list" for pid in unlisted[:5]]
    if problems:
        raise InputErrors(problems[:20])
    cases = []
    for pid in sorted(group, key=lambda p: (len(p), p)):
        rows = boxes[boxes.pid == pid].reset_index(drop=True)
        path = volumes[pid]
        try:
            shape = _shape_of(path)
        except ValueError as err:
            problems.append(str(err))
            continue
        hi = rows[["zmax", "ymax", "xmax"]].to_numpy() >= np.asarray(shape)
        lo = rows[["zmin", "ymin", "xmin"]].to_numpy() < 0
        for r in np.flatnonzero(hi.any(axis=1) | lo.any(axis=1)):
            problems.append(f"{path}: nodule {int(rows.nodule_id[r])} of pid {pid} lies outside the volume {shape}")
        files = () if path.name.endswith(".npy") else (path,)
        cases.append(SourceCase(f"pn9_{pid}", files, group[pid], (path, rows)))
    if problems:
        raise InputErrors(problems[:20])
    return cases


def voxel_boxes(rows: pd.DataFrame) -> np.ndarray:
    """detbench boxes ``(z0, y0, x0, z1, y1, x1)`` (half-open) of PN9's inclusive bounds."""
    lo = rows[["zmin", "ymin", "xmin"]].to_numpy(dtype=np.int64)
    hi = rows[["zmax", "ymax", "xmax"]].to_numpy(dtype=np.int64) + 1
    return np.concatenate([lo, hi], axis=1).reshape(-1, 6)


def load_case(case: SourceCase) -> Case:
    path, rows = case.info
    if path.name.endswith(".npy"):
        array = np.load(path).astype(np.float32)
        geometry = Geometry(tuple(array.shape), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0), (1, 0, 0, 0, 1, 0, 0, 0, 1))
    else:
        import SimpleITK as sitk

        img = read_image(path)
        array, geometry = sitk.GetArrayFromImage(img).astype(np.float32), Geometry.from_sitk(img)
    instances, classes, _ = instances_from_boxes(array.shape, voxel_boxes(rows), [0] * len(rows), overlap="free")
    return Case(case.case_id, array[None], geometry, instances, classes)


def make_splits(cases: list[SourceCase], options: Options) -> Splits:
    by = {name: sorted(c.case_id for c in cases if c.group == name) for name in LISTS}
    if by["val"]:
        train, val, version = by["train"], by["val"], "pn9-official"
    else:
        train, val = holdout(by["train"], DATASET.splits.train, DATASET.splits.val, SPLIT_SEED)
        version = f"pn9-official-test+seeded-val-{SPLIT_SEED}"
    folds = seeded_folds(train + val, NUM_FOLDS, FOLD_SEED) if len(train) + len(val) >= NUM_FOLDS else []
    return Splits(train=train, val=val, test=by["test"], folds=folds, version=version)


def _provenance(cases: list[SourceCase], options: Options) -> dict:
    overlapping = {}
    for c in cases:
        rows = c.info[1]
        dropped = overlapping_boxes(voxel_boxes(rows))
        if dropped:
            overlapping[c.case_id] = [int(rows.nodule_id[k]) for k in dropped]
    return {
        "boxes": "PN9 bounds are inclusive voxel indices; nodule = box over voxels min..max (detbench [min, max+1))",
        "classes": "all nine PN9 nodule types -> 'nodule'",
        "nodules": int(sum(len(c.info[1]) for c in cases)),
        "nodules_overlapping_an_earlier_box": overlapping,
        "folds": f"{NUM_FOLDS} seeded folds (seed {FOLD_SEED}) over train + val",
    }


SPEC = CONVERTERS.register(
    "D07",
    ConverterSpec(
        dataset_id="D07",
        module=__name__,
        layout="the PN9 release: volumes <pid>.nii.gz/.mha/.npy (or in images/), train.txt, test.txt "
        "(optional val.txt), box tables *_anno*.csv",
        find_cases=find_cases,
        load_case=load_case,
        make_splits=make_splits,
        split_rule=f"official train/test lists; val = val.txt or a seeded 6037:670 hold-out (seed {SPLIT_SEED})",
        official_files=("*anno*.csv", "train.txt", "val.txt", "test.txt"),
        provenance=_provenance,
    ),
)
