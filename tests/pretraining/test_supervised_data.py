"""Synthetic supervised pre-training data: label sets and channels, disjointness from the twins S01-S08 (random
streams and array hashes), the patch source's batches, description and cache."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

import pretraining.supervised_data as sd
from benchmark.synthetic.generate import CORPUS_KEY, PLAN_KEY, case_rng, plan_twin
from benchmark.synthetic.generate import generate_case as generate_twin_case
from benchmark.synthetic.twins import TWINS
from pretraining.sources import PatchSource
from pretraining.supervised_data import (
    SUPERVISED_DATASETS,
    SUPERVISED_STREAMS,
    SupervisedPatchSource,
    case_seed_keys,
    generate_case,
    label_sets,
)

FINE_TUNING_TWINS = [f"S0{i}" for i in range(1, 9)]


def test_datasets_cover_ct_and_multichannel_mri_with_different_label_sets():
    sets = label_sets()
    assert len(sets) >= 3
    ct = [n for n, d in sets.items() if d["modality"] == "CT" and d["channels"] == 1]
    mri = [n for n, d in sets.items() if d["modality"] == "MRI" and d["channels"] > 1]
    assert ct and mri
    assert len({d["channels"] for d in sets.values()}) >= 2
    assert len({tuple(d["classes"]) for d in sets.values()}) == len(sets)  # every label set differs


def test_cases_have_labels_from_the_scene_anatomy_and_zscored_images():
    for name, d in SUPERVISED_DATASETS.items():
        case = generate_case(name, 0, seed=0, scale="tiny")
        assert case.image.shape == (d.in_channels, 40, 40, 40) and case.image.dtype == np.float32
        assert case.labels.shape == (len(d.classes), 40, 40, 40) and case.labels.dtype == np.uint8
        assert set(np.unique(case.labels)) <= {0, 1}
        assert case.labels.reshape(len(d.classes), -1).any(axis=1).sum() >= len(d.classes) - 1, name
        np.testing.assert_allclose(case.image.mean(axis=(1, 2, 3)), 0.0, atol=1e-3)
        np.testing.assert_allclose(case.image.std(axis=(1, 2, 3)), 1.0, atol=1e-3)


def test_generation_is_deterministic_per_seed():
    a = generate_case("SUP04_BreastMRI", 1, seed=3)
    b = generate_case("SUP04_BreastMRI", 1, seed=3)
    c = generate_case("SUP04_BreastMRI", 1, seed=4)
    assert a.sha256() == b.sha256() != c.sha256()


def test_seed_streams_are_disjoint_from_every_twin_and_the_corpus():
    twin_streams = {TWINS.get(t).number for t in TWINS}
    assert {TWINS.get(t).number for t in FINE_TUNING_TWINS} <= twin_streams
    streams = list(SUPERVISED_STREAMS.values())
    assert len(set(streams)) == len(streams)
    assert not set(streams) & (twin_streams | {CORPUS_KEY})
    assert all(case_seed_keys(n, 0)[0] == s for n, s in SUPERVISED_STREAMS.items())


def _first_draws(rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(int(v) for v in rng.integers(0, 2**63, size=4))


def test_no_supervised_case_shares_a_random_stream_with_a_twin_case():
    """Every supervised case's generator (seeds 0-2) differs from every twin case's and plan's (seeds 0-2)."""
    seeds = range(3)
    twin_draws = set()
    for tid in FINE_TUNING_TWINS:
        twin = TWINS.get(tid)
        n_cases = len(plan_twin(twin, "small", 0))
        for seed in seeds:
            twin_draws |= {_first_draws(case_rng(seed, twin.number, i)) for i in range(n_cases)}
            twin_draws.add(_first_draws(case_rng(seed, twin.number, PLAN_KEY)))
    ours = set()
    for name in SUPERVISED_DATASETS:
        for seed in seeds:
            ours |= {
                _first_draws(case_rng(seed, *case_seed_keys(name, i)))
                for i in range(sd.SUPERVISED_SCALES["full"].cases)
            }
    assert len(ours) == 3 * len(SUPERVISED_DATASETS) * sd.SUPERVISED_SCALES["full"].cases
    assert not ours & twin_draws


def _hash(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


def test_no_supervised_array_equals_a_twin_array():
    """Hash every image channel and label map of the tiny twins S01-S08 and of the supervised data (seed 0)."""
    twin_hashes = set()
    for tid in FINE_TUNING_TWINS:
        twin = TWINS.get(tid)
        for plan in plan_twin(twin, "tiny", 0):
            case = generate_twin_case(twin, "tiny", 0, plan)
            twin_hashes |= {_hash(channel) for channel in case.image}
    source = SupervisedPatchSource(None, 32, seed=0, scale="tiny")
    ours = {_hash(channel) for cases in source.cases.values() for case in cases for channel in case.image}
    assert len(ours) == sum(len(c) * c[0].image.shape[0] for c in source.cases.values())
    assert not ours & twin_hashes


def test_patch_source_batches_one_dataset_with_its_labels():
    source = SupervisedPatchSource(None, (32, 24, 32), seed=0, scale="tiny")
    assert isinstance(source, PatchSource)
    assert source.patch_size == (32, 24, 32) and source.in_channels == 1
    rng = np.random.default_rng(0)
    seen = set()
    for _ in range(20):
        batch = source.sample(rng, 3)
        spec = SUPERVISED_DATASETS[batch.dataset]
        assert batch.images.shape == (3, spec.in_channels, 32, 24, 32)
        assert batch.labels.shape == (3, len(spec.classes), 32, 24, 32)
        assert set(batch.labels.unique().tolist()) <= {0.0, 1.0}
        seen.add(batch.dataset)
    assert len(seen) >= 3
    again = source.sample(np.random.default_rng(5), 2)
    same = source.sample(np.random.default_rng(5), 2)
    assert again.dataset == same.dataset and bool((again.images == same.images).all())


def test_patches_larger_than_the_volumes_are_padded():
    source = SupervisedPatchSource(None, 48, scale="tiny", datasets=["SUP03_HeadCTA"])
    batch = source.sample(np.random.default_rng(0), 1)
    assert batch.images.shape == (1, 1, 48, 48, 48) and batch.labels.shape == (1, 2, 48, 48, 48)


def test_describe_is_json_and_names_datasets_and_hash():
    source = SupervisedPatchSource(None, 32, seed=1, scale="tiny", datasets=["SUP01_AbdomenCT", "SUP05_BreastMRI2ch"])
    info = json.loads(json.dumps(source.describe()))
    assert info["kind"] == "synthetic_supervised" and info["seed"] == 1 and info["scale"] == "tiny"
    assert info["datasets"]["SUP05_BreastMRI2ch"]["channels"] == 2
    assert info["datasets"]["SUP01_AbdomenCT"]["classes"] == ["liver", "spleen", "kidneys", "pancreas"]
    other = SupervisedPatchSource(None, 32, seed=2, scale="tiny", datasets=["SUP01_AbdomenCT", "SUP05_BreastMRI2ch"])
    assert other.describe()["cases_sha256"] != info["cases_sha256"]
    assert source.label_sets() == label_sets(["SUP01_AbdomenCT", "SUP05_BreastMRI2ch"])


def test_cache_folder_is_written_then_reused(tmp_path, monkeypatch):
    first = SupervisedPatchSource(tmp_path, 32, seed=0, scale="tiny", datasets=["SUP03_HeadCTA"])
    assert (tmp_path / "supervised.json").is_file()
    assert len(list((tmp_path / "SUP03_HeadCTA").glob("*.npz"))) == sd.SUPERVISED_SCALES["tiny"].cases

    def no_generation(*args, **kwargs):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(sd, "generate_dataset", no_generation)
    second = SupervisedPatchSource(tmp_path, 32, seed=0, scale="tiny", datasets=["SUP03_HeadCTA"])
    assert second.describe()["cases_sha256"] == first.describe()["cases_sha256"]
    with pytest.raises(AssertionError, match="cache"):  # another seed does not reuse the cache
        SupervisedPatchSource(tmp_path, 32, seed=1, scale="tiny", datasets=["SUP03_HeadCTA"])


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="Did you mean 'SUP03_HeadCTA'"):
        SupervisedPatchSource(None, 32, datasets=["SUP03_HeadCT"])
    with pytest.raises(ValueError, match="unknown scale"):
        SupervisedPatchSource(None, 32, scale="huge")
    with pytest.raises(ValueError, match="patch_size"):
        SupervisedPatchSource(None, (32, 32), datasets=["SUP03_HeadCTA"])
    with pytest.raises(ValueError, match="seed"):
        SupervisedPatchSource(None, 32, seed=-1)


def test_a_folder_that_is_not_a_cache_is_never_written_into(tmp_path):
    (tmp_path / "Dataset001_Real").mkdir()
    (tmp_path / "Dataset001_Real" / "dataset.json").write_text("{}")
    with pytest.raises(ValueError, match="not a cache of the synthetic supervised datasets"):
        SupervisedPatchSource(tmp_path, 32, datasets=["SUP03_HeadCTA"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Dataset001_Real"]
