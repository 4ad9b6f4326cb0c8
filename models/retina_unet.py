"""Retina U-Net (Jaeger et al. 2020) as built by nnDetection, on the plain or the ResEnc-L encoder.

A U-FPN decoder gives every encoder level an output (128 channels on the detection levels P2-P5, halved
on each finer level for the segmentation path); shared classification and regression heads run on the
detection levels with 27 anchors per position; a 1x1x1 head on the full-resolution level segments
foreground. Training: ATSS matching, hard negative sampling, focal (or BCE) classification, L1 (or smooth
L1, or GIoU) box regression, 0.5 CE + 0.5 batch Dice segmentation. Inference: decoding, per-class NMS.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.anchors import AnchorGenerator, BoxCoder, plan_anchor_sizes
from models.base import Detection, Detector, Target, check_images, check_targets
from models.box_ops import batched_nms, box_volume, clip_boxes, elementwise_giou
from models.config import RetinaUNetConfig
from models.encoders import build_encoder
from models.losses import dice_ce_loss, sigmoid_focal_loss, smooth_l1
from models.matching import atss_match, sample_hard_negatives

__all__ = ["DetectionHead", "RetinaUNet", "UFPN", "boxes_to_segmentation", "with_planned_anchors"]


class UFPN(nn.Module):
    """nnDetection's U-FPN: 1x1x1 laterals, transposed-conv top-down path, one 3x3x3 output conv per level.

    Levels at or below the first detection level have ``channels``; each finer level halves them (at least
    ``min_channels``), which gives the U-Net-like high-resolution levels the segmentation branch reads.
    """

    def __init__(
        self,
        in_channels: tuple[int, ...],
        strides: tuple[int | tuple[int, int, int], ...],
        channels: int,
        first_detection_level: int,
        min_channels: int = 8,
    ) -> None:
        super().__init__()
        out = [channels] * len(in_channels)
        for level in range(first_detection_level - 1, -1, -1):
            out[level] = max(min_channels, out[level + 1] // 2)
        self.out_channels = tuple(out)
        self.lateral = nn.ModuleList(nn.Conv3d(c, o, 1) for c, o in zip(in_channels, out, strict=True))
        # up[i] brings level i + 1 to the resolution and width of level i
        self.up = nn.ModuleList(
            nn.ConvTranspose3d(out[i + 1], out[i], strides[i + 1], stride=strides[i + 1])
            for i in range(len(in_channels) - 1)
        )
        self.out = nn.ModuleList(nn.Conv3d(o, o, 3, padding=1) for o in out)

    def forward(self, features: list[Tensor]) -> list[Tensor]:
        # On a channels-last-3d network (CPU profile) the merged levels are made channels-last: the 1x1x1
        # laterals may run on a contiguous path, and a convolution given a contiguous input converts it in
        # its forward and again, from the saved input, in its backward. Same values: bitwise the same result.
        weight = self.out[0].weight
        channels_last = not weight.is_contiguous() and weight.is_contiguous(memory_format=torch.channels_last_3d)

        def layout(t: Tensor) -> Tensor:
            return t.contiguous(memory_format=torch.channels_last_3d) if channels_last else t

        merged = [None] * len(features)
        x = layout(self.lateral[-1](features[-1]))
        merged[-1] = x
        for level in range(len(features) - 2, -1, -1):
            x = layout(self.lateral[level](features[level]) + self.up[level](x))
            merged[level] = x
        return [conv(m) for conv, m in zip(self.out, merged, strict=True)]


class DetectionHead(nn.Module):
    """Shared conv head: conv(in, c) + ``num_convs`` x conv(c, c) (GroupNorm + ReLU), then conv(c, out)."""

    def __init__(
        self, channels: int, out_channels: int, num_convs: int, channels_per_group: int, bias_init: float = 0.0
    ) -> None:
        super().__init__()
        groups = max(1, channels // channels_per_group)
        layers: list[nn.Module] = []
        for _ in range(num_convs + 1):
            layers += [nn.Conv3d(channels, channels, 3, padding=1), nn.GroupNorm(groups, channels), nn.ReLU(True)]
        self.convs = nn.Sequential(*layers)
        self.conv_out = nn.Conv3d(channels, out_channels, 3, padding=1)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.conv_out.bias, bias_init)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv_out(self.convs(x))


def boxes_to_segmentation(
    boxes: Tensor, labels: Tensor, shape: tuple[int, int, int], device: torch.device | None = None
) -> Tensor:
    """Box-shaped class map: voxels whose centre lies in a box get its label + 1 (for box-only datasets)."""
    seg = torch.zeros(shape, dtype=torch.long, device=device)
    for box, label in zip(boxes.tolist(), labels.tolist(), strict=True):
        lo = [max(0, math.ceil(v - 0.5)) for v in box[:3]]
        hi = [min(n, math.floor(v - 0.5) + 1) for v, n in zip(box[3:], shape, strict=True)]
        if all(h > low for low, h in zip(lo, hi, strict=True)):
            seg[lo[0] : hi[0], lo[1] : hi[1], lo[2] : hi[2]] = int(label) + 1
    return seg


class RetinaUNet(Detector):
    """Retina U-Net detector; see :class:`models.config.RetinaUNetConfig` for every setting."""

    def __init__(self, config: RetinaUNetConfig) -> None:
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        enc = config.encoder
        self.encoder = build_encoder(enc)
        self.levels = config.resolved_detection_levels
        self.decoder = UFPN(
            enc.stage_features, enc.stage_strides, config.fpn_channels, self.levels[0], config.min_fpn_channels
        )
        a = config.anchors_per_position
        prior_bias = -math.log((1 - config.prior_prob) / config.prior_prob)
        kw = {"num_convs": config.head_convs, "channels_per_group": config.head_channels_per_group}
        self.classifier = DetectionHead(config.fpn_channels, a * config.num_classes, bias_init=prior_bias, **kw)
        self.regressor = DetectionHead(config.fpn_channels, a * 6, **kw)
        self.regression_scales = nn.Parameter(torch.ones(len(self.levels)))
        self.segmenter = nn.Conv3d(self.decoder.out_channels[0], config.segmentation_channels, 1)
        strides = [enc.cumulative_strides_3d[lv] for lv in self.levels]
        self.anchor_generator = AnchorGenerator(config.anchor_sizes, strides)
        self.box_coder = BoxCoder(config.box_coder_weights)

    def forward(self, images: Tensor) -> dict[str, object]:
        """Raw outputs: per-level class logits ``[B, N_l, C]``, box deltas ``[B, N_l, 6]``, seg logits, anchors."""
        check_images(images, self.config.encoder.in_channels, self.config.encoder.total_stride)
        feats = self.decoder(self.encoder(images))
        cls_logits, box_deltas, shapes = [], [], []
        for i, level in enumerate(self.levels):
            f = feats[level]
            b = f.shape[0]
            shapes.append(tuple(f.shape[2:]))
            c = self.classifier(f).permute(0, 2, 3, 4, 1).reshape(b, -1, self.num_classes)
            r = (self.regressor(f) * self.regression_scales[i]).permute(0, 2, 3, 4, 1).reshape(b, -1, 6)
            cls_logits.append(c)
            box_deltas.append(r)
        anchors = self.anchor_generator(shapes, device=images.device)
        return {
            "cls_logits": cls_logits,
            "box_deltas": box_deltas,
            "seg_logits": self.segmenter(feats[0]),
            "anchors": anchors,
        }

    # ------------------------------------------------------------------ training
    def _segmentation_target(self, target: Target, shape: tuple[int, int, int], device: torch.device) -> Tensor:
        """Class map from ``seg``, else ``instances``, else box-shaped; collapsed to fg/bg if so configured."""
        if "seg" in target:
            seg = target["seg"].to(device).long()
        elif "instances" in target:
            inst = target["instances"].to(device).long()
            lut = torch.cat([torch.zeros(1, dtype=torch.long), target["labels"].cpu().long() + 1]).to(device)
            seg = lut[inst.clamp(max=lut.numel() - 1)]
        else:
            seg = boxes_to_segmentation(target["boxes"], target["labels"], shape, device)
        return (seg > 0).long() if self.config.segmentation_classes == "foreground" else seg

    def _regression_loss(self, deltas: Tensor, anchors: Tensor, gt_boxes: Tensor) -> Tensor:
        """Summed regression loss of the positive anchors (L1 / smooth L1 on encoded deltas, or 1 - GIoU)."""
        cfg = self.config
        if cfg.regression_loss == "giou":
            return (1 - elementwise_giou(self.box_coder.decode(deltas, anchors), gt_boxes)).sum()
        diff = deltas - self.box_coder.encode(gt_boxes, anchors)
        return (diff.abs() if cfg.regression_loss == "l1" else smooth_l1(diff, cfg.smooth_l1_beta)).sum()

    def compute_loss(self, images: Tensor, targets: list[Target]) -> dict[str, Tensor]:
        check_targets(images, targets, self.num_classes)
        cfg = self.config
        out = self.forward(images)
        anchors_per_level: list[Tensor] = out["anchors"]  # type: ignore[assignment]
        anchors = torch.cat(anchors_per_level)
        cls_logits = torch.cat(out["cls_logits"], dim=1).float()  # type: ignore[arg-type]
        box_deltas = torch.cat(out["box_deltas"], dim=1).float()  # type: ignore[arg-type]

        cls_terms, reg_terms, num_pos_total = [], [], 0
        for i, t in enumerate(targets):
            gt_boxes = t["boxes"].to(images.device).float()
            gt_labels = t["labels"].to(images.device).long()
            matched = atss_match(gt_boxes, anchors_per_level, cfg.atss_candidates)
            if cfg.anchor_sampling == "all":
                pos = torch.nonzero(matched >= 0).flatten()
                onehot = torch.zeros_like(cls_logits[i])
                onehot[pos, gt_labels[matched[pos]]] = 1.0
                cls_terms.append(sigmoid_focal_loss(cls_logits[i], onehot, cfg.focal_alpha, cfg.focal_gamma).sum())
                if pos.numel():
                    reg_terms.append(self._regression_loss(box_deltas[i, pos], anchors[pos], gt_boxes[matched[pos]]))
                num_pos_total += pos.numel()
                continue
            with torch.no_grad():
                hardness = cls_logits[i].max(-1).values  # negatives are ranked by their top class logit
            pos, neg = sample_hard_negatives(
                matched,
                hardness,
                cfg.sample_per_image,
                cfg.positive_fraction,
                cfg.hard_negative_pool_size,
                cfg.min_negatives,
            )
            sampled = torch.cat([pos, neg])
            onehot = torch.zeros(sampled.numel(), self.num_classes, device=images.device)
            if pos.numel():
                onehot[torch.arange(pos.numel(), device=images.device), gt_labels[matched[pos]]] = 1.0
            logits = cls_logits[i, sampled]
            if cfg.classification_loss == "focal":
                cls_terms.append(sigmoid_focal_loss(logits, onehot, cfg.focal_alpha, cfg.focal_gamma))
            else:
                cls_terms.append(F.binary_cross_entropy_with_logits(logits, onehot, reduction="none"))
            if pos.numel():
                reg_terms.append(self._regression_loss(box_deltas[i, pos], anchors[pos], gt_boxes[matched[pos]]))
                num_pos_total += pos.numel()

        if cfg.anchor_sampling == "all":  # RetinaNet: summed focal loss over all anchors / number of positives
            cls_loss = torch.stack(cls_terms).sum() / max(1, num_pos_total)
        else:
            cls_loss = torch.cat(cls_terms).mean() if cls_terms else cls_logits.sum() * 0
        reg_loss = torch.stack(reg_terms).sum() / max(1, num_pos_total) if reg_terms else box_deltas.sum() * 0
        seg_logits: Tensor = out["seg_logits"]  # type: ignore[assignment]
        seg_target = torch.stack(
            [self._segmentation_target(t, tuple(images.shape[2:]), images.device) for t in targets]
        )
        seg_loss = dice_ce_loss(seg_logits, seg_target)
        total = cfg.classification_weight * cls_loss + cfg.regression_weight * reg_loss
        total = total + cfg.segmentation_weight * seg_loss
        return {"loss": total, "classification": cls_loss, "regression": reg_loss, "segmentation": seg_loss}

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, images: Tensor) -> list[Detection]:
        cfg = self.config
        out = self.forward(images)
        shape = tuple(images.shape[2:])
        results: list[Detection] = []
        for i in range(images.shape[0]):
            boxes_all, scores_all, labels_all = [], [], []
            levels = zip(out["cls_logits"], out["box_deltas"], out["anchors"], strict=True)  # type: ignore[call-overload]
            for logits, deltas, anchors in levels:
                scores = logits[i].float().sigmoid().flatten()
                keep = torch.nonzero(scores > cfg.score_threshold).flatten()
                if keep.numel() > cfg.topk_candidates_per_level:
                    keep = keep[scores[keep].topk(cfg.topk_candidates_per_level).indices]
                anchor_idx = keep // self.num_classes
                boxes = self.box_coder.decode(deltas[i, anchor_idx].float(), anchors[anchor_idx])
                boxes_all.append(boxes)
                scores_all.append(scores[keep])
                labels_all.append(keep % self.num_classes)
            boxes = clip_boxes(torch.cat(boxes_all), shape)
            scores, labels = torch.cat(scores_all), torch.cat(labels_all)
            extent = boxes[:, 3:] - boxes[:, :3]
            valid = (extent >= cfg.min_box_size).all(1) & (box_volume(boxes) > 0)
            boxes, scores, labels = boxes[valid], scores[valid], labels[valid]
            keep = batched_nms(boxes, scores, labels, cfg.nms_iou_threshold)[: cfg.max_detections]
            results.append({"boxes": boxes[keep], "scores": scores[keep], "labels": labels[keep]})
        return results


def with_planned_anchors(config: RetinaUNetConfig, box_sizes: object) -> RetinaUNetConfig:
    """``config`` with anchor sizes planned from training box extents ``[N, 3]`` (voxels, array order)."""
    strides = [config.encoder.cumulative_strides_3d[lv] for lv in config.resolved_detection_levels]
    return replace(config, anchor_sizes=plan_anchor_sizes(np.asarray(box_sizes), strides))
