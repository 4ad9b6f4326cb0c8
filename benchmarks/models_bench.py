"""Forward+backward time and peak memory of the four detectors.

CPU (default where no GPU is present): a small variant of every detector (``--width``, ``--stages``) on a
fixed small input; each detector runs in its own subprocess so the peak resident memory (``ru_maxrss``) is
its own. GPU: the paper's configuration at 128^3, batch 4, with AMP (fp16 autocast + GradScaler), reporting
``torch.cuda.max_memory_allocated`` next to the paper's figures (~10 / 11 / 12 / 15 GB)::

    python benchmarks/models_bench.py                       # CPU, small variants
    python benchmarks/models_bench.py --device cuda --paper # GPU, paper size, 128^3 x 4, AMP
    python benchmarks/models_bench.py --json out.json       # also write the rows as JSON

``--device cuda`` without a GPU and ``--amp`` on CPU fall back (with a note) to CPU and fp32.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import ARCHITECTURES, build_detector, default_config  # noqa: E402

PAPER_MEMORY_GB = {name: spec.paper_memory_gb for name, spec in ARCHITECTURES.items()}


def resolve_device(requested: str) -> torch.device:
    """``auto`` picks CUDA when present; a CUDA request without a GPU falls back to CPU with a note."""
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of 'auto', 'cpu', 'cuda'; got {requested!r}")
    if requested in ("auto", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        print("note: CUDA requested but not available; running on CPU", file=sys.stderr)
    return torch.device("cpu")


def synthetic_batch(batch: int, size: int, in_channels: int, device: torch.device):
    """Random images with one box per image (boxes scale with the input)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randn(batch, in_channels, size, size, size, generator=g).to(device)
    lo, hi = size * 0.25, size * 0.6
    box = torch.tensor([[lo, lo, lo, hi, hi * 1.1, hi * 0.9]], device=device)
    targets = [{"boxes": box, "labels": torch.zeros(1, dtype=torch.long, device=device)} for _ in range(batch)]
    return images, targets


def benchmark_detector(
    name: str,
    paper: bool,
    width: float,
    stages: int,
    size: int,
    batch: int,
    device: torch.device,
    amp: bool,
    repeats: int,
) -> dict:
    """Median forward+backward seconds and peak memory of one detector (this process)."""
    torch.manual_seed(0)
    cfg = default_config(name) if paper else default_config(name, width_multiplier=width, n_stages=stages)
    model = build_detector(name, cfg).to(device).train()
    images, targets = synthetic_batch(batch, size, cfg.encoder.in_channels, device)
    optimiser = torch.optim.SGD(model.parameters(), lr=1e-4)
    use_amp = amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    baseline_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(repeats + 1):  # the first step warms up (allocator, cudnn autotuning)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            loss = model.compute_loss(images, targets)["loss"]
        optimiser.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimiser)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i > 0:
            times.append(time.perf_counter() - start)
    row = {
        "detector": name,
        "parameters_m": round(model.num_parameters() / 1e6, 2),
        "config": "paper" if paper else f"width {width}, {stages} stages",
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "input": f"{batch}x{cfg.encoder.in_channels}x{size}^3",
        "amp": use_amp,
        "fwd_bwd_s": round(statistics.median(times), 4),
    }
    if device.type == "cuda":
        row["peak_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        row["peak_reserved_gb"] = round(torch.cuda.max_memory_reserved() / 2**30, 2)
        row["paper_gb"] = PAPER_MEMORY_GB[name]
    else:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        row["peak_rss_gb"] = round(peak / 2**30, 3)
        row["step_peak_gb"] = round(max(0, peak - baseline_rss) / 2**30, 3)
    return row


def _run_isolated(name: str, args: argparse.Namespace) -> dict:
    """Run one detector in a fresh interpreter so its peak RSS is not another detector's."""
    cmd = [sys.executable, __file__, "--worker", name, "--device", args.device, "--width", str(args.width)]
    cmd += ["--stages", str(args.stages), "--size", str(args.size), "--batch", str(args.batch)]
    cmd += ["--repeats", str(args.repeats)]
    cmd += ["--threads", str(args.threads)] if args.threads else []
    cmd += ["--paper"] if args.paper else []
    cmd += ["--amp"] if args.amp else []
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"detector": name, "error": done.stderr.strip().splitlines()[-1] if done.stderr else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--paper", action="store_true", help="paper-size models (default on GPU)")
    parser.add_argument("--width", type=float, default=0.25, help="width multiplier of the small variants")
    parser.add_argument("--stages", type=int, default=6, help="encoder stages of the small variants")
    parser.add_argument("--size", type=int, default=None, help="cubic input size (CPU 64, GPU 128)")
    parser.add_argument("--batch", type=int, default=None, help="batch size (CPU 2, GPU 4)")
    parser.add_argument("--amp", action="store_true", default=None, help="fp16 autocast (default on GPU)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--detectors", nargs="*", default=ARCHITECTURES.names())
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    parser.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    args.paper = args.paper or (gpu and args.worker is None and args.size is None)
    args.size = args.size or (128 if gpu else 64)
    args.batch = args.batch or (4 if gpu else 2)
    if args.amp is None:
        args.amp = gpu
    elif args.amp and not gpu:
        print("note: AMP needs CUDA here; running fp32 on CPU", file=sys.stderr)
        args.amp = False
    if args.threads:
        torch.set_num_threads(args.threads)
    for name in args.detectors:
        ARCHITECTURES.get(name)  # ValueError with suggestions on a typo
    if args.worker:
        row = benchmark_detector(
            args.worker, args.paper, args.width, args.stages, args.size, args.batch, device, args.amp, args.repeats
        )
        print(json.dumps(row))
        return [row]
    rows = []
    for name in args.detectors:
        row = _run_isolated(name, args)
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return rows


if __name__ == "__main__":
    main()
