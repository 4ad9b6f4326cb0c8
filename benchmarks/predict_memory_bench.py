"""Peak memory (RSS) of ``benchmark predict`` on one 512^3 scan with a tiny model.

Writes a synthetic int16 CT scan of 512 x 512 x 512 voxels (0.8 x 0.8 mm in-plane, 1 mm slices: 256 MiB as
int16) as an ``.mha`` file, and a run folder with an untrained tiny Retina U-Net (1 mm plan spacing, patch
128^3, CT normalisation), then measures in fresh subprocesses (peak RSS from ``getrusage``):

* ``predict``: the whole command (``benchmark.cli.main``), read -> preprocess -> sliding window -> file;
* ``slab``: preprocessing only, :func:`benchmark.inference.scan_preprocessing.preprocess_scan` (slab path);
* ``whole``: preprocessing only with training's own whole-image functions (``whole_voxels`` unlimited),
  the reference the slab path avoids (float32 copy of the image plus SciPy's float64 spline coefficients);
* ``baseline``: python with the imports and the scan read, nothing else.

Usage::

    python benchmarks/predict_memory_bench.py [--size 512] [--modes baseline,slab,whole,predict] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
mode, run, scan, out = sys.argv[1:5]
import numpy as np, SimpleITK as sitk, torch  # noqa: F401  (the imports every mode pays)
from benchmark.cli import main
from benchmark.core.conventions import Geometry
from benchmark.inference.bundle import load_predictor
from benchmark.inference.scan_preprocessing import preprocess_scan
start = time.perf_counter()
if mode == "predict":
    code = main(["predict", "--model", run, "--input", scan, "--out", out, "--device", "cpu", "--no-progress"])
    assert code == 0, code
else:
    image = sitk.ReadImage(scan)
    if mode != "baseline":
        plan = load_predictor(run).plan_obj()
        kw = {"whole_voxels": 1 << 62} if mode == "whole" else {"whole_voxels": 0}
        pre, _ = preprocess_scan([sitk.GetArrayViewFromImage(image)], Geometry.from_sitk(image), plan, **kw)
        print(json.dumps({"preprocessed_shape": list(pre.shape)}), file=sys.stderr)
seconds = time.perf_counter() - start
print(json.dumps({"mode": mode, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "seconds": round(seconds, 1)}))
"""


def make_inputs(root: Path, size: int) -> tuple[Path, Path]:
    """The scan (``scan.mha``) and the tiny run folder (``run/``) under ``root``."""
    import numpy as np
    import SimpleITK as sitk
    import torch

    from benchmark.inference.bundle import write_predictor
    from benchmark.inference.postprocessing import PostprocessingParams
    from benchmark.inference.sliding_window import InferenceConfig
    from benchmark.preprocessing.plan import ChannelNormalization, Plan
    from models.registry import build_detector, default_config

    rng = np.random.default_rng(0)
    scan = np.empty((size, size, size), dtype=np.int16)
    for z in range(size):  # slice by slice: the generator itself stays small
        scan[z] = rng.normal(-600, 300, size=(size, size)).astype(np.int16)
    image = sitk.GetImageFromArray(scan)
    del scan
    image.SetSpacing((0.8, 0.8, 1.0))
    sitk.WriteImage(image, str(root / "scan.mha"))
    del image

    run = root / "run"
    run.mkdir()
    config = default_config("retina_unet", width_multiplier=0.125, n_stages=4)
    torch.save({"model": build_detector("retina_unet", config).state_dict()}, run / "model_final.pt")
    ct = ChannelNormalization("ct", lower=-1000.0, upper=400.0, mean=-300.0, std=300.0)
    plan = Plan("fixed", "bench", "B01", (1.0, 1.0, 1.0), (128, 128, 128), (ct,), "bench", modalities=("CT",))
    inference = InferenceConfig(patch_size=(128, 128, 128), overlap=0.0)
    write_predictor(run, "retina_unet", config, plan, inference, PostprocessingParams(), "B01", ["nodule"])
    return root / "scan.mha", run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--modes", default="baseline,slab,whole,predict")
    parser.add_argument("--keep", default=None, help="write the inputs here and keep them (default: a temp folder)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp)
        root.mkdir(parents=True, exist_ok=True)
        t0 = time.perf_counter()
        scan, run = make_inputs(root, args.size)
        print(f"inputs written in {time.perf_counter() - t0:.0f} s: {scan} ({scan.stat().st_size / 2**20:.0f} MiB)")
        for mode in args.modes.split(","):
            proc = subprocess.run(
                [sys.executable, "-c", CHILD, mode, str(run), str(scan), str(root / "preds.json")],
                capture_output=True,
                text=True,
            )
            if proc.returncode:
                print(proc.stderr[-3000:], file=sys.stderr)
                raise SystemExit(f"mode {mode} failed")
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            print(f"{mode:<9} peak RSS {result['peak_rss_mib']:7.0f} MiB  {result['seconds']:6.1f} s")


if __name__ == "__main__":
    main()
