"""Paper-style result tables (the layouts of Table 2 and Table 3) as frames, markdown and LaTeX.

A table is a frame indexed by ``(architecture, pretraining)`` with columns ``(metric, column)``, where
``column`` is a dataset id, ``Mean`` (mean over the shown datasets) or ``Mean Rank``; metric values are in
percent. In the rendered text the best value of each column within an architecture is **bold** and the best
overall is underlined (highest value; lowest mean rank), comparing the values as displayed (rounded).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence

import numpy as np
import pandas as pd

from analysis.contents import NOT_COMPARABLE_TWINS, SYNTHETIC_TWIN, UNKNOWN, kind_from_id
from analysis.ranking import MODEL, add_ranks
from analysis.reported_results import ARCHITECTURE_IDS, METRIC_IDS, PRETRAINING_IDS, load_reported_results

__all__ = [
    "ARCHITECTURE_ORDER",
    "FORMATS",
    "PRETRAINING_ORDER",
    "comparable_datasets",
    "comparison_table",
    "compare_with_reported",
    "not_comparable_reason",
    "paper_datasets",
    "format_table",
    "reported_table",
    "results_table",
    "table2",
    "table3",
    "to_latex",
    "to_markdown",
]

ARCHITECTURE_ORDER = tuple(ARCHITECTURE_IDS.values())
PRETRAINING_ORDER = tuple(PRETRAINING_IDS.values())
# The classical baseline is a reference row, not one of the study's 20 models: its labels say so.
ARCHITECTURE_LABELS = {**{v: k for k, v in ARCHITECTURE_IDS.items()}, "classical": "Classical (reference)"}
PRETRAINING_LABELS = {**{v: k for k, v in PRETRAINING_IDS.items()}, "none": "no learning"}
METRIC_LABELS = {v: k for k, v in METRIC_IDS.items()}
MEAN, MEAN_RANK, POINT_RANK = "Mean", "Mean Rank", "Point Rank"
FORMATS = ("markdown", "latex")
_RANK_COLUMNS = (MEAN_RANK, POINT_RANK)


def _order(values: Sequence[str], canonical: Sequence[str]) -> list[str]:
    known = [v for v in canonical if v in set(values)]
    return known + sorted(set(values) - set(canonical))


def _sort_models(index: pd.MultiIndex) -> pd.MultiIndex:
    archs = _order(index.get_level_values(0).unique(), ARCHITECTURE_ORDER)
    pres = _order(index.get_level_values(1).unique(), PRETRAINING_ORDER)
    keys = sorted(index, key=lambda k: (archs.index(k[0]), pres.index(k[1])))
    return pd.MultiIndex.from_tuples(keys, names=MODEL)


def _dataset_order(datasets: Sequence[str]) -> list[str]:
    return sorted(set(datasets))


def results_table(
    full: pd.DataFrame,
    replicates: pd.DataFrame | None = None,
    metrics: Sequence[str] = ("map@0.1", "froc@0.1"),
    datasets: Sequence[str] | None = None,
    rank_within: Sequence[str] = (),
) -> pd.DataFrame:
    """Rows (architecture, pretraining); per metric the datasets (percent), ``Mean`` and ``Mean Rank``.

    ``Mean Rank`` is the mean over datasets and replicates of the bootstrap rank when ``replicates`` is given,
    else the mean over datasets of the full-data rank; ``rank_within=("architecture",)`` ranks each model only
    against its own architecture (as Table 2 does).
    """
    known = set(full["metric"].unique())
    missing = [m for m in metrics if m not in known]
    if missing:
        raise ValueError(f"metric(s) {missing} not in the results. Valid: {', '.join(sorted(known))}")
    datasets = _dataset_order(full["dataset"].unique() if datasets is None else datasets)
    full = full[full["dataset"].isin(datasets) & full["metric"].isin(metrics)]
    ranks_from = replicates if replicates is not None else full
    ranks_from = ranks_from[ranks_from["dataset"].isin(datasets) & ranks_from["metric"].isin(metrics)]
    if rank_within:
        by = ("dataset", "metric", "replicate") if "replicate" in ranks_from.columns else ("dataset", "metric")
        ranks_from = add_ranks(ranks_from, by=by, within=rank_within)
    blocks = []
    for metric in metrics:
        f = full[full["metric"] == metric]
        wide = f.groupby([*MODEL, "dataset"])["value"].first().unstack("dataset") * 100
        wide = wide.reindex(columns=datasets)
        wide[MEAN] = wide[datasets].mean(axis=1)
        r = ranks_from[ranks_from["metric"] == metric]
        wide[MEAN_RANK] = r.groupby(MODEL)["rank"].mean()
        wide.columns = pd.MultiIndex.from_product([[metric], wide.columns], names=["metric", "column"])
        blocks.append(wide)
    table = pd.concat(blocks, axis=1)
    return table.reindex(_sort_models(table.index))


def table3(full: pd.DataFrame, replicates: pd.DataFrame | None = None, datasets: Sequence[str] | None = None):
    """The layout of the paper's Table 3: both metrics, all models ranked against each other."""
    return results_table(full, replicates, ("map@0.1", "froc@0.1"), datasets)


def table2(
    full: pd.DataFrame,
    replicates: pd.DataFrame | None = None,
    metric: str = "map@0.1",
    datasets: Sequence[str] | None = None,
):
    """The layout of the paper's Table 2: one metric, mean rank within each architecture (configurations)."""
    return results_table(full, replicates, (metric,), datasets, rank_within=("architecture",))


def reported_table(metrics: Sequence[str] = ("map@0.1", "froc@0.1")) -> pd.DataFrame:
    """The seed paper's Table 3 (stored data, see :mod:`analysis.reported_results`) in the same layout."""
    rep = load_reported_results()
    blocks = []
    for metric in metrics:
        r = rep[rep["metric"] == metric]
        wide = r.pivot_table(index=MODEL, columns="dataset", values="value", aggfunc="first")
        datasets = sorted(c for c in wide.columns if c not in ("mean", "mean_rank"))
        out = wide[datasets] * 100
        out[MEAN] = wide["mean"] * 100
        out[MEAN_RANK] = wide["mean_rank"]
        out.columns = pd.MultiIndex.from_product([[metric], out.columns], names=["metric", "column"])
        blocks.append(out)
    table = pd.concat(blocks, axis=1)
    table = table.reindex(_sort_models(table.index))
    table.attrs["provenance"] = rep.attrs.get("provenance", {})
    return table


def paper_datasets() -> list[str]:
    """The datasets of the paper's reported Table 3 (``D01``..``D08``)."""
    rep = load_reported_results()
    return sorted(d for d in rep["dataset"].unique() if re.match(r"^D\d\d$", d))


def comparable_datasets(
    full: pd.DataFrame, datasets: Collection[str] | None = None, dataset_map: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Store dataset id -> the paper's id, for the datasets that may be compared with the reported results.

    Only real data are compared: ``datasets`` are the store's real datasets (``analysis.contents``: the runs'
    provenance decides); by default every dataset of ``full`` whose id is not a synthetic twin id (``S0k``).
    ``dataset_map`` renames real datasets to the paper's ids (e.g. ``{"luna16": "D06"}``). A synthetic twin is
    never compared (its scenes are procedurally generated, so its numbers say nothing about ``D0k``): naming one
    in ``datasets`` or ``dataset_map`` is an error. Datasets the paper does not have are left out.
    """
    present = list(dict.fromkeys(full["dataset"]))
    chosen = [d for d in present if kind_from_id(d) != SYNTHETIC_TWIN] if datasets is None else list(datasets)
    twins = sorted({d for d in [*chosen, *(dataset_map or {})] if kind_from_id(d) == SYNTHETIC_TWIN})
    if twins:
        raise ValueError(f"{', '.join(twins)}: {NOT_COMPARABLE_TWINS}")
    paper = set(paper_datasets())
    mapped = {d: (dataset_map or {}).get(d, d) for d in chosen if d in present}
    return {d: p for d, p in mapped.items() if p in paper}


def not_comparable_reason(full: pd.DataFrame, datasets: Collection[str] | None = None) -> str:
    """Why no dataset of ``full`` is compared with the reported results (``datasets``: the real ones, as above)."""
    present = sorted(full["dataset"].unique())
    real = None if datasets is None else set(datasets)
    twins = [d for d in present if kind_from_id(d) == SYNTHETIC_TWIN or (real is not None and d not in real
                                                                          and kind_from_id(d) != UNKNOWN)]
    if present and len(twins) == len(present):
        return NOT_COMPARABLE_TWINS

    def why(d: str) -> str:
        if d in twins:
            return "synthetic twin"
        return "not real data" if real is not None and d not in real else "not in the paper"

    reasons = ", ".join(f"{d} ({why(d)})" for d in present)
    return f"not applicable: no real dataset of the paper ({', '.join(paper_datasets())}); datasets: {reasons}"


def compare_with_reported(
    full: pd.DataFrame, datasets: Collection[str] | None = None, dataset_map: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """New full-data values beside the reported ones: architecture, pretraining, metric, dataset, new, reported, diff.

    Only real datasets of the paper are compared (:func:`comparable_datasets`; ``dataset`` is the paper's id);
    synthetic twins never are. Values are fractions; ``reported`` is NaN for models the paper does not have.
    With nothing comparable the frame is empty and ``attrs["not_applicable"]`` says why.
    """
    columns = [*MODEL, "metric", "dataset", "new", "reported", "diff"]
    mapping = comparable_datasets(full, datasets, dataset_map)
    if not mapping:
        out = pd.DataFrame(columns=columns)
        out.attrs["not_applicable"] = not_comparable_reason(full, datasets)
        return out
    rep = load_reported_results()
    rep = rep[rep["dataset"].isin(set(mapping.values()))][[*MODEL, "metric", "dataset", "value"]]
    new = full[full["dataset"].isin(set(mapping))][[*MODEL, "metric", "dataset", "value"]].copy()
    new["dataset"] = new["dataset"].map(mapping)
    out = new.merge(rep, on=[*MODEL, "metric", "dataset"], how="left", suffixes=("_new", "_reported"))
    out = out.rename(columns={"value_new": "new", "value_reported": "reported"})
    out["diff"] = out["new"] - out["reported"]
    return out[columns].sort_values(["metric", "dataset", *MODEL], ignore_index=True)


def comparison_table(
    full: pd.DataFrame,
    models: Sequence[tuple[str, str]] | None = None,
    metrics: Sequence[str] = ("map@0.1", "froc@0.1"),
    datasets: Collection[str] | None = None,
    dataset_map: Mapping[str, str] | None = None,
    label: str = "new",
) -> pd.DataFrame:
    """The reported Table 3 rows plus new ``models`` (default: all in ``full``) on the paper's real datasets.

    Only real datasets are compared (:func:`comparable_datasets`); with none (e.g. a store of synthetic twins)
    this raises ``ValueError`` ("not applicable: ..."). The new rows' pre-training is suffixed with
    `` (label)``. ``Mean`` is over the datasets a row has; ``Point Rank`` is the mean over datasets of the rank of
    each row's value among all rows (rank 1 = best), computed alike for reported and new rows. (The paper's
    bootstrap mean rank needs per-image results the paper does not publish, so it is not recomputed here.)
    """
    mapping = comparable_datasets(full, datasets, dataset_map)
    if not mapping:
        raise ValueError(not_comparable_reason(full, datasets))
    new = full[full["dataset"].isin(set(mapping))].copy()
    new["dataset"] = new["dataset"].map(mapping)
    if models is not None:
        keep = set(map(tuple, models))
        new = new[[(a, p) in keep for a, p in zip(new["architecture"], new["pretraining"], strict=True)]]
    if new.empty:
        raise ValueError("no new models to compare")
    new["pretraining"] = new["pretraining"] + f" ({label})"
    rep = load_reported_results()
    rep = rep[rep["dataset"].str.match(r"^D\d\d$")]
    both = pd.concat([rep[[*MODEL, "metric", "dataset", "value"]], new[[*MODEL, "metric", "dataset", "value"]]])
    both = both[both["metric"].isin(metrics)]
    datasets_shown = sorted(both["dataset"].unique())
    ranked = add_ranks(both, by=("dataset", "metric"))
    blocks = []
    for metric in metrics:
        b = ranked[ranked["metric"] == metric]
        wide = b.pivot_table(index=MODEL, columns="dataset", values="value", aggfunc="first")
        wide = wide.reindex(columns=datasets_shown) * 100
        wide[MEAN] = wide[datasets_shown].mean(axis=1)
        wide[POINT_RANK] = b.groupby(MODEL)["rank"].mean()
        wide.columns = pd.MultiIndex.from_product([[metric], wide.columns], names=["metric", "column"])
        blocks.append(wide)
    table = pd.concat(blocks, axis=1)
    return table.reindex(_sort_models(table.index))


# -- rendering ------------------------------------------------------------------------------------------
def _highlights(table: pd.DataFrame, decimals: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Boolean frames: best per architecture (bold) and best overall (underline), per column.

    Reference rows (the classical baseline) are never highlighted and do not take a highlight from the models.
    """
    from analysis.store import is_reference

    shown = table.round(decimals)
    lower = np.array([c[-1] in _RANK_COLUMNS for c in table.columns])
    score = shown.copy()
    score.loc[:, lower] = -shown.loc[:, lower]
    reference = np.array([is_reference(a) for a, _ in table.index])
    score.loc[reference, :] = np.nan
    overall = score.eq(score.max(axis=0), axis=1) & score.notna()
    per_arch = score.eq(score.groupby(level=0).transform("max")) & score.notna()
    return per_arch, overall


def _labels(table: pd.DataFrame) -> list[tuple[str, str]]:
    rows, previous = [], None
    for arch, pre in table.index:
        shown_arch = ARCHITECTURE_LABELS.get(arch, arch) if arch != previous else ""
        rows.append((shown_arch, PRETRAINING_LABELS.get(pre, pre)))
        previous = arch
    return rows


def _cell(value: float, decimals: int, bold: bool, under: bool, style: str) -> str:
    if value != value:  # NaN
        return "-"
    text = f"{value:.{decimals}f}"
    if style == "latex":
        text = rf"\textbf{{{text}}}" if bold else text
        return rf"\underline{{{text}}}" if under else text
    text = f"**{text}**" if bold else text
    return f"<ins>{text}</ins>" if under else text


def to_markdown(table: pd.DataFrame, decimals: int = 2, highlight: bool = True, caption: str | None = None) -> str:
    """GitHub markdown; bold = best within the architecture, ``<ins>`` (underline) = best overall.

    ``caption`` (what the table shows, on which data) is written as a paragraph above the table.
    """
    bold, under = _highlights(table, decimals) if highlight else (None, None)
    metrics = table.columns.get_level_values(0)
    header = ["Model", "Pre-Training"]
    for i, (metric, column) in enumerate(table.columns):
        first = i == 0 or metrics[i - 1] != metric
        header.append(f"{METRIC_LABELS.get(metric, metric)} {column}" if first else str(column))
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * 2 + ["---:"] * table.shape[1]) + "|"]
    for r, (arch, pre) in enumerate(_labels(table)):
        cells = [
            _cell(table.iat[r, c], decimals, bool(bold.iat[r, c]) if highlight else False,
                  bool(under.iat[r, c]) if highlight else False, "markdown")
            for c in range(table.shape[1])
        ]
        lines.append("| " + " | ".join([arch, pre, *cells]) + " |")
    if caption:
        lines = [caption.strip(), "", *lines]
    return "\n".join(lines) + "\n"


def _tex_escape(text: str) -> str:
    return "".join({"_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#"}.get(ch, ch) for ch in str(text))


def to_latex(table: pd.DataFrame, decimals: int = 2, highlight: bool = True, caption: str | None = None) -> str:
    """A ``booktabs`` table (``\\usepackage{booktabs}``); bold and ``\\underline`` as in the paper."""
    bold, under = _highlights(table, decimals) if highlight else (None, None)
    metrics = list(dict.fromkeys(table.columns.get_level_values(0)))
    widths = [int((table.columns.get_level_values(0) == m).sum()) for m in metrics]
    lines = [r"\begin{table}", r"\centering"]
    if caption:
        lines.append(rf"\caption{{{_tex_escape(caption)}}}")
    lines += [rf"\begin{{tabular}}{{ll{'r' * table.shape[1]}}}", r"\toprule"]
    lines.append(
        " & ".join(["", ""] + [rf"\multicolumn{{{w}}}{{c}}{{{_tex_escape(METRIC_LABELS.get(m, m))}}}"
                               for m, w in zip(metrics, widths, strict=True)]) + r" \\"
    )
    start = 3
    rules = []
    for w in widths:
        rules.append(rf"\cmidrule(lr){{{start}-{start + w - 1}}}")
        start += w
    lines.append(" ".join(rules))
    lines.append(" & ".join(["Model", "Pre-Training"] + [_tex_escape(c) for c in table.columns.get_level_values(1)])
                 + r" \\")
    lines.append(r"\midrule")
    for r, (arch, pre) in enumerate(_labels(table)):
        if arch and r:
            lines.append(r"\midrule")
        cells = [
            _cell(table.iat[r, c], decimals, bool(bold.iat[r, c]) if highlight else False,
                  bool(under.iat[r, c]) if highlight else False, "latex")
            for c in range(table.shape[1])
        ]
        lines.append(" & ".join([_tex_escape(arch), _tex_escape(pre), *cells]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def format_table(table: pd.DataFrame, fmt: str = "markdown", **kwargs) -> str:
    """Render ``table`` as ``markdown`` or ``latex``."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown table format {fmt!r}. Valid: {', '.join(FORMATS)}")
    return to_markdown(table, **kwargs) if fmt == "markdown" else to_latex(table, **kwargs)
