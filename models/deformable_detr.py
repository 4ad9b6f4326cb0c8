"""Two-stage 3D Deformable DETR with iterative box refinement, as adapted to 3D by nnDetection v2.

The encoder's coarsest ``num_feature_levels`` stages are projected to ``hidden_dim`` (1x1x1 conv +
GroupNorm), flattened into tokens with 3D sine position encodings plus a learned level embedding, and
passed through deformable-attention encoder layers. Every encoder token proposes a box (two-stage); the
top-scoring proposals seed the decoder queries, and each decoder layer refines the boxes of the previous
one. Training matches predictions to targets with the Hungarian algorithm (focal + L1 + GIoU costs) and
applies focal, L1 and GIoU losses to every decoder layer and to the encoder proposals.

Boxes inside the model are normalised ``(cz, cy, cx, dz, dy, dx)`` in ``[0, 1]`` of the input patch;
``predict`` returns voxel-frame ``(z1, y1, x1, z2, y2, x2)`` boxes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.base import Detection, Detector, Target, check_images, check_targets
from models.box_ops import (
    center_size_to_corners,
    clip_boxes,
    corners_to_center_size,
    elementwise_giou,
    generalized_box_iou,
)
from models.config import DeformableDETRConfig
from models.deformable_attention import MultiScaleDeformableAttention3D
from models.encoders import build_encoder
from models.losses import sigmoid_focal_loss
from models.matching import hungarian_match

__all__ = ["DeformableDETR", "DecoderLayer", "EncoderLayer", "sine_encoding", "token_grid"]


def inverse_sigmoid(x: Tensor, eps: float = 1e-5) -> Tensor:
    x = x.clamp(0, 1)
    return torch.log(x.clamp(min=eps) / (1 - x).clamp(min=eps))


def sine_encoding(coords: Tensor, feats_per_axis: Sequence[int], temperature: float = 10000.0) -> Tensor:
    """Sine/cosine encoding of normalised coordinates ``[..., A]`` -> ``[..., sum(feats_per_axis)]``.

    Axis ``a`` gets ``feats_per_axis[a]`` (even) features: sin and cos of ``2 pi coord / temperature^(2k/n)``.
    """
    parts = []
    for axis, n in enumerate(feats_per_axis):
        half = n // 2
        freq = temperature ** (torch.arange(half, dtype=torch.float32, device=coords.device) / max(half, 1))
        angle = coords[..., axis : axis + 1].float() * (2 * math.pi) / freq
        parts += [angle.sin(), angle.cos()]
    return torch.cat(parts, dim=-1)


def token_grid(shape: Sequence[int], device: torch.device | None = None) -> Tensor:
    """Normalised voxel-centre coordinates ``[D*H*W, 3]`` (z, y, x) of a feature map, flattened z-major."""
    axes = [(torch.arange(n, dtype=torch.float32, device=device) + 0.5) / n for n in shape]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, 3)


class FeedForward(nn.Module):
    """Transformer MLP: linear -> ReLU -> dropout -> linear."""

    def __init__(self, dim: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.linear1, self.linear2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))


class EncoderLayer(nn.Module):
    """Deformable self-attention over all levels' tokens, then FFN (post-norm, as in Deformable DETR)."""

    def __init__(self, cfg: DeformableDETRConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.self_attn = MultiScaleDeformableAttention3D(d, cfg.num_heads, cfg.num_feature_levels, cfg.num_points)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn = FeedForward(d, cfg.ffn_dim, cfg.dropout)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor, pos: Tensor, reference: Tensor, shapes: Sequence[tuple[int, int, int]]) -> Tensor:
        x = self.norm1(x + self.dropout(self.self_attn(x + pos, reference, x, shapes)))
        return self.norm2(x + self.dropout(self.ffn(x)))


class DecoderLayer(nn.Module):
    """Query self-attention, deformable cross-attention into the encoder memory, FFN (post-norm)."""

    def __init__(self, cfg: DeformableDETRConfig) -> None:
        super().__init__()
        d = cfg.hidden_dim
        self.self_attn = nn.MultiheadAttention(d, cfg.num_heads, dropout=cfg.dropout, batch_first=True)
        self.cross_attn = MultiScaleDeformableAttention3D(d, cfg.num_heads, cfg.num_feature_levels, cfg.num_points)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(d), nn.LayerNorm(d), nn.LayerNorm(d)
        self.ffn = FeedForward(d, cfg.ffn_dim, cfg.dropout)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(
        self, x: Tensor, pos: Tensor, reference: Tensor, memory: Tensor, shapes: Sequence[tuple[int, int, int]]
    ) -> Tensor:
        qk = x + pos
        x = self.norm1(x + self.dropout(self.self_attn(qk, qk, x, need_weights=False)[0]))
        x = self.norm2(x + self.dropout(self.cross_attn(x + pos, reference, memory, shapes)))
        return self.norm3(x + self.dropout(self.ffn(x)))


class MLP(nn.Module):
    """``num_layers`` linear layers with ReLU between them."""

    def __init__(self, dim: int, hidden: int, out: int, num_layers: int) -> None:
        super().__init__()
        dims = [dim] + [hidden] * (num_layers - 1) + [out]
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:], strict=True))

    def forward(self, x: Tensor) -> Tensor:
        for i, layer in enumerate(self.layers):
            x = layer(x) if i == len(self.layers) - 1 else F.relu(layer(x))
        return x


class DeformableDETR(Detector):
    """3D Deformable DETR detector; see :class:`models.config.DeformableDETRConfig` for every setting."""

    def __init__(self, config: DeformableDETRConfig) -> None:
        super().__init__()
        self.config = config
        self.num_classes = config.num_classes
        d = config.hidden_dim
        self.encoder = build_encoder(config.encoder)
        in_channels = [config.encoder.stage_features[lv] for lv in config.feature_levels]
        self.input_projection = nn.ModuleList(
            nn.Sequential(nn.Conv3d(c, d, 1), nn.GroupNorm(config.projection_groups, d)) for c in in_channels
        )
        self.level_embed = nn.Parameter(torch.empty(config.num_feature_levels, d))
        self.encoder_layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_encoder_layers))
        self.decoder_layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_decoder_layers))
        # two-stage proposal generation from the encoder memory
        self.memory_proj = nn.Linear(d, d)
        self.memory_norm = nn.LayerNorm(d)
        self.query_from_proposal = nn.Linear(3 * d, 2 * d)
        self.query_norm = nn.LayerNorm(2 * d)
        # one class head and one box head per decoder layer, plus one for the encoder proposals (last)
        n_heads = config.num_decoder_layers + 1
        self.class_heads = nn.ModuleList(nn.Linear(d, config.num_classes) for _ in range(n_heads))
        self.box_heads = nn.ModuleList(MLP(d, d, 6, config.box_mlp_layers) for _ in range(n_heads))
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        for module in (*self.encoder_layers, *self.decoder_layers):
            for name, p in module.named_parameters():
                if p.dim() > 1 and "sampling_offsets" not in name and "attention_weights" not in name:
                    nn.init.xavier_uniform_(p)
        for proj in self.input_projection:
            nn.init.xavier_uniform_(proj[0].weight, gain=1)
            nn.init.zeros_(proj[0].bias)
        nn.init.normal_(self.level_embed)
        bias = -math.log((1 - self.config.prior_prob) / self.config.prior_prob)
        for head in self.class_heads:
            nn.init.constant_(head.bias, bias)
        for head in self.box_heads:
            nn.init.zeros_(head.layers[-1].weight)
            nn.init.zeros_(head.layers[-1].bias)

    # ------------------------------------------------------------------ forward
    def _tokens(self, images: Tensor) -> tuple[Tensor, Tensor, list[tuple[int, int, int]]]:
        check_images(images, self.config.encoder.in_channels, self.config.encoder.total_stride)
        feats = self.encoder(images)
        tokens, pos, shapes = [], [], []
        d = self.config.hidden_dim
        third = 2 * (d // 6)
        for i, level in enumerate(self.config.feature_levels):
            f = self.input_projection[i](feats[level])
            shape = tuple(f.shape[2:])
            shapes.append(shape)
            tokens.append(f.flatten(2).transpose(1, 2))
            enc = sine_encoding(token_grid(shape, f.device), (third, third, d - 2 * third))
            pos.append(enc.to(f.dtype) + self.level_embed[i].to(f.dtype))
        return torch.cat(tokens, 1), torch.cat(pos, 0)[None], shapes

    def _proposals(self, shapes: Sequence[tuple[int, int, int]], device: torch.device) -> Tensor:
        """Fixed proposals ``[S, 6]``: a box of size ``base * 2^level`` centred on every token."""
        props = []
        for level, shape in enumerate(shapes):
            ctr = token_grid(shape, device)
            size = torch.full_like(ctr, self.config.proposal_base_scale * 2.0**level)
            props.append(torch.cat([ctr, size], -1))
        return torch.cat(props)

    def forward(self, images: Tensor) -> dict[str, object]:
        """Per decoder layer ``(logits [B, Q, C], boxes [B, Q, 6])`` and the encoder's proposal outputs."""
        cfg = self.config
        tokens, pos, shapes = self._tokens(images)
        b = tokens.shape[0]
        ref_points = torch.cat([token_grid(s, images.device) for s in shapes])[None].expand(b, -1, -1)
        memory = tokens
        for layer in self.encoder_layers:
            memory = layer(memory, pos, ref_points, shapes)

        proposals = self._proposals(shapes, images.device)
        valid = ((proposals > 0.01) & (proposals < 0.99)).all(-1)
        enc_feat = self.memory_norm(self.memory_proj(memory))
        enc_logits = self.class_heads[-1](enc_feat)
        enc_unact = self.box_heads[-1](enc_feat) + inverse_sigmoid(proposals)[None]
        select = enc_logits.detach().max(-1).values.masked_fill(~valid[None], float("-inf"))
        k = min(cfg.num_queries, select.shape[1])
        top = select.topk(k, dim=1).indices
        ref_unact = enc_unact.gather(1, top[..., None].expand(-1, -1, 6)).detach()
        reference = ref_unact.sigmoid()
        d = cfg.hidden_dim
        query_pos, query = self.query_norm(
            self.query_from_proposal(sine_encoding(reference, [d // 2] * 6).to(memory.dtype))
        ).split(d, dim=-1)

        layer_logits, layer_boxes = [], []
        for i, layer in enumerate(self.decoder_layers):
            query = layer(query, query_pos, reference, memory, shapes)
            boxes = (self.box_heads[i](query) + inverse_sigmoid(reference)).sigmoid()
            layer_logits.append(self.class_heads[i](query))
            layer_boxes.append(boxes)
            reference = boxes.detach()
        return {
            "logits": layer_logits,
            "boxes": layer_boxes,
            "encoder_logits": enc_logits,
            "encoder_boxes": enc_unact.sigmoid(),
        }

    # ------------------------------------------------------------------ training
    def _focal_cost(self, logits: Tensor, labels: Tensor) -> Tensor:
        cfg = self.config
        p = logits.float().sigmoid()
        neg = (1 - cfg.focal_alpha) * p.pow(cfg.focal_gamma) * -(1 - p + 1e-8).log()
        pos = cfg.focal_alpha * (1 - p).pow(cfg.focal_gamma) * -(p + 1e-8).log()
        return (pos - neg)[:, labels]

    def _set_loss(self, logits: Tensor, boxes: Tensor, targets: list[tuple[Tensor, Tensor]], num_boxes: float):
        """Focal, L1 and GIoU losses of one prediction set after Hungarian matching."""
        cfg = self.config
        cls_target = torch.zeros_like(logits, dtype=torch.float32)
        l1_terms, giou_terms = [], []
        for i, (gt_boxes, gt_labels) in enumerate(targets):
            if gt_boxes.shape[0] == 0:
                continue
            pred = boxes[i].float()
            with torch.no_grad():
                giou = generalized_box_iou(center_size_to_corners(pred), center_size_to_corners(gt_boxes))
                cost = (
                    cfg.match_class_weight * self._focal_cost(logits[i], gt_labels)
                    + cfg.match_l1_weight * torch.cdist(pred, gt_boxes, p=1)
                    - cfg.match_giou_weight * giou
                )
            rows, cols = hungarian_match(cost)
            cls_target[i, rows, gt_labels[cols]] = 1.0
            l1_terms.append((pred[rows] - gt_boxes[cols]).abs().sum())
            pair_giou = elementwise_giou(center_size_to_corners(pred[rows]), center_size_to_corners(gt_boxes[cols]))
            giou_terms.append((1 - pair_giou).sum())
        cls = sigmoid_focal_loss(logits, cls_target, cfg.focal_alpha, cfg.focal_gamma).sum() / num_boxes
        zero = boxes.sum() * 0
        l1 = torch.stack(l1_terms).sum() / num_boxes if l1_terms else zero
        giou_loss = torch.stack(giou_terms).sum() / num_boxes if giou_terms else zero
        return cls, l1, giou_loss

    def compute_loss(self, images: Tensor, targets: list[Target]) -> dict[str, Tensor]:
        check_targets(images, targets, self.num_classes)
        cfg = self.config
        out = self.forward(images)
        size = torch.tensor(images.shape[2:], dtype=torch.float32, device=images.device).repeat(2)
        norm_targets = [
            (corners_to_center_size(t["boxes"].to(images.device).float() / size), t["labels"].to(images.device).long())
            for t in targets
        ]
        num_boxes = float(max(1, sum(t[0].shape[0] for t in norm_targets)))
        sets = list(zip(out["logits"], out["boxes"], strict=True))  # type: ignore[call-overload]
        if cfg.auxiliary_loss:
            sets.append((out["encoder_logits"], out["encoder_boxes"]))
        else:
            sets = sets[-1:]
        losses: dict[str, Tensor] = {}
        total = images.new_zeros((), dtype=torch.float32)
        for i, (logits, boxes) in enumerate(sets):
            cls, l1, giou = self._set_loss(logits, boxes, norm_targets, num_boxes)
            total = total + cfg.classification_weight * cls + cfg.l1_weight * l1 + cfg.giou_weight * giou
            if i == len(out["logits"]) - 1 or len(sets) == 1:  # type: ignore[arg-type]
                losses.update({"classification": cls, "l1": l1, "giou": giou})
        losses["loss"] = total
        return losses

    # ------------------------------------------------------------------ inference
    @torch.no_grad()
    def predict(self, images: Tensor) -> list[Detection]:
        cfg = self.config
        out = self.forward(images)
        logits, boxes = out["logits"][-1], out["boxes"][-1]  # type: ignore[index]
        shape = tuple(images.shape[2:])
        size = torch.tensor(shape, dtype=torch.float32, device=images.device).repeat(2)
        results: list[Detection] = []
        for i in range(images.shape[0]):
            scores = logits[i].float().sigmoid().flatten()
            k = min(cfg.max_detections, scores.numel())
            top_scores, top = scores.topk(k)
            keep = top_scores > cfg.score_threshold
            top, top_scores = top[keep], top_scores[keep]
            query, label = top // self.num_classes, top % self.num_classes
            corners = clip_boxes(center_size_to_corners(boxes[i, query].float()) * size, shape)
            results.append({"boxes": corners, "scores": top_scores, "labels": label})
        return results
