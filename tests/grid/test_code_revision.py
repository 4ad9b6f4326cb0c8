"""A grid cell says when it runs other code than the runner that planned it (the tree changed mid-run)."""

from __future__ import annotations

from benchmark.grid.worker import code_change_note, job_record
from benchmark.provenance import git_revision


def test_the_note_names_both_revisions_only_when_they_differ():
    a, b = "a" * 40, "b" * 40 + "+dirty"
    assert code_change_note(a, a) == ""
    assert code_change_note(None, a) == ""  # job files written before the field existed
    assert code_change_note("unknown", a) == "" and code_change_note(a, "unknown") == ""  # no git: nothing known
    note = code_change_note(a, b)
    assert note.startswith("warning: this cell runs code revision bbbbbbbbbbbb+dirty, the runner that planned it ran "
                           "aaaaaaaaaaaa:")
    assert "mix revisions" in note


def test_job_files_carry_the_planning_revision(tmp_path):
    from benchmark.grid.cells import build_plan
    from tests.grid.helpers import suite

    cfg = suite(tmp_path, pretraining=("fixed",))
    plan = build_plan(cfg)
    record = job_record(cfg, plan.todo[:1], plan.by_id())
    assert record["code_revision"] == git_revision()
