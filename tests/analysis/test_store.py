"""The results store: match tables round-trip, runs are indexed, mismatches are reported."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.store import (
    MATCH_TABLE_FILE,
    RESULT_FILE,
    check_paired,
    has_run,
    index_store,
    load_match_table,
    open_store,
    run_dir,
    save_match_table,
    write_run,
)
from analysis.synthetic_store import build_synthetic_store, synthetic_match_table
from benchmark.core.run_key import RunKey
from benchmark.metrics.coco import map_from_matches


def _key(dataset="S01", arch="retina_unet", pre="default", profile="cpu", seed=0, **kw):
    return RunKey.make(dataset, arch, pre, profile, seed=seed, **kw)


def test_match_table_round_trip(tmp_path):
    table = synthetic_match_table("S03", ("retina_unet", "mae"), n_images=12)
    path = save_match_table(table, tmp_path / "t.npz")
    back = load_match_table(path)
    assert back.image_ids == table.image_ids and back.class_names == table.class_names
    for name in ("image_index", "class_index", "score", "tp", "ignored", "gt_counts", "det_index", "gt_index"):
        assert np.array_equal(getattr(back, name), getattr(table, name))
    assert back.meta == table.meta and back.meta["iou_threshold"] == 0.1
    assert map_from_matches(back).map == map_from_matches(table).map
    with pytest.raises(FileNotFoundError):
        load_match_table(tmp_path / "missing.npz")


def test_write_and_open_store(tmp_path):
    table = synthetic_match_table("S01", ("retina_unet", "default"), n_images=8)
    key = _key()
    folder = write_run(tmp_path, key, table, provenance={"seed": 1})
    assert folder == run_dir(tmp_path, key) == tmp_path / "runs" / "S01" / "retina_unet__default" / "cpu_official_seed0"
    assert (folder / MATCH_TABLE_FILE).is_file()
    record = json.loads((folder / RESULT_FILE).read_text())
    assert record["metrics"]["map@0.1"] == pytest.approx(map_from_matches(table).map)
    assert record["provenance"] == {"seed": 1} and record["n_images"] == 8
    assert RunKey.from_json(record["run_key"]) == key and has_run(tmp_path, key)
    store = open_store(tmp_path)
    assert store.datasets == ["S01"] and store.models() == [("retina_unet", "default")]
    assert store.metrics()["metric"].tolist() == ["froc@0.1", "map@0.1"]
    assert store.table("S01", "retina_unet", "default").n_images == 8
    assert store.analysis_dir == tmp_path / "analysis" / "cpu_seed0"
    with pytest.raises(ValueError, match="Runs: S01/retina_unet__default"):
        store.table("S01", "retina_unet", "mae")


def test_runs_of_other_profiles_and_seeds_are_kept_apart(tmp_path):
    table = synthetic_match_table("S01", ("retina_unet", "default"), n_images=8)
    for key in (_key(profile="tiny"), _key(profile="cpu"), _key(profile="cpu", seed=1)):
        write_run(tmp_path, key, table)
    assert len(index_store(tmp_path)) == 3
    assert not has_run(tmp_path, _key(profile="paper"))
    with pytest.raises(ValueError, match="profiles cpu, tiny.*--profile"):
        open_store(tmp_path)
    ranked = open_store(tmp_path, profile="cpu")  # several seeds: rank the smallest, keep all for the spread
    assert ranked.selection["seeds"] == [0] and ranked.selection["all_seeds"] == [0, 1]
    assert sorted(ranked.seed_runs["seed"]) == [0, 1] and ranked.analysis_dir.name == "cpu_seed0"
    chosen = open_store(tmp_path, profile="cpu", seed=1)
    assert chosen.selection["seeds"] == [1] and chosen.analysis_dir.name == "cpu_seed1"
    assert len(open_store(tmp_path, profile="tiny").runs) == 1
    with pytest.raises(ValueError, match="no runs of profile 'paper'"):
        open_store(tmp_path, profile="paper")


def test_ids_are_checked(tmp_path):
    for arch, pre in (("Retina", "default"), ("retina__unet", "default"), ("retina_unet", "")):
        with pytest.raises(ValueError, match="not valid"):
            _key(arch=arch, pre=pre)
    with pytest.raises(FileNotFoundError, match="not a results store"):
        open_store(tmp_path / "nowhere")


def test_old_layout_and_corrupt_records_are_clear_errors(tmp_path):
    table = synthetic_match_table("S01", ("retina_unet", "default"), n_images=4)
    folder = write_run(tmp_path / "s", _key(), table)
    (folder / RESULT_FILE).write_text("{not json")
    with pytest.raises(ValueError, match=r"result\.json: not valid JSON"):
        open_store(tmp_path / "s")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "runs").mkdir()
    (tmp_path / "old" / "store.json").write_text('{"format": "detbench-results", "version": 1}')
    with pytest.raises(ValueError, match="layout version 1"):
        open_store(tmp_path / "old")
    with pytest.raises(ValueError, match="layout version 1"):
        write_run(tmp_path / "old", _key(), table)


def test_unpaired_runs_are_rejected(tmp_path):
    a = synthetic_match_table("S01", ("retina_unet", "default"), n_images=6)
    b = synthetic_match_table("S01", ("retina_unet", "mae"), n_images=7)
    with pytest.raises(ValueError, match="same test images"):
        check_paired({("retina_unet", "default"): a, ("retina_unet", "mae"): b}, "S01")
    write_run(tmp_path, _key(), a)
    write_run(tmp_path, _key(pre="mae"), b)
    with pytest.raises(ValueError, match="in dataset S01"):
        open_store(tmp_path).tables("S01")


def test_synthetic_store_is_deterministic(tmp_path):
    models = [("retina_unet", "default"), ("retina_unet", "mae")]
    a = open_store(build_synthetic_store(tmp_path / "a", ["S06"], models, n_images=10, seed=3))
    b = open_store(build_synthetic_store(tmp_path / "b", ["S06"], models, n_images=10, seed=3))
    assert a.runs[["map@0.1", "froc@0.1"]].equals(b.runs[["map@0.1", "froc@0.1"]])
    ta, tb = a.table("S06", *models[1]), b.table("S06", *models[1])
    assert np.array_equal(ta.score, tb.score) and np.array_equal(ta.tp, tb.tp)
    with pytest.raises(ValueError):
        build_synthetic_store(tmp_path / "c", [], models)


def test_reference_rows_do_not_bring_in_datasets_without_models_of_the_seed(tmp_path):
    """More seeds on one twin of a multi-twin store: the classical rows of the other twins stay out of that seed's
    analysis (they used to make every model 'without a run on every dataset')."""
    for dataset in ("S01", "S06"):
        classical = synthetic_match_table(dataset, ("classical", "none"), 6)
        write_run(tmp_path, _key(dataset, "classical", "none"), classical)
        write_run(tmp_path, _key(dataset), synthetic_match_table(dataset, ("retina_unet", "default"), 6))
    write_run(tmp_path, _key("S06", seed=1), synthetic_match_table("S06", ("retina_unet", "default"), 6))
    one = open_store(tmp_path, profile="cpu", seed=1)
    assert sorted(zip(one.runs["dataset"], one.runs["architecture"], strict=True)) == [
        ("S06", "classical"),
        ("S06", "retina_unet"),
    ]
    both = open_store(tmp_path, profile="cpu")  # seed 0 is shared by every model: both twins, both references
    assert sorted(set(both.runs["dataset"])) == ["S01", "S06"] and len(both.runs) == 4
