"""Rough wall-clock estimates of one experiment, so the runner can say up front how long a suite will take.

The figures are measurements, not a model: the whole ``benchmark train`` (preprocessing, training, validation
tuning, test inference) per profile and detector family on two CPU cores (``tiny``: measured in the test suite;
``cpu``: the median cell of the dev suite run from nothing on an idle two-core machine, two cells at a time, on
2026-12-04 (README.md): Retina U-Net 95 s, Deformable DETR 165 s, ResEnc Retina U-Net 116 s, ResEnc Deformable
DETR 189 s over S01-S05 and all pre-training rows; ``default``-plan cells are cheaper, 34-83 s, cells of S01 and
S02 dearer, up to 205 s). ResEnc variants cost a little more per step (the ``_RESENC_FACTOR``). Twin generation
at the profile's scale is added once per dataset the first time. The runner replaces these guesses by the
observed ratio (actual / estimated) as soon as the first experiment ends.
Pre-training cells: ``tiny`` ~7 s (README smoke run), ``cpu`` 66-120 s for the dev suite's six cells (five
methods, MultiTalent on both encoders; the same run); other profiles have no measurement.
"""

from __future__ import annotations

__all__ = ["estimate_experiment_seconds", "estimate_pretraining_seconds", "estimate_twin_seconds", "format_duration"]

# (profile, family) -> seconds on two CPU cores
_CPU_SECONDS = {
    ("tiny", "retina_unet"): 8.0,
    ("tiny", "deformable_detr"): 8.0,
    ("cpu", "retina_unet"): 100.0,
    ("cpu", "deformable_detr"): 170.0,
}
_RESENC_FACTOR = 1.15
# twin generation per dataset, seconds on two cores (benchmark synth: tiny ~0.4 s, small ~16 s per twin)
_TWIN_SECONDS = {"tiny": 1.0, "small": 20.0, "full": 600.0}


def _family(architecture: str) -> str:
    return "deformable_detr" if "detr" in architecture else "retina_unet"


def estimate_experiment_seconds(profile: str, architecture: str, device: str = "cpu") -> float | None:
    """Seconds for one experiment, or ``None`` when there is no measurement for this profile and device."""
    if device not in ("cpu", "auto"):
        return None
    base = _CPU_SECONDS.get((profile, _family(architecture)))
    if base is None:
        return None
    return base * (_RESENC_FACTOR if architecture.startswith("resenc") else 1.0)


# one pre-training cell per profile, seconds on two CPU cores
_PRETRAIN_CPU_SECONDS = {"tiny": 10.0, "cpu": 90.0}


def estimate_pretraining_seconds(profile: str, device: str = "cpu") -> float | None:
    """Seconds for one pre-training cell, or ``None`` when there is no measurement for this profile and device."""
    if device not in ("cpu", "auto"):
        return None
    return _PRETRAIN_CPU_SECONDS.get(profile)


def estimate_twin_seconds(scale: str) -> float:
    return _TWIN_SECONDS.get(scale, 60.0)


def format_duration(seconds: float | None) -> str:
    """``1 h 05 min``, ``12 min``, ``40 s``; ``unknown`` for ``None``."""
    if seconds is None:
        return "unknown"
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60:02d} min"
