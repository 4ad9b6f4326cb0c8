"""Where pre-training patches come from: one small protocol shared by every method and the trainer.

A :class:`PatchSource` draws a :class:`pretraining.methods.PretrainBatch` of patches of a fixed size from
its volumes with a caller-owned ``numpy`` generator (so a resumed run that restores the generator state
draws the same patches), and describes its data for the checkpoint's ``data`` record. Self-supervised
sources yield images only; supervised ones (MultiTalent) also labels and the dataset name.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from pretraining.methods import PretrainBatch


@runtime_checkable
class PatchSource(Protocol):
    """A sampler of pre-training batches."""

    patch_size: tuple[int, int, int]
    in_channels: int

    def sample(self, rng: np.random.Generator, batch_size: int) -> PretrainBatch:
        """Draw ``batch_size`` patches (``images`` ``(B, C, *patch_size)``, z-scored float32)."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able summary of the data (kind, folder or corpus, number of volumes, cases' hash...)."""
        ...
