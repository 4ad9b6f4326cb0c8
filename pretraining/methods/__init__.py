"""Pre-training methods: one module each, all behind one interface and one registry.

A method is an ``nn.Module`` around one encoder of :mod:`models.encoders` (built from an
:class:`models.config.EncoderConfig`, so its state dict is exactly what transfers into a detector) plus
whatever decoder or heads its objective needs. The pre-training trainer (:mod:`pretraining.trainer`) only
ever calls :meth:`PretrainingMethod.loss` on a :class:`PretrainBatch` and saves
:meth:`PretrainingMethod.encoder_state_dict` (with :meth:`PretrainingMethod.stem_weights` and
:meth:`PretrainingMethod.decoder_state_dict`) into a detbench checkpoint (:mod:`pretraining.checkpoint`:
``encoder_weights``, ``stems``, ``decoder_weights``). Batches come from a :class:`pretraining.sources.PatchSource`.

Method modules register a :class:`MethodSpec` in :data:`METHODS` at import; :func:`load_methods` imports
them all (kept lazy so ``benchmark --help`` does not import torch-heavy code).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor, nn

from benchmark.core.registry import Registry
from models.config import EncoderConfig, Triple
from models.encoders import build_encoder

#: Modules defining the study's five methods (each registers itself in :data:`METHODS`).
METHOD_MODULES = (
    "pretraining.methods.mae",
    "pretraining.methods.s3d",
    "pretraining.methods.models_genesis",
    "pretraining.methods.voco",
    "pretraining.methods.multitalent",
)


@dataclass
class PretrainBatch:
    """One batch of pre-training patches.

    ``images`` is ``(B, C, D, H, W)`` float32, z-scored. Supervised methods (MultiTalent) also get
    ``labels`` (``(B, K, D, H, W)`` binary, one channel per class of ``dataset``'s label set) and the
    ``dataset`` name that selects the stem and the classes the loss may see.
    """

    images: Tensor
    labels: Tensor | None = None
    dataset: str | None = None


class PretrainingMethod(nn.Module):
    """Base of every method: holds ``self.encoder`` (built from ``encoder_config``) and defines the loss.

    Subclasses implement :meth:`loss` and may add modules (decoders, heads, mask tokens). ``patch_size`` is
    the ``(z, y, x)`` input size the method is trained on (methods that mask in blocks or crop need it).
    """

    name: str = ""

    def __init__(self, encoder_config: EncoderConfig, patch_size: Triple) -> None:
        super().__init__()
        self.encoder_config = encoder_config
        self.patch_size = tuple(int(v) for v in patch_size)
        self.encoder = build_encoder(encoder_config)

    def loss(self, batch: PretrainBatch) -> dict[str, Tensor]:
        """Return ``{"loss": total, ...named parts}``; only ``"loss"`` is back-propagated."""
        raise NotImplementedError

    def encoder_state_dict(self) -> dict[str, Tensor]:
        """The encoder's weights under :mod:`models.encoders` key names (what transfers)."""
        return {k: v.detach().clone() for k, v in self.encoder.state_dict().items()}

    def stem_weights(self) -> dict[str, dict[str, Tensor]]:
        """Named extra stems (encoder-relative keys of the stem, see :func:`pretraining.transfer.stem_prefix`).

        MultiTalent returns one stem per pre-training dataset; the encoder's own stem is the CT one. Default none.
        """
        return {}

    def decoder_state_dict(self) -> dict[str, Tensor]:
        """Decoder tensors kept for ``--transfer all`` ablations (may be empty)."""
        return {}


@dataclass(frozen=True)
class MethodSpec:
    """A registered pre-training method.

    ``build(encoder_config, patch_size, **options)`` returns the :class:`PretrainingMethod`; ``supervised``
    methods need labelled data (:class:`PretrainBatch.labels`); ``citation`` is the source of the method.
    """

    name: str
    label: str
    build: Callable[..., PretrainingMethod]
    supervised: bool = False
    citation: str = ""
    defaults: dict[str, Any] = field(default_factory=dict)


METHODS: Registry[MethodSpec] = Registry("pre-training method")


def load_methods() -> Registry[MethodSpec]:
    """Import every method module (each registers itself) and return :data:`METHODS`."""
    for module in METHOD_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:  # a method not written yet is simply not registered
            if exc.name != module:
                raise
    return METHODS


def get_method(name: str) -> MethodSpec:
    """The registered method ``name`` (unknown names fail with "did you mean" and the valid names)."""
    return load_methods().get(name)
