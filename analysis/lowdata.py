"""Data efficiency: learning curves over the training fraction, label efficiency and the pre-training gain per fraction.

Reads the runs of a results store that differ only in their training fraction (``--train-fraction`` /
``--fractions``; RunKey option ``fraction``, missing = 1.0) for one fine-tuning strategy (default ``full``).
Per dataset, every (architecture, pre-training, fraction) is bootstrapped with the **same** resampled test sets
(:func:`analysis.bootstrap.bootstrap_dataset`: the runs are paired, all fractions predict the same test
split), so curves, differences and label efficiencies get paired percentile intervals (2.5% and 97.5% of the
replicates). The ``mean`` rows average the datasets' values replicate by replicate.

**Training seeds.** When the store holds several training seeds of a (model, fraction) cell (``--seeds``), the
value is their mean and the interval comes from a two-level bootstrap: each replicate resamples the test images
(shared by every model, as above) *and* draws the seeds with replacement, independently per cell, averaging the
drawn seeds' replicate values (the hierarchical bootstrap for nested data, e.g. Saravanan et al. 2020,
"Application of the hierarchical bootstrap to multi-level data in neuroscience"). So the band holds the
seed-to-seed spread as well as the test-set uncertainty -- what a pre-training effect has to exceed on a laptop
budget, where single cells move by tens of points between seeds. ``n_seeds`` and ``seed_sd`` (the standard
deviation of the cell's full-test values over its seeds) are reported beside. One seed per cell: the plain
image bootstrap.

* **Learning curve**: mAP@0.1 and FROC@0.1 against the fraction, with the 95% bootstrap band.
* **Gain**: pre-trained minus scratch (``fixed``, same architecture, same fraction, same strategy), with its
  interval; comparing the gain at small and at full fractions says whether pre-training helps more when labels
  are scarce.
* **Low-fraction contrast**: the gain at the smallest fraction minus the gain at 1.0, with its paired interval
  and a verdict (``more at low fractions``, ``less at low fractions``, ``not resolved``): the study's question
  "does pre-training matter more when labels are scarce?" answered in one line per model and metric.
* **Label efficiency**: the smallest fraction at which a pre-trained model reaches the full-data scratch model's
  value (``fixed`` at fraction 1.0, ``full`` fine-tuning), linearly interpolated between the measured fractions
  (the first measured fraction when it is already reached there); ``not reached`` when no measured fraction
  reaches it. Its interval: the same computed on every replicate (a replicate that never reaches it counts as
  above every fraction, so the upper bound may be ``not reached``), with the share of replicates that reach it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from analysis.bootstrap import METRICS, bootstrap_dataset, dataset_generator
from analysis.store import (
    LOWDATA_OPTIONS,
    MATCH_TABLE_FILE,
    REFERENCE_ARCHITECTURES,
    index_store,
    is_lowdata,
    load_match_table,
)

__all__ = [
    "LOWDATA_OPTIONS",
    "bootstrap_fractions",
    "contrast_markdown",
    "efficiency_markdown",
    "gain_figure",
    "gain_markdown",
    "gain_table",
    "has_lowdata",
    "is_lowdata",
    "label_efficiency",
    "learning_curve_figure",
    "learning_curves",
    "learning_curves_markdown",
    "lowdata_markdown",
    "low_fraction_contrast",
    "lowdata_runs",
    "write_lowdata",
]

SCRATCH = "fixed"
_SEP = "|"
_NEVER = 10.0  # stands for 'not reached' (above every fraction) while taking percentiles


def _options(text: str) -> dict:
    return json.loads(text) if isinstance(text, str) and text else {}


def lowdata_runs(
    root: str | Path, profile: str | None = None, seed: int | None = None, finetune: str = "full"
) -> pd.DataFrame:
    """The runs of one profile and strategy with a ``fraction`` column (one per model, fraction and training seed).

    ``seed`` keeps one training seed; ``None`` (default) every seed of the store. Runs with options other than the
    fraction's and the strategy's (TTA, other weights, ...) are left out.
    """
    runs = index_store(root)
    runs = runs[~runs["architecture"].isin(REFERENCE_ARCHITECTURES)]
    if profile is not None:
        runs = runs[runs["profile"] == profile]
    if seed is not None:
        runs = runs[runs["seed"] == seed]
    opts = runs["options"].map(_options)
    strategy_keys = {"finetune", "lora_rank", "lora_alpha", "partial_stages"}
    keep = opts.map(
        lambda o: o.get("finetune", "full") == finetune
        and set(o) <= {"fraction", "subset_seed", *strategy_keys}
        and int(o.get("subset_seed", 0)) == 0
    )
    runs = runs[keep].copy()
    runs["fraction"] = opts[keep].map(lambda o: float(o.get("fraction", 1.0)))
    return runs.reset_index(drop=True)


def has_lowdata(root: str | Path, profile: str | None = None, seed: int | None = None) -> bool:
    """Whether the store holds runs of several training fractions (then ``benchmark analyze`` adds this report)."""
    runs = lowdata_runs(root, profile, seed)
    return runs["fraction"].nunique() > 1 if not runs.empty else False


def _band(values: np.ndarray) -> tuple[float, float]:
    return float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def bootstrap_fractions(
    runs: pd.DataFrame, n_replicates: int = 1000, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Full values and replicates per (dataset, architecture, pretraining, fraction, metric); ``mean`` added.

    ``runs`` is :func:`lowdata_runs`' frame. Every fraction and model of a dataset is resampled with the same
    replicates (paired); cells of several training seeds are averaged over them with the two-level bootstrap of
    the module docstring (``full`` then carries ``n_seeds`` and ``seed_sd``). The two frames feed
    :func:`learning_curves`, :func:`gain_table` and :func:`label_efficiency`.
    """
    fulls, reps = [], []
    if "seed" not in runs.columns:
        runs = runs.assign(seed=0)
    for dataset, group in runs.groupby("dataset"):
        tables = {
            (r.architecture, f"{r.pretraining}{_SEP}{r.fraction:g}{_SEP}{int(r.seed)}"): load_match_table(
                Path(r.path) / MATCH_TABLE_FILE
            )
            for r in group.itertuples()
        }
        full, rep, _ = bootstrap_dataset(tables, n_replicates, seed, str(dataset), METRICS)
        fulls.append(full)
        reps.append(rep)
    full = pd.concat(fulls, ignore_index=True).drop(columns="rank")
    rep = pd.concat(reps, ignore_index=True).drop(columns="rank")
    for frame in (full, rep):
        split = frame["pretraining"].str.split(_SEP, n=2, expand=True)
        frame["pretraining"], frame["fraction"], frame["seed"] = split[0], split[1].astype(float), split[2].astype(int)
    full, rep = _average_seeds(full, rep, seed)
    keys = ["architecture", "pretraining", "fraction", "metric"]
    n_datasets = full["dataset"].nunique()
    if n_datasets > 1:  # models present on every dataset only
        counts = full.groupby(keys)["dataset"].transform("nunique")
        mean_full = (
            full[counts == n_datasets]
            .groupby(keys, as_index=False)
            .agg(value=("value", "mean"), n_seeds=("n_seeds", "min"))
            .assign(dataset="mean", seed_sd=np.nan)
        )
        rc = rep.groupby(keys)["dataset"].transform("nunique")
        mean_rep = (
            rep[rc == n_datasets].groupby([*keys, "replicate"], as_index=False)["value"].mean().assign(dataset="mean")
        )
        full, rep = pd.concat([full, mean_full], ignore_index=True), pd.concat([rep, mean_rep], ignore_index=True)
    return full, rep


def _average_seeds(full: pd.DataFrame, rep: pd.DataFrame, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Collapse the ``seed`` column: mean over seeds, two-level bootstrap replicates (module docstring)."""
    keys = ["dataset", "architecture", "pretraining", "fraction", "metric"]
    agg = full.groupby(keys, as_index=False).agg(
        value=("value", "mean"), n_seeds=("seed", "nunique"), seed_sd=("value", lambda v: v.std(ddof=1))
    )
    out = []
    for key, group in rep.groupby(keys, sort=True):
        wide = group.pivot_table(index="replicate", columns="seed", values="value").sort_index()
        values = wide.to_numpy()
        if values.shape[1] > 1:  # draw the seeds with replacement per replicate, seeded by the cell
            rng = dataset_generator(seed, "|".join(str(k) for k in key))
            draws = rng.integers(0, values.shape[1], size=values.shape)
            values = np.take_along_axis(values, draws, axis=1)
        out.append(pd.DataFrame({**dict(zip(keys, key, strict=True)), "replicate": wide.index,
                                 "value": values.mean(axis=1)}))
    return agg, pd.concat(out, ignore_index=True)


def learning_curves(full: pd.DataFrame, rep: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, architecture, pretraining, metric, fraction): value and 95% band."""
    keys = ["dataset", "architecture", "pretraining", "metric", "fraction"]
    bands = rep.groupby(keys)["value"].apply(lambda v: _band(v.to_numpy())).rename("band").reset_index()
    out = full[[*keys, "value", "n_seeds", "seed_sd"]].merge(bands, on=keys)
    out["lo"] = out["band"].map(lambda b: b[0])
    out["hi"] = out["band"].map(lambda b: b[1])
    return out.drop(columns="band").sort_values(keys, ignore_index=True)


def _paired(rep: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return rep.pivot_table(index=[*keys, "replicate"], columns="pretraining", values="value").reset_index()


def gain_table(full: pd.DataFrame, rep: pd.DataFrame, scratch: str = SCRATCH) -> pd.DataFrame:
    """Pre-trained minus ``scratch`` per (dataset, architecture, metric, fraction), with paired 95% intervals."""
    keys = ["dataset", "architecture", "metric", "fraction"]
    f = full.pivot_table(index=keys, columns="pretraining", values="value").reset_index()
    r = _paired(rep, keys)
    rows = []
    if scratch not in f.columns:
        return pd.DataFrame(columns=[*keys, "pretraining", "gain", "lo", "hi"])
    for pre in [c for c in f.columns if c not in (*keys, scratch)]:
        for row in f.itertuples(index=False):
            d = row._asdict()
            value = d[pre] - d[scratch]
            if np.isnan(value):
                continue
            sel = r[(r[keys] == pd.Series({k: d[k] for k in keys})).all(axis=1)]
            lo, hi = _band((sel[pre] - sel[scratch]).dropna().to_numpy())
            rows.append({**{k: d[k] for k in keys}, "pretraining": pre, "gain": value, "lo": lo, "hi": hi})
    frame = pd.DataFrame(rows, columns=[*keys, "pretraining", "gain", "lo", "hi"])
    return frame.sort_values(["dataset", "architecture", "pretraining", "metric", "fraction"], ignore_index=True)


def low_fraction_contrast(full: pd.DataFrame, rep: pd.DataFrame, scratch: str = SCRATCH) -> pd.DataFrame:
    """Does pre-training help more at the smallest fraction than with all labels? Per (dataset, architecture,
    pre-trained setting, metric): ``difference`` = gain at the smallest measured fraction minus gain at 1.0, its
    paired 95% interval (the same replicates give both gains), and ``verdict``: ``more at low fractions`` when the
    interval lies above 0, ``less at low fractions`` below 0, ``not resolved`` when it contains 0."""
    keys = ["dataset", "architecture", "metric"]
    columns = [*keys, "pretraining", "low_fraction", "gain_low", "gain_full", "difference", "lo", "hi", "verdict"]
    if scratch not in set(full["pretraining"]):
        return pd.DataFrame(columns=columns)
    value = full.set_index([*keys, "pretraining", "fraction"])["value"]
    wide = rep.pivot_table(index=[*keys, "fraction", "replicate"], columns="pretraining", values="value")
    rows = []
    for (dataset, arch, metric), group in full.groupby(keys):
        fractions = sorted(set(group["fraction"]))
        if len(fractions) < 2 or fractions[-1] != 1.0:
            continue
        low = fractions[0]
        for pre in sorted(set(group["pretraining"]) - {scratch}):
            try:
                gain_low = value[(dataset, arch, metric, pre, low)] - value[(dataset, arch, metric, scratch, low)]
                gain_full = value[(dataset, arch, metric, pre, 1.0)] - value[(dataset, arch, metric, scratch, 1.0)]
                w_low, w_full = wide.loc[(dataset, arch, metric, low)], wide.loc[(dataset, arch, metric, 1.0)]
            except KeyError:  # a model without both fractions
                continue
            diff = ((w_low[pre] - w_low[scratch]) - (w_full[pre] - w_full[scratch])).dropna().to_numpy()
            lo, hi = _band(diff)
            verdict = "more at low fractions" if lo > 0 else "less at low fractions" if hi < 0 else "not resolved"
            rows.append({"dataset": dataset, "architecture": arch, "metric": metric, "pretraining": pre,
                         "low_fraction": low, "gain_low": gain_low, "gain_full": gain_full,
                         "difference": gain_low - gain_full, "lo": lo, "hi": hi, "verdict": verdict})
    return pd.DataFrame(rows, columns=columns)


def contrast_markdown(contrast: pd.DataFrame) -> str:
    """One sentence per row of :func:`low_fraction_contrast` (% points)."""
    lines = [f"Does pre-training help more at low fractions? (gain over `{SCRATCH}` at the smallest fraction minus "
             "the gain at 1.0, % points, paired 95% interval over test images and training seeds):", ""]
    for r in contrast.itertuples(index=False):
        lines.append(
            f"- {r.dataset}, {r.architecture}, {r.pretraining}, {r.metric}: gain {100 * r.gain_low:+.1f} at "
            f"{r.low_fraction:g} vs {100 * r.gain_full:+.1f} at 1.0, difference {100 * r.difference:+.1f} "
            f"({100 * r.lo:+.1f} to {100 * r.hi:+.1f}): **{r.verdict}**."
        )
    if contrast.empty:
        lines.append("- no pre-trained model with both the smallest fraction and 1.0 beside `fixed`.")
    return "\n".join(lines)


def _crossing(fractions: np.ndarray, values: np.ndarray, target: float) -> float:
    """Smallest fraction (linear interpolation) where ``values`` reach ``target``; inf when never."""
    reached = np.nonzero(values >= target)[0]
    if not len(reached):
        return float("inf")
    i = int(reached[0])
    if i == 0:
        return float(fractions[0])
    f0, f1, v0, v1 = fractions[i - 1], fractions[i], values[i - 1], values[i]
    return float(f0 + (target - v0) / (v1 - v0) * (f1 - f0))


def _fraction_interval(per_rep: np.ndarray) -> tuple[float, float]:
    """2.5% and 97.5% percentiles of replicate crossings, 'not reached' (inf) kept as inf (no interpolation)."""
    if not len(per_rep):
        return float("nan"), float("nan")
    capped = np.where(np.isfinite(per_rep), per_rep, _NEVER)
    lo = float(np.percentile(capped, 2.5, method="lower"))
    hi = float(np.percentile(capped, 97.5, method="higher"))
    return (lo if lo < _NEVER else float("inf")), (hi if hi < _NEVER else float("inf"))


def label_efficiency(full: pd.DataFrame, rep: pd.DataFrame, scratch: str = SCRATCH) -> pd.DataFrame:
    """Per (dataset, architecture, pre-trained setting, metric): the fraction reaching full-data scratch, with
    interval and the share of replicates that reach it (see the module docstring)."""
    rows = []
    for (dataset, arch, metric), group in full.groupby(["dataset", "architecture", "metric"]):
        target_row = group[(group["pretraining"] == scratch) & (group["fraction"] == 1.0)]
        if target_row.empty:
            continue
        target = float(target_row["value"].iloc[0])
        grep = rep[(rep["dataset"] == dataset) & (rep["architecture"] == arch) & (rep["metric"] == metric)]
        target_rep = grep[(grep["pretraining"] == scratch) & (grep["fraction"] == 1.0)].set_index("replicate")["value"]
        for pre in sorted(set(group["pretraining"]) - {scratch}):
            curve = group[group["pretraining"] == pre].sort_values("fraction")
            fractions = curve["fraction"].to_numpy()
            estimate = _crossing(fractions, curve["value"].to_numpy(), target)
            wide = grep[grep["pretraining"] == pre].pivot_table(index="replicate", columns="fraction", values="value")
            wide = wide.reindex(columns=fractions)
            per_rep = np.array(
                [_crossing(fractions, wide.loc[i].to_numpy(), float(target_rep.loc[i])) for i in wide.index]
            )
            finite = np.isfinite(per_rep)
            lo, hi = _fraction_interval(per_rep)
            rows.append({
                "dataset": dataset, "architecture": arch, "pretraining": pre, "metric": metric,
                "scratch_full_data": target, "fractions": ",".join(f"{f:g}" for f in fractions),
                "label_efficiency": estimate, "lo": float(lo), "hi": float(hi),
                "reached_share": float(finite.mean()) if len(per_rep) else np.nan,
            })
    columns = ["dataset", "architecture", "pretraining", "metric", "scratch_full_data", "fractions",
               "label_efficiency", "lo", "hi", "reached_share"]
    return pd.DataFrame(rows, columns=columns)


def _fmt_fraction(value: float) -> str:
    return "not reached" if not np.isfinite(value) else f"{value:.2f}"


def learning_curves_markdown(curves: pd.DataFrame) -> str:
    """The learning-curve table of :func:`learning_curves` (values and bands in %)."""
    lines = ["Learning curves (value: mean over the training seeds; 95% band over test images and seeds; seed sd: "
             "standard deviation over the seeds; in %):", ""]
    lines += ["| dataset | model | metric | fraction | value | band | seeds | seed sd |", "|---" * 8 + "|"]
    for r in curves.itertuples(index=False):
        sd = f"{100 * r.seed_sd:.1f}" if np.isfinite(r.seed_sd) else "-"
        lines.append(
            f"| {r.dataset} | {r.architecture}__{r.pretraining} | {r.metric} | {r.fraction:g} | "
            f"{100 * r.value:.1f} | {100 * r.lo:.1f}-{100 * r.hi:.1f} | {int(r.n_seeds)} | {sd} |"
        )
    return "\n".join(lines)


def gain_markdown(gains: pd.DataFrame) -> str:
    """The gain table of :func:`gain_table` (% points, paired interval)."""
    lines = [f"Gain of pre-training over `{SCRATCH}` at each fraction (in % points, paired 95% interval):", ""]
    lines += ["| dataset | architecture | pre-training | metric | fraction | gain | interval |", "|---" * 7 + "|"]
    for r in gains.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.architecture} | {r.pretraining} | {r.metric} | {r.fraction:g} | "
            f"{100 * r.gain:+.1f} | {100 * r.lo:+.1f} to {100 * r.hi:+.1f} |"
        )
    return "\n".join(lines)


def efficiency_markdown(efficiency: pd.DataFrame) -> str:
    """The label-efficiency table of :func:`label_efficiency` (target in %, fractions as shares)."""
    lines = [f"Label efficiency: smallest fraction reaching full-data `{SCRATCH}` (interpolated):", ""]
    lines += ["| dataset | architecture | pre-training | metric | target | fraction | interval | replicates reaching |",
              "|---|---|---|---|---|---|---|---|"]
    for r in efficiency.itertuples(index=False):
        lines.append(
            f"| {r.dataset} | {r.architecture} | {r.pretraining} | {r.metric} | {100 * r.scratch_full_data:.1f} | "
            f"{_fmt_fraction(r.label_efficiency)} | {_fmt_fraction(r.lo)} to {_fmt_fraction(r.hi)} | "
            f"{100 * r.reached_share:.0f}% |"
        )
    return "\n".join(lines)


def lowdata_markdown(
    curves: pd.DataFrame, gains: pd.DataFrame, efficiency: pd.DataFrame, contrast: pd.DataFrame | None = None
) -> str:
    """The report's tables (values in %, fractions as shares) and, given ``contrast``, its verdicts."""
    parts = ["# Data efficiency"]
    if contrast is not None:
        parts.append(contrast_markdown(contrast))
    parts += [learning_curves_markdown(curves), gain_markdown(gains)]
    parts.append(efficiency_markdown(efficiency))
    return "\n\n".join(parts) + "\n"


def learning_curve_figure(curves: pd.DataFrame):  # noqa: ANN201 - matplotlib Figure
    """One panel per (dataset, metric): a line and band per model, the fraction on a log axis."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels = sorted(set(zip(curves["dataset"], curves["metric"], strict=True)))
    fig = Figure(figsize=(4.2 * min(len(panels), 4), 3.4 * ((len(panels) + 3) // 4)))
    axes = fig.subplots((len(panels) + 3) // 4, min(len(panels), 4), squeeze=False).ravel()
    for ax, (dataset, metric) in zip(axes, panels, strict=False):
        sel = curves[(curves["dataset"] == dataset) & (curves["metric"] == metric)]
        for (arch, pre), g in sel.groupby(["architecture", "pretraining"]):
            g = g.sort_values("fraction")
            (line,) = ax.plot(g["fraction"], 100 * g["value"], marker="o", label=f"{arch} / {pre}")
            ax.fill_between(g["fraction"], 100 * g["lo"], 100 * g["hi"], color=line.get_color(), alpha=0.15)
        _label_panel(ax, dataset, metric, f"{metric} (%)")
    return _finish_panels(fig, axes, len(panels))


def _label_panel(ax, dataset: str, metric: str, ylabel: str) -> None:  # noqa: ANN001 - matplotlib Axes
    """Log fraction axis, title and axis labels of one (dataset, metric) panel."""
    ax.set_xscale("log")
    ax.set_title(f"{dataset}: {metric}")
    ax.set_xlabel("training fraction")
    ax.set_ylabel(ylabel)


def _finish_panels(fig, axes, n_panels: int):  # noqa: ANN001, ANN202 - matplotlib Figure and Axes
    """Hide the unused cells of the panel grid, put the legend on the first panel, lay the figure out."""
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    if n_panels:
        axes[0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def gain_figure(gains: pd.DataFrame):  # noqa: ANN201 - matplotlib Figure
    """One panel per (dataset, metric): the gain over ``fixed`` per pre-trained model against the fraction, with
    its paired 95% interval as error bars and the zero line (no gain); the fraction on a log axis, the models
    shifted a little along it so that their bars stay apart.

    A percentile interval need not contain the full-data gain; its bar is then cut at the point (matplotlib
    draws no negative error lengths), the table beside it keeps both ends."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    panels = sorted(set(zip(gains["dataset"], gains["metric"], strict=True)))
    n_cols = max(min(len(panels), 4), 1)
    fig = Figure(figsize=(4.2 * n_cols, 3.4 * max((len(panels) + 3) // 4, 1)))
    axes = fig.subplots(max((len(panels) + 3) // 4, 1), n_cols, squeeze=False).ravel()
    for ax, (dataset, metric) in zip(axes, panels, strict=False):
        sel = gains[(gains["dataset"] == dataset) & (gains["metric"] == metric)]
        groups = list(sel.groupby(["architecture", "pretraining"]))
        for i, ((arch, pre), g) in enumerate(groups):
            g = g.sort_values("fraction")
            y = 100 * g["gain"].to_numpy()
            err = np.vstack([y - 100 * g["lo"].to_numpy(), 100 * g["hi"].to_numpy() - y])
            dodge = 1.0 + 0.04 * (i - (len(groups) - 1) / 2)  # side by side, so one model's bar hides no other's
            ax.errorbar(g["fraction"].to_numpy() * dodge, y, yerr=np.clip(err, 0, None), marker="o", capsize=3,
                        label=f"{arch} / {pre}")
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        _label_panel(ax, dataset, metric, f"gain over {SCRATCH} (% points)")
    return _finish_panels(fig, axes, len(panels))


def write_lowdata(
    root: str | Path,
    out_dir: str | Path,
    n_replicates: int = 1000,
    seed: int = 0,
    profile: str | None = None,
    run_seed: int | None = None,
    finetune: str = "full",
    figures: bool = True,
    formats: Sequence[str] = ("png",),
) -> list[Path]:
    """Write ``learning_curves.csv``, ``gain.csv``, ``label_efficiency.csv``, ``lowdata.md`` (and the figure);
    ``run_seed`` keeps one training seed, ``None`` averages every seed of the store."""
    from benchmark.core.atomic import atomic_write_text

    runs = lowdata_runs(root, profile, run_seed, finetune)
    if runs.empty or runs["fraction"].nunique() < 2:
        raise ValueError(f"{root}: no runs of several training fractions (benchmark run --fractions 0.1,...,1.0)")
    full, rep = bootstrap_fractions(runs, n_replicates, seed)
    curves = learning_curves(full, rep)
    gains = gain_table(full, rep)
    efficiency = label_efficiency(full, rep)
    contrast = low_fraction_contrast(full, rep)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    frames = (("learning_curves", curves), ("gain", gains), ("label_efficiency", efficiency),
              ("low_fraction_contrast", contrast))
    for name, frame in frames:
        written.append(atomic_write_text(out / f"{name}.csv", frame.to_csv(index=False)))
    written.append(atomic_write_text(out / "lowdata.md", lowdata_markdown(curves, gains, efficiency, contrast)))
    if figures:
        fig = learning_curve_figure(curves)
        for fmt in formats:
            path = out / f"learning_curves.{fmt}"
            fig.savefig(path, dpi=120)
            written.append(path)
    return written
