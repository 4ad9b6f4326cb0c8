"""Predict new scans with a trained run folder and write one prediction file (voxel and world boxes).

--input is one image file (NIfTI, MHA/MHD, NRRD) or a folder of them and/or of DICOM series (any depth). Each
scan is preprocessed as the run's training data were (the plan's spacing and intensity normalisation, stored
in RUN_DIR/predictor.json), predicted with the run's sliding window (--tta: 8 mirrored views), post-processed
with the parameters tuned on validation, and its boxes are written in the input image's voxel frame and in
world millimetres (docs/predict.md). Scans that do not fit the model (channel count, modality, spacing) are
refused one by one with the reason; the others are still predicted. Exit status: 0 all predicted, 3 some
refused (the file holds the rest), 1 bad arguments (nothing read or written).
"""

from __future__ import annotations

import argparse

NAME = "predict"
HELP = "predict new scans (NIfTI/MHA/NRRD files, DICOM series) with a trained run folder"
EXIT_REFUSED = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="run folder written by `benchmark train` (RUN_DIR)")
    parser.add_argument("--input", required=True, help="an image file, or a folder of images and/or DICOM series")
    parser.add_argument("--out", required=True, help="prediction file to write (JSON, docs/predictions-format.md)")
    parser.add_argument("--tta", action="store_true", help="mirror test-time augmentation (8 views)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"), help="device (default auto)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from benchmark.commands.checks import Checks
    from benchmark.inference.bundle import predictor_problem
    from benchmark.inference.scans import discover_scans, image_ending

    checks = Checks()
    model = checks.input_dir(args.model, "--model", "a run folder written by benchmark train")
    if model is not None:
        problem = predictor_problem(model)
        if problem:
            checks.add(f"--model {problem}")
    source = Path(args.input)
    inputs = None
    if not source.exists():
        checks.add(f"--input {source}: not found (expected an image file or a folder of scans)")
    elif source.is_file() and not image_ending(source):
        checks.add(f"--input {source}: not a supported image file (.nii.gz, .nii, .mha, .mhd, .nrrd, .nhdr)")
    else:
        inputs = source
    out = checks.output_file(args.out, "--out", [source] if source.is_file() else [])
    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            checks.add("--device cuda: no CUDA device is available; use --device cpu or auto")
    if inputs is not None and inputs.is_dir():
        try:
            discover_scans(inputs)
        except (ValueError, RuntimeError) as err:
            checks.add(f"--input {err}")
    checks.raise_if_any()

    from benchmark.inference.folder import predict_scans

    report = predict_scans(model, inputs, out, tta=args.tta, device=args.device, progress=not args.no_progress)
    for case_id, reason in report.refused.items():
        print(f"refused {case_id}: {reason}")
    print(f"predicted {len(report.predicted)} case(s), refused {len(report.refused)}: {report.out}")
    return EXIT_REFUSED if report.refused else 0
