"""The results store the runner writes and the analysis reads: one match table and one result record per run.

Layout (``docs/analysis.md`` has the full description)::

    STORE/
      store.json                                   {"format": "detbench-results", "version": 2}
      runs/<dataset>/<architecture>__<pretraining>/<profile>_<fold>_seed<seed>[_<variant>]/
        match_table.npz                            the run's MatchTable on the test split (IoU 0.1 matching)
        result.json                                run identity, metric values, provenance
      analysis/<profile>_seed<seed>/               written by ``benchmark analyze``

Every run is named by its :class:`~benchmark.core.run_key.RunKey` (the same identity ``benchmark train`` uses
for its run folder), so runs of other profiles, seeds, folds or options never overwrite or shadow each other.
The analysis ranks *models*, ``(architecture, pretraining)``; :func:`open_store` therefore selects one run per
model and dataset (one profile, one seed, one fold, one variant) and says which choice to make when the store
holds several.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.atomic import atomic_open, atomic_write_json
from benchmark.core.run_key import RunKey
from benchmark.metrics.matching import MatchTable

__all__ = [
    "ANALYSIS_DIR",
    "KEY_COLUMNS",
    "MATCH_TABLE_FILE",
    "RESULT_FILE",
    "RUNS_DIR",
    "STORE_FORMAT",
    "REFERENCE_ARCHITECTURES",
    "ModelKey",
    "ResultsStore",
    "analysis_dir",
    "check_paired",
    "check_store",
    "has_run",
    "index_store",
    "init_store",
    "is_reference",
    "load_match_table",
    "open_store",
    "run_dir",
    "save_match_table",
    "table_metrics",
    "write_run",
]

STORE_FORMAT = {"format": "detbench-results", "version": 2}
STORE_FILE = "store.json"
RUNS_DIR = "runs"
ANALYSIS_DIR = "analysis"
MATCH_TABLE_FILE = "match_table.npz"
RESULT_FILE = "result.json"
STORE_METRICS = ("map@0.1", "froc@0.1")
KEY_COLUMNS = ("dataset", "architecture", "pretraining", "profile", "fold", "seed", "variant")
_MATCH_COLUMNS = ("image_index", "class_index", "score", "tp", "ignored", "gt_counts", "det_index", "gt_index")

ModelKey = tuple[str, str]  # (architecture, pretraining)
# Architectures of reference rows: shown and ranked beside the models, labelled as references (not models of the
# study). Today the classical baseline (benchmark.classical: intensity threshold + connected components).
REFERENCE_ARCHITECTURES = ("classical",)


def is_reference(architecture: str) -> bool:
    """True for a reference row's architecture (the classical baseline), not a model of the study."""
    return architecture in REFERENCE_ARCHITECTURES


# -- match tables on disk --------------------------------------------------------------------------------
def save_match_table(table: MatchTable, path: str | Path) -> Path:
    """Write ``table`` as a compressed ``.npz`` (columns, ids, class names and JSON meta; no pickles)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {name: getattr(table, name) for name in _MATCH_COLUMNS}
    with atomic_open(path, "wb") as fh:
        np.savez_compressed(
            fh,
            image_ids=np.asarray(table.image_ids, dtype=str),
            class_names=np.asarray(table.class_names, dtype=str),
            meta=np.asarray(json.dumps(table.meta, sort_keys=True, default=str)),
            **arrays,
        )
    return path


def load_match_table(path: str | Path) -> MatchTable:
    """Read a table written by :func:`save_match_table` (validated again by :class:`MatchTable`)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no match table at {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:  # not an npz, truncated, pickled
        why = "not an .npz archive" if "pickle" in str(err) else str(err)
        raise ValueError(f"{path}: not a readable match table ({why}); rerun this experiment") from None
    missing = [k for k in ("image_ids", "class_names", *_MATCH_COLUMNS) if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not a match table, missing arrays {missing}")
    try:
        meta = json.loads(str(arrays["meta"])) if "meta" in arrays else {}
        return MatchTable(
            image_ids=tuple(arrays["image_ids"].reshape(-1).tolist()),
            class_names=tuple(arrays["class_names"].reshape(-1).tolist()),
            meta=meta,
            **{k: arrays[k] for k in _MATCH_COLUMNS},
        )
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: invalid match table ({err})") from None


def table_metrics(table: MatchTable) -> dict[str, float | None]:
    """The store's metrics (``map@0.1``, ``froc@0.1``) of one match table; NaN becomes None (JSON null)."""
    from benchmark.metrics.coco import map_from_matches
    from benchmark.metrics.froc import froc_from_matches

    values = {"map@0.1": map_from_matches(table).map, "froc@0.1": froc_from_matches(table).score}
    return {k: None if v != v else float(v) for k, v in values.items()}


# -- writing runs ------------------------------------------------------------------------------------------
def init_store(root: str | Path) -> Path:
    """Create (or check) a store folder and its ``store.json``; a store of another layout version is an error."""
    root = Path(root)
    marker = root / STORE_FILE
    if marker.exists():
        _check_marker(root, marker)
    else:
        if root.exists() and not root.is_dir():
            raise NotADirectoryError(f"results store {root} is a file, not a folder")
        (root / RUNS_DIR).mkdir(parents=True, exist_ok=True)
        atomic_write_json(marker, STORE_FORMAT, indent=2)
    return root


def check_store(root: str | Path) -> None:
    """Read-only: raise what :func:`init_store` would raise for ``root`` (a foreign or other-version store).

    ``benchmark run`` calls it before any training, so a bad ``--store`` fails in seconds, not after the suite.
    """
    root = Path(root)
    marker = root / STORE_FILE
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f"results store {root} is a file, not a folder")
    if marker.is_dir():
        raise ValueError(f"{marker} is a folder: {root} is not a detbench results store")
    if marker.is_file():
        _check_marker(root, marker)


def _check_marker(root: Path, marker: Path) -> None:
    try:
        found = json.loads(marker.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{marker}: not valid JSON ({err}); is {root} a detbench results store?") from None
    if not isinstance(found, dict) or found.get("format") != STORE_FORMAT["format"]:
        raise ValueError(f"{root} is not a detbench results store ({marker} says {found})")
    if found.get("version") != STORE_FORMAT["version"]:
        raise ValueError(
            f"{root} is a results store of layout version {found.get('version')}, this detbench reads version "
            f"{STORE_FORMAT['version']} (runs keyed by profile, fold and seed): write new results into a new "
            "store (--store), or move the old one aside"
        )


def run_dir(root: str | Path, key: RunKey) -> Path:
    """Folder of one run: ``runs/<RunKey.folder>``."""
    return Path(root) / RUNS_DIR / key.folder


def has_run(root: str | Path, key: RunKey) -> bool:
    """True when the store holds the finished run ``key`` (its result record and match table)."""
    folder = run_dir(root, key)
    return (folder / RESULT_FILE).is_file() and (folder / MATCH_TABLE_FILE).is_file()


def write_run(
    root: str | Path,
    key: RunKey,
    table: MatchTable,
    provenance: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
    attachments: Iterable[str | Path] = (),
) -> Path:
    """Write one run (match table, ``attachments``, then ``result.json`` with its identity, metrics, provenance).

    ``attachments`` are folders of the run (e.g. ``protocol_luna16/``, the LUNA16 tables the pooled 10-fold CPM
    reads) copied into the store's run folder under their own names. The result record is written last, so a
    run folder with a ``result.json`` is always complete.
    """
    import shutil

    init_store(root)
    folder = run_dir(root, key)
    save_match_table(table, folder / MATCH_TABLE_FILE)
    for source in map(Path, attachments):
        target = folder / source.name
        partial = folder / f".{source.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(source, partial)
        shutil.rmtree(target, ignore_errors=True)
        partial.rename(target)
    record = {
        "run_key": key.to_json(),
        "dataset": key.dataset,
        "architecture": key.architecture,
        "pretraining": key.pretraining,
        "profile": key.profile,
        "fold": key.fold,
        "seed": key.seed,
        "split": "test",
        "n_images": table.n_images,
        "class_names": list(table.class_names),
        "metrics": table_metrics(table),
        "match_table": MATCH_TABLE_FILE,
        "matching": dict(table.meta),
        "provenance": dict(provenance or {}),
        **dict(extra or {}),
    }
    atomic_write_json(folder / RESULT_FILE, record, indent=2, default=str)
    return folder


# -- reading ----------------------------------------------------------------------------------------------
def check_paired(tables: Mapping[ModelKey, MatchTable], dataset: str = "") -> None:
    """Models of one dataset must be evaluated on the same images with the same ground truth (paired bootstrap)."""
    items = list(tables.items())
    if len(items) < 2:
        return
    (key0, ref), where = items[0], f" in dataset {dataset}" if dataset else ""
    ref_gt = dict(zip(ref.image_ids, ref.gt_counts.tolist(), strict=True))
    for key, table in items[1:]:
        if table.class_names != ref.class_names:
            raise ValueError(f"{key}{where}: classes {table.class_names} differ from {key0}: {ref.class_names}")
        if set(table.image_ids) != set(ref.image_ids):
            extra = sorted(set(table.image_ids) - set(ref.image_ids))[:5]
            missing = sorted(set(ref.image_ids) - set(table.image_ids))[:5]
            raise ValueError(
                f"{key}{where}: evaluated on other images than {key0} (extra {extra}, missing {missing}); "
                "every model of a dataset must be evaluated on the same test images"
            )
        differ = [i for i, row in zip(table.image_ids, table.gt_counts.tolist(), strict=True) if ref_gt[i] != row]
        if differ:
            raise ValueError(f"{key}{where}: ground-truth counts differ from {key0} on images {differ[:5]}")


def _read_record(result: Path) -> dict[str, Any]:
    try:
        record = json.loads(result.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"{result}: not valid JSON ({err}); delete the run folder and rerun it") from None
    if not isinstance(record, dict) or "run_key" not in record:
        raise ValueError(f"{result}: not a run record of this store layout (no 'run_key')")
    return record


def index_store(root: str | Path) -> pd.DataFrame:
    """Every run of a store, one row each: the RunKey columns, ``path`` and the stored metrics."""
    root = Path(root)
    marker = root / STORE_FILE
    if not (root / RUNS_DIR).is_dir() or not marker.is_file():
        raise FileNotFoundError(
            f"{root} is not a results store: no {STORE_FILE} and {RUNS_DIR}/ folder (see docs/analysis.md)"
        )
    _check_marker(root, marker)
    rows = []
    for result in sorted((root / RUNS_DIR).glob(f"*/*/*/{RESULT_FILE}")):
        record = _read_record(result)
        try:
            key = RunKey.from_json(record["run_key"])
        except (ValueError, TypeError) as err:
            raise ValueError(f"{result}: invalid run identity ({err})") from None
        folder = result.parent
        if run_dir(root, key) != folder:
            raise ValueError(f"{result}: its run identity names the folder {key.folder}, not {folder}")
        if not (folder / MATCH_TABLE_FILE).is_file():
            raise FileNotFoundError(f"{folder}: {MATCH_TABLE_FILE} is missing; delete the folder and rerun the run")
        row: dict[str, Any] = {**{c: getattr(key, c) for c in KEY_COLUMNS}, "path": str(folder)}
        row["options"] = json.dumps(dict(key.options), sort_keys=True)
        metrics = record.get("metrics") or {}
        row.update({m: metrics.get(m) for m in STORE_METRICS})
        rows.append(row)
    columns = [*KEY_COLUMNS, "options", "path", *STORE_METRICS]
    frame = pd.DataFrame(rows, columns=columns)
    for metric in STORE_METRICS:
        frame[metric] = frame[metric].astype(float)
    frame["fold"] = frame["fold"].astype("Int64")
    return frame.sort_values(list(KEY_COLUMNS[:3]) + ["profile", "seed", "variant"], ignore_index=True)


#: RunKey options of the low-data and fine-tuning settings (benchmark.experiment.ExperimentConfig.lowdata_options)
LOWDATA_OPTIONS = ("fraction", "subset_seed", "finetune", "lora_rank", "lora_alpha", "partial_stages")


def is_lowdata(options_json: str) -> bool:
    """Whether a run (its ``options`` column, JSON) is a low-data or non-default fine-tuning run."""
    options = json.loads(options_json) if isinstance(options_json, str) and options_json else {}
    return any(k in LOWDATA_OPTIONS for k in options)


def _fold_label(value: Any) -> str:
    return "official" if value is None or pd.isna(value) else f"fold{int(value)}"


def _select(
    runs: pd.DataFrame, root: Path, profile: str | None, seed: int | None, variant: str | None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One run per (dataset, model); a clear error naming the choice when the store holds several."""
    if profile is not None:
        if profile not in set(runs["profile"]):
            raise ValueError(f"{root} holds no runs of profile {profile!r}; it holds {sorted(set(runs['profile']))}")
        runs = runs[runs["profile"] == profile]
    profiles = sorted(set(runs["profile"]))
    if len(profiles) > 1:
        raise ValueError(
            f"{root} holds runs of the profiles {', '.join(profiles)}, which are not comparable: choose one "
            "(benchmark analyze --profile P)"
        )
    if variant is not None:
        runs = runs[runs["variant"] == variant]
        if runs.empty:
            raise ValueError(f"{root} holds no runs of variant {variant!r}")
    # Reference rows (the classical baseline) are deterministic: one per dataset stands beside every training
    # seed, so they take no part in the seed choice and the seed spread (their smallest seed is kept).
    is_ref = runs["architecture"].isin(REFERENCE_ARCHITECTURES)
    references = runs[is_ref] if not is_ref.all() else runs.iloc[0:0]
    if not is_ref.all():
        runs = runs[~is_ref]
    references = references.sort_values("seed", kind="stable").drop_duplicates(
        ["dataset", "architecture", "pretraining"]
    )
    all_seeds = sorted(set(int(s) for s in runs["seed"]))
    seed_runs = runs
    if seed is None and len(all_seeds) > 1:
        # several training seeds: rank on the smallest seed every model has; the others give the noise floor
        model_seeds = runs.groupby(["dataset", "architecture", "pretraining"])["seed"].agg(lambda x: set(map(int, x)))
        common = sorted(set.intersection(*model_seeds.tolist()))
        if not common:
            raise ValueError(
                f"{root}: no training seed is shared by every model ({all_seeds}); choose one (--run-seed N)"
            )
        seed = common[0]
    if seed is not None:
        if seed not in set(runs["seed"]):
            raise ValueError(f"{root} holds no runs of seed {seed}; seeds there: {all_seeds}")
        runs = runs[runs["seed"] == seed]
    model = ["dataset", "architecture", "pretraining"]
    seeds = sorted(set(int(s) for s in runs["seed"]))  # of the models: a reference row's seed names nothing
    if not is_ref.all():  # a reference row stands beside models; it does not bring in a dataset of its own
        references = references[references["dataset"].isin(set(runs["dataset"]))]
    runs = pd.concat([runs, references], ignore_index=True) if not references.empty else runs
    dup = runs[runs.duplicated(model, keep=False)]
    if not dup.empty:
        first = dup.iloc[0]
        same = dup[(dup[model] == first[model]).all(axis=1)]
        differ = [c for c in ("seed", "fold", "variant") if same[c].astype(str).nunique() > 1]
        flag = {"seed": "--run-seed N", "fold": "--fold", "variant": "--variant V"}
        raise ValueError(
            f"{root} holds {len(same)} runs of {first['architecture']}__{first['pretraining']} on {first['dataset']} "
            f"that differ in {', '.join(differ)} ({', '.join(sorted(set(same['path'].map(lambda p: Path(p).name))))}): "
            f"choose one ({', '.join(flag[c] for c in differ)})"
        )
    selection = {
        "profile": profiles[0] if profiles else profile,
        "seeds": seeds,
        "all_seeds": all_seeds,
        "variants": sorted(set(runs["variant"])),
        "folds": sorted(set(_fold_label(f) for f in runs["fold"])),
    }
    keep = seed_runs["variant"].isin(set(runs["variant"])) & seed_runs["fold"].astype(str).isin(
        set(runs["fold"].astype(str))
    )
    selection["_seed_runs"] = seed_runs[keep].reset_index(drop=True)
    return runs.reset_index(drop=True), selection


def analysis_dir(root: str | Path, selection: Mapping[str, Any]) -> Path:
    """``STORE/analysis/<profile>_seed<seed>``: analyses of different selections never overwrite each other."""
    seeds = selection.get("seeds") or []
    seed_part = f"seed{seeds[0]}" if len(seeds) == 1 else "seeds" + "-".join(str(s) for s in seeds)
    name = f"{selection.get('profile')}_{seed_part}"
    variants = [v for v in selection.get("variants") or [] if v]
    if variants:
        name += "_" + "-".join(variants)
    if selection.get("fold"):
        name += f"_{selection['fold']}"
    return Path(root) / ANALYSIS_DIR / name


@dataclass
class ResultsStore:
    """A selection of a results store: one run per (dataset, model), with lazily loaded match tables.

    ``runs`` has the RunKey columns, ``path`` and one column per stored metric; ``all_runs`` is every run of
    the store; ``selection`` says which profile, seeds, folds and variants were chosen.
    """

    root: Path
    runs: pd.DataFrame
    all_runs: pd.DataFrame | None = None
    selection: dict[str, Any] = field(default_factory=dict)
    seed_runs: pd.DataFrame | None = None  # the selection's runs of every training seed (the noise floor)
    _tables: dict[tuple[str, str, str], MatchTable] = field(default_factory=dict, repr=False)

    @property
    def datasets(self) -> list[str]:
        return sorted(self.runs["dataset"].unique())

    @property
    def analysis_dir(self) -> Path:
        return analysis_dir(self.root, self.selection)

    def models(self, dataset: str | None = None) -> list[ModelKey]:
        """The ``(architecture, pretraining)`` keys, of one dataset or of the whole selection."""
        runs = self.runs if dataset is None else self.runs[self.runs["dataset"] == dataset]
        return sorted(set(zip(runs["architecture"], runs["pretraining"], strict=True)))

    def table(self, dataset: str, architecture: str, pretraining: str) -> MatchTable:
        key = (dataset, architecture, pretraining)
        if key not in self._tables:
            hit = self.runs[
                (self.runs["dataset"] == dataset)
                & (self.runs["architecture"] == architecture)
                & (self.runs["pretraining"] == pretraining)
            ]
            if hit.empty:
                valid = ", ".join(
                    f"{d}/{a}__{p}"
                    for d, a, p in self.runs[["dataset", "architecture", "pretraining"]].itertuples(index=False)
                )
                raise ValueError(f"no run {dataset}/{architecture}__{pretraining} in {self.root}. Runs: {valid}")
            self._tables[key] = load_match_table(Path(hit["path"].iloc[0]) / MATCH_TABLE_FILE)
        return self._tables[key]

    def tables(self, dataset: str) -> dict[ModelKey, MatchTable]:
        """All match tables of one dataset, keyed by model, checked to be paired."""
        tables = {m: self.table(dataset, *m) for m in self.models(dataset)}
        check_paired(tables, dataset)
        return tables

    def metrics(self) -> pd.DataFrame:
        """The metric values recorded in ``result.json`` as a long frame (dataset, model, metric, value)."""
        value_cols = [c for c in self.runs.columns if c in STORE_METRICS]
        long = self.runs.melt(
            id_vars=["dataset", "architecture", "pretraining"], value_vars=value_cols, var_name="metric"
        )
        return long.sort_values(["dataset", "metric", "architecture", "pretraining"], ignore_index=True)


def open_store(
    root: str | Path,
    datasets: Iterable[str] | None = None,
    profile: str | None = None,
    seed: int | None = None,
    variant: str | None = None,
    fold: int | str | None = None,
) -> ResultsStore:
    """Index a results store and select one run per (dataset, model).

    ``fold`` (``benchmark analyze --fold``): an int selects the runs of that cross-validation fold, ``"official"``
    those of the official split; the analysis folder then ends in ``_fold<K>`` / ``_official``.

    ``datasets`` restricts the index; ``profile``, ``seed`` and ``variant`` choose among runs of the same model
    (needed only when the store holds several; the error message says which). With several training seeds and
    no ``seed``, the analysis ranks the smallest seed every model has and ``seed_runs`` keeps all of them for the
    seed-to-seed spread (:mod:`analysis.seeds`).
    """
    root = Path(root)
    everything = index_store(root)
    runs = everything
    if datasets is not None:
        wanted = set(datasets)
        runs = runs[runs["dataset"].isin(wanted)]
    if runs.empty:
        which = "" if datasets is None else f" for datasets {sorted(set(datasets))}"
        raise FileNotFoundError(
            f"no runs in {root / RUNS_DIR}{which} (expected runs/<dataset>/<arch>__<pretraining>/<run>/result.json)"
        )
    if fold is not None:
        label = _fold_label(None if fold == "official" else int(fold))
        labels = runs["fold"].map(_fold_label)
        if label not in set(labels):
            raise ValueError(f"{root} holds no runs of {label}; folds there: {', '.join(sorted(set(labels)))}")
        runs = runs[labels == label]
    if variant is None:  # the rankings compare full-data, full fine-tuning runs; analysis.lowdata reads the others
        lowdata = runs["options"].map(is_lowdata)
        if lowdata.all():
            raise ValueError(
                f"{root} holds only low-data or non-default fine-tuning runs (training fraction < 1 or --finetune "
                "other than full): the rankings need full-data runs (benchmark run --fractions ...,1.0), or choose "
                "one variant (--variant V)"
            )
        runs = runs[~lowdata]
    selected, selection = _select(runs, root, profile, seed, variant)
    if fold is not None:
        selection["fold"] = label
    seed_runs = selection.pop("_seed_runs")
    return ResultsStore(root=root, runs=selected, all_runs=everything, selection=selection, seed_runs=seed_runs)
