"""``benchmark submit`` as a library: validate an untrusted prediction file, score it, rank it, write its entries.

Order (nothing is written before the last step): (1) :func:`prepare_submission` finds the dataset's boards
and refuses a method name already on one of them (unless ``replace``); (2) :func:`submit` validates the file
(:mod:`leaderboards.submission`) against the expected cases of the boards' splits and their image shapes
read from the prepared dataset's headers; (3) scores every board from the prepared dataset's ground truth
(:func:`leaderboards.scoring.score_board`); (4) plans the entries with the paired bootstrap
(:func:`leaderboards.evaluated.plan_board`); (5) writes tables and entries atomically.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from leaderboards.evaluated import Candidate, plan_board, write_planned
from leaderboards.schema import Entry, EvaluatedProvenance, slugify
from leaderboards.scoring import DEFAULT_REPLICATES, per_case_results, score_board
from leaderboards.store import Board, EntryExistsError, entry_path, load_boards
from leaderboards.submission import Limits, validate_submission

__all__ = ["SubmissionPlan", "SubmitResult", "expected_cases", "prepare_submission", "submit"]


@dataclass
class SubmissionPlan:
    dataset_root: Path
    boards_root: Path
    dataset_id: str
    method: str
    boards: list[Board]


@dataclass
class SubmitResult:
    entries: list[Entry]
    written: list[Path] = field(default_factory=list)
    n_cases: int = 0
    n_detections: int = 0


def prepare_submission(
    dataset_root: str | Path, boards_root: str | Path, method: str, replace: bool = False
) -> SubmissionPlan:
    """The boards of the prepared dataset's id; EntryExistsError when ``method`` is taken and not ``replace``."""
    from benchmark.data.format import PreparedDataset

    dataset = PreparedDataset(dataset_root)
    dataset_id = dataset.meta.dataset_id
    boards = [b for b in load_boards(boards_root) if b.spec.dataset == dataset_id]
    if not boards:
        raise ValueError(
            f"no boards for dataset {dataset_id!r} in {boards_root} (boards exist for D01-D08 and S01-S08; "
            "run `benchmark leaderboard init`)"
        )
    slug = slugify(method)
    taken = [b.board_id for b in boards if b.entry(slug) is not None]
    if taken and not replace:
        raise EntryExistsError(
            f"method {method!r} ({slug}) is already on board(s) {', '.join(taken)} "
            f"({entry_path(boards_root, taken[0], slug)}); pass --replace to overwrite it"
        )
    return SubmissionPlan(Path(dataset_root), Path(boards_root), dataset_id, method, boards)


def expected_cases(dataset_root: Path, splits: list[str]) -> dict[str, tuple[int, int, int]]:
    """Case id -> image shape ``(z, y, x)`` of every case of ``splits`` (from the image headers only)."""
    from benchmark.data.format import PreparedDataset, image_path, read_image_header

    dataset = PreparedDataset(dataset_root)
    out = {}
    for split in splits:
        for case_id in dataset.case_ids(split):
            out[case_id] = tuple(read_image_header(image_path(dataset.root, case_id, 0, split)).shape)
    return out


def submit(
    plan: SubmissionPlan,
    predictions_file: str | Path,
    description: str = "",
    architecture: str | None = None,
    pretraining: str | None = None,
    replace: bool = False,
    n_replicates: int = DEFAULT_REPLICATES,
    seed: int = 0,
    limits: Limits | None = None,
) -> SubmitResult:
    """Validate, score, rank and write (see the module docstring); raises SubmissionError before any write."""
    from benchmark import __version__
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import get_metric
    from benchmark.provenance import git_revision

    dataset = PreparedDataset(plan.dataset_root)
    splits = sorted({b.spec.split for b in plan.boards}, key=["test", "external_test"].index)
    expected = expected_cases(plan.dataset_root, splits)
    valid = validate_submission(
        predictions_file, expected, tuple(dataset.meta.classes), plan.dataset_id, limits or Limits()
    )
    provenance = EvaluatedProvenance(
        kind="evaluated",
        predictions_sha256=valid.sha256,
        detbench_version=__version__,
        dataset_version=str(dataset.meta.version),
        split_version=str(dataset.splits.version),
        git_hash=None if git_revision() == "unknown" else git_revision(),
    )
    scored = {b.board_id: score_board(b.spec, plan.dataset_root, valid.cases) for b in plan.boards}
    per_case = {}
    for split in splits:  # per-case counts at IoU 0.1 (the mAP@0.1 matching) on each split
        board = next((b for b in plan.boards if b.spec.split == split and b.spec.metric == "map@0.1"), None)
        if board is not None:
            table = scored[board.board_id][1]
        else:
            spec = next(b.spec for b in plan.boards if b.spec.split == split)
            table = score_board(spec.model_copy(update={"metric": "map@0.1"}), plan.dataset_root, valid.cases)[1]
        per_case[split] = per_case_results(table)
    get_metric("map@0.1")  # registers the metrics and protocols before planning
    plans = []
    for board in plan.boards:
        candidate = Candidate(
            method=plan.method, architecture=architecture, pretraining=pretraining, description=description,
            provenance=provenance, table=scored[board.board_id][1], per_case=per_case[board.spec.split],
        )
        plans.append(plan_board(board, plan.boards_root, [candidate], replace, n_replicates, seed))
    written = write_planned(plan.boards_root, plans)
    entries = [entry for p in plans for entry, _ in p.new]
    return SubmitResult(entries, written, len(valid.cases), valid.n_detections)
