"""Generate synthetic twins and the unlabeled pre-training corpus on disk (the API behind ``benchmark synth``).

Determinism: every case draws from its own ``numpy.random.SeedSequence(seed, spawn_key=(twin, case))``,
so a case is the same whichever order, process or run generates it; the split plan (which cases are
empty, how many objects of which class) comes from ``spawn_key=(twin, PLAN_KEY)``.
Resumability: a case is written into a scratch folder and moved into place file by file, its label JSON
(or, without labels, its last channel) last; a case whose files all exist is skipped unless ``overwrite``.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from benchmark.core.atomic import atomic_write_json
from benchmark.core.conventions import Geometry
from benchmark.data.format import (
    SPLIT_NAMES,
    Case,
    DatasetMeta,
    Splits,
    image_path,
    label_json_path,
    label_path,
    write_case,
    write_dataset_files,
)
from benchmark.synthetic.anatomy import CT_RANGE, SCENES, Grid, bias_field
from benchmark.synthetic.config import (
    GENERATOR_NAME,
    GENERATOR_VERSION,
    ScaleConfig,
    TwinConfig,
    get_scale,
    nominal_geometry,
)
from benchmark.synthetic.objects import PLACERS, InstancePainter, PlacementContext
from benchmark.synthetic.twins import get_twin, resolve_twins

PLAN_KEY = 1_000_000_000
CORPUS_KEY = 0  # twin numbers are 1..99, so 0 is free for the corpus
CORPUS_DIR = "pretraining_corpus"
CORPUS_FILE = "corpus.json"
CORPUS_KIND = "unlabeled_corpus"
CORPUS_SOURCES = ("S01", "S02", "S03", "S04", "S06", "S07", "S08")  # the CT twins
SCRATCH_DIR = ".partial"
_CASE_DIRS = ("imagesTr", "labelsTr", "imagesTs", "labelsTs")


@dataclass(frozen=True)
class CasePlan:
    """What one case will contain: id, split, index (seed key) and the class of each planned object."""

    case_id: str
    split: str
    index: int
    classes: tuple[int, ...]


def case_rng(seed: int, twin_number: int, index: int) -> np.random.Generator:
    """The generator of one case: independent of every other case, of order and of process."""
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(twin_number, index)))


def _object_counts(twin: TwinConfig, n: int, rng: np.random.Generator, exact: bool = True) -> np.ndarray:
    """Objects per image for ``n`` images: an exact share of empty images, the rest from the count model;
    with ``exact`` the total is then nudged to the real objects-per-image ratio."""
    k = twin.knobs
    n_empty = int(round(k.empty_fraction * n))
    mean_nonempty = max(twin.mean_objects_per_image() / (1.0 - k.empty_fraction), 1.0)
    if k.count_model == "geometric":
        counts = rng.geometric(1.0 / mean_nonempty, size=n)
    elif k.count_model == "poisson":
        counts = 1 + rng.poisson(mean_nonempty - 1.0, size=n)
    else:
        counts = np.full(n, int(round(mean_nonempty)))
    counts = np.clip(counts, 1, k.max_objects)
    counts[rng.permutation(n)[:n_empty]] = 0
    # nudge random non-empty images by one object until the split has the real objects-per-image ratio
    target = int(round(twin.mean_objects_per_image() * n))
    nonempty = np.flatnonzero(counts > 0)
    for _ in range(4 * n * k.max_objects if exact else 0):
        total = int(counts.sum())
        if total == target or nonempty.size == 0:
            break
        i = nonempty[rng.integers(nonempty.size)]
        if total < target and counts[i] < k.max_objects:
            counts[i] += 1
        elif total > target and counts[i] > 1:
            counts[i] -= 1
    return counts


def plan_twin(twin: TwinConfig, scale: ScaleConfig | str, seed: int) -> list[CasePlan]:
    """The case plan of a twin at a scale: ids ``S06_0001``... in split order train, val, test, external_test."""
    scale = get_scale(scale)
    sizes = scale.split_sizes(twin.spec)
    rng = case_rng(seed, twin.number, PLAN_KEY)
    n_classes = twin.spec.num_classes
    probs = twin.knobs.class_probs or tuple(np.full(n_classes, 1.0 / n_classes))
    width = max(4, len(str(sizes.total)))
    plans, index = [], 0
    for split in SPLIT_NAMES:
        n = getattr(sizes, split)
        counts = _object_counts(twin, n, rng) if n else np.zeros(0, int)
        for count in counts:
            classes = tuple(int(c) for c in rng.choice(n_classes, size=int(count), p=probs))
            plans.append(CasePlan(f"{twin.twin_id}_{index + 1:0{width}d}", split, index, classes))
            index += 1
    return plans


def _folds(pool: list[str], n_folds: int) -> list[dict[str, list[str]]]:
    """Round-robin cross-validation folds over the train+val pool (at most one fold per case)."""
    n = min(n_folds, len(pool))
    if n < 2:
        return []
    return [{"train": [c for i, c in enumerate(pool) if i % n != k], "val": pool[k::n]} for k in range(n)]


def twin_splits(twin: TwinConfig, plans: Sequence[CasePlan]) -> Splits:
    """The twin's ``splits.json`` content: the planned splits plus its cross-validation folds."""
    by = {s: [p.case_id for p in plans if p.split == s] for s in SPLIT_NAMES}
    return Splits(
        by["train"], by["val"], by["test"], by["external_test"], folds=_folds(by["train"] + by["val"], twin.num_folds)
    )


def planned_splits(twin: TwinConfig, scale: ScaleConfig | str, seed: int = 0) -> Splits:
    """The splits (and folds) a twin will have, without generating it (for checking ``--fold`` up front)."""
    return twin_splits(twin, plan_twin(twin, scale, seed))


def twin_provenance(twin: TwinConfig, scale: ScaleConfig, seed: int) -> dict:
    """Everything needed to regenerate the twin: generator version, seed, scale, knobs, mirrored dataset."""
    geo = nominal_geometry(twin, scale)
    spec = twin.spec
    return {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "kind": "synthetic_twin",
        "twin_id": twin.twin_id,
        "mirrors": spec.id,
        "mirrored_name": spec.name,
        "seed": int(seed),
        "scale": scale.name,
        "scale_config": asdict(scale),
        "scene": twin.scene,
        "target": twin.target,
        "knobs": twin.knobs.to_dict(),
        "real_median_spacing_zyx": list(spec.median_spacing),
        "spacing_zyx": list(geo.spacing),
        "spacing_factor": geo.spacing_factor,
        "nominal_shape_zyx": list(geo.shape),
        "fov_mm_zyx": list(geo.fov_mm),
        "direction": list(twin.direction),
        "description": twin.description,
        "note": "Synthetic data from a procedural generator; no patient data.",
    }


# ----------------------------------------------------------------------------------------------- one case


def case_geometry(twin: TwinConfig, scale: ScaleConfig, rng: np.random.Generator) -> tuple[Grid, Geometry]:
    """Per-case grid (nominal shape with jitter, exact spacing) and world geometry (random table position)."""
    nominal = nominal_geometry(twin, scale)
    jitter = 1.0 + scale.shape_jitter * rng.uniform(-1.0, 1.0, 3)
    shape = np.maximum(np.round(np.asarray(nominal.shape) * jitter), 8).astype(int)
    shape[0] = max(shape[0], scale.min_slices)
    grid = Grid(tuple(int(v) for v in shape), nominal.spacing)  # type: ignore[arg-type]
    spacing_xyz = tuple(nominal.spacing[::-1])
    direction = np.asarray(twin.direction, dtype=np.float64).reshape(3, 3)
    centre_world = np.array([rng.normal(0, 15), rng.normal(-20, 15), -rng.uniform(100, 600)])
    half_index = (np.asarray(shape[::-1], dtype=np.float64) - 1.0) / 2.0
    origin = centre_world - direction @ (np.asarray(spacing_xyz) * half_index)
    geometry = Geometry(
        shape=grid.shape,
        spacing_xyz=spacing_xyz,  # type: ignore[arg-type]
        origin_xyz=tuple(float(np.round(v, 4)) for v in origin),  # type: ignore[arg-type]
        direction=twin.direction,
    )
    return grid, geometry


def finish_image(
    image: np.ndarray, grid: Grid, rng: np.random.Generator, twin: TwinConfig, modality: str, shift: float
) -> np.ndarray:
    """Partial-volume blur, bias field (MRI), noise (Gaussian for CT, Rician for MRI), value range.

    Public because the supervised pre-training data (pretraining.supervised_data) finishes its scenes the same way.
    """
    k = twin.knobs
    sigma = np.asarray([k.blur_mm / s for s in grid.spacing])
    sigma = np.where(sigma >= 0.25, sigma, 0.0)
    out = np.empty_like(image)
    for c in range(image.shape[0]):
        out[c] = ndimage.gaussian_filter(image[c], sigma) if sigma.any() else image[c]
    noise = np.float32(k.noise_sigma * (1.0 + shift))
    if modality == "MRI":
        if k.bias_field > 0:
            out *= bias_field(rng, grid, k.bias_field)[None]
        out *= np.float32(1.0) + np.float32(0.05) * rng.standard_normal((out.shape[0], 1, 1, 1), dtype=np.float32)
        real = out + noise * rng.standard_normal(out.shape, dtype=np.float32)
        imag = noise * rng.standard_normal(out.shape, dtype=np.float32)
        out = np.sqrt(real * real + imag * imag)
    else:
        out += noise * rng.standard_normal(out.shape, dtype=np.float32)
        np.clip(out, CT_RANGE[0], CT_RANGE[1], out=out)
    return out.astype(np.float32)


def generate_case(
    twin: TwinConfig, scale: ScaleConfig | str, seed: int, plan: CasePlan, stream: int | None = None
) -> Case:
    """Build one case in memory: scene, objects, finishing; labels follow the prepared format's rules.

    ``stream`` is the first seed key (default: the twin number; the corpus uses its own stream 0).
    """
    scale = get_scale(scale)
    rng = case_rng(seed, twin.number if stream is None else stream, plan.index)
    grid, geometry = case_geometry(twin, scale, rng)
    knobs = twin.knobs
    scene = SCENES[twin.scene](grid, rng, knobs)
    shift = knobs.external_shift if plan.split == "external_test" else 0.0
    painter = InstancePainter(grid.shape, box_shaped=twin.spec.annotation == "boxes")
    ctx = PlacementContext(
        scene=scene,
        rng=rng,
        knobs=knobs,
        painter=painter,
        min_diameter_mm=scale.min_object_extent_voxels * max(grid.spacing),
        contrast=knobs.object_contrast * (1.0 - shift / 3.0),
    )
    PLACERS[twin.target](ctx, plan.classes)
    image = finish_image(scene.image, grid, rng, twin, scene.modality, shift)
    return Case(plan.case_id, image, geometry, painter.instances, dict(painter.classes))


# ----------------------------------------------------------------------------------------------- writing


def _case_files(root: Path, case_id: str, split: str, channels: int, labelled: bool) -> list[Path]:
    """The files of a case in the order they are moved into place (the completion marker last)."""
    files = [image_path(root, case_id, c, split) for c in range(channels)]
    if labelled:
        files += [label_path(root, case_id, split), label_json_path(root, case_id, split)]
    return files


def case_complete(root: Path, case_id: str, split: str, channels: int, labelled: bool = True) -> bool:
    """True when every file of the case is in place (then a resumed run skips it)."""
    return all(p.is_file() for p in _case_files(root, case_id, split, channels, labelled))


def _write_case_atomically(root: Path, case: Case, split: str, labelled: bool) -> None:
    scratch = root / SCRATCH_DIR / case.case_id
    if scratch.exists():
        shutil.rmtree(scratch)
    if not labelled:
        case = Case(case.case_id, case.image, case.geometry)
    write_case(scratch, case, split)
    for final in _case_files(root, case.case_id, split, case.image.shape[0], labelled):
        final.parent.mkdir(parents=True, exist_ok=True)
        (scratch / final.relative_to(root)).replace(final)
    shutil.rmtree(scratch, ignore_errors=True)


@dataclass(frozen=True)
class _Job:
    twin: TwinConfig
    scale: ScaleConfig
    seed: int
    plan: CasePlan
    root: Path
    labelled: bool = True
    stream: int | None = None


def _run_job(job: _Job) -> tuple[str, int, float]:
    start = time.perf_counter()
    case = generate_case(job.twin, job.scale, job.seed, job.plan, stream=job.stream)
    _write_case_atomically(job.root, case, job.plan.split, job.labelled)
    return job.plan.case_id, len(case.classes), time.perf_counter() - start


def _run_jobs(jobs: list[_Job], workers: int, progress: bool, desc: str) -> None:
    from tqdm.auto import tqdm

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    with tqdm(total=len(jobs), desc=desc, unit="case", disable=not progress or not jobs) as bar:
        if workers == 1 or len(jobs) <= 1:
            for job in jobs:
                _run_job(job)
                bar.update(1)
        else:
            from joblib import Parallel, delayed

            parallel = Parallel(n_jobs=workers, return_as="generator_unordered")
            for _ in parallel(delayed(_run_job)(job) for job in jobs):
                bar.update(1)


def _comparable(obj: dict) -> dict:
    return json.loads(json.dumps(obj))


def check_root(root: Path, provenance: dict, meta_file: str, overwrite: bool) -> None:
    """Refuse to mix runs: an existing folder must hold the same generator run (or ``overwrite`` replaces it).

    Reads only; :func:`generate_suite` checks every output folder this way before it writes anything.
    """
    meta_path = root / meta_file
    if root.exists() and not root.is_dir():
        raise ValueError(f"{root} is a file; choose another --out")
    if root.exists() and any(root.iterdir()):
        existing = None
        if meta_path.is_file():
            try:
                existing = json.loads(meta_path.read_text()).get("provenance")
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
                existing = None
        ours = isinstance(existing, dict) and existing.get("generator") == GENERATOR_NAME
        if not ours:
            raise ValueError(f"{root} exists and was not written by the synthetic generator; choose another --out")
        if not overwrite and existing != _comparable(provenance):
            diff = sorted(
                k for k in set(existing) | set(provenance) if existing.get(k) != _comparable(provenance).get(k)
            )
            raise ValueError(
                f"{root} holds a different synthetic run (differs in: {', '.join(diff)}); "
                "pass --overwrite to replace it or choose another --out"
            )


def _prepare_root(root: Path, provenance: dict, meta_file: str, overwrite: bool) -> None:
    """:func:`check_root`, then clear the case folders when ``overwrite``, and create ``root``."""
    check_root(root, provenance, meta_file, overwrite)
    if overwrite and root.is_dir():
        for name in (*_CASE_DIRS, SCRATCH_DIR):
            shutil.rmtree(root / name, ignore_errors=True)
    root.mkdir(parents=True, exist_ok=True)


def _twin_jobs(
    twin: TwinConfig, out_dir: Path, scale: ScaleConfig, seed: int, overwrite: bool
) -> tuple[Path, list[_Job]]:
    """Write the twin's dataset.json and splits.json and list the cases that still need writing."""
    root = Path(out_dir) / twin.dir_name
    provenance = twin_provenance(twin, scale, seed)
    _prepare_root(root, provenance, "dataset.json", overwrite)
    plans = plan_twin(twin, scale, seed)
    spec = twin.spec
    meta = DatasetMeta(
        name=twin.display_name,
        dataset_id=twin.twin_id,
        modalities=list(spec.channels),
        classes=list(spec.classes),
        annotation=spec.annotation,
        provenance=provenance,
    )
    write_dataset_files(root, meta, twin_splits(twin, plans))
    jobs = [
        _Job(twin, scale, int(seed), plan, root)
        for plan in plans
        if overwrite or not case_complete(root, plan.case_id, plan.split, spec.num_channels)
    ]
    return root, jobs


def _cleanup(roots: Iterable[Path]) -> None:
    for root in roots:
        shutil.rmtree(root / SCRATCH_DIR, ignore_errors=True)


def output_problems(
    twins: Sequence[TwinConfig],
    out_dir: str | Path,
    scale: str | ScaleConfig,
    seed: int,
    overwrite: bool,
    corpus: bool = False,
    corpus_cases: int | None = None,
) -> list[str]:
    """Why the twins (and the corpus when ``corpus``) cannot be written into ``out_dir``; reads only."""
    scale = get_scale(scale)
    problems = []
    for twin in twins:
        try:
            check_root(Path(out_dir) / twin.dir_name, twin_provenance(twin, scale, seed), "dataset.json", overwrite)
        except ValueError as err:
            problems.append(str(err))
    if corpus:
        try:
            n = len(plan_corpus(scale, seed, corpus_cases))
            check_root(Path(out_dir) / CORPUS_DIR, corpus_provenance(scale, seed, n), CORPUS_FILE, overwrite)
        except ValueError as err:
            problems.append(str(err))
    return problems


def generate_twin(
    twin_id: str | TwinConfig,
    out_dir: str | Path,
    scale: str | ScaleConfig = "small",
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    progress: bool = True,
) -> Path:
    """Write one twin as a prepared dataset under ``out_dir/<dir_name>`` (e.g. ``S06_LUNA16``); returns it."""
    return generate_suite([twin_id], out_dir, scale, seed, workers, overwrite, progress=progress)[0]


def generate_suite(
    suite: str | Sequence[str | TwinConfig],
    out_dir: str | Path,
    scale: str | ScaleConfig = "small",
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    corpus: bool = False,
    progress: bool = True,
) -> list[Path]:
    """Write the twins of a suite (``dev``/``test``/``all`` or ids) and optionally the pre-training corpus.

    All cases of all twins run as one job list, so ``workers`` processes stay busy across twins.
    """
    scale = get_scale(scale)
    if isinstance(suite, str):
        twins = resolve_twins(suite)
    else:
        twins = [t if isinstance(t, TwinConfig) else get_twin(t) for t in suite]
    problems = output_problems(twins, out_dir, scale, seed, overwrite, corpus=corpus)
    if problems:  # every folder is checked before anything is written
        raise ValueError("; ".join(problems))
    roots, jobs = [], []
    for twin in twins:
        root, twin_jobs = _twin_jobs(twin, Path(out_dir), scale, seed, overwrite)
        roots.append(root)
        jobs += twin_jobs
    if corpus:
        root, corpus_jobs = _corpus_jobs(Path(out_dir), scale, seed, overwrite, None)
        roots.append(root)
        jobs += corpus_jobs
    try:
        _run_jobs(jobs, workers, progress, desc=f"synth {scale.name}")
    finally:
        _cleanup(roots)
    return roots


# ----------------------------------------------------------------------------------------------- corpus


def plan_corpus(scale: ScaleConfig | str, seed: int, cases: int | None = None) -> list[tuple[str, CasePlan]]:
    """(source twin id, case plan) of each corpus case: a CT twin drawn at random, objects unlabelled."""
    scale = get_scale(scale)
    n = scale.corpus_cases if cases is None else int(cases)
    if n < 1:
        raise ValueError(f"the corpus needs at least one case, got {n}")
    rng = case_rng(seed, CORPUS_KEY, PLAN_KEY)
    width = max(4, len(str(n)))
    out = []
    for i in range(n):
        twin = get_twin(CORPUS_SOURCES[int(rng.integers(len(CORPUS_SOURCES)))])
        count = int(_object_counts(twin, 1, rng, exact=False)[0]) if rng.random() >= twin.knobs.empty_fraction else 0
        probs = twin.knobs.class_probs or tuple(np.full(twin.spec.num_classes, 1.0 / twin.spec.num_classes))
        classes = tuple(int(c) for c in rng.choice(twin.spec.num_classes, size=count, p=probs))
        out.append((twin.twin_id, CasePlan(f"SPT_{i + 1:0{width}d}", "train", i, classes)))
    return out


def corpus_provenance(scale: ScaleConfig, seed: int, cases: int) -> dict:
    """Everything needed to regenerate the corpus (stored in ``corpus.json``; compared on resume)."""
    return {
        "generator": GENERATOR_NAME,
        "generator_version": GENERATOR_VERSION,
        "kind": CORPUS_KIND,
        "seed": int(seed),
        "scale": scale.name,
        "scale_config": asdict(scale),
        "cases": int(cases),
        "sources": list(CORPUS_SOURCES),
        "note": "Unlabelled CT volumes from the scenes of the CT twins (objects present, never labelled).",
    }


def _corpus_jobs(out_dir: Path, scale: ScaleConfig, seed: int, overwrite: bool, cases: int | None):  # noqa: ANN202
    root = Path(out_dir) / CORPUS_DIR
    plans = plan_corpus(scale, seed, cases)
    provenance = corpus_provenance(scale, seed, len(plans))
    _prepare_root(root, provenance, CORPUS_FILE, overwrite)
    corpus = {
        "kind": CORPUS_KIND,
        "format_version": 1,
        "name": "Synthetic pre-training corpus (unlabelled CT)",
        "corpus_id": "SPT",
        "modalities": {"0": "CT"},
        "file_ending": ".nii.gz",
        "cases": [p.case_id for _, p in plans],
        "sources": {p.case_id: src for src, p in plans},
        "provenance": provenance,
    }
    atomic_write_json(root / CORPUS_FILE, corpus, indent=2)
    jobs = []
    for src, plan in plans:
        if overwrite or not case_complete(root, plan.case_id, "train", 1, labelled=False):
            jobs.append(_Job(get_twin(src), scale, int(seed), plan, root, labelled=False, stream=CORPUS_KEY))
    return root, jobs


def generate_pretraining_corpus(
    out_dir: str | Path,
    scale: str | ScaleConfig = "small",
    seed: int = 0,
    workers: int = 1,
    overwrite: bool = False,
    cases: int | None = None,
    progress: bool = True,
) -> Path:
    """Write the unlabelled corpus to ``out_dir/pretraining_corpus`` (``corpus.json`` + ``imagesTr``)."""
    scale = get_scale(scale)
    root, jobs = _corpus_jobs(Path(out_dir), scale, seed, overwrite, cases)
    try:
        _run_jobs(jobs, workers, progress, desc=f"corpus {scale.name}")
    finally:
        _cleanup([root])
    return root


def corpus_image_paths(root: str | Path) -> list[Path]:
    """Image files of a corpus written by :func:`generate_pretraining_corpus`, in ``corpus.json`` order."""
    root = Path(root)
    meta_path = root / CORPUS_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{meta_path}: missing (not a pre-training corpus folder)")
    meta = json.loads(meta_path.read_text())
    if meta.get("kind") != CORPUS_KIND:
        raise ValueError(f"{meta_path}: kind is {meta.get('kind')!r}, expected {CORPUS_KIND!r}")
    return [image_path(root, cid, 0, "train") for cid in meta["cases"]]
