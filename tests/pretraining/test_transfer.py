"""Transfer into detectors: after import + transfer every encoder tensor equals the checkpoint's, everything else
keeps its initialisation, and the report is exact; for (a) a detbench checkpoint, (b) an nnssl checkpoint of the
study's ResEnc-L, (c) an nnU-Net v2 PlainConvUNet checkpoint, (d) MultiTalent v1 state dicts. The expected
tensors come from the source networks themselves (dynamic-network-architectures keys equal detbench's), or for
v1 from the v1 names spelled out below, never from the importer."""

from __future__ import annotations

import json

import pytest
import torch
from pretrain_cases import (
    FEATURES,
    RESENC_BLOCKS,
    library_unet,
    nnssl_plan,
    nnunet_plans,
    plain_kwargs,
    randomise,
    save_nnssl_checkpoint,
    save_nnunet_results,
    save_v1_checkpoint,
    v1_generic_unet_state,
    v1_residual_state,
)

from models.config import EncoderConfig
from models.encoders import build_encoder
from models.registry import build_detector, default_config
from pretraining.checkpoint import CheckpointError, PretrainedCheckpoint, save_checkpoint
from pretraining.importers import import_weights
from pretraining.transfer import (
    REPORT_FILE,
    build_detector_for_checkpoint,
    default_stem,
    detector_config_for_checkpoint,
    init_from_pretrained,
    transfer_weights,
)


def _snapshot(detector) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in detector.state_dict().items()}


def _assert_exact(detector, before, expected, report, kept=()):
    """Encoder tensors equal ``expected`` (detector key -> tensor) except ``kept``; the rest is unchanged; the
    report lists exactly the encoder keys as transferred and nothing as missing, unexpected or mismatched."""
    after = detector.state_dict()
    encoder_keys = sorted(k for k in after if k.startswith("encoder."))
    assert encoder_keys, "the detector has no encoder tensors"
    for key in encoder_keys:
        want = before[key] if key in kept else expected[key]
        assert torch.equal(after[key], want), key
    others = [k for k in after if not k.startswith("encoder.")]
    assert others, "the detector has no tensors besides the encoder"
    for key in others:
        assert torch.equal(after[key], before[key]), f"{key} changed but is not part of the encoder"
    assert report.transferred == sorted(set(encoder_keys) - set(kept))
    assert report.kept_initialisation == sorted(kept)
    assert report.missing == [] and report.unexpected == [] and report.mismatched == []
    counts = report.to_json()["counts"]
    assert counts["transferred"] == len(encoder_keys) - len(kept)


def _detbench_checkpoint(kind: str, **encoder) -> tuple[PretrainedCheckpoint, dict]:
    config = EncoderConfig(kind=kind, **encoder)
    torch.manual_seed(5)
    enc = build_encoder(config)
    randomise(enc, seed=7)
    weights = {k: v.clone() for k, v in enc.state_dict().items()}
    from dataclasses import asdict

    ck = PretrainedCheckpoint(method="mae", encoder=asdict(config), encoder_weights=weights, data={"corpus": "SPT"})
    return ck, weights


# -- (a) detbench ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch,kind", [("resenc_deformable_detr", "resenc"), ("retina_unet", "plain")])
def test_a_detbench_checkpoint_transfers_exactly(tmp_path, arch, kind):
    ck, weights = _detbench_checkpoint(kind, width_multiplier=0.25, n_stages=4)
    path = save_checkpoint(tmp_path / "enc.pt", ck)
    loaded = import_weights(path)
    assert loaded.method == "mae" and loaded.data == {"corpus": "SPT"}
    torch.manual_seed(0)
    detector = build_detector_for_checkpoint(arch, loaded)
    assert detector.encoder.config == EncoderConfig(kind=kind, width_multiplier=0.25, n_stages=4)
    before = _snapshot(detector)
    report = transfer_weights(detector, loaded, stem="transfer:encoder")
    expected = {f"encoder.{k}": v for k, v in weights.items()}
    _assert_exact(detector, before, expected, report)
    assert report.checkpoint["method"] == "mae" and report.checkpoint["format"] == "detbench"


def test_a_random_stem_keeps_the_stem_and_is_the_ssl_default(tmp_path):
    ck, weights = _detbench_checkpoint("resenc", width_multiplier=0.25, n_stages=4)
    assert default_stem(ck, 1) == "random"
    detector = build_detector_for_checkpoint("resenc_retina_unet", ck)
    before = _snapshot(detector)
    report = init_from_pretrained(detector, ck, out_dir=tmp_path)
    stem = sorted(k for k in before if k.startswith("encoder.stem.convs.0."))
    assert len(stem) == 8  # conv weight+bias, norm weight+bias, each under two alias names
    _assert_exact(detector, before, {f"encoder.{k}": v for k, v in weights.items()}, report, kept=stem)
    written = json.loads((tmp_path / REPORT_FILE).read_text())
    assert written["stem"] == "random" and written["transferred"] == report.transferred
    assert written["kept_initialisation"] == stem and written["mismatched"] == []


# -- (b) nnssl ResEnc-L (fixed config, full size) -----------------------------------------------------
def test_b_nnssl_resencl_checkpoint_transfers_exactly(tmp_path):
    net = library_unet("resenc", FEATURES, blocks=RESENC_BLOCKS)
    n_params = sum(p.numel() for p in net.parameters())
    assert 102.3e6 < n_params < 102.4e6  # the ecosystem's ResEnc-L: 102.35 M
    plan = nnssl_plan()  # released nnssl checkpoints name the preset "ResEncL" without kwargs
    folder = tmp_path / "ResEncL-MAE"
    save_nnssl_checkpoint(folder / "checkpoint_final.pth", net, plan)
    (folder / "adaptation_plan.json").write_text(json.dumps({**plan, "trainer_name": "BaseMAETrainer"}))
    ck = import_weights(folder)
    assert ck.method == "mae" and ck.data["source"]["format"] == "nnssl"
    assert ck.encoder["features"] == tuple(FEATURES) and ck.encoder["blocks"] == tuple(RESENC_BLOCKS)
    assert ck.preprocessing["patch_size"] == [160, 160, 160] and ck.preprocessing["spacing"] == [1.0, 1.0, 1.0]
    detector = build_detector_for_checkpoint("resenc_retina_unet", ck)
    before = _snapshot(detector)
    report = transfer_weights(detector, ck, stem="transfer:encoder")
    _assert_exact(detector, before, net.state_dict(), report)
    assert len(report.transferred) == len(net.encoder.state_dict())


# -- (c) nnU-Net v2 PlainConvUNet ----------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["retina_unet", "deformable_detr"])
def test_c_nnunet_v2_plainconvunet_transfers_exactly(tmp_path, arch):
    net = library_unet("plain", FEATURES)
    folder = save_nnunet_results(tmp_path, net, nnunet_plans(plain_kwargs(), "PlainConvUNet"))
    ck = import_weights(folder)  # the trainer folder with one fold
    assert ck.data["source"]["format"] == "nnunetv2" and ck.encoder["kind"] == "plain"
    assert ck.encoder["blocks"] == (2,) * 6 and ck.preprocessing["patch_size"] == [128, 128, 128]
    detector = build_detector_for_checkpoint(arch, ck)
    before = _snapshot(detector)
    report = transfer_weights(detector, ck, stem="transfer:encoder")
    _assert_exact(detector, before, net.state_dict(), report)


# -- (d) MultiTalent v1 ----------------------------------------------------------------------------------
V1_FEATURES, V1_BLOCKS = [16, 32, 64, 64], [1, 2, 3, 2]  # ResEnc-L structure, smaller; last keeps width


def _v1_residual_expected(v1: dict) -> tuple[dict, list[str]]:
    """detector key -> v1 tensor, spelled out from the two module structures; and the v1 keys without a place."""
    out = {}

    def unit(dst: str, conv: str, norm: str) -> None:
        for p in ("weight", "bias"):
            if f"{conv}.{p}" in v1:
                out[f"{dst}.conv.{p}"] = out[f"{dst}.all_modules.0.{p}"] = v1[f"{conv}.{p}"]
            out[f"{dst}.norm.{p}"] = out[f"{dst}.all_modules.1.{p}"] = v1[f"{norm}.{p}"]

    unit("encoder.stem.convs.0", "encoder.initial_conv", "encoder.initial_norm")
    dropped = []
    prev = V1_FEATURES[0]
    for s, (feat, n) in enumerate(zip(V1_FEATURES, V1_BLOCKS, strict=True)):
        for b in range(n):
            src, dst = f"encoder.stages.{s}.convs.{b}", f"encoder.stages.{s}.blocks.{b}"
            unit(f"{dst}.conv1", f"{src}.conv1", f"{src}.norm1")
            unit(f"{dst}.conv2", f"{src}.conv2", f"{src}.norm2")
            if b == 0 and prev != feat:  # strided and wider: avg-pool then the 1x1 projection (skip.1)
                unit(f"{dst}.skip.1", f"{src}.downsample_skip.0", f"{src}.downsample_skip.1")
            elif b == 0 and s > 0:  # strided, same width: ResEnc pools only, v1's projection has no place
                dropped += [f"{src}.downsample_skip.0.weight", f"{src}.downsample_skip.1.weight"]
                dropped += [f"{src}.downsample_skip.1.bias"]
        prev = feat
    return out, dropped


def test_d_multitalent_v1_residual_state_dict_transfers_exactly(tmp_path):
    v1 = v1_residual_state(V1_FEATURES, V1_BLOCKS)
    path = save_v1_checkpoint(tmp_path / "Task100_MultiTalent" / "model_final_checkpoint.model", v1)
    ck = import_weights(path)
    assert ck.method == "multitalent" and ck.data["source"]["format"] == "multitalent_v1"
    assert ck.encoder["features"] == tuple(V1_FEATURES) and ck.encoder["strides"] == (1, 2, 2, 2)
    assert ck.encoder["blocks"] == tuple(V1_BLOCKS)
    expected, dropped = _v1_residual_expected(v1)
    assert sorted(ck.data["source"]["dropped"]) == sorted(dropped) and len(dropped) == 3
    assert any("assumed" in note for note in ck.data["source"]["notes"])
    assert default_stem(ck, 1) == "transfer:encoder"  # MultiTalent on one-channel (CT) data: its own stem
    detector = build_detector_for_checkpoint("resenc_retina_unet", ck)
    before = _snapshot(detector)
    report = init_from_pretrained(detector, ck, out_dir=tmp_path)
    assert report.stem == "transfer:encoder"
    _assert_exact(detector, before, expected, report)


def test_d_multitalent_v1_generic_unet_state_dict_transfers_exactly(tmp_path):
    v1 = v1_generic_unet_state(V1_FEATURES)
    ck = import_weights(save_v1_checkpoint(tmp_path / "model_final_checkpoint.model", v1))
    assert ck.encoder["kind"] == "plain" and ck.encoder["blocks"] == (2,) * 4
    assert ck.encoder["features"] == tuple(V1_FEATURES)
    expected = {}
    for d in range(4):
        units = [f"conv_blocks_context.{d}.blocks.{m}" for m in range(2)]
        if d == 3:  # the bottleneck: two stacks
            units = ["conv_blocks_context.3.0.blocks.0", "conv_blocks_context.3.1.blocks.0"]
        for m, src in enumerate(units):
            dst = f"encoder.stages.{d}.0.convs.{m}"
            for p in ("weight", "bias"):
                expected[f"{dst}.conv.{p}"] = expected[f"{dst}.all_modules.0.{p}"] = v1[f"{src}.conv.{p}"]
                expected[f"{dst}.norm.{p}"] = expected[f"{dst}.all_modules.1.{p}"] = v1[f"{src}.instnorm.{p}"]
    detector = build_detector_for_checkpoint("deformable_detr", ck)
    before = _snapshot(detector)
    report = transfer_weights(detector, ck, stem="transfer:encoder")
    _assert_exact(detector, before, expected, report)


# -- refusal -------------------------------------------------------------------------------------------
class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_a_pickled_object_in_a_checkpoint_is_refused(tmp_path, capsys):
    net = library_unet("resenc", [8, 16], strides=[1, 2], blocks=[1, 1])
    save_nnssl_checkpoint(tmp_path / "evil.pth", net, nnssl_plan(), init_args={"trainer": _Evil()})
    with pytest.raises(CheckpointError, match="refused"):
        import_weights(tmp_path / "evil.pth")
    assert "this must never run" not in capsys.readouterr().out


# -- stems, mismatches, transfer=all ---------------------------------------------------------------------
def test_replicate_repeats_the_stem_and_divides_by_the_channels():
    ck, weights = _detbench_checkpoint("resenc", width_multiplier=0.25, n_stages=3)
    detector = build_detector_for_checkpoint("resenc_retina_unet", ck, in_channels=4)
    report = transfer_weights(detector, ck, stem="replicate")
    sd = detector.state_dict()
    want = weights["stem.convs.0.conv.weight"].repeat(1, 4, 1, 1, 1) / 4
    assert sd["encoder.stem.convs.0.conv.weight"].shape == (8, 4, 3, 3, 3)
    assert torch.equal(sd["encoder.stem.convs.0.conv.weight"], want)
    assert torch.equal(sd["encoder.stem.convs.0.all_modules.0.weight"], want)
    assert torch.equal(sd["encoder.stem.convs.0.norm.weight"], weights["stem.convs.0.norm.weight"])
    assert report.mismatched == [] and report.missing == [] and "divided by 4" in report.notes[0]


def test_a_stem_of_another_channel_count_is_reported_as_mismatched():
    ck, weights = _detbench_checkpoint("plain", width_multiplier=0.25, n_stages=3)
    detector = build_detector_for_checkpoint("retina_unet", ck, in_channels=2)
    before = _snapshot(detector)
    report = transfer_weights(detector, ck, stem="transfer:encoder")
    keys = ["encoder.stages.0.0.convs.0.all_modules.0.weight", "encoder.stages.0.0.convs.0.conv.weight"]
    assert [m.key for m in report.mismatched] == keys
    assert report.mismatched[0].checkpoint_shape == (8, 1, 3, 3, 3)
    assert report.mismatched[0].model_shape == (8, 2, 3, 3, 3)
    assert torch.equal(detector.state_dict()[keys[0]], before[keys[0]])  # left at initialisation
    assert report.to_json()["mismatched"][0] == {
        "key": keys[0],
        "checkpoint_shape": [8, 1, 3, 3, 3],
        "model_shape": [8, 2, 3, 3, 3],
    }


def test_multitalent_transfers_a_named_multichannel_stem():
    ck, weights = _detbench_checkpoint("resenc", width_multiplier=0.25, n_stages=3)
    ck.method = "multitalent"
    four = {
        "stem.convs.0.conv.weight": torch.randn(8, 4, 3, 3, 3),
        "stem.convs.0.conv.bias": torch.randn(8),
        "stem.convs.0.norm.weight": torch.randn(8),
        "stem.convs.0.norm.bias": torch.randn(8),
    }
    four["stem.convs.0.all_modules.0.weight"] = four["stem.convs.0.conv.weight"]
    four["stem.convs.0.all_modules.0.bias"] = four["stem.convs.0.conv.bias"]
    four["stem.convs.0.all_modules.1.weight"] = four["stem.convs.0.norm.weight"]
    four["stem.convs.0.all_modules.1.bias"] = four["stem.convs.0.norm.bias"]
    ck.stems = {"duke_t1_4seq": four}
    assert default_stem(ck, 4) == "transfer:duke_t1_4seq"
    assert default_stem(ck, 3) == "random"  # no stem of that width: the paper's second-best choice
    detector = build_detector_for_checkpoint("resenc_retina_unet", ck, in_channels=4)
    before = _snapshot(detector)
    report = init_from_pretrained(detector, ck)
    expected = {f"encoder.{k}": v for k, v in {**weights, **four}.items()}
    _assert_exact(detector, before, expected, report)
    with pytest.raises(ValueError, match="no stem 'duke'.*Did you mean 'duke_t1_4seq'"):
        transfer_weights(detector, ck, stem="transfer:duke")


def test_transfer_all_also_copies_decoder_weights():
    cfg = default_config("retina_unet", width_multiplier=0.125, n_stages=4)
    torch.manual_seed(1)
    source = build_detector("retina_unet", cfg)
    randomise(source, seed=3)
    state = source.state_dict()
    from dataclasses import asdict

    ck = PretrainedCheckpoint(
        method="multitalent",
        encoder=asdict(cfg.encoder),
        encoder_weights={k[len("encoder.") :]: v for k, v in state.items() if k.startswith("encoder.")},
        decoder_weights={k: v for k, v in state.items() if not k.startswith("encoder.")},
    )
    torch.manual_seed(2)
    detector = build_detector_for_checkpoint("retina_unet", ck)
    report = transfer_weights(detector, ck, transfer="all", stem="transfer:encoder")
    after = detector.state_dict()
    assert report.transferred == sorted(after) and not report.missing and not report.unexpected
    assert all(torch.equal(after[k], state[k]) for k in after)
    encoder_only = transfer_weights(build_detector_for_checkpoint("retina_unet", ck), ck, stem="transfer:encoder")
    assert encoder_only.unexpected == [] and all(k.startswith("encoder.") for k in encoder_only.transferred)


def test_detector_config_follows_the_checkpoint_not_the_profile():
    ck, _ = _detbench_checkpoint("resenc", width_multiplier=0.25, n_stages=4)
    cfg = detector_config_for_checkpoint("resenc_deformable_detr", ck, in_channels=2, num_classes=3)
    assert cfg.encoder.stage_features == (8, 16, 32, 64) and cfg.encoder.in_channels == 2
    assert cfg.num_feature_levels == 2 and cfg.num_classes == 3
    with pytest.raises(ValueError, match="holds a 'resenc' encoder.*resenc_retina_unet"):
        detector_config_for_checkpoint("retina_unet", ck)


def test_init_refuses_a_detector_that_does_not_fit():
    ck, _ = _detbench_checkpoint("resenc", width_multiplier=0.25, n_stages=4)
    other = build_detector("resenc_retina_unet", default_config("resenc_retina_unet", width_multiplier=0.125))
    with pytest.raises(ValueError, match="do not fit the detector"):
        init_from_pretrained(other, ck)
    with pytest.raises(ValueError, match="unknown stem rule"):
        transfer_weights(other, ck, stem="copy")
    with pytest.raises(ValueError, match="unknown transfer mode"):
        transfer_weights(other, ck, transfer="decoder")
