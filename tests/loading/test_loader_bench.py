"""benchmarks/loader_bench.py runs end to end on tiny data and compares the old and the new store."""

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "loader_bench.py"


@pytest.mark.slow
def test_loader_bench_runs_side_by_side():
    args = ["--shape", "40", "40", "40", "--cases", "2", "--patch-sizes", "16", "--batches", "1"]
    args += ["--repeats", "1", "--workers", "0", "--skip-backends"]
    out = subprocess.run([sys.executable, str(BENCH), *args], capture_output=True, text=True, timeout=600, check=True)
    lines = out.stdout.splitlines()
    assert any(line.startswith("b2nd lz4hc-5 c64 b16 *") for line in lines)  # the store's settings are marked
    header = next(line for line in lines if line.startswith("setting"))
    assert "npy mmap (old)" in header and "b2nd+cache (default)" in header
    rows = [line for line in lines if line.startswith("16^3 ")]
    assert len(rows) == 4 and all(line.count("/s") == 3 for line in rows[1:])  # read row + 3 loader rows
