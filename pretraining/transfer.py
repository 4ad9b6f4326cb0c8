"""Weight transfer from a pre-trained checkpoint into any detbench detector, with an exact report.

The study (Eckstein et al., MICCAI 2025, section 3 and appendix C.2) transfers the encoder only and leaves the
decoder, FPN/transformer and heads at their initialisation (``transfer="encoder"``; ``"all"`` also copies the
checkpoint's ``decoder_weights``, its full-model ablation). The *stem* is the encoder's input conv unit (conv
+ norm: ``encoder.stem.convs.0`` for ResEnc, ``encoder.stages.0.0.convs.0`` for the plain encoder), the only
part whose shape depends on the input channels. Stem rules:

``random``
    the stem keeps the detector's initialisation (the paper's choice for self-supervised checkpoints).
``replicate``
    the checkpoint's single-channel stem weight repeated over the input channels and divided by their count
    (nnssl's rule for multi-channel fine-tuning; a one-channel model gets the stem unchanged).
``transfer:NAME``
    the stem ``NAME`` of ``checkpoint.stems``; ``transfer:encoder`` is the checkpoint's own stem (for
    MultiTalent, by convention the CT stem).

:func:`default_stem` is the paper's default: MultiTalent transfers its own (CT) stem to one-channel data and a
stem with the right channel count (another multi-sequence dataset's) to multi-channel data; everything else
(SSL) gets ``random``. :func:`detector_config_for_checkpoint` builds the detector with the checkpoint's
encoder, whatever width a profile would pick, so every encoder tensor finds its counterpart.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from models.config import EncoderConfig
from pretraining.checkpoint import CheckpointError, PretrainedCheckpoint

__all__ = [
    "REPORT_FILE",
    "TRANSFER_MODES",
    "Mismatch",
    "TransferReport",
    "build_detector_for_checkpoint",
    "default_stem",
    "detector_config_for_checkpoint",
    "encoder_config_from_checkpoint",
    "init_from_pretrained",
    "parse_stem",
    "stem_prefix",
    "transfer_weights",
]

TRANSFER_MODES = ("encoder", "all")
STEM_RULES = ("random", "replicate", "transfer:NAME")
OWN_STEM = "encoder"
REPORT_FILE = "transfer_report.json"
MULTITALENT_METHODS = ("multitalent", "mt")


@dataclass(frozen=True)
class Mismatch:
    """A key both sides have, with different shapes (not transferred)."""

    key: str
    checkpoint_shape: tuple[int, ...]
    model_shape: tuple[int, ...]


@dataclass
class TransferReport:
    """What :func:`transfer_weights` did, key by key (detector state-dict keys, e.g. ``encoder.stem...``).

    ``transferred``: copied from the checkpoint. ``missing``: in the transfer's scope (the encoder, or the
    whole detector for ``all``) but not in the checkpoint. ``unexpected``: in the checkpoint but not in the
    detector (or outside the scope). ``mismatched``: in both with different shapes, left at initialisation.
    ``kept_initialisation``: stem keys deliberately left at initialisation (``stem="random"``). Both alias names
    of a conv unit are listed, as the detector's state dict lists them.
    """

    architecture: str
    transfer: str
    stem: str
    checkpoint: dict[str, Any] = field(default_factory=dict)
    transferred: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mismatched: list[Mismatch] = field(default_factory=list)
    kept_initialisation: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["mismatched"] = [
            {"key": m.key, "checkpoint_shape": list(m.checkpoint_shape), "model_shape": list(m.model_shape)}
            for m in self.mismatched
        ]
        out["counts"] = {
            name: len(getattr(self, name))
            for name in ("transferred", "missing", "unexpected", "mismatched", "kept_initialisation")
        }
        return out

    def summary(self, max_keys: int = 5) -> str:
        """A few lines for a terminal: counts, then the first keys of every non-empty problem list."""
        c = self.to_json()["counts"]
        lines = [
            f"transfer={self.transfer} stem={self.stem} into {self.architecture} "
            f"(checkpoint: {self.checkpoint.get('method', '?')}, {self.checkpoint.get('format', '?')})",
            f"  transferred {c['transferred']}, missing {c['missing']}, unexpected {c['unexpected']}, "
            f"mismatched {c['mismatched']}, kept at initialisation {c['kept_initialisation']}",
        ]
        for name in ("missing", "unexpected", "kept_initialisation"):
            keys = getattr(self, name)
            if keys:
                more = f" ... (+{len(keys) - max_keys})" if len(keys) > max_keys else ""
                lines.append(f"  {name}: {', '.join(keys[:max_keys])}{more}")
        for m in self.mismatched[:max_keys]:
            lines.append(f"  mismatched: {m.key} checkpoint {list(m.checkpoint_shape)} vs model {list(m.model_shape)}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# -- configs -------------------------------------------------------------------------------------------
def encoder_config_from_checkpoint(checkpoint: PretrainedCheckpoint, in_channels: int | None = None) -> EncoderConfig:
    """The :class:`EncoderConfig` the checkpoint was pre-trained with; ``in_channels`` replaces the input
    channel count (the stem rule then decides how the stem is initialised)."""
    known = {f.name for f in fields(EncoderConfig)}
    raw = dict(checkpoint.encoder)
    unknown = sorted(set(raw) - known)
    if unknown or "kind" not in raw:
        raise CheckpointError(f"the checkpoint's encoder config has unknown fields {unknown} or no 'kind'")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    if in_channels is not None:
        values["in_channels"] = int(in_channels)
    return EncoderConfig(**values)


def detector_config_for_checkpoint(
    architecture: str,
    checkpoint: PretrainedCheckpoint,
    in_channels: int = 1,
    num_classes: int = 1,
    **overrides: Any,
) -> Any:
    """The config of detector ``architecture`` on the checkpoint's encoder.

    The detector's own parts (FPN or transformer width) are sized as :func:`models.registry.default_config`
    sizes them for the encoder's width multiplier; DETR reads the stride >= 4 levels as there. ValueError
    when the architecture takes the other encoder kind.
    """
    from models.config import DeformableDETRConfig
    from models.registry import ARCHITECTURES, default_config

    encoder = encoder_config_from_checkpoint(checkpoint, in_channels)
    spec = ARCHITECTURES.get(architecture)
    if spec.encoder_kind != encoder.kind:
        matching = [n for n, s in ARCHITECTURES.items() if s.encoder_kind == encoder.kind]
        raise ValueError(
            f"the checkpoint holds a {encoder.kind!r} encoder but {architecture!r} uses {spec.encoder_kind!r}; "
            f"use one of {', '.join(matching)}"
        )
    base = default_config(
        architecture, in_channels=in_channels, num_classes=num_classes, width_multiplier=encoder.width_multiplier
    )
    changes: dict[str, Any] = {"encoder": encoder}
    if isinstance(base, DeformableDETRConfig):
        changes["num_feature_levels"] = max(1, min(4, encoder.num_stages - 2))
    changes.update(overrides)
    return replace(base, **changes)


def build_detector_for_checkpoint(
    architecture: str, checkpoint: PretrainedCheckpoint, in_channels: int = 1, num_classes: int = 1, **overrides: Any
) -> Any:
    """:func:`models.registry.build_detector` with :func:`detector_config_for_checkpoint` (weights not loaded)."""
    from models.registry import build_detector

    return build_detector(
        architecture, detector_config_for_checkpoint(architecture, checkpoint, in_channels, num_classes, **overrides)
    )


# -- stems ---------------------------------------------------------------------------------------------
def stem_prefix(kind: str) -> str:
    """Encoder-relative key prefix of the stem (the input conv unit) of encoder ``kind``."""
    return "stem.convs.0." if kind == "resenc" else "stages.0.0.convs.0."


def parse_stem(stem: str) -> tuple[str, str | None]:
    """``"random"`` -> (random, None); ``"transfer:ct"`` -> (transfer, ct). ValueError for anything else."""
    if stem in ("random", "replicate"):
        return stem, None
    if stem.startswith("transfer:") and stem[len("transfer:") :]:
        return "transfer", stem[len("transfer:") :]
    raise ValueError(f"unknown stem rule {stem!r}; choose random, replicate or transfer:NAME")


def _stem_in_channels(weights: Mapping[str, Any], kind: str) -> int | None:
    key = stem_prefix(kind) + "conv.weight"
    return int(weights[key].shape[1]) if key in weights else None


def default_stem(checkpoint: PretrainedCheckpoint, in_channels: int) -> str:
    """The paper's stem rule (appendix C.2): MultiTalent transfers a stem, SSL initialises it randomly.

    MultiTalent on one-channel data: its own stem (``transfer:encoder``, the CT stem by convention). On
    multi-channel data: the first stem in ``checkpoint.stems`` (by name) with that many input channels, as
    the paper took another four-sequence MRI dataset's stem for Duke Breast MRI; ``random`` when none has.
    """
    if checkpoint.method.lower() not in MULTITALENT_METHODS:
        return "random"
    kind = str(checkpoint.encoder.get("kind"))
    if in_channels == 1 and _stem_in_channels(checkpoint.encoder_weights, kind) == 1:
        return f"transfer:{OWN_STEM}"
    for name in sorted(checkpoint.stems):
        if _stem_in_channels(checkpoint.stems[name], kind) == in_channels:
            return f"transfer:{name}"
    return "random"


def _stem_source(
    checkpoint: PretrainedCheckpoint, rule: str, name: str | None, kind: str, model_in: int, notes: list[str]
) -> dict[str, Any] | None:
    """Encoder-relative stem tensors to load (``None``: keep the initialisation)."""
    prefix = stem_prefix(kind)
    own = {k: v for k, v in checkpoint.encoder_weights.items() if k.startswith(prefix)}
    if rule == "random":
        return None
    if rule == "transfer":
        if name == OWN_STEM:
            return own
        if name not in checkpoint.stems:
            import difflib

            valid = [OWN_STEM, *sorted(checkpoint.stems)]
            close = [v for v in valid if name and (v.startswith(name) or name.startswith(v))]
            close += [c for c in difflib.get_close_matches(name or "", valid, n=3, cutoff=0.5) if c not in close]
            hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
            raise ValueError(f"the checkpoint has no stem {name!r}.{hint} Valid: {', '.join(valid)}")
        stem = dict(checkpoint.stems[name])
        outside = sorted(k for k in stem if not k.startswith(prefix))
        if outside:
            raise CheckpointError(f"stem {name!r} holds keys outside the stem ({outside[0]}, ...)")
        return stem
    # replicate (nnssl): repeat the single-channel input conv over the channels, divide by their count
    source_in = _stem_in_channels(own, kind)
    if source_in is None:
        raise CheckpointError("the checkpoint has no stem to replicate")
    if source_in == model_in:
        notes.append(f"stem replicate: the checkpoint's stem already has {model_in} input channel(s); copied")
        return own
    if source_in != 1:
        raise ValueError(f"replicate needs a single-channel stem; the checkpoint's has {source_in} channels")
    out = dict(own)
    for alias in ("conv.weight", "all_modules.0.weight"):
        key = prefix + alias
        if key in out:
            weight = out[key]
            out[key] = weight.repeat(1, model_in, *([1] * (weight.ndim - 2))) / model_in
    notes.append(f"stem replicate: the 1-channel stem repeated over {model_in} channels and divided by {model_in}")
    return out


# -- transfer ------------------------------------------------------------------------------------------
def transfer_weights(
    detector: Any, checkpoint: PretrainedCheckpoint, transfer: str = "encoder", stem: str = "random"
) -> TransferReport:
    """Copy the checkpoint's weights into ``detector`` (in place) and report every key.

    Only keys with equal shapes are copied; nothing else of the detector changes. The detector must expose
    ``.encoder`` (every detbench detector does).
    """
    import torch

    if transfer not in TRANSFER_MODES:
        raise ValueError(f"unknown transfer mode {transfer!r}; choose {' or '.join(TRANSFER_MODES)}")
    rule, name = parse_stem(stem)
    encoder = getattr(detector, "encoder", None)
    if encoder is None or not hasattr(encoder, "config"):
        raise ValueError(f"{type(detector).__name__} has no detbench encoder to transfer into")
    kind = encoder.config.kind
    notes: list[str] = []
    source_kind = str(checkpoint.encoder.get("kind"))
    if source_kind != kind:
        raise ValueError(f"the checkpoint holds a {source_kind!r} encoder; the detector has a {kind!r} encoder")
    prefix = stem_prefix(kind)
    source = {f"encoder.{k}": v for k, v in checkpoint.encoder_weights.items() if not k.startswith(prefix)}
    stem_weights = _stem_source(checkpoint, rule, name, kind, encoder.config.in_channels, notes)
    if stem_weights is not None:
        source.update({f"encoder.{k}": v for k, v in stem_weights.items()})
    if transfer == "all":
        source.update(checkpoint.decoder_weights)
        if not checkpoint.decoder_weights:
            notes.append("transfer=all: the checkpoint holds no decoder weights; only the encoder was transferred")

    model_state = detector.state_dict()
    stem_keys = {k for k in model_state if k.startswith("encoder." + prefix)}
    in_scope = {k for k in model_state if transfer == "all" or k.startswith("encoder.")}
    kept = sorted(stem_keys) if stem_weights is None else []
    report = TransferReport(
        architecture=type(detector).__name__,
        transfer=transfer,
        stem=stem,
        checkpoint={
            "method": checkpoint.method,
            "format": checkpoint.data.get("source", {}).get("format", "detbench"),
            "sha256": checkpoint.data.get("source", {}).get("sha256"),
            "encoder": dict(checkpoint.encoder),
        },
        kept_initialisation=kept,
        notes=notes,
    )
    with torch.no_grad():
        for key in sorted(in_scope):
            if key in kept:
                continue
            if key not in source:
                report.missing.append(key)
                continue
            value, target = source[key], model_state[key]
            if tuple(value.shape) != tuple(target.shape):
                report.mismatched.append(Mismatch(key, tuple(value.shape), tuple(target.shape)))
                continue
            target.copy_(value)
            report.transferred.append(key)
    report.unexpected = sorted(k for k in source if k not in in_scope)
    return report


def init_from_pretrained(
    detector: Any,
    checkpoint: PretrainedCheckpoint,
    transfer: str = "encoder",
    stem: str | None = None,
    out_dir: str | Path | None = None,
) -> TransferReport:
    """Transfer with the paper's default stem when ``stem`` is None; write ``transfer_report.json`` to
    ``out_dir``. ValueError when no tensor was transferred or an encoder tensor outside the stem was not
    (a detector that does not match the checkpoint must not train silently from scratch)."""
    from benchmark.core.atomic import atomic_write_json

    if stem is None:
        stem = default_stem(checkpoint, detector.encoder.config.in_channels)
    report = transfer_weights(detector, checkpoint, transfer, stem)
    prefix = "encoder." + stem_prefix(detector.encoder.config.kind)
    lost = [k for k in report.missing if k.startswith("encoder.") and not k.startswith(prefix)]
    lost += [m.key for m in report.mismatched if m.key.startswith("encoder.") and not m.key.startswith(prefix)]
    if out_dir is not None:
        atomic_write_json(Path(out_dir) / REPORT_FILE, report.to_json(), indent=2)
    if not report.transferred or lost:
        raise ValueError(
            f"the pre-trained weights do not fit the detector: {len(report.transferred)} tensors transferred, "
            f"{len(lost)} encoder tensors missing or of another shape (first: {lost[:1]})"
        )
    return report
