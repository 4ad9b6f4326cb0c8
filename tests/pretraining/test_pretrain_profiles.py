"""The laptop pre-training profiles build the encoder their fine-tuning profile builds (so it transfers whole)."""

from __future__ import annotations

import pytest

from benchmark.training.profiles import PROFILES
from pretraining.profiles import PRETRAINING_PROFILES


@pytest.mark.parametrize("name", ["cpu", "tiny"])
def test_pretraining_encoder_equals_the_fine_tuning_encoder(name):
    pre, fine = PRETRAINING_PROFILES.get(name), PROFILES.get(name)
    assert (pre.width_multiplier, pre.n_stages) == (fine.width_multiplier, fine.n_stages)
