"""Nested, seeded, stratified subsets of a training split: the low-data regimes (``--train-fraction``).

One seeded ordering of the training cases is computed and every fraction takes a prefix of it, so the 10%
cases are inside the 25% cases, which are inside the 50% cases, and so on (learning curves compare the same
cases, only more of them). The ordering is stratified:

1. **Class cover first.** The ordering starts with a few cases that together hold an object of every class
   of the training split (greedy set cover: repeatedly the case adding the most missing classes, ties in the
   seeded order). A fraction never gets fewer cases than this cover, so every class has positives even at
   10% of a small split.
2. **Proportional interleaving of strata.** The other cases are grouped by stratum (the set of classes a
   case holds and its number of objects, binned 0, 1, 2-3, 4-7, 8+), shuffled inside each stratum by the
   seed, and interleaved so that every prefix holds each stratum in proportion to its size: the next case
   comes from the stratum whose taken share ``(taken + 0.5) / size`` is smallest (ties in the seeded
   stratum order), the largest-remainder idea of proportional allocation.

A fraction ``F`` keeps ``max(ceil(F * N), cover)`` cases (at least one). The ordering depends only on the
case ids, their objects and the subset seed (not on the training seed), so runs of every architecture,
pre-training and training seed at one fraction train on the same cases. Validation and test splits are not
touched. The choice is written to the run folder as ``training_subset.json`` and into ``result.json``'s
provenance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SUBSET_FILE", "TrainingSubset", "check_fraction", "nested_order", "objects_bin", "select_subset"]

SUBSET_FILE = "training_subset.json"


def check_fraction(fraction: float) -> float:
    """``fraction`` as a float in (0, 1]; a ValueError otherwise."""
    value = float(fraction)
    if not (0.0 < value <= 1.0) or math.isnan(value):
        raise ValueError(f"training fraction must be in (0, 1], got {fraction}")
    return value


def objects_bin(count: int) -> str:
    """The objects-per-case bin of the stratification: 0, 1, 2-3, 4-7, 8+."""
    if count <= 1:
        return str(max(count, 0))
    if count < 4:
        return "2-3"
    return "4-7" if count < 8 else "8+"


def _stratum(classes: Sequence[int]) -> tuple[tuple[int, ...], str]:
    return tuple(sorted(set(int(c) for c in classes))), objects_bin(len(classes))


def nested_order(case_classes: Mapping[str, Sequence[int]], seed: int = 0) -> tuple[list[str], int]:
    """The seeded ordering of the cases and the length of its class cover (see the module docstring).

    ``case_classes`` maps each training case to the class index of every object it holds (one entry per
    object). The result does not depend on the mapping's order.
    """
    ids = sorted(case_classes)
    rng = np.random.default_rng(seed)
    shuffled = [ids[i] for i in rng.permutation(len(ids))]
    rank = {c: i for i, c in enumerate(shuffled)}
    # 1. greedy class cover, ties in the seeded order
    missing = set().union(*(set(int(k) for k in case_classes[c]) for c in ids)) if ids else set()
    cover: list[str] = []
    while missing:
        best = max(shuffled, key=lambda c: (len(missing & set(int(k) for k in case_classes[c])), -rank[c]))
        gained = missing & set(int(k) for k in case_classes[best])
        if not gained:  # cannot happen: every missing class is held by some case
            break
        cover.append(best)
        missing -= gained
        shuffled.remove(best)
    # 2. proportional interleaving of the strata of the remaining cases
    strata: dict[tuple, list[str]] = {}
    for c in shuffled:  # seeded order inside each stratum
        strata.setdefault(_stratum(case_classes[c]), []).append(c)
    names = list(strata)  # strata in order of their first seeded case: seeded tie-break
    taken = dict.fromkeys(names, 0)
    rest: list[str] = []
    for _ in range(len(shuffled)):
        open_ = [s for s in names if taken[s] < len(strata[s])]
        nxt = min(open_, key=lambda s: ((taken[s] + 0.5) / len(strata[s]), names.index(s)))
        rest.append(strata[nxt][taken[nxt]])
        taken[nxt] += 1
    return cover + rest, len(cover)


@dataclass(frozen=True)
class TrainingSubset:
    """The training cases of one fraction, with what is needed to reproduce and audit the choice."""

    fraction: float
    seed: int
    case_ids: tuple[str, ...]
    n_available: int
    cover: int

    def to_json(self) -> dict:
        return {
            "fraction": self.fraction,
            "seed": self.seed,
            "n_available": self.n_available,
            "n_selected": len(self.case_ids),
            "class_cover_cases": self.cover,
            "method": "nested prefix of one seeded ordering: class cover, then strata (classes, objects bin) "
            "interleaved in proportion (benchmark.training.subsets)",
            "case_ids": list(self.case_ids),
        }


def select_subset(case_classes: Mapping[str, Sequence[int]], fraction: float, seed: int = 0) -> TrainingSubset:
    """The cases of ``fraction`` (a prefix of :func:`nested_order`); fraction 1 keeps every case."""
    fraction = check_fraction(fraction)
    order, cover = nested_order(case_classes, seed)
    n = len(order) if fraction >= 1.0 else max(math.ceil(fraction * len(order) - 1e-9), cover, 1)
    return TrainingSubset(fraction, int(seed), tuple(order[: min(n, len(order))]), len(order), cover)
