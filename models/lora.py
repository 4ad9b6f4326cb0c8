"""Low-rank adapters (LoRA, Hu et al. 2022, arXiv:2106.09685) on the encoder's Conv3d layers, and their merge.

A :class:`LoRAConv3d` is the frozen convolution ``W`` plus a trainable low-rank update: ``lora_down`` (a
Conv3d from the input channels to ``rank`` channels with the base kernel, stride, padding and dilation) and
``lora_up`` (a 1x1x1 Conv3d from ``rank`` to the output channels, initialised to zero, so an adapted model
starts with exactly the base model's outputs), scaled by ``alpha / rank``:
``y = conv(x, W, b) + (alpha / rank) * up(down(x))``. This is the usual LoRA for convolutions (the update
``up @ down`` is a rank-``rank`` matrix over ``(out) x (in * kernel)``). Both parts are linear, so
:func:`merge_lora` folds them into one plain Conv3d with weight ``W + (alpha / rank) * up @ down``: the merged
model is a plain detector (same state-dict keys as one built without adapters) with equal outputs.

Why an own module and not peft: peft's LoRA has a Conv3d layer, but it does not fit our module structure.
Our encoders reproduce dynamic-network-architectures' key layout (:mod:`models.encoders`), in which every
``ConvNormAct`` registers its convolution twice, as ``conv`` and as ``all_modules.0``, and runs it through
``all_modules``. peft finds its targets by walking ``model.named_modules()``, which lists a module held
under two names once (the first name, ``conv``), and replaces that attribute only; ``all_modules.0`` would keep
the original convolution, so the forward pass would bypass the adapter and nothing would train (read from
peft's source; peft is not installed here: it also requires transformers and accelerate, heavy dependencies
for one layer type). :func:`add_lora` replaces every reference to a convolution by the same adapter module.
A :class:`LoRAConv3d` subclasses ``nn.Conv3d`` and keeps the base ``weight``/``bias`` names, so pre-trained
weights, checkpoints and the transfer code see the same keys as before, plus ``lora_down``/``lora_up``.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn

__all__ = ["LoRAConv3d", "add_lora", "is_lora_parameter", "lora_modules", "merge_lora"]


def _conv_arguments(conv: nn.Conv3d) -> dict:
    """The constructor arguments of a Conv3d like ``conv`` (shape, stride, padding, dilation, bias, device)."""
    return {
        "in_channels": conv.in_channels,
        "out_channels": conv.out_channels,
        "kernel_size": conv.kernel_size,
        "stride": conv.stride,
        "padding": conv.padding,
        "dilation": conv.dilation,
        "bias": conv.bias is not None,
        "device": conv.weight.device,
        "dtype": conv.weight.dtype,
    }


def _copy_parameters(conv: nn.Conv3d, weight: Tensor, bias: Tensor | None) -> None:
    with torch.no_grad():
        conv.weight.copy_(weight)
        if bias is not None:
            conv.bias.copy_(bias)  # type: ignore[union-attr]


class LoRAConv3d(nn.Conv3d):
    """A Conv3d with a low-rank additive update (see the module docstring)."""

    def __init__(self, base: nn.Conv3d, rank: int, alpha: float) -> None:
        if rank < 1:
            raise ValueError(f"LoRA rank must be >= 1, got {rank}")
        if alpha <= 0:
            raise ValueError(f"LoRA alpha must be > 0, got {alpha}")
        if base.groups != 1 or base.padding_mode != "zeros":
            raise ValueError("LoRA supports Conv3d with groups=1 and zero padding only")
        super().__init__(**_conv_arguments(base))
        _copy_parameters(self, base.weight, base.bias)
        self.rank, self.alpha = int(rank), float(alpha)
        kw = {"device": base.weight.device, "dtype": base.weight.dtype}
        self.lora_down = nn.Conv3d(
            base.in_channels, rank, base.kernel_size, base.stride, base.padding, base.dilation, bias=False, **kw  # type: ignore[arg-type]
        )
        self.lora_up = nn.Conv3d(rank, base.out_channels, 1, bias=False, **kw)
        nn.init.kaiming_uniform_(self.lora_down.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_up.weight)

    @property
    def scaling(self) -> float:
        return self.alpha / self.rank

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x) + self.scaling * self.lora_up(self.lora_down(x))

    def merged_weight(self) -> Tensor:
        """``W + scaling * up @ down`` in the Conv3d weight layout ``(out, in, kz, ky, kx)``."""
        up = self.lora_up.weight.flatten(1)  # (out, rank)
        down = self.lora_down.weight  # (rank, in, kz, ky, kx)
        return self.weight + self.scaling * torch.einsum("or,rikjl->oikjl", up, down)

    def to_plain(self) -> nn.Conv3d:
        """A plain Conv3d computing the same function (the merged weight, the base bias)."""
        conv = nn.Conv3d(**_conv_arguments(self))
        _copy_parameters(conv, self.merged_weight(), self.bias)
        return conv


def _replace_children(root: nn.Module, replacement: dict[int, nn.Module]) -> int:
    """Replace every child reference (under every name) to a module in ``replacement`` (by id); returns count."""
    count = 0
    for parent in list(root.modules()):
        for name, child in list(parent.named_children()):
            new = replacement.get(id(child))
            if new is not None:
                setattr(parent, name, new)
                count += 1
    return count


def add_lora(module: nn.Module, rank: int, alpha: float) -> int:
    """Wrap every Conv3d inside ``module`` (in place) as a :class:`LoRAConv3d`; returns the number wrapped.

    A convolution registered under two names (``conv`` and ``all_modules.0``) becomes one adapter under both.
    Calling it twice does not wrap an adapter again.
    """
    inner = {id(c) for m in lora_modules(module) for c in (m.lora_down, m.lora_up)}
    convs = {
        id(m): m
        for m in module.modules()
        if isinstance(m, nn.Conv3d) and not isinstance(m, LoRAConv3d) and id(m) not in inner
    }
    replacement = {i: LoRAConv3d(conv, rank, alpha) for i, conv in convs.items()}
    _replace_children(module, replacement)
    return len(replacement)


def lora_modules(module: nn.Module) -> list[LoRAConv3d]:
    return [m for m in module.modules() if isinstance(m, LoRAConv3d)]


def is_lora_parameter(name: str) -> bool:
    """Whether a parameter name (``named_parameters``) belongs to an adapter."""
    return ".lora_down." in f".{name}" or ".lora_up." in f".{name}"


def merge_lora(model: nn.Module) -> nn.Module:
    """A copy of ``model`` with every adapter folded into a plain Conv3d: no LoRA module or key is left."""
    merged = copy.deepcopy(model)
    replacement = {id(m): m.to_plain() for m in lora_modules(merged)}
    _replace_children(merged, replacement)
    return merged
