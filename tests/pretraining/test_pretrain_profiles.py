"""The laptop pre-training profiles build the encoder their fine-tuning profile builds (so it transfers whole)."""

from __future__ import annotations

import pytest

from benchmark.training.profiles import PROFILES
from pretraining.profiles import PRETRAINING_PROFILES


@pytest.mark.parametrize("name", ["cpu", "tiny"])
def test_pretraining_encoder_equals_the_fine_tuning_encoder(name):
    pre, fine = PRETRAINING_PROFILES.get(name), PROFILES.get(name)
    assert (pre.width_multiplier, pre.n_stages) == (fine.width_multiplier, fine.n_stages)


@pytest.mark.parametrize("name", ["cpu", "tiny", "paper"])
def test_pretrained_resenc_has_the_blocks_the_fine_tuning_profile_builds(name):
    """A shallower laptop ResEnc (``resenc_blocks``) is pre-trained with the same blocks per stage."""
    from models.config import EncoderConfig
    from pretraining.trainer import encoder_config_for

    pre, fine = PRETRAINING_PROFILES.get(name), PROFILES.get(name)
    assert pre.resenc_blocks == fine.resenc_blocks
    built = encoder_config_for("resenc", pre, in_channels=1)
    expected = EncoderConfig(kind="resenc", n_stages=fine.n_stages).with_leading_blocks(fine.resenc_blocks)
    assert built.stage_blocks == expected.stage_blocks
    assert encoder_config_for("plain", pre, in_channels=1).stage_blocks == (2,) * built.num_stages
