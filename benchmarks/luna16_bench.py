"""Timing of the LUNA16 protocol on 888 scans x 100 candidates: vectorised vs a plain per-scan Python loop.

Run: ``python benchmarks/luna16_bench.py`` (``--help`` for options). Nodules and irrelevant findings are the
real LUNA16 annotation files when ``/work/shared/data/luna16`` (or ``--data``) holds them, otherwise a
synthetic set of the same size. Candidates (fixed Generator seed): 100 per scan, about a third placed near a
nodule or an irrelevant finding, probabilities with two decimals (many ties, as real submissions have).

* *vectorised*: :func:`benchmark.metrics.protocols.luna16.luna16_froc` (hit pairs from one sorted key,
  numpy throughout);
* *loop*: the official script's structure -- per scan a Python cap, then per finding a Python loop over the
  scan's candidates with the squared-distance test -- followed by the same FROC construction.

Both must give the same CPM, which is checked before the timings are printed. ``bench_luna16(args)`` is the
entry point for ``benchmarks/metrics_bench.py``'s ``SECTIONS`` (it reads ``repeat``/``seed``/``bootstrap``
from ``args`` when present).
"""

from __future__ import annotations

import argparse
import math
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from benchmark.metrics.protocols._froc import froc_points
from benchmark.metrics.protocols.luna16 import (
    LUNA16_RATES,
    luna16_froc,
    read_luna16_csv,
    read_seriesuids,
)

SHARED = Path("/work/shared/data/luna16")
CAND = ["seriesuid", "coordX", "coordY", "coordZ", "probability"]
ANN = ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]
T = TypeVar("T")


def load_or_synthesise(data: Path, seed: int) -> tuple[pd.DataFrame, pd.DataFrame, list[str], str]:
    """``(annotations, excluded findings, series ids, source)``: the real files if present, else synthetic."""
    files = [data / "annotations.csv", data / "annotations_excluded.csv", data / "seriesuids.csv"]
    if all(f.exists() for f in files):
        return read_luna16_csv(files[0]), read_luna16_csv(files[1]), read_seriesuids(files[2]), str(data)
    rng = np.random.default_rng(seed)
    uids = [f"1.3.6.1.4.1.14519.5.2.1.6279.6001.{i:012d}" for i in range(888)]
    ann = pd.DataFrame(
        {
            "seriesuid": rng.choice(uids, 1186),
            "coordX": rng.uniform(-150, 150, 1186),
            "coordY": rng.uniform(-250, 50, 1186),
            "coordZ": rng.uniform(-350, 0, 1186),
            "diameter_mm": rng.gamma(2.0, 4.0, 1186) + 3.0,
        }
    )
    exc = pd.DataFrame(
        {
            "seriesuid": rng.choice(uids, 35192),
            "coordX": rng.uniform(-150, 150, 35192),
            "coordY": rng.uniform(-250, 50, 35192),
            "coordZ": rng.uniform(-350, 0, 35192),
            "diameter_mm": -1.0,
        }
    )
    return ann, exc, uids, "synthetic (no LUNA16 files found)"


def synthetic_candidates(
    ann: pd.DataFrame, exc: pd.DataFrame, uids: list[str], per_scan: int, seed: int
) -> pd.DataFrame:
    """``per_scan`` candidates for every scan: ~20% near a nodule, ~15% near an irrelevant finding, rest random."""
    rng = np.random.default_rng(seed)
    findings = {"n": ann.groupby("seriesuid"), "e": exc.groupby("seriesuid")}
    lo = np.array([ann.coordX.min(), ann.coordY.min(), ann.coordZ.min()])
    hi = np.array([ann.coordX.max(), ann.coordY.max(), ann.coordZ.max()])
    groups = {k: dict(list(g)) for k, g in findings.items()}
    blocks = []
    for uid in uids:
        xyz = rng.uniform(lo, hi, (per_scan, 3))
        kind = rng.random(per_scan)
        for key, frac_lo, frac_hi, spread in (("n", 0.0, 0.2, 3.0), ("e", 0.2, 0.35, 2.0)):
            g = groups[key].get(uid)
            sel = np.flatnonzero((kind >= frac_lo) & (kind < frac_hi))
            if g is not None and len(g) and sel.size:
                src = g[["coordX", "coordY", "coordZ"]].to_numpy(float)[rng.integers(len(g), size=sel.size)]
                xyz[sel] = src + rng.normal(0, spread, (sel.size, 3))
        prob = np.round(np.where(kind < 0.2, rng.beta(5, 2, per_scan), rng.beta(1, 5, per_scan)), 2)
        blocks.append(pd.DataFrame({"seriesuid": uid, "coordX": xyz[:, 0], "coordY": xyz[:, 1],
                                    "coordZ": xyz[:, 2], "probability": prob}))  # fmt: skip
    return pd.concat(blocks, ignore_index=True)


def luna16_cpm_loop(
    cands: pd.DataFrame, ann: pd.DataFrame, exc: pd.DataFrame, uids: list[str], cap: int = 100
) -> float:
    """The CPM with the official script's per-scan / per-finding / per-candidate Python loops."""
    by_scan: dict[str, list[tuple[float, float, float, float]]] = defaultdict(list)
    for row in cands.itertuples(index=False):
        by_scan[row.seriesuid].append((row.coordX, row.coordY, row.coordZ, row.probability))
    findings: dict[str, list[tuple[float, float, float, float, bool]]] = defaultdict(list)
    for frame, included in ((ann, True), (exc, False)):
        for row in frame.itertuples(index=False):
            findings[row.seriesuid].append((row.coordX, row.coordY, row.coordZ, row.diameter_mm, included))
    labels: list[float] = []
    scores: list[float] = []
    n_nodules = 0
    for uid in uids:
        cand = by_scan.get(uid, [])
        if len(cand) > cap:
            threshold = sorted((c[3] for c in cand), reverse=True)[cap]
            cand = [c for c in cand if c[3] > threshold]
        remaining = set(range(len(cand)))
        for x, y, z, diameter, included in findings.get(uid, []):
            radius2 = math.pow((diameter if diameter >= 0 else 10.0) / 2.0, 2.0)
            best = None
            for k, (x2, y2, z2, p) in enumerate(cand):
                if math.pow(x - x2, 2.0) + math.pow(y - y2, 2.0) + math.pow(z - z2, 2.0) < radius2:
                    remaining.discard(k)
                    if included and (best is None or p > best):
                        best = p
            if included:
                n_nodules += 1
                if best is not None:
                    labels.append(1.0)
                    scores.append(best)
        for k in remaining:
            labels.append(0.0)
            scores.append(cand[k][3])
    y, s = np.asarray(labels), np.asarray(scores)
    order = np.argsort(-s, kind="stable")
    fps, sens, _ = froc_points(s[order], y[order], 1.0 - y[order], float(n_nodules), len(uids))
    return float(np.mean(np.interp(LUNA16_RATES, fps, sens)))


def _best_of(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_luna16(args: argparse.Namespace | None = None) -> dict[str, float]:
    """Time both implementations on 888 scans x 100 candidates; print and return the figures (seconds)."""
    repeat = max(1, int(getattr(args, "repeat", 3)))
    seed = int(getattr(args, "seed", 0))
    n_boot = int(getattr(args, "bootstrap", 100))
    data = Path(getattr(args, "data", SHARED) or SHARED)
    per_scan = int(getattr(args, "candidates", 100))
    ann, exc, uids, source = load_or_synthesise(data, seed)
    cands = synthetic_candidates(ann, exc, uids, per_scan, seed)
    print(f"annotations: {source}; {len(uids)} scans, {len(ann)} nodules, {len(exc)} irrelevant findings, "
          f"{len(cands)} candidates")  # fmt: skip

    t_vec, result = _best_of(lambda: luna16_froc(cands, ann, uids, exc), repeat)
    t_loop, cpm_loop = _best_of(lambda: luna16_cpm_loop(cands, ann, exc, uids), min(repeat, 2))
    if not math.isclose(result.score, cpm_loop, rel_tol=0, abs_tol=1e-12):
        raise AssertionError(f"vectorised CPM {result.score} != loop CPM {cpm_loop}")
    print(f"CPM {result.score:.6f} (both); detected {result.n_detected}/{result.n_lesions}, "
          f"FP {result.n_false_positives}")  # fmt: skip
    print(f"{'implementation':<28}{'seconds':>10}")
    print(f"{'vectorised (numpy)':<28}{t_vec:>10.3f}")
    print(f"{'per-scan Python loop':<28}{t_loop:>10.3f}")
    print(f"speed-up x{t_loop / t_vec:.1f}")
    out = {"vectorised_s": t_vec, "loop_s": t_loop, "cpm": float(result.score)}
    if n_boot:
        t0 = time.perf_counter()
        boot = luna16_froc(cands, ann, uids, exc, n_bootstraps=n_boot, rng=np.random.default_rng(seed))
        t_boot = time.perf_counter() - t0
        ci = boot.bootstrap
        print(f"bootstrap x{n_boot}: {t_boot:.3f} s; CPM 95% CI [{ci.score_lower:.4f}, {ci.score_upper:.4f}]")
        out["bootstrap_s"] = t_boot
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=SHARED, help="folder with the LUNA16 annotation files")
    parser.add_argument("--candidates", type=int, default=100, help="candidates per scan")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    parser.add_argument("--bootstrap", type=int, default=100, help="bootstrap replicates to time (0: none)")
    bench_luna16(parser.parse_args(argv))


if __name__ == "__main__":
    main()
