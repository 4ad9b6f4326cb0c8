"""Pre-training settings in one :class:`benchmark.core.registry.Registry`.

A setting says how the encoder is initialised and which preprocessing configuration fine-tuning uses. The two
baselines without pre-training exist today: ``default`` (nnDetection's planned spacing and patch, the paper's
"No - Default") and ``fixed`` (1 mm isotropic, 128^3, the paper's "No - Fixed"). MultiTalent, MAE, S3D,
Models Genesis and VoCo register here when their weight transfer lands.
"""

from __future__ import annotations

from dataclasses import dataclass

from benchmark.core.registry import Registry


@dataclass(frozen=True)
class PretrainingSpec:
    """``weights`` is ``None`` for random initialisation, ``"user"`` when the weights come from ``--weights``;
    ``preprocessing`` is ``fixed`` or ``default``."""

    name: str
    paper_label: str
    preprocessing: str
    weights: str | None = None
    description: str = ""
    study: bool = True  # a setting of the paper's Table 3 (``paper_label`` is then its row label)


PRETRAINING: Registry[PretrainingSpec] = Registry("pre-training setting")
PRETRAINING.register(
    "default",
    PretrainingSpec("default", "No - Default", "default", None, "random init, nnDetection-planned spacing and patch"),
)
PRETRAINING.register(
    "fixed", PretrainingSpec("fixed", "No - Fixed", "fixed", None, "random init, fixed 1 mm spacing and 128^3 patch")
)
PRETRAINING.register(
    "custom",
    PretrainingSpec(
        "custom",
        "Custom weights",
        "fixed",
        "user",
        "encoder weights from --weights (any checkpoint the importers read), fixed 1 mm spacing and 128^3 patch",
        study=False,
    ),
)
