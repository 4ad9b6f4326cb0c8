"""Create the boards and seed them with the seed paper's Table 3 (``kind: reported`` entries).

Table 3 of Eckstein et al. (MICCAI 2025) holds test-split mAP@0.1 and FROC@0.1 of the study's 20 models on
D01-D08 (:func:`analysis.reported_results.load_reported_results`). Those numbers are copied, not re-computed,
so their entries carry the citation and no interval, rank or per-case table.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from leaderboards.definitions import board_specs
from leaderboards.schema import Entry, ReportedProvenance, slugify
from leaderboards.store import BOARD_FILE, board_dir, entry_path, load_spec, write_board_spec, write_entry

__all__ = ["REPORTED_SOURCE", "init_boards", "reported_entries", "write_reported_entries"]

REPORTED_SOURCE = "analysis/reported/eckstein2025_table3_test.csv"


def init_boards(root: str | Path) -> tuple[list[Path], list[Path]]:
    """Write every board's ``board.json`` (:func:`leaderboards.definitions.board_specs`): ``(written, unchanged)``.

    An existing board.json with the same content is left alone; one with other content is rewritten (the
    definitions are the source of truth, entries are never touched).
    """
    written, unchanged = [], []
    for spec in board_specs():
        path = board_dir(root, spec.board_id) / BOARD_FILE
        if path.is_file():
            try:
                if load_spec(path) == spec:
                    unchanged.append(path)
                    continue
            except ValueError:
                pass
        written.append(write_board_spec(root, spec))
    return written, unchanged


def reported_entries(date: dt.date | None = None) -> list[Entry]:
    """One reported entry per (board, model) of Table 3 (D01-D08, mAP@0.1 and FROC@0.1 boards)."""
    from analysis.reported_results import load_reported_results, reported_provenance

    table = load_reported_results()
    citation = reported_provenance()["citation"]
    rows = table[table["dataset"].str.fullmatch(r"D0[1-8]")]
    protocol = {"map@0.1": "map", "froc@0.1": "froc"}
    date = date or dt.date.today()
    entries = []
    for row in rows.itertuples(index=False):
        method = f"{row.paper_architecture} / {row.paper_pretraining}"
        entries.append(
            Entry(
                board_id=f"{row.dataset.lower()}-{protocol[row.metric]}",
                method=method,
                slug=slugify(method),
                architecture=row.architecture,
                pretraining=row.pretraining,
                description=f"Reported in the seed paper's Table 3 ({row.value_as_printed:.2f} as printed).",
                date=date,
                value=float(row.value),
                provenance=ReportedProvenance(kind="reported", citation=citation, source=REPORTED_SOURCE),
            )
        )
    return entries


def write_reported_entries(root: str | Path, replace: bool = False) -> tuple[list[Path], list[Path]]:
    """Write the Table 3 entries onto their boards: ``(written, skipped)`` (existing files kept unless ``replace``)."""
    written, skipped = [], []
    for entry in reported_entries():
        path = entry_path(root, entry.board_id, entry.slug)
        if path.exists() and not replace:
            skipped.append(path)
            continue
        written.append(write_entry(root, entry, replace=replace))
    return written, skipped
