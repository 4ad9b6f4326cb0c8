"""MultiTalent: one stem per dataset, class-wise sigmoid outputs over the union of label sets, each dataset's loss on
its own classes only, stems under the transfer keys, and a loss that decreases on both encoder kinds."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.config import EncoderConfig
from models.encoders import build_encoder
from pretraining.checkpoint import PretrainedCheckpoint
from pretraining.methods import PretrainBatch, get_method
from pretraining.methods.multitalent import MultiTalent, multitalent_segmentation_loss
from pretraining.supervised_data import SupervisedPatchSource, label_sets
from pretraining.transfer import default_stem, stem_prefix

PATCH = (32, 32, 32)
KINDS = ("plain", "resenc")
DATASETS = {
    "ct_a": {"channels": 1, "classes": ["liver", "spleen"], "modality": "CT"},
    "mri_4": {"channels": 4, "classes": ["breast", "fgt", "vessels"], "modality": "MRI"},
    "ct_b": {"channels": 1, "classes": ["lungs"], "modality": "CT"},
}


def tiny_config(kind: str) -> EncoderConfig:
    return EncoderConfig(kind=kind, width_multiplier=0.25, n_stages=4)


def test_registered_as_supervised_with_citation():
    spec = get_method("multitalent")
    assert spec.supervised and spec.name == "multitalent"
    assert "MultiTalent" in spec.citation and "MICCAI 2023" in spec.citation
    default = spec.build(tiny_config("plain"), PATCH)  # default label sets: the synthetic supervised datasets
    assert set(default.datasets) == set(label_sets())


def test_outputs_are_the_union_of_label_sets_in_dataset_blocks():
    method = MultiTalent(tiny_config("plain"), PATCH, datasets=DATASETS)
    assert method.num_outputs == 6
    assert method.class_slices == {"ct_a": slice(0, 2), "mri_4": slice(2, 5), "ct_b": slice(5, 6)}
    assert method.class_names[2] == "mri_4/breast"
    logits = method(torch.randn(1, 4, *PATCH), "mri_4")
    assert logits.shape == (1, 6, *PATCH)


def test_loss_ignores_other_datasets_classes():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(2, 6, 8, 8, 8, generator=gen)
    labels = (torch.rand(2, 3, 8, 8, 8, generator=gen) > 0.7).float()
    own = slice(2, 5)
    base = multitalent_segmentation_loss(logits, labels, own)["loss"]
    other = logits.clone()
    other[:, :2] = torch.randn(2, 2, 8, 8, 8, generator=gen) * 100
    other[:, 5:] = -50.0
    assert multitalent_segmentation_loss(other, labels, own)["loss"].item() == base.item()
    # gradients reach only the dataset's own channels
    leaf = logits.clone().requires_grad_(True)
    multitalent_segmentation_loss(leaf, labels, own)["loss"].backward()
    assert torch.count_nonzero(leaf.grad[:, :2]) == 0 and torch.count_nonzero(leaf.grad[:, 5:]) == 0
    assert torch.count_nonzero(leaf.grad[:, 2:5]) > 0
    # and its own classes do matter; BCE + Dice are both present
    changed = logits.clone()
    changed[:, 3] += 3.0
    out = multitalent_segmentation_loss(changed, labels, own)
    assert out["loss"].item() != base.item()
    assert out["loss"].item() == pytest.approx((out["bce"] + out["dice"]).item(), rel=1e-6)


def test_the_whole_model_loss_ignores_other_datasets_logits():
    torch.manual_seed(0)
    method = MultiTalent(tiny_config("plain"), PATCH, datasets=DATASETS)
    images = torch.randn(1, 1, *PATCH)
    labels = (torch.rand(1, 2, *PATCH) > 0.8).float()
    batch = PretrainBatch(images, labels, "ct_a")
    base = method.loss(batch)["loss"]
    with torch.no_grad():  # change only the head rows of the other datasets' classes
        method.decoder.head.weight[2:] += 5.0
        method.decoder.head.bias[2:] -= 3.0
    assert method.loss(batch)["loss"].item() == base.item()


@pytest.mark.parametrize("kind", KINDS)
def test_one_stem_per_dataset_with_its_input_channels_under_the_transfer_keys(kind):
    cfg = tiny_config(kind)
    method = MultiTalent(cfg, PATCH, datasets=DATASETS)
    assert method.encoder_stem_dataset == "ct_a"  # the first CT dataset: the encoder's own stem is the CT stem
    assert list(method.encoder_state_dict()) == list(build_encoder(cfg).state_dict())
    stems = method.stem_weights()
    assert set(stems) == set(DATASETS)
    prefix = stem_prefix(kind)
    own_keys = {k for k in method.encoder_state_dict() if k.startswith(prefix)}
    for name, stem in stems.items():
        assert set(stem) == own_keys, name
        assert stem[prefix + "conv.weight"].shape[1] == DATASETS[name]["channels"]
        assert stem[prefix + "conv.weight"].shape[0] == cfg.stage_features[0]
    for key in own_keys:  # the CT dataset's stem is the encoder's own
        torch.testing.assert_close(stems["ct_a"][key], method.encoder_state_dict()[key])
    assert not torch.equal(stems["ct_b"][prefix + "conv.weight"], stems["ct_a"][prefix + "conv.weight"])
    # the transfer picks them: the CT stem on 1-channel data, the MRI stem on 4-channel data
    ck = PretrainedCheckpoint(
        method="multitalent",
        encoder={"kind": kind},
        encoder_weights=method.encoder_state_dict(),
        stems=stems,
    )
    assert default_stem(ck, 1) == "transfer:encoder"
    assert default_stem(ck, 4) == "transfer:mri_4"


def test_each_dataset_runs_through_its_own_stem():
    torch.manual_seed(0)
    method = MultiTalent(tiny_config("resenc"), PATCH, datasets=DATASETS)
    images = torch.randn(1, 4, *PATCH)
    before = method(images, "mri_4")
    with torch.no_grad():
        method.stems["ct_b"].conv.weight.add_(1.0)  # another dataset's stem: no effect
    torch.testing.assert_close(method(images, "mri_4"), before)
    with torch.no_grad():
        method.stems["mri_4"].conv.weight.add_(1.0)
    assert not torch.allclose(method(images, "mri_4"), before)
    with pytest.raises(ValueError, match="channels"):
        method.loss(PretrainBatch(torch.randn(1, 1, *PATCH), torch.zeros(1, 3, *PATCH), "mri_4"))
    with pytest.raises(ValueError, match="unknown dataset"):
        method.loss(PretrainBatch(images, torch.zeros(1, 3, *PATCH), "nope"))


@pytest.mark.parametrize("kind", KINDS)
def test_a_few_adam_steps_decrease_the_loss_on_synthetic_supervised_data(kind):
    source = SupervisedPatchSource(None, PATCH, seed=0, scale="tiny", datasets=["SUP01_AbdomenCT", "SUP04_BreastMRI"])
    torch.manual_seed(0)
    method = MultiTalent(tiny_config(kind), PATCH, datasets=source.label_sets())
    rng = np.random.default_rng(0)
    batches = {}
    while len(batches) < 2:  # one fixed batch of each dataset
        b = source.sample(rng, 2)
        batches.setdefault(b.dataset, b)
    optimiser = torch.optim.Adam(method.parameters(), lr=1e-2)
    history: dict[str, list[float]] = {name: [] for name in batches}
    for _ in range(8):
        for name, batch in batches.items():
            loss = method.loss(batch)["loss"]
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            history[name].append(loss.item())
    for name, losses in history.items():
        assert losses[-1] < 0.92 * losses[0], (name, losses)
