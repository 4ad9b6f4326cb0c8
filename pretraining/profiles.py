"""Pre-training profiles (``paper``, ``cpu``, ``tiny``) in one :class:`benchmark.core.registry.Registry`.

``paper`` is the study's setup (Eckstein et al., MICCAI 2025, section 2.3 "Implementation"): data resampled to
1 mm isotropic and z-scored; ResEnc-L with a 192^3 patch and batch 12 (the SSL methods and MultiTalent), the
plain Retina U-Net encoder with a 128^3 patch and batch 48 (MultiTalent); 4,000 epochs with a poly learning rate
from 1e-2. "All other training parameters follow the default implementations" of nnssl and MultiTalent, which
take nnU-Net's trainer defaults: 250 iterations per epoch, SGD with Nesterov momentum 0.99, weight decay 3e-5,
poly exponent 0.9, gradient clipping at norm 12 (nnU-Net v2 ``nnUNetTrainer``; nnssl ``AbstractBaseTrainer``).

``cpu`` and ``tiny`` scale this down so a run fits a laptop: small patches, the encoder width and depth of the
fine-tuning profiles of the same name (:mod:`benchmark.training.profiles`, so a pre-trained encoder has the shape
a ``cpu``/``tiny`` fine-tuning run would build), a few hundred (``cpu``) or a handful (``tiny``) of iterations,
and a small synthetic corpus (``corpus_scale``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmark.core.registry import Registry
from benchmark.training.profiles import PROFILES as TRAINING_PROFILES
from models.config import ENCODER_KINDS

__all__ = ["PRETRAINING_PROFILES", "PretrainingProfile", "get_profile"]


@dataclass(frozen=True)
class PretrainingProfile:
    """Budget and optimiser of a pre-training run; ``dataclasses.replace`` makes a variant (tests do).

    ``patch_size``/``batch_size`` are for the ResEnc encoder, ``patch_size_plain``/``batch_size_plain`` for the
    plain (Retina U-Net) encoder. ``corpus_scale`` is the scale of the synthetic corpus
    (:mod:`benchmark.synthetic.config`) used when no ``--data`` is given.
    """

    name: str
    epochs: int
    iterations_per_epoch: int
    patch_size: tuple[int, int, int]
    patch_size_plain: tuple[int, int, int]
    batch_size: int
    batch_size_plain: int
    width_multiplier: float = 1.0
    n_stages: int | None = None
    resenc_blocks: tuple[int, ...] | None = None  # first ResEnc stages' blocks (None: ResEnc-L's)
    lr: float = 1e-2
    momentum: float = 0.99
    nesterov: bool = True
    weight_decay: float = 3e-5
    poly_exponent: float = 0.9
    grad_clip: float = 12.0
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    corpus_scale: str = "full"
    corpus_cases: int | None = None  # None: the scale's own corpus size

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.iterations_per_epoch < 1:
            raise ValueError(f"profile {self.name}: epochs and iterations_per_epoch must be >= 1")
        if self.batch_size < 1 or self.batch_size_plain < 1:
            raise ValueError(f"profile {self.name}: batch sizes must be >= 1")
        if not 0 < self.lr:
            raise ValueError(f"profile {self.name}: lr must be > 0")

    @property
    def total_iterations(self) -> int:
        return self.epochs * self.iterations_per_epoch

    def patch_for(self, encoder: str) -> tuple[int, int, int]:
        """The training patch ``(z, y, x)`` of encoder kind ``encoder``."""
        _check_encoder(encoder)
        return self.patch_size if encoder == "resenc" else self.patch_size_plain

    def batch_for(self, encoder: str) -> int:
        _check_encoder(encoder)
        return self.batch_size if encoder == "resenc" else self.batch_size_plain

    def learning_rate(self, step: int) -> float:
        """nnU-Net's poly schedule: ``lr * (1 - step / total) ** exponent``."""
        return self.lr * (1.0 - min(step, self.total_iterations) / self.total_iterations) ** self.poly_exponent


def _check_encoder(encoder: str) -> None:
    if encoder not in ENCODER_KINDS:
        raise ValueError(f"encoder must be one of {', '.join(ENCODER_KINDS)}; got {encoder!r}")


PRETRAINING_PROFILES: Registry[PretrainingProfile] = Registry("pre-training profile")

PAPER = PRETRAINING_PROFILES.register(
    "paper",
    PretrainingProfile(
        name="paper",
        epochs=4000,
        iterations_per_epoch=250,
        patch_size=(192, 192, 192),
        patch_size_plain=(128, 128, 128),
        batch_size=12,
        batch_size_plain=48,
        corpus_scale="full",
    ),
)
CPU = PRETRAINING_PROFILES.register(
    "cpu",
    replace(
        PAPER,
        name="cpu",
        epochs=4,
        iterations_per_epoch=50,
        patch_size=(48, 48, 48),
        patch_size_plain=(48, 48, 48),
        batch_size=2,
        batch_size_plain=2,
        # the fine-tuning profile's encoder, so the pre-trained encoder is the one its detectors build
        width_multiplier=TRAINING_PROFILES.get("cpu").width_multiplier,
        n_stages=TRAINING_PROFILES.get("cpu").n_stages,
        resenc_blocks=TRAINING_PROFILES.get("cpu").resenc_blocks,
        corpus_scale="small",
        corpus_cases=16,
    ),
)
TINY = PRETRAINING_PROFILES.register(
    "tiny",
    replace(
        CPU,
        name="tiny",
        epochs=2,
        iterations_per_epoch=3,
        patch_size=(32, 32, 32),
        patch_size_plain=(32, 32, 32),
        batch_size=2,
        batch_size_plain=2,
        width_multiplier=TRAINING_PROFILES.get("tiny").width_multiplier,
        n_stages=TRAINING_PROFILES.get("tiny").n_stages,
        resenc_blocks=TRAINING_PROFILES.get("tiny").resenc_blocks,
        corpus_scale="tiny",
        corpus_cases=4,
    ),
)


def get_profile(name: str | PretrainingProfile) -> PretrainingProfile:
    """A registered profile by name (unknown names: "did you mean"), or ``name`` itself when it is a profile."""
    return name if isinstance(name, PretrainingProfile) else PRETRAINING_PROFILES.get(name)
