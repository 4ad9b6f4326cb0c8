"""Exponential moving average of a network's weights, for short laptop runs (profile ``weight_ema``).

A few hundred Adam steps end wherever the last mini-batches pushed the weights; the average of the weights over
the last steps is a smoother point (Polyak & Juditsky 1992; as a training tool e.g. Tarvainen & Valpola 2017,
the "EMA" of timm and of YOLO detectors). nnDetection reaches a similar end by stochastic weight averaging over
its last 10 epochs (not implemented here). The averaged weights replace the trained ones when the run finishes,
so validation tuning, test inference, ``model_final.pt`` and ``benchmark predict`` all use them.

The update is ``avg <- avg + (1 - d_t) * (w - avg)`` with the warm-up ``d_t = min(decay, (1 + t) / (10 + t))``
(step ``t`` from 0) so the early average is not dominated by the random initial weights. ``torch.lerp`` keeps a
tensor that did not change bitwise equal (``avg == w`` gives ``avg``): frozen encoders stay exactly frozen.
Integer buffers (counters) are copied, not averaged.
"""

from __future__ import annotations

import torch
from torch import nn


class WeightAverage:
    """The running average of ``model.state_dict()``'s floating-point tensors."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight_ema decay must be in (0, 1), got {decay}")
        self.decay = float(decay)
        self.updates = 0
        self.average = {k: v.detach().clone() for k, v in model.state_dict().items()}

    def current_decay(self) -> float:
        return min(self.decay, (1.0 + self.updates) / (10.0 + self.updates))

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        weight = 1.0 - self.current_decay()
        for key, value in model.state_dict().items():
            avg = self.average[key]
            if avg.is_floating_point():
                avg.lerp_(value.detach(), weight)
            else:
                avg.copy_(value)
        self.updates += 1

    def reset(self, state: dict[str, torch.Tensor]) -> None:
        """Start again from ``state`` (a DETR restart resets the network to its initial weights)."""
        self.average = {k: v.detach().clone() for k, v in state.items()}
        self.updates = 0

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Load the averaged weights into ``model`` (same keys, layouts kept)."""
        model.load_state_dict(self.average)

    def state_dict(self) -> dict:
        return {"decay": self.decay, "updates": self.updates, "average": self.average}

    def load_state_dict(self, state: dict) -> None:
        if float(state["decay"]) != self.decay:
            raise ValueError(f"checkpoint averaged weights with decay {state['decay']}, this run uses {self.decay}")
        self.updates = int(state["updates"])
        self.average = {k: v.clone() for k, v in state["average"].items()}
