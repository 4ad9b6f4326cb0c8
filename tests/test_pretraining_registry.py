from pathlib import Path

import pytest

from analysis.reported_results import PRETRAINING_IDS
from pretraining.registry import PRETRAINING


def test_baselines_registered_with_the_paper_labels():
    assert PRETRAINING.names()[:2] == ["default", "fixed"]
    study = [(name, s) for name, s in PRETRAINING.items() if s.study]
    assert {s.paper_label for _, s in study} <= set(PRETRAINING_IDS)
    assert all(PRETRAINING_IDS[s.paper_label] == name for name, s in study)
    assert PRETRAINING.get("fixed").preprocessing == "fixed" and PRETRAINING.get("default").weights is None


def test_custom_weights_setting_is_not_a_study_row():
    custom = PRETRAINING.get("custom")
    assert not custom.study and custom.weights == "user" and custom.preprocessing == "fixed"


def test_unknown_setting_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Valid names: .*default, fixed"):
        PRETRAINING.get("maee")


def test_study_settings_have_table3_labels_and_architectures():
    import csv
    from importlib import resources

    with (resources.files("analysis") / "reported" / "eckstein2025_table3_test.csv").open() as fh:
        rows = {(r["architecture"], r["pretraining"]) for r in csv.DictReader(fh)}
    ids = {"RetUNet": "retina_unet", "DefDETR": "deformable_detr", "ResEnc-RetUNet": "resenc_retina_unet",
           "ResEnc-DefDETR": "resenc_deformable_detr"}
    for name in ("mt", "mae", "s3d", "mg", "voco"):
        spec = PRETRAINING.get(name)
        assert spec.weights == "pretrained" and spec.preprocessing == "fixed" and spec.study
        assert PRETRAINING_IDS[spec.paper_label] == name
        reported = {ids[a] for a, p in rows if p == spec.paper_label}
        assert set(spec.architectures) == reported  # Table 3: MT on all four, SSL on the ResEnc detectors
    assert PRETRAINING.get("mt").method == "multitalent" and PRETRAINING.get("mg").method == "mg"


def test_ssl_setting_on_a_plain_encoder_is_an_error():
    from pretraining.registry import check_applicable

    check_applicable(PRETRAINING.get("mt"), "retina_unet")
    check_applicable(PRETRAINING.get("mae"), "resenc_deformable_detr")
    with pytest.raises(ValueError, match="applies to resenc_retina_unet, resenc_deformable_detr only"):
        check_applicable(PRETRAINING.get("mae"), "deformable_detr")


def test_weights_source_prefers_a_present_record_and_keys_the_cache(tmp_path, monkeypatch):
    from pretraining.registry import pretrained_cache_dir, weights_source

    monkeypatch.setenv("DETBENCH_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.delenv("DETBENCH_PRETRAINED", raising=False)
    mae = PRETRAINING.get("mae")
    source = weights_source(mae, "resenc_retina_unet", "tiny", cache_dir=tmp_path / "cache")
    assert source.kind == "synthetic" and source.path == tmp_path / "cache" / "mae" / "resenc" / "tiny_seed0"
    assert source.checkpoint == source.path / "pretrained.pt"
    mt = weights_source(PRETRAINING.get("mt"), "retina_unet", "cpu", seed=2, data_root=tmp_path / "d")
    assert mt.path == tmp_path / "d" / "pretrained" / "multitalent" / "plain" / "cpu_seed2"
    monkeypatch.setenv("DETBENCH_PRETRAINED", str(tmp_path / "env"))
    assert pretrained_cache_dir() == tmp_path / "env" and pretrained_cache_dir("x") == Path("x")
    record = tmp_path / "weights" / "mae_resencl"
    record.mkdir(parents=True)
    (record / "checkpoint_final.pth").write_bytes(b"downloaded")
    found = weights_source(mae, "resenc_retina_unet", "tiny")
    assert found.kind == "record" and found.path == record and found.record == "mae_resencl"


def test_run_grid_leaves_out_ssl_on_plain_encoders():
    from benchmark.runner import SuiteConfig, suite_grid

    cfg = SuiteConfig(suite="S06", architectures=("retina_unet", "resenc_retina_unet"), pretraining=("fixed", "mae"))
    assert suite_grid(cfg) == [
        ("S06", "retina_unet", "fixed"),
        ("S06", "resenc_retina_unet", "fixed"),
        ("S06", "resenc_retina_unet", "mae"),
    ]


def test_a_cached_pre_training_of_another_encoder_shape_is_refused(tmp_path, monkeypatch):
    """A cache made before a profile changed its encoder (here: ResEnc blocks) is not silently fine-tuned."""
    from dataclasses import asdict

    import pretraining.profiles as pre_profiles
    from models.encoders import build_encoder
    from pretraining.checkpoint import PretrainedCheckpoint, save_checkpoint
    from pretraining.registry import resolve_pretrained, weights_source
    from pretraining.trainer import encoder_config_for

    monkeypatch.setenv("DETBENCH_WEIGHTS", str(tmp_path / "weights"))
    mae = PRETRAINING.get("mae")
    source = weights_source(mae, "resenc_retina_unet", "tiny", cache_dir=tmp_path / "cache")
    today = encoder_config_for("resenc", pre_profiles.PRETRAINING_PROFILES.get("tiny"), in_channels=1)

    def cache(config):
        weights = {k: v.detach().clone() for k, v in build_encoder(config).state_dict().items()}
        save_checkpoint(source.checkpoint, PretrainedCheckpoint("mae", asdict(config), weights, data={"corpus": "t"}))

    cache(today)
    assert resolve_pretrained(mae, "resenc_retina_unet", "tiny", cache_dir=tmp_path / "cache", progress=False) == source
    cache(today.with_leading_blocks(tuple(b + 1 for b in today.stage_blocks)))
    with pytest.raises(ValueError, match="has another encoder than profile 'tiny' builds now.*Delete that folder"):
        resolve_pretrained(mae, "resenc_retina_unet", "tiny", cache_dir=tmp_path / "cache", progress=False)
