"""The LUNA16 10-fold aggregate CPM of a results store: ``luna16_pooled_cpm.csv`` / ``.md``.

The LUNA16 tables (Setio et al. 2017) report one CPM over all 888 scans, each scored by the model of the fold
that tested on it (:func:`benchmark.metrics.protocols.luna16.luna16_pooled_froc`). Every fold run on LUNA16
leaves its test candidates and findings in ``protocol_luna16/`` of its store folder
(:mod:`benchmark.metrics.protocols.luna16_tables`). Per model (architecture, pre-training, profile, seed,
variant and LUNA16 scheme) this module pools them:

* ``pooled``: all ten folds of D06 present, their test scans disjoint: one FROC over the pooled candidates;
* ``incomplete``: folds missing: no CPM (a pool of some folds is not the reported quantity), the missing folds
  named;
* ``shared test split``: the folds test the same scans (the twin S06, whose folds split train + val and keep
  one test split): pooling would score each scan once per fold, so no pooled CPM; the mean of the folds' CPMs
  is given instead;
* ``no candidate tables`` / ``mixed schemes``: runs without ``protocol_luna16/`` (older runs), or folds of the
  8-1-1 and 9-0-1 schemes mixed.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["LUNA16_DATASETS", "LUNA16_FOLDS", "pooled_cpm", "pooled_cpm_markdown", "write_pooled_cpm"]

LUNA16_DATASETS = ("D06", "S06")
LUNA16_FOLDS = 10
GROUP = ["dataset", "architecture", "pretraining", "profile", "seed", "variant"]


def _scheme(info: dict) -> str:
    version = str(info.get("splits_version", ""))
    for scheme in ("8-1-1", "9-0-1"):
        if scheme in version:
            return scheme
    return ""


def _cpm(froc, t) -> float:  # noqa: ANN001
    return float(froc(t.candidates, t.annotations, t.seriesuids, t.annotations_excluded).score)


def pooled_cpm(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per LUNA16 model with fold runs in ``runs`` (an :func:`analysis.store.index_store` frame)."""
    from benchmark.metrics.protocols.luna16 import LUNA16_RATES, luna16_froc, luna16_pooled_froc
    from benchmark.metrics.protocols.luna16_tables import LUNA16_FOLDER, read_luna16_tables

    folds = runs[runs["dataset"].isin(LUNA16_DATASETS) & runs["fold"].notna()]
    rows = []
    for key, group in folds.groupby(GROUP, sort=True, dropna=False):
        row = dict(zip(GROUP, key, strict=True))
        present = sorted(int(f) for f in group["fold"])
        row.update(folds=",".join(map(str, present)), n_folds=len(present), cpm=np.nan, n_scans=0, note="")
        row.update({f"sens@{r:g}": np.nan for r in LUNA16_RATES})
        have = [Path(p) / LUNA16_FOLDER for p in group["path"]]
        if not all((h / "candidates.csv").is_file() for h in have):
            row.update(status="no candidate tables", note="runs without protocol_luna16/ (rerun them to pool)")
            rows.append(row)
            continue
        tables = [read_luna16_tables(h) for h in have]
        schemes = {_scheme(t.info) for t in tables}
        row["scheme"] = ",".join(sorted(s for s in schemes if s)) or "n/a"
        uid_sets = [frozenset(t.seriesuids) for t in tables]
        if len(schemes) > 1:
            row.update(status="mixed schemes", note="folds of the 8-1-1 and the 9-0-1 scheme are not pooled")
        elif row["dataset"] != "D06" or (len(tables) > 1 and len(set(uid_sets)) == 1):
            cpms = [_cpm(luna16_froc, t) for t in tables]
            sd = f" (sd {np.std(cpms, ddof=1):.4f})" if len(cpms) > 1 else ""
            row.update(
                status="shared test split",
                n_scans=len(tables[0].seriesuids),
                note=f"the folds test the same {len(tables[0].seriesuids)} scans (the twin's one test split): not "
                f"pooled; mean of the {len(cpms)} fold(s)' CPMs {np.mean(cpms):.4f}{sd}",
            )
        elif present != list(range(LUNA16_FOLDS)):
            missing = sorted(set(range(LUNA16_FOLDS)) - set(present))
            row.update(
                status="incomplete",
                note=f"folds {','.join(map(str, missing))} missing: the aggregate CPM needs all {LUNA16_FOLDS}",
            )
        else:
            annotations = pd.concat([t.annotations for t in tables], ignore_index=True).drop_duplicates()
            excluded = pd.concat([t.annotations_excluded for t in tables], ignore_index=True).drop_duplicates()
            result = luna16_pooled_froc(
                [t.candidates for t in tables], [t.seriesuids for t in tables], annotations, excluded
            )
            row.update(status="pooled", cpm=result.score, n_scans=result.n_scans)
            row.update({f"sens@{r:g}": s for r, s in zip(result.rates, result.sensitivities, strict=True)})
        rows.append(row)
    columns = [*GROUP, "scheme", "folds", "n_folds", "n_scans", "status", "cpm"]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    if "scheme" not in frame:
        frame["scheme"] = "n/a"
    frame["scheme"] = frame["scheme"].fillna("n/a")
    rest = [c for c in frame.columns if c not in columns]
    return frame[columns + rest]


def pooled_cpm_markdown(frame: pd.DataFrame) -> str:
    lines = [
        "LUNA16 10-fold aggregate CPM: every fold's test candidates pooled into one FROC over all test scans "
        "(Setio et al. 2017). Only models with all ten D06 folds get a value; see the notes.",
        "",
        "| dataset | architecture | pretraining | profile | seed | scheme | folds | scans | status | CPM | note |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in frame.itertuples(index=False):
        cpm = "n/a" if r.cpm != r.cpm else f"{r.cpm:.4f}"
        lines.append(
            f"| {r.dataset} | {r.architecture} | {r.pretraining} | {r.profile} | {r.seed} | {r.scheme} | "
            f"{r.folds} | {r.n_scans} | {r.status} | {cpm} | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def write_pooled_cpm(runs: pd.DataFrame, out_dir: str | Path, profiles: Iterable[str] = ()) -> list[Path]:
    """Write ``luna16_pooled_cpm.csv`` and ``.md`` into ``out_dir`` when ``runs`` hold LUNA16 fold runs.

    ``profiles`` restricts the runs (the analysis' profile); returns the written paths (none without fold runs).
    """
    from benchmark.core.atomic import atomic_open

    wanted = set(profiles)
    frame = pooled_cpm(runs[runs["profile"].isin(wanted)] if wanted else runs)
    if frame.empty:
        return []
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_open(out / "luna16_pooled_cpm.csv", "w") as fh:
        frame.to_csv(fh, index=False)
    with atomic_open(out / "luna16_pooled_cpm.md", "w") as fh:
        fh.write(pooled_cpm_markdown(frame))
    return [out / "luna16_pooled_cpm.csv", out / "luna16_pooled_cpm.md"]
