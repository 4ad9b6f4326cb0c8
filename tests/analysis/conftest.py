"""Shared fixtures of the analysis tests: tiny synthetic results stores (one with several training fractions), built
once per session."""

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


LOWDATA_MODELS = (("resenc_retina_unet", "fixed"), ("resenc_retina_unet", "mae"))


def write_fraction_runs(root, fractions=(0.1, 0.5, 1.0), models=LOWDATA_MODELS, datasets=("S01", "S06"), n_images=20,
                        seeds=(0,), seed_effect=0.3):
    """Runs of every model at every training fraction (RunKey option ``fraction``; none at 1.0), profile ``cpu``,
    for each training seed in ``seeds``.

    Fewer labels, more false positives: a made-up learning curve on the same ground truth (no training). Seed
    ``k`` has ``1 + seed_effect * k`` times the false positives (``seed_effect=0``: every seed the same table)."""
    from analysis.store import write_run
    from analysis.synthetic_store import synthetic_match_table
    from benchmark.core.run_key import RunKey

    for dataset in datasets:
        for model in models:
            for fraction in fractions:
                for seed in seeds:
                    fp = 6.0 / fraction**0.5 * (1 + seed_effect * seed)
                    table = synthetic_match_table(dataset, model, n_images=n_images, fp_per_image=fp)
                    options = {} if fraction == 1.0 else {"fraction": f"{fraction:g}"}
                    write_run(root, RunKey.make(dataset, *model, "cpu", seed=seed, options=options), table)
    return root


@pytest.fixture
def fraction_runs():
    """The builder :func:`write_fraction_runs`, for tests that need their own store of fractions."""
    return write_fraction_runs


NOTEBOOK_LOWDATA_MODELS = tuple((arch, pre) for arch in ("resenc_retina_unet", "resenc_deformable_detr")
                                for pre in ("fixed", "mae"))


@pytest.fixture(scope="session")
def fraction_store(tmp_path_factory):
    """2 datasets x 2 ResEnc detectors x {fixed, mae} x fractions 0.1, 0.25, 0.5, 1.0, 20 images each."""
    root = tmp_path_factory.mktemp("fractions") / "store"
    return write_fraction_runs(root, (0.1, 0.25, 0.5, 1.0), NOTEBOOK_LOWDATA_MODELS)


@pytest.fixture(scope="session")
def one_fraction_store(tmp_path_factory):
    """The same models at the full training set only (no learning curve to draw)."""
    root = tmp_path_factory.mktemp("one_fraction") / "store"
    return write_fraction_runs(root, (1.0,), NOTEBOOK_LOWDATA_MODELS)
