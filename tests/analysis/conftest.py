"""Shared fixtures of the analysis tests: a tiny synthetic results store, built once per session."""

from __future__ import annotations

import pytest

from analysis.synthetic_store import build_synthetic_store

MODELS = (
    ("retina_unet", "default"),
    ("retina_unet", "mae"),
    ("resenc_deformable_detr", "default"),
    ("resenc_deformable_detr", "voco"),
)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    """3 datasets x 4 models x 20 images, matched by the real matcher."""
    return build_synthetic_store(tmp_path_factory.mktemp("store") / "store", ("S01", "S03", "S06"), MODELS, n_images=20)


def write_runner_like_runs(root, datasets, models, n_images=16, profile="tiny", seed=1, scale="tiny"):
    """Runs with the provenance layout the runner writes (``benchmark.provenance.collect_provenance``): twins
    ``S0k`` carry the twin generator's record (kind, mirrors, scale), ``D0k`` a converter's record. The match
    tables are synthetic (made-up predictions); only the provenance shape matters to these tests."""
    from analysis.store import write_run
    from analysis.synthetic_store import synthetic_match_table
    from benchmark.core.run_key import RunKey

    for dataset in datasets:
        if dataset.startswith("S"):
            source = {"kind": "synthetic_twin", "twin_id": dataset, "mirrors": "D" + dataset[1:], "scale": scale}
        else:
            source = {"converter": "benchmark.converters.msd_pancreas", "source": "made up for a test"}
        for arch, pre in models:
            provenance = {
                "seed": seed,
                "config": {"dataset": dataset, "architecture": arch, "pretraining": pre, "profile": profile,
                           "seed": seed, "fold": None},
                "dataset": {"dataset_id": dataset, "version": "1", "splits_version": "1", "source": source},
            }
            table = synthetic_match_table(dataset, (arch, pre), n_images=n_images)
            write_run(root, RunKey(dataset, arch, pre, profile, seed=seed), table, provenance=provenance)
    return root


@pytest.fixture(scope="session")
def mixed_store(tmp_path_factory):
    """Twins S01, S03 (scale tiny) and a run-as-real D01 (converter provenance), 3 models x 16 images each."""
    root = tmp_path_factory.mktemp("mixed") / "store"
    write_runner_like_runs(root, ("S01", "S03"), MODELS[:3], profile="tiny", seed=1, scale="tiny")
    write_runner_like_runs(root, ("D01",), MODELS[:3], profile="tiny", seed=1)
    return root
