"""Reported results of the seed paper (Table 3, test splits) as a tidy frame, to show beside new runs."""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd

TABLE3_CSV = "eckstein2025_table3_test.csv"

ARCHITECTURE_IDS = {
    "RetUNet": "retina_unet",
    "DefDETR": "deformable_detr",
    "ResEnc-RetUNet": "resenc_retina_unet",
    "ResEnc-DefDETR": "resenc_deformable_detr",
}
# Table 3 labels -> pre-training setting names of pretraining.registry.PRETRAINING (the RunKey's pretraining part)
PRETRAINING_IDS = {
    "No - Default": "default",
    "No - Fixed": "fixed",
    "MT": "mt",
    "VoCo": "voco",
    "MAE": "mae",
    "S3D": "s3d",
    "MG": "mg",
}
METRIC_IDS = {"mAP@0.1": "map@0.1", "FROC@0.1": "froc@0.1"}


def _reported_dir():
    return resources.files("analysis") / "reported"


def reported_provenance() -> dict:
    """Citation and description of the stored Table 3."""
    return json.loads((_reported_dir() / TABLE3_CSV.replace(".csv", ".json")).read_text())


def load_reported_results() -> pd.DataFrame:
    """Table 3 as a long frame: architecture, pretraining, metric, dataset, value (fraction), plus paper labels.

    ``dataset`` is ``D01``..``D08``, ``mean`` or ``mean_rank``; ``value`` is a fraction in [0, 1] for
    the metric columns and a rank for ``mean_rank``; ``value_as_printed`` keeps the paper's number.
    """
    with (_reported_dir() / TABLE3_CSV).open() as fh:
        raw = pd.read_csv(fh)
    expected = {"architecture", "pretraining", "metric", "dataset", "value"}
    if set(raw.columns) != expected:
        raise ValueError(f"{TABLE3_CSV}: expected columns {sorted(expected)}, got {list(raw.columns)}")
    out = pd.DataFrame(
        {
            "architecture": raw["architecture"].map(ARCHITECTURE_IDS),
            "pretraining": raw["pretraining"].map(PRETRAINING_IDS),
            "metric": raw["metric"].map(METRIC_IDS),
            "dataset": raw["dataset"],
            "value_as_printed": raw["value"].astype(float),
            "paper_architecture": raw["architecture"],
            "paper_pretraining": raw["pretraining"],
        }
    )
    unknown = out[out[["architecture", "pretraining", "metric"]].isna().any(axis=1)]
    if len(unknown):
        raise ValueError(f"{TABLE3_CSV}: unknown labels in rows {unknown.index.tolist()[:5]}")
    is_rank = out["dataset"] == "mean_rank"
    out["value"] = out["value_as_printed"].where(is_rank, out["value_as_printed"] / 100.0)
    out.attrs["provenance"] = reported_provenance()
    return out
