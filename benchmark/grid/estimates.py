"""GPU-hour estimates of grid cells from the iteration budget of a profile.

Iterations come from the profile (:mod:`benchmark.training.profiles`; the ``paper`` profile holds the paper's
appendix C budget: 2,500 iterations per epoch, 50 epochs for the Retina U-Nets, 100 for the Deformable DETRs).
Seconds per iteration are **assumptions**, not measurements: the paper reports GPU memory (appendix C: ~10 GB
RetUNet, ~12 GB ResEnc-RetUNet, ~11 GB DefDETR, ~15 GB ResEnc-DefDETR) but no step times. We assume one
nnDetection-style step (batch 4, 128^3, mixed precision, data loading overlapped) on one A100-class GPU takes
0.6 s for Retina U-Net and 0.5 s for Deformable DETR, x1.4 for the ResEnc-L encoders (the ratio of their
forward+backward times measured on CPU in ``benchmarks/models_bench.py``). Validation and test inference add
10 %. Pre-training (paper section 3: 4,000 epochs on four A100s; an nnU-Net/nnSSL epoch is 250 iterations)
is estimated at 1.0 s per iteration on four GPUs. Replace these with measured figures when available.
"""

from __future__ import annotations

__all__ = [
    "PRETRAIN_GPUS",
    "STEP_SECONDS",
    "finetune_gpu_hours",
    "pretrain_gpu_hours",
]

#: Assumed seconds per training iteration on one A100-class GPU (see the module docstring).
STEP_SECONDS = {
    "retina_unet": 0.6,
    "deformable_detr": 0.5,
    "resenc_retina_unet": 0.6 * 1.4,
    "resenc_deformable_detr": 0.5 * 1.4,
}
INFERENCE_OVERHEAD = 1.10
#: Pre-training: GPUs per run (paper: four A100s), iterations per epoch (nnSSL/nnU-Net: 250), epochs by profile.
PRETRAIN_GPUS = 4
PRETRAIN_STEP_SECONDS = 1.0
_PRETRAIN_EPOCHS = {"paper": 4000}
_PRETRAIN_ITERATIONS_PER_EPOCH = 250


def _family(architecture: str) -> str:
    return "deformable_detr" if "detr" in architecture else "retina_unet"


def finetune_iterations(profile: str, architecture: str) -> int:
    from benchmark.training.profiles import PROFILES

    return PROFILES.get(profile).total_iterations(_family(architecture))


def finetune_gpu_hours(profile: str, architecture: str) -> float:
    """GPU-hours of one fine-tuning cell (one GPU), from the profile's iterations and the assumed step time."""
    step = STEP_SECONDS.get(architecture, STEP_SECONDS[_family(architecture)])
    return finetune_iterations(profile, architecture) * step * INFERENCE_OVERHEAD / 3600.0


def pretrain_gpu_hours(profile: str) -> float:
    """GPU-hours of one pre-training cell (all its GPUs); profiles other than ``paper`` scale by iterations."""
    from benchmark.training.profiles import PROFILES

    epochs = _PRETRAIN_EPOCHS.get(profile)
    if epochs is None:  # laptop profiles: the same ratio to the paper as their fine-tuning budget
        ratio = PROFILES.get(profile).total_iterations("retina_unet") / PROFILES.get("paper").total_iterations(
            "retina_unet"
        )
        epochs = max(1, round(_PRETRAIN_EPOCHS["paper"] * ratio))
    seconds = epochs * _PRETRAIN_ITERATIONS_PER_EPOCH * PRETRAIN_STEP_SECONDS
    return seconds * PRETRAIN_GPUS / 3600.0
