"""Importers: pre-trained weights from the ecosystem's formats, converted to a detbench checkpoint.

:func:`import_weights` detects the format of a file or folder and returns a :class:`PretrainedCheckpoint`
whose ``encoder`` config rebuilds the pre-trained encoder exactly and whose ``encoder_weights`` use
detbench's encoder keys (those of dynamic-network-architectures, see :mod:`models.encoders`):

``detbench``
    a file written by :func:`pretraining.checkpoint.save_checkpoint` (sha256 checked against its sidecar).
``nnssl``
    nnssl's ``save_checkpoint`` dict (``network_weights`` + ``nnssl_adaptation_plan``), or a released model
    folder (``checkpoint_final.pth`` beside ``adaptation_plan.json``). The architecture comes from the plan:
    the ``ResEncL`` preset (nnssl's ``get_res_enc_l``: features 32-320, blocks 1/3/4/6/6/6) or the
    dynamic ``ResidualEncoderUNet`` / ``PlainConvUNet`` kwargs. SparkMAE checkpoints also carry
    ``spark_weights`` (the sparse wrapper): not needed, ``network_weights`` holds the dense network.
``nnunetv2``
    an nnU-Net v2 ``checkpoint_final.pth`` (``network_weights``; the plans come from ``init_args`` or the
    ``plans.json`` of the trainer folder), or the trainer folder itself when it holds one fold.
``multitalent_v1``
    MultiTalent's nnU-Net v1 release (``model_final_checkpoint.model`` with ``state_dict``): ``Generic_UNet``
    names (``conv_blocks_context.N.blocks.M.conv/instnorm``) map to the plain encoder, the residual
    ``FabiansUNet`` names (``encoder.initial_conv``, ``encoder.stages.N.convs.M.conv1/norm1``) to ResEnc.
``state_dict``
    any other dict of tensors holding a network with dynamic-network-architectures encoder keys
    (``encoder.stem.`` / ``encoder.stages.``) or the encoder itself; the config is read from the shapes.

Every file goes through :func:`pretraining.checkpoint.safe_torch_load` (size cap, ``weights_only=True``):
a checkpoint that needs pickled objects is refused with a message and nothing of it runs. JSON side files
are read as JSON. What the file cannot say is stated, never guessed silently: the strides of a v1 or plain
state dict (not stored in the weights) are the paper's (1, 2, 2, 2, 2, 2) unless passed, and the note says so.

Sources: nnssl (MIC-DKFZ/nnssl: ``AdaptationPlan``, ``AbstractBaseTrainer.save_checkpoint``, ``SparkMAETrainer``),
nnU-Net v2 (``nnUNetTrainer.save_checkpoint``, ``ConfigurationManager``), MultiTalent / nnU-Net v1
(``generic_UNet.py``, ``generic_modular_residual_UNet.py``). See docs/pretraining.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from models.config import RESENC_L_BLOCKS, EncoderConfig
from pretraining.checkpoint import (
    FORMAT,
    CheckpointError,
    PretrainedCheckpoint,
    checkpoint_from_payload,
    safe_torch_load,
    sha256_of,
)

__all__ = [
    "FORMATS",
    "PAPER_STRIDES_NOTE",
    "canonical_aliases",
    "detect_format",
    "encoder_config_from_arch",
    "import_weights",
    "infer_encoder_config",
    "map_multitalent_v1",
    "resolve_source",
]

FORMATS = ("detbench", "nnssl", "nnunetv2", "multitalent_v1", "state_dict")
MAX_JSON_BYTES = 64 * 1024**2
DEFAULT_STRIDES = (1, 2, 2, 2, 2, 2, 2, 2, 2, 2)  # nnU-Net: full resolution first, then halve per stage
PAPER_STRIDES_NOTE = "strides are not stored in the weights; assumed 1 for the first stage and 2 for the others"

#: nnssl's ``ResEncL`` preset (``get_res_enc_l``), the fixed architecture of the study (appendix C.2, Table 5).
RESENC_L = EncoderConfig(kind="resenc", blocks=RESENC_L_BLOCKS)

_TRAINER_METHODS = (  # substring of an nnssl / nnU-Net trainer name -> detbench method id
    ("spark", "s3d"),
    ("voco", "voco"),
    ("genesis", "mg"),
    ("multitalent", "multitalent"),
    ("mae", "mae"),
)


# -- small helpers -----------------------------------------------------------------------------------
def _is_tensor(value: Any) -> bool:
    import torch

    return isinstance(value, torch.Tensor)


def _strip_wrappers(state: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the ``module.`` (DataParallel / DDP) and ``_orig_mod.`` (torch.compile) prefixes."""
    out = {}
    for key, value in state.items():
        k = str(key)
        for prefix in ("module.", "_orig_mod."):
            while k.startswith(prefix):
                k = k[len(prefix) :]
        out[k] = value
    return out


def _read_json(path: Path) -> dict[str, Any]:
    if path.stat().st_size > MAX_JSON_BYTES:
        raise CheckpointError(f"{path}: larger than {MAX_JSON_BYTES // 1024**2} MB, not a plans file")
    try:
        obj = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: not valid JSON ({err})") from None
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a JSON object")
    return obj


def _method_of(trainer_name: str | None, fallback: str) -> str:
    name = (trainer_name or "").lower()
    for needle, method in _TRAINER_METHODS:
        if needle in name:
            return method
    return fallback


def _isotropic(value: Any, what: str) -> int:
    """``3`` or ``[3, 3, 3]`` -> 3; anisotropic values are refused (detbench encoders are isotropic)."""
    if isinstance(value, int | float):
        return int(value)
    values = {int(v) for v in value}
    if len(values) != 1:
        raise CheckpointError(f"anisotropic {what} {list(value)} are not supported (detbench encoders are isotropic)")
    return values.pop()


def _plain_data(value: Any) -> Any:
    """JSON-compatible copy of plan data (tuples -> lists, numpy scalars -> numbers, devices -> str)."""
    if isinstance(value, Mapping):
        return {str(k): _plain_data(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_data(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item") and not _is_tensor(value):
        try:
            return value.item()
        except (TypeError, ValueError):
            pass
    return str(value)


# -- key canonicalisation ----------------------------------------------------------------------------
_UNIT_KEY = re.compile(r"^(?P<unit>.+)\.(?P<name>conv|norm|all_modules\.\d+)\.(?P<param>weight|bias)$")


def canonical_aliases(state: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Give every conv unit both alias names with the tensor the forward pass uses.

    dynamic-network-architectures registers a unit's conv and norm twice (``.conv`` / ``.all_modules.0``,
    ``.norm`` / ``.all_modules.1``) and runs ``all_modules`` in ``forward``. Normally both names hold the same
    tensor; in SparkMAE checkpoints they do not (nnssl's sparse conversion copies each name into its own
    module and only ``all_modules`` trains). The ``all_modules`` tensor wins; the notes count the differences.
    """
    units: dict[str, dict[str, dict[str, Any]]] = {}
    rest: dict[str, Any] = {}
    for key, value in state.items():
        match = _UNIT_KEY.match(key)
        if match is None or not _is_tensor(value):
            rest[key] = value
            continue
        units.setdefault(match["unit"], {}).setdefault(match["name"], {})[match["param"]] = value
    out = dict(rest)
    differing = 0
    for unit, parts in units.items():
        by_role: dict[str, dict[str, Any]] = {}
        for name, params in parts.items():
            if not name.startswith("all_modules."):
                continue
            weight = params.get("weight")
            role = "conv" if weight is not None and weight.ndim >= 3 else "norm"
            by_role[role] = params
        for role in ("conv", "norm"):
            named = parts.get(role)
            used = by_role.get(role, named)
            if used is None:
                continue
            if named is not None and by_role.get(role) is not None:
                import torch

                for p, tensor in named.items():
                    other = used.get(p)
                    if other is not None and (other.shape != tensor.shape or not torch.equal(other, tensor)):
                        differing += 1
            index = 0 if role == "conv" else 1
            for p, tensor in used.items():
                out[f"{unit}.{role}.{p}"] = tensor
                out[f"{unit}.all_modules.{index}.{p}"] = tensor
    notes = []
    if differing:
        notes.append(
            f"{differing} tensor(s) differed between a unit's '.conv'/'.norm' and '.all_modules' names (as in "
            "SparkMAE checkpoints); the '.all_modules' tensors, the ones the forward pass uses, were taken"
        )
    return out, notes


def _encoder_part(state: Mapping[str, Any], prefix: str = "encoder.") -> dict[str, Any]:
    """Keys under ``{prefix}stem.`` / ``{prefix}stages.`` with the prefix removed (a UNet's decoder and its
    ``decoder.encoder.*`` copy are ignored)."""
    out = {}
    for key, value in state.items():
        if key.startswith(prefix + "stem.") or key.startswith(prefix + "stages."):
            out[key[len(prefix) :]] = value
    return out


# -- encoder configs -----------------------------------------------------------------------------------
def _expected_shapes(config: EncoderConfig) -> dict[str, tuple[int, ...]]:
    """State-dict keys and shapes of the detbench encoder of ``config`` (built on the meta device: no memory)."""
    import torch

    from models.encoders import build_encoder

    with torch.device("meta"):
        encoder = build_encoder(config)
    return {k: tuple(v.shape) for k, v in encoder.state_dict().items()}


def _check_against(config: EncoderConfig, weights: Mapping[str, Any], where: str) -> None:
    """The weights must be exactly the encoder of ``config``: same keys, same shapes."""
    expected = _expected_shapes(config)
    got = {k: tuple(v.shape) for k, v in weights.items()}
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    wrong = sorted(k for k in set(expected) & set(got) if expected[k] != got[k])
    if missing or extra or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {missing[0]})")
        if extra:
            parts.append(f"{len(extra)} unexpected (e.g. {extra[0]})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of another shape (e.g. {k}: {got[k]} vs {expected[k]})")
        raise CheckpointError(
            f"{where}: the encoder weights do not match the encoder its plan describes "
            f"(kind={config.kind}, features={config.stage_features}, blocks={config.stage_blocks}, "
            f"kernel={config.kernel_size}, in_channels={config.in_channels}): {'; '.join(parts)}"
        )


def _indices(keys: Sequence[str], pattern: str) -> list[int]:
    rx = re.compile(pattern)
    return sorted({int(m.group(1)) for k in keys if (m := rx.match(k))})


def infer_encoder_config(
    weights: Mapping[str, Any],
    strides: Sequence[int] | None = None,
    norm_eps: float = 1e-5,
    negative_slope: float = 0.01,
) -> tuple[EncoderConfig, list[str]]:
    """The :class:`EncoderConfig` of detbench-keyed encoder weights, read from their keys and shapes.

    Features, blocks per stage, kernel size and input channels are in the shapes. Strides are not, except
    where a ResEnc block's skip path shows them (``skip.1`` = average pooling first = strided); the rest
    are 1 for the first stage and 2 afterwards unless ``strides`` is given, and the returned notes say so.
    """
    keys = list(weights)
    notes: list[str] = []
    if any(k.startswith("stem.") for k in keys):
        kind = "resenc"
        stages = _indices(keys, r"^stages\.(\d+)\.blocks\.")
        if "stem.convs.0.conv.weight" not in weights:
            raise CheckpointError("ResEnc weights without 'stem.convs.0.conv.weight'")
        in_channels = int(weights["stem.convs.0.conv.weight"].shape[1])
        features, blocks = [], []
        for s in stages:
            key = f"stages.{s}.blocks.0.conv1.conv.weight"
            if key not in weights:
                raise CheckpointError(f"ResEnc weights without {key!r}")
            features.append(int(weights[key].shape[0]))
            blocks.append(len(_indices(keys, rf"^stages\.{s}\.blocks\.(\d+)\.")))
    elif any(re.match(r"^stages\.\d+\.0\.convs\.", k) for k in keys):
        kind = "plain"
        stages = _indices(keys, r"^stages\.(\d+)\.0\.convs\.")
        in_channels = int(weights["stages.0.0.convs.0.conv.weight"].shape[1])
        features, blocks = [], []
        for s in stages:
            key = f"stages.{s}.0.convs.0.conv.weight"
            if key not in weights:
                raise CheckpointError(f"plain encoder weights without {key!r}")
            features.append(int(weights[key].shape[0]))
            blocks.append(len(_indices(keys, rf"^stages\.{s}\.0\.convs\.(\d+)\.")))
    else:
        raise CheckpointError("no encoder found: expected keys 'stem.*'/'stages.N.blocks.*' or 'stages.N.0.convs.*'")
    if stages != list(range(len(stages))):
        raise CheckpointError(f"encoder stages {stages} are not numbered 0..{len(stages) - 1}")
    kernels = {
        tuple(int(d) for d in v.shape[2:])
        for k, v in weights.items()
        if k.endswith("conv.weight") and ".skip." not in k and v.ndim == 5
    }
    cubic = {k[0] for k in kernels if len(set(k)) == 1}
    if len(kernels) != 1 or len(cubic) != 1:
        raise CheckpointError(f"kernel sizes {sorted(kernels)} are not one isotropic size (detbench needs one)")
    if strides is not None:
        strides = tuple(int(s) for s in strides)
        if len(strides) != len(stages):
            raise CheckpointError(f"{len(strides)} strides given for {len(stages)} encoder stages")
    else:
        inferred = list(DEFAULT_STRIDES[: len(stages)])
        shown = []
        for s in range(len(stages)):
            if kind == "resenc" and any(k.startswith(f"stages.{s}.blocks.0.skip.1.") for k in keys):
                shown.append(s)
            elif kind == "resenc" and any(k.startswith(f"stages.{s}.blocks.0.skip.0.") for k in keys):
                inferred[s] = 1
                shown.append(s)
        if len(shown) < len(stages):
            notes.append(f"{PAPER_STRIDES_NOTE}: {tuple(inferred)}")
        strides = tuple(inferred)
    config = EncoderConfig(
        kind=kind,
        in_channels=in_channels,
        features=tuple(features),
        strides=strides,
        blocks=tuple(blocks),
        kernel_size=cubic.pop(),
        norm_eps=norm_eps,
        negative_slope=negative_slope,
    )
    return config, notes


def encoder_config_from_arch(class_name: str, kwargs: Mapping[str, Any] | None, in_channels: int) -> EncoderConfig:
    """The encoder of an nnssl architecture plan / nnU-Net v2 ``architecture`` entry.

    ``class_name`` is ``ResEncL`` (nnssl's preset, no kwargs) or a dynamic-network-architectures class
    (``ResidualEncoderUNet``, ``PlainConvUNet``, dotted or not) with its constructor kwargs.
    """
    name = str(class_name).rsplit(".", 1)[-1]
    if name == "ResEncL":
        return EncoderConfig(**{**_config_fields(RESENC_L), "in_channels": in_channels})
    if name.startswith("Primus") or name.lower().startswith("eva"):
        raise CheckpointError(f"{class_name} is a transformer encoder; detbench's detectors take CNN encoders only")
    if name == "ResidualEncoderUNet":
        kind, blocks_key = "resenc", "n_blocks_per_stage"
    elif name == "PlainConvUNet":
        kind, blocks_key = "plain", "n_conv_per_stage"
    else:
        raise CheckpointError(
            f"architecture {class_name!r} is not supported; detbench imports ResEncL, ResidualEncoderUNet and "
            "PlainConvUNet encoders"
        )
    if not kwargs:
        raise CheckpointError(f"the plan names {class_name} but gives no architecture kwargs")
    kw = dict(kwargs)
    n = int(kw.get("n_stages", len(kw["features_per_stage"])))
    features = [int(f) for f in kw["features_per_stage"]]
    if len(features) != n:
        raise CheckpointError(f"features_per_stage has {len(features)} entries for n_stages={n}")

    def per_stage(value: Any, what: str) -> list[Any]:
        if isinstance(value, list | tuple) and value and isinstance(value[0], list | tuple):
            return list(value)
        if isinstance(value, list | tuple) and len(value) == n and what != "kernel":
            return list(value)
        return [value] * n

    strides = [_isotropic(s, "strides") for s in per_stage(kw["strides"], "strides")]
    kernels = {_isotropic(k, "kernel sizes") for k in per_stage(kw["kernel_sizes"], "kernel")}
    if len(kernels) != 1:
        raise CheckpointError(f"kernel sizes {sorted(kernels)} differ between stages (detbench needs one size)")
    blocks_value = kw.get(blocks_key, kw.get("n_blocks_per_stage", kw.get("n_conv_per_stage")))
    if blocks_value is None:
        raise CheckpointError(f"the plan gives no {blocks_key}")
    blocks = [int(b) for b in (blocks_value if isinstance(blocks_value, list | tuple) else [blocks_value] * n)]
    norm = str(kw.get("norm_op") or "")
    if norm and "InstanceNorm" not in norm:
        raise CheckpointError(f"norm_op {norm} is not supported (detbench encoders use InstanceNorm)")
    nonlin = str(kw.get("nonlin") or "torch.nn.LeakyReLU")
    nonlin_kwargs = dict(kw.get("nonlin_kwargs") or {})
    if nonlin.endswith("LeakyReLU"):
        slope = float(nonlin_kwargs.get("negative_slope", 0.01))
    elif nonlin.endswith(".ReLU") or nonlin == "ReLU":
        slope = 0.0
    else:
        raise CheckpointError(f"nonlin {nonlin} is not supported (detbench encoders use LeakyReLU)")
    if kw.get("conv_bias") is False:
        raise CheckpointError("conv_bias=False is not supported (detbench's convolutions have biases)")
    return EncoderConfig(
        kind=kind,
        in_channels=in_channels,
        features=tuple(features),
        strides=tuple(strides),
        blocks=tuple(blocks),
        kernel_size=kernels.pop(),
        norm_eps=float(dict(kw.get("norm_op_kwargs") or {}).get("eps", 1e-5)),
        negative_slope=slope,
    )


def _config_fields(config: EncoderConfig) -> dict[str, Any]:
    return asdict(config)


def _input_channels(encoder: Mapping[str, Any], where: object) -> int:
    """Input channels of detbench-keyed encoder weights (the first convolution's second dimension)."""
    for key in ("stem.convs.0.conv.weight", "stem.convs.0.all_modules.0.weight", "stages.0.0.convs.0.conv.weight"):
        if key in encoder:
            return int(encoder[key].shape[1])
    raise CheckpointError(f"{where}: no input convolution (stem.convs.0 / stages.0.0.convs.0) in the encoder weights")


# -- MultiTalent / nnU-Net v1 ------------------------------------------------------------------------
_V1_PLAIN = re.compile(r"^conv_blocks_context\.(\d+)\.(?:(\d+)\.)?blocks\.(\d+)\.(conv|instnorm)\.(weight|bias)$")
_V1_RES = re.compile(
    r"^encoder\.(?:(initial_conv|initial_norm)|stages\.(\d+)\.convs\.(\d+)\."
    r"(conv1|norm1|conv2|norm2|downsample_skip\.\d+))\.(weight|bias)$"
)


def _is_v1(state: Mapping[str, Any]) -> bool:
    return any(k.startswith("conv_blocks_context.") or k.startswith("encoder.initial_conv.") for k in state)


def map_multitalent_v1(
    state: Mapping[str, Any], strides: Sequence[int] | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """nnU-Net v1 encoder names -> detbench encoder keys; returns ``(weights, dropped keys, notes)``.

    ``Generic_UNet``: ``conv_blocks_context.d.blocks.m.{conv,instnorm}`` is conv unit ``m`` of stage ``d``;
    the bottleneck ``conv_blocks_context.D`` is two stacks (``D.0.blocks.m`` then ``D.1.blocks.0``).
    ``FabiansUNet``: ``encoder.initial_conv/initial_norm`` is the stem, ``encoder.stages.s.convs.b.conv1/norm1/
    conv2/norm2`` a residual block; its skip projection (``downsample_skip``: 1x1 conv + norm) becomes the
    block's skip conv unit (after the average pooling of a strided stage). v1 skips are strided 1x1 convs
    where dynamic-network-architectures pools first, and a strided stage keeping its width has a v1 skip conv
    but none in ResEnc: such tensors are dropped and listed. Decoder keys are ignored.
    """
    notes: list[str] = []
    dropped: list[str] = []
    out: dict[str, Any] = {}
    if any(k.startswith("conv_blocks_context.") for k in state):
        plain: dict[tuple[int, int, int], dict[str, dict[str, Any]]] = {}
        for key, value in state.items():
            m = _V1_PLAIN.match(key)
            if m is None:
                if key.startswith("conv_blocks_context."):
                    dropped.append(key)
                continue
            d, sub, unit, layer, param = int(m[1]), m[2], int(m[3]), m[4], m[5]
            plain.setdefault((d, int(sub) if sub is not None else -1, unit), {}).setdefault(layer, {})[param] = value
        for d in sorted({d for d, _, _ in plain}):
            units = sorted((sub, unit) for dd, sub, unit in plain if dd == d)
            # a plain stack lists its units directly; the bottleneck is stack 0 then stack 1
            for m_index, (sub, unit) in enumerate(units):
                layers = plain[(d, sub, unit)]
                for layer, role, index in (("conv", "conv", 0), ("instnorm", "norm", 1)):
                    for param, tensor in layers.get(layer, {}).items():
                        out[f"stages.{d}.0.convs.{m_index}.{role}.{param}"] = tensor
                        out[f"stages.{d}.0.convs.{m_index}.all_modules.{index}.{param}"] = tensor
        return out, dropped, notes
    # residual FabiansUNet
    blocks: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
    for key, value in state.items():
        m = _V1_RES.match(key)
        if m is None:
            if key.startswith("encoder."):
                dropped.append(key)
            continue
        stem_layer, param = m[1], m[5]
        if stem_layer is not None:
            role, index = ("conv", 0) if stem_layer == "initial_conv" else ("norm", 1)
            out[f"stem.convs.0.{role}.{param}"] = value
            out[f"stem.convs.0.all_modules.{index}.{param}"] = value
            continue
        blocks.setdefault((int(m[2]), int(m[3])), {}).setdefault(m[4], {})[param] = value
    n_stages = 1 + max((s for s, _ in blocks), default=-1)
    strides = tuple(strides) if strides is not None else DEFAULT_STRIDES[:n_stages]
    for (s, b), layers in sorted(blocks.items()):
        for layer in ("conv1", "conv2"):
            unit = f"stages.{s}.blocks.{b}.{layer}"
            norm = layers.get("norm" + layer[-1], {})
            for role, index, params in (("conv", 0, layers.get(layer, {})), ("norm", 1, norm)):
                for param, tensor in params.items():
                    out[f"{unit}.{role}.{param}"] = tensor
                    out[f"{unit}.all_modules.{index}.{param}"] = tensor
        skip = {name: params for name, params in layers.items() if name.startswith("downsample_skip.")}
        if not skip:
            continue
        conv1 = layers.get("conv1", {}).get("weight")
        # a ResEnc block projects its skip only when it changes the channel count
        projects = conv1 is not None and b == 0 and int(conv1.shape[0]) != int(conv1.shape[1])
        if not projects:
            dropped += [f"encoder.stages.{s}.convs.{b}.{name}.{p}" for name, params in skip.items() for p in params]
            continue
        slot = 1 if strides[s] != 1 else 0
        for params in skip.values():
            weight = params.get("weight")
            role, index = ("conv", 0) if weight is not None and weight.ndim >= 3 else ("norm", 1)
            for param, tensor in params.items():
                out[f"stages.{s}.blocks.{b}.skip.{slot}.{role}.{param}"] = tensor
                out[f"stages.{s}.blocks.{b}.skip.{slot}.all_modules.{index}.{param}"] = tensor
    if dropped:
        notes.append(
            f"{len(dropped)} v1 encoder tensor(s) have no counterpart in the ResEnc encoder and were dropped "
            "(v1 residual stages that keep their width project the skip with a strided 1x1 conv)"
        )
    return out, dropped, notes


# -- sources -------------------------------------------------------------------------------------------
def resolve_source(path: Path) -> tuple[Path, dict[str, Path]]:
    """The checkpoint file of ``path`` (a file or a model folder) and the side files that describe it."""
    side: dict[str, Path] = {}
    if path.is_dir():
        candidates = [
            path / "checkpoint_final.pth",
            path / "model_final_checkpoint.model",
            path / "checkpoint_best.pth",
            path / "model_best.model",
        ]
        found = [c for c in candidates if c.is_file()]
        if not found:
            folds = sorted(p for p in path.glob("fold_*/checkpoint_final.pth") if p.is_file())
            if len(folds) == 1:
                found = folds
            elif len(folds) > 1:
                names = ", ".join(str(f.relative_to(path)) for f in folds)
                raise CheckpointError(f"{path} holds several folds ({names}); pass one checkpoint file")
        if not found:
            weights = sorted(p for p in path.iterdir() if p.suffix in (".pt", ".pth", ".model") and p.is_file())
            if len(weights) != 1:
                raise CheckpointError(
                    f"{path}: no checkpoint found (expected checkpoint_final.pth, model_final_checkpoint.model, "
                    "fold_N/checkpoint_final.pth or a single .pt/.pth file)"
                )
            found = weights
        file = found[0]
    elif path.is_file():
        file = path
    else:
        raise FileNotFoundError(f"no pre-trained weights at {path}")
    for name in ("adaptation_plan.json", "plans.json", "dataset.json"):
        for folder in (file.parent, file.parent.parent):
            if (folder / name).is_file():
                side[name] = folder / name
                break
    return file, side


def detect_format(payload: Any, side: Mapping[str, Path] | None = None) -> str:
    """The format of a loaded checkpoint (one of :data:`FORMATS`); CheckpointError when none fits."""
    side = side or {}
    if not isinstance(payload, Mapping):
        raise CheckpointError(f"expected a dict of weights, got {type(payload).__name__}")
    if payload.get("format") == FORMAT:
        return "detbench"
    if isinstance(payload.get("network_weights"), Mapping):
        if isinstance(payload.get("nnssl_adaptation_plan"), Mapping) or "adaptation_plan.json" in side:
            return "nnssl"
        init = payload.get("init_args")
        if (isinstance(init, Mapping) and isinstance(init.get("plans"), Mapping)) or "plans.json" in side:
            return "nnunetv2"
        return "state_dict"
    state = payload.get("state_dict")
    if isinstance(state, Mapping) and _is_v1(_strip_wrappers(state)):
        return "multitalent_v1"
    if _is_v1(_strip_wrappers(payload)):
        return "multitalent_v1"
    for key in ("state_dict", "model"):
        if isinstance(payload.get(key), Mapping):
            return "state_dict"
    if payload and all(_is_tensor(v) for v in payload.values()):
        return "state_dict"
    raise CheckpointError(
        "unrecognised checkpoint: not detbench, nnssl (network_weights + nnssl_adaptation_plan), nnU-Net v2 "
        "(network_weights + plans), MultiTalent v1 (state_dict) or a plain state dict"
    )


def import_weights(
    path: str | Path, fmt: str = "auto", strides: Sequence[int] | None = None, verify: bool = True
) -> PretrainedCheckpoint:
    """Read pre-trained weights in any supported format (see the module docstring) as a detbench checkpoint.

    ``fmt`` forces a format (``auto`` detects it); ``strides`` overrides the strides of formats that do not
    store them (MultiTalent v1, plain state dicts). The result's ``data["source"]`` says where the weights
    came from (format, file, sha256, trainer, dropped tensors, notes) and ``code["imported_by"]`` which
    detbench converted them. CheckpointError for anything that cannot be read safely or exactly.
    """
    if fmt != "auto" and fmt not in FORMATS:
        raise ValueError(f"unknown weights format {fmt!r}; choose auto or one of {', '.join(FORMATS)}")
    file, side = resolve_source(Path(path))
    payload = safe_torch_load(file)
    detected = detect_format(payload, side)
    if fmt != "auto" and fmt != detected:
        raise CheckpointError(f"{file}: looks like {detected!r}, not {fmt!r}")
    if detected == "detbench":
        return checkpoint_from_payload(payload, file, verify)
    importer = {
        "nnssl": _import_nnssl,
        "nnunetv2": _import_nnunetv2,
        "multitalent_v1": _import_multitalent_v1,
        "state_dict": _import_state_dict,
    }[detected]
    checkpoint = importer(payload, file, side, strides)
    from benchmark import __version__

    source = checkpoint.data.setdefault("source", {})
    source.update({"format": detected, "path": str(Path(path)), "file": file.name, "sha256": sha256_of(file)})
    checkpoint.code.setdefault("imported_by", f"detbench {__version__}")
    return checkpoint


def _finish(
    weights: dict[str, Any], config: EncoderConfig, where: str, notes: list[str]
) -> tuple[dict[str, Any], list[str]]:
    weights, alias_notes = canonical_aliases(weights)
    _check_against(config, weights, where)
    return weights, notes + alias_notes


def _import_nnssl(
    payload: Mapping[str, Any], file: Path, side: Mapping[str, Path], strides: Sequence[int] | None
) -> PretrainedCheckpoint:
    plan = payload.get("nnssl_adaptation_plan")
    if not isinstance(plan, Mapping):
        plan = _read_json(side["adaptation_plan.json"])
    plan = _plain_data(plan)
    arch = plan.get("architecture_plans") or {}
    in_channels = int(plan.get("pretrain_num_input_channels", 1))
    key_to_encoder = str(plan.get("key_to_encoder", "encoder.stages"))
    key_to_stem = str(plan.get("key_to_stem", "encoder.stem"))
    if not key_to_encoder.startswith("encoder.") or not key_to_stem.startswith("encoder."):
        raise CheckpointError(
            f"{file}: encoder at {key_to_encoder!r}, stem at {key_to_stem!r}: not a dynamic-network-architectures "
            "CNN encoder (a Primus transformer?); detbench's detectors take CNN encoders only"
        )
    config = encoder_config_from_arch(str(arch.get("arch_class_name", "")), arch.get("arch_kwargs"), in_channels)
    network = _strip_wrappers(payload["network_weights"])
    weights, notes = _finish(_encoder_part(network), config, str(file), [])
    if "spark_weights" in payload:
        notes.append("spark_weights (SparkMAE's sparse wrapper) ignored: network_weights holds the dense network")
    trainer = payload.get("trainer_name") or plan.get("trainer_name")
    pretrain = plan.get("pretrain_plan") or {}
    configurations = pretrain.get("configurations") or {}
    conf_name, conf = next(iter(configurations.items()), (None, {}))
    return PretrainedCheckpoint(
        method=_method_of(trainer, "nnssl"),
        encoder=_config_fields(config),
        encoder_weights=weights,
        data={
            "dataset": pretrain.get("dataset_name"),
            "source": {"trainer": trainer, "architecture": arch.get("arch_class_name"), "notes": notes},
        },
        preprocessing={
            "configuration": conf_name,
            "spacing": conf.get("spacing"),
            "spacing_style": conf.get("spacing_style"),
            "patch_size": plan.get("pretrain_patch_size", conf.get("patch_size")),
            "normalization": conf.get("normalization_schemes"),
            "recommended_downstream_patch_size": plan.get("recommended_downstream_patchsize"),
        },
        training={"trainer": trainer, "epochs": _plain_data(payload.get("current_epoch"))},
        code={"framework": "nnssl"},
    )


def _nnunet_configuration(plans: Mapping[str, Any], name: str) -> dict[str, Any]:
    configurations = plans.get("configurations") or {}
    if name not in configurations:
        raise CheckpointError(f"the plans have no configuration {name!r} (have: {', '.join(configurations)})")
    conf = dict(configurations[name])
    seen = {name}
    while "inherits_from" in conf:
        parent = conf.pop("inherits_from")
        if parent in seen or parent not in configurations:
            raise CheckpointError(f"configuration {name!r} inherits from unknown or cyclic {parent!r}")
        seen.add(parent)
        conf = {**configurations[parent], **conf}
    return conf


def _nnunet_architecture(conf: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """``(class name, kwargs)`` of an nnU-Net v2 configuration, new (``architecture``) or old (UNet_*) plans."""
    if isinstance(conf.get("architecture"), Mapping):
        arch = conf["architecture"]
        return str(arch["network_class_name"]), dict(arch.get("arch_kwargs") or {})
    if "UNet_class_name" not in conf:
        raise CheckpointError("the nnU-Net configuration has neither 'architecture' nor 'UNet_class_name'")
    n = len(conf["n_conv_per_stage_encoder"])
    base, cap = int(conf["UNet_base_num_features"]), int(conf["unet_max_num_features"])
    blocks_key = "n_conv_per_stage" if conf["UNet_class_name"] == "PlainConvUNet" else "n_blocks_per_stage"
    return str(conf["UNet_class_name"]), {
        "n_stages": n,
        "features_per_stage": [min(base * 2**i, cap) for i in range(n)],
        "kernel_sizes": conf["conv_kernel_sizes"],
        "strides": conf["pool_op_kernel_sizes"],
        blocks_key: conf["n_conv_per_stage_encoder"],
        "norm_op": "torch.nn.InstanceNorm3d",
        "nonlin": "torch.nn.LeakyReLU",
    }


def _import_nnunetv2(
    payload: Mapping[str, Any], file: Path, side: Mapping[str, Path], strides: Sequence[int] | None
) -> PretrainedCheckpoint:
    init = payload.get("init_args") if isinstance(payload.get("init_args"), Mapping) else {}
    plans = init.get("plans") if isinstance(init.get("plans"), Mapping) else _read_json(side["plans.json"])
    plans = _plain_data(plans)
    configuration = init.get("configuration")
    if not configuration:  # trainer folders are named Trainer__Plans__Configuration
        parts = next((p.name.split("__") for p in (file.parent, file.parent.parent) if p.name.count("__") == 2), None)
        configuration = parts[2] if parts else "3d_fullres"
    conf = _nnunet_configuration(plans, str(configuration))
    class_name, kwargs = _nnunet_architecture(conf)
    dataset_json = init.get("dataset_json")
    if not isinstance(dataset_json, Mapping) and "dataset.json" in side:
        dataset_json = _read_json(side["dataset.json"])
    channels = (dataset_json or {}).get("channel_names") or (dataset_json or {}).get("modality")
    encoder = _encoder_part(_strip_wrappers(payload["network_weights"]))
    config = encoder_config_from_arch(class_name, kwargs, _input_channels(encoder, file))
    weights, notes = _finish(encoder, config, str(file), [])
    trainer = payload.get("trainer_name")
    return PretrainedCheckpoint(
        method=_method_of(trainer, "supervised"),
        encoder=_config_fields(config),
        encoder_weights=weights,
        data={
            "dataset": plans.get("dataset_name"),
            "channels": _plain_data(channels),
            "source": {"trainer": trainer, "architecture": class_name, "notes": notes},
        },
        preprocessing={
            "configuration": configuration,
            "spacing": conf.get("spacing"),
            "patch_size": conf.get("patch_size"),
            "normalization": conf.get("normalization_schemes"),
        },
        training={"trainer": trainer, "epochs": _plain_data(payload.get("current_epoch")), "fold": init.get("fold")},
        code={"framework": "nnU-Net v2"},
    )


def _import_multitalent_v1(
    payload: Mapping[str, Any], file: Path, side: Mapping[str, Path], strides: Sequence[int] | None
) -> PretrainedCheckpoint:
    state = payload.get("state_dict") if isinstance(payload.get("state_dict"), Mapping) else payload
    mapped, dropped, notes = map_multitalent_v1(_strip_wrappers(state), strides)
    if not mapped:
        raise CheckpointError(f"{file}: no nnU-Net v1 encoder tensors found")
    n_stages = 1 + max(int(k.split(".")[1]) for k in mapped if k.startswith("stages."))
    if strides is None:
        strides = DEFAULT_STRIDES[:n_stages]
        notes.insert(0, f"{PAPER_STRIDES_NOTE}: {tuple(strides)}")
    config, _ = infer_encoder_config(mapped, strides=strides)
    weights, notes = _finish(mapped, config, str(file), notes)
    return PretrainedCheckpoint(
        method="multitalent",
        encoder=_config_fields(config),
        encoder_weights=weights,
        data={"source": {"architecture": "nnU-Net v1 " + config.kind, "dropped": dropped, "notes": notes}},
        training={"epochs": _plain_data(payload.get("epoch"))},
        code={"framework": "nnU-Net v1 (MultiTalent)"},
    )


def _import_state_dict(
    payload: Mapping[str, Any], file: Path, side: Mapping[str, Path], strides: Sequence[int] | None
) -> PretrainedCheckpoint:
    state: Mapping[str, Any] = payload
    for key in ("network_weights", "state_dict", "model"):
        if isinstance(payload.get(key), Mapping):
            state = payload[key]
            break
    state = _strip_wrappers(state)
    encoder = _encoder_part(state)
    if not encoder and any(k.startswith("stem.") or k.startswith("stages.") for k in state):
        encoder = {k: v for k, v in state.items() if k.startswith("stem.") or k.startswith("stages.")}
    if not encoder:
        raise CheckpointError(f"{file}: no encoder keys (encoder.stem.* / encoder.stages.*) in the state dict")
    encoder, alias_notes = canonical_aliases(encoder)
    config, notes = infer_encoder_config(encoder, strides=strides)
    weights, notes = _finish(encoder, config, str(file), notes + alias_notes)
    return PretrainedCheckpoint(
        method="unknown",
        encoder=_config_fields(config),
        encoder_weights=weights,
        data={"source": {"notes": notes}},
        code={"framework": "unknown"},
    )
