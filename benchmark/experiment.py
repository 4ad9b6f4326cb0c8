"""One experiment end to end: prepared dataset -> preprocessing -> fine-tuning -> validation-tuned inference -> scores.

``run_experiment`` is what ``benchmark train`` calls. Every stage is resumable: preprocessing skips cases
with a matching fingerprint, training resumes from its last checkpoint, inference is recomputed. The result
(``result.json`` in the run folder) carries the metrics and the provenance of the run.
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmark.core.atomic import atomic_write_json
from benchmark.core.run_key import RunKey
from benchmark.provenance import collect_provenance, dataset_provenance

DATA_ENV = "DETBENCH_DATA"
SCALE_OF_PROFILE = {"tiny": "tiny", "cpu": "small", "paper": "full"}


def default_data_root() -> Path:
    """``$DETBENCH_DATA`` when set, else ``./data``."""
    return Path(os.environ.get(DATA_ENV, "data"))


@dataclass(frozen=True)
class ExperimentConfig:
    """A fine-tuning experiment; ``dataset`` is a prepared-dataset folder, a twin id (``S06``) or a dataset id."""

    dataset: str
    architecture: str = "retina_unet"
    profile: str = "cpu"
    pretraining: str = "fixed"
    seed: int = 0
    fold: int | None = None
    data_root: str | None = None
    out: str | None = None
    workers: int = 1
    device: str = "auto"
    mirror_tta: bool = False
    resume: bool = True
    max_steps: int | None = None
    progress: bool = True
    overwrite_preprocessing: bool = False
    runs: str = "runs"  # root of the run folders when ``out`` is not given: RUNS/<RunKey.folder>
    weights: str | None = None  # pre-trained weights: any file/folder the importers read, or a registered name
    transfer: str = "encoder"  # "encoder" (the paper) or "all"
    stem: str | None = None  # "random" | "replicate" | "transfer:NAME"; None: the paper's rule
    # cache of the synthetic pre-trainings of the study settings (mt, mae, ...); None: $DETBENCH_PRETRAINED or
    # DATA_ROOT/pretrained (pretraining.registry.pretrained_cache_dir)
    pretrained_cache: str | None = None
    # low-data regime and fine-tuning strategy (docs/training.md, "Low-data regimes and fine-tuning strategies")
    train_fraction: float = 1.0
    subset_seed: int = 0
    finetune: str = "full"  # full | linear-probe | lora | partial (benchmark.training.finetune)
    lora_rank: int = 8
    lora_alpha: float = 16.0
    partial_stages: int = 1

    def lowdata_options(self) -> dict[str, object]:
        """RunKey options of the training fraction and the fine-tuning strategy; empty for the defaults, so
        default runs keep their keys and folders."""
        from benchmark.training.finetune import FinetuneConfig
        from benchmark.training.subsets import check_fraction

        options: dict[str, object] = {}
        if check_fraction(self.train_fraction) < 1.0:
            options["fraction"] = f"{self.train_fraction:g}"
            if self.subset_seed != 0:
                options["subset_seed"] = self.subset_seed
        strategy = FinetuneConfig(self.finetune, self.lora_rank, self.lora_alpha, self.partial_stages)
        options.update(strategy.run_options())
        return options

    def run_key(self) -> RunKey:
        """The run's identity, computed without generating or reading any image (see :func:`experiment_key`)."""
        return experiment_key(self)

    def run_dir(self) -> Path:
        """``out`` when given, else ``RUNS/<RunKey.folder>``."""
        return Path(self.out) if self.out else Path(self.runs) / self.run_key().folder


def scale_of_profile(profile: str) -> str:
    """The twin scale a profile trains on (tiny -> tiny, cpu -> small, paper -> full; others small)."""
    return SCALE_OF_PROFILE.get(profile, "small")


def _twin_info(meta_provenance: dict) -> tuple[str, int] | None:
    """``(scale, seed)`` of a synthetic twin from its dataset.json provenance, ``None`` for other datasets."""
    if meta_provenance.get("kind") != "synthetic_twin":
        return None
    return str(meta_provenance.get("scale", "unknown")), int(meta_provenance.get("seed", 0))


def experiment_key(cfg: ExperimentConfig) -> RunKey:
    """The :class:`RunKey` of ``cfg``: dataset id, architecture, pre-training, profile, fold, seed and options.

    Options record what else changes results: mirror TTA, for a twin given as a folder its scale and seed
    when they are not the ones the profile would generate, and a training fraction below 1 or a fine-tuning
    strategy other than ``full`` (with its knobs). Cheap: reads at most a ``dataset.json``.
    """
    options: dict[str, object] = {"tta": cfg.mirror_tta, **cfg.lowdata_options()}
    setting = _setting(cfg.pretraining)
    if setting is not None and setting.weights == "pretrained" and cfg.weights is None:
        source = _weights_source(cfg, setting)
        if source.kind == "record":  # published weights on this machine: their hash names the run
            options["weights"] = weights_fingerprint(str(source.path))
        if cfg.stem is not None:
            options["stem"] = cfg.stem
        if cfg.transfer != "encoder":
            options["transfer"] = cfg.transfer
    if cfg.weights is not None:
        options["weights"] = weights_fingerprint(cfg.weights)
        options["transfer"] = None if cfg.transfer == "encoder" else cfg.transfer
        options["stem"] = cfg.stem
    path = Path(cfg.dataset)
    if (path / "dataset.json").is_file():
        from benchmark.data.format import PreparedDataset

        meta = PreparedDataset(path).meta
        dataset_id = meta.dataset_id
        twin = _twin_info(meta.provenance or {})
        if twin is not None and twin != (scale_of_profile(cfg.profile), 0):
            options["data"] = f"{twin[0]}-seed{twin[1]}"
    else:
        from benchmark.datasets import get_dataset

        spec = get_dataset(cfg.dataset)  # raises with "did you mean" for unknown names
        dataset_id = spec.twin_id if cfg.dataset.upper().startswith("S") else spec.id
    return RunKey.make(dataset_id, cfg.architecture, cfg.pretraining, cfg.profile, cfg.fold, cfg.seed, options)


def _setting(name: str):  # noqa: ANN202 - PretrainingSpec | None
    from pretraining.registry import PRETRAINING

    return PRETRAINING.get(name) if name in PRETRAINING else None


def _weights_source(cfg: ExperimentConfig, setting):  # noqa: ANN001, ANN202 - pretraining.registry.WeightsSource
    from pretraining.registry import weights_source

    data_root = Path(cfg.data_root) if cfg.data_root else default_data_root()
    return weights_source(setting, cfg.architecture, cfg.profile, cache_dir=cfg.pretrained_cache, data_root=data_root)


def weights_fingerprint(weights: str) -> str:
    """A short identity of a weights argument: the sha256 prefix of the file (of the checkpoint in a folder).

    Registered names resolve first; the hash is cached per (path, size, mtime), so keys stay cheap.
    """
    from pretraining.weights import resolve_weights

    path, _ = resolve_weights(weights)
    if path.is_dir():
        candidates = sorted(
            [*path.glob("checkpoint_final.pth"), *path.glob("*.pth"), *path.glob("*.pt"), *path.glob("*.model")]
        )
        if not candidates:
            raise FileNotFoundError(f"{path}: no checkpoint file (.pth, .pt or .model) in the weights folder")
        path = candidates[0]
    stat = path.stat()
    return _file_sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)[:12]


@functools.lru_cache(maxsize=64)
def _file_sha256(path: str, size: int, mtime_ns: int) -> str:  # size and mtime key the cache
    from pretraining.checkpoint import sha256_of

    return sha256_of(path)


def preprocessed_dir(prepared: Path, data_root: Path, config: str, fold: int | None) -> Path:
    """``DATA_ROOT/preprocessed/<dataset tag>/<config>[_foldK]``, keyed by everything that changes its content.

    The tag is ``<id>-<scale>-seed<seed>`` for a synthetic twin (twins of two scales never share a folder), the
    dataset id for a converted dataset in ``DATA_ROOT/prepared/<id>``, and ``<id>-<hash of its path>`` for a
    prepared folder elsewhere. The plan configuration and the fold (the plan's statistics come from the fold's
    training cases) name the sub-folder.
    """
    import hashlib

    from benchmark.data.format import PreparedDataset

    meta = PreparedDataset(prepared).meta
    twin = _twin_info(meta.provenance or {})
    if twin is not None:
        tag = f"{meta.dataset_id}-{twin[0]}-seed{twin[1]}"
    elif prepared.resolve() == (data_root / "prepared" / meta.dataset_id).resolve():
        tag = meta.dataset_id
    else:
        tag = f"{meta.dataset_id}-{hashlib.sha1(str(prepared.resolve()).encode()).hexdigest()[:8]}"
    return data_root / "preprocessed" / tag / (config if fold is None else f"{config}_fold{fold}")


@dataclass
class ExperimentResult:
    run_dir: Path
    finished: bool
    metrics: dict[str, float]
    result_file: Path | None
    match_table: object = None  # the test split's mAP@0.1 MatchTable (what the bootstrap analysis reads)
    provenance: dict | None = None
    key: RunKey | None = None


def resolve_prepared_dataset(
    dataset: str, data_root: Path, profile: str, workers: int = 1, progress: bool = True
) -> Path:
    """A prepared dataset folder for ``dataset``; synthetic twins are generated on first use.

    Twins live in ``DATA_ROOT/synthetic/<scale>/`` with the scale that fits the profile (tiny, small, full);
    real datasets must have been converted to ``DATA_ROOT/prepared/<id>`` (``benchmark convert``).
    """
    path = Path(dataset)
    if (path / "dataset.json").is_file():
        return path
    from benchmark.datasets import get_dataset

    spec = get_dataset(dataset)  # raises with "did you mean" for unknown names
    if dataset.upper().startswith("S"):
        from benchmark.grid.locks import shared_lock
        from benchmark.synthetic.generate import generate_suite

        scale = scale_of_profile(profile)
        # one generator per twin and scale: concurrent runners on one data root wait here, then find it complete
        with shared_lock(data_root, f"twin-{spec.twin_id}-{scale}"):
            (root,) = generate_suite(
                [spec.twin_id], data_root / "synthetic" / scale, scale=scale, workers=workers, progress=progress
            )
        return root
    prepared = data_root / "prepared" / spec.id
    if not (prepared / "dataset.json").is_file():
        raise FileNotFoundError(
            f"{spec.id} ({spec.name}) is not prepared under {prepared}: download it from its official source and run "
            f"`benchmark convert {spec.id} --source DOWNLOAD --out {prepared}`, or pass the prepared folder itself"
        )
    return prepared


def preprocess(
    prepared: Path,
    data_root: Path,
    config: str,
    fold: int | None,
    workers: int,
    progress: bool,
    overwrite: bool = False,
) -> Path:
    """Plan and preprocess (resumable, fingerprinted) into :func:`preprocessed_dir`."""
    from benchmark.data.format import PreparedDataset
    from benchmark.preprocessing.fingerprint import dataset_fingerprint
    from benchmark.preprocessing.pipeline import StaleOutputError, preprocess_dataset
    from benchmark.preprocessing.plan import PLAN_VERSION, PLANS_FILE, Plan
    from benchmark.preprocessing.planning import plan_preprocessing

    out = preprocessed_dir(prepared, data_root, config, fold)
    plan = Plan.load(out) if (out / PLANS_FILE).is_file() else None
    # Planning reads every training image; a stored plan of the same config and dataset state is reused.
    if (
        plan is None
        or plan.config != config
        or plan.plan_version != PLAN_VERSION
        or dataset_fingerprint(PreparedDataset(prepared), plan.train_cases) != plan.dataset_fingerprint
    ):
        plan = plan_preprocessing(prepared, config, fold=fold, workers=workers)
    try:
        preprocess_dataset(prepared, out, plan, workers=workers, overwrite=overwrite, progress=progress)
    except StaleOutputError as err:
        raise ValueError(f"{err} (benchmark train: --overwrite-preprocessing)") from None
    return out


def _ground_truth_preprocessed(data, case_ids):  # noqa: ANN001, ANN202
    return {c: data.meta(c).boxes_array()[:2] for c in case_ids}


def evaluation_input(dataset, prepared: Path, test_ids, predictions, class_names=None):  # noqa: ANN001, ANN201
    """The :class:`~benchmark.metrics.EvaluationInput` of the test split (with the converter's official files)."""
    from benchmark.converters import evaluation_extras
    from benchmark.metrics import EvaluationInput, load_ground_truth

    return EvaluationInput(
        predictions=predictions,
        ground_truth=load_ground_truth(prepared, test_ids),
        class_names=tuple(class_names if class_names is not None else dataset.meta.classes),
        dataset_id=dataset.meta.dataset_id,
        dataset_root=prepared,
        extra=evaluation_extras(prepared),
    )


def write_protocol_tables(run_dir: Path, dataset, prepared: Path, test_ids, predictions, fold) -> Path | None:  # noqa: ANN001
    """LUNA16 datasets (D06, S06): the test candidates and findings as the challenge's tables, for pooling folds.

    Written to ``RUN_DIR/protocol_luna16/`` (:mod:`benchmark.metrics.protocols.luna16_tables`); ``None`` for
    datasets without the ``luna16`` protocol.
    """
    from benchmark.datasets import get_dataset
    from benchmark.metrics.protocols.luna16_tables import luna16_tables, write_luna16_tables

    if "luna16" not in get_dataset(dataset.meta.dataset_id).protocols:
        return None
    tables = luna16_tables(evaluation_input(dataset, prepared, test_ids, predictions))
    return write_luna16_tables(run_dir, tables, fold=fold, splits_version=dataset.splits.version)


def score_test_split(dataset, prepared: Path, test_ids, predictions, class_names=None):  # noqa: ANN001, ANN201
    """Score ``predictions`` on ``test_ids`` with every protocol of the dataset (one code path for every row).

    Returns ``(results, scores, map_table)``: the metric results by name, their values, and the matching table
    of mAP@0.1 (kept for the bootstrap). ``class_names`` defaults to the dataset's classes.
    """
    from benchmark.datasets import get_dataset
    from benchmark.metrics import get_metric, match_tables

    inputs = evaluation_input(dataset, prepared, test_ids, predictions, class_names)
    metrics = [get_metric(name) for name in get_dataset(dataset.meta.dataset_id).protocols]
    tables = match_tables(metrics, inputs)
    results = {m.name: m.score(tables[m.match_key]) for m in metrics}
    scores = {name: r.value for name, r in results.items()}
    return results, scores, tables[get_metric("map@0.1").match_key]


class _PhaseClock:
    """Wall seconds per phase of one experiment (``result.json``'s ``timings_s``): where a cell's time goes."""

    def __init__(self) -> None:
        self._last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self._last, 2)
        self._last = now


def run_experiment(cfg: ExperimentConfig) -> ExperimentResult:
    """Run (or resume) the experiment of ``cfg`` and score it on the test split."""
    from benchmark.data.format import PreparedDataset
    from benchmark.inference.bundle import write_predictor
    from benchmark.inference.postprocessing import PostprocessingParams
    from benchmark.inference.predict import predict_preprocessed, to_prepared_frame
    from benchmark.inference.sliding_window import InferenceConfig
    from benchmark.metrics import (
        PredictionSet,
        save_predictions,
    )
    from benchmark.training.profiles import PROFILES
    from benchmark.training.trainer import TrainConfig, Trainer
    from pretraining.registry import PRETRAINING

    profile = PROFILES.get(cfg.profile)
    setting = PRETRAINING.get(cfg.pretraining)
    if setting.weights is None and cfg.weights is not None:
        raise ValueError(
            f"--pretraining {cfg.pretraining} trains from random weights and cannot take --weights; use "
            "--pretraining custom (the default with --weights) or a pre-training setting that takes weights"
        )
    if setting.weights == "user" and cfg.weights is None:
        raise ValueError(f"pre-training {cfg.pretraining!r} needs pre-trained weights: pass them with --weights FILE")
    if setting.weights == "pretrained" and cfg.weights is not None:
        raise ValueError(
            f"--pretraining {cfg.pretraining} brings its own weights; to fine-tune from a file use --pretraining custom"
        )
    data_root = Path(cfg.data_root) if cfg.data_root else default_data_root()
    from benchmark.grid.locks import shared_lock

    clock = _PhaseClock()

    weights = cfg.weights
    if setting.weights == "pretrained":
        from benchmark.grid.pretrain import pretraining_lock_name
        from models.registry import ARCHITECTURES
        from pretraining.registry import resolve_pretrained

        # one pre-training per (method, encoder, profile), shared by runs and runners: made by one process
        encoder = ARCHITECTURES.get(cfg.architecture).encoder_kind
        with shared_lock(data_root, pretraining_lock_name(cfg.pretraining, encoder, cfg.profile)):
            source = resolve_pretrained(
                setting,
                cfg.architecture,
                cfg.profile,
                cache_dir=cfg.pretrained_cache,
                data_root=data_root,
                device=cfg.device,
                progress=cfg.progress,
            )
        weights = str(source.checkpoint.resolve())
    # twin generation and preprocessing are shared by every run of the dataset: one process writes them at a time
    tag = f"{Path(cfg.dataset).name}-{scale_of_profile(cfg.profile)}"
    with shared_lock(data_root, tag):
        prepared = resolve_prepared_dataset(cfg.dataset, data_root, cfg.profile, cfg.workers, cfg.progress)
    with shared_lock(data_root, f"{tag}-{setting.preprocessing}-{cfg.fold}"):
        preprocessed = preprocess(
            prepared, data_root, setting.preprocessing, cfg.fold, cfg.workers, cfg.progress, cfg.overwrite_preprocessing
        )
    dataset = PreparedDataset(prepared)
    clock.lap("prepare")  # pre-training lookup, twin generation and preprocessing (shared; cached after the first run)
    key = cfg.run_key()
    run_dir = cfg.run_dir()
    trainer = Trainer(
        TrainConfig(
            preprocessed=str(preprocessed),
            out_dir=str(run_dir),
            architecture=cfg.architecture,
            profile=cfg.profile,
            seed=cfg.seed,
            fold=cfg.fold,
            device=cfg.device,
            resume=cfg.resume,
            max_steps=cfg.max_steps,
            progress=cfg.progress,
            weights=weights,
            transfer=cfg.transfer,
            stem=cfg.stem,
            train_fraction=cfg.train_fraction,
            subset_seed=cfg.subset_seed,
            finetune=cfg.finetune,
            lora_rank=cfg.lora_rank,
            lora_alpha=cfg.lora_alpha,
            partial_stages=cfg.partial_stages,
        )
    )
    training = trainer.fit()
    clock.lap("training")
    if not training.finished:
        return ExperimentResult(run_dir, False, {}, None, key=key)

    data, model = trainer.data, trainer.model
    inference = InferenceConfig(
        patch_size=trainer.patch_size,
        overlap=profile.inference_overlap,
        mirror_axes=(0, 1, 2) if cfg.mirror_tta else (),
        batch_size=profile.batch_size,
    )
    splits = dataset.splits
    val_ids = list(splits.fold(cfg.fold)["val"] if cfg.fold is not None else splits.val)
    test_ids = splits.fold(cfg.fold).get("test", splits.test) if cfg.fold is not None else splits.test
    window_selection = None
    if val_ids:
        from benchmark.inference.window_selection import candidate_patches, select_window

        patches = candidate_patches(
            trainer.patch_size, profile.inference_patch_scales, model.config.encoder.total_stride
        )
        choice = select_window(
            lambda config: predict_preprocessed(model, data, val_ids, config, cfg.progress),
            _ground_truth_preprocessed(data, val_ids),
            dataset.meta.classes,
            inference,
            patches,
        )
        inference, params, val_map = choice.inference, choice.params, choice.val_map
        window_selection = choice.record()
        postprocessing_source = "tuned on the validation split"
    else:  # e.g. LUNA16's 9-0-1 scheme: no validation set, the post-processing keeps the training defaults
        params, val_map = PostprocessingParams(), None
        postprocessing_source = "defaults (no validation split)"
    clock.lap("validation")  # window choice and post-processing tuning on the validation split
    params.save(run_dir / "postprocessing.json")
    write_predictor(  # what `benchmark predict` needs: plan, model config, inference and post-processing
        run_dir, cfg.architecture, model.config, data.plan, inference, params, dataset.meta.dataset_id,
        dataset.meta.classes, cfg.profile, key.to_json(),
    )
    test_pred = to_prepared_frame(predict_preprocessed(model, data, test_ids, inference, cfg.progress), data, params)
    prediction_file = save_predictions(
        run_dir / "predictions_test.json",
        PredictionSet(dataset.meta.dataset_id, test_pred, metadata={"architecture": cfg.architecture}),
    )
    clock.lap("test_inference")

    results, scores, map_table = score_test_split(dataset, prepared, test_ids, test_pred)
    protocol_tables = write_protocol_tables(run_dir, dataset, prepared, test_ids, test_pred, cfg.fold)
    clock.lap("scoring")
    provenance = collect_provenance(
        cfg,
        run_key=key.to_json(),
        seed=cfg.seed,
        dataset=dataset_provenance(prepared),
        preprocessing=data.plan.config,
        preprocessed=str(preprocessed),
        pretrained_weights=weights,
        training_subset=trainer.subset_record() if cfg.train_fraction < 1.0 else None,
    )
    record = {
        "run_key": key.to_json(),
        "metrics": scores,
        "metric_details": {name: r.to_dict() for name, r in results.items()},
        "validation_map@0.1": val_map,
        "postprocessing_source": postprocessing_source,
        "postprocessing": asdict(params),
        "inference": {
            "patch_size": [int(p) for p in inference.patch_size],
            "overlap": inference.overlap,
            "window_selection": window_selection,
        },
        "timings_s": clock.laps,
        "predictions": str(prediction_file),
        "protocol_tables": str(protocol_tables) if protocol_tables is not None else None,
        "training": {
            "steps": training.steps,
            "restarted": training.restarted,
            "seconds": training.seconds,
            "final_val_loss": training.final_val_loss,
            "finetune": {"strategy": cfg.finetune, **trainer.finetune_record()},
            "train_fraction": cfg.train_fraction,
            "n_train_cases": len(trainer.loader_case_ids),
            "parameters": training.parameters,
            "peak_memory": training.peak_memory,
        },
        "provenance": provenance,
    }
    result_file = atomic_write_json(run_dir / "result.json", record, indent=2, default=str)
    return ExperimentResult(run_dir, True, scores, result_file, map_table, provenance, key)
