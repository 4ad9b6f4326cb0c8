"""Plain and residual (ResEnc-L) 3D encoders whose state-dict keys equal dynamic-network-architectures'.

The module names and nesting reproduce ``PlainConvEncoder`` / ``ResidualEncoder`` of
dynamic-network-architectures (the library nnU-Net, nnssl and MultiTalent build their networks with), so
their encoder weights load without renaming: ``stages.N.0.convs.M.{conv,norm,all_modules.K}`` for the plain
encoder and ``stem.convs.0.*``, ``stages.N.blocks.M.{conv1,conv2,skip.K}.*`` for ResEnc. Each conv unit
registers its layers twice (by name and in ``all_modules``), as the library does, so a state dict lists
shared tensors under both names. The library itself is not needed at run time (it pulls timm).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from models.config import EncoderConfig, Triple, as_triple

_CL3D = torch.channels_last_3d

__all__ = [
    "ConvNormAct",
    "ConvStack",
    "PlainEncoder",
    "ResidualBlock",
    "ResidualEncoder",
    "ResidualStage",
    "build_encoder",
    "extract_encoder_state_dict",
]


class ConvNormAct(nn.Module):
    """Conv3d -> InstanceNorm3d -> optional LeakyReLU; key-compatible with ``ConvDropoutNormReLU``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Triple,
        stride: int | Triple = 1,
        bias: bool = True,
        activation: bool = True,
        eps: float = 1e-5,
        negative_slope: float = 0.01,
    ) -> None:
        super().__init__()
        k, st = as_triple(kernel_size, "kernel_size"), as_triple(stride, "stride")
        padding = tuple(v // 2 for v in k)
        self.conv = nn.Conv3d(in_channels, out_channels, k, st, padding=padding, bias=bias)
        self.norm = nn.InstanceNorm3d(out_channels, eps=eps, affine=True)
        layers: list[nn.Module] = [self.conv, self.norm]
        if activation:
            self.nonlin = nn.LeakyReLU(negative_slope, inplace=True)
            layers.append(self.nonlin)
        self.all_modules = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """``all_modules`` in order; on a channels-last-3d network the norm's output is made channels-last again.

        ``InstanceNorm3d`` returns a contiguous tensor whatever its input's layout. Converting it back before
        the (in-place) activation gives the next convolution the layout it would convert to anyway, but the
        convolution then also saves that tensor for its backward pass (which otherwise converts the saved
        contiguous input a second time), and the in-place activation no longer acts on a view of the norm's
        output (which made autograd copy the whole gradient). Same values, same kernels: bitwise the same.
        """
        layers = self.all_modules
        y = layers[0](x)
        channels_last = y.dim() == 5 and not y.is_contiguous() and y.is_contiguous(memory_format=_CL3D)
        y = layers[1](y)
        if channels_last:
            y = y.contiguous(memory_format=_CL3D)
        return layers[2](y) if len(layers) > 2 else y


class ConvStack(nn.Module):
    """``n`` ConvNormAct units, the first one strided; key-compatible with ``StackedConvBlocks``."""

    def __init__(
        self, in_channels: int, out_channels: int, n: int, kernel_size: int | Triple, stride: int | Triple, **kw
    ) -> None:
        super().__init__()
        units = [ConvNormAct(in_channels, out_channels, kernel_size, stride, **kw)]
        units += [ConvNormAct(out_channels, out_channels, kernel_size, 1, **kw) for _ in range(n - 1)]
        self.convs = nn.Sequential(*units)

    def forward(self, x: Tensor) -> Tensor:
        return self.convs(x)


class ResidualBlock(nn.Module):
    """ResNet-D basic block (avg-pool + 1x1x1 conv skip); key-compatible with ``BasicBlockD``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | Triple,
        stride: int | Triple,
        eps: float,
        negative_slope: float,
    ) -> None:
        super().__init__()
        kw = {"eps": eps, "negative_slope": negative_slope}
        self.conv1 = ConvNormAct(in_channels, out_channels, kernel_size, stride, **kw)
        self.conv2 = ConvNormAct(out_channels, out_channels, kernel_size, 1, activation=False, **kw)
        self.nonlin2 = nn.LeakyReLU(negative_slope, inplace=True)
        skip: list[nn.Module] = []
        if as_triple(stride) != (1, 1, 1):
            skip.append(nn.AvgPool3d(as_triple(stride), as_triple(stride)))
        if in_channels != out_channels:
            skip.append(ConvNormAct(in_channels, out_channels, 1, 1, bias=False, activation=False, **kw))
        self.skip = nn.Sequential(*skip) if skip else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlin2(self.conv2(self.conv1(x)) + self.skip(x))


class ResidualStage(nn.Module):
    """``n`` residual blocks, the first one strided; key-compatible with ``StackedResidualBlocks``."""

    def __init__(
        self, in_channels: int, out_channels: int, n: int, kernel_size: int | Triple, stride: int | Triple, **kw
    ) -> None:
        super().__init__()
        blocks = [ResidualBlock(in_channels, out_channels, kernel_size, stride, **kw)]
        blocks += [ResidualBlock(out_channels, out_channels, kernel_size, 1, **kw) for _ in range(n - 1)]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.blocks(x)


class _Encoder(nn.Module):
    """Shared behaviour: ``forward`` returns every stage's output, finest first."""

    config: EncoderConfig

    @property
    def output_channels(self) -> tuple[int, ...]:
        return self.config.stage_features

    @property
    def output_strides(self) -> tuple[Triple, ...]:
        """Downsampling ``(z, y, x)`` of every stage's output."""
        return self.config.cumulative_strides_3d


class PlainEncoder(_Encoder):
    """nnDetection / nnU-Net plain encoder: per stage ``blocks[i]`` ConvNormAct units, the first strided."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.kind != "plain":
            raise ValueError(f"PlainEncoder needs kind='plain', got {config.kind!r}")
        self.config = config
        kw = {"eps": config.norm_eps, "negative_slope": config.negative_slope}
        stages, prev = [], config.in_channels
        per_stage = zip(
            config.stage_features, config.stage_strides, config.stage_blocks, config.stage_kernel_sizes, strict=True
        )
        for feat, stride, n, kernel in per_stage:
            # the library wraps each stage's StackedConvBlocks in a Sequential (hence ``stages.N.0``)
            stages.append(nn.Sequential(ConvStack(prev, feat, n, kernel, stride, **kw)))
            prev = feat
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


class ResidualEncoder(_Encoder):
    """nnU-Net ResEnc encoder: a one-conv stem, then ``blocks[i]`` residual blocks per stage."""

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        if config.kind != "resenc":
            raise ValueError(f"ResidualEncoder needs kind='resenc', got {config.kind!r}")
        self.config = config
        kw = {"eps": config.norm_eps, "negative_slope": config.negative_slope}
        feats = config.stage_features
        kernels = config.stage_kernel_sizes
        self.stem = ConvStack(config.in_channels, feats[0], 1, kernels[0], 1, **kw)
        stages, prev = [], feats[0]
        for feat, stride, n, kernel in zip(feats, config.stage_strides, config.stage_blocks, kernels, strict=True):
            stages.append(ResidualStage(prev, feat, n, kernel, stride, **kw))
            prev = feat
        self.stages = nn.Sequential(*stages)

    def forward(self, x: Tensor) -> list[Tensor]:
        x = self.stem(x)
        outputs = []
        for stage in self.stages:
            x = stage(x)
            outputs.append(x)
        return outputs


def build_encoder(config: EncoderConfig) -> PlainEncoder | ResidualEncoder:
    """Build the encoder named by ``config.kind``."""
    return PlainEncoder(config) if config.kind == "plain" else ResidualEncoder(config)


def extract_encoder_state_dict(state_dict: Mapping[str, Tensor], prefix: str = "encoder.") -> dict[str, Tensor]:
    """Encoder weights of a full network / checkpoint state dict, with ``prefix`` removed.

    Accepts a raw state dict, an nnssl checkpoint (``network_weights``) or an nnU-Net checkpoint
    (``network_weights`` / ``state_dict``). Only keys under ``{prefix}stem.`` and ``{prefix}stages.`` are
    kept, so a UNet's ``decoder.encoder.*`` copy and the decoder are ignored.
    """
    for key in ("network_weights", "state_dict"):
        if key in state_dict and isinstance(state_dict[key], Mapping):
            state_dict = state_dict[key]  # type: ignore[assignment]
            break
    out = {}
    for k, v in state_dict.items():
        if k.startswith(prefix + "stem.") or k.startswith(prefix + "stages."):
            out[k[len(prefix) :]] = v
    if not out:
        raise ValueError(f"no encoder keys under {prefix!r}stem. / {prefix!r}stages. in the state dict")
    return out


def load_encoder_weights(encoder: nn.Module, state_dict: Mapping[str, Tensor], prefix: str = "encoder.") -> None:
    """Load encoder weights from a dynamic-network-architectures network state dict (strict)."""
    weights = extract_encoder_state_dict(state_dict, prefix)
    with torch.no_grad():
        encoder.load_state_dict(weights, strict=True)
