"""Running a pre-training cell: the hook into :mod:`pretraining`, and the error when a build cannot pre-train.

The grid does not pre-train by itself: it calls ``pretraining.grid.pretrain_for_grid(method, encoder, profile,
out_dir, device)`` (the hook the pre-training package provides), which trains the encoder and returns the
checkpoint path. A setting missing from :data:`pretraining.registry.PRETRAINING`, or a build without the hook,
raises :class:`PretrainingUnavailable` with what is missing; nothing is faked.
"""

from __future__ import annotations

import importlib
from pathlib import Path

__all__ = ["HOOK", "PretrainingUnavailable", "run_pretraining_cell"]

HOOK = "pretraining.grid:pretrain_for_grid"


class PretrainingUnavailable(NotImplementedError):
    """This build cannot run the requested pre-training."""


def run_pretraining_cell(method: str, encoder: str, profile: str, out_dir: Path, device: str = "auto") -> Path:
    """Pre-train ``method`` on the ``encoder`` encoder with ``profile``'s budget into ``out_dir``; the checkpoint."""
    from pretraining.registry import PRETRAINING

    if method not in PRETRAINING:
        raise PretrainingUnavailable(
            f"pre-training {method!r} not available in this build (registered: {', '.join(PRETRAINING.names())})"
        )
    module_name, _, function = HOOK.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name != module_name and not module_name.startswith(f"{err.name}."):
            raise
        raise PretrainingUnavailable(
            f"pre-training {method!r} is registered but this build has no pre-training runner ({HOOK} is missing)"
        ) from None
    hook = getattr(module, function, None)
    if hook is None:
        raise PretrainingUnavailable(f"pre-training runner {HOOK} is missing in this build")
    return Path(hook(method, encoder, profile, out_dir, device))
