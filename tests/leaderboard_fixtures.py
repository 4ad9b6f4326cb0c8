"""Leaderboard test data: boards folders of the contract's shape (board.json + entries/<slug>.json) in tmp dirs.

Two boards: ``s06-map`` with three evaluated entries (one with a hostile method name and description) and one
reported entry, and ``d06-luna16-cpm`` with one reported entry only (no rank plot).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

HOSTILE_METHOD = '<script>alert("x")</script> & "quoted" \'name\' | $\\alpha$ [link](javascript:alert(1))'
HOSTILE_SLUG = "script-alert-x-script-quoted-name-alpha-link-javascript-alert-1"  # leaderboards.schema.slugify


def _evaluated(method: str, slug: str, value: float, rank_mean: float, n_cases: int = 4, **extra: Any) -> dict:
    per_case = [
        {"case_id": f"case_{i:03d}", "n_objects": 2 + i % 2, "n_detections": 5 + i, "tp_at_0.1": min(2, i)}
        for i in range(n_cases)
    ]
    entry = {
        "schema_version": 1, "board_id": "s06-map", "method": method, "slug": slug,
        "architecture": "retina_unet", "pretraining": "default", "description": f"{method} trained from scratch",
        "date": "2026-11-30", "value": value, "ci_low": value - 0.03, "ci_high": value + 0.04,
        "rank": {"mean": rank_mean, "median": round(rank_mean), "low": max(1.0, rank_mean - 1),
                 "high": min(3.0, rank_mean + 1), "n_entries": 3, "n_replicates": 1000},
        "provenance": {"kind": "evaluated", "predictions_sha256": "ab" * 32, "detbench_version": "0.1.0",
                       "dataset_version": "1.1.0", "split_version": "1", "git_hash": None},
        "per_case": per_case,
    }
    entry.update(extra)
    return entry


def _reported(board_id: str, method: str, slug: str, value: float) -> dict:
    return {
        "schema_version": 1, "board_id": board_id, "method": method, "slug": slug,
        "architecture": "retina_unet", "pretraining": "mt", "description": "", "date": "2025-06-01",
        "value": value, "ci_low": None, "ci_high": None, "rank": None,
        "provenance": {"kind": "reported", "citation": "Eckstein et al. 2025, Table 3",
                       "source": "https://example.org/paper"},
        "per_case": None,
    }


def _spec(board_id: str, dataset: str, protocol: str, metric: str, title: str) -> dict:
    return {"schema_version": 1, "board_id": board_id, "dataset": dataset, "protocol": protocol, "metric": metric,
            "higher_is_better": True, "title": title}


def write_boards_folder(root: Path) -> Path:
    """Write the two fixture boards under ``root`` and return it."""
    boards = [
        (_spec("s06-map", "S06", "map", "mAP@0.1", "S06 twin, mAP@0.1"), [
            _evaluated("Retina U-Net scratch", "retina-u-net-scratch", 0.312, 1.3),
            _evaluated(HOSTILE_METHOD, HOSTILE_SLUG, 0.290, 2.1,
                       description="<img src=x onerror=alert(1)>\nsecond line", architecture="<b>arch</b>"),
            _evaluated("Zeta baseline", "zeta-baseline", 0.150, 2.9, n_cases=3),
            _reported("s06-map", "Alpha reported", "alpha-reported", 0.330),
        ]),
        (_spec("d06-luna16-cpm", "D06", "luna16-cpm", "CPM", "D06 LUNA16, CPM"), [
            _reported("d06-luna16-cpm", "Paper model", "paper-model", 0.801),
        ]),
    ]
    for spec, entries in boards:
        folder = root / spec["board_id"]
        (folder / "entries").mkdir(parents=True)
        (folder / "board.json").write_text(json.dumps(spec, indent=2))
        for e in entries:
            (folder / "entries" / f"{e['slug']}.json").write_text(json.dumps(e, indent=2))
    return root

