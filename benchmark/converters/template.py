"""The converter template: one :class:`ConverterSpec` per dataset, one shared :func:`run_converter`.

A spec says only what differs between datasets: how to find the cases of the official download
(``find_cases``), how to load one case (``load_case``), the split rule and folds (``make_splits``) and the
official side files to keep (``official_files``). Everything else is shared and the same for all eight
datasets, in this order:

1. options are checked (unknown options and bad values are errors before any work);
2. the source tree is checked by ``find_cases`` (layout, annotation tables, DICOM headers) and the header of
   every source image file is read (:func:`benchmark.converters.common.check_source_images`): a wrong folder,
   a missing file, an unreadable image or an inconsistent annotation fails here, with nothing written;
3. the splits: a ``splits.json`` already in ``--out`` is reused (seeded hold-outs are never regenerated);
   one that disagrees with the source or the options is an error;
4. cases are streamed: each worker loads one case, writes it and frees it (joblib processes, a tqdm bar);
   every file of a case is written under a temporary name and renamed (:func:`benchmark.data.format.write_nifti`),
   the label JSON last, so a case is complete exactly when its label JSON exists. A rerun skips complete cases
   and removes temporary files left by an interrupted run: conversion resumes;
5. ``dataset.json`` (name, channels, classes and annotation kind from the dataset registry, never repeated in a
   converter), ``splits.json`` and the official side files (``ROOT/official/``) are written;
6. the prepared dataset is validated (:func:`benchmark.data.validate.validate_dataset`).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.converters.common import CaseJob, case_written, check_source_images, write_cases
from benchmark.core.errors import InputErrors
from benchmark.data.format import Case, DatasetFormatError, DatasetMeta, Splits, _read_json, write_dataset_files
from benchmark.datasets import get_dataset
from benchmark.datasets.spec import DatasetSpec

Options = Mapping[str, Any]


@dataclass(frozen=True)
class SourceCase:
    """One case of an official download: its id, the image files checked up front and converter data.

    ``files`` are read by header before any work (leave out DICOM series: their files are checked by the
    converter's ``find_cases``). ``group`` is the case's official part (a LUNA16 subset, CTA-A's external
    cohort, ...); ``info`` is whatever ``load_case`` needs (annotation rows, series files).
    """

    case_id: str
    files: tuple[Path, ...] = ()
    group: str = ""
    info: Any = None


@dataclass(frozen=True)
class ConverterSpec:
    """What one converter defines; the dataset's name, channels and classes come from the registry."""

    dataset_id: str
    module: str
    layout: str  # one line: what --source must hold (for errors, --help and the README)
    find_cases: Callable[[Path, Options], list[SourceCase]]
    load_case: Callable[[SourceCase], Case]
    make_splits: Callable[[list[SourceCase], Options], Splits]
    split_rule: str  # one line for the provenance: official split or seeded hold-out with its seed
    official_files: tuple[str, ...] = ()  # glob patterns relative to --source, copied to ROOT/official/
    options: dict[str, Any] = field(default_factory=dict)  # option name -> default (e.g. fold, scheme)
    check_options: Callable[[Options], list[str]] | None = None
    seeded: bool = True  # a seeded hold-out: a stored splits.json is reused as it is
    provenance: Callable[[list[SourceCase], Options], dict] | None = None
    annotation: str | None = None  # "boxes" where the release has boxes only; default: the registry's kind

    @property
    def dataset(self) -> DatasetSpec:
        return get_dataset(self.dataset_id)


@dataclass
class ConversionResult:
    """What :func:`run_converter` did: the output folder, the validation report and the timing."""

    out: Path
    report: Any  # benchmark.data.validate.ValidationReport
    cases: int
    written: int
    seconds: float

    @property
    def seconds_per_written_case(self) -> float:
        return self.seconds / self.written if self.written else 0.0


def resolve_options(spec: ConverterSpec, options: Options) -> dict[str, Any]:
    """The spec's defaults updated by ``options`` (``None`` values mean "default"); unknown ones are errors."""
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(spec.options))
    if unknown:
        have = ", ".join(f"--{k}" for k in spec.options) or "none"
        raise ValueError(f"the {spec.dataset.name} converter has no option {', '.join(unknown)} (options: {have})")
    resolved = {**spec.options, **given}
    problems = spec.check_options(resolved) if spec.check_options else []
    if problems:
        raise InputErrors(problems)
    return resolved


def _stored_splits(out: Path, fresh: Splits, spec: ConverterSpec) -> Splits:
    """The splits of a previous (interrupted) run in ``out`` if any, after checking they fit this run."""
    path = out / "splits.json"
    if not path.is_file():
        return fresh
    stored = Splits.from_json(_read_json(path), str(path))
    if sorted(stored.all_ids()) != sorted(fresh.all_ids()):
        raise DatasetFormatError(
            f"{path} lists other cases than the source holds; convert into a new folder or remove the file"
        )
    if not spec.seeded and (stored.to_json() | {"version": ""}) != (fresh.to_json() | {"version": ""}):
        raise DatasetFormatError(
            f"{path} holds another official split than the one asked for (other --fold or --scheme?); "
            "convert into a new folder"
        )
    return stored


def _remove_stale_temporaries(out: Path) -> int:
    """Delete temporary files an interrupted run left (``.<name>.<hex>.tmp<suffix>``, see write_nifti)."""
    removed = 0
    for folder in ("imagesTr", "imagesTs", "labelsTr", "labelsTs"):
        for tmp in (out / folder).glob(".*.tmp*") if (out / folder).is_dir() else ():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


def _copy_official(spec: ConverterSpec, source: Path, out: Path) -> list[str]:
    copied = []
    for pattern in spec.official_files:
        for path in sorted(source.glob(pattern)):
            if path.is_file():
                (out / "official").mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out / "official" / path.name)
                copied.append(path.name)
    return copied


def run_converter(
    spec: ConverterSpec,
    source: str | Path,
    out: str | Path,
    workers: int = 1,
    overwrite: bool = False,
    validate: bool = True,
    **options: Any,
) -> ConversionResult:
    """Convert the official download at ``source`` into a prepared dataset at ``out`` (see the module doc)."""
    from benchmark.data.validate import validate_dataset

    start = time.perf_counter()
    source, out = Path(source), Path(out)
    opts = resolve_options(spec, options)
    dataset = spec.dataset
    cases = spec.find_cases(source, opts)
    if not cases:
        raise FileNotFoundError(f"{source}: no cases found; expected {spec.layout}")
    ids = [c.case_id for c in cases]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ValueError(f"{source}: case id(s) found more than once: {duplicates[:5]}")
    check_source_images([p for c in cases for p in c.files])
    splits = _stored_splits(out, spec.make_splits(cases, opts), spec)
    splits.check(f"{spec.module} split")

    out.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    by_id = {c.case_id: c for c in cases}
    jobs = [CaseJob(i, splits.split_of(i), _Loader(spec.load_case, by_id[i])) for i in ids]
    todo = [j for j in jobs if overwrite or not case_written(out, j.case_id, j.split, dataset.num_channels)]
    write_cases(todo, out, workers, True, f"convert {dataset.name}")
    copied = _copy_official(spec, source, out)
    provenance = {
        "source": spec.layout,
        "converter": spec.module,
        "split": spec.split_rule,
        "options": dict(opts),
        "official_files": copied,
    }
    if spec.provenance:
        provenance.update(spec.provenance(cases, opts))
    meta = DatasetMeta(
        name=dataset.name,
        dataset_id=dataset.id,
        modalities=list(dataset.channels),
        classes=list(dataset.classes),
        annotation=spec.annotation or dataset.annotation,
        provenance=provenance,
    )
    write_dataset_files(out, meta, splits)
    report = validate_dataset(out) if validate else None
    return ConversionResult(out, report, len(cases), len(todo), time.perf_counter() - start)


@dataclass(frozen=True)
class _Loader:
    """A picklable ``load()`` of one case for the worker processes."""

    load_case: Callable[[SourceCase], Case]
    case: SourceCase

    def __call__(self) -> Case:
        return self.load_case(self.case)
