"""Training-step time and peak GPU memory of the four detectors under the ``paper`` profile, beside the paper.

What a maintainer runs on a GPU machine (no internet needed; meant for a few minutes of device time, not yet
run on a GPU: docs/training.md, "GPU")::

    python benchmarks/gpu_paper_profile.py --device cuda --steps 200 --json gpu_paper_profile.json

For every architecture it builds the detector exactly as a ``paper``-profile run on ``fixed`` preprocessing
does (:func:`benchmark.training.trainer.build_model_for`: paper width and six stages, Retina U-Net anchors
planned from the training boxes; the optimiser of :mod:`benchmark.training.optim` as
:class:`~benchmark.training.trainer.Trainer` builds it: SGD + Nesterov for Retina U-Net, Adam with AMSGrad
for Deformable DETR) and times the trainer's own :meth:`~benchmark.training.trainer.Trainer.train_step`
(fp16 autocast, GradScaler, gradient clipping, optimiser step) on synthetic batches at the profile's 128^3
patch and batch 4: random volumes with 1-3 random boxes per image and their instance map, generated on the
device outside the timed region, so the figures are the network step, not the data loader. The whole
network trains (the phase after the paper's frozen-encoder warm-up; ``--frozen-encoder`` times the warm-up
phase instead). ``--warmup`` steps (cudnn autotuning, allocator, GradScaler calibration) are not timed;
peak memory (``torch.cuda.max_memory_allocated``, reset per architecture) covers warm-up and timed steps.

The paper's figures (Eckstein et al. 2025, appendix C.3) are printed beside the measured ones with the ratio
measured / paper. The paper does not say how it measured memory (``nvidia-smi`` would show the caching
allocator's reserved memory, so ``torch.cuda.max_memory_reserved`` is reported too).

CPU smoke path (AMP off, peak memory "n/a (CPU)"; ``--width`` / ``--stages`` shrink the network, and the
paper columns then do not apply)::

    python benchmarks/gpu_paper_profile.py --device cpu --patch 32 --batch 1 --steps 2 --warmup 1 \\
        --width 0.125 --stages 4
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.training.devices import resolve_device  # noqa: E402
from benchmark.training.ema import WeightAverage  # noqa: E402
from benchmark.training.finetune import FinetuneConfig, apply_trainable, parameter_counts  # noqa: E402
from benchmark.training.optim import build_optimizer  # noqa: E402
from benchmark.training.profiles import PROFILES, TrainingProfile  # noqa: E402
from benchmark.training.trainer import (  # noqa: E402
    TrainConfig,
    Trainer,
    build_model_for,
    family_of,
    optimizer_config_for,
    run_geometry,
)
from models.registry import ARCHITECTURES  # noqa: E402

#: Eckstein et al. 2025, "The missing piece" (appendix C.3, Training): parameters (millions) and GPU memory
#: (GB) of each detector at patch 128^3, batch 4. "RetUNet comprised approximately 19 M parameters and required
#: about 10 GB of GPU memory, whereas ResEnc-RetUNet used the residual encoder backbone with 95.2 M parameters
#: and required about 12 GB of memory." "DefDETR comprised about 18.2 M parameters and required about 11 GB GPU
#: memory, while ResEnc-DefDETR comprised about 94.4 M parameters and required 15 GB GPU memory."
PAPER_FIGURES: dict[str, dict[str, float]] = {
    "retina_unet": {"parameters_m": 19.0, "memory_gb": 10.0},
    "resenc_retina_unet": {"parameters_m": 95.2, "memory_gb": 12.0},
    "deformable_detr": {"parameters_m": 18.2, "memory_gb": 11.0},
    "resenc_deformable_detr": {"parameters_m": 94.4, "memory_gb": 15.0},
}
DEFAULT_ARCHS = ("retina_unet", "deformable_detr", "resenc_retina_unet", "resenc_deformable_detr")
#: synthetic boxes: 1..MAX_BOXES per image, edge lengths BOX_EXTENT (fractions of the patch edge)
MAX_BOXES = 3
BOX_EXTENT = (0.06, 0.3)
#: boxes drawn to plan the Retina U-Net anchors (the trainer plans them from all training boxes)
ANCHOR_PLANNING_BOXES = 64
#: bytes of the "GB" the table and the JSON report (2**30, as benchmarks/models_bench.py)
GB = 2**30


@dataclass(frozen=True)
class _Case:
    """What :func:`build_model_for` reads of a preprocessed case: its boxes and their classes."""

    boxes: dict[int, list[float]]
    classes: dict[int, int]

    def boxes_array(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ids = sorted(self.boxes)
        boxes = np.array([self.boxes[i] for i in ids], dtype=np.float64).reshape(-1, 6)
        return boxes, np.array([self.classes[i] for i in ids], dtype=np.int64), np.array(ids, dtype=np.int64)


class SyntheticData:
    """An in-memory stand-in for :class:`benchmark.loading.data.PreprocessedData` with the attributes the
    trainer's model building reads (one CT channel, one foreground class, ``fixed`` preprocessing), and a
    generator of loader-format batches of random volumes with random boxes on the device."""

    def __init__(self, patch: tuple[int, int, int], seed: int = 0) -> None:
        self.patch = patch
        self.rng = np.random.default_rng(seed)
        self.plan = SimpleNamespace(config="fixed", patch_size=patch, normalization=("ct",), classes=("lesion",))
        boxes = [self.random_box() for _ in range(ANCHOR_PLANNING_BOXES)]
        self._cases = {f"synthetic_{i:03d}": _Case({1: box}, {1: 0}) for i, box in enumerate(boxes)}

    def case_ids(self, split: str) -> list[str]:
        return list(self._cases) if split == "train" else []

    def meta(self, case_id: str) -> _Case:
        return self._cases[case_id]

    def random_box(self) -> list[float]:
        """One box ``(z1, y1, x1, z2, y2, x2)`` inside the patch, edges BOX_EXTENT of the patch edge."""
        lo_hi = []
        for edge in self.patch:
            size = max(2, int(round(edge * self.rng.uniform(*BOX_EXTENT))))
            start = int(self.rng.integers(0, edge - size + 1))
            lo_hi.append((start, start + size))
        return [float(v) for v in (*[a for a, _ in lo_hi], *[b for _, b in lo_hi])]

    def batch(self, batch_size: int, device: torch.device) -> dict:
        """A batch as :func:`benchmark.loading.sampling.sample_batch` returns it, already on ``device``."""
        images = torch.randn(batch_size, 1, *self.patch, device=device)
        instances = torch.zeros(batch_size, 1, *self.patch, dtype=torch.int32, device=device)
        boxes, labels = [], []
        for b in range(batch_size):
            n = int(self.rng.integers(1, MAX_BOXES + 1))
            drawn = [self.random_box() for _ in range(n)]
            for i, (z1, y1, x1, z2, y2, x2) in enumerate(drawn):
                instances[b, 0, int(z1) : int(z2), int(y1) : int(y2), int(x1) : int(x2)] = i + 1
            boxes.append(torch.tensor(drawn, dtype=torch.float32, device=device))
            labels.append(torch.zeros(n, dtype=torch.long, device=device))
        return {"image": images, "instances": instances, "boxes": boxes, "labels": labels}


def bench_profile(patch: int, batch: int, width: float | None, stages: int | None) -> TrainingProfile:
    """The ``paper`` profile at ``patch``^3 and ``batch``; ``width``/``stages`` shrink its network (smoke runs)."""
    profile = replace(PROFILES.get("paper"), patch_size=(patch, patch, patch), batch_size=batch)
    if width is not None:
        profile = replace(profile, width_multiplier=width)
    if stages is not None:  # "exact" default-plan use needs the planned stages; this run is on `fixed` data
        profile = replace(profile, n_stages=stages, default_plan="capped")
    return profile


def _step_host(model: torch.nn.Module, family: str, device: torch.device, use_amp: bool, cfg: TrainConfig):
    """The attributes :meth:`Trainer.train_step` uses, set up as :class:`Trainer` sets them up."""
    profile = PROFILES.get(cfg.profile)
    optim_cfg = optimizer_config_for(family, profile)
    optimizer = build_optimizer(model, optim_cfg)
    amsgrad = " (AMSGrad)" if optim_cfg.name == "adam" and optim_cfg.amsgrad else ""
    nesterov = " (Nesterov)" if optim_cfg.name == "sgd" and optim_cfg.nesterov else ""
    return SimpleNamespace(
        model=model,
        device=device,
        memory_format=torch.contiguous_format,  # the paper profile: channels_last is off
        optimizer=optimizer,
        use_amp=use_amp,
        scaler=torch.amp.GradScaler("cuda", enabled=use_amp),
        cfg=cfg,
        ema=WeightAverage(model, profile.weight_ema) if profile.weight_ema else None,
        optimizer_name=f"{type(optimizer).__name__}{nesterov}{amsgrad} lr {optim_cfg.lr:g}",
    )


def benchmark_architecture(
    name: str,
    profile: TrainingProfile,
    device: torch.device,
    amp: bool,
    steps: int,
    warmup: int,
    frozen_encoder: bool = False,
    seed: int = 0,
) -> dict:
    """Time ``steps`` training steps of ``name`` (after ``warmup`` untimed ones); figures as a dict."""
    cfg = TrainConfig(preprocessed="<synthetic>", out_dir="<none>", architecture=name, profile="paper", seed=seed)
    family = family_of(name)
    data = SyntheticData(run_geometry(profile, SimpleNamespace(config="fixed"))[0], seed=seed)
    if device.type == "cuda":
        gc.collect()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
        torch.backends.cudnn.benchmark = True  # as the Trainer sets it on CUDA
    model = build_model_for(cfg, profile, data).to(device)
    apply_trainable(model, FinetuneConfig("full"), not frozen_encoder)
    use_amp = amp and device.type == "cuda"
    host = _step_host(model, family, device, use_amp, cfg)
    times, skipped, losses = [], 0, []
    for i in range(warmup + steps):
        batch = data.batch(profile.batch_size, device)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        scale = host.scaler.get_scale() if use_amp else 1.0
        start = time.perf_counter()
        out = Trainer.train_step(host, batch)  # the trainer's own step; returns floats (synchronises)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - start
        if i >= warmup:
            times.append(elapsed)
            losses.append(out["loss"])
            skipped += int(use_amp and host.scaler.get_scale() < scale)  # inf/NaN gradients: step skipped
        del batch  # one batch alive at a time, as in the trainer's loop
    counts = parameter_counts(model, FinetuneConfig("full"))
    ms = np.asarray(times) * 1e3
    paper = PAPER_FIGURES.get(name, {})
    row: dict[str, object] = {
        "architecture": name,
        "parameters_m": round(counts["total"] / 1e6, 2),
        "trainable_m": round(sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6, 2),
        "median_ms": round(float(np.median(ms)), 2),
        "p90_ms": round(float(np.percentile(ms, 90)), 2),
        "steps_per_s": round(1e3 / float(np.median(ms)), 3),
        "timed_steps": steps,
        "skipped_steps": skipped,
        "final_loss": round(float(losses[-1]), 4),
        "optimizer": host.optimizer_name,
        "paper_parameters_m": paper.get("parameters_m"),
        "paper_memory_gb": paper.get("memory_gb"),
    }
    row["parameters_ratio"] = round(row["parameters_m"] / paper["parameters_m"], 3) if paper else None
    if device.type == "cuda":
        row["peak_gb"] = round(torch.cuda.max_memory_allocated(device) / GB, 2)
        row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved(device) / GB, 2)
        row["memory_ratio"] = round(row["peak_gb"] / paper["memory_gb"], 3) if paper else None
    else:
        row["peak_gb"] = row["peak_reserved_gb"] = row["memory_ratio"] = None
    del host, model
    return row


def _fmt(value: object, spec: str = "", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def format_table(rows: list[dict], cpu: bool) -> str:
    """The rows as an aligned text table, measured figures beside the paper's."""
    header = ["architecture", "params M", "paper M", "ratio", "median ms", "p90 ms", "steps/s"]
    header += ["peak GB", "reserved GB", "paper GB", "ratio", "skipped"]
    memory_missing = "n/a (CPU)" if cpu else "-"
    lines = [header]
    for r in rows:
        lines.append(
            [
                str(r["architecture"]),
                _fmt(r["parameters_m"], ".2f"),
                _fmt(r["paper_parameters_m"], ".1f"),
                _fmt(r["parameters_ratio"], ".2f"),
                _fmt(r["median_ms"], ".1f"),
                _fmt(r["p90_ms"], ".1f"),
                _fmt(r["steps_per_s"], ".2f"),
                _fmt(r["peak_gb"], ".2f", memory_missing),
                _fmt(r["peak_reserved_gb"], ".2f", memory_missing),
                _fmt(r["paper_memory_gb"], ".1f"),
                _fmt(r["memory_ratio"], ".2f", memory_missing),
                str(r["skipped_steps"]),
            ]
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for line in lines:  # the name left-aligned, figures right-aligned
        cells = [c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells))
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu", "auto"], help="default: cuda")
    parser.add_argument("--archs", nargs="+", default=list(DEFAULT_ARCHS), help="architectures (default: all four)")
    parser.add_argument("--steps", type=int, default=200, help="timed training steps per architecture")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps before them")
    parser.add_argument("--patch", type=int, default=None, help="cubic patch edge (default: the profile's 128)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (default: the profile's 4)")
    parser.add_argument("--width", type=float, default=None, help="width multiplier (default: the paper's 1.0)")
    parser.add_argument("--stages", type=int, default=None, help="encoder stages (default: the paper's 6)")
    parser.add_argument("--no-amp", action="store_true", help="fp32 on CUDA too (AMP is always off on CPU)")
    parser.add_argument("--frozen-encoder", action="store_true", help="time the frozen-encoder warm-up phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, default=None, help="also write setup and rows to this JSON file")
    return parser


def main(argv: list[str] | None = None) -> dict:
    """Parse ``argv``, benchmark the chosen architectures, print the table; returns ``{"setup", "rows"}``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    for name in args.archs:
        try:
            ARCHITECTURES.get(name)
        except ValueError as err:  # the registry's message names the closest valid names
            parser.error(str(err))
    if args.steps < 1 or args.warmup < 0:
        parser.error("--steps must be >= 1 and --warmup >= 0")
    try:
        device = resolve_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    paper = PROFILES.get("paper")
    profile = bench_profile(args.patch or paper.patch_size[0], args.batch or paper.batch_size, args.width, args.stages)
    amp = not args.no_amp and device.type == "cuda"
    shrunk = profile.width_multiplier != 1.0 or profile.n_stages is not None
    setup = {
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "profile": "paper",
        "preprocessing": "fixed",
        "patch": list(profile.patch_size),
        "batch": profile.batch_size,
        "width_multiplier": profile.width_multiplier,
        "stages": profile.n_stages or 6,
        "amp": amp,
        "phase": "frozen encoder" if args.frozen_encoder else "whole network",
        "steps": args.steps,
        "warmup": args.warmup,
        "memory_unit": "GB = 2**30 bytes",
        "batches": "synthetic, generated on the device outside the timed step (network step, not the loader)",
        "paper": "Eckstein et al. 2025, appendix C.3 (parameters, GPU memory at 128^3, batch 4)",
    }
    print(
        f"paper profile, fixed preprocessing: {profile.batch_size} x 1 x {'x'.join(map(str, profile.patch_size))}, "
        f"{'AMP (fp16 autocast + GradScaler)' if amp else 'fp32'}, {setup['phase']} trains, on {setup['device']}"
    )
    print(f"{args.steps} timed steps after {args.warmup} untimed; batches: {setup['batches']}")
    if shrunk:
        shape = f"width {profile.width_multiplier}, {setup['stages']} stages"
        print(f"note: network shrunk ({shape}): the paper columns do not apply")
    result: dict = {"setup": setup, "rows": []}
    for name in args.archs:
        start = time.perf_counter()
        row = benchmark_architecture(
            name, profile, device, amp, args.steps, args.warmup, args.frozen_encoder, args.seed
        )
        row["wall_s"] = round(time.perf_counter() - start, 1)
        result["rows"].append(row)
        print(f"  done {name}: {row['median_ms']} ms median step, {row['wall_s']} s in all", flush=True)
        if args.json:  # after every architecture: a run cut short by a time limit keeps what it measured
            args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(format_table(result["rows"], cpu=device.type == "cpu"))
    print(f"paper figures: {setup['paper']}; ratio = measured / paper")
    return result


if __name__ == "__main__":
    main()
