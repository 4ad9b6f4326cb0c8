"""MultiTalent: supervised segmentation pre-training over several labelled datasets at once.

Source: Ulrich, Isensee, Wald, Zenk, Baumgartner, Maier-Hein, "MultiTalent: A Multi-Dataset Approach to
Medical Image Segmentation", MICCAI 2023 (github.com/MIC-DKFZ/MultiTalent), as the supervised pre-training of
Eckstein et al. (MICCAI 2025), whose transfer takes a per-dataset input stem (the CT stem for CT data, another
multi-sequence MRI dataset's stem for Duke Breast MRI). The mechanics followed (re-implemented, not copied):

* one network over the union of all datasets' label sets: one output channel per (dataset, class) pair
  (classes of the same name in two datasets stay separate channels), each a class-wise **sigmoid**, so
  labels may overlap and classes of other datasets are simply not supervised;
* **one stem per dataset**: a conv unit (conv + instance norm + LeakyReLU, the shape of the encoder's first
  unit) maps that dataset's input channels to the shared first-stage representation (32 channels times the
  width multiplier); the rest of the encoder and the decoder are shared;
* a U-Net decoder (:class:`pretraining.methods.s3d.UNetDecoder`, one conv unit per level, no deep supervision
  in detbench);
* each batch comes from one dataset (:class:`pretraining.supervised_data.SupervisedPatchSource`), and its
  loss is binary cross-entropy + soft Dice (nnU-Net's batch Dice) over **that dataset's classes only**.

The encoder's own stem (``stem.convs.0`` for ResEnc, ``stages.0.0.convs.0`` for the plain encoder) is the stem
of one CT dataset, ``encoder_stem_dataset`` (default: the first dataset whose channel count equals the
encoder's ``in_channels``, CT preferred), so ``transfer:encoder`` is the CT stem; :meth:`MultiTalent.stem_weights`
returns every dataset's stem (that one included) under the encoder-relative stem keys, so any of them can be
transferred with ``--stem transfer:NAME`` (:mod:`pretraining.transfer`).

``datasets`` is ``{name: {"channels": C, "classes": [...], "modality": "CT"|"MRI"}}``
(:func:`pretraining.supervised_data.label_sets`; default: the five synthetic datasets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import EncoderConfig, Triple
from models.encoders import ConvNormAct
from pretraining.methods import METHODS, MethodSpec, PretrainBatch, PretrainingMethod
from pretraining.methods.s3d import UNetDecoder

__all__ = ["MultiTalent", "multitalent_segmentation_loss"]

CITATION = (
    "Ulrich et al., MultiTalent: A Multi-Dataset Approach to Medical Image Segmentation, MICCAI 2023 "
    "(github.com/MIC-DKFZ/MultiTalent)"
)


def multitalent_segmentation_loss(
    logits: Tensor, labels: Tensor, channels: slice, smooth: float = 1e-5
) -> dict[str, Tensor]:
    """BCE + soft Dice on ``logits[:, channels]`` against ``labels`` ``(B, K, ...)``; other channels unused.

    Dice is nnU-Net's batch Dice: per class over the batch and all voxels, ``1 - mean_k dice_k``.
    """
    own = logits[:, channels].float()
    if own.shape != labels.shape:
        raise ValueError(f"labels {tuple(labels.shape)} do not match the dataset's logits {tuple(own.shape)}")
    target = labels.float()
    bce = F.binary_cross_entropy_with_logits(own, target)
    prob = torch.sigmoid(own)
    dims = (0, *range(2, own.ndim))
    inter = (prob * target).sum(dims)
    denom = prob.sum(dims) + target.sum(dims)
    dice = (2.0 * inter + smooth) / (denom + smooth)
    dice_loss = 1.0 - dice.mean()
    return {"loss": bce + dice_loss, "bce": bce.detach(), "dice": dice_loss.detach()}


def _default_datasets() -> dict[str, dict[str, Any]]:
    from pretraining.supervised_data import label_sets

    return label_sets()


class MultiTalent(PretrainingMethod):
    """MultiTalent on a detbench encoder (see the module docstring)."""

    name = "multitalent"

    def __init__(
        self,
        encoder_config: EncoderConfig,
        patch_size: Triple,
        datasets: Mapping[str, Mapping[str, Any]] | None = None,
        encoder_stem_dataset: str | None = None,
    ) -> None:
        super().__init__(encoder_config, patch_size)
        spec = {str(k): dict(v) for k, v in (datasets if datasets is not None else _default_datasets()).items()}
        if not spec:
            raise ValueError("MultiTalent needs at least one labelled dataset")
        for name, d in spec.items():
            if int(d.get("channels", 0)) < 1 or not d.get("classes"):
                raise ValueError(f"dataset {name!r} needs 'channels' >= 1 and a non-empty 'classes' list")
        self.datasets = spec
        self.encoder_stem_dataset = self._pick_encoder_stem(encoder_stem_dataset)
        # output channels: the union of label sets, one block of channels per dataset, in the given order
        self.class_slices: dict[str, slice] = {}
        start = 0
        for name, d in spec.items():
            self.class_slices[name] = slice(start, start + len(d["classes"]))
            start += len(d["classes"])
        self.num_outputs = start
        self.class_names = [f"{name}/{c}" for name, d in spec.items() for c in d["classes"]]

        cfg = encoder_config
        kw = {"eps": cfg.norm_eps, "negative_slope": cfg.negative_slope}
        stem_stride = 1 if cfg.kind == "resenc" else cfg.stage_strides[0]
        self.stems = nn.ModuleDict(
            {
                name: ConvNormAct(
                    int(d["channels"]), cfg.stage_features[0], cfg.stage_kernel_sizes[0], stem_stride, **kw
                )
                for name, d in spec.items()
                if name != self.encoder_stem_dataset
            }
        )
        self.decoder = UNetDecoder(cfg, self.num_outputs)

    def _pick_encoder_stem(self, requested: str | None) -> str:
        in_ch = self.encoder_config.in_channels
        if requested is not None:
            if requested not in self.datasets:
                raise ValueError(f"unknown encoder_stem_dataset {requested!r}; valid: {', '.join(self.datasets)}")
            if int(self.datasets[requested]["channels"]) != in_ch:
                raise ValueError(
                    f"dataset {requested!r} has {self.datasets[requested]['channels']} channels, the encoder {in_ch}"
                )
            return requested
        fitting = [n for n, d in self.datasets.items() if int(d["channels"]) == in_ch]
        ct = [n for n in fitting if str(self.datasets[n].get("modality", "")).upper() == "CT"]
        if not fitting:
            raise ValueError(f"no dataset has the encoder's {in_ch} input channel(s); its stem would never train")
        return (ct or fitting)[0]

    def _own_stem(self) -> nn.Module:
        enc = self.encoder
        return enc.stem.convs[0] if self.encoder_config.kind == "resenc" else enc.stages[0][0].convs[0]

    def stem_of(self, dataset: str) -> nn.Module:
        """The stem module of ``dataset`` (the encoder's own one for :attr:`encoder_stem_dataset`)."""
        if dataset not in self.datasets:
            raise ValueError(f"unknown dataset {dataset!r}; this MultiTalent has {', '.join(self.datasets)}")
        return self._own_stem() if dataset == self.encoder_stem_dataset else self.stems[dataset]

    def encode(self, images: Tensor, dataset: str) -> list[Tensor]:
        """Encoder stage outputs with ``dataset``'s stem in place of the encoder's first conv unit."""
        enc, stem = self.encoder, self.stem_of(dataset)
        x = stem(images)
        outputs = []
        if self.encoder_config.kind == "resenc":
            stages = list(enc.stages)
        else:  # the plain encoder's stem is the first unit of stage 0: run that stage's other units
            for unit in list(enc.stages[0][0].convs)[1:]:
                x = unit(x)
            outputs.append(x)
            stages = list(enc.stages)[1:]
        for stage in stages:
            x = stage(x)
            outputs.append(x)
        return outputs

    def forward(self, images: Tensor, dataset: str) -> Tensor:
        """Logits of all :attr:`num_outputs` classes (sigmoid per class)."""
        return self.decoder(self.encode(images, dataset))

    def loss(self, batch: PretrainBatch) -> dict[str, Tensor]:
        if batch.dataset is None or batch.labels is None:
            raise ValueError("MultiTalent needs labelled batches (labels and dataset name)")
        channels = int(self.datasets[batch.dataset]["channels"]) if batch.dataset in self.datasets else None
        if channels is not None and batch.images.shape[1] != channels:
            raise ValueError(f"{batch.dataset}: images have {batch.images.shape[1]} channels, expected {channels}")
        logits = self(batch.images, batch.dataset)
        return multitalent_segmentation_loss(logits, batch.labels, self.class_slices[batch.dataset])

    def stem_weights(self) -> dict[str, dict[str, Tensor]]:
        from pretraining.transfer import stem_prefix

        prefix = stem_prefix(self.encoder_config.kind)
        return {
            name: {prefix + k: v.detach().clone() for k, v in self.stem_of(name).state_dict().items()}
            for name in self.datasets
        }


def build(encoder_config: EncoderConfig, patch_size: Triple, **options: object) -> MultiTalent:
    """Build MultiTalent (options: ``datasets``, ``encoder_stem_dataset``)."""
    return MultiTalent(encoder_config, patch_size, **options)  # type: ignore[arg-type]


METHODS.register(
    "multitalent",
    MethodSpec(
        name="multitalent",
        label="MultiTalent",
        build=build,
        supervised=True,
        citation=CITATION,
        defaults={},
    ),
)
