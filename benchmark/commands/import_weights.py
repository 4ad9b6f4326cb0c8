"""Convert pre-trained weights (nnssl, nnU-Net v2, MultiTalent v1, a state dict) into a detbench checkpoint.

The format is detected (docs/pretraining.md). The converted encoder is then transferred into a freshly built
detector of ``--arch`` (default: the Retina U-Net of the checkpoint's encoder kind, resenc_retina_unet for
ResEnc-L) and the transfer report is printed, so a checkpoint that does not fit is seen before any training.
Files are loaded with ``weights_only=True``: one that needs pickled objects is refused.
"""

from __future__ import annotations

import argparse

NAME = "import-weights"
HELP = "convert nnssl / nnU-Net v2 / MultiTalent v1 weights into a detbench checkpoint and print the transfer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="checkpoint file or model folder (or a registered weights name)")
    parser.add_argument("--out", required=True, help="detbench checkpoint to write (a .json sidecar goes beside)")
    parser.add_argument(
        "--format",
        default="auto",
        choices=("auto", "detbench", "nnssl", "nnunetv2", "multitalent_v1", "state_dict"),
        help="source format (default: detected)",
    )
    parser.add_argument("--arch", default=None, help="detector to check the transfer against (default: see above)")
    parser.add_argument("--in-channels", type=int, default=1, help="input channels of that detector (default 1)")
    parser.add_argument("--transfer", default="encoder", choices=("encoder", "all"), help="what to transfer")
    parser.add_argument("--stem", default=None, help="random | replicate | transfer:NAME (default: the paper's)")
    parser.add_argument("--strides", default=None, help="comma-separated stage strides for files that lack them")
    parser.add_argument("--report", default=None, help="also write the transfer report as JSON here")


def run(args: argparse.Namespace) -> int:
    from benchmark.core.atomic import atomic_write_json
    from pretraining.checkpoint import save_checkpoint
    from pretraining.importers import import_weights
    from pretraining.transfer import build_detector_for_checkpoint, default_stem, transfer_weights
    from pretraining.weights import resolve_weights

    strides = None
    if args.strides:
        try:
            strides = tuple(int(s) for s in args.strides.split(","))
        except ValueError:
            raise ValueError(f"--strides must be comma-separated integers, got {args.strides!r}") from None
    path, _ = resolve_weights(args.source)
    checkpoint = import_weights(path, fmt=args.format, strides=strides)
    enc = checkpoint.encoder
    arch = args.arch or ("resenc_retina_unet" if enc["kind"] == "resenc" else "retina_unet")
    detector = build_detector_for_checkpoint(arch, checkpoint, in_channels=args.in_channels)  # fails before writing
    stem = args.stem or default_stem(checkpoint, args.in_channels)
    report = transfer_weights(detector, checkpoint, args.transfer, stem)
    out = save_checkpoint(args.out, checkpoint)
    print(
        f"wrote {out} ({checkpoint.data.get('source', {}).get('format', 'detbench')} -> detbench): method "
        f"{checkpoint.method}, {enc['kind']} encoder, features {list(enc['features'])}, blocks "
        f"{list(enc['blocks'] or [])}, {enc['in_channels']} input channel(s), {len(checkpoint.encoder_weights)} tensors"
    )
    for note in checkpoint.data.get("source", {}).get("notes", []):
        print(f"  note: {note}")
    print(report.summary())
    if args.report:
        atomic_write_json(args.report, report.to_json(), indent=2)
    return 0
