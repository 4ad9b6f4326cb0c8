"""Fingerprints that decide whether a preprocessed output is still valid.

* ``code_version()``: :data:`PREPROCESSING_VERSION` plus a hash of the source files of this package, so any
  change to the preprocessing code invalidates earlier outputs (safe, at the price of rebuilding after a
  cosmetic edit).
* Source signatures use file *sizes and modification times* (not content hashes, which would read terabytes
  for the real datasets): copying or touching a file invalidates its outputs, editing it always does.
* ``case_fingerprint``: plan digest + code version + the case's own source signature.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from benchmark.data.format import PreparedDataset, image_path, label_json_path, label_path

PREPROCESSING_VERSION = "2"  # 2: compressed Blosc2 store


def _sha(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """``<PREPROCESSING_VERSION>+<hash of this package's .py files>``."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return f"{PREPROCESSING_VERSION}+{h.hexdigest()[:16]}"


def case_source_files(dataset: PreparedDataset, case_id: str) -> list[Path]:
    """The files a case is read from: its channels, and its label map and label JSON when present."""
    split = dataset.splits.split_of(case_id)
    files = [image_path(dataset.root, case_id, c, split) for c in range(dataset.meta.num_channels)]
    files += [label_path(dataset.root, case_id, split), label_json_path(dataset.root, case_id, split)]
    return files


def files_signature(paths: Iterable[Path], root: Path) -> list[list]:
    """``[relative path, size, mtime_ns]`` of every path (``-1`` for missing files)."""
    out = []
    for p in paths:
        try:
            st = p.stat()
            out.append([str(p.relative_to(root)), st.st_size, st.st_mtime_ns])
        except FileNotFoundError:
            out.append([str(p.relative_to(root)), -1, -1])
    return out


def case_source_signature(dataset: PreparedDataset, case_id: str) -> str:
    """Hash of the sizes and modification times of a case's source files."""
    return _sha(files_signature(case_source_files(dataset, case_id), dataset.root))


def dataset_fingerprint(dataset: PreparedDataset, cases: Iterable[str]) -> str:
    """Hash of ``dataset.json``, ``splits.json`` and the source signatures of ``cases`` (those a plan used)."""
    meta = (dataset.root / "dataset.json").read_bytes()
    splits = (dataset.root / "splits.json").read_bytes()
    return _sha(
        {
            "dataset.json": hashlib.sha256(meta).hexdigest(),
            "splits.json": hashlib.sha256(splits).hexdigest(),
            "cases": {c: case_source_signature(dataset, c) for c in sorted(cases)},
        }
    )


def case_fingerprint(plan_digest: str, source_signature: str, code: str | None = None) -> str:
    """Fingerprint of one preprocessed case: the plan, the code version and the case's source files."""
    return _sha({"plan": plan_digest, "code": code or code_version(), "source": source_signature})
