"""``benchmark analyze STORE`` writes every frame, table and figure into the store."""

from __future__ import annotations

import argparse
import json

import pandas as pd
import pytest

from benchmark.commands import analyze


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    analyze.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_analyze_writes_everything(tiny_store, tmp_path, capsys):
    out = tmp_path / "out"
    assert analyze.run(parse(str(tiny_store), "--replicates", "40", "--seed", "2", "--out", str(out))) == 0
    assert "analysed 4 models x 3 datasets, 40 replicates" in capsys.readouterr().out
    for name in ("full_metrics.csv", "bootstrap_replicates.csv.gz", "rank_distribution.csv", "aggregated_ranks.csv",
                 "baseline_deltas.csv", "ranking_stability_summary.csv", "bootstrap_counts.npz", "summary.json",
                 "README.md"):
        assert (out / name).is_file(), name
    for name in ("table3", "table2_map", "table2_froc", "reported_table3"):
        assert (out / "tables" / f"{name}.md").is_file() and (out / "tables" / f"{name}.tex").is_file()
    # the store holds synthetic twins only: nothing is compared with the paper's real-data results
    assert not (out / "comparison_with_reported.csv").exists() and not (out / "tables" / "comparison_table.md").exists()
    assert (out / "statistics.html").is_file() and (out / "challenge_rankings.csv").is_file()
    for name in ("fig2_ranking_overview_map", "fig3_per_dataset_froc", "blob_consensus_map"):
        assert (out / "figures" / f"{name}.png").is_file() and (out / "figures" / f"{name}.pdf").is_file()
    reps = pd.read_csv(out / "bootstrap_replicates.csv.gz")
    assert len(reps) == 3 * 4 * 2 * 40
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_replicates"] == 40 and summary["seed"] == 2 and summary["tie_rule"] == "min"
    assert "tables/table3.md" in summary["files"]


def test_analyze_defaults_to_store_analysis_and_is_reproducible(tiny_store, tmp_path):
    assert analyze.run(parse(str(tiny_store), "--replicates", "15", "--no-figures")) == 0
    default_out = tiny_store / "analysis" / "synthetic_seed0"  # STORE/analysis/<profile>_seed<seed>
    first = pd.read_csv(default_out / "aggregated_ranks.csv")
    assert not (default_out / "figures").exists() and not (default_out / "statistics.html").exists()
    assert (default_out / "challenge_tests.csv.gz").is_file()
    assert analyze.run(parse(str(tiny_store), "--replicates", "15", "--no-figures", "--out", str(tmp_path))) == 0
    pd.testing.assert_frame_equal(first, pd.read_csv(tmp_path / "aggregated_ranks.csv"))


def test_analyze_user_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a results store"):
        analyze.run(parse(str(tmp_path), "--replicates", "5"))
    with pytest.raises(ValueError, match="--replicates"):
        analyze.run(parse(str(tmp_path), "--replicates", "0"))
