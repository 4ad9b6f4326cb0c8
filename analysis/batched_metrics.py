"""mAP and FROC of one :class:`MatchTable` for many bootstrap replicates at once, equal to the per-replicate functions.

:func:`batched_map` and :func:`batched_froc` return, for a ``[R, n_images]`` matrix of integer bootstrap
counts, exactly (bit for bit) what :func:`benchmark.metrics.coco.map_from_matches` and
:func:`benchmark.metrics.froc.froc_from_matches` return replicate by replicate, without a Python loop over
replicates and without touching every detection once per replicate. Why this is possible:

* Each class's detections are cut into **segments** at every change between true and false positives (ignored
  detections change nothing) and at the first and last row of every tie group that mixes both. Weighted TP and
  FP counts at segment ends are ``counts @ weights`` with a sparse ``[segments, images]`` count matrix, exact in
  integer arithmetic, then one cumulative sum per replicate over segments (not detections).
* AP: inside a run of true positives precision only grows, so the precision envelope is constant on the run
  and the first detection reaching a recall threshold lies in the first run whose end reaches it. The
  101-point sum is taken in the same order as the reference, so floating-point rounding is identical.
* FROC: a false-positive-only step of the operating curve leaves the sensitivity unchanged, so the
  sensitivity at a rate is the TP count before the first false-positive segment that crosses the rate,
  interpolated (as the reference does) only when the crossing falls in a tie group mixing TPs and FPs.
* Nothing after a class's last true positive (or mixed tie group) changes either metric, so it is dropped.
* Ties: a replicate stands for its resampled set of images (image order, copies adjacent), in which an image's
  detections inside a run of tied scores are repeated copy by copy (see
  :class:`~benchmark.metrics.matching.SortedClass`). Where such a block mixes TPs and FPs the order matters, so
  the block is laid out once per possible copy (up to the image's largest count over the replicates), copy ``c``
  weighted 1 in the replicates that draw the image more than ``c`` times and 0 otherwise: extra 0/1 weight rows,
  built only when a table has such blocks (never with continuous scores).
* The recall rule (``"nndetection"``, the default, or ``"exact"``; :mod:`benchmark.metrics.coco`) enters only
  through the integer TP count each recall threshold needs, so both rules run at the same speed.

Weights must be integer-valued (bootstrap counts); :mod:`analysis.bootstrap` draws them. Many tables that share
one set of replicates (the models of one dataset) share one :class:`ReplicateWeights`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from benchmark.metrics.coco import (
    DEFAULT_RECALL_RULE,
    N_RECALL_THRESHOLDS,
    check_recall_rule,
    recall_thresholds_for,
    recall_values,
)
from benchmark.metrics.froc import FROC_RATES, INTERPOLATIONS
from benchmark.metrics.matching import MatchTable, SortedClass

__all__ = ["ReplicateWeights", "batched_froc", "batched_map", "batched_scores", "batched_scores_many"]

_MAX_CHUNK_ELEMENTS = 2**23  # replicates x segments per chunk (bounds memory to a few hundred MB)
_SEGMENT_ROWS = 2048  # at most this many counted rows per segment: weights up to 15 keep sums in int16
_LOOP_SEARCH_WIDTH = 256  # a single table this wide searches row by row; narrower stacks count instead
_STACK_WIDTH = 6000  # tables of a dataset are stacked up to this many segments (columns) per sparse product


# -- replicate weights, prepared once for all tables of a dataset ------------------------------------------------
@dataclass
class _Aligned:
    """Weights in one table's image order, with what every class of the table needs."""

    w_t: np.ndarray  # [n_images, R], int16 or int32, C-contiguous (the sparse product's right operand)
    num_gt: np.ndarray  # [R, n_classes] float64
    copies: np.ndarray  # [n_images] int64: the largest count of each image over the replicates
    _extended: dict[bytes, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def extended(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(w_t_ext, offset)``: ``w_t`` followed by one 0/1 row per copy ``c`` of each of ``images`` (sorted,
        each drawn at least twice in some replicate): 1 where the replicate draws the image more than ``c``
        times. ``offset[i]`` is the row of image ``i``'s copy 0 (-1 for other images)."""
        key = images.tobytes()
        if key not in self._extended:
            n = len(self.copies)
            n_copy = self.copies[images]
            offset = np.full(n, -1, np.int64)
            offset[images] = n + np.cumsum(n_copy) - n_copy
            image = np.repeat(images, n_copy)
            copy = np.arange(len(image)) - np.repeat(np.cumsum(n_copy) - n_copy, n_copy)
            rows = (self.w_t[image] > copy[:, None].astype(self.w_t.dtype)).astype(self.w_t.dtype)
            self._extended[key] = (np.ascontiguousarray(np.concatenate([self.w_t, rows])), offset)
        return self._extended[key]


class ReplicateWeights:
    """Integer bootstrap counts ``[R, n_images]`` of named images, prepared once and shared by many tables.

    Tables may list the images in any order (matched by id); each distinct order and ground truth is prepared
    once (transposed narrow-integer weights and weighted object counts).
    """

    def __init__(self, counts: Any, image_ids: Sequence[str]) -> None:
        w = np.asarray(counts)
        w = w[None, :] if w.ndim == 1 else w
        ids = tuple(str(i) for i in image_ids)
        if w.ndim != 2 or w.shape[1] != len(ids):
            raise ValueError(f"weights must have shape [replicates, {len(ids)}], got {list(np.shape(counts))}")
        if not np.issubdtype(w.dtype, np.integer):
            wf = w.astype(np.float64)
            if not np.all(np.isfinite(wf)) or np.any(wf != np.round(wf)):
                raise ValueError("batched metrics need non-negative integer weights (bootstrap counts)")
        if w.size and w.min() < 0:
            raise ValueError("batched metrics need non-negative integer weights (bootstrap counts)")
        self.counts = w.astype(np.int64, copy=False)
        self.image_ids = ids
        self.max_weight = int(self.counts.max(initial=0))
        self.num_images = self.counts.sum(axis=1).astype(np.float64)
        self._position = {cid: i for i, cid in enumerate(ids)}
        self._aligned: dict[tuple, _Aligned] = {}

    @property
    def n_replicates(self) -> int:
        return self.counts.shape[0]

    def aligned(self, table: MatchTable) -> _Aligned:
        key = (table.image_ids, table.gt_counts.tobytes())
        if key not in self._aligned:
            if table.image_ids == self.image_ids:
                w = self.counts
            else:
                try:
                    order = np.fromiter((self._position[c] for c in table.image_ids), np.int64, table.n_images)
                except KeyError as err:
                    raise ValueError(f"table image {err.args[0]!r} is not among the weighted images") from None
                if len(order) != len(self.image_ids):
                    raise ValueError("the table must list every weighted image exactly once")
                w = self.counts[:, order]
            if self.max_weight * max(len(table), 1) >= 2**31:
                raise ValueError("weights too large for exact integer accumulation")
            dtype = np.int16 if self.max_weight * _SEGMENT_ROWS < 2**15 else np.int32
            self._aligned[key] = _Aligned(
                w_t=np.ascontiguousarray(w.T.astype(dtype)),
                num_gt=w.astype(np.float64) @ table.gt_counts.astype(np.float64),  # exact integers
                copies=w.max(axis=0, initial=0).astype(np.int64),
            )
        return self._aligned[key]


# -- per-class segment layout -------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Segments of one class's sorted detections (see the module docstring); built once per table and class.

    ``counts`` has one row per segment, laid out ``[0, TP segments..., 0, FP segments...]`` (the zero rows make
    the cumulative sums start at 0), so ``counts @ weights`` followed by one cumulative sum per part gives the
    weighted TP count after the first ``i`` TP segments and the FP count after the first ``j`` FP segments.
    """

    counts: sp.csr_matrix  # [n_tp + n_fp + 2, n_images], int16, duplicates allowed (summed by the product)
    n_tp: int
    n_fp: int
    fp_pieces: tuple[tuple[int, int, int], ...]  # (a, b, d): before TP segment k in a..b-1 lie k + d FP segments
    tp_before_fp: np.ndarray  # per FP segment: TP segments before it
    fp_mixed: np.ndarray  # per FP segment: its mixed tie group (index into the mixed_* arrays) or -1
    mixed_tp: np.ndarray  # [2, n_mixed]: TP segments before the group's first row / up to its last row
    mixed_fp: np.ndarray  # [2, n_mixed]: the same for FP segments

    @property
    def width(self) -> int:
        return self.n_tp + self.n_fp + 2


def _layout(s: SortedClass, n_images: int) -> _Layout:
    n = len(s.tp)
    kind = np.where(s.tp, 1, np.where(s.fp, 2, 0)).astype(np.int8)
    counted = np.flatnonzero(kind > 0)
    cuts = [np.zeros(0, np.int64)]
    if len(counted):
        change = np.flatnonzero(kind[counted][1:] != kind[counted][:-1])
        cuts += [counted[change] + 1, counted[-1:] + 1]  # after the last row of each run of TPs or FPs
    # tie groups mixing TPs and FPs: both of their edges are cuts (FROC interpolates across them)
    mixed_groups = g_start = g_end = np.zeros(0, np.int64)
    group = None
    if n and not s.tie_end.all():
        group = np.concatenate([[0], np.cumsum(s.tie_end[:-1])]).astype(np.int64)
        n_groups = int(group[-1]) + 1
        has_tp = np.bincount(group, weights=s.tp, minlength=n_groups) > 0
        has_fp = np.bincount(group, weights=s.fp, minlength=n_groups) > 0
        mixed_groups = np.flatnonzero(has_tp & has_fp)
        g_start = np.searchsorted(group, mixed_groups, side="left")
        g_end = np.searchsorted(group, mixed_groups, side="right")
        cuts += [g_start, g_end]
    # nothing after the last TP (or mixed group) matters: FP there changes neither AP nor the FROC value
    tp_rows = np.flatnonzero(s.tp)
    limit = max(int(tp_rows[-1]) + 1 if len(tp_rows) else 0, int(g_end.max()) if len(g_end) else 0)
    bounds = np.unique(np.concatenate(cuts))
    bounds = bounds[(bounds > 0) & (bounds <= limit)].astype(np.int64)
    rows = counted[counted < limit]
    seg_of_row = np.searchsorted(bounds, rows, side="right")
    # split long segments so that a segment's weighted count fits in int16 (fast sparse products)
    if len(rows) and np.bincount(seg_of_row).max() > _SEGMENT_ROWS:
        rank = np.arange(len(rows)) - np.searchsorted(seg_of_row, seg_of_row, side="left")
        bounds = np.unique(np.concatenate([bounds, rows[(rank > 0) & (rank % _SEGMENT_ROWS == 0)]]))
        seg_of_row = np.searchsorted(bounds, rows, side="right")
    n_seg = len(bounds)
    seg_kind = np.zeros(n_seg, np.int8)
    seg_kind[seg_of_row] = kind[rows]
    tp_seg, fp_seg = np.flatnonzero(seg_kind == 1), np.flatnonzero(seg_kind == 2)
    n_tp, n_fp = len(tp_seg), len(fp_seg)
    target = np.zeros(n_seg, np.int64)
    target[tp_seg] = 1 + np.arange(n_tp)
    target[fp_seg] = n_tp + 2 + np.arange(n_fp)
    # CSR directly: TP rows (segment order) then FP rows, so the target rows never decrease
    row_kind = kind[rows]
    order = np.concatenate([np.flatnonzero(row_kind == 1), np.flatnonzero(row_kind == 2)])
    indptr = np.concatenate([[0], np.cumsum(np.bincount(target[seg_of_row[order]], minlength=n_tp + n_fp + 2))])
    counts = sp.csr_matrix(
        (np.ones(len(order), np.int16), s.image[rows[order]].astype(np.int32), indptr.astype(np.int32)),
        shape=(n_tp + n_fp + 2, n_images),
    )
    # each FP segment lies inside at most one mixed group; its first row tells which
    fp_mixed = np.full(n_fp, -1, np.int64)
    if len(mixed_groups) and n_fp:
        seg_first_row = np.concatenate([[0], bounds[:-1]]).astype(np.int64)
        fp_group = group[seg_first_row[fp_seg]]
        pos = np.minimum(np.searchsorted(mixed_groups, fp_group), len(mixed_groups) - 1)
        fp_mixed = np.where(mixed_groups[pos] == fp_group, pos, -1)
    seg_before = np.stack(
        [np.searchsorted(bounds, g_start, side="right"), np.searchsorted(bounds, g_end, side="right")]
    )
    # FP count before TP segment k sits at column fp_before_tp[k] of the FP part: k + d on each piece
    step = np.searchsorted(fp_seg, tp_seg) - np.arange(n_tp)
    edges = np.concatenate([[0], np.flatnonzero(np.diff(step)) + 1, [n_tp]]) if n_tp else np.zeros(1, np.int64)
    pieces = tuple((int(a), int(b), int(step[a])) for a, b in zip(edges[:-1], edges[1:], strict=True))
    return _Layout(
        counts=counts,
        n_tp=n_tp,
        n_fp=n_fp,
        fp_pieces=pieces,
        tp_before_fp=np.searchsorted(tp_seg, fp_seg),
        fp_mixed=fp_mixed,
        mixed_tp=np.searchsorted(tp_seg, seg_before, side="left"),
        mixed_fp=np.searchsorted(fp_seg, seg_before, side="left"),
    )


_LAYOUT_CACHE_ATTR = "_analysis_batched_layouts"


def _copied_images(table: MatchTable, copies: np.ndarray) -> np.ndarray:
    """Images (sorted) drawn twice or more that hold, in some class of ``table``, a tied block mixing TPs and
    FPs: the images whose blocks are laid out once per copy."""
    images = [s.mixed_blocks[2] for s in table.sorted_by_class]
    images = np.unique(np.concatenate(images)) if images else np.zeros(0, np.int64)
    return images[copies[images] >= 2]


def _with_copies(s: SortedClass, copies: np.ndarray, offset: np.ndarray) -> SortedClass:
    """``s`` with every mixed tied block of an image drawn ``k >= 2`` times laid out ``k`` times, copy ``c`` on
    the image's 0/1 weight row ``offset[image] + c`` (see :meth:`_Aligned.extended`)."""
    rows, copy = s.resample_order(copies)
    if not (copy >= 0).any():
        return s
    image = np.where(copy >= 0, offset[s.image[rows]] + copy, s.image[rows])
    group = np.concatenate([[0], np.cumsum(s.tie_end[:-1])])[rows]
    tie_end = np.ones(len(rows), bool)
    tie_end[:-1] = group[1:] != group[:-1]
    empty = np.zeros(0, np.int64)
    return SortedClass(image, s.tp[rows], s.fp[rows], s.score[rows], tie_end, empty, empty)


def _layouts(
    table: MatchTable, copies: np.ndarray | None = None, offset: np.ndarray | None = None, n_cols: int = 0
) -> tuple[_Layout, ...]:
    """The table's per-class layouts; with ``copies``/``offset`` (:meth:`_Aligned.extended`, ``n_cols`` weight
    rows), mixed tied blocks of the images with an offset are laid out once per copy on the extended weight
    rows. Cached on the table per ``(copies, offset)``."""
    cache = table.__dict__.setdefault(_LAYOUT_CACHE_ATTR, {})  # frozen dataclass: bypass __setattr__
    key = None if copies is None else (copies.tobytes(), offset.tobytes())
    if key not in cache:
        if copies is None:
            cache[key] = tuple(_layout(s, table.n_images) for s in table.sorted_by_class)
        else:
            copied = np.where(offset >= 0, copies, 0)
            cache[key] = tuple(_layout(_with_copies(s, copied, offset), n_cols) for s in table.sorted_by_class)
    return cache[key]


# -- helpers ------------------------------------------------------------------------------------------------------
def _recall_counts(num_gt: np.ndarray, thresholds: np.ndarray, rule: str = DEFAULT_RECALL_RULE) -> np.ndarray:
    """Smallest integer TP count ``v`` whose recall (as ``rule`` computes it) reaches ``t``, per replicate and
    threshold."""
    g = num_gt[:, None]
    t = thresholds[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.ceil(t * g)
        for _ in range(8):  # fix the rounding of t * g (and float32 recall); converges in one or two rounds
            down = (v > 0) & (recall_values(v - 1, g, rule) >= t)
            up = recall_values(v, g, rule) < t
            if not (down.any() or up.any()):
                break
            v = v - down + up
    return np.nan_to_num(v, nan=0.0, posinf=0.0).astype(np.int64)


def _fp_limits(num_images: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Largest integer FP count ``f`` with ``f / num_images <= rate`` in float64, per replicate and rate."""
    n = num_images[:, None]
    r = rates[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        f = np.floor(r * n)
        for _ in range(4):
            up = ((f + 1) / n) <= r
            down = (f >= 0) & ((f / n) > r)
            if not (up.any() or down.any()):
                break
            f = f + up - down
    return np.nan_to_num(f, nan=0.0, posinf=0.0).astype(np.int64)


def _first_reaching(values: np.ndarray, model_of_col: np.ndarray, n_models: int, queries: np.ndarray,
                    side: str) -> np.ndarray:
    """``[R, M, Q]``: per model's columns of the non-decreasing rows ``values``, ``searchsorted(queries[r])``.

    One model with wide rows: a loop over replicates. Several models: for every value the number of
    queries it passes, then counts per (replicate, model) of values passing at most ``q`` queries.
    """
    n_rep, width = values.shape
    n_q = queries.shape[1]
    if n_models == 1 and width >= _LOOP_SEARCH_WIDTH:
        q = queries.astype(values.dtype)  # same dtype: no per-row conversion copy
        out = np.empty((n_rep, 1, n_q), np.int64)
        for r in range(n_rep):
            out[r, 0] = values[r].searchsorted(q[r], side)
        return out
    passed = np.zeros(values.shape, np.int16)  # left: queries <= value; right: queries < value
    for i in range(n_q):
        passed += (queries[:, i : i + 1] <= values) if side == "left" else (queries[:, i : i + 1] < values)
    return _count_by_level(passed, model_of_col, n_models, n_q)


def _count_by_level(level: np.ndarray, model_of_col: np.ndarray, n_models: int, n_levels: int) -> np.ndarray:
    """``[R, M, L]``: how many columns of each model have ``level <= l`` (levels are 0..L), per replicate."""
    n_rep = level.shape[0]
    bins = (np.arange(n_rep, dtype=np.int64)[:, None] * n_models + model_of_col[None, :]) * (n_levels + 1) + level
    hist = np.bincount(bins.reshape(-1), minlength=n_rep * n_models * (n_levels + 1))
    return np.cumsum(hist.reshape(n_rep, n_models, n_levels + 1), axis=2)[:, :, :n_levels]


def _thresholds_passed(tp: np.ndarray, g: np.ndarray, thresholds: np.ndarray,
                       rule: str = DEFAULT_RECALL_RULE) -> np.ndarray:
    """``searchsorted(thresholds, recall(tp, g), "right")`` elementwise: how many recall thresholds each count
    reaches, with the recall as ``rule`` computes it.

    On the rule's even grid (``k / (K - 1)`` exact, ``np.linspace`` for nndetection) with integer ``g`` this is
    ``tp * (K - 1) // g + 1`` (capped at K): two different fractions with denominators ``K - 1`` and ``g``
    differ by at least ``1 / ((K - 1) g)``, far above double rounding, and (for ``(K - 1) g < 2**23``) above
    the float32 rounding of the nndetection recall and linspace's ulp. Only exact hits ``tp / g = k / (K - 1)``
    can then differ from the rational comparison, and whether such a hit passes depends on ``k`` alone: the
    float32 quotient is the correctly rounded ``k / (K - 1)``.
    """
    k = len(thresholds)
    grid = np.linspace(0.0, 1.0, k) if rule == "nndetection" else np.arange(k) / (k - 1) if k > 1 else None
    limit = 2**23 if rule == "nndetection" else 2**40
    if (k > 1 and np.array_equal(thresholds, grid) and np.array_equal(np.round(g), g)
            and float(g.max(initial=1)) * k < limit):
        # floor of the rounded quotient is the exact floor: a non-integer tp (K-1) / g is >= 1/g below the next
        # integer, far more than one rounding step
        num = tp * float(k - 1)
        level = np.floor(num / g[:, None])
        if rule == "nndetection":
            hit_k = np.arange(k)
            fails = recall_values(hit_k, k - 1, rule) < thresholds  # hits at these k miss their threshold
            if fails.any():
                hits = np.nonzero(num == level * g[:, None])  # exact hits: few (mostly tp = 0, which passes)
                at = np.minimum(level[hits], k - 1).astype(np.int64)
                level[hits] -= fails[at]
        level += 1
        np.minimum(level, k, out=level)
        return level.astype(np.int32)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.searchsorted(thresholds, recall_values(tp, g[:, None], rule), side="right")


def _prefix_sums(values: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """``values[r, :lengths[r]].sum()`` for every row, in the same summation order as a 1-D ``.sum()``."""
    out = np.zeros(values.shape[0])
    for m in np.unique(lengths):
        if m == 0:
            continue
        rows = np.flatnonzero(lengths == m)
        out[rows] = np.ascontiguousarray(values[rows, :m]).sum(axis=1)  # row sums use 1-D pairwise summation
    return out


def _class_groups(valid: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Replicates grouped by which classes have ground truth: ``[(rows, classes), ...]``."""
    if valid.shape[1] == 1:
        return [(np.flatnonzero(valid[:, 0]), np.zeros(1, np.int64))]
    patterns, inverse = np.unique(valid, axis=0, return_inverse=True)
    return [(np.flatnonzero(inverse.reshape(-1) == p), np.flatnonzero(pattern))
            for p, pattern in enumerate(patterns) if pattern.any()]


def _class_mean(values: np.ndarray, groups: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Per replicate, the mean over classes with ground truth (NaN if none), as ``values[valid].mean()``."""
    out = np.full(values.shape[0], np.nan)
    for rows, classes in groups:
        out[rows] = values[rows, classes[0]] if len(classes) == 1 else values[np.ix_(rows, classes)].mean(axis=1)
    return out


# -- one class of a stack of tables (models) that share the replicate weights -----------------------------------
@dataclass
class _Stack:
    """Layouts of one class of several tables, processed together (one sparse product, shared passes)."""

    layouts: list[_Layout]
    n_cols: int  # weight rows of the product: images, plus copy rows where some layout uses them

    def __post_init__(self) -> None:
        self.counts = sp.vstack([_widen(lay.counts, self.n_cols) for lay in self.layouts], format="csr")
        widths = [lay.width for lay in self.layouts]
        self.col = np.concatenate([[0], np.cumsum(widths)])
        n_tp = [lay.n_tp for lay in self.layouts]
        n_fp = [lay.n_fp for lay in self.layouts]
        self.tp_off = np.concatenate([[0], np.cumsum(n_tp)])
        self.fp_off = np.concatenate([[0], np.cumsum(n_fp)])
        self.tp_model = np.repeat(np.arange(len(n_tp)), n_tp)
        self.fp_model = np.repeat(np.arange(len(n_fp)), n_fp)


def _widen(counts: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    """``counts`` with ``n_cols`` columns (the extra ones empty), sharing its arrays."""
    if counts.shape[1] == n_cols:
        return counts
    return sp.csr_matrix((counts.data, counts.indices, counts.indptr), shape=(counts.shape[0], n_cols))


def _stack_scores(
    stack: _Stack, w_t: np.ndarray, g: np.ndarray, num_images: np.ndarray, need_thresholds: np.ndarray | None,
    thresholds: np.ndarray | None, order: np.ndarray | None, limit: np.ndarray | None, rates: np.ndarray | None,
    rate_order: np.ndarray | None, interpolation: str, rule: str = DEFAULT_RECALL_RULE,
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """AP and per-class FROC ``[R, M]`` of every layout of ``stack`` for one block of replicates."""
    n_rep = w_t.shape[1]
    cum = np.empty((n_rep, stack.counts.shape[0]), np.int32)
    if cum.shape[1]:
        cum[...] = (stack.counts @ w_t).T  # exact in int16/int32; transposed into int32
    tps, fps = [], []
    for m, lay in enumerate(stack.layouts):
        a = stack.col[m]
        tp, fp = cum[:, a : a + lay.n_tp + 1], cum[:, a + lay.n_tp + 1 : a + lay.width]
        np.cumsum(tp, axis=1, out=tp)
        np.cumsum(fp, axis=1, out=fp)
        tps.append(tp)
        fps.append(fp)
    ap = None if thresholds is None else _stack_ap(stack, tps, fps, g, need_thresholds, thresholds, order, rule)
    froc = None
    if rates is not None:
        froc = _stack_froc(stack, tps, fps, g, num_images, limit, rates, rate_order, interpolation)
    return ap, froc


def _stack_ap(stack: _Stack, tps: list, fps: list, g: np.ndarray, need: np.ndarray, thresholds: np.ndarray,
              order: np.ndarray | None, rule: str = DEFAULT_RECALL_RULE) -> np.ndarray:
    n_rep, n_models, total_tp = tps[0].shape[0], len(stack.layouts), int(stack.tp_off[-1])
    n_thr = len(thresholds)
    if total_tp == 0:
        return np.zeros((n_rep, n_models))
    # TP counts and precision at the end of every TP segment of every model, side by side; a NaN sentinel ends
    # the flat precision buffer; 0/0 (nothing weighted yet) gives NaN, which fmax ignores (the reference's
    # precision 0 there never wins a maximum)
    tp_end = np.empty((n_rep, total_tp), np.int32)
    den = np.empty((n_rep, total_tp), np.int32)
    for m, lay in enumerate(stack.layouts):
        o = stack.tp_off[m]
        tp_end[:, o : o + lay.n_tp] = tps[m][:, 1:]
        for a, b, d in lay.fp_pieces:
            np.add(tps[m][:, 1 + a : 1 + b], fps[m][:, a + d : b + d], out=den[:, o + a : o + b])
    buf = np.empty(n_rep * total_tp + 1)
    buf[-1] = np.nan
    prec = buf[:-1].reshape(n_rep, total_tp)
    with np.errstate(invalid="ignore"):
        np.divide(tp_end, den, out=prec)
    sorted_t = thresholds if order is None else thresholds[order]
    if n_models == 1 and total_tp >= _LOOP_SEARCH_WIDTH:
        first = _first_reaching(tp_end, stack.tp_model, 1, need, "left")
    else:
        passed = _thresholds_passed(tp_end, g, sorted_t, rule)
        first = _count_by_level(passed, stack.tp_model, n_models, n_thr)
    n_tp = np.diff(stack.tp_off)
    reached = first < n_tp[None, :, None]
    # envelope at each query = max of prec from there to the model's end: segment maxima, then reverse cummax
    starts = np.empty((n_rep, n_models, n_thr + 1), np.int64)
    np.add(first, (stack.tp_off[:-1][None, :] + (np.arange(n_rep, dtype=np.int64) * total_tp)[:, None])[:, :, None],
           out=starts[:, :, :-1])
    starts[:, :, -1] = (stack.tp_off[1:][None, :] + (np.arange(n_rep, dtype=np.int64) * total_tp)[:, None])
    seg_max = np.fmax.reduceat(buf, starts.reshape(-1)).reshape(n_rep, n_models, n_thr + 1)[:, :, :-1]
    seg_max[~reached] = np.nan  # unreached thresholds are a suffix (sorted), so they stay NaN below
    # reverse running maximum over the thresholds, one threshold at a time on a [thresholds, R * M] copy
    env = np.ascontiguousarray(seg_max.reshape(n_rep * n_models, n_thr).T)
    for j in range(n_thr - 2, -1, -1):
        np.fmax(env[j], env[j + 1], out=env[j])
    np.nan_to_num(env, copy=False, nan=0.0)  # reached but only 0/0 so far: the reference's precision 0
    reached = reached.reshape(n_rep * n_models, n_thr)
    vals = env.T
    if order is not None:  # unsorted thresholds: back to their order, reached ones first (the reference's sum)
        inverse = np.argsort(order)
        vals, reached = vals[:, inverse], reached[:, inverse]
        keep = np.argsort(~reached, axis=1, kind="stable")
        vals, reached = np.take_along_axis(vals, keep, axis=1), np.take_along_axis(reached, keep, axis=1)
    ap = (_prefix_sums(vals, reached.sum(axis=1)) / n_thr).reshape(n_rep, n_models)
    ap[:, n_tp == 0] = 0.0
    return ap


def _stack_froc(stack: _Stack, tps: list, fps: list, g: np.ndarray, num_images: np.ndarray, limit: np.ndarray,
                rates: np.ndarray, rate_order: np.ndarray, interpolation: str) -> np.ndarray:
    """Per-class FROC ``[R, M]``; ``limit`` holds the FP limits of the rates in ascending order."""
    n_rep, n_models, total_fp = tps[0].shape[0], len(stack.layouts), int(stack.fp_off[-1])
    fp_end = np.empty((n_rep, total_fp), np.int32)
    for m, lay in enumerate(stack.layouts):
        fp_end[:, stack.fp_off[m] : stack.fp_off[m] + lay.n_fp] = fps[m][:, 1:]
    # per model: the first FP segment whose end exceeds each rate's FP limit
    cross_all = np.empty((n_rep, n_models, len(rates)), np.int64)
    cross_all[:, :, rate_order] = _first_reaching(fp_end, stack.fp_model, n_models, limit, "right")
    out = np.empty((n_rep, n_models))
    rows = np.arange(n_rep)[:, None]
    for m, lay in enumerate(stack.layouts):
        tp, fp, n_tp, n_fp = tps[m], fps[m], lay.n_tp, lay.n_fp
        cross = cross_all[:, m]
        crossed = cross < n_fp
        k = np.minimum(cross, max(n_fp - 1, 0))
        # crossing in an FP-only stretch: the sensitivity before it; no crossing: the final sensitivity
        tp_before = np.where(crossed, lay.tp_before_fp[k] if n_fp else 0, n_tp)
        sens = tp[rows, tp_before] / g[:, None]
        mixed = crossed & (lay.fp_mixed[k] >= 0) if n_fp else np.zeros_like(crossed)
        if mixed.any():
            r_idx, c_idx = np.nonzero(mixed)
            mg = lay.fp_mixed[k[r_idx, c_idx]]
            s0 = tp[r_idx, lay.mixed_tp[0, mg]] / g[r_idx]
            if interpolation == "linear":
                s1 = tp[r_idx, lay.mixed_tp[1, mg]] / g[r_idx]
                n = num_images[r_idx]
                f0 = fp[r_idx, lay.mixed_fp[0, mg]] / n
                f1 = fp[r_idx, lay.mixed_fp[1, mg]] / n
                s0 = s0 + (s1 - s0) * (rates[c_idx] - f0) / (f1 - f0)
            sens[r_idx, c_idx] = s0
        out[:, m] = sens.mean(axis=1)
    return out


# -- public ------------------------------------------------------------------------------------------------------
def _options(metrics: Sequence[str], recall_thresholds: Any, rates: Any, interpolation: str, rule: str):
    unknown = set(metrics) - {"map", "froc"}
    if unknown:
        raise ValueError(f"Unknown batched metric(s) {sorted(unknown)}. Valid: map, froc")
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"Unknown interpolation {interpolation!r}. Valid: {', '.join(INTERPOLATIONS)}")
    thresholds = order = rates_arr = rate_order = None
    if "map" in metrics:
        thresholds = recall_thresholds_for(recall_thresholds, check_recall_rule(rule))
        if np.any(np.diff(thresholds) < 0):
            order = np.argsort(thresholds, kind="stable")
    if "froc" in metrics:
        rates_arr = np.asarray(rates, np.float64).reshape(-1)
        if not len(rates_arr) or np.any(~np.isfinite(rates_arr)) or np.any(rates_arr <= 0):
            raise ValueError(f"rates must be positive finite FP-per-image values, got {list(rates_arr)}")
        rate_order = np.argsort(rates_arr, kind="stable")
    return thresholds, order, rates_arr, rate_order


def batched_scores_many(
    tables: Sequence[MatchTable],
    weights: ReplicateWeights,
    metrics: Sequence[str] = ("map", "froc"),
    recall_thresholds: Any = N_RECALL_THRESHOLDS,
    rates: Any = FROC_RATES,
    interpolation: str = "linear",
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> list[dict[str, np.ndarray]]:
    """:func:`batched_scores` of several tables on the same replicates (e.g. all models of a dataset).

    Tables with the same images, ground truth and classes are processed together: small tables share one
    sparse product and every array pass, which removes most per-table overhead.
    """
    thresholds, order, rates_arr, rate_order = _options(
        metrics, recall_thresholds, rates, interpolation, recall_rule
    )
    n_rep = weights.n_replicates
    results: list[dict[str, np.ndarray]] = [{} for _ in tables]
    groups: dict[tuple, list[int]] = {}
    for i, table in enumerate(tables):
        groups.setdefault((table.image_ids, table.gt_counts.tobytes(), table.class_names), []).append(i)
    for members in groups.values():
        aligned = weights.aligned(tables[members[0]])
        n_classes = tables[members[0]].n_classes
        # tied blocks mixing TPs and FPs in images drawn twice or more: lay them out once per copy (mAP only)
        copied = [
            _copied_images(tables[i], aligned.copies) if thresholds is not None else np.zeros(0, np.int64)
            for i in members
        ]
        images = np.unique(np.concatenate(copied))
        w_t_all, offset = aligned.extended(images) if len(images) else (aligned.w_t, None)
        all_layouts = [
            _layouts(tables[i], aligned.copies, offset, w_t_all.shape[0]) if len(c) else _layouts(tables[i])
            for i, c in zip(members, copied, strict=True)
        ]
        ap = np.full((n_rep, len(members), n_classes), np.nan)
        fr = np.full((n_rep, len(members), n_classes), np.nan)
        for c in range(n_classes):
            num_gt = aligned.num_gt[:, c]
            valid = num_gt > 0
            g = np.where(valid, num_gt, 1.0)
            need = limit = None
            if thresholds is not None:
                sorted_t = thresholds if order is None else thresholds[order]
                need = _recall_counts(g, sorted_t, recall_rule).astype(np.int32)
            if rates_arr is not None:
                limit = _fp_limits(weights.num_images, rates_arr[rate_order]).astype(np.int32)  # sorted rates
            layouts = [lays[c] for lays in all_layouts]
            for idx in _pack(layouts):
                stack = _Stack([layouts[j] for j in idx], w_t_all.shape[0])
                chunk = max(1, min(n_rep, _MAX_CHUNK_ELEMENTS // max(stack.counts.shape[0], 1)))
                for lo in range(0, n_rep, chunk):
                    hi = min(lo + chunk, n_rep)
                    w_t = w_t_all if (lo, hi) == (0, n_rep) else np.ascontiguousarray(w_t_all[:, lo:hi])
                    a, f = _stack_scores(
                        stack, w_t, g[lo:hi], weights.num_images[lo:hi], None if need is None else need[lo:hi],
                        thresholds, order, None if limit is None else limit[lo:hi], rates_arr, rate_order,
                        interpolation, recall_rule,
                    )
                    if a is not None:
                        ap[lo:hi, idx, c] = a
                    if f is not None:
                        fr[lo:hi, idx, c] = f
            ap[~valid, :, c] = np.nan
            fr[~valid, :, c] = np.nan
        groups = _class_groups(aligned.num_gt > 0)
        for j, i in enumerate(members):
            if thresholds is not None:
                results[i]["map"] = _class_mean(ap[:, j], groups)
            if rates_arr is not None:
                results[i]["froc"] = _class_mean(fr[:, j], groups)
    return results


def _pack(layouts: list[_Layout]) -> list[list[int]]:
    """Group layouts into stacks of at most ``_STACK_WIDTH`` columns (a wider layout is a stack of its own)."""
    stacks: list[list[int]] = []
    current: list[int] = []
    width = 0
    for i, lay in enumerate(layouts):
        if current and width + lay.width > _STACK_WIDTH:
            stacks.append(current)
            current, width = [], 0
        current.append(i)
        width += lay.width
    if current:
        stacks.append(current)
    return stacks


def batched_scores(
    table: MatchTable,
    weights: Any,
    metrics: Sequence[str] = ("map", "froc"),
    recall_thresholds: Any = N_RECALL_THRESHOLDS,
    rates: Any = FROC_RATES,
    interpolation: str = "linear",
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> dict[str, np.ndarray]:
    """``{"map": [R], "froc": [R]}`` for integer count ``weights`` (see the module docstring).

    ``weights`` is a ``[R, n_images]`` array in the table's image order, or a :class:`ReplicateWeights`
    (images matched by id; share one across the tables of a dataset to prepare the weights once).
    ``recall_rule`` is mAP's (:mod:`benchmark.metrics.coco`); each replicate equals scoring its resampled set.
    """
    rw = weights if isinstance(weights, ReplicateWeights) else ReplicateWeights(weights, table.image_ids)
    return batched_scores_many([table], rw, metrics, recall_thresholds, rates, interpolation, recall_rule)[0]


def batched_map(
    table: MatchTable,
    weights: Any,
    recall_thresholds: Any = N_RECALL_THRESHOLDS,
    recall_rule: str = DEFAULT_RECALL_RULE,
) -> np.ndarray:
    """mAP per replicate, equal to ``map_from_matches(table, weights[r], recall_thresholds, recall_rule).map``
    for every row ``r``."""
    return batched_scores(
        table, weights, ("map",), recall_thresholds=recall_thresholds, recall_rule=recall_rule
    )["map"]


def batched_froc(
    table: MatchTable, weights: Any, rates: Any = FROC_RATES, interpolation: str = "linear"
) -> np.ndarray:
    """FROC score per replicate, equal to ``froc_from_matches(table, weights[r], rates, interpolation).score``."""
    return batched_scores(table, weights, ("froc",), rates=rates, interpolation=interpolation)["froc"]
