"""The leaderboard files: schema (extra fields refused), store (load, atomic write, slug refusal), init, add-store."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from benchmark.cli import main
from leaderboards.definitions import board_specs
from leaderboards.schema import BoardSpec, Entry, slugify
from leaderboards.store import BoardStoreError, EntryExistsError, load_board, load_boards, write_entry

REPORTED = {"kind": "reported", "citation": "A paper", "source": "somewhere"}


def _entry(**kw):
    base = dict(board_id="s06-map", method="My Net", slug="my-net", date="2026-01-02", value=0.5, provenance=REPORTED)
    return Entry.model_validate({**base, **kw})


def test_slugify():
    assert slugify("ResEnc-RetUNet / No - Default") == "resenc-retunet-no-default"
    with pytest.raises(ValueError, match="no letters or digits"):
        slugify("!!!")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "Extra inputs are not permitted"),
        ({"slug": "other"}, "must be slugify(method)"),
        ({"value": float("nan")}, "finite"),
        ({"ci_low": 0.1, "ci_high": 0.2}, "reported entry has no interval"),
        ({"date": "02.01.2026"}, "date"),
        ({"provenance": {"kind": "guessed"}}, "provenance"),
        ({"provenance": {**REPORTED, "extra": 1}}, "Extra inputs"),
    ],
)
def test_entry_schema_refuses(change, message):
    with pytest.raises(ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        _entry(**change)


def test_board_spec_id_must_match():
    with pytest.raises(ValidationError, match="board_id"):
        BoardSpec(board_id="s06-froc", dataset="S06", protocol="map", metric="map@0.1", title="t")


def test_definitions_cover_every_dataset_twin_and_official_protocol():
    ids = {b.board_id for b in board_specs()}
    for k in range(1, 9):
        assert {f"d0{k}-map", f"d0{k}-froc", f"s0{k}-map", f"s0{k}-froc"} <= ids
    assert {"d06-luna16-cpm", "d07-pn9", "d08-cta-a-internal", "d08-cta-a-external"} <= ids
    assert next(b for b in board_specs() if b.board_id == "d08-cta-a-external").split == "external_test"


def test_init_writes_boards_and_reported_entries_and_is_idempotent(tmp_path, capsys):
    root = tmp_path / "boards"
    assert main(["leaderboard", "init", "--boards", str(root)]) == 0
    assert main(["leaderboard", "init", "--boards", str(root)]) == 0
    assert "0 board.json written" in capsys.readouterr().out
    boards = {b.board_id: b for b in load_boards(root)}
    assert len(boards) == len(board_specs())
    d06 = boards["d06-map"]
    assert len(d06.entries) == 20 and all(e.provenance.kind == "reported" for e in d06.entries)
    assert "MICCAI 2025" in d06.entries[0].provenance.citation
    values = [e.value for e in d06.entries]
    assert values == sorted(values, reverse=True)  # best first
    assert not boards["s06-map"].entries


def test_write_entry_refuses_an_existing_slug(tmp_path):
    main(["leaderboard", "init", "--boards", str(tmp_path), "--no-reported"])
    write_entry(tmp_path, _entry())
    with pytest.raises(EntryExistsError, match="already has an entry 'my-net'"):
        write_entry(tmp_path, _entry(value=0.6))
    write_entry(tmp_path, _entry(value=0.6), replace=True)
    assert load_board(tmp_path, "s06-map").entry("my-net").value == 0.6
    assert not list(tmp_path.glob("s06-map/entries/.*.tmp"))


def test_a_broken_entry_file_is_an_error_naming_it(tmp_path):
    main(["leaderboard", "init", "--boards", str(tmp_path), "--no-reported"])
    path = write_entry(tmp_path, _entry())
    obj = json.loads(path.read_text(encoding="utf-8"))
    obj["typo"] = 1
    path.write_text(json.dumps(obj))
    with pytest.raises(BoardStoreError, match=r"my-net.json: typo: Extra inputs"):
        load_boards(tmp_path)


def test_add_store_entries(seeded_boards, store):
    board = load_board(seeded_boards, "s06-froc")
    assert [e.provenance.kind for e in board.entries] == ["evaluated"] * 3
    for e in board.entries:
        assert 0 <= e.ci_low <= e.ci_high <= 1
        assert e.rank.n_entries == 3 and 1 <= e.rank.low <= e.rank.high <= 3
        assert e.per_case and (seeded_boards / "s06-froc" / "tables" / f"{e.slug}.npz").is_file()


def test_add_store_refuses_existing_entries_unless_replace(store, boards, capsys):
    assert main(["leaderboard", "add-store", str(store), "--boards", str(boards), "--replicates", "5"]) == 1
    assert "pass --replace" in capsys.readouterr().err
    assert main(["leaderboard", "add-store", str(store), "--boards", str(boards), "--replicates", "5",
                 "--replace"]) == 0
    assert load_board(boards, "s06-map").entries[0].rank.n_replicates == 5
