"""Typed configurations of the encoders and detectors; every hyperparameter is a field, never a subclass.

Defaults are the paper's fixed architecture (Table 5): six stages, features [32, 64, 128, 256, 320, 320],
strides [1, 2, 2, 2, 2, 2], 3x3x3 kernels; the detector defaults follow nnDetection's Retina U-Net (v001)
and Deformable DETR (v2, ``deformable_detr_sigm_for_ResEnc``) settings. ``width_multiplier`` and
``n_stages`` shrink the encoder for CPU-sized variants. Strides and kernels may also be per axis
(``(z, y, x)`` per stage), as nnDetection plans them for anisotropic data
(:func:`benchmark.preprocessing.planning.plan_network_topology`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

ENCODER_KINDS = ("plain", "resenc")
PAPER_FEATURES = (32, 64, 128, 256, 320, 320)
PAPER_STRIDES = (1, 2, 2, 2, 2, 2)
PLAIN_CONVS_PER_STAGE = (2, 2, 2, 2, 2, 2)
RESENC_L_BLOCKS = (1, 3, 4, 6, 6, 6)


Triple = tuple[int, int, int]


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(repr(c) for c in choices)}; got {value!r}")


def as_triple(value: int | Sequence[int], name: str = "value") -> Triple:
    """``value`` per axis ``(z, y, x)``: an int is the same on every axis."""
    if isinstance(value, int):
        return (value, value, value)
    t = tuple(int(v) for v in value)
    if len(t) != 3:
        raise ValueError(f"{name} must be an int or 3 ints (z, y, x), got {value!r}")
    return t  # type: ignore[return-value]


@dataclass(frozen=True)
class EncoderConfig:
    """Encoder of the fixed configuration: ``plain`` (2 convs per stage) or ``resenc`` (ResEnc-L blocks).

    ``blocks`` is the number of convolutions per stage (plain) or of residual blocks per stage (resenc);
    ``None`` picks the paper's value for ``kind``. ``n_stages`` keeps only the first stages. A stride is an
    int (every axis) or ``(z, y, x)``; ``kernel_sizes`` (one ``(z, y, x)`` per stage, e.g. ``(1, 3, 3)`` on
    a coarse axis) overrides ``kernel_size`` (every stage, every axis).
    """

    kind: str = "plain"
    in_channels: int = 1
    features: tuple[int, ...] = PAPER_FEATURES
    strides: tuple[int | Triple, ...] = PAPER_STRIDES
    blocks: tuple[int, ...] | None = None
    kernel_size: int = 3
    kernel_sizes: tuple[Triple, ...] | None = None
    width_multiplier: float = 1.0
    n_stages: int | None = None
    norm_eps: float = 1e-5
    negative_slope: float = 0.01

    def __post_init__(self) -> None:
        _check_choice("encoder kind", self.kind, ENCODER_KINDS)
        if self.in_channels < 1:
            raise ValueError(f"in_channels must be >= 1, got {self.in_channels}")
        if len(self.features) != len(self.strides):
            raise ValueError(f"features ({len(self.features)}) and strides ({len(self.strides)}) differ in length")
        if self.blocks is not None and len(self.blocks) != len(self.features):
            raise ValueError(f"blocks ({len(self.blocks)}) and features ({len(self.features)}) differ in length")
        if self.width_multiplier <= 0:
            raise ValueError(f"width_multiplier must be > 0, got {self.width_multiplier}")
        if self.n_stages is not None and not 1 <= self.n_stages <= len(self.features):
            raise ValueError(f"n_stages must be in 1..{len(self.features)}, got {self.n_stages}")
        if self.kernel_size % 2 != 1:
            raise ValueError(f"kernel_size must be odd, got {self.kernel_size}")
        strides = [as_triple(s, "a stride") for s in self.strides]
        if any(v < 1 for s in strides for v in s):
            raise ValueError(f"strides must be >= 1, got {self.strides}")
        if self.kernel_sizes is not None:
            if len(self.kernel_sizes) != len(self.features):
                raise ValueError(
                    f"kernel_sizes ({len(self.kernel_sizes)}) and features ({len(self.features)}) differ in length"
                )
            if any(v < 1 or v % 2 != 1 for k in self.kernel_sizes for v in as_triple(k, "a kernel size")):
                raise ValueError(f"kernel sizes must be odd, got {self.kernel_sizes}")

    def with_leading_blocks(self, leading: Sequence[int] | None) -> EncoderConfig:
        """This encoder with the first stages' block counts replaced by ``leading`` (the rest keep the kind's
        default); ``None`` or empty leaves it unchanged. Laptop profiles use it for a shallower ResEnc."""
        if not leading:
            return self
        if any(int(b) < 1 for b in leading) or len(leading) > len(self.features):
            raise ValueError(f"blocks per stage must be >= 1 and at most {len(self.features)} stages, got {leading}")
        default = PLAIN_CONVS_PER_STAGE if self.kind == "plain" else RESENC_L_BLOCKS
        current = self.blocks if self.blocks is not None else default[: len(self.features)]
        return replace(self, blocks=tuple(int(b) for b in leading) + tuple(current[len(leading) :]))

    @property
    def num_stages(self) -> int:
        return self.n_stages if self.n_stages is not None else len(self.features)

    @property
    def stage_features(self) -> tuple[int, ...]:
        """Feature channels per kept stage after the width multiplier."""
        return tuple(max(1, round(f * self.width_multiplier)) for f in self.features[: self.num_stages])

    @property
    def stage_strides(self) -> tuple[int | Triple, ...]:
        """Strides of the kept stages as configured (ints or ``(z, y, x)``)."""
        return tuple(self.strides[: self.num_stages])

    @property
    def stage_strides_3d(self) -> tuple[Triple, ...]:
        """Strides of the kept stages per axis ``(z, y, x)``."""
        return tuple(as_triple(s) for s in self.stage_strides)

    @property
    def stage_kernel_sizes(self) -> tuple[Triple, ...]:
        """Convolution kernel ``(z, y, x)`` of every kept stage."""
        if self.kernel_sizes is None:
            return tuple(as_triple(self.kernel_size) for _ in range(self.num_stages))
        return tuple(as_triple(k) for k in self.kernel_sizes[: self.num_stages])

    @property
    def stage_blocks(self) -> tuple[int, ...]:
        default = PLAIN_CONVS_PER_STAGE if self.kind == "plain" else RESENC_L_BLOCKS
        blocks = self.blocks if self.blocks is not None else default[: len(self.features)]
        return tuple(blocks[: self.num_stages])

    @property
    def cumulative_strides_3d(self) -> tuple[Triple, ...]:
        """Downsampling factor ``(z, y, x)`` of every stage's output relative to the input."""
        out, total = [], (1, 1, 1)
        for s in self.stage_strides_3d:
            total = (total[0] * s[0], total[1] * s[1], total[2] * s[2])
            out.append(total)
        return tuple(out)

    @property
    def total_stride(self) -> Triple:
        """Downsampling ``(z, y, x)`` of the last stage: input sizes must be multiples of it."""
        return self.cumulative_strides_3d[-1]

    @property
    def cumulative_strides(self) -> tuple[int, ...]:
        """Downsampling factor of every stage's output (isotropic strides only; else :attr:`cumulative_strides_3d`)."""
        out = self.cumulative_strides_3d
        if any(len(set(s)) > 1 for s in out):
            raise ValueError("the encoder's strides differ per axis; use cumulative_strides_3d")
        return tuple(s[0] for s in out)


@dataclass(frozen=True)
class RetinaUNetConfig:
    """Retina U-Net (Jaeger et al.) as configured by nnDetection v001, on a plain or ResEnc encoder.

    ``anchor_sizes`` are three per-axis size lists ``(z sizes, y sizes, x sizes)`` in voxels at the first
    detection level (their product gives the anchors per position, 27 by default); deeper levels scale
    them by the stride ratio. Plan them from the training boxes with :func:`models.anchors.plan_anchor_sizes`.
    ``detection_levels`` ``None`` means the 4 coarsest levels from level 2 (P2-P5 at full size).
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    num_classes: int = 1
    fpn_channels: int = 128
    min_fpn_channels: int = 8
    detection_levels: tuple[int, ...] | None = None
    head_convs: int = 1
    head_channels_per_group: int = 16
    anchor_sizes: tuple[tuple[float, ...], ...] = ((4.0, 8.0, 16.0), (4.0, 8.0, 16.0), (4.0, 8.0, 16.0))
    # matching and sampling (ATSS + hard negative mining as in nnDetection)
    atss_candidates: int = 4
    sample_per_image: int = 32
    positive_fraction: float = 0.33
    hard_negative_pool_size: int = 20
    min_negatives: int = 1
    # "hard_negative": nnDetection's sampler above (the paper); "all": every anchor enters the classification
    # loss, summed and divided by the number of positives (RetinaNet, Lin et al. 2017) -- far more signal per
    # step, which the few-hundred-step laptop profile needs (docs/training.md)
    anchor_sampling: str = "hard_negative"
    # losses
    classification_loss: str = "focal"
    focal_alpha: float = 0.25
    focal_gamma: float = 2.0
    prior_prob: float = 0.01
    regression_loss: str = "l1"  # "l1" (the paper) | "smooth_l1" | "giou" (nnDetection v001)
    smooth_l1_beta: float = 1.0 / 9.0
    classification_weight: float = 1.0
    regression_weight: float = 1.0
    segmentation_weight: float = 1.0
    segmentation_classes: str = "foreground"  # "foreground" (fg/bg, nnDetection) | "per_class"
    box_coder_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0)
    # inference
    score_threshold: float = 0.05
    topk_candidates_per_level: int = 1000
    nms_iou_threshold: float = 0.6
    max_detections: int = 100
    min_box_size: float = 0.01

    def __post_init__(self) -> None:
        _check_choice("classification_loss", self.classification_loss, ("focal", "bce"))
        _check_choice("regression_loss", self.regression_loss, ("l1", "smooth_l1", "giou"))
        _check_choice("anchor_sampling", self.anchor_sampling, ("hard_negative", "all"))
        _check_choice("segmentation_classes", self.segmentation_classes, ("foreground", "per_class"))
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (foreground classes), got {self.num_classes}")
        if len(self.anchor_sizes) != 3 or any(len(a) == 0 for a in self.anchor_sizes):
            raise ValueError("anchor_sizes must hold three non-empty per-axis size lists (z, y, x)")
        if any(s <= 0 for a in self.anchor_sizes for s in a):
            raise ValueError(f"anchor sizes must be positive, got {self.anchor_sizes}")
        if not 0 < self.positive_fraction < 1:
            raise ValueError(f"positive_fraction must be in (0, 1), got {self.positive_fraction}")
        levels = self.resolved_detection_levels
        n = self.encoder.num_stages
        if not levels or any(not 0 <= lv < n for lv in levels) or list(levels) != sorted(set(levels)):
            raise ValueError(f"detection_levels must be increasing levels in 0..{n - 1}, got {levels}")
        if len(self.box_coder_weights) != 6:
            raise ValueError("box_coder_weights needs 6 values (centre z, y, x, size z, y, x)")

    @property
    def resolved_detection_levels(self) -> tuple[int, ...]:
        if self.detection_levels is not None:
            return tuple(self.detection_levels)
        n = self.encoder.num_stages
        first = min(2, n - 1)
        return tuple(range(first, min(first + 4, n)))

    @property
    def segmentation_channels(self) -> int:
        """Output channels of the segmentation head (background included)."""
        return 2 if self.segmentation_classes == "foreground" else self.num_classes + 1

    @property
    def anchors_per_position(self) -> int:
        a = self.anchor_sizes
        return len(a[0]) * len(a[1]) * len(a[2])

    def with_encoder(self, **changes: object) -> RetinaUNetConfig:
        return replace(self, encoder=replace(self.encoder, **changes))


@dataclass(frozen=True)
class DeformableDETRConfig:
    """Two-stage 3D Deformable DETR with iterative box refinement (nnDetection v2 ``BoxDeformableDETRV002``).

    The transformer reads the ``num_feature_levels`` coarsest encoder stages through a 1x1x1 projection
    to ``hidden_dim``. Loss weights and focal parameters are nnDetection v2's defaults.
    """

    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    num_classes: int = 1
    hidden_dim: int = 128
    num_heads: int = 8
    num_points: int = 4
    num_feature_levels: int = 4
    num_encoder_layers: int = 3
    num_decoder_layers: int = 6
    ffn_dim: int = 1024
    dropout: float = 0.0
    num_queries: int = 300
    projection_groups: int = 16
    proposal_base_scale: float = 0.05
    box_mlp_layers: int = 3
    # losses and matching
    focal_alpha: float = 0.75
    focal_gamma: float = 1.0
    prior_prob: float = 0.05
    classification_weight: float = 1.0
    l1_weight: float = 5.0
    giou_weight: float = 2.0
    match_class_weight: float = 2.0
    match_l1_weight: float = 5.0
    match_giou_weight: float = 2.0
    auxiliary_loss: bool = True
    # inference
    score_threshold: float = 0.0
    max_detections: int = 100

    def __post_init__(self) -> None:
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1 (foreground classes), got {self.num_classes}")
        if self.hidden_dim % self.num_heads != 0:
            raise ValueError(f"hidden_dim ({self.hidden_dim}) must be divisible by num_heads ({self.num_heads})")
        if self.hidden_dim % 2 != 0:
            raise ValueError(f"hidden_dim must be even for the sine encodings, got {self.hidden_dim}")
        if self.hidden_dim % self.projection_groups != 0:
            raise ValueError(
                f"hidden_dim ({self.hidden_dim}) must be divisible by projection_groups ({self.projection_groups})"
            )
        if not 1 <= self.num_feature_levels <= self.encoder.num_stages:
            n = self.encoder.num_stages
            raise ValueError(f"num_feature_levels must be in 1..{n}, got {self.num_feature_levels}")
        if self.num_decoder_layers < 1 or self.num_encoder_layers < 0:
            raise ValueError("need >= 1 decoder layer and >= 0 encoder layers")
        if self.box_mlp_layers < 1:
            raise ValueError(f"box_mlp_layers must be >= 1, got {self.box_mlp_layers}")

    @property
    def feature_levels(self) -> tuple[int, ...]:
        """Encoder stages fed to the transformer (the coarsest ``num_feature_levels``)."""
        n = self.encoder.num_stages
        return tuple(range(n - self.num_feature_levels, n))

    def with_encoder(self, **changes: object) -> DeformableDETRConfig:
        return replace(self, encoder=replace(self.encoder, **changes))
