"""The fine-tuning loop shared by both detector families: schedule, freezing, AMP, logs, checkpoints, resume.

One run = one (preprocessed dataset, architecture, profile, seed, fold). The patch and the encoder topology
come from :func:`run_geometry`: the profile's on ``fixed`` preprocessing, the plan's on ``default``
preprocessing (the ``paper`` profile uses the plan exactly; laptop profiles cap the planned patch to their
budget). Every epoch ends with validation batches, a CSV (and, when installed, TensorBoard) log row and
``checkpoint_last.pt`` holding the model, optimiser, AMP scaler, schedule state, loader position, the patch
and every RNG state, all as tensors and plain data, read back with ``weights_only=True``
(:mod:`benchmark.training.checkpoint`). A killed run started again continues from its last epoch boundary
and ends with the same weights as an uninterrupted one (on CPU). DETR runs restart themselves (appendix C
of Eckstein et al. 2025) when validation has not improved enough.
"""

from __future__ import annotations

import csv
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from benchmark.core.atomic import atomic_write, atomic_write_json
from benchmark.training.checkpoint import read_checkpoint, rng_state, set_rng_state
from benchmark.training.devices import resolve_device
from benchmark.training.ema import WeightAverage
from benchmark.training.finetune import apply_trainable, parameter_counts, peak_memory, prepare_model
from benchmark.training.optim import (
    DETR_OPTIMIZER,
    RETINA_UNET_OPTIMIZER,
    build_optimizer,
    set_lr,
)
from benchmark.training.profiles import PROFILES, TrainingProfile
from benchmark.training.schedule import ScheduleConfig, encoder_frozen, learning_rate

CHECKPOINT = "checkpoint_last.pt"
FINAL = "model_final.pt"
DEVICES = ("auto", "cpu", "cuda")
#: fields of a low-data / fine-tuning run a checkpoint must agree on to be resumed
RUN_FIELDS = ("train_fraction", "subset_seed", "finetune", "lora_rank", "lora_alpha", "partial_stages")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a fine-tuning run (saved with the run as ``train_config.json``, together with
    the patch and encoder topology the run resolved them to: :meth:`Trainer.geometry`)."""

    preprocessed: str
    out_dir: str
    architecture: str = "retina_unet"
    profile: str = "cpu"
    seed: int = 0
    fold: int | None = None
    device: str = "auto"
    amp: bool = True
    resume: bool = True
    max_steps: int | None = None  # stop after this many optimiser steps in this call (tests, time budgets)
    num_workers: int | None = None  # default: the profile's
    grad_clip: float = 12.0
    restart_check_fraction: float = 0.1  # DETR: compare validation at this share of the iterations
    restart_min_improvement: float = 0.05  # relative validation-loss drop required by then
    progress: bool = True
    # pre-trained weights (pretraining.weights.load_pretrained: a file/folder of any supported format or a
    # registered name); the encoder is then built as the checkpoint describes, whatever the profile's width
    weights: str | None = None
    transfer: str = "encoder"  # "encoder" (the paper) | "all"
    stem: str | None = None  # "random" | "replicate" | "transfer:NAME"; None = the paper's default
    # low-data regime: this share of the training cases, a nested stratified subset (benchmark.training.subsets)
    train_fraction: float = 1.0
    subset_seed: int = 0  # seed of the subset ordering (independent of ``seed``: every run of a fraction shares it)
    # fine-tuning strategy (benchmark.training.finetune): full | linear-probe | lora | partial
    finetune: str = "full"
    lora_rank: int = 8
    lora_alpha: float = 16.0
    partial_stages: int = 1  # partial: the last K encoder stages train

    def __post_init__(self) -> None:
        from benchmark.training.subsets import check_fraction

        if self.device not in DEVICES:
            raise ValueError(f"Unknown device {self.device!r}. Valid: {', '.join(DEVICES)}")
        check_fraction(self.train_fraction)
        self.finetune_config()  # validates strategy, rank, alpha and stages

    def finetune_config(self):  # noqa: ANN201 - benchmark.training.finetune.FinetuneConfig
        from benchmark.training.finetune import FinetuneConfig

        return FinetuneConfig(self.finetune, self.lora_rank, self.lora_alpha, self.partial_stages)


@dataclass
class TrainState:
    """Mutable progress of a run, saved in every checkpoint."""

    step: int = 0
    best_val_loss: float = float("inf")
    first_val_loss: float | None = None
    restarted: bool = False
    history: list[dict] = field(default_factory=list)


@dataclass
class TrainResult:
    out_dir: Path
    steps: int
    final_val_loss: float
    restarted: bool
    finished: bool
    seconds: float
    parameters: dict = field(default_factory=dict)  # trainable / total / adapter counts (finetune.parameter_counts)
    peak_memory: dict = field(default_factory=dict)  # bytes and how they were measured (finetune.peak_memory)


def family_of(architecture: str) -> str:
    from models.config import RetinaUNetConfig
    from models.registry import ARCHITECTURES

    return "retina_unet" if ARCHITECTURES.get(architecture).config is RetinaUNetConfig else "deformable_detr"


def run_geometry(profile: TrainingProfile, plan) -> tuple[tuple[int, int, int], object | None]:  # noqa: ANN001
    """The training (and inference) patch of a run and its planned encoder topology (``None``: the profile's).

    * ``fixed`` preprocessing: the profile's patch and network (the paper's fixed 128^3 setting, scaled down
      on the laptop profiles).
    * ``default`` preprocessing, profile ``default_plan="exact"`` (``paper``): the plan's patch and the
      topology planned for it (:func:`benchmark.preprocessing.planning.network_topology`: stages, strides
      and kernels per axis), as nnDetection trains its default configuration.
    * ``default`` preprocessing, ``default_plan="capped"`` (``cpu``, ``tiny``): the profile's own network and
      the plan's patch scaled down to the profile's voxel budget (``prod(profile.patch_size)``), keeping its
      aspect ratio, in multiples of the profile network's total stride
      (:func:`benchmark.preprocessing.planning.scale_patch_to_budget`); a plan's patch within the budget is
      kept as it is.
    """
    from benchmark.preprocessing.planning import network_topology, scale_patch_to_budget
    from models.config import EncoderConfig

    if plan.config != "default":
        return tuple(int(p) for p in profile.patch_size), None  # type: ignore[return-value]
    planned = tuple(int(p) for p in plan.patch_size)
    if profile.default_plan == "exact":
        return planned, network_topology(plan)  # type: ignore[return-value]
    total_stride = max(EncoderConfig(n_stages=profile.n_stages).total_stride)  # the profile's network
    return scale_patch_to_budget(planned, profile.voxel_budget, total_stride), None


def build_model_for(
    cfg: TrainConfig,
    profile: TrainingProfile,
    data,  # noqa: ANN001
    topology=None,  # noqa: ANN001 - benchmark.preprocessing.planning.NetworkTopology
    pretrained=None,  # noqa: ANN001 - pretraining.checkpoint.PretrainedCheckpoint
) -> torch.nn.Module:
    """The detector of ``cfg`` sized by the profile (or with a planned ``topology``; by ``pretrained``'s encoder
    when given, which wins over both); Retina U-Net anchors planned from the training boxes."""
    from models.registry import build_detector, default_config
    from models.retina_unet import with_planned_anchors
    from pretraining.transfer import detector_config_for_checkpoint

    in_channels = len(data.plan.normalization)
    num_classes = len(data.plan.classes) or 1 + max(
        (k for c in train_case_ids(cfg, data) for k in data.meta(c).classes.values()), default=0
    )
    shape = (
        {"n_stages": profile.n_stages}
        if topology is None
        else {"strides": topology.strides, "kernel_sizes": topology.kernel_sizes}
    )
    config = default_config(
        cfg.architecture,
        in_channels=in_channels,
        num_classes=num_classes,
        width_multiplier=profile.width_multiplier,
        **shape,  # type: ignore[arg-type]
    )
    if config.encoder.kind == "resenc":  # the profile may use a shallower ResEnc (cpu: fewer blocks per stage)
        config = config.with_encoder(blocks=config.encoder.with_leading_blocks(profile.resenc_blocks).blocks)
    if pretrained is not None:
        config = detector_config_for_checkpoint(cfg.architecture, pretrained, in_channels, num_classes)
    if family_of(cfg.architecture) == "retina_unet":
        config = replace(config, **dict(profile.retina_unet_overrides))
        boxes = np.concatenate([data.meta(c).boxes_array()[0] for c in train_case_ids(cfg, data)] + [np.zeros((0, 6))])
        sizes = boxes[:, 3:] - boxes[:, :3]
        if len(sizes):
            config = with_planned_anchors(config, sizes)
    else:
        config = replace(config, **dict(profile.detr_overrides))
    torch.manual_seed(cfg.seed)
    return build_detector(cfg.architecture, config)


def optimizer_config_for(family: str, profile: TrainingProfile):  # noqa: ANN201 - optim.OptimizerConfig
    """The paper's optimiser of a detector family with the profile's replacements (Trainer and benchmarks)."""
    if family == "retina_unet":
        return replace(RETINA_UNET_OPTIMIZER, **dict(profile.retina_unet_optimizer))
    return replace(DETR_OPTIMIZER, **dict(profile.detr_optimizer))


def all_train_case_ids(cfg: TrainConfig, data) -> list[str]:  # noqa: ANN001
    """The whole training split (of the fold) before any low-data subset."""
    return data.fold_case_ids(cfg.fold, "train") if cfg.fold is not None else data.case_ids("train")


def training_subset(cfg: TrainConfig, data):  # noqa: ANN001, ANN201 - benchmark.training.subsets.TrainingSubset
    """The nested stratified subset of ``cfg.train_fraction`` (:mod:`benchmark.training.subsets`)."""
    from benchmark.training.subsets import select_subset

    ids = all_train_case_ids(cfg, data)
    return select_subset({c: list(data.meta(c).classes.values()) for c in ids}, cfg.train_fraction, cfg.subset_seed)


def train_case_ids(cfg: TrainConfig, data) -> list[str]:  # noqa: ANN001
    """The cases a run trains on: the training split, or its subset when ``train_fraction < 1`` (split order)."""
    ids = all_train_case_ids(cfg, data)
    if cfg.train_fraction >= 1.0:
        return ids
    chosen = set(training_subset(cfg, data).case_ids)
    return [c for c in ids if c in chosen]


def val_case_ids(cfg: TrainConfig, data) -> list[str]:  # noqa: ANN001
    ids = data.fold_case_ids(cfg.fold, "val") if cfg.fold is not None else data.case_ids("val")
    return ids or train_case_ids(cfg, data)[:1]


def _to_device(
    batch: dict, device: torch.device, memory_format: torch.memory_format = torch.contiguous_format
) -> tuple[torch.Tensor, list[dict]]:
    from benchmark.loading.sampling import batch_targets

    images = batch["image"].to(device, non_blocking=True).contiguous(memory_format=memory_format)
    targets = [{k: v.to(device) for k, v in t.items()} for t in batch_targets(batch)]
    return images, targets


class Trainer:
    """Runs :class:`TrainConfig`; small methods so each phase can be tested and reused."""

    def __init__(self, cfg: TrainConfig) -> None:
        from benchmark.loading.data import PreprocessedData
        from benchmark.loading.loader import PatchLoader
        from benchmark.loading.sampling import LoaderConfig
        from pretraining.transfer import init_from_pretrained
        from pretraining.weights import load_pretrained

        self.cfg = cfg
        self.profile = PROFILES.get(cfg.profile)
        self.family = family_of(cfg.architecture)
        self.device = resolve_device(cfg.device)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.data = PreprocessedData(cfg.preprocessed)
        workers = self.profile.num_workers if cfg.num_workers is None else cfg.num_workers
        #: the patch this run trains with and inference must tile with (see :func:`run_geometry`)
        self.patch_size, self.topology = run_geometry(self.profile, self.data.plan)
        loader_cfg = LoaderConfig(
            patch_size=self.patch_size,
            batch_size=self.profile.batch_size,
            batches_per_epoch=self.profile.iterations_per_epoch,
            foreground_fraction=self.profile.foreground_fraction,
        )
        #: the cases this run trains on (a nested subset of the training split when ``train_fraction < 1``)
        self.loader_case_ids = train_case_ids(cfg, self.data)
        # one process (workers 0, the `cpu` profile): the next batch is built in a background thread meanwhile
        self.loader = PatchLoader(
            self.data, self.loader_case_ids, loader_cfg, cfg.seed, workers, prefetch_thread=workers == 0
        )
        val_cfg = replace(loader_cfg, batches_per_epoch=self.profile.val_batches)
        self.val_loader = PatchLoader(self.data, val_case_ids(cfg, self.data), val_cfg, cfg.seed + 1, 0)
        pretrained = load_pretrained(cfg.weights) if cfg.weights else None
        self.model = build_model_for(cfg, self.profile, self.data, self.topology, pretrained)
        self.transfer_report = None
        if pretrained is not None:  # before initial_weights: a DETR restart resets to the pre-trained weights
            self.transfer_report = init_from_pretrained(self.model, pretrained, cfg.transfer, cfg.stem, self.out)
            del pretrained
        #: the fine-tuning strategy (benchmark.training.finetune); LoRA adapters go on the pre-trained encoder
        self.finetune = cfg.finetune_config()
        self.model = prepare_model(self.model, self.finetune)
        self.model = self.model.to(self.device)
        #: channels-last-3d on CPU (profile ``channels_last``): oneDNN's 3D convolutions, ~2x faster backward
        self.memory_format = (
            torch.channels_last_3d
            if self.profile.channels_last and self.device.type == "cpu"
            else torch.contiguous_format
        )
        self.model = self.model.to(memory_format=self.memory_format)
        if self.profile.num_threads is not None and self.device.type == "cpu":
            torch.set_num_threads(self.profile.num_threads)
        self.initial_weights = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        #: running average of the weights (profile ``weight_ema``), swapped in when the run finishes
        self.ema = WeightAverage(self.model, self.profile.weight_ema) if self.profile.weight_ema else None
        optim_cfg = self.optimizer_config()
        self.optimizer = build_optimizer(self.model, optim_cfg)
        self.schedule = ScheduleConfig(
            total_iterations=self.profile.total_iterations(self.family),
            target_lr=optim_cfg.lr,
            warmup_iterations=self.profile.warmup_iterations,
        )
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        self.state = TrainState()
        self._frozen: bool | None = None
        self._tb = None

    def optimizer_config(self):  # noqa: ANN201 - benchmark.training.optim.OptimizerConfig
        """The family's optimiser (the paper's) with the profile's replacements."""
        return optimizer_config_for(self.family, self.profile)

    # -- persistence ---------------------------------------------------------------------------------
    def geometry(self) -> dict:
        """Preprocessing configuration, patch and encoder topology of the run, as plain data."""
        enc = self.model.config.encoder
        return {
            "preprocessing": self.data.plan.config,
            "patch_size": [int(p) for p in self.patch_size],
            "encoder_strides": [list(s) for s in enc.stage_strides_3d],
            "encoder_kernel_sizes": [list(k) for k in enc.stage_kernel_sizes],
        }

    def save_checkpoint(self, path: Path | None = None) -> Path:
        """Write the resumable state; only tensors and plain data, so it loads with ``weights_only=True``."""
        path = path or self.out / CHECKPOINT
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "loader": self.loader.state_dict(),
            "state": asdict(self.state),
            "schedule": asdict(self.schedule),
            "rng": rng_state(),
            "config": asdict(self.cfg),
            "geometry": self.geometry(),
            "ema": self.ema.state_dict() if self.ema is not None else None,
        }
        return atomic_write(path, lambda fh: torch.save(payload, fh))

    def load_checkpoint(self, path: Path) -> None:
        """Resume from ``path`` (read with ``weights_only=True``); refuses a checkpoint of another run."""
        payload = read_checkpoint(path, map_location=self.device)
        saved = payload["config"]
        defaults = TrainConfig(self.cfg.preprocessed, self.cfg.out_dir)  # checkpoints from before a field: default
        for key in ("architecture", "profile", "seed", "fold", *RUN_FIELDS):
            if saved.get(key, getattr(defaults, key)) != getattr(self.cfg, key):
                raise ValueError(
                    f"{path} belongs to a run with {key}={saved[key]!r}, not {getattr(self.cfg, key)!r}; "
                    "use another --out folder or pass --no-resume"
                )
        mine = self.geometry()
        for key, value in payload.get("geometry", {}).items():  # checkpoints before the geometry record: none
            if value != mine.get(key):
                raise ValueError(
                    f"{path} belongs to a run with {key}={value!r}, not {mine.get(key)!r} (the preprocessing plan "
                    "changed?); use another --out folder or pass --no-resume"
                )
        self.model.load_state_dict(payload["model"])
        if self.ema is not None:  # a checkpoint without an average (written before weight_ema): start one here
            if payload.get("ema") is not None:
                self.ema.load_state_dict(payload["ema"])
            else:
                self.ema.reset(self.model.state_dict())
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scaler.load_state_dict(payload["scaler"])
        self.loader.load_state_dict(payload["loader"])
        self.state = TrainState(**payload["state"])
        self.schedule = ScheduleConfig(**payload["schedule"])
        set_rng_state(payload["rng"])

    # -- one step / validation -------------------------------------------------------------------------
    def _apply_schedule(self, step: int) -> float:
        frozen = encoder_frozen(step, self.schedule)
        if frozen != self._frozen:
            apply_trainable(self.model, self.finetune, not frozen)
            self._frozen = frozen
        lr = learning_rate(step, self.schedule)
        set_lr(self.optimizer, lr)
        return lr

    def train_step(self, batch: dict) -> dict[str, float]:
        self.model.train()
        images, targets = _to_device(batch, self.device, self.memory_format)
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
            losses = self.model.compute_loss(images, targets)
        self.scaler.scale(losses["loss"]).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.model)
        return {k: float(v.detach()) for k, v in losses.items()}

    @torch.no_grad()
    def validate(self) -> float:
        """Mean loss over the fixed validation batches (the same batches every epoch)."""
        self.model.train()  # losses need training-mode heads; no optimiser step is taken
        total, n = 0.0, 0
        for index in range(self.profile.val_batches):
            images, targets = _to_device(self.val_loader.batch(0, index), self.device, self.memory_format)
            with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
                total += float(self.model.compute_loss(images, targets)["loss"])
            n += 1
        return total / max(n, 1)

    def _maybe_restart(self, val_loss: float) -> bool:
        """DETR restart rule: from ``restart_check_fraction`` of the run on, restart once unless the best later
        validation loss fell ``restart_min_improvement`` below the first one."""
        if self.family != "deformable_detr" or self.state.restarted or len(self.state.history) < 2:
            return False  # needs a first validation and at least one later one to judge progress
        check_at = int(self.cfg.restart_check_fraction * self.schedule.total_iterations)
        if self.state.step < check_at:
            return False
        target = self.state.first_val_loss * (1.0 - self.cfg.restart_min_improvement)
        if self.state.best_val_loss <= target:
            return False
        self.model.load_state_dict(self.initial_weights)
        if self.ema is not None:
            self.ema.reset(self.initial_weights)
        self.optimizer = build_optimizer(self.model, self.optimizer_config())
        self.schedule = self.schedule.restarted(self.profile.detr_restart_warmup_iterations)
        self.state.restarted = True
        self._frozen = None
        self._log_event(
            f"restart at step {self.state.step}: best validation loss {self.state.best_val_loss:.4f} did not "
            f"reach {target:.4f}; whole-network warm-up of {self.schedule.warmup_iterations} to "
            f"{self.schedule.target_lr:g}"
        )
        return True

    # -- logging -----------------------------------------------------------------------------------------
    def _log_event(self, message: str) -> None:
        with open(self.out / "events.log", "a") as fh:
            fh.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {message}\n")

    def _log_epoch(self, row: dict) -> None:
        path = self.out / "training_log.csv"
        new = not path.is_file()
        with open(path, "a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)
        if self._tb is None:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.out / "tensorboard"))
            except ImportError:  # tensorboard is optional
                self._tb = False
        if self._tb:
            for key, value in row.items():
                if isinstance(value, float):
                    self._tb.add_scalar(key, value, row["step"])

    # -- the loop ----------------------------------------------------------------------------------------
    def fit(self) -> TrainResult:
        from tqdm import tqdm

        start_time = time.time()
        ckpt = self.out / CHECKPOINT
        if self.cfg.resume and ckpt.is_file():
            self.load_checkpoint(ckpt)
            self._log_event(f"resumed from {ckpt} at step {self.state.step}")
        atomic_write_json(self.out / "train_config.json", {**asdict(self.cfg), **self.geometry()}, indent=2)
        if self.cfg.train_fraction < 1.0:
            from benchmark.training.subsets import SUBSET_FILE

            atomic_write_json(self.out / SUBSET_FILE, self.subset_record(), indent=2)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        total = self.schedule.total_iterations
        per_epoch = self.profile.iterations_per_epoch
        budget = total if self.cfg.max_steps is None else min(total, self.state.step + self.cfg.max_steps)
        bar = tqdm(total=total, initial=self.state.step, disable=not self.cfg.progress, unit="it", desc="train")
        val_loss = self.state.history[-1]["val_loss"] if self.state.history else float("nan")
        while self.state.step < budget:
            epoch = self.state.step // per_epoch
            running, count = 0.0, 0
            for batch in self.loader:
                lr = self._apply_schedule(self.state.step)
                losses = self.train_step(batch)
                running, count = running + losses["loss"], count + 1
                self.state.step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{losses['loss']:.3f}", lr=f"{lr:.2e}")
                if self.state.step >= budget and self.state.step % per_epoch:
                    break  # stopped mid-epoch: nothing is saved, a rerun resumes from the last epoch boundary
            if self.state.step % per_epoch:
                break
            val_loss = self.validate()
            if self.state.first_val_loss is None:
                self.state.first_val_loss = val_loss
            self.state.best_val_loss = min(self.state.best_val_loss, val_loss)
            row = {
                "epoch": epoch,
                "step": self.state.step,
                "train_loss": running / max(count, 1),
                "val_loss": val_loss,
                "lr": lr,
                "seconds": round(time.time() - start_time, 2),
            }
            self.state.history.append(row)
            self._log_epoch(row)
            self._maybe_restart(val_loss)
            self.save_checkpoint()
        bar.close()
        finished = self.state.step >= total
        parameters = parameter_counts(self.model, self.finetune)
        memory = peak_memory(self.device)
        if finished and self.ema is not None:  # the averaged weights are the run's result (checkpoints keep both)
            self.ema.copy_to(self.model)
        if finished and self.finetune.strategy == "lora":
            from models.lora import merge_lora

            # a plain detector from here on: model_final.pt, inference and `benchmark predict` need no adapters
            self.model = merge_lora(self.model)
        if finished:
            final = {"model": self.model.state_dict(), "config": asdict(self.cfg), "geometry": self.geometry()}
            atomic_write(self.out / FINAL, lambda fh: torch.save(final, fh))
        return TrainResult(
            self.out,
            self.state.step,
            val_loss,
            self.state.restarted,
            finished,
            time.time() - start_time,
            parameters,
            memory,
        )

    def finetune_record(self) -> dict:
        """The strategy's knobs as ``result.json`` records them (rank/alpha for LoRA, stages for partial)."""
        f = self.finetune
        if f.strategy == "lora":
            return {"lora_rank": int(f.lora_rank), "lora_alpha": float(f.lora_alpha)}
        return {"partial_stages": int(f.partial_stages)} if f.strategy == "partial" else {}

    def subset_record(self) -> dict:
        """The run's training subset (:mod:`benchmark.training.subsets`): fraction, seed and the chosen cases."""
        return training_subset(self.cfg, self.data).to_json()


def train(cfg: TrainConfig) -> TrainResult:
    """Fine-tune ``cfg.architecture`` on a preprocessed dataset; resumes from ``cfg.out_dir`` when possible."""
    return Trainer(cfg).fit()
