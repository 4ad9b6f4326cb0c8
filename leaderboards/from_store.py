"""The study's own runs as evaluated entries: one per (dataset, model) of a results store (:mod:`analysis.store`).

The store keeps one IoU-0.1 match table per run (``match_table.npz``), which is what mAP@0.1 and FROC@0.1 and
their bootstrap need, so runs go onto the ``<dataset>-map`` and ``<dataset>-froc`` boards. The selection of runs
is :func:`analysis.store.open_store`'s, as in ``benchmark analyze``, and the bootstrap is the same
(:mod:`leaderboards.scoring`), so ranks and intervals equal the analysis' for the same replicates and seed.
A store holds no predictions, so ``predictions_sha256`` is the sha256 of the run's ``match_table.npz``.
"""

from __future__ import annotations

import json
from pathlib import Path

from leaderboards.evaluated import Candidate, plan_board, write_planned
from leaderboards.schema import EvaluatedProvenance
from leaderboards.scoring import DEFAULT_REPLICATES, file_sha256, per_case_results
from leaderboards.store import load_board

__all__ = ["add_store", "store_method_name"]

STORE_BOARDS = {"map@0.1": "map", "froc@0.1": "froc"}


def store_method_name(architecture: str, pretraining: str) -> str:
    """The entry name of a study model, e.g. ``retina_unet + mae`` (slug ``retina-unet-mae``)."""
    return f"{architecture} + {pretraining}"


def _provenance(run_folder: Path) -> EvaluatedProvenance:
    from benchmark import __version__

    record = json.loads((run_folder / "result.json").read_text(encoding="utf-8"))
    prov = record.get("provenance") or {}
    dataset = prov.get("dataset") or {}
    return EvaluatedProvenance(
        kind="evaluated",
        predictions_sha256=file_sha256(run_folder / "match_table.npz"),
        detbench_version=str(prov.get("detbench_version") or __version__),
        dataset_version=str(dataset.get("version") or "unknown"),
        split_version=str(dataset.get("splits_version") or "unknown"),
        git_hash=prov.get("git_revision"),
    )


def add_store(
    store_root: str | Path,
    boards_root: str | Path,
    profile: str | None = None,
    run_seed: int | None = None,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    replace: bool = False,
) -> tuple[list[Path], list[str]]:
    """Add every selected run of the store to its boards: ``(written files, skipped datasets with why)``.

    Every board is planned (bootstrapped, checked for taken names) before anything is written.
    """
    from analysis.store import open_store

    store = open_store(store_root, profile=profile, seed=run_seed)
    plans, skipped = [], []
    for dataset in store.datasets:
        tables = store.tables(dataset)
        runs = store.runs[store.runs["dataset"] == dataset]
        folders = {(a, p): Path(f) for a, p, f in runs[["architecture", "pretraining", "path"]].itertuples(index=False)}
        for protocol in STORE_BOARDS.values():
            board_id = f"{dataset.lower()}-{protocol}"
            if not (Path(boards_root) / board_id / "board.json").is_file():
                skipped.append(f"{dataset}: no board {board_id} in {boards_root} (run `benchmark leaderboard init`)")
                continue
            board = load_board(boards_root, board_id)
            candidates = [
                Candidate(
                    method=store_method_name(arch, pre),
                    architecture=arch,
                    pretraining=pre,
                    description=f"detbench study run ({folders[(arch, pre)].name}) from a results store.",
                    provenance=_provenance(folders[(arch, pre)]),
                    table=table,
                    per_case=per_case_results(table),
                )
                for (arch, pre), table in sorted(tables.items())
            ]
            plans.append(plan_board(board, boards_root, candidates, replace, n_replicates, seed))
    return write_planned(boards_root, plans), skipped
