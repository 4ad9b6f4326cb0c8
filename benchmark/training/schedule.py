"""Fine-tuning learning-rate schedule of the study: encoder freeze, linear warm-up, poly decay, DETR restart.

Eckstein et al. (MICCAI 2025), appendix C: during the first 5% of iterations only decoder and heads
(Retina U-Net) or transformer and heads (DETR) train; then the full-network schedule runs: a 4,000-iteration
linear warm-up to the target LR followed by poly decay. Our reading, written down because the paper leaves it
open: in the freeze phase the heads get their own linear warm-up (same length, capped by the phase) and then
the target LR; at the end of the freeze phase the full-network warm-up starts again from ``warmup_start_lr``;
poly decay runs from the end of that warm-up to the last iteration (exponent 0.9, nnU-Net's PolyLR).
A DETR restart replaces freeze and warm-up by a whole-network warm-up to a lower LR (10,000 iterations to 1e-4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ScheduleConfig:
    """Every knob of the schedule; iteration counts are absolute, ``freeze_fraction`` is of ``total_iterations``."""

    total_iterations: int
    target_lr: float
    freeze_fraction: float = 0.05
    warmup_iterations: int = 4000
    warmup_start_lr: float = 1e-6
    poly_exponent: float = 0.9

    def __post_init__(self) -> None:
        if self.total_iterations < 1:
            raise ValueError(f"total_iterations must be >= 1, got {self.total_iterations}")
        if not 0.0 <= self.freeze_fraction < 1.0:
            raise ValueError(f"freeze_fraction must be in [0, 1), got {self.freeze_fraction}")
        if self.target_lr <= 0 or self.warmup_start_lr < 0 or self.warmup_iterations < 0:
            raise ValueError("target_lr must be > 0, warmup_start_lr and warmup_iterations >= 0")

    @property
    def freeze_iterations(self) -> int:
        return int(math.floor(self.freeze_fraction * self.total_iterations))

    @property
    def decay_start(self) -> int:
        """First iteration of poly decay (end of the full-network warm-up)."""
        return min(self.freeze_iterations + self.warmup_iterations, self.total_iterations)

    def restarted(self, warmup_iterations: int = 10_000, target_lr: float = 1e-4) -> ScheduleConfig:
        """The DETR restart schedule: no freeze, whole-network warm-up to a lower LR, then poly decay."""
        return ScheduleConfig(
            total_iterations=self.total_iterations,
            target_lr=target_lr,
            freeze_fraction=0.0,
            warmup_iterations=warmup_iterations,
            warmup_start_lr=self.warmup_start_lr,
            poly_exponent=self.poly_exponent,
        )


def _linear(step: int, length: int, start: float, end: float) -> float:
    if length <= 0:
        return end
    return start + (end - start) * min(step, length) / length


def learning_rate(step: int, cfg: ScheduleConfig) -> float:
    """The learning rate of iteration ``step`` (0-based)."""
    if not 0 <= step < cfg.total_iterations:
        raise ValueError(f"step must be in [0, {cfg.total_iterations}), got {step}")
    freeze = cfg.freeze_iterations
    if step < freeze:
        return _linear(step, min(cfg.warmup_iterations, freeze), cfg.warmup_start_lr, cfg.target_lr)
    if step < cfg.decay_start:
        return _linear(step - freeze, cfg.warmup_iterations, cfg.warmup_start_lr, cfg.target_lr)
    decay_length = cfg.total_iterations - cfg.decay_start
    progress = (step - cfg.decay_start) / decay_length
    return cfg.target_lr * (1.0 - progress) ** cfg.poly_exponent


def encoder_frozen(step: int, cfg: ScheduleConfig) -> bool:
    """Whether the encoder is frozen at iteration ``step``."""
    return step < cfg.freeze_iterations
