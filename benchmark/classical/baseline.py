"""The classical reference row end to end: tune on validation, detect on test, score, write run folder and store.

``run_classical`` is what ``benchmark baseline`` and ``benchmark run`` (unless ``--no-classical``) call. It
reads the prepared dataset directly (no preprocessing, no training): the detector works in the prepared
image's voxel frame, so its boxes are already in the frame of ``docs/predictions-format.md``. Its run is keyed
like a trained one (:func:`benchmark.experiment.experiment_key`) with architecture ``classical`` and
pre-training ``none``; the profile only says which twin scale is read and lets the analysis select the row
beside the trained runs of that profile. Scoring uses the metric registry exactly as
:func:`benchmark.experiment.run_experiment` does (mAP@0.1, FROC@0.1 and the dataset's official protocols on
the test split). The result records the tuned parameters and the validation mAP@0.1 as provenance.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from benchmark.core.run_key import RunKey

__all__ = [
    "CLASSICAL_ARCHITECTURE",
    "CLASSICAL_PRETRAINING",
    "ClassicalConfig",
    "ClassicalResult",
    "classical_key",
    "run_classical",
]

CLASSICAL_ARCHITECTURE = "classical"
CLASSICAL_PRETRAINING = "none"


@dataclass(frozen=True)
class ClassicalConfig:
    """Where the classical baseline reads and writes; ``dataset`` is a prepared folder, a twin or dataset id."""

    dataset: str
    profile: str = "cpu"  # which twin scale (tiny, small, full) and which trained runs it stands beside
    seed: int = 0  # the detector is deterministic; the seed only names the run beside trained runs of that seed
    fold: int | None = None
    data_root: str | None = None
    runs: str = "runs"
    out: str | None = None  # the run folder (default RUNS/<RunKey.folder>)
    store: str | None = None  # a results store to write the reference row into (None: run folder only)
    workers: int = 1
    progress: bool = True

    def _experiment(self):  # noqa: ANN202 - an ExperimentConfig naming the same run
        from benchmark.experiment import ExperimentConfig

        return ExperimentConfig(
            dataset=self.dataset,
            architecture=CLASSICAL_ARCHITECTURE,
            pretraining=CLASSICAL_PRETRAINING,
            profile=self.profile,
            seed=self.seed,
            fold=self.fold,
            data_root=self.data_root,
            runs=self.runs,
            out=self.out,
        )

    def run_key(self) -> RunKey:
        return classical_key(self)

    def run_dir(self) -> Path:
        return self._experiment().run_dir()


def classical_key(cfg: ClassicalConfig) -> RunKey:
    """The run identity of the classical baseline of ``cfg`` (cheap: reads at most a ``dataset.json``)."""
    return cfg._experiment().run_key()


@dataclass
class ClassicalResult:
    run_dir: Path
    key: RunKey
    metrics: dict[str, float]
    validation_map: float
    params: dict
    match_table: object  # the test split's mAP@0.1 MatchTable
    result_file: Path
    predictions_file: Path
    seconds: float
    store_dir: Path | None = None


def _images(dataset, case_ids: list[str]) -> tuple[dict[str, np.ndarray], dict]:  # noqa: ANN001
    images, geometries = {}, {}
    for cid in case_ids:
        case = dataset.load_case(cid, with_label=False)
        images[cid], geometries[cid] = case.image, case.geometry
    return images, geometries


def run_classical(cfg: ClassicalConfig) -> ClassicalResult:
    """Tune the classical detector on validation, apply it to test, score and write it (see the module doc)."""
    from analysis.store import write_run
    from benchmark.classical.detector import detect
    from benchmark.classical.tuning import tune
    from benchmark.core.atomic import atomic_write_json
    from benchmark.core.conventions import box_centers, voxel_to_world
    from benchmark.data.format import PreparedDataset
    from benchmark.experiment import default_data_root, resolve_prepared_dataset, score_test_split
    from benchmark.metrics import (
        CasePrediction,
        PredictionSet,
        load_ground_truth,
        save_predictions,
    )
    from benchmark.provenance import collect_provenance, dataset_provenance

    start = time.perf_counter()
    data_root = Path(cfg.data_root) if cfg.data_root else default_data_root()
    prepared = resolve_prepared_dataset(cfg.dataset, data_root, cfg.profile, cfg.workers, cfg.progress)
    dataset = PreparedDataset(prepared)
    key, run_dir = cfg.run_key(), cfg.run_dir()
    splits = dataset.splits
    if cfg.fold is not None:
        fold = splits.fold(cfg.fold)
        val_ids, test_ids = fold["val"], fold.get("test", splits.test)
    else:
        val_ids, test_ids = splits.val, splits.test
    val_ids = val_ids or splits.train  # no validation split (LUNA16 9-0-1): the thresholds are tuned on train
    classes = tuple(dataset.meta.classes)

    val_images, _ = _images(dataset, val_ids)
    tuning = tune(val_images, load_ground_truth(prepared, val_ids), classes)
    del val_images
    test_images, geometries = _images(dataset, test_ids)
    predictions = {}
    for cid in test_ids:
        boxes, scores, labels = detect(test_images[cid], tuning.params, len(classes))
        predictions[cid] = CasePrediction(
            boxes=boxes,
            scores=scores,
            labels=labels,
            centers_world=voxel_to_world(box_centers(boxes), geometries[cid]).reshape(-1, 3),
        )
    prediction_file = save_predictions(
        run_dir / "predictions_test.json",
        PredictionSet(
            dataset.meta.dataset_id,
            predictions,
            metadata={"architecture": CLASSICAL_ARCHITECTURE, "reference": True, "params": tuning.params.to_json()},
        ),
    )
    results, scores, map_table = score_test_split(dataset, prepared, test_ids, predictions, classes)
    classical = {"reference": True, **tuning.to_json(), "val_cases": list(val_ids)}
    provenance = collect_provenance(
        asdict(cfg),
        run_key=key.to_json(),
        seed=cfg.seed,
        dataset=dataset_provenance(prepared),
        classical=classical,
    )
    seconds = time.perf_counter() - start
    record = {
        "run_key": key.to_json(),
        "reference": True,
        "metrics": scores,
        "metric_details": {name: r.to_dict() for name, r in results.items()},
        "validation_map@0.1": tuning.val_map,
        "classical": classical,
        "predictions": str(prediction_file),
        "seconds": seconds,
        "provenance": provenance,
    }
    result_file = atomic_write_json(run_dir / "result.json", record, indent=2, default=str)
    store_dir = None
    if cfg.store is not None:
        store_dir = write_run(
            cfg.store,
            key,
            map_table,
            provenance=provenance,
            extra={
                "reference": True,
                "protocol_metrics": scores,
                "validation_map@0.1": tuning.val_map,
                "classical": classical,
                "run_dir": str(run_dir),
            },
        )
    return ClassicalResult(
        run_dir, key, scores, tuning.val_map, tuning.params.to_json(), map_table, result_file, prediction_file,
        seconds, store_dir,
    )
