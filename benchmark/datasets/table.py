"""Table 1 of the paper as a pandas frame, built from the dataset registry."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from benchmark.datasets.spec import DatasetSpec


def datasets_table(specs: Iterable[DatasetSpec]) -> pd.DataFrame:
    """One row per dataset: id, name, pool, target, modality, channels, classes, split, objects, spacing."""
    rows = []
    for s in specs:
        split = f"{s.splits.train}/{s.splits.val}/{s.splits.test}"
        if s.splits.external_test:
            split += f" (+{s.splits.external_test} ext.)"
        rows.append(
            {
                "id": s.id,
                "name": s.name,
                "pool": s.pool,
                "target": s.target,
                "modality": s.modality,
                "channels": s.num_channels,
                "classes": ", ".join(s.classes),
                "split": split,
                "objects": s.objects,
                "spacing_mm": "x".join(f"{v:.2f}" for v in s.median_spacing),
                "annotation": s.annotation,
                "protocols": ", ".join(s.protocols),
            }
        )
    return pd.DataFrame(rows)
