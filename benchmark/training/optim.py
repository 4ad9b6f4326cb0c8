"""Optimisers of the study and encoder freezing.

Retina U-Net: SGD with Nesterov momentum 0.9, weight decay 3e-5, LR 1e-2. Deformable DETR: Adam with
AMSGrad, betas (0.9, 0.999), eps 1e-4, LR 3e-4 (Eckstein et al. 2025, appendix C). As in nnDetection, norm
weights and biases get no weight decay.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class OptimizerConfig:
    name: str
    lr: float
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 3e-5
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-4
    amsgrad: bool = True

    def __post_init__(self) -> None:
        if self.name not in OPTIMIZERS:
            raise ValueError(f"Unknown optimizer {self.name!r}. Valid optimizers: {', '.join(OPTIMIZERS)}")


RETINA_UNET_OPTIMIZER = OptimizerConfig(name="sgd", lr=1e-2)
DETR_OPTIMIZER = OptimizerConfig(name="adam", lr=3e-4, weight_decay=0.0)


def parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: weights with decay; biases and norm parameters (1-D tensors) without."""
    decay, no_decay = [], []
    for _, p in model.named_parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def build_optimizer(model: torch.nn.Module, cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """The optimizer of ``cfg`` over all parameters of ``model`` (frozen ones simply get no gradient)."""
    groups = parameter_groups(model, cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, eps=cfg.eps, amsgrad=cfg.amsgrad)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def set_encoder_trainable(model: torch.nn.Module, trainable: bool) -> None:
    """Freeze or unfreeze ``model.encoder`` (requires_grad); the model must expose its encoder."""
    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, torch.nn.Module):
        raise ValueError(f"{type(model).__name__} has no 'encoder' module to freeze")
    for p in encoder.parameters():
        p.requires_grad_(trainable)
