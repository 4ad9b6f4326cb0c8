"""Time the 1,000-replicate bootstrap analysis at the paper's scale against recomputing metrics per replicate.

Builds paper-scale match tables: the 8 datasets with their test sizes (85, 80, 45, 155, 274, 89, 2,091 and
152 images) and classes, objects per image as in the paper's Table 1, 18 models (the Table 3 rows without
the two Models Genesis ones), ~100 detections per image; scores are drawn from per-model Beta distributions.
Then it times

* the analysis: bootstrap of mAP@0.1 and FROC@0.1 for every model and dataset (paired replicates, batched
  metrics) plus ranks, aggregated ranks, deltas, stability and tables (``analysis.report.summarize``);
* the plain way, twice, each timed on a few replicates and extrapolated to all of them:
  (a) resample: build the resampled dataset's match table (drawn images repeated) and compute mAP and FROC on
  it from scratch, as a bootstrap without reweighting does;
  (b) reweight: ``map_from_matches(table, w)`` and ``froc_from_matches(table, w)`` per replicate, model and
  dataset, reusing the table's cached score sort (already the fast per-replicate path).

Usage::

    python benchmarks/bootstrap_bench.py [--replicates 1000] [--plain-replicates 3] [--seed 0] [--check 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from analysis.bootstrap import bootstrap_counts, bootstrap_tables, dataset_generator
from analysis.report import summarize
from benchmark.datasets import resolve_suite
from benchmark.metrics.coco import map_from_matches
from benchmark.metrics.froc import froc_from_matches
from benchmark.metrics.matching import MatchTable

MODELS = (
    [("retina_unet", p) for p in ("default", "fixed", "mt")]
    + [("deformable_detr", p) for p in ("default", "fixed", "mt")]
    + [
        (a, p)
        for a in ("resenc_retina_unet", "resenc_deformable_detr")
        for p in ("default", "fixed", "mt", "voco", "mae", "s3d")
    ]
)
DETECTIONS_PER_IMAGE = 100


def paper_scale_table(
    n_images: int, n_classes: int, objects_per_image: float, rng: np.random.Generator, gt: np.ndarray
) -> MatchTable:
    """One model's match table: each object found with a model-specific probability, the rest of the
    ~100 detections per image are false positives; TP and FP scores from Beta distributions."""
    p_detect = rng.uniform(0.75, 0.92)
    a_tp = rng.uniform(2.5, 4.0)
    per_class = DETECTIONS_PER_IMAGE // n_classes
    hits = rng.binomial(gt, p_detect)  # [n_images, n_classes]
    n_tp = np.minimum(hits, per_class)
    n_fp = per_class - n_tp
    sizes = (n_tp + n_fp).reshape(-1)
    image = np.repeat(np.repeat(np.arange(n_images), n_classes), sizes)
    cls = np.repeat(np.tile(np.arange(n_classes), n_images), sizes)
    within = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    tp = within < np.repeat(n_tp.reshape(-1), sizes)
    score = np.where(tp, rng.beta(a_tp, 1.5, len(tp)), rng.beta(0.6, 5.0, len(tp)))
    return MatchTable(
        image_ids=tuple(f"case_{i:05d}" for i in range(n_images)),
        class_names=tuple(f"class_{c}" for c in range(n_classes)),
        image_index=image,
        class_index=cls,
        score=score,
        tp=tp,
        ignored=np.zeros(len(tp), bool),
        gt_counts=gt,
    )


def paper_scale_tables(seed: int = 0) -> dict[str, dict[tuple[str, str], MatchTable]]:
    """``{dataset: {model: MatchTable}}`` for the 8 datasets and 18 models."""
    rng = np.random.default_rng(seed)
    tables = {}
    for spec in resolve_suite("all"):
        n = spec.splits.test
        per_image = spec.objects / spec.splits.total
        gt = rng.poisson(per_image / spec.num_classes, size=(n, spec.num_classes))
        tables[spec.id] = {m: paper_scale_table(n, spec.num_classes, per_image, rng, gt) for m in MODELS}
    return tables


def plain_way(tables, n_replicates: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds per replicate of both metrics recomputed per replicate, model and dataset.

    One untimed replicate first (allocator warm-up), then ``n_replicates`` timed ones.
    """
    work = []
    for dataset, models in tables.items():
        n = next(iter(models.values())).n_images
        w = bootstrap_counts(n, n_replicates + 1, dataset_generator(seed, dataset))
        work += [(table, w) for table in models.values()]
    for table, w in work:
        map_from_matches(table, w[0])
        froc_from_matches(table, w[0])
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(1, n_replicates + 1):
        for table, w in work:
            map_from_matches(table, w[r])
            froc_from_matches(table, w[r])
    return (time.perf_counter() - wall) / n_replicates, (time.process_time() - cpu) / n_replicates


def resampled_table(table: MatchTable, counts: np.ndarray) -> MatchTable:
    """The match table of a resampled dataset: image ``i`` repeated ``counts[i]`` times (no re-matching)."""
    drawn = np.repeat(np.arange(table.n_images), counts)
    order = np.argsort(table.image_index, kind="stable")
    starts = np.searchsorted(table.image_index[order], np.arange(table.n_images + 1))
    lengths = np.diff(starts)[drawn]
    rows = order[
        np.repeat(starts[:-1][drawn], lengths)
        + np.arange(lengths.sum())
        - np.repeat(np.cumsum(lengths) - lengths, lengths)
    ]
    return MatchTable(
        image_ids=tuple(f"r{k}" for k in range(len(drawn))),
        class_names=table.class_names,
        image_index=np.repeat(np.arange(len(drawn)), lengths),
        class_index=table.class_index[rows],
        score=table.score[rows],
        tp=table.tp[rows],
        ignored=table.ignored[rows],
        gt_counts=table.gt_counts[drawn],
    )


def plain_resampled(tables, n_replicates: int, seed: int) -> tuple[float, float]:
    """(wall, CPU) seconds per replicate of building each resampled table and scoring it from scratch."""
    work = []
    for dataset, models in tables.items():
        n = next(iter(models.values())).n_images
        w = bootstrap_counts(n, n_replicates, dataset_generator(seed, dataset))
        work += [(table, w) for table in models.values()]
    wall, cpu = time.perf_counter(), time.process_time()
    for r in range(n_replicates):
        for table, w in work:
            again = resampled_table(table, w[r])
            map_from_matches(again)
            froc_from_matches(again)
    return (time.perf_counter() - wall) / n_replicates, (time.process_time() - cpu) / n_replicates


def check(result, tables, n_check: int) -> None:
    """The first ``n_check`` replicates equal the plain per-replicate metrics exactly."""
    rep = result.replicates.set_index(["dataset", "architecture", "pretraining", "metric", "replicate"])["value"]
    for dataset, models in tables.items():
        _, counts = result.counts[dataset]
        for (arch, pre), table in models.items():
            for r in range(n_check):
                got_map = rep[(dataset, arch, pre, "map@0.1", r)]
                got_froc = rep[(dataset, arch, pre, "froc@0.1", r)]
                ref_map, ref_froc = map_from_matches(table, counts[r]).map, froc_from_matches(table, counts[r]).score
                if not (got_map == ref_map and got_froc == ref_froc):
                    raise AssertionError(f"{dataset} {arch}/{pre} replicate {r}: batched != per-replicate metric")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--replicates", type=int, default=1000)
    parser.add_argument("--plain-replicates", type=int, default=3, help="replicates timed the plain way")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--check", type=int, default=3, help="replicates checked for exact equality (0: none)")
    args = parser.parse_args()

    t0 = time.perf_counter()
    tables = paper_scale_tables(args.seed)
    for models in tables.values():
        for table in models.values():
            _ = table.sorted_by_class  # the one sort both ways share
    n_det = sum(len(t) for models in tables.values() for t in models.values())
    n_img = sum(next(iter(m.values())).n_images for m in tables.values())
    print(
        f"built {len(tables)} datasets x {len(MODELS)} models ({n_img} test images, {n_det:,} detections) "
        f"in {time.perf_counter() - t0:.1f} s"
    )

    wall, cpu = time.perf_counter(), time.process_time()
    boot = bootstrap_tables(tables, n_replicates=args.replicates, seed=args.seed)
    boot_wall, boot_cpu = time.perf_counter() - wall, time.process_time() - cpu
    summary = summarize(boot)
    all_wall, all_cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"analysis, {args.replicates} replicates (wall / CPU): bootstrap {boot_wall:.2f} / {boot_cpu:.2f} s, "
        f"+ ranks, deltas, stability, tables = {all_wall:.2f} / {all_cpu:.2f} s"
    )
    if args.check:
        check(boot, tables, args.check)
        print(f"checked: the first {args.check} replicates equal map_from_matches/froc_from_matches exactly")
    del summary

    for label, fn in (
        ("plain way (a), resampled table scored from scratch", plain_resampled),
        ("plain way (b), per-replicate reweighting of the sorted table", plain_way),
    ):
        plain_wall, plain_cpu = fn(tables, args.plain_replicates, args.seed)
        print(
            f"{label}: {plain_wall:.3f} / {plain_cpu:.3f} s per replicate (wall / CPU, timed on "
            f"{args.plain_replicates}) -> {plain_wall * args.replicates:.0f} / {plain_cpu * args.replicates:.0f} s "
            f"for {args.replicates} replicates (extrapolated)"
        )
        plain_cpu_total, plain_wall_total = plain_cpu * args.replicates, plain_wall * args.replicates
        print(
            f"  speed-up (CPU time): {plain_cpu_total / boot_cpu:.0f}x for the bootstrap, "
            f"{plain_cpu_total / all_cpu:.0f}x for the whole analysis; "
            f"wall clock: {plain_wall_total / boot_wall:.0f}x and {plain_wall_total / all_wall:.0f}x"
        )


if __name__ == "__main__":
    main()
