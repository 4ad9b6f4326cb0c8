"""Fine-tuning strategies (``--finetune``): which encoder parameters train, and the run's parameter/memory record.

* ``full`` (the paper): the whole network trains after the schedule's encoder-freeze phase (the first 5% of
  iterations train decoder/heads or transformer/heads only; :mod:`benchmark.training.schedule`).
* ``linear-probe``: the encoder is frozen for the whole run; decoder, heads and (DETR) transformer train. No
  encoder tensor changes (the encoder's InstanceNorm layers keep no running statistics).
* ``lora``: low-rank adapters on every Conv3d of the encoder (:mod:`models.lora`, rank ``lora_rank``, scale
  ``lora_alpha / lora_rank``); the encoder's own weights and norms stay frozen, the adapters train after the
  freeze phase (with decoder and heads throughout). At the end of training the adapters are merged into a
  plain model (:func:`models.lora.merge_lora`), so ``model_final.pt``, inference and ``benchmark predict``
  see an ordinary detector.
* ``partial``: the last ``partial_stages`` encoder stages train after the freeze phase; the earlier stages
  (and the ResEnc stem) stay frozen for the whole run.

Every strategy keeps the freeze phase of the schedule for what the encoder trains (nothing, for a linear
probe). :func:`parameter_counts` gives what ``result.json`` records: trainable parameters (those that
train after the freeze phase), total parameters (adapters included) and the adapter share.
"""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used: the CLI's parser reads STRATEGIES without it
    import torch

__all__ = [
    "STRATEGIES",
    "FinetuneConfig",
    "apply_trainable",
    "parameter_counts",
    "peak_memory",
    "prepare_model",
    "trainable_after_freeze",
]

STRATEGIES = ("full", "linear-probe", "lora", "partial")


@dataclass(frozen=True)
class FinetuneConfig:
    """The strategy and its knobs (``lora_*`` matter for ``lora`` only, ``partial_stages`` for ``partial``)."""

    strategy: str = "full"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    partial_stages: int = 1

    def __post_init__(self) -> None:
        if self.strategy not in STRATEGIES:
            raise ValueError(f"Unknown fine-tuning strategy {self.strategy!r}. Valid: {', '.join(STRATEGIES)}")
        if int(self.lora_rank) != self.lora_rank or self.lora_rank < 1:
            raise ValueError(f"LoRA rank must be an integer >= 1, got {self.lora_rank}")
        if not self.lora_alpha > 0:
            raise ValueError(f"LoRA alpha must be > 0, got {self.lora_alpha}")
        if int(self.partial_stages) != self.partial_stages or self.partial_stages < 1:
            raise ValueError(f"partial stages must be an integer >= 1, got {self.partial_stages}")

    def run_options(self) -> dict[str, object]:
        """What enters the run identity (:class:`benchmark.core.run_key.RunKey` options): nothing for ``full``."""
        if self.strategy == "full":
            return {}
        options: dict[str, object] = {"finetune": self.strategy}
        if self.strategy == "lora":
            options.update(lora_rank=int(self.lora_rank), lora_alpha=f"{float(self.lora_alpha):g}")
        if self.strategy == "partial":
            options["partial_stages"] = int(self.partial_stages)
        return options


def _encoder(model: torch.nn.Module) -> torch.nn.Module:
    import torch

    encoder = getattr(model, "encoder", None)
    if not isinstance(encoder, torch.nn.Module):
        raise ValueError(f"{type(model).__name__} has no 'encoder' module to fine-tune")
    return encoder


def prepare_model(model: torch.nn.Module, cfg: FinetuneConfig) -> torch.nn.Module:
    """Add what the strategy needs (adapters for ``lora``), check ``partial_stages``; returns ``model``."""
    encoder = _encoder(model)
    if cfg.strategy == "lora":
        from models.lora import add_lora

        if add_lora(encoder, cfg.lora_rank, cfg.lora_alpha) == 0:
            raise ValueError(f"{type(model).__name__}'s encoder has no Conv3d layer for LoRA")
    if cfg.strategy == "partial":
        n = len(encoder.stages)  # type: ignore[arg-type]
        if cfg.partial_stages > n:
            raise ValueError(f"--partial-stages {cfg.partial_stages}: the encoder has only {n} stages")
    return model


def _encoder_rule(cfg: FinetuneConfig, n_stages: int):  # noqa: ANN202 - (name) -> bool
    """Whether an encoder parameter (name relative to the encoder) trains after the freeze phase."""
    from models.lora import is_lora_parameter

    if cfg.strategy == "full":
        return lambda name: True
    if cfg.strategy == "linear-probe":
        return lambda name: False
    if cfg.strategy == "lora":
        return is_lora_parameter
    first = n_stages - cfg.partial_stages
    return lambda name: name.startswith("stages.") and int(name.split(".")[1]) >= first


def apply_trainable(model: torch.nn.Module, cfg: FinetuneConfig, encoder_open: bool) -> None:
    """Set ``requires_grad`` of the encoder: during the freeze phase (``encoder_open=False``) nothing trains,
    afterwards what the strategy allows. Parameters outside the encoder are left as they are (they train)."""
    encoder = _encoder(model)
    rule = _encoder_rule(cfg, len(getattr(encoder, "stages", ())))
    for name, p in encoder.named_parameters():
        p.requires_grad_(encoder_open and rule(name))


def trainable_after_freeze(model: torch.nn.Module, cfg: FinetuneConfig) -> set[str]:
    """Names (``model.named_parameters``) of the parameters that train after the freeze phase."""
    encoder = _encoder(model)
    rule = _encoder_rule(cfg, len(getattr(encoder, "stages", ())))
    encoder_ids = {id(p): n for n, p in encoder.named_parameters()}
    return {
        name for name, p in model.named_parameters() if id(p) not in encoder_ids or rule(encoder_ids[id(p)])
    }


def parameter_counts(model: torch.nn.Module, cfg: FinetuneConfig) -> dict[str, int]:
    """``trainable`` (after the freeze phase), ``total`` and ``adapter`` parameter counts (shared tensors once)."""
    from models.lora import is_lora_parameter

    trainable = trainable_after_freeze(model, cfg)
    named = dict(model.named_parameters())
    return {
        "trainable": int(sum(named[n].numel() for n in trainable)),
        "total": int(sum(p.numel() for p in named.values())),
        "adapter": int(sum(p.numel() for n, p in named.items() if is_lora_parameter(n))),
    }


def peak_memory(device: torch.device) -> dict[str, object]:
    """Peak memory of the run: ``torch.cuda.max_memory_allocated`` (since the trainer reset it) on CUDA; on CPU
    the process's peak resident set size (``resource.getrusage(RUSAGE_SELF).ru_maxrss``; kilobytes on Linux,
    bytes on macOS), which covers the whole process, data preparation before training included."""
    if device.type == "cuda":
        import torch

        return {"bytes": int(torch.cuda.max_memory_allocated(device)), "kind": "torch.cuda.max_memory_allocated"}
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024
    return {"bytes": int(rss * scale), "kind": "ru_maxrss (process peak resident set, CPU)"}
