"""Honest reports: synthetic twins are never compared with the paper's real-data results, and the analysis says
what the store holds (real datasets or twins with their scale, models, test images, profiles, seeds)."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from analysis.contents import NOT_COMPARABLE_TWINS, describe_store, run_kind
from analysis.report import run_analysis
from analysis.store import write_run
from analysis.synthetic_store import synthetic_match_table
from analysis.tables import compare_with_reported, comparison_table
from benchmark.core.run_key import RunKey


def _full(datasets):
    rows = [(d, a, p, m, v) for d in datasets for a, p, v in (("retina_unet", "default", 0.5),
                                                             ("retina_unet", "mae", 0.6))
            for m in ("map@0.1", "froc@0.1")]
    return pd.DataFrame(rows, columns=["dataset", "architecture", "pretraining", "metric", "value"])


def test_twins_are_never_compared_with_reported_results():
    full = _full(["S01", "S03"])
    cmp = compare_with_reported(full)
    assert cmp.empty and cmp.attrs["not_applicable"] == NOT_COMPARABLE_TWINS
    assert not (cmp["dataset"].astype(str).str.startswith("D")).any()
    with pytest.raises(ValueError, match="not applicable: synthetic twins are not comparable"):
        comparison_table(full)
    # naming a twin explicitly (as real data or through a mapping onto the paper's id) is refused as well
    with pytest.raises(ValueError, match="S01: not applicable"):
        compare_with_reported(full, dataset_map={"S01": "D01"})
    with pytest.raises(ValueError, match="S01: not applicable"):
        comparison_table(full, datasets=["S01"])


def test_only_real_datasets_are_compared():
    full = _full(["S01", "D01", "D03"])
    cmp = compare_with_reported(full)
    assert sorted(cmp["dataset"].unique()) == ["D01", "D03"] and len(cmp) == 2 * 2 * 2
    row = cmp[(cmp.dataset == "D01") & (cmp.pretraining == "default") & (cmp.metric == "map@0.1")].iloc[0]
    assert row["new"] == 0.5 and row["reported"] == pytest.approx(0.7316)  # D01 itself, not the twin S01
    # the provenance says D03 is not real data: only D01 is compared
    assert sorted(compare_with_reported(full, datasets=["D01"])["dataset"].unique()) == ["D01"]
    t = comparison_table(full, datasets=["D01"])
    new = t.loc[("retina_unet", "default (new)"), "map@0.1"]
    assert new["D01"] == pytest.approx(50.0) and new.drop(["D01", "Mean", "Point Rank"]).isna().all()
    # a store dataset renamed to the paper's id is compared under that id
    renamed = _full(["msd_pancreas"])
    assert list(compare_with_reported(renamed, dataset_map={"msd_pancreas": "D01"})["dataset"].unique()) == ["D01"]
    note = compare_with_reported(_full(["X1"])).attrs["not_applicable"]
    assert note.startswith("not applicable: no real dataset of the paper") and "X1 (not in the paper)" in note


def test_twin_store_analysis_has_no_comparison_and_says_so(tiny_store, tmp_path):
    out = tmp_path / "out"
    (out / "tables").mkdir(parents=True)
    for stale in ("comparison_with_reported.csv", "tables/comparison_table.md", "tables/comparison_table.tex"):
        (out / stale).write_text("left by an earlier analysis (old code compared S01 as D01)\n")
    result, written = run_analysis(tiny_store, out_dir=out, n_replicates=10, figures=False)
    assert result.comparison is None and "comparison_table" not in result.tables
    assert not (out / "comparison_with_reported.csv").exists()
    assert not list((out / "tables").glob("comparison_table.*"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["comparison_with_reported"] == {"status": "not applicable", "datasets": {},
                                                   "note": NOT_COMPARABLE_TWINS}
    contents = summary["store_contents"]
    assert contents["synthetic_twins"] == ["S01", "S03", "S06"] and contents["real_datasets"] == []
    assert summary["n_test_images"] == {"S01": 20, "S03": 20, "S06": 20}
    readme = (out / "README.md").read_text()
    assert "Not applicable: synthetic twins are not comparable with the paper's real-data results" in readme
    assert "| S01 | synthetic twin | D01 |" in readme
    # no written file puts a twin under a real dataset's heading
    for path in (out / "tables").glob("*.md"):
        text = path.read_text()
        if path.stem != "reported_table3":
            assert "D01" not in text.split("\n\n", 1)[1], path.name  # only the caption may name the mirrored D0k
    assert (out / "README.md") in written and "README.md" in summary["files"]


def test_report_states_kind_scale_images_profiles_and_seeds(mixed_store, tmp_path):
    out = tmp_path / "out"
    result, _ = run_analysis(mixed_store, out_dir=out, n_replicates=10, figures=False)
    summary = json.loads((out / "summary.json").read_text())
    contents = summary["store_contents"]
    assert contents["real_datasets"] == ["D01"] and contents["synthetic_twins"] == ["S01", "S03"]
    assert contents["datasets"]["S03"] == {"kind": "synthetic_twin", "mirrors": "D03", "twin_scale": ["tiny"],
                                           "n_test_images": 16, "n_models": 3, "generator": ["unknown"]}
    assert contents["datasets"]["D01"]["kind"] == "real" and contents["datasets"]["D01"]["twin_scale"] is None
    assert contents["profiles"] == ["tiny"] and contents["seeds"] == [1] and contents["folds"] == [None]
    assert summary["n_test_images"] == {"D01": 16, "S01": 16, "S03": 16}
    # the comparison covers D01 only: S01 is never shown as D01
    status = summary["comparison_with_reported"]
    assert status["status"] == "compared" and status["datasets"] == {"D01": "D01"}
    assert "not compared: S01, S03" in status["note"]
    cmp = pd.read_csv(out / "comparison_with_reported.csv")
    assert list(cmp["dataset"].unique()) == ["D01"] and len(cmp) == 3 * 2
    expected = result.full[(result.full["dataset"] == "D01")].set_index(["architecture", "pretraining", "metric"])
    got = cmp.set_index(["architecture", "pretraining", "metric"])["new"]
    pd.testing.assert_series_equal(got.sort_index(), expected["value"].rename("new").sort_index(),
                                   check_exact=False, rtol=1e-9)
    table = (out / "tables" / "comparison_table.md").read_text()
    assert "on its real datasets only (D01)" in table.splitlines()[0]
    caption = (out / "tables" / "table3.md").read_text().splitlines()[0]
    for text in ("D01 (real; 16 test images)", "S01 (synthetic twin of D01, scale tiny; 16 test images)",
                 "3 models", "10 bootstrap replicates (seed 0)", "profile(s) tiny", "seed(s) 1",
                 "Synthetic twins (S01, S03)"):
        assert text in caption, text
    assert r"\caption{Table 3 layout" in (out / "tables" / "table3.tex").read_text()
    readme = (out / "README.md").read_text()
    assert "| D01 | real |  |  | 16 | 3 | 3 | tiny | 1 | None |" in readme
    assert "| S03 | synthetic twin | D03 | tiny | 16 | 3 | 3 | tiny | 1 | None |" in readme
    assert "Compared on D01 (as D01)" in readme


def test_describe_store_reads_provenance_defensively(tmp_path):
    root = tmp_path / "store"
    table = synthetic_match_table("S02", ("retina_unet", "default"), n_images=5)
    def key(dataset):
        return RunKey(dataset, "retina_unet", "default", "cpu", seed=7)

    write_run(root, key("S02"), table)  # no provenance at all
    write_run(root, key("D02"), synthetic_match_table("D02", ("retina_unet", "default"), 5),
              provenance={"config": "not a dict", "dataset": ["nor", "this"]})
    write_run(root, key("D04"), synthetic_match_table("D04", ("retina_unet", "default"), 5),
              provenance={"dataset": {"dataset_id": "D04", "synthetic": True}, "config": {"seed": 7}})
    write_run(root, key("mine"), synthetic_match_table("mine", ("retina_unet", "default"), 5))
    c = describe_store(root)
    kinds = {d: v.kind for d, v in c.datasets.items()}
    # ids decide only where the provenance is silent; a synthetic flag wins over a real-looking id
    assert kinds == {"D02": "real", "D04": "synthetic_twin", "S02": "synthetic_twin", "mine": "unknown"}
    row = c.runs.set_index("dataset").loc["S02"]
    # the run identity always gives profile and seed; the twin scale is unknown without provenance
    assert (row["profile"], row["seed"], row["scale"]) == ("cpu", 7, "unknown")
    assert c.runs.set_index("dataset").loc["D04", "seed"] == 7 and c.seeds == [7]
    assert c.datasets["S02"].n_test_images == (5,) and c.datasets["S02"].mirrors == "D02"
    assert run_kind({"provenance": {"dataset": {"source": {"kind": "synthetic_twin"}}}}, "D05") == "synthetic_twin"
    assert run_kind({"provenance": {"dataset": {"source": {"converter": "benchmark.converters.luna16"}}}},
                    "luna") == "real"
    assert c.to_dict()["other_datasets"] == ["mine"]


def test_synthetic_runs_under_real_ids_are_not_compared(tmp_path):
    """A synthetic store written under the paper's ids (D01, D03): its provenance says synthetic, so no comparison."""
    from analysis.synthetic_store import build_synthetic_store

    root = build_synthetic_store(tmp_path / "store", ("D01", "D03"), (("retina_unet", "default"),
                                                                      ("retina_unet", "mae")), n_images=12)
    result, _ = run_analysis(root, out_dir=tmp_path / "out", n_replicates=5, figures=False)
    assert result.comparison is None and result.comparison_note == NOT_COMPARABLE_TWINS
    assert not (tmp_path / "out" / "comparison_with_reported.csv").exists()


def test_a_store_of_several_code_revisions_says_so(tmp_path):
    """Runs trained by different code revisions differ by about the seed spread: the report names the revisions."""
    from analysis.synthetic_store import build_synthetic_store

    root = build_synthetic_store(tmp_path / "store", ("S01",), (("retina_unet", "default"), ("retina_unet", "mae")),
                                 n_images=8)
    results = sorted(root.rglob("result.json"))
    assert len(results) == 2
    single = describe_store(root)
    assert len(single.revisions) == 1 and single.revision_note() == ""
    for path, revision in zip(results, ("a" * 40, "b" * 40 + "+dirty"), strict=True):
        record = json.loads(path.read_text())
        record["provenance"]["git_revision"] = revision
        path.write_text(json.dumps(record))
    mixed = describe_store(root)
    assert mixed.revisions == {"a" * 40: 1, "b" * 40 + "+dirty": 1}
    note = mixed.revision_note()
    assert note.startswith("The runs come from 2 code revisions: `aaaaaaaaaaaa` (1 runs), `bbbbbbbbbbbb+dirty`")
    out = tmp_path / "out"
    run_analysis(root, out_dir=out, n_replicates=5, figures=False)
    assert note in (out / "README.md").read_text()
    assert json.loads((out / "summary.json").read_text())["store_contents"]["code_revisions"] == mixed.revisions


def test_a_store_computed_on_several_machines_says_so(tmp_path):
    """The same revision rounds differently on another CPU: the report names the machines, unknown ones aside."""
    from analysis.contents import machine_label
    from analysis.synthetic_store import build_synthetic_store

    root = build_synthetic_store(tmp_path / "store", ("S01",), (("retina_unet", "default"), ("retina_unet", "mae"),
                                                               ("retina_unet", "fixed")), n_images=8)
    results = sorted(root.rglob("result.json"))
    assert [r.parent.parent.name for r in results] == ["retina_unet__default", "retina_unet__fixed", "retina_unet__mae"]
    envs = [{"cpu": "AMD EPYC", "torch_cpu_capability": "AVX512", "torch": "2.13.0+cpu"},
            {"cpu": "Intel(R) Xeon(R)", "torch_cpu_capability": "AVX2", "torch": "2.13.0+cpu"},
            {"torch": "2.13.0+cpu"}]  # a run recorded before the CPU was
    for path, env in zip(results, envs, strict=True):
        record = json.loads(path.read_text())
        record["provenance"]["environment"] = env
        path.write_text(json.dumps(record))
    assert machine_label(envs[0]) == "AMD EPYC, AVX512, torch 2.13.0+cpu"
    assert machine_label({**envs[1], "gpu": "NVIDIA H200"}) == "Intel(R) Xeon(R), AVX2, torch 2.13.0+cpu, NVIDIA H200"
    assert machine_label(envs[2]) == "unknown"
    contents = describe_store(root)
    assert contents.machines == {"AMD EPYC, AVX512, torch 2.13.0+cpu": 1, "Intel(R) Xeon(R), AVX2, torch 2.13.0+cpu": 1,
                                 "unknown": 1}
    note = contents.machine_note()
    assert note.startswith("The runs were computed on 2 machines: `AMD EPYC, AVX512, torch 2.13.0+cpu` (1 runs); ")
    out = tmp_path / "out"
    run_analysis(root, out_dir=out, n_replicates=5, figures=False)
    assert note in (out / "README.md").read_text()
    assert json.loads((out / "summary.json").read_text())["store_contents"]["machines"] == contents.machines
    one = describe_store(root).subset(models=[("retina_unet", "default"), ("retina_unet", "mae")])
    assert one.machine_note() == ""  # one known machine and one unknown: nothing to warn about
