"""Grid search of the classical detector's parameters on the validation split, maximising mAP@0.1.

The grid (:class:`Grid`) is the full product of

* ``channel``: every image channel;
* ``sigma``: Gaussian smoothing 0 or 1 voxel;
* the intensity band ``[low, high]``: every pair ``low < high`` of the band edges, which are ``-inf``, the
  ``percentiles`` of the pooled validation voxels of the channel (image intensities only, no labels) and
  ``+inf`` (so one-sided thresholds ``x >= t`` and ``x <= t`` are in the grid too; the band ``(-inf, inf)``
  is left out); :attr:`Grid.edges` replaces the percentiles by fixed values;
* ``min_voxels`` x ``max_voxels`` (the size filter) and the component ``score`` (:data:`~.detector.SCORES`).

Each (channel, sigma, band) labels every validation case once; size filters and scores only re-select from
those components, so the search costs one labelling per band and case plus one cheap matching per grid point.
mAP@0.1 is the registry's metric (nnDetection's matching and recall rule), computed on the validation ground
truth; ties between grid points go to the first in grid order (the order of :meth:`Grid.points`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from benchmark.classical.detector import SCORES, ClassicalParams, components, select, smooth

__all__ = ["Grid", "TuningResult", "band_edges", "tune"]


@dataclass(frozen=True)
class Grid:
    """The searched values (see the module docstring); the defaults are what ``benchmark baseline`` uses."""

    percentiles: tuple[float, ...] = (1.0, 5.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.9)
    sigmas: tuple[float, ...] = (0.0, 1.0)
    min_voxels: tuple[int, ...] = (1, 8, 32)
    max_voxels: tuple[int | None, ...] = (256, 2048, 16384, None)
    scores: tuple[str, ...] = SCORES
    channels: tuple[int, ...] | None = None  # None: every channel of the images
    edges: tuple[float, ...] | None = None  # fixed band edges (e.g. calibrated HU) instead of the percentiles

    def size(self, n_channels: int) -> int:
        """Number of grid points for images with ``n_channels`` channels."""
        n_edges = len(self.edges if self.edges is not None else self.percentiles) + 2
        bands = n_edges * (n_edges - 1) // 2 - 1
        chans = len(self.channels) if self.channels is not None else n_channels
        return chans * len(self.sigmas) * bands * len(self.min_voxels) * len(self.max_voxels) * len(self.scores)


@dataclass
class TuningResult:
    """The best grid point, its validation mAP@0.1, and every grid point's score (for provenance)."""

    params: ClassicalParams
    val_map: float
    n_points: int
    band_edges: dict[int, list[float]] = field(default_factory=dict)
    top: list[tuple[float, ClassicalParams]] = field(default_factory=list)  # the 10 best grid points

    def to_json(self) -> dict:
        return {
            "params": self.params.to_json(),
            "validation_map@0.1": self.val_map,
            "grid_points": self.n_points,
            "band_edges": {str(c): [None if math.isinf(v) else v for v in e] for c, e in self.band_edges.items()},
            "top10": [{"validation_map@0.1": v, **p.to_json()} for v, p in self.top],
        }


def band_edges(images: Sequence[np.ndarray], channel: int, percentiles: Sequence[float]) -> list[float]:
    """``-inf``, the distinct ``percentiles`` of the pooled voxels of ``channel`` over ``images``, ``+inf``."""
    pooled = np.concatenate([np.asarray(im[channel], dtype=np.float32).ravel() for im in images])
    values = np.unique(np.percentile(pooled, list(percentiles)).astype(np.float64))
    return [-math.inf, *values.tolist(), math.inf]


def tune(
    images: Mapping[str, np.ndarray],
    ground_truth: Mapping[str, object],
    class_names: Sequence[str],
    grid: Grid | None = None,
) -> TuningResult:
    """The grid point with the highest mAP@0.1 on ``images`` (case -> ``(C, z, y, x)``) and their ground truth."""
    from benchmark.metrics import map_from_matches, match_detections

    grid = grid or Grid()
    if not images:
        raise ValueError("tuning the classical baseline needs at least one validation case")
    cases = list(ground_truth)
    missing = [c for c in cases if c not in images]
    if missing:
        raise ValueError(f"no image for validation case(s) {missing[:5]}")
    n_channels = int(np.asarray(images[cases[0]]).shape[0])
    channels = grid.channels if grid.channels is not None else tuple(range(n_channels))
    n_classes = len(class_names)
    best: tuple[float, ClassicalParams] | None = None
    scored: list[tuple[float, int, ClassicalParams]] = []
    edges_of: dict[int, list[float]] = {}
    order = 0
    for channel in channels:
        if grid.edges is not None:
            edges = [-math.inf, *sorted(set(map(float, grid.edges))), math.inf]
        else:
            edges = band_edges([images[c] for c in cases], channel, grid.percentiles)
        edges_of[channel] = edges
        for sigma in grid.sigmas:
            smoothed = {c: smooth(np.asarray(images[c])[channel], sigma) for c in cases}
            for low, high in itertools.combinations(edges, 2):
                if math.isinf(low) and math.isinf(high):
                    continue
                comps = {c: components(smoothed[c], low, high) for c in cases}
                for min_v, max_v, score in itertools.product(grid.min_voxels, grid.max_voxels, grid.scores):
                    if max_v is not None and max_v < min_v:
                        continue
                    params = ClassicalParams(low, high, min_v, max_v, score, sigma, channel)
                    preds = {c: select(comps[c], params, n_classes) for c in cases}
                    value = float(map_from_matches(match_detections(preds, ground_truth, class_names)).map)
                    value = 0.0 if value != value else value  # no ground truth at all: NaN counts as 0
                    scored.append((value, order, params))
                    order += 1
                    if best is None or value > best[0]:
                        best = (value, params)
    assert best is not None
    top = sorted(scored, key=lambda t: (-t[0], t[1]))[:10]
    return TuningResult(best[1], best[0], len(scored), edges_of, [(v, p) for v, _, p in top])
