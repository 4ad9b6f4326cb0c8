"""The four detectors of the study in one :class:`benchmark.core.registry.Registry`.

``retina_unet`` / ``resenc_retina_unet`` are Retina U-Net on the plain / ResEnc-L encoder and
``deformable_detr`` / ``resenc_deformable_detr`` are 3D Deformable DETR on the same two encoders. The name
fixes the family and the encoder kind; everything else comes from the typed config::

    model = build_detector("resenc_deformable_detr")                       # paper size
    small = build_detector("retina_unet", default_config("retina_unet", width_multiplier=0.125, n_stages=4))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from benchmark.core.registry import Registry
from models.base import Detector
from models.config import PAPER_FEATURES, DeformableDETRConfig, EncoderConfig, RetinaUNetConfig, as_triple
from models.deformable_detr import DeformableDETR
from models.retina_unet import RetinaUNet

__all__ = ["ARCHITECTURES", "ArchitectureSpec", "PAPER_PARAMETERS", "build_detector", "default_config"]

DetectorConfig = RetinaUNetConfig | DeformableDETRConfig


@dataclass(frozen=True)
class ArchitectureSpec:
    """A registered detector: its model class, config class, encoder kind and the paper's size."""

    model: type[Detector]
    config: type[RetinaUNetConfig] | type[DeformableDETRConfig]
    encoder_kind: str
    paper_parameters: float
    paper_memory_gb: float
    description: str


ARCHITECTURES: Registry[ArchitectureSpec] = Registry("architecture")
ARCHITECTURES.register(
    "retina_unet",
    ArchitectureSpec(RetinaUNet, RetinaUNetConfig, "plain", 19.0e6, 10.0, "Retina U-Net, plain encoder (RetUNet)"),
)
ARCHITECTURES.register(
    "deformable_detr",
    ArchitectureSpec(
        DeformableDETR, DeformableDETRConfig, "plain", 18.2e6, 11.0, "Deformable DETR, plain encoder (DefDETR)"
    ),
)
ARCHITECTURES.register(
    "resenc_retina_unet",
    ArchitectureSpec(
        RetinaUNet, RetinaUNetConfig, "resenc", 95.2e6, 12.0, "Retina U-Net, ResEnc-L encoder (ResEnc-RetUNet)"
    ),
)
ARCHITECTURES.register(
    "resenc_deformable_detr",
    ArchitectureSpec(
        DeformableDETR,
        DeformableDETRConfig,
        "resenc",
        94.4e6,
        15.0,
        "Deformable DETR, ResEnc-L encoder (ResEnc-DefDETR)",
    ),
)

#: Parameter counts the paper reports (appendix C.3), 1 input channel and 1 foreground class.
PAPER_PARAMETERS = {name: spec.paper_parameters for name, spec in ARCHITECTURES.items()}


def default_config(
    name: str,
    in_channels: int = 1,
    num_classes: int = 1,
    width_multiplier: float = 1.0,
    n_stages: int | None = None,
    strides: Sequence[int | Sequence[int]] | None = None,
    kernel_sizes: Sequence[int | Sequence[int]] | None = None,
    **overrides: object,
) -> DetectorConfig:
    """The paper's configuration of detector ``name``; smaller with ``width_multiplier`` / ``n_stages``.

    ``strides`` (one per stage, an int or ``(z, y, x)``; the first is usually 1) and ``kernel_sizes`` (one per
    stage) replace the paper's fixed topology by a planned one, as nnDetection's ``default`` configuration
    does (:func:`benchmark.preprocessing.planning.plan_network_topology`): the number of stages is then
    ``len(strides)`` (at most the paper's six, with its feature counts) and ``n_stages`` must be ``None``.
    ``overrides`` set other config fields. Shrinking the encoder also shrinks the detector-specific part so
    that tiny variants stay tiny: the FPN width scales with ``width_multiplier`` (at least 16), the transformer
    width too (at least 32, with at least 8 channels per head).
    """
    spec = ARCHITECTURES.get(name)
    topology: dict[str, object] = {}
    if strides is not None:
        if n_stages is not None:
            raise ValueError("pass either n_stages or planned strides, not both")
        if not 1 <= len(strides) <= len(PAPER_FEATURES):
            raise ValueError(f"a planned encoder needs 1..{len(PAPER_FEATURES)} stages, got {len(strides)} strides")
        topology["strides"] = tuple(as_triple(s, "a stride") for s in strides)
        topology["features"] = PAPER_FEATURES[: len(strides)]
    if kernel_sizes is not None:
        if strides is None or len(kernel_sizes) != len(strides):
            raise ValueError("kernel_sizes need planned strides of the same length")
        topology["kernel_sizes"] = tuple(as_triple(k, "a kernel size") for k in kernel_sizes)
    encoder = EncoderConfig(
        kind=spec.encoder_kind,
        in_channels=in_channels,
        width_multiplier=width_multiplier,
        n_stages=n_stages,
        **topology,  # type: ignore[arg-type]
    )
    fields: dict[str, object] = {"encoder": encoder, "num_classes": num_classes}
    if width_multiplier != 1.0:
        if spec.config is RetinaUNetConfig:
            fields["fpn_channels"] = max(16, round(128 * width_multiplier))
        else:
            d = max(32, round(128 * width_multiplier))
            fields.update(
                hidden_dim=d,
                num_heads=min(8, max(1, d // 8)),  # keep at least 8 channels per attention head
                ffn_dim=max(64, round(1024 * width_multiplier)),
                projection_groups=min(16, d),
            )
    if spec.config is DeformableDETRConfig:
        # the paper reads the stride >= 4 levels (stages 2-5); small variants keep that rule
        fields["num_feature_levels"] = max(1, min(4, encoder.num_stages - 2))
    fields.update(overrides)
    return spec.config(**fields)  # type: ignore[arg-type]


def build_detector(name: str, config: DetectorConfig | None = None) -> Detector:
    """Build detector ``name`` from ``config`` (default: the paper's configuration).

    ValueError if the config belongs to the other family or its encoder kind contradicts the name.
    """
    spec = ARCHITECTURES.get(name)
    if config is None:
        config = default_config(name)
    if not isinstance(config, spec.config):
        raise ValueError(f"{name!r} needs a {spec.config.__name__}, got {type(config).__name__}")
    if config.encoder.kind != spec.encoder_kind:
        others = [
            n for n, s in ARCHITECTURES.items() if s.config is spec.config and s.encoder_kind == config.encoder.kind
        ]
        raise ValueError(
            f"{name!r} uses the {spec.encoder_kind!r} encoder but the config asks for {config.encoder.kind!r}; "
            f"use {others[0]!r} or set encoder.kind={spec.encoder_kind!r}"
        )
    return spec.model(config)
