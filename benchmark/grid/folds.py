"""Which folds a grid runs per dataset (``benchmark run --folds 0,1,2`` or ``--folds all``).

A dataset's cross-validation folds: for a synthetic twin those of its planned splits (S06: 10 over train +
val, S07 and S08: 5; the twins' folds share the one test split), for a converted dataset those its converter
writes (D06 LUNA16: the ten official subsets, each fold testing on its own subset; D07 PN9 and D08 CTA-A: five
seeded folds over train + val). Datasets without folds (D01-D05 and their twins) run their official split once,
and the plan says so. Without ``--folds`` every dataset runs its official split (``fold=None``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from benchmark.runner import SuiteConfig

__all__ = ["ALL_FOLDS", "REAL_FOLDS", "dataset_fold_count", "dataset_folds", "fold_notes", "parse_folds"]

ALL_FOLDS = "all"
#: Folds of the converted datasets (benchmark/converters: luna16 ten subsets, pn9 and cta_a ``NUM_FOLDS``).
REAL_FOLDS = {"D06": 10, "D07": 5, "D08": 5}


def parse_folds(text: str | None) -> tuple[int, ...] | str:
    """``"0,1,2"`` -> ``(0, 1, 2)``, ``"all"`` -> ``"all"``, ``None`` -> ``()``; ``ValueError`` otherwise."""
    if text is None:
        return ()
    if text.strip().lower() == ALL_FOLDS:
        return ALL_FOLDS
    parts = [t.strip() for t in text.split(",") if t.strip()]
    try:
        folds = tuple(int(t) for t in parts)
    except ValueError:
        raise ValueError(f"--folds {text!r}: give comma-separated fold numbers (0,1,2) or 'all'") from None
    if not folds or any(f < 0 for f in folds) or len(set(folds)) != len(folds):
        raise ValueError(f"--folds {text!r}: give distinct fold numbers >= 0 (0,1,2) or 'all'")
    return folds


def dataset_fold_count(cfg: SuiteConfig, dataset: str) -> int:
    """How many cross-validation folds ``dataset`` (a twin id or a dataset id) has; 0 without folds."""
    if cfg.real:
        return REAL_FOLDS.get(dataset, 0)
    from benchmark.experiment import scale_of_profile
    from benchmark.synthetic.generate import planned_splits
    from benchmark.synthetic.twins import get_twin

    return len(planned_splits(get_twin(dataset), scale_of_profile(cfg.profile)).folds)


def dataset_folds(cfg: SuiteConfig, dataset: str) -> tuple[int | None, ...]:
    """The folds the grid runs on ``dataset``: ``(None,)`` (the official split) or the requested folds it has."""
    if not cfg.folds:
        return (None,)
    n = dataset_fold_count(cfg, dataset)
    if n == 0:
        return (None,)
    wanted = range(n) if cfg.folds == ALL_FOLDS else cfg.folds
    return tuple(f for f in wanted if f < n) or (None,)


def fold_notes(cfg: SuiteConfig, datasets: list[str]) -> list[str]:
    """One line per dataset whose folds differ from the request (no folds, or fewer than asked)."""
    if not cfg.folds:
        return []
    notes = []
    for dataset in datasets:
        n = dataset_fold_count(cfg, dataset)
        if n == 0:
            notes.append(f"{dataset}: no cross-validation folds; runs its official split once")
            continue
        if cfg.folds != ALL_FOLDS:
            beyond = [f for f in cfg.folds if f >= n]
            if beyond:
                kept = dataset_folds(cfg, dataset)
                what = f"runs folds {','.join(map(str, kept))}" if kept != (None,) else "runs its official split"
                notes.append(f"{dataset}: {n} folds, no fold {','.join(map(str, beyond))}; {what}")
    return notes
