"""Timing of detbench's metrics on a PN9-sized synthetic test set: vectorised path vs a per-image Python loop.

Run: ``python benchmarks/metrics_bench.py`` (``--help`` for sizes). The default problem matches PN9's test
split (2,091 CT scans, ~4,700 nodules, 100 detections per scan; one class). Both implementations must give
the same mAP@0.1 and FROC@0.1, which the script checks before printing the timings:

* *vectorised*: :func:`benchmark.metrics.match_detections` (all images at once; a sequential step only over
  candidate pairs) -> :class:`MatchTable` -> :func:`map_from_matches`, :func:`froc_from_matches`;
* *loop*: the way nnDetection evaluates -- per image and class a score sort, an IoU matrix and a nested
  Python greedy loop, then per class a concatenation, a stable sort and a Python precision-envelope loop,
  and FROC operating points interpolated with ``np.interp``.

The bootstrap part times 1,000 image-level resamples (the paper's ranking procedure): weighted metrics from
the match table vs re-accumulating the per-image loop results of each resample (extrapolated from a few).

Other sections (e.g. the official LUNA16 protocol) plug in through :data:`SECTIONS`.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

try:  # run as a script (python benchmarks/metrics_bench.py) or as a module (python -m benchmarks.metrics_bench)
    from luna16_bench import bench_luna16
except ImportError:
    from benchmarks.luna16_bench import bench_luna16
from benchmark.metrics import box_iou, froc_from_matches, map_from_matches, match_detections
from benchmark.metrics.froc import FROC_RATES
from benchmark.metrics.ground_truth import as_ground_truth
from benchmark.metrics.predictions import as_case_prediction

# -- synthetic PN9-sized problem ----------------------------------------------------------------------


def synthetic_problem(n_images: int, objects_per_image: float, detections: int, seed: int) -> tuple[dict, dict]:
    """``(predictions, ground_truth)`` with nodule-like boxes in 300^3-voxel scans (fixed Generator seed)."""
    rng = np.random.default_rng(seed)
    preds, gt = {}, {}
    for i in range(n_images):
        n_obj = int(rng.poisson(objects_per_image))
        size = rng.uniform(3, 30, (n_obj, 3))
        lo = rng.uniform(0, 270, (n_obj, 3))
        g_boxes = np.concatenate([lo, lo + size], 1)
        hit = rng.random(n_obj) < 0.8
        n_hit = int(hit.sum())
        jitter = rng.normal(0, 0.15, (n_hit, 6)) * np.tile(size[hit], 2)
        h_boxes = g_boxes[hit] + jitter
        h_boxes = np.concatenate(
            [np.minimum(h_boxes[:, :3], h_boxes[:, 3:]), np.maximum(h_boxes[:, :3], h_boxes[:, 3:])], 1
        )
        n_fp = max(detections - n_hit, 0)
        f_size = rng.uniform(3, 30, (n_fp, 3))
        f_lo = rng.uniform(0, 270, (n_fp, 3))
        boxes = np.concatenate([h_boxes, np.concatenate([f_lo, f_lo + f_size], 1)])[:detections]
        scores = np.concatenate([rng.beta(5, 2, n_hit), rng.beta(1, 6, n_fp)])[:detections]
        perm = rng.permutation(len(boxes))
        preds[f"scan_{i:05d}"] = (boxes[perm], scores[perm], np.zeros(len(boxes), np.int64))
        gt[f"scan_{i:05d}"] = (g_boxes, np.zeros(n_obj, np.int64))
    return preds, gt


def validated(preds: dict, gt: dict) -> tuple[dict, dict]:
    """Inputs as the evaluator holds them after loading: validated ground truth and case predictions."""
    truth = as_ground_truth(gt, 1)
    return truth, {cid: as_case_prediction(p, cid, 1) for cid, p in preds.items()}


# -- the per-image Python loop (nnDetection's structure) ----------------------------------------------------


def loop_match(preds: dict, gt: dict, n_classes: int, thr: float = 0.1, max_det: int = 100) -> list[dict]:
    """Per image: ``{class: (scores [D], tp [D] bool, n_gt)}``, detections in score order."""
    results = []
    for cid in gt:
        g_boxes, g_labels = gt[cid].boxes, gt[cid].labels
        p_boxes, p_scores, p_labels = preds[cid].boxes, preds[cid].scores, preds[cid].labels
        per_class = {}
        for c in range(n_classes):
            d = np.flatnonzero(p_labels == c)
            d = d[np.argsort(-p_scores[d], kind="mergesort")][:max_det]
            g = np.flatnonzero(g_labels == c)
            ious = box_iou(p_boxes[d], g_boxes[g]) if len(d) and len(g) else np.zeros((len(d), len(g)))
            taken = np.zeros(len(g), bool)
            tp = np.zeros(len(d), bool)
            for di in range(len(d)):
                best, best_iou = -1, min(thr, 1 - 1e-10)
                for gi in range(len(g)):
                    if taken[gi] or ious[di, gi] < best_iou:
                        continue
                    best, best_iou = gi, ious[di, gi]
                if best >= 0:
                    taken[best] = True
                    tp[di] = True
            per_class[c] = (p_scores[d], tp, len(g))
        results.append(per_class)
    return results


def loop_metrics(results: list[dict], n_classes: int) -> tuple[float, float]:
    """mAP and FROC (means over classes with objects) from per-image loop results."""
    aps, frocs = [], []
    for c in range(n_classes):
        scores = np.concatenate([r[c][0] for r in results])
        tps = np.concatenate([r[c][1] for r in results])
        n_gt = sum(r[c][2] for r in results)
        if n_gt == 0:
            continue
        order = np.argsort(-scores, kind="mergesort")
        scores, tps = scores[order], tps[order]
        tp, fp = np.cumsum(tps).astype(float), np.cumsum(~tps).astype(float)
        recall = tp / n_gt
        precision = (tp / np.maximum(tp + fp, 1e-300)).tolist()
        for i in range(len(precision) - 1, 0, -1):
            if precision[i] > precision[i - 1]:
                precision[i - 1] = precision[i]
        idx = np.searchsorted(recall, np.arange(101) / 100, side="left")
        aps.append(sum(precision[i] for i in idx if i < len(precision)) / 101)
        last = np.append(scores[1:] != scores[:-1], True)
        fpi = np.concatenate([[0.0], fp[last] / len(results)])
        sens = np.concatenate([[0.0], tp[last] / n_gt])
        frocs.append(float(np.mean(np.interp(FROC_RATES, fpi, sens))))
    return float(np.mean(aps)), float(np.mean(frocs))


# -- sections ------------------------------------------------------------------------------------------


def _best_of(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_map_froc(args: argparse.Namespace) -> None:
    """mAP@0.1 + FROC@0.1 (matching included), then 1,000 bootstrap replicates, both implementations."""
    t0 = time.perf_counter()
    preds, gt = synthetic_problem(args.images, args.objects_per_image, args.detections, args.seed)
    n_obj = sum(len(g[1]) for g in gt.values())
    n_det = sum(len(p[1]) for p in preds.values())
    print(
        f"problem: {len(gt)} images, {n_obj} objects, {n_det} detections, 1 class "
        f"(generated in {time.perf_counter() - t0:.1f} s, seed {args.seed})"
    )

    t_valid, (gt, preds) = _best_of(lambda: validated(preds, gt), args.repeat)

    def vectorised():
        table = match_detections(preds, gt, 1)
        return table, map_from_matches(table).map, froc_from_matches(table).score

    def loop():
        results = loop_match(preds, gt, 1)
        return (results, *loop_metrics(results, 1))

    t_vec, (table, ap_v, froc_v) = _best_of(vectorised, args.repeat)
    t_loop, (results, ap_l, froc_l) = _best_of(loop, args.repeat)
    if abs(ap_v - ap_l) > 1e-9 or abs(froc_v - froc_l) > 1e-9:
        raise SystemExit(f"implementations disagree: mAP {ap_v} vs {ap_l}, FROC {froc_v} vs {froc_l}")
    t_metrics, _ = _best_of(lambda: (map_from_matches(table), froc_from_matches(table)), args.repeat)
    print(f"mAP@0.1 = {ap_v:.6f}, FROC@0.1 = {froc_v:.6f} (both implementations agree to 1e-9)")
    print(f"{'':34}{'vectorised':>12}{'loop':>12}{'speedup':>10}")
    print(f"{'input validation (once per file)':34}{t_valid:>11.3f}s{'-':>12}")
    print(f"{'match + mAP + FROC':34}{t_vec:>11.3f}s{t_loop:>11.3f}s{t_loop / t_vec:>9.1f}x")
    print(f"{'  mAP + FROC on a sorted table':34}{t_metrics:>11.4f}s")

    rng = np.random.default_rng(args.seed + 1)
    n = len(gt)
    draws = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(args.bootstrap)]
    t0 = time.perf_counter()
    for w in draws:
        map_from_matches(table, w)
        froc_from_matches(table, w)
    t_boot_vec = time.perf_counter() - t0
    k = min(args.baseline_bootstrap, args.bootstrap)
    t0 = time.perf_counter()
    for w in draws[:k]:
        loop_metrics([results[i] for i in np.repeat(np.arange(n), w)], 1)
    t_boot_loop = (time.perf_counter() - t0) * args.bootstrap / k
    label = f"bootstrap x{args.bootstrap} (no re-match)"
    print(
        f"{label:34}{t_boot_vec:>11.2f}s{t_boot_loop:>11.2f}s{t_boot_loop / t_boot_vec:>9.1f}x"
        f"   (loop extrapolated from {k})"
    )


# Sections run in order; each function takes the parsed arguments and prints its own figures.
SECTIONS: list[tuple[str, Callable[[argparse.Namespace], None]]] = [
    ("LUNA16 protocol, 888 scans x 100 candidates", bench_luna16),
    ("mAP@0.1 + FROC@0.1, PN9-sized", bench_map_froc),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=2091, help="images (PN9 test: 2,091)")
    parser.add_argument("--objects-per-image", type=float, default=2.25, help="mean objects per image")
    parser.add_argument("--detections", type=int, default=100, help="detections per image")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
    parser.add_argument("--baseline-bootstrap", type=int, default=20, help="loop replicates actually run")
    parser.add_argument("--only", default=None, help="run only the sections whose title contains this text")
    args = parser.parse_args(argv)
    for title, fn in SECTIONS:
        if args.only and args.only.lower() not in title.lower():
            continue
        print(f"== {title} ==")
        fn(args)


if __name__ == "__main__":
    main()
