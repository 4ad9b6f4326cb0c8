"""Evaluated entries: build them from match tables, rank them against a board's other evaluated entries, write.

Used by ``benchmark submit`` (one new method on every board of a dataset) and ``benchmark leaderboard
add-store`` (the study's runs). Adding an entry changes the field every evaluated entry is ranked in, so the
rank summaries of the board's other evaluated entries are recomputed with the same replicates and rewritten
too (their values and intervals do not change: the replicates are the same). Everything is computed first and
written last, each file atomically (:mod:`benchmark.core.atomic`); reported entries are never touched.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

from leaderboards.schema import CaseResult, Entry, EvaluatedProvenance, slugify
from leaderboards.scoring import DEFAULT_REPLICATES, bootstrap_board, load_entry_table, table_path
from leaderboards.store import Board, EntryExistsError, entry_path, write_entry

__all__ = ["Candidate", "PlannedBoard", "plan_board", "write_planned"]


@dataclass
class Candidate:
    """A method to add to one board: identity, provenance, its match table and per-case counts."""

    method: str
    architecture: str | None
    pretraining: str | None
    description: str
    provenance: EvaluatedProvenance
    table: object  # MatchTable of the board's metric
    per_case: list[CaseResult] | None = None

    @property
    def slug(self) -> str:
        return slugify(self.method)


@dataclass
class PlannedBoard:
    """What to write on one board: new entries with their tables, and re-ranked existing entries."""

    board_id: str
    new: list[tuple[Entry, object]]
    updated: list[Entry]


def plan_board(
    board: Board,
    root: str | Path,
    candidates: list[Candidate],
    replace: bool = False,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    date: dt.date | None = None,
) -> PlannedBoard:
    """Rank ``candidates`` with the board's evaluated entries; raises EntryExistsError for a taken slug."""
    slugs = [c.slug for c in candidates]
    if len(set(slugs)) != len(slugs):
        raise ValueError(f"board {board.board_id}: two new methods share an entry name: {sorted(slugs)}")
    for c in candidates:
        if board.entry(c.slug) is not None and not replace:
            raise EntryExistsError(
                f"board {board.board_id} already has an entry {c.slug!r} ({entry_path(root, board.board_id, c.slug)}); "
                "pass --replace to overwrite it"
            )
    kept = [e for e in board.entries if e.provenance.kind == "evaluated" and e.slug not in set(slugs)]
    tables = {e.slug: load_entry_table(root, board.board_id, e.slug) for e in kept}
    tables.update({c.slug: c.table for c in candidates})
    scores = bootstrap_board(board.spec, tables, n_replicates=n_replicates, seed=seed)
    date = date or dt.date.today()
    new = []
    for c in candidates:
        s = scores[c.slug]
        if not math.isfinite(s.value):
            raise ValueError(
                f"board {board.board_id}: {c.method!r} has no defined {board.spec.metric} (no ground-truth objects)"
            )
        entry = Entry(
            board_id=board.board_id, method=c.method, slug=c.slug, architecture=c.architecture,
            pretraining=c.pretraining, description=c.description, date=date, value=s.value,
            ci_low=s.ci_low, ci_high=s.ci_high, rank=s.rank, provenance=c.provenance, per_case=c.per_case,
        )
        new.append((entry, c.table))
    updated = [
        e.model_copy(update={"rank": scores[e.slug].rank, "ci_low": scores[e.slug].ci_low,
                             "ci_high": scores[e.slug].ci_high})
        for e in kept
    ]
    updated = [Entry.model_validate(u.model_dump()) for u in updated]  # model_copy skips validation
    return PlannedBoard(board.board_id, new, [u for u, old in zip(updated, kept, strict=True) if u != old])


def write_planned(root: str | Path, plans: list[PlannedBoard]) -> list[Path]:
    """Write the planned tables and entries (tables first: an entry file never points at a missing table)."""
    from analysis.store import save_match_table

    written = []
    for plan in plans:
        for entry, table in plan.new:
            written.append(save_match_table(table, table_path(root, plan.board_id, entry.slug)))
            written.append(write_entry(root, entry, replace=True))
        for entry in plan.updated:
            written.append(write_entry(root, entry, replace=True))
    return written
