"""Preprocess a prepared dataset case by case: normalise, resample, store for fast patch reads.

Streaming and resumable: every case is read, processed and written on its own (in parallel with joblib
when ``workers > 1``); a case whose ``<case>.json`` carries the current fingerprint and store format is
skipped. Outputs made with another plan, code version, source files or storage format (the uncompressed
``.npy`` of store format 1) are *stale*: they are never reused, and are only replaced when ``overwrite=True``
-- otherwise :class:`StaleOutputError` says which cases and what to do.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from benchmark.data.format import SPLIT_NAMES, DatasetFormatError, PreparedDataset
from benchmark.preprocessing.fingerprint import case_fingerprint, case_source_signature, code_version
from benchmark.preprocessing.fingerprint import dataset_fingerprint as compute_dataset_fingerprint
from benchmark.preprocessing.intensity import clip_after_resampling, normalize_image
from benchmark.preprocessing.plan import PLANS_FILE, Plan
from benchmark.preprocessing.resampling import (
    instance_boxes,
    resample_image,
    resample_instances,
    resampled_geometry,
    resampled_shape,
)
from benchmark.preprocessing.store import (
    REPORT_FILE,
    RESERVED_NAMES,
    STORE_FORMAT,
    PreprocessedCaseMeta,
    image_file,
    legacy_files,
    meta_file,
    read_case_meta,
    seg_file,
    write_json_atomic,
    write_preprocessed_case,
)


class StaleOutputError(RuntimeError):
    """The output folder holds cases preprocessed with another plan, code version, source files or store format."""


@dataclass
class CaseReport:
    """What happened to one case."""

    case_id: str
    split: str
    status: str  # "processed" or "skipped"
    num_instances: int = 0
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class PreprocessReport:
    """Result of :func:`preprocess_dataset`: per-case reports (warnings included) and the fingerprints used."""

    out_dir: Path
    plan_digest: str
    code_version: str
    cases: list[CaseReport] = field(default_factory=list)

    @property
    def processed(self) -> list[str]:
        return [c.case_id for c in self.cases if c.status == "processed"]

    @property
    def skipped(self) -> list[str]:
        return [c.case_id for c in self.cases if c.status == "skipped"]

    @property
    def warnings(self) -> dict[str, list[str]]:
        """Case id -> warnings (only cases that have any)."""
        return {c.case_id: list(c.warnings) for c in self.cases if c.warnings}

    def to_json(self) -> dict:
        return {
            "out_dir": str(self.out_dir),
            "plan_digest": self.plan_digest,
            "code_version": self.code_version,
            "processed": len(self.processed),
            "skipped": len(self.skipped),
            "cases": [asdict(c) for c in self.cases],
        }


def preprocess_case(
    dataset_root: str | Path, case_id: str, plan: Plan, out_dir: str | Path, fingerprint: str
) -> CaseReport:
    """Normalise, resample and write one case; returns its report (warnings for rescued instances)."""
    start = time.perf_counter()
    dataset = PreparedDataset(dataset_root)
    split = dataset.splits.split_of(case_id)
    case = dataset.load_case(case_id)
    if case.image.shape[0] != plan.num_channels:
        raise DatasetFormatError(f"{case_id}: {case.image.shape[0]} channels, the plan expects {plan.num_channels}")
    geometry = case.geometry
    new_shape = resampled_shape(geometry.shape, geometry.spacing, plan.target_spacing)
    new_geometry = resampled_geometry(geometry, new_shape)
    image = resample_image(normalize_image(case.image, plan.normalization), new_shape, plan.image_order)
    image = clip_after_resampling(image, plan.normalization).astype(plan.image_dtype)

    warnings: list[str] = []
    has_labels = case.instances is not None
    classes = dict(case.classes)
    if has_labels:
        present = set(instance_boxes(case.instances))
        unclassified = sorted(present - set(classes))
        if unclassified:
            raise DatasetFormatError(
                f"{case_id}: instance id(s) {unclassified[:10]} have no class in the label JSON "
                "(run `benchmark validate-dataset`)"
            )
        for inst in sorted(set(classes) - present):
            warnings.append(f"instance {inst} is listed in the label JSON but has no voxels; ignored")
        instances, resample_warnings = resample_instances(
            case.instances, new_shape, classes, geometry.spacing, new_geometry.spacing
        )
        warnings += resample_warnings
    else:
        instances = np.zeros(new_shape, dtype=np.int16)
    boxes = instance_boxes(instances)
    meta = PreprocessedCaseMeta(
        case_id=case_id,
        split=split,
        fingerprint=fingerprint,
        original_geometry=geometry,
        resampled_geometry=new_geometry,
        classes={i: classes[i] for i in sorted(boxes)},
        boxes={i: [float(v) for v in b] for i, b in sorted(boxes.items())},
        has_labels=has_labels,
        warnings=warnings,
    )
    write_preprocessed_case(out_dir, meta, image, instances)
    return CaseReport(case_id, split, "processed", len(boxes), warnings, time.perf_counter() - start)


def _status(out_dir: Path, case_id: str, fingerprint: str) -> str:
    """``fresh`` (reusable), ``stale`` (other fingerprint or store format) or ``missing`` (absent or incomplete)."""
    if not meta_file(out_dir, case_id).is_file():
        return "missing"
    try:
        meta = read_case_meta(out_dir, case_id)
    except (ValueError, KeyError):
        return "missing"
    if meta.fingerprint != fingerprint or meta.store_format != STORE_FORMAT:
        return "stale"
    if not (image_file(out_dir, case_id).is_file() and seg_file(out_dir, case_id).is_file()):
        return "missing"
    return "fresh"


def preprocess_dataset(
    dataset_root: str | Path,
    out_dir: str | Path,
    plan: Plan,
    workers: int = 1,
    overwrite: bool = False,
    splits: Sequence[str] = SPLIT_NAMES,
    progress: bool = True,
) -> PreprocessReport:
    """Preprocess every case of ``splits`` of the dataset at ``dataset_root`` into ``out_dir`` with ``plan``.

    Cases already preprocessed with the same fingerprint are skipped. Stale cases (or a ``plans.json`` of
    another plan) raise :class:`StaleOutputError` unless ``overwrite=True``, which rebuilds them.
    """
    from tqdm.auto import tqdm

    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    unknown = sorted(set(splits) - set(SPLIT_NAMES))
    if unknown:
        raise ValueError(f"Unknown split(s) {unknown}. Valid splits: {', '.join(SPLIT_NAMES)}")
    dataset = PreparedDataset(dataset_root)
    if compute_dataset_fingerprint(dataset, plan.train_cases) != plan.dataset_fingerprint:
        raise ValueError(
            f"the plan was computed from another version of {dataset.root} (dataset.json, splits.json or the "
            "files of its training cases changed): run plan_preprocessing again"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    digest = plan.digest()
    plan_changed = (out / PLANS_FILE).is_file() and Plan.load(out).digest() != digest

    case_ids = [c for s in splits for c in dataset.case_ids(s)]
    clash = sorted(set(case_ids) & RESERVED_NAMES)
    if clash:
        raise ValueError(f"case id(s) {clash} clash with the folder's own files {sorted(RESERVED_NAMES)}; rename them")
    fingerprints = {c: case_fingerprint(digest, case_source_signature(dataset, c)) for c in case_ids}
    status = {c: _status(out, c, fingerprints[c]) for c in case_ids}
    stale = [c for c in case_ids if status[c] == "stale"]
    if (stale or plan_changed) and not overwrite:
        what = f"{len(stale)} case(s) (e.g. {', '.join(stale[:3])})" if stale else "plans.json"
        legacy = sum(1 for c in stale if legacy_files(out, c))
        older = f" ({legacy} of them in the older uncompressed .npy store format)" if legacy else ""
        raise StaleOutputError(
            f"{out}: {what} were preprocessed with another plan, code version, source files or storage format"
            f"{older} and will not be reused. Pass overwrite=True (--overwrite) to rebuild them, or choose another "
            "output folder."
        )
    plan.save(out)
    for name in ("dataset.json", "splits.json"):
        shutil.copyfile(dataset.root / name, out / name)

    reports: dict[str, CaseReport] = {}
    for c in case_ids:
        if status[c] == "fresh":
            meta = read_case_meta(out, c)
            reports[c] = CaseReport(c, meta.split, "skipped", len(meta.boxes), list(meta.warnings))
    todo = [c for c in case_ids if status[c] != "fresh"]
    for c in todo:  # the JSON marks a complete case: remove it first so an interrupted rebuild is redone
        meta_file(out, c).unlink(missing_ok=True)
    bar = tqdm(total=len(todo), desc=f"preprocess {dataset.meta.name} ({plan.config})", disable=not progress)
    jobs = [(str(dataset.root), c, plan, str(out), fingerprints[c]) for c in todo]
    if workers > 1 and len(todo) > 1:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=workers, return_as="generator_unordered")(
            delayed(preprocess_case)(*job) for job in jobs
        )
    else:
        results = (preprocess_case(*job) for job in jobs)
    for rep in results:
        reports[rep.case_id] = rep
        bar.update(1)
    bar.close()

    report = PreprocessReport(out, digest, code_version(), [reports[c] for c in case_ids])
    write_json_atomic(out / REPORT_FILE, report.to_json())
    return report
