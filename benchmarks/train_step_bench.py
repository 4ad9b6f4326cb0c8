"""Per-phase milliseconds of one training step of each detector under a training profile, side by side.

A step of :class:`benchmark.training.trainer.Trainer` is split into the phases it spends time in:

* ``loader``: the next batch from the run's :class:`~benchmark.loading.PatchLoader` (patch sampling,
  augmentation, relabelling) and its move to the device / memory format;
* ``forward``: the network's ``forward`` (encoder, decoder / transformer, heads, anchors);
* ``loss``: the rest of ``compute_loss`` (matching, targets, classification / box / segmentation losses);
* ``backward``: ``loss.backward()``;
* ``optimizer``: gradient unscaling and clipping, the optimiser step and reading the losses back;
* ``total`` (wall) and ``cpu``: the main thread's CPU milliseconds of the step (``time.thread_time``), which
  depends less on other jobs of a shared machine than wall time (a background loader thread is not in it);
  ``cpu min``: its minimum over the timed steps, the least disturbed by other jobs (compare this one on a
  busy machine).

It builds a real ``Trainer`` (the profile's patch, batch, width, stages, threads, memory format and optimiser) on
a preprocessed dataset and runs ``--warmup`` untimed then ``--steps`` timed steps, mirroring
``Trainer.train_step`` operation for operation (the encoder is frozen or not as the schedule says at each
step). The median of every phase is printed per architecture, so a before/after comparison is one run on
each revision::

    nice -n 10 python benchmarks/train_step_bench.py --data /path/to/preprocessed/S06-small-seed0/fixed
    nice -n 10 python benchmarks/train_step_bench.py --data ... --losses losses.json   # also write the losses
    nice -n 10 python benchmarks/train_step_bench.py --data ... --cprofile retina_unet  # top functions too

``--losses`` writes every step's loss values (``repr`` of the floats) so two revisions can be compared for
bitwise-identical training. The machine's 1-minute load average is printed with the table: on a shared
machine compare ratios measured in the same session, not absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmark.training.trainer import TrainConfig, Trainer, _to_device  # noqa: E402

ARCHITECTURES = ("retina_unet", "deformable_detr", "resenc_retina_unet", "resenc_deformable_detr")
PHASES = ("loader", "forward", "loss", "backward", "optimizer")


class _ForwardTimer:
    """Wraps a model's ``forward`` (looked up on the instance by ``compute_loss``) and sums its seconds."""

    def __init__(self, model: torch.nn.Module) -> None:
        self.model, self.inner, self.seconds = model, model.forward, 0.0

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204 - the model's forward signature
        start = time.perf_counter()
        out = self.inner(*args, **kwargs)
        self.seconds += time.perf_counter() - start
        return out


def timed_step(trainer: Trainer, batches, timer: _ForwardTimer) -> tuple[dict[str, float], dict[str, float]]:  # noqa: ANN001
    """One training step exactly as ``Trainer.train_step`` does it, timed per phase: (seconds, losses)."""
    c0 = time.thread_time()
    t0 = time.perf_counter()
    batch = next(batches)
    trainer._apply_schedule(trainer.state.step)
    trainer.model.train()
    images, targets = _to_device(batch, trainer.device, trainer.memory_format)
    t1 = time.perf_counter()
    trainer.optimizer.zero_grad(set_to_none=True)
    timer.seconds = 0.0
    with torch.autocast(device_type=trainer.device.type, dtype=torch.float16, enabled=trainer.use_amp):
        losses = trainer.model.compute_loss(images, targets)
    t2 = time.perf_counter()
    trainer.scaler.scale(losses["loss"]).backward()
    t3 = time.perf_counter()
    trainer.scaler.unscale_(trainer.optimizer)
    torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), trainer.cfg.grad_clip)
    trainer.scaler.step(trainer.optimizer)
    trainer.scaler.update()
    if trainer.ema is not None:  # profile weight_ema: part of the optimiser phase
        trainer.ema.update(trainer.model)
    values = {k: float(v.detach()) for k, v in losses.items()}
    t4 = time.perf_counter()
    cpu = time.thread_time() - c0
    trainer.state.step += 1
    seconds = {
        "loader": t1 - t0,
        "forward": timer.seconds,
        "loss": (t2 - t1) - timer.seconds,
        "backward": t3 - t2,
        "optimizer": t4 - t3,
        "cpu": cpu,
    }
    return seconds, values


def _batches(trainer: Trainer):  # noqa: ANN202 - endless batch iterator, epoch after epoch
    while True:
        yield from trainer.loader


def bench_architecture(
    data: str,
    architecture: str,
    profile: str,
    seed: int,
    warmup: int,
    steps: int,
    cprofile: bool,
    start_step: int | None = None,
    torch_profile: bool = False,
) -> dict:
    """Median per-phase milliseconds (and every step's losses) of ``steps`` timed steps after ``warmup``.

    The schedule starts at ``start_step`` (default: the end of the encoder-freeze phase, so the timed steps
    train the whole network as 95% of a run does; 0 times the frozen-encoder steps).
    """
    with tempfile.TemporaryDirectory(prefix="train_step_bench_") as out:
        cfg = TrainConfig(
            data, out, architecture=architecture, profile=profile, seed=seed, device="cpu", progress=False
        )
        trainer = Trainer(cfg)
        trainer.state.step = trainer.schedule.freeze_iterations if start_step is None else int(start_step)
        timer = _ForwardTimer(trainer.model)
        trainer.model.forward = timer  # type: ignore[method-assign]
        batches = _batches(trainer)
        losses = []
        for _ in range(warmup):
            losses.append(timed_step(trainer, batches, timer)[1])
        profiler = cProfile.Profile() if cprofile else None
        rows = []
        ops = torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) if torch_profile else None
        if profiler is not None:
            profiler.enable()
        if ops is not None:
            ops.__enter__()
        for _ in range(steps):
            seconds, values = timed_step(trainer, batches, timer)
            rows.append(seconds)
            losses.append(values)
        if ops is not None:
            ops.__exit__(None, None, None)
        if profiler is not None:
            profiler.disable()
    medians = {p: 1000 * statistics.median(r[p] for r in rows) for p in PHASES}
    medians["total"] = 1000 * statistics.median(sum(r[p] for p in PHASES) for r in rows)
    medians["cpu"] = 1000 * statistics.median(r["cpu"] for r in rows)
    medians["cpu min"] = 1000 * min(r["cpu"] for r in rows)
    result = {"architecture": architecture, "ms": medians, "losses": losses, "threads": torch.get_num_threads()}
    if profiler is not None:
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(35)
        result["cprofile"] = text.getvalue()
    if ops is not None:
        result["ops"] = ops.key_averages().table(sort_by="self_cpu_time_total", row_limit=30)
    return result


def format_table(results: list[dict]) -> str:
    """Markdown table: one row per architecture, one column per phase (median ms), the step total, CPU ms."""
    head = "| architecture | " + " | ".join(PHASES) + " | total | cpu | cpu min |"
    rule = "| --- |" + " ---: |" * (len(PHASES) + 3)
    columns = (*PHASES, "total", "cpu", "cpu min")
    rows = [f"| {r['architecture']} | " + " | ".join(f"{r['ms'][p]:.0f}" for p in columns) + " |" for r in results]
    return "\n".join([head, rule, *rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="preprocessed dataset folder (e.g. .../S06-small-seed0/fixed)")
    parser.add_argument("--arch", default=",".join(ARCHITECTURES), help="comma-separated architectures")
    parser.add_argument("--profile", default="cpu", help="training profile (default: cpu)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default: 3)")
    parser.add_argument("--steps", type=int, default=20, help="timed steps (default: 20)")
    parser.add_argument("--cprofile", default="", help="comma-separated architectures to also run cProfile on")
    parser.add_argument(
        "--start-step", type=int, help="schedule step to start at (default: end of the encoder freeze; 0: frozen)"
    )
    parser.add_argument("--ops", default="", help="comma-separated architectures to run torch.profiler on (op table)")
    parser.add_argument("--losses", type=Path, help="write every step's losses per architecture to this JSON")
    parser.add_argument("--json", type=Path, help="write the median milliseconds per architecture to this JSON")
    args = parser.parse_args(argv)
    archs = [a for a in args.arch.split(",") if a]
    profiled = {a for a in args.cprofile.split(",") if a}
    op_profiled = {a for a in args.ops.split(",") if a}
    results = []
    for arch in archs:
        result = bench_architecture(
            args.data,
            arch,
            args.profile,
            args.seed,
            args.warmup,
            args.steps,
            arch in profiled,
            args.start_step,
            arch in op_profiled,
        )
        results.append(result)
        print(f"{arch}: {result['ms']['total']:.0f} ms/step", file=sys.stderr, flush=True)
        if "cprofile" in result:
            print(f"--- cProfile of {arch} ({args.steps} steps, by own time) ---\n{result['cprofile']}")
        if "ops" in result:
            print(f"--- torch.profiler ops of {arch} ({args.steps} steps, by self CPU time) ---\n{result['ops']}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"profile {args.profile}, median of {args.steps} steps after {args.warmup} warm-up, "
        f"{results[0]['threads'] if results else '?'} torch thread(s), load average {load:.1f}, ms per step"
    )
    print(format_table(results))
    if args.json:
        rows = {r["architecture"]: r["ms"] for r in results}
        args.json.write_text(json.dumps({"load": load, "steps": args.steps, "ms": rows}, indent=1), encoding="utf-8")
    if args.losses:
        payload = {r["architecture"]: [{k: repr(v) for k, v in s.items()} for s in r["losses"]] for r in results}
        args.losses.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
