"""The pre-training loop, shared by every registered method (:mod:`pretraining.methods`).

One run = (method, encoder kind, profile, seed, data). Each step draws a batch from a
:class:`pretraining.sources.PatchSource` with the run's own ``numpy`` generator, calls
:meth:`PretrainingMethod.loss`, and takes an SGD step (Nesterov momentum 0.99, weight decay 3e-5, gradients
clipped at norm 12) with nnU-Net's poly learning rate from the profile's 1e-2 (:mod:`pretraining.profiles`). On
CUDA the forward pass runs under float16 autocast with a GradScaler; on CPU both are off.

Resumable exactly: at the end of every epoch (and when ``max_steps`` stops a run early) ``checkpoint_last.pt``
stores the method's weights, optimiser, scaler, progress, the per-step losses and every RNG state (torch CPU
and CUDA, numpy's global generator, python's ``random`` and the run's own ``numpy`` generator), all as tensors
and plain data read back with ``weights_only=True``. A run started again continues from there and ends with
the same weights, bit for bit, as an uninterrupted one (tests/pretraining/test_pretrain_methods.py, on CPU).

At the end it writes the detbench checkpoint ``pretrained.pt`` (:func:`pretraining.checkpoint.save_checkpoint`,
sha256 sidecar ``pretrained.pt.json``) with the method, the encoder config, the encoder weights, the method's
extra stems (:meth:`PretrainingMethod.stem_weights`) and decoder tensors
(:meth:`PretrainingMethod.decoder_state_dict`), the data summary, preprocessing, training record and code
version. Output folder: ``pretrain_config.json``, ``pretraining_log.csv``, ``checkpoint_last.pt``,
``pretrained.pt`` (+ ``.json``) and, unless another ``cache_dir`` is given, ``cache/`` with the preprocessed data.
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchmark.core.atomic import atomic_write, atomic_write_json
from benchmark.training.checkpoint import read_checkpoint, rng_state, set_rng_state
from benchmark.training.devices import resolve_device
from pretraining.profiles import PretrainingProfile, get_profile

__all__ = ["CHECKPOINT", "FINAL", "PretrainConfig", "PretrainResult", "PretrainTrainer", "build_source", "pretrain"]

CHECKPOINT = "checkpoint_last.pt"
FINAL = "pretrained.pt"
LOG = "pretraining_log.csv"
CONFIG = "pretrain_config.json"
DEVICES = ("auto", "cpu", "cuda")
IDENTITY = ("method", "encoder", "profile", "seed", "data")  # a checkpoint of another run is refused


@dataclass(frozen=True)
class PretrainConfig:
    """Everything that defines a pre-training run (saved as ``pretrain_config.json``).

    ``data`` is a folder of volumes (self-supervised methods) or of labelled datasets (supervised ones);
    ``None`` uses the synthetic corpus. ``cache_dir`` holds preprocessed data (default ``out_dir/cache``).
    ``method_options`` are passed to the method's builder on top of its registered defaults.
    """

    method: str
    out_dir: str
    encoder: str = "resenc"
    profile: str = "cpu"
    seed: int = 0
    data: str | None = None
    cache_dir: str | None = None
    device: str = "auto"
    amp: bool = True
    resume: bool = True
    progress: bool = True
    max_steps: int | None = None  # stop after this many steps in this call (resume later)
    workers: int = 1
    method_options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"Unknown device {self.device!r}. Valid: {', '.join(DEVICES)}")
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")


@dataclass
class PretrainResult:
    out_dir: Path
    checkpoint: Path | None  # the detbench checkpoint, when the run finished
    steps: int
    finished: bool
    losses: list[float]
    seconds: float


def build_source(cfg: PretrainConfig, profile: PretrainingProfile, spec: Any, patch_size: tuple[int, int, int]) -> Any:
    """The :class:`~pretraining.sources.PatchSource` of a run.

    Supervised methods (``spec.supervised``): ``pretraining.supervised_data.SupervisedPatchSource(data, patch,
    seed, corpus_scale)`` (``data`` ``None``: its synthetic labelled datasets). Self-supervised: a
    :class:`~pretraining.data.VolumeFolderSource` of ``data``, or the :class:`~pretraining.data.SyntheticCorpusSource`.
    """
    cache = Path(cfg.cache_dir) if cfg.cache_dir else Path(cfg.out_dir) / "cache"
    if spec.supervised:
        try:
            from pretraining.supervised_data import SupervisedPatchSource
        except ModuleNotFoundError as err:
            if err.name != "pretraining.supervised_data":
                raise
            raise ValueError(
                f"method {spec.name!r} is supervised and needs labelled pre-training data, but "
                "pretraining.supervised_data (SupervisedPatchSource) is not part of this installation"
            ) from None
        return SupervisedPatchSource(cfg.data, patch_size, cfg.seed, profile.corpus_scale)
    from pretraining.data import SyntheticCorpusSource, VolumeFolderSource

    if cfg.data is not None:
        key = hashlib.sha256(str(Path(cfg.data).resolve()).encode()).hexdigest()[:12]
        return VolumeFolderSource(cfg.data, cache / f"volumes-{key}", patch_size, profile.spacing, cfg.progress)
    return SyntheticCorpusSource(
        cache, patch_size, profile.corpus_scale, profile.corpus_cases, profile.spacing, cfg.progress, cfg.workers
    )


def _generator_state(rng: np.random.Generator) -> dict[str, Any]:
    """The generator's state as plain data (128-bit integers as strings, for ``weights_only``)."""
    state = rng.bit_generator.state
    return {
        "bit_generator": state["bit_generator"],
        "state": {k: str(v) for k, v in state["state"].items()},
        "has_uint32": int(state["has_uint32"]),
        "uinteger": int(state["uinteger"]),
    }


def _set_generator_state(rng: np.random.Generator, saved: dict[str, Any]) -> None:
    rng.bit_generator.state = {
        "bit_generator": saved["bit_generator"],
        "state": {k: int(v) for k, v in saved["state"].items()},
        "has_uint32": int(saved["has_uint32"]),
        "uinteger": int(saved["uinteger"]),
    }


def encoder_config_for(encoder: str, profile: PretrainingProfile, in_channels: int):  # noqa: ANN201
    """The encoder a profile pre-trains: the paper's fixed architecture at the profile's width and depth."""
    from models.config import EncoderConfig

    config = EncoderConfig(
        kind=encoder, in_channels=in_channels, width_multiplier=profile.width_multiplier, n_stages=profile.n_stages
    )
    return config.with_leading_blocks(profile.resenc_blocks) if encoder == "resenc" else config


class PretrainTrainer:
    """Runs a :class:`PretrainConfig`. ``profile``/``source`` override the named profile and the data source
    (tests and the Python API use them; the checkpoint records what was used)."""

    def __init__(self, cfg: PretrainConfig, profile: PretrainingProfile | None = None, source: Any = None) -> None:
        from pretraining.methods import get_method

        self.cfg = cfg
        self.profile = profile if profile is not None else get_profile(cfg.profile)
        self.spec = get_method(cfg.method)
        self.device = resolve_device(cfg.device)
        self.out = Path(cfg.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.patch_size = self.profile.patch_for(cfg.encoder)
        self.batch_size = self.profile.batch_for(cfg.encoder)
        self.source = source if source is not None else build_source(cfg, self.profile, self.spec, self.patch_size)
        if tuple(self.source.patch_size) != tuple(self.patch_size):
            raise ValueError(f"the data source draws {self.source.patch_size} patches, the run needs {self.patch_size}")
        self.encoder_config = encoder_config_for(cfg.encoder, self.profile, int(self.source.in_channels))
        stride = self.encoder_config.total_stride
        if any(p % s for p, s in zip(self.patch_size, stride, strict=True)):
            raise ValueError(f"patch {self.patch_size} is not a multiple of the encoder's total stride {stride}")
        torch.manual_seed(cfg.seed)
        np.random.seed(cfg.seed)
        random.seed(cfg.seed)
        options = {**self.spec.defaults, **cfg.method_options}
        self.model = self.spec.build(self.encoder_config, self.patch_size, **options).to(self.device)
        self.optimizer = torch.optim.SGD(
            self.model.parameters(),
            lr=self.profile.lr,
            momentum=self.profile.momentum,
            nesterov=self.profile.nesterov,
            weight_decay=self.profile.weight_decay,
        )
        self.use_amp = cfg.amp and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.use_amp)
        self.rng = np.random.default_rng(cfg.seed)
        self.step = 0
        self.losses: list[float] = []
        self.seconds = 0.0

    # -- persistence ---------------------------------------------------------------------------------
    def identity(self) -> dict[str, Any]:
        return {k: getattr(self.cfg, k) for k in IDENTITY}

    def save_state(self) -> Path:
        rng = rng_state()
        rng["generator"] = _generator_state(self.rng)
        if torch.cuda.is_available():
            rng["cuda"] = torch.cuda.get_rng_state_all()
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scaler": self.scaler.state_dict(),
            "step": self.step,
            "losses": list(self.losses),
            "seconds": self.seconds,
            "rng": rng,
            "identity": self.identity(),
            "profile": _plain(asdict(self.profile)),
        }
        return atomic_write(self.out / CHECKPOINT, lambda fh: torch.save(payload, fh))

    def load_state(self, path: Path) -> None:
        payload = read_checkpoint(path, map_location=self.device)
        for key, value in payload["identity"].items():
            if value != getattr(self.cfg, key):
                raise ValueError(
                    f"{path} belongs to a pre-training run with {key}={value!r}, not {getattr(self.cfg, key)!r}; "
                    "use another --out folder or start over without --resume"
                )
        if payload["profile"] != _plain(asdict(self.profile)):
            raise ValueError(f"{path} was written with other profile settings; use another --out folder")
        self.model.load_state_dict(payload["model"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scaler.load_state_dict(payload["scaler"])
        self.step = int(payload["step"])
        self.losses = [float(v) for v in payload["losses"]]
        self.seconds = float(payload["seconds"])
        rng = payload["rng"]
        set_rng_state(rng)
        _set_generator_state(self.rng, rng["generator"])
        if "cuda" in rng and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([t.cpu() for t in rng["cuda"]])

    # -- one step ------------------------------------------------------------------------------------
    def train_step(self) -> float:
        batch = self.source.sample(self.rng, self.batch_size)
        batch.images = batch.images.to(self.device, non_blocking=True)
        if batch.labels is not None:
            batch.labels = batch.labels.to(self.device, non_blocking=True)
        for group in self.optimizer.param_groups:
            group["lr"] = self.profile.learning_rate(self.step)
        self.model.train()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(device_type=self.device.type, dtype=torch.float16, enabled=self.use_amp):
            loss = self.model.loss(batch)["loss"]
        if not torch.isfinite(loss):
            raise FloatingPointError(f"{self.spec.name}: the loss is {float(loss)} at step {self.step}")
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(self.optimizer)
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.profile.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return float(loss.detach())

    # -- the loop ------------------------------------------------------------------------------------
    def fit(self) -> PretrainResult:
        from tqdm.auto import tqdm

        final = self.out / FINAL
        ckpt = self.out / CHECKPOINT
        if self.cfg.resume and ckpt.is_file():
            self.load_state(ckpt)
        atomic_write_json(
            self.out / CONFIG, {**_plain(asdict(self.cfg)), "profile_settings": _plain(asdict(self.profile))}, indent=2
        )
        total = self.profile.total_iterations
        per_epoch = self.profile.iterations_per_epoch
        budget = total if self.cfg.max_steps is None else min(total, self.step + self.cfg.max_steps)
        start = time.time() - self.seconds
        first_step = self.step
        desc = f"pretrain {self.spec.name}/{self.cfg.encoder}"
        bar = tqdm(total=total, initial=self.step, unit="it", desc=desc, disable=not self.cfg.progress)
        while self.step < budget:
            loss = self.train_step()
            self.losses.append(loss)
            self.step += 1
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}", lr=f"{self.profile.learning_rate(self.step - 1):.2e}")
            if self.step % per_epoch == 0 or self.step == budget:
                self.seconds = time.time() - start
                if self.step % per_epoch == 0:
                    self._log_epoch(self.step // per_epoch - 1)
                self.save_state()
        bar.close()
        self.seconds = time.time() - start
        finished = self.step >= total
        if finished and (self.step > first_step or not _done(final)):  # a finished run is not written again
            self.write_pretrained(final)
        return PretrainResult(self.out, final if finished else None, self.step, finished, self.losses, self.seconds)

    def _log_epoch(self, epoch: int) -> None:
        per_epoch = self.profile.iterations_per_epoch
        row = {
            "epoch": epoch,
            "step": self.step,
            "loss": float(np.mean(self.losses[-per_epoch:])),
            "lr": self.profile.learning_rate(self.step - 1),
            "seconds": round(self.seconds, 2),
        }
        path = self.out / LOG
        new = not path.is_file()
        with path.open("a", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow(row)

    def write_pretrained(self, path: Path) -> Path:
        """The detbench checkpoint of the trained encoder (see the module docstring)."""
        from benchmark import __version__
        from benchmark.provenance import git_revision
        from pretraining.checkpoint import PretrainedCheckpoint, save_checkpoint

        def cpu(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return {k: v.detach().cpu().clone() for k, v in state.items()}

        describe = getattr(self.source, "preprocessing", None)
        preprocessing = describe() if callable(describe) else {}
        preprocessing = {
            "spacing": list(self.profile.spacing),
            "normalization": "zscore_per_volume",
            **preprocessing,
            "patch_size": list(self.patch_size),
        }
        last = self.losses[-self.profile.iterations_per_epoch :]
        checkpoint = PretrainedCheckpoint(
            method=self.spec.name,
            encoder=_plain(asdict(self.encoder_config)),
            encoder_weights=cpu(self.model.encoder_state_dict()),
            stems={name: cpu(stem) for name, stem in self.model.stem_weights().items()},
            decoder_weights=cpu(self.model.decoder_state_dict()),
            data=_plain(self.source.describe()),
            preprocessing=_plain(preprocessing),
            training={
                "trainer": "detbench.pretraining",
                "method_label": self.spec.label,
                "citation": self.spec.citation,
                "method_options": _plain({**self.spec.defaults, **self.cfg.method_options}),
                "profile": self.profile.name,
                "profile_settings": _plain(asdict(self.profile)),
                "seed": self.cfg.seed,
                "steps": self.step,
                "batch_size": self.batch_size,
                "optimizer": {
                    "name": "sgd",
                    "lr": self.profile.lr,
                    "momentum": self.profile.momentum,
                    "nesterov": self.profile.nesterov,
                    "weight_decay": self.profile.weight_decay,
                    "schedule": f"poly {self.profile.poly_exponent}",
                },
                "final_loss": float(np.mean(last)) if last else None,
                "first_loss": self.losses[0] if self.losses else None,
                "seconds": round(self.seconds, 2),
                "device": self.device.type,
                "amp": self.use_amp,
            },
            code={"detbench_version": __version__, "git_revision": git_revision()},
        )
        return save_checkpoint(path, checkpoint)


def _done(path: Path) -> bool:
    from pretraining.checkpoint import sidecar_path

    return path.is_file() and sidecar_path(path).is_file()


def _plain(obj: Any) -> Any:
    """JSON- and ``weights_only``-safe copy: tuples become lists, paths strings."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_plain(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def pretrain(cfg: PretrainConfig, profile: PretrainingProfile | None = None, source: Any = None) -> PretrainResult:
    """Pre-train ``cfg.method``; resumes from ``cfg.out_dir`` when a checkpoint is there (``cfg.resume``)."""
    return PretrainTrainer(cfg, profile, source).fit()
