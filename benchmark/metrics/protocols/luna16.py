"""LUNA16 nodule-detection protocol: centre-in-radius hits, FROC over all scans, CPM at 1/8..8 FP/scan.

Source: Setio et al., "Validation, comparison, and combination of algorithms for automatic detection of
pulmonary nodules in computed tomography images: the LUNA16 challenge", Medical Image Analysis 42 (2017),
https://luna16.grand-challenge.org/Evaluation/, and the challenge's evaluation package
``evaluationScript/noduleCADEvaluationLUNA16.py`` (checked against the copy in uci-cbcl/NoduleNet @ feffef3,
identical in logic to wentaozhu/DeepLung @ fe40fc7). Reproduced rules, verified by running that script:

* a candidate hits a finding when ``dx**2 + dy**2 + dz**2 < (diameter / 2)**2`` in world mm; findings with a
  negative diameter (the ``-1`` "irrelevant" findings of ``annotations_excluded.csv``) get 10 mm;
* a nodule hit by several candidates counts once with the highest probability; the other hits are neither
  TP nor FP; a candidate on an excluded finding is ignored; one candidate may hit several nodules;
* per scan at most ``max_candidates`` (100): if a scan has more, only candidates whose probability is
  *strictly greater* than the 101st highest are kept, so all candidates tied with the 101st are dropped (the
  scan may keep fewer than 100);
* FROC via ``sklearn.metrics.roc_curve`` over nodules (best probability) and false positives, FP/scan
  divided by all listed scans (scans without candidates included), curve starting at (0, 0);
* CPM: mean of ``np.interp(rates, fps, sensitivity)`` at 1/8, 1/4, 1/2, 1, 2, 4, 8. The script itself only
  interpolates the curve with ``np.interp`` (plots, bootstrap); the CPM is the challenge's definition on it;
* bootstrap: scans resampled with replacement, each curve interpolated on ``linspace(0.125, 8, 10000)``,
  mean and bounds ``v[floor(Pz n)]``, ``v[floor((1-Pz) n)]``, ``Pz = (1 - confidence) / 2``. The script draws
  with ``np.random.randint``; here draws come from the given ``np.random.Generator`` (``integers(n, size=n)``).

Deliberate deviations (where the script fails): no candidate at all (the script crashes in scikit-learn)
and no detected nodule (the script's sensitivities are NaN) give sensitivity 0; an evaluation without any
included nodule raises ``ValueError``. Probabilities are compared as parsed floats; read CSVs with
:func:`read_luna16_csv`, which parses exactly as Python's ``float`` does (as the script reads them).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmark.core.conventions import Geometry, box_centers, box_sizes, voxel_to_world
from benchmark.metrics.matching import MatchTable
from benchmark.metrics.protocols._froc import (
    BootstrapCI,
    ProtocolResult,
    check_rates,
    percentile_bounds,
    table_points,
)
from benchmark.metrics.registry import EvaluationInput, MetricResult

__all__ = [
    "LUNA16_RATES",
    "LUNA16Protocol",
    "candidates_from_boxes",
    "luna16_froc",
    "luna16_froc_files",
    "luna16_pooled_froc",
    "read_luna16_csv",
    "read_seriesuids",
]

LUNA16_RATES = (0.125, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
IRRELEVANT_DIAMETER_MM = 10.0  # the script's diameter for findings annotated with a negative diameter
BOOTSTRAP_GRID = (0.125, 8.0, 10000)  # the script's FROC_minX, FROC_maxX and number of bootstrap points
CANDIDATE_COLUMNS = ("seriesuid", "coordX", "coordY", "coordZ", "probability")
ANNOTATION_COLUMNS = ("seriesuid", "coordX", "coordY", "coordZ", "diameter_mm")
CapRule = Callable[[np.ndarray, np.ndarray, int, int], np.ndarray]


def read_luna16_csv(path: str | Path) -> pd.DataFrame:
    """Read a LUNA16-style CSV (results or annotations) with exact float parsing and string series ids."""
    # pandas >= 3 parses floats exactly by default (and deprecates the option); older pandas needs round_trip
    exact = {} if int(pd.__version__.split(".")[0]) >= 3 else {"float_precision": "round_trip"}
    return pd.read_csv(path, dtype={"seriesuid": str, "pid": str}, **exact)


def read_seriesuids(path: str | Path) -> list[str]:
    """First column of each row of a header-less id list (``seriesuids.csv``), as the script reads it."""
    with open(path, newline="") as f:
        return [row[0] for row in csv.reader(f) if row]


def _columns(frame: pd.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} lacks columns {missing}; required: {list(columns)}")


def _finite(values: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{what} must be finite numbers")
    return values


def scan_index(ids: Sequence[object], scan_ids: Sequence[str]) -> np.ndarray:
    """Position of each id in ``scan_ids`` (-1 when absent); ``scan_ids`` must be unique."""
    index = pd.Index([str(s) for s in scan_ids])
    if not index.is_unique:
        raise ValueError("the list of scan ids contains duplicates")
    return index.get_indexer([str(i) for i in ids]).astype(np.int64)


def cap_strict(scan: np.ndarray, prob: np.ndarray, n_scans: int, cap: int) -> np.ndarray:
    """LUNA16 cap: in scans with more than ``cap`` candidates keep those above the (cap+1)-th probability."""
    counts = np.bincount(scan, minlength=n_scans)
    over = counts > cap
    thr = np.full(n_scans, -np.inf)
    if over.any():
        order = np.lexsort((-prob, scan))
        starts = np.cumsum(counts) - counts
        thr[over] = prob[order][starts[over] + cap]
    return prob > thr[scan]


def cap_sanet(scan: np.ndarray, prob: np.ndarray, n_scans: int, cap: int) -> np.ndarray:
    """SANet cap: candidates above the (cap+1)-th probability minus 1e-8, the first ``cap`` in input order."""
    counts = np.bincount(scan, minlength=n_scans)
    over = counts > cap
    if not over.any():
        return np.ones(prob.shape[0], dtype=bool)
    thr = np.full(n_scans, -np.inf)
    order = np.lexsort((-prob, scan))
    starts = np.cumsum(counts) - counts
    thr[over] = prob[order][starts[over] + cap] - 1e-8
    eligible = prob > thr[scan]
    by_scan = np.argsort(scan, kind="stable")  # input order within each scan
    running = np.cumsum(eligible[by_scan])
    before = np.r_[0, running][starts][scan[by_scan]]
    keep = np.zeros(prob.shape[0], dtype=bool)
    keep[by_scan] = eligible[by_scan] & (running - before <= cap)
    return keep


def _hit_pairs(
    c_scan: np.ndarray, c_xyz: np.ndarray, f_scan: np.ndarray, f_xyz: np.ndarray, radius: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (finding, candidate) of one scan with squared distance < squared radius, as the script tests.

    Candidates are pre-filtered on a sorted ``scan * span + x`` key (a window of +-radius), then tested
    exactly on the raw coordinates, so the result does not depend on the key's rounding.
    """
    if c_scan.size == 0 or f_scan.size == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    xs = np.concatenate([c_xyz[:, 0], f_xyz[:, 0]])
    x0 = xs.min()
    span = float(xs.max() - x0 + 2.0 * radius.max() + 16.0)
    margin = 1e-3
    c_key = c_scan * span + (c_xyz[:, 0] - x0)
    order = np.argsort(c_key, kind="stable")
    keys = c_key[order]
    f_key = f_scan * span + (f_xyz[:, 0] - x0)
    lo = np.searchsorted(keys, f_key - radius - margin, side="left")
    hi = np.searchsorted(keys, f_key + radius + margin, side="right")
    n = hi - lo
    f_idx = np.repeat(np.arange(f_scan.size), n)
    offsets = np.arange(f_idx.size) - np.repeat(np.cumsum(n) - n, n)
    c_idx = order[np.repeat(lo, n) + offsets]
    same = c_scan[c_idx] == f_scan[f_idx]
    f_idx, c_idx = f_idx[same], c_idx[same]
    d = f_xyz[f_idx] - c_xyz[c_idx]
    dist2 = d[:, 0] ** 2 + d[:, 1] ** 2 + d[:, 2] ** 2
    hit = dist2 < radius[f_idx] ** 2
    return f_idx[hit], c_idx[hit]


def centre_hit_table(
    image_ids: Sequence[str],
    c_scan: np.ndarray,
    c_xyz: np.ndarray,
    c_prob: np.ndarray,
    f_scan: np.ndarray,
    f_xyz: np.ndarray,
    f_diameter: np.ndarray,
    f_included: np.ndarray,
    keep: np.ndarray,
    class_name: str = "nodule",
) -> MatchTable:
    """The script's FROC list as a :class:`MatchTable` (one class; candidates already capped by ``keep``).

    Rows: one TP per detected included nodule (its best hit; ``det_index`` = that candidate), one FP per
    candidate that hits no finding, and the other hits (double hits, hits on irrelevant findings) as
    ignored rows. Scan indices refer to ``image_ids``; index -1 (a scan not evaluated) drops the row.
    """
    n_scans = len(image_ids)
    cand = np.flatnonzero((c_scan >= 0) & keep)
    found_rows = np.flatnonzero(f_scan >= 0)
    c_scan_k, c_xyz_k, c_prob_k = c_scan[cand], c_xyz[cand], c_prob[cand]
    f_scan_k, f_xyz_k, f_incl_k = f_scan[found_rows], f_xyz[found_rows], f_included[found_rows]
    diameter = np.where(f_diameter[found_rows] < 0.0, IRRELEVANT_DIAMETER_MM, f_diameter[found_rows])
    f_idx, c_idx = _hit_pairs(c_scan_k, c_xyz_k, f_scan_k, f_xyz_k, diameter / 2.0)

    on_nodule = f_incl_k[f_idx]
    nf, nc = f_idx[on_nodule], c_idx[on_nodule]
    # best hit per nodule: highest probability, first candidate (input order) on ties
    order = np.lexsort((nc, -c_prob_k[nc], nf))
    first = np.r_[True, nf[order][1:] != nf[order][:-1]] if order.size else np.zeros(0, dtype=bool)
    best_f, best_c = nf[order][first], nc[order][first]
    hit_any = np.zeros(cand.size, dtype=bool)
    hit_any[c_idx] = True
    used_as_best = np.zeros(cand.size, dtype=bool)
    used_as_best[best_c] = True
    fp = np.flatnonzero(~hit_any)
    ignored = np.flatnonzero(hit_any & ~used_as_best)

    n_nodules = np.bincount(f_scan_k[f_incl_k], minlength=n_scans)
    n_hits = np.bincount(nf, minlength=f_scan_k.size)
    on_excluded = np.zeros(cand.size, dtype=bool)
    on_excluded[c_idx[~on_nodule]] = True
    hit_nodule = np.zeros(cand.size, dtype=bool)
    hit_nodule[nc] = True
    return MatchTable(
        image_ids=tuple(str(i) for i in image_ids),
        class_names=(class_name,),
        image_index=np.r_[c_scan_k[best_c], c_scan_k[fp], c_scan_k[ignored]],
        class_index=np.zeros(best_c.size + fp.size + ignored.size, dtype=np.int64),
        score=np.r_[c_prob_k[best_c], c_prob_k[fp], c_prob_k[ignored]],
        tp=np.r_[np.ones(best_c.size, bool), np.zeros(fp.size + ignored.size, bool)],
        ignored=np.r_[np.zeros(best_c.size + fp.size, bool), np.ones(ignored.size, bool)],
        gt_counts=n_nodules.reshape(-1, 1),
        det_index=np.r_[cand[best_c], cand[fp], cand[ignored]],
        gt_index=np.r_[found_rows[best_f], np.full(fp.size + ignored.size, -1)],
        meta={
            "n_candidates": int(cand.size),
            "ignored_on_excluded": int((on_excluded & ~hit_nodule).sum()),
            "double_hits_ignored": int(np.maximum(n_hits[f_incl_k] - 1, 0).sum()),
        },
    )


def froc_result(
    protocol: str,
    table: MatchTable,
    rates: tuple[float, ...],
    rule: str = "interp",
    weights: np.ndarray | None = None,
    finding: str = "included nodule",
) -> ProtocolResult:
    """Score a hit table: ``rule="interp"`` (LUNA16, nnDetection: ``np.interp``) or ``"next"`` (SANet)."""
    fps, sens, thresholds, n_lesions, _ = table_points(table, weights)
    if n_lesions == 0:
        raise ValueError(f"no {finding} in the evaluated scans: sensitivity is undefined")
    if rule == "interp":
        at = np.interp(rates, fps, sens)
    elif rule == "next":
        at = np.array([sensitivity_at_next(fps, sens, r) for r in rates])
    else:
        raise ValueError(f"unknown sensitivity rule {rule!r}; valid: 'interp', 'next'")
    return ProtocolResult(
        protocol=protocol,
        score=float(np.mean(at)),
        rates=rates,
        sensitivities=tuple(float(v) for v in at),
        fps=fps,
        sensitivity=sens,
        thresholds=thresholds,
        n_scans=table.n_images,
        n_lesions=int(table.gt_counts.sum()),
        n_detected=int(table.tp.sum()),
        n_false_positives=int(table.fp.sum()),
        details=dict(table.meta),
    )


def sensitivity_at_next(fps: np.ndarray, sens: np.ndarray, rate: float) -> float:
    """SANet's ``find_nearest``: sensitivity of the last curve point with the smallest ``fps - rate >= 0``."""
    diff = fps - rate
    ahead = diff[diff >= 0]
    if ahead.size == 0:  # the script raises here; the curve has ended, keep its final sensitivity
        return float(sens[-1])
    return float(sens[np.flatnonzero(diff == ahead.min())[-1]])


def bootstrap_ci(
    table: MatchTable,
    rates: tuple[float, ...],
    n_bootstraps: int,
    confidence: float,
    rng: np.random.Generator,
) -> BootstrapCI:
    """The script's ``computeFROC_bootstrap``: scans drawn with replacement (``rng.integers(n, size=n)`` per
    sample), each resampled curve on ``linspace(0.125, 8, 10000)`` and at ``rates``; a resample without a
    nodule gives NaN, as in the script."""
    if n_bootstraps < 1:
        raise ValueError(f"n_bootstraps must be >= 1, got {n_bootstraps}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence}")
    lo, hi, num = BOOTSTRAP_GRID
    grid = np.linspace(lo, hi, num=num)
    n = table.n_images
    curves = np.zeros((n_bootstraps, grid.size), dtype=np.float32)
    at_rates = np.zeros((n_bootstraps, len(rates)))
    for b in range(n_bootstraps):
        counts = np.bincount(rng.integers(n, size=n), minlength=n).astype(np.float64)
        fps, sens, _, n_lesions, _ = table_points(table, counts)
        if n_lesions == 0:
            curves[b], at_rates[b] = np.nan, np.nan
            continue
        curves[b] = np.interp(grid, fps, sens)
        at_rates[b] = np.interp(rates, fps, sens)
    scores = at_rates.mean(axis=1)
    curves.sort(axis=0)
    at_rates.sort(axis=0)
    scores.sort()
    lower, upper = percentile_bounds(curves, confidence)
    r_lower, r_upper = percentile_bounds(at_rates, confidence)
    s_lower, s_upper = percentile_bounds(scores, confidence)
    return BootstrapCI(
        n_bootstraps=n_bootstraps,
        confidence=confidence,
        fps_grid=grid,
        mean=curves.mean(axis=0).astype(np.float64),
        lower=lower.astype(np.float64),
        upper=upper.astype(np.float64),
        rate_mean=tuple(float(v) for v in at_rates.mean(axis=0)),
        rate_lower=tuple(float(v) for v in r_lower),
        rate_upper=tuple(float(v) for v in r_upper),
        score_mean=float(scores.mean()),
        score_lower=float(s_lower),
        score_upper=float(s_upper),
    )


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """A numpy Generator from a Generator or an int seed; ``None`` is refused so results stay reproducible."""
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator or an int seed for bootstrapping, got {rng!r}")


def _check_cap(max_candidates: int | None) -> int | None:
    if max_candidates is None:
        return None
    if int(max_candidates) != max_candidates or max_candidates < 1:
        raise ValueError(f"max_candidates must be a positive int or None (no cap), got {max_candidates!r}")
    return int(max_candidates)


def luna16_froc(
    candidates: pd.DataFrame,
    annotations: pd.DataFrame,
    seriesuids: Sequence[str],
    annotations_excluded: pd.DataFrame | None = None,
    *,
    max_candidates: int | None = 100,
    rates: Sequence[float] = LUNA16_RATES,
    n_bootstraps: int = 0,
    confidence: float = 0.95,
    rng: np.random.Generator | int | None = None,
) -> ProtocolResult:
    """Evaluate LUNA16 candidates (``seriesuid, coordX, coordY, coordZ, probability``, world mm) on the scans
    ``seriesuids`` against ``annotations`` and the irrelevant findings ``annotations_excluded``
    (``seriesuid, coordX, coordY, coordZ, diameter_mm``); ``score`` is the CPM.

    Rows of scans not in ``seriesuids`` are ignored, as in the script. With ``n_bootstraps > 0`` the result
    carries a :class:`BootstrapCI` drawn from ``rng`` (a numpy Generator or an int seed).
    """
    _columns(candidates, CANDIDATE_COLUMNS, "candidates")
    _columns(annotations, ANNOTATION_COLUMNS, "annotations")
    if annotations_excluded is None:
        annotations_excluded = pd.DataFrame(columns=list(ANNOTATION_COLUMNS))
    _columns(annotations_excluded, ANNOTATION_COLUMNS, "annotations_excluded")
    cap = _check_cap(max_candidates)
    rates_t = check_rates(rates)
    uids = list(seriesuids)
    n_scans = len(uids)
    if n_scans == 0:
        raise ValueError("seriesuids is empty")

    c_scan = scan_index(candidates["seriesuid"].tolist(), uids)
    c_xyz = _finite(candidates[["coordX", "coordY", "coordZ"]].to_numpy(np.float64), "candidate coordinates")
    c_prob = _finite(candidates["probability"].to_numpy(np.float64), "candidate probabilities")
    frames = (annotations, annotations_excluded)
    f_scan = np.concatenate([scan_index(f["seriesuid"].tolist(), uids) for f in frames])
    f_xyz = _finite(
        np.concatenate([f[["coordX", "coordY", "coordZ"]].to_numpy(np.float64) for f in frames]).reshape(-1, 3),
        "annotation coordinates",
    )
    f_diam = _finite(np.concatenate([f["diameter_mm"].to_numpy(np.float64) for f in frames]), "diameters")
    f_included = np.r_[np.ones(len(annotations), dtype=bool), np.zeros(len(annotations_excluded), dtype=bool)]

    keep = capped(c_scan, c_prob, n_scans, cap, cap_strict)
    table = centre_hit_table(uids, c_scan, c_xyz, c_prob, f_scan, f_xyz, f_diam, f_included, keep)
    result = froc_result("luna16", table, rates_t)
    if n_bootstraps:
        ci = bootstrap_ci(table, rates_t, n_bootstraps, confidence, as_generator(rng))
        result = replace(result, bootstrap=ci)
    return result


def luna16_pooled_froc(
    fold_candidates: Sequence[pd.DataFrame],
    fold_seriesuids: Sequence[Sequence[str]],
    annotations: pd.DataFrame,
    annotations_excluded: pd.DataFrame | None = None,
    **kwargs: Any,
) -> ProtocolResult:
    """The 10-fold aggregate CPM of the LUNA16 tables: every fold's test candidates pooled, one FROC.

    Setio et al. (2017) score the 888 scans once, each by the model of the fold that tested on it, so the
    FP/scan rate divides by all scans of all folds. Fold ``k`` gives the candidates of its test scans
    ``fold_seriesuids[k]``; the folds' scans must be disjoint (each scan tested once), and candidates of a fold
    on scans outside its own test list are refused (they would score one scan with two models).
    """
    if len(fold_candidates) != len(fold_seriesuids) or not fold_candidates:
        raise ValueError("give one candidate table per fold's list of test scans (and at least one fold)")
    seen: dict[str, int] = {}
    for k, uids in enumerate(fold_seriesuids):
        for uid in map(str, uids):
            if uid in seen:
                raise ValueError(f"scan {uid} is a test scan of folds {seen[uid]} and {k}; folds must be disjoint")
            seen[uid] = k
    for k, frame in enumerate(fold_candidates):
        _columns(frame, CANDIDATE_COLUMNS, f"candidates of fold {k}")
        own = set(map(str, fold_seriesuids[k]))
        stray = sorted(set(frame["seriesuid"].astype(str)) - own)
        if stray:
            raise ValueError(f"candidates of fold {k} on scans outside its test list: {stray[:3]}")
    pooled = pd.concat([f[list(CANDIDATE_COLUMNS)] for f in fold_candidates], ignore_index=True)
    return luna16_froc(pooled, annotations, list(seen), annotations_excluded, **kwargs)


def capped(c_scan: np.ndarray, c_prob: np.ndarray, n_scans: int, cap: int | None, rule: CapRule) -> np.ndarray:
    """Mask of the candidates kept by the per-scan cap ``rule`` (:func:`cap_strict` or :func:`cap_sanet`)."""
    inside = c_scan >= 0
    keep = np.zeros(c_scan.size, dtype=bool)
    keep[inside] = True if cap is None else rule(c_scan[inside], c_prob[inside], n_scans, cap)
    return keep


def luna16_froc_files(
    results_csv: str | Path,
    annotations_csv: str | Path,
    annotations_excluded_csv: str | Path,
    seriesuids_csv: str | Path,
    **kwargs: Any,
) -> ProtocolResult:
    """:func:`luna16_froc` on the official files (results, annotations, excluded findings, series ids)."""
    return luna16_froc(
        read_luna16_csv(results_csv),
        read_luna16_csv(annotations_csv),
        read_seriesuids(seriesuids_csv),
        read_luna16_csv(annotations_excluded_csv),
        **kwargs,
    )


def candidates_from_boxes(seriesuid: str, boxes: np.ndarray, scores: np.ndarray, geometry: Geometry) -> pd.DataFrame:
    """LUNA16 candidate rows (world-mm box centres) from detbench voxel-frame boxes of one scan."""
    world = voxel_to_world(box_centers(boxes), geometry)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if s.shape[0] != world.shape[0]:
        raise ValueError(f"{world.shape[0]} boxes but {s.shape[0]} scores")
    return pd.DataFrame(
        {
            "seriesuid": [seriesuid] * s.shape[0],
            "coordX": world[:, 0],
            "coordY": world[:, 1],
            "coordZ": world[:, 2],
            "probability": s,
        }
    )


def stack_columns(parts: list[tuple], empty: tuple) -> list[np.ndarray]:
    """Concatenate per-case tuples of arrays column-wise; ``empty`` gives each column's dtype or 2-D shape."""
    if parts:
        return [np.concatenate([np.asarray(p[k]) for p in parts]) for k in range(len(empty))]
    return [np.zeros(e) if isinstance(e, tuple) else np.zeros(0, e) for e in empty]


def _geometry(inputs: EvaluationInput, case_id: str) -> Geometry:
    if inputs.geometries is not None and case_id in inputs.geometries:
        return inputs.geometries[case_id]
    if inputs.dataset_root is not None:
        from benchmark.data.format import PreparedDataset

        return PreparedDataset(inputs.dataset_root).load_geometry(case_id)
    raise ValueError(f"case {case_id!r}: world coordinates need centers_world, inputs.geometries or dataset_root")


def candidate_centres(inputs: EvaluationInput, case_id: str, pred) -> np.ndarray:  # noqa: ANN001 - CasePredictions
    """World (x, y, z) mm centres of one case's predicted boxes: the file's own ``centers_world`` when it has
    them, else the box centres mapped through the case geometry. Shared by the protocol and its tables."""
    centres = pred.centers_world
    if centres is None:
        centres = voxel_to_world(box_centers(pred.boxes), _geometry(inputs, case_id))
    return np.asarray(centres, dtype=np.float64).reshape(-1, 3)


def _frame(value: pd.DataFrame | str | Path) -> pd.DataFrame:
    return value if isinstance(value, pd.DataFrame) else read_luna16_csv(value)


@dataclass(frozen=True)
class LUNA16Protocol:
    """``luna16`` in :data:`~benchmark.metrics.registry.METRICS`: the CPM on an :class:`EvaluationInput`.

    Candidates are the predictions' ``centers_world`` (else box centres mapped with the case geometry).
    Findings come from ``inputs.extra["luna16_annotations"]`` and ``["luna16_annotations_excluded"]``
    (DataFrames or CSV paths, ``seriesuid`` = case id) when given -- the official protocol -- otherwise from
    the ground-truth boxes: centre in world mm, diameter = mean box extent in mm, ignored objects as
    irrelevant findings (``details["annotation_source"]`` says which).
    """

    max_candidates: int | None = 100
    rates: tuple[float, ...] = LUNA16_RATES
    name: str = "luna16"
    description: str = "LUNA16 CPM: centre-in-radius hits, <=100 candidates/scan, sensitivity at 1/8..8 FP/scan"

    @property
    def match_key(self) -> Hashable:
        return ("luna16", self.max_candidates)

    def match(self, inputs: EvaluationInput) -> MatchTable:
        ids = [str(c) for c in inputs.ground_truth]
        c_parts = []
        for i, case_id in enumerate(ids):
            pred = inputs.predictions.get(case_id)
            if pred is None or len(pred) == 0:
                continue
            c_parts.append((np.full(len(pred), i), candidate_centres(inputs, case_id, pred), pred.scores))
        scan, xyz, prob = stack_columns(c_parts, (np.int64, (0, 3), np.float64))

        if "luna16_annotations" in inputs.extra:
            frames = [_frame(inputs.extra["luna16_annotations"])]
            if inputs.extra.get("luna16_annotations_excluded") is not None:
                frames.append(_frame(inputs.extra["luna16_annotations_excluded"]))
            for f in frames:
                _columns(f, ANNOTATION_COLUMNS, "annotations")
            f_scan = np.concatenate([scan_index(f["seriesuid"].tolist(), ids) for f in frames])
            f_xyz = np.concatenate([f[["coordX", "coordY", "coordZ"]].to_numpy(np.float64) for f in frames])
            f_diam = np.concatenate([f["diameter_mm"].to_numpy(np.float64) for f in frames])
            f_incl = np.r_[np.ones(len(frames[0]), bool), np.zeros(sum(len(f) for f in frames[1:]), bool)]
            source = "luna16_annotations"
        else:
            parts = []
            for i, case_id in enumerate(ids):
                gt = inputs.ground_truth[case_id]
                if len(gt):
                    geometry = _geometry(inputs, case_id)
                    diameter = (box_sizes(gt.boxes) * np.asarray(geometry.spacing)).mean(axis=1)
                    centres = voxel_to_world(box_centers(gt.boxes), geometry)
                    parts.append((np.full(len(gt), i), centres, diameter, ~np.asarray(gt.ignore, bool)))
            f_scan, f_xyz, f_diam, f_incl = stack_columns(parts, (np.int64, (0, 3), np.float64, bool))
            source = "ground_truth_boxes"
        keep = capped(scan, prob, len(ids), _check_cap(self.max_candidates), cap_strict)
        table = centre_hit_table(ids, scan, xyz, prob, f_scan, f_xyz, f_diam, f_incl, keep)
        table.meta["annotation_source"] = source
        return table

    def score(self, table: MatchTable, weights: np.ndarray | None = None) -> MetricResult:
        result = froc_result(self.name, table, check_rates(self.rates), weights=table.check_weights(weights))
        return MetricResult(self.name, result.score, result.as_dict())
