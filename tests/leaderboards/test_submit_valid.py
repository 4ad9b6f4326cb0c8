"""A valid submission on the tiny S06 twin: its entries, interval and rank equal `benchmark analyze`'s."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from lb_submissions import match_table_of, write_json

from benchmark.cli import main
from leaderboards.schema import slugify
from leaderboards.store import load_board

REPLICATES = 50


def _submit(twin, boards, path, method="My Net", *extra):
    return main(["submit", "--dataset", str(twin), "--predictions", path, "--method", method, "--boards", str(boards),
                 "--replicates", str(REPLICATES), *extra])


def test_rank_and_interval_equal_benchmark_analyze(twin, store, boards, good_predictions, tmp_path, capsys):
    from analysis.store import write_run
    from benchmark.core.run_key import RunKey

    path = write_json(tmp_path / "p.json", good_predictions)
    assert _submit(twin, boards, path) == 0, capsys.readouterr().err
    # The same predictions as a run in a copy of the store, analysed by `benchmark analyze`.
    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    write_run(copy, RunKey("S06", "my_net", "none", "tiny"), match_table_of(twin, good_predictions))
    out = tmp_path / "analysis"
    assert main(["analyze", str(copy), "--replicates", str(REPLICATES), "--out", str(out), "--no-figures"]) == 0
    reps = pd.read_csv(out / "bootstrap_replicates.csv.gz")
    full = pd.read_csv(out / "full_metrics.csv")
    for metric, board_id in (("map@0.1", "s06-map"), ("froc@0.1", "s06-froc")):
        board = load_board(boards, board_id)
        evaluated = [e for e in board.entries if e.provenance.kind == "evaluated"]
        assert len(evaluated) == 4
        for entry in evaluated:
            arch, pre = ("my_net", "none") if entry.slug == "my-net" else (entry.architecture, entry.pretraining)
            assert entry.slug == slugify(entry.method)
            mine = reps[(reps.metric == metric) & (reps.architecture == arch) & (reps.pretraining == pre)]
            assert len(mine) == REPLICATES
            ranks = mine["rank"].dropna()
            assert entry.rank.n_entries == 4 and entry.rank.n_replicates == REPLICATES
            assert entry.rank.mean == pytest.approx(ranks.mean())
            assert entry.rank.median == pytest.approx(ranks.median())
            assert entry.rank.low == pytest.approx(ranks.quantile(0.025))
            assert entry.rank.high == pytest.approx(ranks.quantile(0.975))
            assert entry.ci_low == pytest.approx(mine["value"].quantile(0.025))
            assert entry.ci_high == pytest.approx(mine["value"].quantile(0.975))
            row = full[(full.metric == metric) & (full.architecture == arch) & (full.pretraining == pre)]
            assert entry.value == pytest.approx(float(row["value"].iloc[0]))
        # the board's order (best first) is the analysis' full-data rank
        order = [e.slug for e in evaluated]
        by_rank = full[full.metric == metric].sort_values(["rank", "architecture"])
        assert order[0] == ("my-net" if by_rank.architecture.iloc[0] == "my_net" else slugify(
            f"{by_rank.architecture.iloc[0]} + {by_rank.pretraining.iloc[0]}"))
    entry = load_board(boards, "s06-map").entry("my-net")
    assert entry.provenance.kind == "evaluated" and len(entry.provenance.predictions_sha256) == 64
    assert {c.case_id for c in entry.per_case} == set(good_predictions["cases"])
    assert (boards / "s06-map" / "tables" / "my-net.npz").is_file()


def test_csv_and_zip_give_the_same_entry_as_json(twin, boards, good_predictions, tmp_path, capsys):
    import zipfile

    rows = ["case_id,z1,y1,x1,z2,y2,x2,score,label"]
    for cid, case in good_predictions["cases"].items():
        if not case["scores"]:
            rows.append(f"{cid},,,,,,,,")
        for box, score, label in zip(case["boxes"], case["scores"], case["labels"], strict=True):
            rows.append(",".join([cid, *map(repr, box), repr(score), str(label)]))
    (tmp_path / "p.csv").write_text("\n".join(rows) + "\n")
    with zipfile.ZipFile(tmp_path / "p.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.write(tmp_path / "p.csv", "predictions/p.csv")
    write_json(tmp_path / "p.json", good_predictions)
    for name, file in (("A json", "p.json"), ("A csv", "p.csv"), ("A zip", "p.zip")):
        assert _submit(twin, boards, str(tmp_path / file), name) == 0, capsys.readouterr().err
    board = load_board(boards, "s06-map")
    values = {board.entry(s).value for s in ("a-json", "a-csv", "a-zip")}
    assert len(values) == 1
    assert board.entry("a-json").rank.n_entries == 6  # 3 study runs + 3 submissions, all re-ranked
    assert all(e.rank.n_entries == 6 for e in board.entries if e.provenance.kind == "evaluated")


def test_existing_method_is_refused_unless_replace(twin, boards, good_predictions, tmp_path, capsys):
    path = write_json(tmp_path / "p.json", good_predictions)
    assert _submit(twin, boards, path) == 0
    before = (boards / "s06-map" / "entries" / "my-net.json").read_text(encoding="utf-8")
    capsys.readouterr()
    assert _submit(twin, boards, path) == 1
    assert "already on board(s)" in capsys.readouterr().err
    assert (boards / "s06-map" / "entries" / "my-net.json").read_text(encoding="utf-8") == before
    assert _submit(twin, boards, path, "My Net", "--replace", "--description", "second try") == 0
    entry = load_board(boards, "s06-map").entry("my-net")
    assert entry.description == "second try" and entry.rank.n_entries == 4


def test_a_study_run_name_is_refused_too(twin, boards, good_predictions, tmp_path, capsys):
    path = write_json(tmp_path / "p.json", good_predictions)
    assert _submit(twin, boards, path, "retina_unet + mae") == 1
    assert "retina-unet-mae" in capsys.readouterr().err


def test_dataset_id_under_data_root(twin, boards, good_predictions, tmp_path, capsys):
    path = write_json(tmp_path / "p.json", good_predictions)
    data_root = twin.parent.parent.parent  # DATA/synthetic/tiny/S06_LUNA16
    args = ["submit", "--dataset", "S06", "--data-root", str(data_root), "--predictions", path, "--method", "m",
            "--boards", str(boards), "--replicates", "5"]
    assert main(args) == 0, capsys.readouterr().err
    assert np.isfinite(load_board(boards, "s06-froc").entry("m").value)


def test_official_protocol_boards_with_an_external_test_set(tmp_path, capsys):
    """CTA-A (D08): mAP, FROC, internal and external protocol boards; the external set is scored on its cases."""
    from builders import make_case

    from benchmark.data.format import DatasetMeta, Splits, write_case, write_dataset_files

    root, rng = tmp_path / "D08", np.random.default_rng(0)
    splits = Splits(train=["c_0"], val=["c_1"], test=["c_2", "c_3", "c_4"], external_test=["e_0", "e_1"])
    for split in ("train", "val", "test", "external_test"):
        for cid in splits.get(split):
            write_case(root, make_case(cid, rng, boxes=True), split)
    write_dataset_files(root, DatasetMeta("CTA-A", "D08", ["CT"], ["a", "b"]), splits)
    boards = tmp_path / "boards"
    assert main(["leaderboard", "init", "--boards", str(boards), "--no-reported"]) == 0
    good = {"boxes": [[1, 1, 1, 3, 4, 5], [5, 5, 6, 7, 8, 10]], "scores": [0.9, 0.4], "labels": [0, 1]}
    half = {"boxes": [[1, 1, 1, 3, 4, 5], [0, 0, 0, 1, 1, 1]], "scores": [0.3, 0.9], "labels": [0, 1]}
    for method, case in (("Good", good), ("Half", half)):
        obj = {"format_version": 1, "dataset": "D08", "cases": {c: case for c in [*splits.test, *splits.external_test]}}
        path = write_json(tmp_path / f"{method}.json", obj)
        assert _submit(root, boards, path, method) == 0, capsys.readouterr().err
    for board_id in ("d08-map", "d08-froc", "d08-cta-a-internal", "d08-cta-a-external"):
        board = load_board(boards, board_id)
        assert [e.slug for e in board.entries] == ["good", "half"], board_id
        assert board.entries[0].rank.n_entries == 2 and board.entries[0].value > board.entries[1].value
    external = load_board(boards, "d08-cta-a-external").entry("good")
    assert [c.case_id for c in external.per_case] == ["e_0", "e_1"]
    assert (boards / "d08-cta-a-external" / "tables" / "half.npz").is_file()
