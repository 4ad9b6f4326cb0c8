"""Pre-train an encoder with one of the study's methods and write a detbench checkpoint (resumable).

Data: ``--data DIR`` is a folder of volumes (NIfTI, MHA/MHD, NRRD; read with SimpleITK, resampled to 1 mm
isotropic and z-scored once into the cache) for the self-supervised methods; without it the synthetic
unlabelled corpus (disjoint from every twin) is generated into the cache. MultiTalent trains on labelled
datasets (its synthetic ones by default). The profile sets patch, batch, width, iterations (``paper``: the
study's 192^3 / 128^3 patches, 4,000 epochs, poly LR from 1e-2). The output folder gets ``pretrained.pt``
(+ ``.json`` sidecar with its sha256), usable with ``benchmark train --weights``; rerunning with ``--resume``
continues from the last epoch.
"""

from __future__ import annotations

import argparse

NAME = "pretrain"
CHECKPOINT_NAME = "checkpoint_last.pt"  # = pretraining.trainer.CHECKPOINT (kept here: checks import no torch)
FINAL_NAME = "pretrained.pt"  # = pretraining.trainer.FINAL
HELP = "pre-train an encoder (mae, s3d, mg, voco, multitalent) and write a detbench checkpoint"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--method", required=True, help="mae, s3d, mg, voco or multitalent")
    parser.add_argument("--encoder", default="resenc", help="encoder kind: plain or resenc (default resenc)")
    parser.add_argument("--out", required=True, help="output folder (checkpoint, logs, resumable state)")
    parser.add_argument("--data", default=None, help="folder of volumes (default: the synthetic corpus)")
    parser.add_argument("--profile", default="cpu", help="pre-training budget: paper, cpu or tiny (default cpu)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation, masks and patches (default 0)")
    parser.add_argument("--cache", default=None, help="preprocessed-data cache folder (default OUT/cache)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in OUT (if any)"
    )
    parser.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (resume later)")
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def check_pretrain_args(args: argparse.Namespace):  # noqa: ANN201 - returns benchmark.commands.checks.Checks
    """Every argument and path, before any data is read or generated (one problem per line)."""
    from benchmark.commands.checks import Checks
    from pretraining.data import find_volumes
    from pretraining.methods import METHOD_MODULES, load_methods
    from pretraining.profiles import PRETRAINING_PROFILES

    checks = Checks()
    method = checks.lookup(load_methods().get, args.method, "--method")
    if method is None and f"pretraining.methods.{args.method}" in METHOD_MODULES:
        checks.add(f"--method {args.method}: its module is not part of this installation")
    if args.encoder not in ("plain", "resenc"):
        checks.add(f"--encoder {args.encoder!r}: use plain or resenc")
    checks.lookup(PRETRAINING_PROFILES.get, args.profile, "--profile")
    checks.at_least(args.seed, "--seed", 0)
    checks.at_least(args.max_steps, "--max-steps")
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            checks.add("--device cuda: no CUDA device is available; use --device cpu or auto")
    data = checks.input_dir(args.data, "--data", "a folder of volumes") if args.data else None
    if data is not None and method is not None and not method.supervised:
        try:
            find_volumes(data)
        except ValueError as err:
            checks.add(f"--data {err}")
    out = checks.output_dir(args.out, "--out")
    if args.cache:
        checks.output_dir(args.cache, "--cache")
    if out is not None and data is not None:
        checks.not_inside(out, data, "--out", "the --data folder")
    if out is not None and out.is_dir():
        has_run = (out / CHECKPOINT_NAME).is_file() or (out / FINAL_NAME).is_file()
        if has_run and not args.resume:
            checks.add(f"--out {out}: holds a pre-training run; pass --resume to continue it, or choose a new folder")
        elif not has_run and any(p.name != "cache" for p in out.iterdir()):
            checks.add(f"--out {out}: a non-empty folder that is not a pre-training run; choose a new folder")
    return checks


def run(args: argparse.Namespace) -> int:
    checks = check_pretrain_args(args)
    checks.raise_if_any()

    from pretraining.trainer import PretrainConfig, pretrain

    result = pretrain(
        PretrainConfig(
            method=args.method,
            out_dir=args.out,
            encoder=args.encoder,
            profile=args.profile,
            seed=args.seed,
            data=args.data,
            cache_dir=args.cache,
            device=args.device,
            resume=args.resume,
            progress=not args.no_progress,
            max_steps=args.max_steps,
        )
    )
    if not result.finished:
        print(f"stopped at step {result.steps}; continue with the same command and --resume ({result.out_dir})")
        return 0
    losses = result.losses
    k = max(1, min(5, len(losses) // 2))
    print(
        f"pre-trained {args.method} ({args.encoder}, profile {args.profile}, seed {args.seed}): {result.steps} steps "
        f"in {result.seconds:.1f} s, mean loss of the first {k} steps {sum(losses[:k]) / k:.4f}, "
        f"of the last {k} {sum(losses[-k:]) / k:.4f}"
    )
    print(f"checkpoint: {result.checkpoint}")
    return 0
