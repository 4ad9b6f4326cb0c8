"""Detection-to-ground-truth matching and the :class:`MatchTable` every metric (and the bootstrap) reads.

Matching follows nnDetection's COCO-style evaluator (``nndet/evaluator/detection/matching.py``, itself
adapted from pycocotools' ``cocoeval.py``), per image and class:

* detections are sorted by descending score (stable: equal scores keep their input order) and only the
  ``max_detections`` best per image *and class* are kept (nnDetection's default 100);
* each detection, best first, takes the still-unmatched ground-truth object with the highest IoU among those
  with ``IoU >= threshold``; **ties go to the later object** (nnDetection/pycocotools compare with ``>=``
  while scanning objects in order); non-ignored objects are preferred over ignored ones;
* a detection matched to an ignored object is ``ignored`` (neither TP nor FP); an unmatched one is an FP.

The matching is vectorised over all images at once; only detections with a candidate object above the
threshold enter the (short) sequential greedy step.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from benchmark.core.boxes import pairwise_iou
from benchmark.metrics.ground_truth import as_ground_truth
from benchmark.metrics.predictions import CasePrediction, as_case_prediction

__all__ = ["MAX_DETECTIONS", "MatchTable", "SortedClass", "match_detections"]

MAX_DETECTIONS = 100
_IOU_CAP = 1 - 1e-10  # as nnDetection: a threshold of 1.0 still matches boxes equal up to rounding


@dataclass(frozen=True)
class SortedClass:
    """One class's detections in global descending-score order (the order AP and FROC accumulate in).

    Ties are ordered by image, then by row (rank in the image). Besides the columns it keeps the only positions
    the metrics read: ``tp_rows`` (AP's precision envelope and recall lookup only ever land on true positives)
    and ``curve_rows`` (the FROC operating points that bound a rise in sensitivity, plus the last; dropped
    points lie on flat stretches and cannot change an interpolated value). Cumulative counts are full-length
    integer sums, then read at these positions.

    **Resampled sets.** Integer per-image weights stand for the resampled set of images: the images in image
    order, each image's copies adjacent. Among tied scores that set orders detections by image, then copy,
    then rank, so inside a run of tied scores an image's detections (a *block*) are repeated block by block.
    Where a block holds both a TP and an FP this differs from weighting each detection (TP, FP, TP, FP versus
    TP, TP, FP, FP for weight 2); :meth:`resample_order` builds the resampled sequence and
    :meth:`counts_at_true_positives` reads AP's counts from it. FROC reads counts only at tie-group ends, where
    both orders agree, so :meth:`cumulative` (detection-by-detection weights) serves it.
    """

    image: np.ndarray  # int64 [K] image index of each detection
    tp: np.ndarray  # bool [K]
    fp: np.ndarray  # bool [K] (not TP and not ignored)
    score: np.ndarray  # float64 [K], non-increasing
    tie_end: np.ndarray  # bool [K], True at the last detection of each run of equal scores
    tp_rows: np.ndarray  # int64, positions of the true positives
    curve_rows: np.ndarray  # int64, tie-group ends needed for FROC interpolation

    def cumulative(self, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative (weighted) TP and FP counts ``[K]``; integer weights keep them exact integers.

        Each detection is weighted by its image's weight; at tie-group ends (all FROC reads) the counts equal
        those of the resampled set, inside a tie group they need not (see the class docstring).
        """
        if weights is None:
            return np.cumsum(self.tp, dtype=np.int64), np.cumsum(self.fp, dtype=np.int64)
        w = weights.take(self.image)
        return np.cumsum(w * self.tp), np.cumsum(w * self.fp)

    @cached_property
    def mixed_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(start, length, image)`` of every block (one image's rows inside one tie group) that holds both a
        TP and an FP: the only blocks whose repetition order matters."""
        n = len(self.tp)
        if n < 2 or self.tie_end.all():
            z = np.zeros(0, np.int64)
            return z, z, z
        new = np.ones(n, bool)
        new[1:] = self.tie_end[:-1] | (self.image[1:] != self.image[:-1])
        starts = np.flatnonzero(new)
        block = np.cumsum(new) - 1
        mixed = (np.bincount(block, weights=self.tp, minlength=len(starts)) > 0) & (
            np.bincount(block, weights=self.fp, minlength=len(starts)) > 0
        )
        lengths = np.diff(np.append(starts, n))
        starts, lengths = starts[mixed], lengths[mixed]
        return starts.astype(np.int64), lengths.astype(np.int64), self.image[starts]

    def resample_order(self, copies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(rows, copy)``: the row sequence with each mixed block of an image with ``copies[image] >= 2``
        repeated that many times (``copy`` 0, 1, ... for its rows, -1 for rows that appear once).

        With ``copies`` the bootstrap counts this is the resampled set's order up to rows that need no
        repetition (weight them by their image's count); see the class docstring.
        """
        n = len(self.tp)
        start, length, image = self.mixed_blocks
        rep = copies[image] if len(image) else np.zeros(0, np.int64)
        sel = rep >= 2
        if not sel.any():
            return np.arange(n), np.full(n, -1, np.int64)
        start, length, rep = start[sel], length[sel], rep[sel].astype(np.int64)
        edge = np.zeros(n + 1, np.int64)
        edge[start] += 1
        edge[start + length] -= 1
        inside = np.cumsum(edge[:-1]) > 0
        size = np.where(inside, 0, 1)  # expanded positions taken by each row's unit (a block: at its start)
        size[start] = length * rep
        unit_len = np.ones(n, np.int64)
        unit_len[start] = length
        unit = np.repeat(np.arange(n), size)
        j = np.arange(len(unit)) - np.repeat(np.cumsum(size) - size, size)
        span = unit_len[unit]
        rows = unit + j % span
        copy = np.where(inside[unit], j // span, -1)
        return rows, copy

    def counts_at_true_positives(self, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative TP and FP counts at every TP position of the (resampled) sequence: what AP reads.

        Integer weights give the resampled set's counts exactly (tied blocks repeated copy by copy); other
        weights multiply each detection.
        """
        if weights is None or weights.dtype.kind not in "iu" or not len(self.mixed_blocks[0]):
            tp_cum, fp_cum = self.cumulative(weights)
            return tp_cum[self.tp_rows], fp_cum[self.tp_rows]
        rows, copy = self.resample_order(weights)
        if len(rows) == len(self.tp) and not (copy >= 0).any():
            tp_cum, fp_cum = self.cumulative(weights)
            return tp_cum[self.tp_rows], fp_cum[self.tp_rows]
        w = np.where(copy >= 0, 1, weights.take(self.image[rows]))
        tp, fp = self.tp[rows], self.fp[rows]
        at = np.flatnonzero(tp)
        return np.cumsum(w * tp)[at], np.cumsum(w * fp)[at]


@dataclass(frozen=True, eq=False)
class MatchTable:
    """Per-detection match results plus per-(image, class) ground-truth counts.

    Columns (numpy, one row per kept detection): ``image_index`` (into ``image_ids``), ``class_index``,
    ``score``, ``tp``, ``ignored``, and for traceability ``det_index`` (position in the case's prediction
    list) and ``gt_index`` (matched object in the case's ground truth, -1 if none). ``gt_counts`` is
    ``[n_images, n_classes]``: non-ignored objects per image and class. Every image evaluated is in
    ``image_ids``, including images without detections or objects (they count in FP per image).

    Metrics read only this table, optionally with per-image ``weights`` (bootstrap counts), so a resample
    never re-matches. Protocols with other matching rules (e.g. centre distance) build their own table.
    """

    image_ids: tuple[str, ...]
    class_names: tuple[str, ...]
    image_index: np.ndarray
    class_index: np.ndarray
    score: np.ndarray
    tp: np.ndarray
    ignored: np.ndarray
    gt_counts: np.ndarray
    det_index: np.ndarray | None = None
    gt_index: np.ndarray | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "image_ids", tuple(str(i) for i in self.image_ids))
        set_(self, "class_names", tuple(str(c) for c in self.class_names))
        n_img, n_cls = len(self.image_ids), len(self.class_names)
        if n_cls == 0:
            raise ValueError("a match table needs at least one class")
        if len(set(self.image_ids)) != n_img:
            raise ValueError("image_ids must be unique")
        cols = {
            "image_index": np.asarray(self.image_index, np.int64).reshape(-1),
            "class_index": np.asarray(self.class_index, np.int64).reshape(-1),
            "score": np.asarray(self.score, np.float64).reshape(-1),
            "tp": np.asarray(self.tp, bool).reshape(-1),
            "ignored": np.asarray(self.ignored, bool).reshape(-1),
        }
        n = len(cols["score"])
        for name in ("det_index", "gt_index"):
            value = getattr(self, name)
            cols[name] = (
                np.full(n, -1, np.int64) if value is None else np.asarray(value, np.int64).reshape(-1)
            )
        bad = [f"{k} ({len(v)})" for k, v in cols.items() if len(v) != n]
        if bad:
            raise ValueError(f"match table columns must all have {n} rows; got {', '.join(bad)}")
        if n and (cols["image_index"].min() < 0 or cols["image_index"].max() >= n_img):
            raise ValueError(f"image_index out of range 0..{n_img - 1}")
        if n and (cols["class_index"].min() < 0 or cols["class_index"].max() >= n_cls):
            raise ValueError(f"class_index out of range 0..{n_cls - 1}")
        if not np.all(np.isfinite(cols["score"])):
            raise ValueError("scores must be finite")
        if np.any(cols["tp"] & cols["ignored"]):
            raise ValueError("a detection cannot be both tp and ignored")
        counts = np.asarray(self.gt_counts)
        if counts.shape != (n_img, n_cls) or np.any(counts < 0):
            raise ValueError(
                f"gt_counts must be non-negative with shape ({n_img}, {n_cls}), got {counts.shape}"
            )
        tp_counts = np.bincount(
            cols["image_index"][cols["tp"]] * n_cls + cols["class_index"][cols["tp"]], minlength=n_img * n_cls
        )
        if np.any(tp_counts > counts.reshape(-1)):
            raise ValueError("more true positives than ground-truth objects in some (image, class)")
        for k, v in cols.items():
            set_(self, k, v)
        set_(self, "gt_counts", counts.astype(np.int64))
        set_(self, "meta", dict(self.meta))

    # -- sizes -----------------------------------------------------------------------------------------
    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.score)

    @property
    def fp(self) -> np.ndarray:
        """False positives: neither matched nor ignored."""
        return ~self.tp & ~self.ignored

    # -- the one sort the metrics need -------------------------------------------------------------------
    @cached_property
    def _image_order(self) -> np.ndarray:
        """Rows by image, stably (the tie order: image, then row); the identity for image-major tables."""
        img = self.image_index
        if len(img) < 2 or bool(np.all(img[1:] >= img[:-1])):
            return np.arange(len(img))
        return stable_argsort_ints(img)

    @cached_property
    def sorted_by_class(self) -> tuple[SortedClass, ...]:
        """Each class's rows by descending score; ties by image, then row order (rank in the image).

        This is nnDetection's order: it concatenates the per-image (already score-sorted) lists in image
        order and applies a stable sort. :func:`match_detections` writes rows image by image, so for its
        tables this is plain row order.
        """
        base = self._image_order
        by_score = base[stable_argsort_desc(self.score[base])]
        order = by_score[stable_argsort_ints(self.class_index[by_score])]
        bounds = np.searchsorted(self.class_index[order], np.arange(self.n_classes + 1))
        return tuple(self._sorted(order[bounds[c] : bounds[c + 1]]) for c in range(self.n_classes))

    @cached_property
    def sorted_pooled(self) -> SortedClass:
        """All rows by descending score (ties as in :attr:`sorted_by_class`), classes pooled (nnDetection's
        class-agnostic FROC)."""
        base = self._image_order
        return self._sorted(base[stable_argsort_desc(self.score[base])])

    def _sorted(self, rows: np.ndarray) -> SortedClass:
        score = self.score[rows]
        tie_end = np.ones(len(rows), bool)
        tie_end[:-1] = score[1:] != score[:-1]
        tp = self.tp[rows]
        tp_rows = np.flatnonzero(tp)
        ends = np.flatnonzero(tie_end)  # one FROC operating point per group of equal scores
        rises = np.searchsorted(ends, tp_rows)  # groups whose point raises the sensitivity
        keep = np.unique(np.concatenate([rises, rises - 1, [len(ends) - 1]]))
        curve_rows = ends[keep[keep >= 0]]
        fp = ~tp & ~self.ignored[rows]
        return SortedClass(self.image_index[rows], tp, fp, score, tie_end, tp_rows, curve_rows)

    def check_weights(self, weights: Any) -> np.ndarray | None:
        """Validate per-image weights (bootstrap counts): ``[n_images]``, finite, >= 0; None stays None.

        Integral weights come back as int64 (exact, and integer cumulative sums are ~10x faster).
        """
        if weights is None:
            return None
        w = np.asarray(weights).reshape(-1)
        if w.shape != (self.n_images,):
            raise ValueError(f"weights must have one entry per image ({self.n_images}), got {w.shape[0]}")
        if w.dtype.kind in "iub":
            w = w.astype(np.int64)
        else:
            w = w.astype(np.float64)
            if not np.all(np.isfinite(w)):
                raise ValueError("weights must be finite and non-negative")
            if np.all(w == np.floor(w)) and w.max(initial=0) < 2**53:
                w = w.astype(np.int64)
        if np.any(w < 0):
            raise ValueError("weights must be finite and non-negative")
        return w

    # -- views ---------------------------------------------------------------------------------------------
    def to_pandas(self) -> Any:
        """Detections as a DataFrame: image_id, class, class_name, score, tp, ignored, det_index, gt_index."""
        import pandas as pd

        ids = np.asarray(self.image_ids, dtype=object)
        names = np.asarray(self.class_names, dtype=object)
        return pd.DataFrame(
            {
                "image_id": ids[self.image_index] if len(self) else np.array([], dtype=object),
                "class": self.class_index,
                "class_name": names[self.class_index] if len(self) else np.array([], dtype=object),
                "score": self.score,
                "tp": self.tp,
                "ignored": self.ignored,
                "det_index": self.det_index,
                "gt_index": self.gt_index,
            }
        )

    def gt_frame(self) -> Any:
        """Ground-truth counts as a long DataFrame: image_id, class, n_gt (one row per image and class)."""
        import pandas as pd

        return pd.DataFrame(
            {
                "image_id": np.repeat(np.asarray(self.image_ids, dtype=object), self.n_classes),
                "class": np.tile(np.arange(self.n_classes), self.n_images),
                "n_gt": self.gt_counts.reshape(-1),
            }
        )

    def per_image(self) -> Any:
        """Per-image summary (image_id, class, n_gt, tp, fp, ignored): the per-case results users ask for."""
        import pandas as pd

        n_cls = self.n_classes
        key = self.image_index * n_cls + self.class_index
        size = self.n_images * n_cls
        frame = self.gt_frame()
        frame["tp"] = np.bincount(key, weights=self.tp, minlength=size).astype(np.int64)
        frame["fp"] = np.bincount(key, weights=self.fp, minlength=size).astype(np.int64)
        frame["ignored"] = np.bincount(key, weights=self.ignored, minlength=size).astype(np.int64)
        return pd.DataFrame(frame)


def stable_argsort_desc(values: np.ndarray) -> np.ndarray:
    """Indices that sort ``values`` descending, equal values in input order (a stable sort, ~4x faster)."""
    order = np.argsort(-values)  # introsort is fast but not stable: fix the runs of equal values
    ranked = values[order]
    tie = ranked[1:] == ranked[:-1]
    if tie.any():
        in_run = np.zeros(len(order), bool)
        in_run[1:] |= tie
        in_run[:-1] |= tie
        run = np.cumsum(np.concatenate([[True], ~tie]))
        sub = np.flatnonzero(in_run)
        order[sub] = order[sub][np.lexsort((order[sub], run[sub]))]
    return order


def stable_argsort_ints(keys: np.ndarray) -> np.ndarray:
    """Stable argsort of non-negative integers: LSD radix passes over 16-bit digits."""
    keys = np.asarray(keys, np.int64)
    order = np.arange(len(keys))
    shift, top = 0, int(keys.max(initial=0))
    while True:
        digit = ((keys[order] >> shift) & 0xFFFF).astype(np.uint16)
        order = order[np.argsort(digit, kind="stable")]
        shift += 16
        if top >> shift == 0:
            return order


def _concat_predictions(
    image_ids: Sequence[str], predictions: Mapping[str, CasePrediction]
) -> tuple[np.ndarray, ...]:
    cases = [predictions.get(cid) for cid in image_ids]
    lengths = np.array([0 if p is None else len(p) for p in cases], np.int64)
    present = [p for p in cases if p is not None and len(p)]
    if not present:
        z = np.zeros(0, np.int64)
        return np.zeros((0, 6)), np.zeros(0), z, z, z
    image = np.repeat(np.arange(len(image_ids), dtype=np.int64), lengths)
    det = np.arange(len(image)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    boxes = np.concatenate([p.boxes for p in present])
    scores = np.concatenate([p.scores for p in present])
    labels = np.concatenate([p.labels for p in present])
    return boxes, scores, labels, image, det


def _group_bounds(sorted_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start position and size of each run of equal keys in a sorted array."""
    n = len(sorted_keys)
    starts = (
        np.flatnonzero(np.concatenate([[True], sorted_keys[1:] != sorted_keys[:-1]]))
        if n
        else np.zeros(0, int)
    )
    return starts, np.diff(np.append(starts, n))


def _candidate_pairs(
    d_group: np.ndarray, d_boxes: np.ndarray, g_group: np.ndarray, g_boxes: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detection, object, IoU) of every same-(image, class) pair with IoU >= threshold > 0.

    Pairs come ordered by detection, then object. Pairs disjoint along z are dropped before the full IoU.
    """
    starts, sizes = _group_bounds(d_group)
    keys = d_group[starts]
    g_lo, g_hi = np.searchsorted(g_group, keys, "left"), np.searchsorted(g_group, keys, "right")
    count = np.repeat(g_hi - g_lo, sizes)  # objects sharing each detection's image and class
    first = np.repeat(np.repeat(g_lo, sizes), count)
    pair_det = np.repeat(np.arange(len(d_group)), count)
    pair_gt = first + np.arange(len(pair_det)) - np.repeat(np.cumsum(count) - count, count)
    overlap_z = np.minimum(np.repeat(d_boxes[:, 3], count), g_boxes[pair_gt, 3]) - np.maximum(
        np.repeat(d_boxes[:, 0], count), g_boxes[pair_gt, 0]
    )
    near = overlap_z > 0  # a positive threshold needs a positive intersection
    pair_det, pair_gt = pair_det[near], pair_gt[near]
    iou = pairwise_iou(d_boxes[pair_det], g_boxes[pair_gt])
    cand = iou >= threshold
    return pair_det[cand], pair_gt[cand], iou[cand]


def match_detections(
    predictions: Mapping[str, Any],
    ground_truth: Mapping[str, Any],
    class_names: Sequence[str] | int,
    iou_threshold: float = 0.1,
    max_detections: int = MAX_DETECTIONS,
    allow_missing: bool = False,
) -> MatchTable:
    """Match detections to ground truth by IoU as nnDetection does; return the :class:`MatchTable`.

    ``ground_truth`` (``case_id -> (boxes, labels[, ignore])`` or :class:`CaseGroundTruth`) defines the images
    evaluated and their order. ``predictions`` (``case_id -> CasePrediction`` or ``(boxes, scores, labels)``)
    must not name other cases, and must cover every case unless ``allow_missing`` (missing = no detections).
    ``class_names`` may be a class count.
    """
    names = (
        tuple(f"class_{i}" for i in range(class_names))
        if isinstance(class_names, int)
        else tuple(class_names)
    )
    n_cls = len(names)
    if n_cls == 0:
        raise ValueError("class_names must name at least one class")
    if not 0.0 < float(iou_threshold) <= 1.0:
        raise ValueError(f"iou_threshold must be in (0, 1], got {iou_threshold}")
    if int(max_detections) < 1:
        raise ValueError(f"max_detections must be >= 1, got {max_detections}")
    gt = as_ground_truth(ground_truth, n_cls)
    image_ids = list(gt)
    unknown = [c for c in predictions if str(c) not in gt]
    if unknown:
        raise ValueError(f"predictions for {len(unknown)} case(s) not in the ground truth: {unknown[:10]}")
    missing = [c for c in image_ids if c not in predictions]
    if missing and not allow_missing:
        raise ValueError(f"no predictions for {len(missing)} ground-truth case(s): {missing[:10]}")
    preds = {str(c): as_case_prediction(p, str(c), n_cls) for c, p in predictions.items()}

    # Detections: sort by (image, class, -score), stable; keep the best max_detections per (image, class).
    d_boxes, d_score, d_label, d_image, d_det = _concat_predictions(image_ids, preds)
    by_score = stable_argsort_desc(d_score)
    order = by_score[stable_argsort_ints((d_image * n_cls + d_label)[by_score])]
    starts, sizes = _group_bounds((d_image * n_cls + d_label)[order])
    order = order[np.arange(len(order)) - np.repeat(starts, sizes) < int(max_detections)]
    d_boxes, d_score, d_label, d_image, d_det = (
        a[order] for a in (d_boxes, d_score, d_label, d_image, d_det)
    )
    d_group = d_image * n_cls + d_label

    # Ground truth: sort by (image, class, ignored), stable, so ignored objects come last in each group.
    g_boxes = np.concatenate([gt[c].boxes for c in image_ids]) if image_ids else np.zeros((0, 6))
    g_label = np.concatenate([gt[c].labels for c in image_ids]) if image_ids else np.zeros(0, np.int64)
    g_ignore = np.concatenate([gt[c].ignore for c in image_ids]) if image_ids else np.zeros(0, bool)
    g_image = np.repeat(np.arange(len(image_ids), dtype=np.int64), [len(gt[c]) for c in image_ids])
    g_index = (
        np.concatenate([np.arange(len(gt[c]), dtype=np.int64) for c in image_ids]) if image_ids else g_image
    )
    g_order = np.lexsort((np.arange(len(g_label)), g_ignore, g_label, g_image))
    g_boxes, g_label, g_ignore, g_image, g_index = (
        a[g_order] for a in (g_boxes, g_label, g_ignore, g_image, g_index)
    )
    g_group = g_image * n_cls + g_label

    # Candidate pairs (same image and class) with IoU >= threshold, ordered by detection then object.
    threshold = min(float(iou_threshold), _IOU_CAP)
    pair_det, pair_gt, iou = _candidate_pairs(d_group, d_boxes, g_group, g_boxes, threshold)
    matched = _greedy(pair_det, pair_gt, iou, g_ignore, len(d_group), len(g_group))

    has = matched >= 0
    hit_ignored = np.zeros(len(matched), bool)
    hit_ignored[has] = g_ignore[matched[has]]
    gt_index = np.full(len(matched), -1, np.int64)
    gt_index[has] = g_index[matched[has]]
    counted = ~g_ignore
    gt_counts = np.bincount(g_group[counted], minlength=len(image_ids) * n_cls).reshape(len(image_ids), n_cls)
    return MatchTable(
        image_ids=tuple(image_ids),
        class_names=names,
        image_index=d_image,
        class_index=d_label,
        score=d_score,
        tp=has & ~hit_ignored,
        ignored=hit_ignored,
        gt_counts=gt_counts,
        det_index=d_det,
        gt_index=gt_index,
        meta={
            "matching": "iou",
            "iou_threshold": float(iou_threshold),
            "max_detections": int(max_detections),
        },
    )


def _greedy(
    pair_det: np.ndarray,
    pair_gt: np.ndarray,
    pair_iou: np.ndarray,
    gt_ignore: np.ndarray,
    n_det: int,
    n_gt: int,
) -> np.ndarray:
    """Sequential greedy assignment over candidate pairs; returns the matched object row per detection (-1).

    Pairs arrive grouped by detection in matching order, and within a detection in object order (ignored
    objects last). This replays nnDetection's inner loop restricted to candidates, which gives the same
    result: non-candidates never pass its ``IoU >= best`` test.
    """
    matched = np.full(n_det, -1, np.int64)
    if not len(pair_det):
        return matched
    taken = bytearray(n_gt)
    dets, gts, ious, ign = pair_det.tolist(), pair_gt.tolist(), pair_iou.tolist(), gt_ignore.tolist()
    bounds = (np.flatnonzero(np.diff(pair_det)) + 1).tolist()
    for s, e in zip([0, *bounds], [*bounds, len(dets)], strict=True):
        best, best_iou = -1, -1.0
        for k in range(s, e):
            g = gts[k]
            if taken[g]:
                continue
            if best >= 0 and ign[g] and not ign[best]:
                break
            if ious[k] >= best_iou:  # >=: ties go to the later object, as in nnDetection
                best, best_iou = g, ious[k]
        if best >= 0:
            taken[best] = 1
            matched[dets[s]] = best
    return matched
