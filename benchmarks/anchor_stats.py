"""What Retina U-Net's classifier sees per training image: ATSS positives and the anchors in the focal loss.

No network is run: anchors are generated for the detection levels of a ``retina_unet`` of ``--stages`` stages
(width 0.25) at patch ``--patch``, planned from the training boxes, and matched (ATSS) and sampled (nnDetection's
hard-negative sampler, ``--min-negatives``) against the boxes of ``--batches`` loader batches of 2 patches.
The diagnosis in docs/training.md was made with it::

    python benchmarks/anchor_stats.py PREPROCESSED --patch 64 --stages 5 --foreground 0.333 --atss 4 --min-negatives 1
"""

from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> None:
    from benchmark.loading.data import PreprocessedData
    from benchmark.loading.loader import PatchLoader
    from benchmark.loading.sampling import LoaderConfig
    from benchmark.training.trainer import _to_device
    from models.anchors import AnchorGenerator
    from models.box_ops import box_iou
    from models.matching import atss_match, sample_hard_negatives
    from models.registry import default_config
    from models.retina_unet import with_planned_anchors

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("preprocessed")
    ap.add_argument("--patch", type=int, default=48)
    ap.add_argument("--stages", type=int, default=4)
    ap.add_argument("--foreground", type=float, default=2 / 3)
    ap.add_argument("--atss", type=int, default=4)
    ap.add_argument("--min-negatives", type=int, default=1)
    ap.add_argument("--batches", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(1)
    data = PreprocessedData(a.preprocessed)
    ids = data.case_ids("train")
    cfg = default_config("retina_unet", width_multiplier=0.25, n_stages=a.stages)
    boxes = np.concatenate([data.meta(c).boxes_array()[0] for c in ids] + [np.zeros((0, 6))])
    cfg = with_planned_anchors(cfg, boxes[:, 3:] - boxes[:, :3])
    strides = [cfg.encoder.cumulative_strides_3d[lv] for lv in cfg.resolved_detection_levels]
    anchors = AnchorGenerator(cfg.anchor_sizes, strides)([tuple(a.patch // s for s in st) for st in strides])
    loader_cfg = LoaderConfig(
        patch_size=(a.patch,) * 3, batch_size=2, batches_per_epoch=a.batches, foreground_fraction=a.foreground
    )
    ngt, npos, nsamp, nposs, hit, best = [], [], [], [], [], []
    for batch in PatchLoader(data, ids, loader_cfg, 0, 0):
        for t in _to_device(batch, torch.device("cpu"))[1]:
            g = t["boxes"].float()
            m = atss_match(g, anchors, a.atss)
            pos, neg = sample_hard_negatives(m, torch.zeros(m.numel()), 32, 0.33, 20, a.min_negatives)
            ngt.append(len(g))
            npos.append(int((m >= 0).sum()))
            nsamp.append(pos.numel() + neg.numel())
            nposs.append(pos.numel())
            if len(g):
                hit.append(len(torch.unique(m[m >= 0])) / len(g))
                best += box_iou(g, torch.cat(anchors)).max(1).values.tolist()
    share = sum(nposs) / max(1, sum(nsamp))
    print(
        f"anchors per patch {sum(len(x) for x in anchors)}; per image: objects {np.mean(ngt):.2f}, "
        f"images without objects {np.mean(np.array(ngt) == 0):.2f}, ATSS positives {np.mean(npos):.2f}, "
        f"anchors in the sampled focal loss {np.mean(nsamp):.2f} (positive share {share:.2f}), "
        f"objects with >= 1 positive {np.mean(hit) if hit else float('nan'):.2f}, "
        f"median best anchor IoU {np.median(best) if best else float('nan'):.2f}"
    )


if __name__ == "__main__":
    main()
