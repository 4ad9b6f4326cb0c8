"""Did any model learn? The "no model learned" rule of the report and the ranking figures.

A ranking of models that all score ~0 is a tie of zeros, not a result: the `tiny` smoke profile, for example,
trains a few steps and every detector stays at the constant-prediction optimum. The rule: on a dataset **no
model learned** when every model's full-data mAP@0.1 on the test split is below :data:`NO_LEARNING_MAP`
(0.01, i.e. 1 %). Reference rows (the classical baseline, :func:`analysis.store.is_reference`) do not count:
they learn nothing by construction, so a classical row that scores 0.4 beside trained models at 0 still means
that no model learned. The whole store gets the verdict when it holds on every analysed dataset; the report
then says ``no model learned: profile <profile>`` and the ranking figures print that instead of drawing a tie.
Where a metric is NaN (a dataset without ground truth) the dataset is not judged.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from analysis.store import is_reference

__all__ = ["NO_LEARNING_MAP", "LearningVerdict", "learning_verdict"]

NO_LEARNING_MAP = 0.01  # mAP@0.1 below this (1 %) for every model of a dataset: no model learned there
_METRIC = "map@0.1"


@dataclass(frozen=True)
class LearningVerdict:
    """Which datasets no model learned on (``datasets``), and whether that is every dataset (``everywhere``)."""

    datasets: tuple[str, ...] = ()
    everywhere: bool = False
    profile: str = "unknown"
    best: dict[str, float] = field(default_factory=dict)  # dataset -> best model mAP@0.1 (references left out)

    @property
    def message(self) -> str:
        """``no model learned: profile tiny`` (every dataset), a per-dataset line, or '' when models learned."""
        if self.everywhere:
            return f"no model learned: profile {self.profile}"
        if self.datasets:
            return f"no model learned on {', '.join(self.datasets)}: profile {self.profile}"
        return ""

    def dataset_message(self, dataset: str) -> str:
        return f"no model learned: profile {self.profile}" if dataset in self.datasets else ""

    def explanation(self) -> str:
        """The rule and the evidence, one sentence (for the report)."""
        shown = ", ".join(f"{d} {100 * v:.2f} %" for d, v in self.best.items() if d in self.datasets)
        return (f"every model's test mAP@0.1 is below {100 * NO_LEARNING_MAP:g} % (best per dataset: {shown}); "
                "the ranks are ties of near-zero scores, not a result")

    def to_dict(self) -> dict:
        return {
            "message": self.message,
            "everywhere": self.everywhere,
            "datasets": list(self.datasets),
            "tolerance_map@0.1": NO_LEARNING_MAP,
            "best_model_map@0.1": self.best,
            "profile": self.profile,
        }


def learning_verdict(full: pd.DataFrame, profile: str | None = None) -> LearningVerdict:
    """The verdict for a bootstrap's ``full`` frame (dataset, architecture, pretraining, metric, value)."""
    rows = full[(full["metric"] == _METRIC) & ~full["architecture"].map(is_reference)]
    rows = rows.dropna(subset=["value"])
    if rows.empty:
        return LearningVerdict(profile=str(profile or "unknown"))
    best = rows.groupby("dataset")["value"].max().sort_index()
    failed = tuple(d for d, v in best.items() if v < NO_LEARNING_MAP)
    return LearningVerdict(
        datasets=failed,
        everywhere=len(failed) == len(best),
        profile=str(profile or "unknown"),
        best={str(d): float(v) for d, v in best.items()},
    )
