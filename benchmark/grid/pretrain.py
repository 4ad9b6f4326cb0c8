"""Running a pre-training cell through :func:`pretraining.registry.resolve_pretrained`; nothing is faked.

A study setting (``mt``, ``mae``, ...) brings its encoder from a registered weights record on this machine or
from a pre-training on the synthetic corpus, made once and cached per (method, encoder, profile)
(:mod:`pretraining.registry`). The grid runs that pre-training as its own cell, before the fine-tuning cells
that need it, under the same lock :func:`benchmark.experiment.run_experiment` takes, so the fine-tuning cells
then find it cached. A setting this build does not register, or one without pre-trained weights, raises
:class:`PretrainingUnavailable`.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["PretrainingUnavailable", "pretraining_lock_name", "run_pretraining_cell"]


class PretrainingUnavailable(NotImplementedError):
    """This build cannot run the requested pre-training."""


def pretraining_lock_name(method: str, encoder: str, profile: str) -> str:
    """The shared lock (under the data root) held while a (method, encoder, profile) pre-training is made."""
    return f"pretrained-{method}-{encoder}-{profile}"


def run_pretraining_cell(
    method: str,
    encoder: str,
    profile: str,
    data_root: str | Path | None = None,
    device: str = "auto",
    progress: bool = False,
) -> Path:
    """Make (or find) the ``method`` encoder of kind ``encoder`` for ``profile``; its checkpoint path."""
    from benchmark.experiment import default_data_root
    from benchmark.grid.locks import shared_lock
    from models.registry import ARCHITECTURES
    from pretraining.registry import PRETRAINING, applicable, resolve_pretrained

    if method not in PRETRAINING:
        raise PretrainingUnavailable(
            f"pre-training {method!r} not available in this build (registered: {', '.join(PRETRAINING.names())})"
        )
    setting = PRETRAINING.get(method)
    if setting.weights != "pretrained":
        raise PretrainingUnavailable(f"pre-training setting {method!r} has no pre-trained encoder to make")
    candidates = [a for a, spec in ARCHITECTURES.items() if spec.encoder_kind == encoder and applicable(setting, a)]
    if not candidates:
        raise PretrainingUnavailable(f"pre-training {method!r} does not apply to the {encoder} encoder (Table 3)")
    root = Path(data_root) if data_root else default_data_root()
    with shared_lock(root, pretraining_lock_name(method, encoder, profile)):
        source = resolve_pretrained(setting, candidates[0], profile, data_root=root, device=device, progress=progress)
    return Path(source.checkpoint)
