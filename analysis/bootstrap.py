"""Image-level bootstrap of mAP@0.1 and FROC@0.1 for every model of every dataset, with paired replicates.

Per dataset, ``n_replicates`` resamples of its test images (with replacement, seeded) are drawn once as a
``[R, n_images]`` matrix of counts and shared by every model of that dataset, so the models are compared on
the same resampled test sets and their ranks are paired. Each replicate reweights the images of the stored
match tables (no re-matching) and recomputes both metrics with :mod:`analysis.batched_metrics`, which equals
the per-replicate :func:`~benchmark.metrics.coco.map_from_matches` / :func:`~benchmark.metrics.froc.froc_from_matches`
exactly. The generator of a dataset is seeded from ``(seed, dataset id)``, so a dataset's replicates do not
depend on which other datasets are analysed.

A replicate is the **resampled set** of images: the drawn images in image order, each image's copies adjacent
(so among tied scores: image, then copy, then rank in the image); its values equal scoring that set from
scratch (:class:`~benchmark.metrics.matching.SortedClass`). mAP uses ``recall_rule`` (default
``"nndetection"``, :mod:`benchmark.metrics.coco`) for the full-data value and every replicate alike.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis.batched_metrics import ReplicateWeights, batched_scores_many
from analysis.ranking import rank_desc
from analysis.store import ModelKey, ResultsStore, check_paired
from benchmark.metrics.coco import DEFAULT_RECALL_RULE, check_recall_rule, map_from_matches
from benchmark.metrics.froc import froc_from_matches
from benchmark.metrics.matching import MatchTable

__all__ = [
    "METRICS",
    "BootstrapResult",
    "bootstrap_counts",
    "bootstrap_dataset",
    "bootstrap_store",
    "bootstrap_tables",
    "dataset_generator",
    "full_metrics",
]

METRICS = ("map@0.1", "froc@0.1")
_BATCHED_NAME = {"map@0.1": "map", "froc@0.1": "froc"}
MODEL_COLUMNS = ["architecture", "pretraining"]


def dataset_generator(seed: int, dataset: str) -> np.random.Generator:
    """The generator of one dataset's replicates, seeded from ``(seed, crc32(dataset id))``."""
    return np.random.default_rng([int(seed), zlib.crc32(str(dataset).encode())])


def bootstrap_counts(n_images: int, n_replicates: int, rng: np.random.Generator) -> np.ndarray:
    """``[n_replicates, n_images]`` counts: how often each image is drawn in each resample of ``n_images`` draws."""
    if n_images < 1 or n_replicates < 1:
        raise ValueError(f"need at least one image and one replicate, got {n_images} images, {n_replicates}")
    draws = rng.integers(0, n_images, size=(n_replicates, n_images))
    flat = (draws + n_images * np.arange(n_replicates)[:, None]).reshape(-1)
    return np.bincount(flat, minlength=n_replicates * n_images).reshape(n_replicates, n_images)


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in _BATCHED_NAME]
    if unknown or not metrics:
        raise ValueError(f"Unknown bootstrap metric(s) {unknown}. Valid: {', '.join(METRICS)}")
    return tuple(metrics)


def full_metrics(
    table: MatchTable, metrics: Sequence[str] = METRICS, recall_rule: str = DEFAULT_RECALL_RULE
) -> dict[str, float]:
    """Full-data metric values of one table (the reference functions, no weights)."""
    out = {}
    for m in _check_metrics(metrics):
        if m == "map@0.1":
            out[m] = map_from_matches(table, recall_rule=recall_rule).map
        else:
            out[m] = froc_from_matches(table).score
    return out


@dataclass
class BootstrapResult:
    """Tidy outputs of a bootstrap: ``full`` (one row per dataset, model, metric) and ``replicates``.

    ``full``: dataset, architecture, pretraining, metric, value, rank. ``replicates``: the same plus
    ``replicate``. ``rank`` is 1 for the best (highest) value among the dataset's models, ties get the
    smallest rank of their block (see :mod:`analysis.ranking`). ``counts[dataset]`` is ``(image_ids, [R, n])``.
    ``recall_rule`` is mAP's recall rule (record it with the results).
    """

    full: pd.DataFrame
    replicates: pd.DataFrame
    n_replicates: int
    seed: int
    counts: dict[str, tuple[tuple[str, ...], np.ndarray]] = field(default_factory=dict, repr=False)
    recall_rule: str = DEFAULT_RECALL_RULE


def bootstrap_dataset(
    tables: Mapping[ModelKey, MatchTable],
    n_replicates: int = 1000,
    seed: int = 0,
    dataset: str = "",
    metrics: Sequence[str] = METRICS,
    counts: np.ndarray | None = None,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> tuple[pd.DataFrame, pd.DataFrame, tuple[tuple[str, ...], np.ndarray]]:
    """Bootstrap one dataset: ``(full, replicates, (image_ids, counts))`` frames for its models.

    ``counts`` (``[R, n_images]`` in the image order of the first table) overrides the seeded draw.
    """
    metrics = _check_metrics(metrics)
    check_recall_rule(recall_rule)
    if not tables:
        raise ValueError(f"no models to bootstrap for dataset {dataset!r}")
    check_paired(tables, dataset)
    models = sorted(tables)
    ref_ids = tables[models[0]].image_ids
    if counts is None:
        counts = bootstrap_counts(len(ref_ids), n_replicates, dataset_generator(seed, dataset))
    counts = np.asarray(counts)
    if counts.ndim != 2 or counts.shape[1] != len(ref_ids):
        raise ValueError(f"counts must have shape [replicates, {len(ref_ids)}], got {list(counts.shape)}")
    n_rep = counts.shape[0]
    weights = ReplicateWeights(counts, ref_ids)  # the same draws for every model (matched by image id)
    values = {m: np.empty((n_rep, len(models))) for m in metrics}
    full = {m: np.empty(len(models)) for m in metrics}
    names = tuple(_BATCHED_NAME[m] for m in metrics)
    all_scores = batched_scores_many([tables[k] for k in models], weights, names, recall_rule=recall_rule)
    for j, key in enumerate(models):
        table = tables[key]
        scores = all_scores[j]
        ref = full_metrics(table, metrics, recall_rule)
        for m, name in zip(metrics, names, strict=True):
            values[m][:, j] = scores[name]
            full[m][j] = ref[m]
    arch = [k[0] for k in models]
    pre = [k[1] for k in models]
    full_rows, rep_rows = [], []
    for m in metrics:
        full_rows.append(
            pd.DataFrame(
                {"dataset": dataset, "architecture": arch, "pretraining": pre, "metric": m,
                 "value": full[m], "rank": rank_desc(full[m])}
            )
        )
        ranks = rank_desc(values[m], axis=1)
        rep_rows.append(
            pd.DataFrame(
                {
                    "dataset": dataset,
                    "replicate": np.repeat(np.arange(n_rep), len(models)),
                    "architecture": np.tile(arch, n_rep),
                    "pretraining": np.tile(pre, n_rep),
                    "metric": m,
                    "value": values[m].reshape(-1),
                    "rank": ranks.reshape(-1),
                }
            )
        )
    return pd.concat(full_rows, ignore_index=True), pd.concat(rep_rows, ignore_index=True), (ref_ids, counts)


def bootstrap_tables(
    tables: Mapping[str, Mapping[ModelKey, MatchTable]],
    n_replicates: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> BootstrapResult:
    """Bootstrap every dataset of ``{dataset: {(architecture, pretraining): MatchTable}}``."""
    fulls, reps, counts = [], [], {}
    for dataset in sorted(tables):
        f, r, c = bootstrap_dataset(tables[dataset], n_replicates, seed, dataset, metrics, recall_rule=recall_rule)
        fulls.append(f)
        reps.append(r)
        counts[dataset] = c
    if not fulls:
        raise ValueError("no datasets to bootstrap")
    full = pd.concat(fulls, ignore_index=True)
    replicates = pd.concat(reps, ignore_index=True)
    return BootstrapResult(
        full=full, replicates=replicates, n_replicates=n_replicates, seed=seed, counts=counts, recall_rule=recall_rule
    )


def bootstrap_store(
    store: ResultsStore,
    n_replicates: int = 1000,
    seed: int = 0,
    metrics: Sequence[str] = METRICS,
    models: Sequence[ModelKey] | None = None,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> BootstrapResult:
    """Bootstrap every dataset of an opened results store (optionally only the given models)."""
    tables = {}
    for dataset in store.datasets:
        keys = store.models(dataset) if models is None else [m for m in store.models(dataset) if m in set(models)]
        if keys:
            tables[dataset] = {k: store.table(dataset, *k) for k in keys}
    return bootstrap_tables(tables, n_replicates, seed, metrics, recall_rule)
