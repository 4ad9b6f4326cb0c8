"""Score a validated submission and rank it on its boards with the study's paired bootstrap.

Scoring uses the ground truth of the *prepared dataset* on disk (``benchmark.metrics.load_ground_truth`` on
the board's split), exactly as ``benchmark evaluate`` does; nothing the submitter sent is used but the
detections. Intervals and ranks come from :mod:`analysis.bootstrap`: per board, the replicate counts are drawn
once from ``dataset_generator(seed, dataset id)`` and shared by every evaluated entry of the board, so with
the same ``--replicates`` and ``--seed`` an entry's interval and rank equal what ``benchmark analyze`` reports
for the same match tables in a results store. mAP@0.1 and FROC@0.1 use the batched replicate scores of
``analysis.bootstrap.bootstrap_dataset``; an official protocol re-scores its own match table with each
replicate's per-image weights (``Metric.score(table, weights)``).

Each evaluated entry keeps its match table next to its entry file, ``<board_id>/tables/<slug>.npz`` (written
by :func:`analysis.store.save_match_table`, read with ``allow_pickle=False``), so a later submission is ranked
against every evaluated entry of the board without the results store that produced it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from leaderboards.schema import BoardSpec, CaseResult, RankSummary
from leaderboards.store import board_dir

__all__ = [
    "DEFAULT_REPLICATES",
    "TABLES_DIR",
    "BoardScores",
    "bootstrap_board",
    "file_sha256",
    "load_entry_table",
    "per_case_results",
    "score_board",
    "table_path",
]

DEFAULT_REPLICATES = 1000  # as benchmark analyze
TABLES_DIR = "tables"
_BATCHED = ("map@0.1", "froc@0.1")


def table_path(root: str | Path, board_id: str, slug: str) -> Path:
    return board_dir(root, board_id) / TABLES_DIR / f"{slug}.npz"


def load_entry_table(root: str | Path, board_id: str, slug: str):  # noqa: ANN201 - MatchTable
    from analysis.store import load_match_table

    return load_match_table(table_path(root, board_id, slug))


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def score_board(spec: BoardSpec, dataset_root: Path, predictions: Mapping):  # noqa: ANN201 - (float, MatchTable)
    """The board's metric on its split of the prepared dataset: ``(value, match table)``."""
    from benchmark.converters import evaluation_extras
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import EvaluationInput, get_metric, load_ground_truth

    dataset = PreparedDataset(dataset_root)
    case_ids = dataset.case_ids(spec.split)
    extra = dict(evaluation_extras(dataset.root))
    if spec.metric == "cta_a":
        extra["test_set"] = "external" if spec.split == "external_test" else "internal"
    metric = get_metric(spec.metric)
    inputs = EvaluationInput(
        predictions={c: predictions[c] for c in case_ids},
        ground_truth=load_ground_truth(dataset.root, case_ids),
        class_names=tuple(dataset.meta.classes),
        dataset_id=dataset.meta.dataset_id,
        dataset_root=dataset.root,
        extra=extra,
    )
    table = metric.match(inputs)
    return float(metric.score(table).value), table


def per_case_results(table) -> list[CaseResult]:  # noqa: ANN001 - MatchTable at IoU 0.1
    """Per case: objects, scored detections (after the 100 per case and class cap) and true positives."""
    frame = table.per_image()
    grouped = frame.groupby("image_id", sort=False)[["n_gt", "tp", "fp", "ignored"]].sum()
    return [
        CaseResult(
            case_id=str(case_id),
            n_objects=int(row.n_gt),
            n_detections=int(row.tp + row.fp + row.ignored),
            tp_at_0_1=int(row.tp),
        )
        for case_id, row in zip(grouped.index, grouped.itertuples(index=False), strict=True)
    ]


@dataclass(frozen=True)
class BoardScores:
    """Bootstrap outcome of one entry on one board."""

    value: float
    ci_low: float | None
    ci_high: float | None
    rank: RankSummary | None


def _quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float] | None:
    finite = values[~np.isnan(values)]
    return None if finite.size == 0 else [float(v) for v in np.quantile(finite, qs)]


def bootstrap_board(
    spec: BoardSpec,
    tables: Mapping[str, object],
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
) -> dict[str, BoardScores]:
    """Full value, 95% percentile interval and rank summary of every entry (slug -> table) on one board.

    The counts are those of ``benchmark analyze`` for the board's dataset id and seed; ranks are taken among
    the given entries in each replicate (1 = best, ties share the smallest rank, as :mod:`analysis.ranking`).
    """
    from analysis.bootstrap import bootstrap_counts, bootstrap_dataset, dataset_generator
    from analysis.ranking import rank_desc
    from analysis.store import check_paired
    from benchmark.metrics import get_metric

    slugs = sorted(tables)
    keyed = {(s, ""): tables[s] for s in slugs}
    check_paired(keyed, spec.dataset)
    if spec.metric in _BATCHED:
        full_frame, reps, _ = bootstrap_dataset(
            keyed, n_replicates=n_replicates, seed=seed, dataset=spec.dataset, metrics=(spec.metric,)
        )
        full = dict(zip(full_frame["architecture"], full_frame["value"].astype(float), strict=True))
        values = {s: reps.loc[reps["architecture"] == s, "value"].to_numpy(float) for s in slugs}
        ranks = {s: reps.loc[reps["architecture"] == s, "rank"].to_numpy(float) for s in slugs}
    else:
        metric = get_metric(spec.metric)
        ref_ids = tables[slugs[0]].image_ids
        counts = bootstrap_counts(len(ref_ids), n_replicates, dataset_generator(seed, spec.dataset))
        column = {i: k for k, i in enumerate(ref_ids)}
        matrix = np.empty((n_replicates, len(slugs)))
        full = {}
        for j, s in enumerate(slugs):
            table = tables[s]
            order = np.asarray([column[i] for i in table.image_ids])
            full[s] = float(metric.score(table).value)
            for r in range(n_replicates):
                matrix[r, j] = metric.score(table, counts[r, order]).value
        rank_matrix = rank_desc(matrix, axis=1)
        values = {s: matrix[:, j] for j, s in enumerate(slugs)}
        ranks = {s: rank_matrix[:, j] for j, s in enumerate(slugs)}
    out = {}
    for s in slugs:
        ci = _quantiles(values[s], (0.025, 0.975))
        rq = _quantiles(ranks[s], (0.025, 0.5, 0.975))
        finite_ranks = ranks[s][~np.isnan(ranks[s])]
        rank = None
        if rq is not None:
            rank = RankSummary(
                mean=float(finite_ranks.mean()), median=rq[1], low=rq[0], high=rq[2],
                n_entries=len(slugs), n_replicates=int(n_replicates),
            )
        out[s] = BoardScores(
            value=full[s], ci_low=None if ci is None else ci[0], ci_high=None if ci is None else ci[1], rank=rank
        )
    return out
