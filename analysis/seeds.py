"""The noise floor: seed-to-seed spread of each model's test metrics, beside its bootstrap interval.

The bootstrap interval says how much a score moves when the *test images* are resampled; training the same
model with another seed moves it too. A pre-training effect smaller than the seed spread is not evidence. For
every dataset, model and metric this module reports the ranked run's value, its 95% bootstrap percentile
interval (from the replicates of :mod:`analysis.bootstrap`), and over the training seeds in the store (the
selection's ``seed_runs``: same profile, fold and options) their count, mean, sample standard deviation, minimum
and maximum, computed from the metric values each run recorded in ``result.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SEED_COLUMNS", "seed_spread"]

SEED_COLUMNS = ["n_seeds", "seeds", "seed_mean", "seed_sd", "seed_min", "seed_max"]
_MODEL = ["dataset", "architecture", "pretraining"]


def seed_spread(
    seed_runs: pd.DataFrame | None,
    full: pd.DataFrame,
    replicates: pd.DataFrame | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """One row per (dataset, model, metric) of ``full``: value, bootstrap interval and the spread over seeds.

    ``seed_runs`` has the store index columns (dataset, architecture, pretraining, seed and one column per
    metric); ``full`` and ``replicates`` are :class:`analysis.bootstrap.BootstrapResult` frames. With one seed
    the spread columns hold that seed's value and ``seed_sd`` is NaN.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    out = full[[*_MODEL, "metric", "value"]].copy()
    if replicates is not None and not replicates.empty:
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        ci = replicates.groupby([*_MODEL, "metric"])["value"].quantile([lo, hi]).unstack()
        ci.columns = ["boot_ci_low", "boot_ci_high"]
        out = out.join(ci, on=[*_MODEL, "metric"])
    else:
        out["boot_ci_low"] = out["boot_ci_high"] = np.nan
    rows = []
    metrics = list(dict.fromkeys(full["metric"]))
    if seed_runs is not None and not seed_runs.empty:
        present = [m for m in metrics if m in seed_runs.columns]
        long = seed_runs.melt(id_vars=[*_MODEL, "seed"], value_vars=present, var_name="metric", value_name="v")
        for key, group in long.groupby([*_MODEL, "metric"], sort=True):
            values = group["v"].astype(float).to_numpy()
            rows.append(
                {
                    **dict(zip([*_MODEL, "metric"], key, strict=True)),
                    "n_seeds": int(len(values)),
                    "seeds": ",".join(str(int(s)) for s in sorted(group["seed"])),
                    "seed_mean": float(np.mean(values)),
                    "seed_sd": float(np.std(values, ddof=1)) if len(values) > 1 else float("nan"),
                    "seed_min": float(np.min(values)),
                    "seed_max": float(np.max(values)),
                }
            )
    spread = pd.DataFrame(rows, columns=[*_MODEL, "metric", *SEED_COLUMNS])
    out = out.merge(spread, on=[*_MODEL, "metric"], how="left")
    out["boot_ci_width"] = out["boot_ci_high"] - out["boot_ci_low"]
    return out.sort_values([*_MODEL, "metric"], ignore_index=True)
