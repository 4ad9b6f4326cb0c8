"""Score a prediction file (docs/predictions-format.md) against the ground truth of a prepared dataset.

Prints one row per metric and writes the full results (per class, per FP rate) as JSON with --out.
By default the metrics are the dataset's protocols (mAP@0.1, FROC@0.1 and its official protocol when one is
registered).
"""

from __future__ import annotations

import argparse

NAME = "evaluate"
HELP = "score predictions against a prepared dataset (mAP@0.1, FROC@0.1, official protocols)"
DEFAULT_METRICS = ("map@0.1", "froc@0.1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, help="root of the prepared dataset (holds dataset.json)")
    parser.add_argument("--predictions", required=True, help="prediction JSON file")
    parser.add_argument(
        "--protocol",
        default=None,
        help="metric or protocol name(s), comma-separated (default: the dataset's protocols)",
    )
    parser.add_argument("--split", default="test", help="split whose cases are evaluated (default: test)")
    parser.add_argument("--out", default=None, help="write the results as JSON to this file")
    parser.add_argument(
        "--per-case", default=None, help="write per-case TP/FP/object counts as CSV to this file"
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="count cases absent from the prediction file as cases without detections (default: error)",
    )


def _metric_names(requested: str | None, dataset_id: str) -> list[str]:
    from benchmark.metrics import METRICS, get_metric

    if requested:
        names = [n.strip() for n in requested.split(",") if n.strip()]
        return [get_metric(n).name for n in names]  # unknown names raise with suggestions
    try:
        from benchmark.datasets import get_dataset

        protocols = get_dataset(dataset_id).protocols
    except ValueError:
        protocols = DEFAULT_METRICS
    return [p for p in protocols if p in METRICS] or list(DEFAULT_METRICS)


def _format_row(name: str, result) -> str:  # noqa: ANN001 - MetricResult
    value = "n/a" if result.value != result.value else f"{100 * result.value:6.2f}"
    details = result.details
    extra = ""
    per_class = details.get("per_class")
    if isinstance(per_class, dict) and len(per_class) > 1:
        extra = "  " + ", ".join(
            f"{c}: {'n/a' if v is None else f'{100 * v:.2f}'}" for c, v in per_class.items()
        )
    per_rate = details.get("per_rate")
    if isinstance(per_rate, list) and per_rate:
        extra += "  sens@FPI " + " ".join("n/a" if v is None else f"{100 * v:.1f}" for v in per_rate)
    return f"{name:<14} {value:>7}{extra}"


def _jsonable(obj):  # noqa: ANN001, ANN202 - nested JSON-like data
    """Replace NaN/inf (not valid JSON) by null, recursively; numpy scalars become Python numbers."""
    import math

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def run(args: argparse.Namespace) -> int:
    from benchmark.commands.checks import Checks
    from benchmark.data.format import SPLIT_NAMES

    checks = Checks()
    root = checks.input_dir(args.dataset, "--dataset", "a prepared dataset folder")
    predictions_file = checks.input_file(args.predictions, "--predictions", "a prediction JSON file")
    out_file = checks.output_file(args.out, "--out", inputs=[predictions_file])
    per_case_file = checks.output_file(args.per_case, "--per-case", inputs=[predictions_file])
    checks.distinct([("--out", out_file), ("--per-case", per_case_file)])
    if args.split not in SPLIT_NAMES:
        checks.add(f"--split: unknown split {args.split!r}. Valid splits: {', '.join(SPLIT_NAMES)}")
    if args.protocol is not None:
        from benchmark.metrics import get_metric

        names = [n.strip() for n in args.protocol.split(",") if n.strip()]
        if not names:
            checks.add("--protocol: give at least one metric or protocol name")
        for name in names:
            checks.lookup(get_metric, name, "--protocol")
    checks.raise_if_any()

    import pandas as pd

    from benchmark import __version__
    from benchmark.converters import evaluation_extras
    from benchmark.data.format import PreparedDataset
    from benchmark.metrics import (
        EvaluationInput,
        get_metric,
        load_ground_truth,
        load_predictions,
        match_tables,
    )

    dataset = PreparedDataset(root)
    case_ids = dataset.case_ids(args.split)
    if not case_ids:
        raise ValueError(f"split {args.split!r} of {dataset.root} has no cases")
    class_names = tuple(dataset.meta.classes)
    predictions = load_predictions(
        args.predictions, case_ids, len(class_names), allow_missing=args.allow_missing
    )
    if predictions.dataset != dataset.meta.dataset_id:
        raise ValueError(
            f"{args.predictions} is for dataset {predictions.dataset!r} but {dataset.root} is "
            f'{dataset.meta.dataset_id!r}; fix the file\'s "dataset" field or pick the matching dataset'
        )
    names = _metric_names(args.protocol, dataset.meta.dataset_id)
    metrics = [get_metric(n) for n in names]
    inputs = EvaluationInput(
        predictions=predictions.cases,
        ground_truth=load_ground_truth(dataset.root, case_ids),
        class_names=class_names,
        dataset_id=dataset.meta.dataset_id,
        dataset_root=dataset.root,
        extra=evaluation_extras(dataset.root),
    )
    tables = match_tables(metrics, inputs)
    results = {m.name: m.score(tables[m.match_key]) for m in metrics}

    n_objects = sum(len(g) for g in inputs.ground_truth.values())
    n_dets = sum(len(p) for p in predictions.cases.values())
    print(
        f"{dataset.meta.name} ({dataset.meta.dataset_id}), split {args.split}: {len(case_ids)} cases, "
        f"{n_objects} objects, {n_dets} detections"
    )
    print(f"{'metric':<14} {'value %':>7}")
    for name, result in results.items():
        print(_format_row(name, result))

    if args.per_case:
        frames = []
        for key, table in tables.items():
            frame = table.per_image()
            frame.insert(0, "matching", str(key))
            frames.append(frame)
        from benchmark.core.atomic import atomic_write_text

        atomic_write_text(per_case_file, pd.concat(frames, ignore_index=True).to_csv(index=False))
    if args.out:
        out = {
            "detbench_version": __version__,
            "dataset": dataset.meta.dataset_id,
            "dataset_root": str(dataset.root),
            "split": args.split,
            "predictions": str(args.predictions),
            "prediction_metadata": predictions.metadata,
            "num_cases": len(case_ids),
            "num_objects": n_objects,
            "num_detections": n_dets,
            "class_names": list(class_names),
            "metrics": {name: r.to_dict() for name, r in results.items()},
        }
        from benchmark.core.atomic import atomic_write_json

        atomic_write_json(out_file, _jsonable(out), indent=2, allow_nan=False)
        print(f"wrote {args.out}")
    return 0
