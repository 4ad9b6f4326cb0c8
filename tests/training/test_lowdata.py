"""Low-data regimes and fine-tuning strategies: nested stratified subsets, linear probe, LoRA, partial, run keys."""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.experiment import ExperimentConfig
from benchmark.loading.synthetic import write_synthetic_preprocessed
from benchmark.training.finetune import FinetuneConfig, apply_trainable, parameter_counts, prepare_model
from benchmark.training.subsets import SUBSET_FILE, nested_order, select_subset
from benchmark.training.trainer import TrainConfig, Trainer
from models.lora import LoRAConv3d, merge_lora
from models.registry import build_detector, default_config


def _cases(n: int = 40) -> dict[str, list[int]]:
    """``n`` cases: class 2 only in two cases, class 1 in a few, the rest class 0 with 1-5 objects or none."""
    cases: dict[str, list[int]] = {}
    for i in range(n):
        if i in (7, 31):
            cases[f"c{i:02d}"] = [2]
        elif i % 9 == 0:
            cases[f"c{i:02d}"] = [1, 0]
        elif i % 5 == 0:
            cases[f"c{i:02d}"] = []
        else:
            cases[f"c{i:02d}"] = [0] * (1 + i % 5)
    return cases


def test_subsets_are_nested_and_seeded():
    cases = _cases()
    subsets = [set(select_subset(cases, f, seed=3).case_ids) for f in (0.1, 0.25, 0.5, 1.0)]
    assert [len(s) for s in subsets] == [4, 10, 20, 40]
    assert subsets[0] <= subsets[1] <= subsets[2] <= subsets[3] == set(cases)
    assert select_subset(cases, 0.25, seed=3) == select_subset(dict(reversed(cases.items())), 0.25, seed=3)
    assert set(select_subset(cases, 0.25, seed=4).case_ids) != subsets[1]


def test_stratification_keeps_every_class_at_ten_percent():
    cases = _cases()
    for seed in range(10):
        subset = select_subset(cases, 0.1, seed=seed)
        classes = {k for c in subset.case_ids for k in cases[c]}
        assert classes == {0, 1, 2}, (seed, subset.case_ids)
    # strata in proportion: empty cases (8 of 40) make up about a fifth of the 50% subset
    half = select_subset(cases, 0.5, seed=0).case_ids
    assert 3 <= sum(not cases[c] for c in half) <= 5
    order, cover = nested_order(cases, 0)
    assert cover == 2 and sorted(order) == sorted(cases)


def test_a_fraction_outside_the_unit_interval_is_refused():
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"\(0, 1\]"):
            select_subset(_cases(), bad)
    with pytest.raises(ValueError, match="LoRA rank"):
        FinetuneConfig("lora", lora_rank=0)
    with pytest.raises(ValueError, match="Unknown fine-tuning strategy"):
        FinetuneConfig("adapters")


def test_default_run_keys_are_unchanged_and_lowdata_keys_differ():
    base = ExperimentConfig(dataset="S06", profile="cpu")
    assert base.run_key().folder.as_posix() == "S06/retina_unet__fixed/cpu_official_seed0"  # as before
    assert ExperimentConfig(dataset="S06", mirror_tta=True).run_key().leaf == "cpu_official_seed0_6290c12e"
    explicit = ExperimentConfig(dataset="S06", profile="cpu", train_fraction=1.0, finetune="full", lora_rank=4)
    assert explicit.run_key() == base.run_key()  # defaults (and knobs of strategies not used) add nothing
    keys = {
        ExperimentConfig(dataset="S06", train_fraction=0.1).run_key(),
        ExperimentConfig(dataset="S06", train_fraction=0.25).run_key(),
        ExperimentConfig(dataset="S06", train_fraction=0.1, subset_seed=1).run_key(),
        ExperimentConfig(dataset="S06", finetune="linear-probe").run_key(),
        ExperimentConfig(dataset="S06", finetune="lora").run_key(),
        ExperimentConfig(dataset="S06", finetune="lora", lora_rank=4).run_key(),
        ExperimentConfig(dataset="S06", finetune="partial", partial_stages=2).run_key(),
        base.run_key(),
    }
    assert len({k.folder for k in keys}) == 8
    assert dict(ExperimentConfig(dataset="S06", train_fraction=0.1).run_key().options) == {"fraction": "0.1"}


@pytest.fixture(scope="module")
def preprocessed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pre")
    return write_synthetic_preprocessed(root / "syn", num_cases=4, shape=(32, 32, 32), num_classes=2, seed=0)


def _trainer(preprocessed, out, **kw) -> Trainer:
    return Trainer(TrainConfig(str(preprocessed), str(out), profile="tiny", progress=False, **kw))


def _encoder_state(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.encoder.state_dict().items()}


def test_linear_probe_leaves_every_encoder_tensor_unchanged(preprocessed, tmp_path):
    trainer = _trainer(preprocessed, tmp_path / "run", finetune="linear-probe", max_steps=3)
    encoder_before = _encoder_state(trainer.model)
    head_before = {k: v.clone() for k, v in trainer.model.state_dict().items() if not k.startswith("encoder.")}
    result = trainer.fit()
    assert result.steps == 3
    for key, value in trainer.model.encoder.state_dict().items():
        assert torch.equal(value, encoder_before[key]), key
    state = trainer.model.state_dict()
    changed = [k for k, v in head_before.items() if not torch.equal(v, state[k])]
    assert changed, "decoder and heads must train"
    assert 0 < result.parameters["trainable"] < result.parameters["total"]
    assert result.peak_memory["bytes"] > 0


def test_lora_trains_only_adapters_and_merges_to_an_equal_plain_model(preprocessed, tmp_path):
    trainer = _trainer(preprocessed, tmp_path / "run", finetune="lora", lora_rank=2, lora_alpha=4.0, max_steps=3)
    adapted = trainer.model
    assert any(isinstance(m, LoRAConv3d) for m in adapted.encoder.modules())
    # the convolution registered twice (conv and all_modules.0) is one adapter under both names
    unit = adapted.encoder.stages[0][0].convs[0]
    assert isinstance(unit.conv, LoRAConv3d) and unit.all_modules[0] is unit.conv
    before = _encoder_state(adapted)
    result = trainer.fit()
    after = adapted.encoder.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and all(".lora_down." in f".{k}" or ".lora_up." in f".{k}" for k in changed), changed
    assert result.parameters["adapter"] > 0 and result.parameters["trainable"] < result.parameters["total"]

    merged = merge_lora(adapted).eval()
    plain = build_detector(trainer.cfg.architecture, adapted.config)
    assert set(merged.state_dict()) == set(plain.state_dict())  # no adapter key left
    plain.load_state_dict(merged.state_dict())
    plain.eval()
    adapted.eval()
    x = torch.randn(1, 1, 32, 32, 32)
    with torch.no_grad():
        for a, b in zip(adapted.encoder(x), plain.encoder(x), strict=True):
            assert torch.allclose(a, b, atol=1e-5, rtol=1e-4)
    assert any(v.abs().sum() > 0 for k, v in after.items() if ".lora_up." in f".{k}")  # the update is non-zero


def test_partial_freezes_the_early_stages():
    config = default_config("resenc_retina_unet", in_channels=1, num_classes=1, width_multiplier=0.125, n_stages=4)
    model = build_detector("resenc_retina_unet", config)
    cfg = FinetuneConfig("partial", partial_stages=2)
    prepare_model(model, cfg)
    apply_trainable(model, cfg, encoder_open=True)
    enc = model.encoder
    assert not any(p.requires_grad for p in enc.stem.parameters())
    for i, stage in enumerate(enc.stages):
        assert all(p.requires_grad == (i >= 2) for p in stage.parameters()), i
    assert all(p.requires_grad for n, p in model.named_parameters() if not n.startswith("encoder."))
    apply_trainable(model, cfg, encoder_open=False)  # the schedule's freeze phase freezes the whole encoder
    assert not any(p.requires_grad for p in enc.parameters())
    counts = parameter_counts(model, cfg)
    stage_params = sum(p.numel() for s in enc.stages[2:] for p in s.parameters())
    others = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("encoder."))
    assert counts["trainable"] == stage_params + others
    with pytest.raises(ValueError, match="only 4 stages"):
        prepare_model(model, FinetuneConfig("partial", partial_stages=5))


def test_a_fraction_run_writes_its_subset_and_trains_on_it(tmp_path):
    pre = write_synthetic_preprocessed(tmp_path / "syn", num_cases=8, shape=(32, 32, 32), num_classes=2, seed=1)
    trainer = _trainer(pre, tmp_path / "run", train_fraction=0.25, max_steps=3)
    trainer.fit()
    record = json.loads((tmp_path / "run" / SUBSET_FILE).read_text())
    assert record["n_available"] == 8 and record["n_selected"] == len(trainer.loader_case_ids) >= 2
    assert set(record["case_ids"]) == set(trainer.loader_case_ids)
    half = _trainer(pre, tmp_path / "half", train_fraction=0.5)
    assert set(trainer.loader_case_ids) <= set(half.loader_case_ids)
    with pytest.raises(ValueError, match="train_fraction"):
        _trainer(pre, tmp_path / "run", train_fraction=0.5).load_checkpoint(tmp_path / "run" / "checkpoint_last.pt")
