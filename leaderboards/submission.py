"""Strict validation of an untrusted prediction file for ``benchmark submit``.

The file comes from outside the project, so nothing in it is trusted and nothing is executed: bytes are read
with a size cap, pickles and other binaries are recognised and refused (never unpickled), zip archives are
inspected member by member with :mod:`zipfile` (no extraction to disk), JSON is parsed with :mod:`json` and
CSV with :mod:`csv`. Every problem found is collected and reported at once, each naming the case and the
detection (JSON) or line (CSV), so a submitter fixes the file in one round. Checks (leaderboards/README.md):

* container: not empty, within :data:`MAX_FILE_BYTES`, UTF-8 text (no pickle, no binary, no UTF-16); a zip holds
  exactly one ``.json`` or ``.csv`` member with a safe relative name (no absolute path, no ``..``, no
  symlink), within the decompressed-size cap and the compression-ratio cap (zip bombs);
* schema and types: the prediction format of docs/predictions-format.md (JSON) or the CSV columns
  :data:`CSV_COLUMNS`; unknown keys are errors;
* case ids exactly the expected split(s): none missing, none unknown, none duplicated;
* per detection: 6 finite box coordinates with ``lo < hi`` on every axis inside the case's image shape, a finite
  score in [0, 1], an integer label among the dataset's classes;
* caps: :data:`MAX_DETECTIONS_PER_CASE` detections and :data:`MAX_CASE_BYTES` bytes per case.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import stat
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

__all__ = [
    "CSV_COLUMNS",
    "MAX_CASE_BYTES",
    "MAX_COMPRESSION_RATIO",
    "MAX_DETECTIONS_PER_CASE",
    "MAX_FILE_BYTES",
    "Limits",
    "SubmissionError",
    "ValidatedSubmission",
    "validate_submission",
]

MAX_FILE_BYTES = 64 * 1024 * 1024  # the submitted file, and the decompressed member of a zip
MAX_CASE_BYTES = 2 * 1024 * 1024  # one case's part of the file
MAX_DETECTIONS_PER_CASE = 1000  # matching keeps the best 100 per case and class anyway
MAX_COMPRESSION_RATIO = 100.0  # decompressed / compressed size of a zip member
MAX_CASE_ID_CHARS = 200
MAX_METADATA_BYTES = 16 * 1024
MAX_LISTED = 1000  # every problem is counted; this many are listed in the message
CSV_COLUMNS = ("case_id", "z1", "y1", "x1", "z2", "y2", "x2", "score", "label")
JSON_KEYS = {"format_version", "dataset", "metadata", "cases"}
CASE_KEYS = {"boxes", "scores", "labels", "centers_world", "boxes_world"}
_AXES = ("z", "y", "x")


@dataclass(frozen=True)
class Limits:
    """The caps of one validation (tests lower them to exercise them with tiny files)."""

    file_bytes: int = MAX_FILE_BYTES
    case_bytes: int = MAX_CASE_BYTES
    detections_per_case: int = MAX_DETECTIONS_PER_CASE
    compression_ratio: float = MAX_COMPRESSION_RATIO


class SubmissionError(ValueError):
    """The submission was refused; ``problems`` lists every problem found (each names case and row)."""

    def __init__(self, source: str, problems: Sequence[str]) -> None:
        self.source = source
        self.problems = list(problems)
        shown = self.problems[:MAX_LISTED]
        more = f"\n  ... and {len(self.problems) - len(shown)} more" if len(self.problems) > len(shown) else ""
        super().__init__(
            f"{source}: refused, {len(self.problems)} problem(s):\n  " + "\n  ".join(shown) + more
        )


@dataclass
class ValidatedSubmission:
    """A submission that passed every check: arrays per case, the file's sha256 and its format."""

    cases: dict[str, Any]  # case id -> benchmark.metrics.CasePrediction
    sha256: str
    file_format: str  # "json", "csv", "zip/json", "zip/csv"
    metadata: dict = field(default_factory=dict)

    @property
    def n_detections(self) -> int:
        return sum(len(c) for c in self.cases.values())


# -- container: bytes, encoding, zip ----------------------------------------------------------------------
def _read_capped(path: Path, limits: Limits) -> bytes:
    info = path.lstat()
    if stat.S_ISLNK(info.st_mode):
        raise SubmissionError(str(path), ["the prediction file is a symbolic link; pass the file itself"])
    if not stat.S_ISREG(info.st_mode):
        raise SubmissionError(str(path), ["not a regular file"])
    if info.st_size > limits.file_bytes:
        raise SubmissionError(
            str(path), [f"file too large: {info.st_size} bytes, the cap is {limits.file_bytes} bytes"]
        )
    with path.open("rb") as fh:
        data = fh.read(limits.file_bytes + 1)
    if len(data) > limits.file_bytes:  # grew while reading
        raise SubmissionError(str(path), [f"file too large: over the cap of {limits.file_bytes} bytes"])
    return data


def _binary_problem(data: bytes) -> str | None:
    """Why ``data`` is not a text prediction file (empty, pickle, UTF-16, binary), or None."""
    if not data.strip():
        return "empty file: expected prediction JSON or CSV"
    if data[:1] == b"\x80" and len(data) > 1 and data[1] <= 5:
        return "the file is a Python pickle, not JSON or CSV; pickles are never loaded (they can run code)"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or (len(data) > 3 and (data[1:2] == b"\x00" or data[0:1] == b"\x00")):
        return "wrong encoding: the file looks like UTF-16; save it as UTF-8"
    if b"\x00" in data:
        offset = data.index(b"\x00")
        return f"binary data (a NUL byte at offset {offset}); expected UTF-8 JSON or CSV text"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as err:
        return (
            f"wrong encoding: not UTF-8 text (invalid byte 0x{data[err.start]:02x} at offset {err.start}); "
            "save it as UTF-8"
        )
    return None


def _zip_member(data: bytes, source: str, limits: Limits) -> tuple[str, bytes]:
    """The one prediction file inside a zip, read in memory with every safety check."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as err:
        raise SubmissionError(source, [f"not a readable zip archive ({err})"]) from None
    problems, files = [], []
    for info in infos:
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        if name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
            problems.append(f"zip member {name!r}: absolute path")
        if ".." in pure.parts:
            problems.append(f"zip member {name!r}: '..' in the path")
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            problems.append(f"zip member {name!r}: symbolic link")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            problems.append(f"zip member {name!r}: encrypted")
        if info.file_size > limits.file_bytes:
            problems.append(
                f"zip member {name!r}: decompressed size {info.file_size} bytes over the cap of {limits.file_bytes}"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.compression_ratio:
            problems.append(
                f"zip member {name!r}: compression ratio {ratio:.0f} over the cap of {limits.compression_ratio:.0f} "
                "(zip bomb?)"
            )
        files.append(info)
    if len(files) != 1 and not problems:
        problems.append(f"a zip must hold exactly one .json or .csv prediction file, it holds {len(files)} files")
    elif files and PurePosixPath(files[0].filename).suffix.lower() not in (".json", ".csv") and not problems:
        problems.append(f"zip member {files[0].filename!r}: expected a .json or .csv file")
    if problems:
        raise SubmissionError(source, problems)
    info = files[0]
    try:
        with archive.open(info) as fh:  # the header's sizes may lie: read at most the cap + 1
            member = fh.read(limits.file_bytes + 1)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError) as err:
        raise SubmissionError(source, [f"zip member {info.filename!r}: unreadable ({err})"]) from None
    if len(member) > limits.file_bytes or len(member) > limits.compression_ratio * max(info.compress_size, 1):
        raise SubmissionError(source, [f"zip member {info.filename!r}: decompresses beyond the size caps (zip bomb?)"])
    return info.filename, member


# -- parsing ---------------------------------------------------------------------------------------------
class _Pairs(dict):
    """A JSON object that remembers keys it saw twice (``json`` keeps the last one silently)."""

    duplicates: list[str]


def _pairs_hook(pairs: list[tuple[str, Any]]) -> _Pairs:
    out = _Pairs()
    out.duplicates = []
    for key, value in pairs:
        if key in out:
            out.duplicates.append(key)
        out[key] = value
    return out


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


@dataclass
class _Detection:
    where: str
    box: list[Any]
    score: Any
    label: Any


@dataclass
class _Case:
    where: str
    detections: list[_Detection] = field(default_factory=list)
    n_bytes: int = 0
    world: dict[str, Any] = field(default_factory=dict)


def _parse_json(text: str, problems: list[str], dataset_id: str) -> tuple[dict[str, _Case], list[str], dict]:
    try:
        obj = json.loads(text, object_pairs_hook=_pairs_hook)
    except json.JSONDecodeError as err:
        problems.append(f"not valid JSON (truncated or malformed): {err.msg} at line {err.lineno} column {err.colno}")
        return {}, [], {}
    except RecursionError:
        problems.append("not valid JSON: nested too deeply")
        return {}, [], {}
    if not isinstance(obj, dict):
        problems.append(f"top level must be a JSON object, got {type(obj).__name__}")
        return {}, [], {}
    for key in sorted(set(obj) - JSON_KEYS):
        problems.append(f"unknown top-level key {key!r} (valid: {', '.join(sorted(JSON_KEYS))})")
    for key in obj.duplicates:
        problems.append(f"top-level key {key!r} appears twice")
    if obj.get("format_version") != 1 or isinstance(obj.get("format_version"), bool):
        problems.append(f"format_version must be 1, got {obj.get('format_version')!r}")
    if obj.get("dataset") != dataset_id:
        problems.append(f"dataset must be {dataset_id!r} (the dataset submitted to), got {obj.get('dataset')!r}")
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(f"metadata must be an object, got {type(metadata).__name__}")
        metadata = {}
    elif len(json.dumps(metadata)) > MAX_METADATA_BYTES:
        problems.append(f"metadata larger than {MAX_METADATA_BYTES} bytes")
        metadata = {}
    cases_obj = obj.get("cases")
    if not isinstance(cases_obj, dict):
        problems.append(f"'cases' must be an object of case id -> detections, got {type(cases_obj).__name__}")
        return {}, [], metadata
    duplicates = list(cases_obj.duplicates)
    cases: dict[str, _Case] = {}
    for case_id, value in cases_obj.items():
        where = f"case {case_id!r}"
        case = _Case(where, n_bytes=len(json.dumps(value)))
        cases[case_id] = case
        if not isinstance(value, dict):
            problems.append(f"{where}: must be an object with boxes, scores, labels, got {type(value).__name__}")
            continue
        for key in sorted(set(value) - CASE_KEYS):
            problems.append(f"{where}: unknown key {key!r} (valid: {', '.join(sorted(CASE_KEYS))})")
        for key in value.duplicates:
            problems.append(f"{where}: key {key!r} appears twice")
        arrays = {}
        for key in ("boxes", "scores", "labels"):
            if key not in value:
                problems.append(f"{where}: missing key {key!r}")
            elif not isinstance(value[key], list):
                problems.append(f"{where}: {key!r} must be a list, got {type(value[key]).__name__}")
            else:
                arrays[key] = value[key]
        if len(arrays) < 3:
            continue
        lengths = {k: len(v) for k, v in arrays.items()}
        for key in ("centers_world", "boxes_world"):
            if key in value:
                case.world[key] = value[key]
                lengths[key] = len(value[key]) if isinstance(value[key], list) else -1
        if len(set(lengths.values())) != 1:
            problems.append(f"{where}: lists of different lengths {lengths}")
            continue
        for i, (box, score, label) in enumerate(zip(arrays["boxes"], arrays["scores"], arrays["labels"], strict=True)):
            case.detections.append(_Detection(f"{where} detection {i}", box, score, label))
    return cases, duplicates, metadata


def _parse_csv(text: str, problems: list[str]) -> tuple[dict[str, _Case], list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except (StopIteration, csv.Error) as err:
        problems.append(f"CSV without a header row ({err})")
        return {}, []
    header = [h.strip() for h in header]
    if header != list(CSV_COLUMNS):
        problems.append(f"line 1: CSV header must be {','.join(CSV_COLUMNS)}, got {','.join(header)[:200]}")
        return {}, []
    cases: dict[str, _Case] = {}
    empty_rows: dict[str, int] = {}
    duplicates: list[str] = []
    try:
        for row in reader:
            line = reader.line_num
            if not row or all(not c.strip() for c in row):
                continue
            case_id = row[0].strip()
            where = f"line {line} (case {case_id!r})"
            case = cases.setdefault(case_id, _Case(f"case {case_id!r}"))
            case.n_bytes += sum(len(c) + 1 for c in row)
            if len(row) != len(CSV_COLUMNS):
                problems.append(f"{where}: {len(row)} fields, expected {len(CSV_COLUMNS)}")
                continue
            rest = [c.strip() for c in row[1:]]
            if not any(rest):  # a case without detections
                if case_id in empty_rows or case.detections:
                    duplicates.append(case_id)
                empty_rows[case_id] = line
                continue
            if case_id in empty_rows:
                duplicates.append(case_id)
            values: list[Any] = []
            bad = False
            for name, cell in zip(CSV_COLUMNS[1:8], rest[:7], strict=True):
                try:
                    values.append(float(cell))
                except ValueError:
                    problems.append(f"{where}: {name} {cell[:40]!r} is not a number")
                    bad = True
            try:
                label: Any = int(rest[7])
            except ValueError:
                label = rest[7][:40]
            if bad:
                continue
            case.detections.append(_Detection(where, values[:6], values[6], label))
    except csv.Error as err:
        problems.append(f"line {reader.line_num}: malformed CSV ({err})")
    return cases, duplicates


# -- content checks --------------------------------------------------------------------------------------
def _check_detection(det: _Detection, shape: Sequence[int] | None, n_classes: int, problems: list[str]) -> bool:
    ok = True
    box = det.box
    if not isinstance(box, list) or len(box) != 6 or not all(_is_number(v) for v in box):
        problems.append(f"{det.where}: box must be 6 numbers (z1, y1, x1, z2, y2, x2), got {str(box)[:80]}")
        ok = False
    elif not all(math.isfinite(v) for v in box):
        problems.append(f"{det.where}: box has NaN or infinite coordinates {box}")
        ok = False
    else:
        for a, axis in enumerate(_AXES):
            lo, hi = box[a], box[a + 3]
            if not lo < hi:
                problems.append(f"{det.where}: inverted or empty box on {axis}: {axis}1={lo} must be < {axis}2={hi}")
                ok = False
            elif shape is not None and (lo < 0 or hi > shape[a]):
                problems.append(
                    f"{det.where}: box outside the image on {axis}: [{lo}, {hi}] not within [0, {shape[a]}] "
                    f"(image shape {tuple(shape)})"
                )
                ok = False
    score = det.score
    if not _is_number(score):
        problems.append(f"{det.where}: score must be a number, got {str(score)[:40]!r}")
        ok = False
    elif not math.isfinite(score):
        problems.append(f"{det.where}: score is {score} (NaN or infinite); scores must be finite in [0, 1]")
        ok = False
    elif not 0.0 <= score <= 1.0:
        problems.append(f"{det.where}: score {score} outside [0, 1]")
        ok = False
    label = det.label
    if not isinstance(label, int) or isinstance(label, bool):
        problems.append(f"{det.where}: label must be an integer class index, got {str(label)[:40]!r}")
        ok = False
    elif not 0 <= label < n_classes:
        problems.append(f"{det.where}: label {label} is not a class of the dataset (valid: 0..{n_classes - 1})")
        ok = False
    return ok


def _check_world(case: _Case, problems: list[str]) -> dict[str, np.ndarray]:
    out = {}
    for key, width in (("centers_world", 3), ("boxes_world", 6)):
        if key not in case.world:
            continue
        rows = case.world[key]
        good = isinstance(rows, list) and all(
            isinstance(r, list) and len(r) == width and all(_is_number(v) and math.isfinite(v) for v in r) for r in rows
        )
        if not good:
            problems.append(f"{case.where}: {key} must be a list of {width} finite numbers per detection")
        else:
            out[key] = np.asarray(rows, np.float64).reshape(-1, width)
    return out


def validate_submission(
    path: str | Path,
    expected: Mapping[str, Sequence[int] | None],
    class_names: Sequence[str],
    dataset_id: str,
    limits: Limits = Limits(),
) -> ValidatedSubmission:
    """Validate ``path`` against the expected cases (case id -> image shape ``(z, y, x)``, or None to skip the
    inside-the-image check) and classes; :class:`SubmissionError` lists every problem. Nothing is written."""
    from benchmark.metrics.predictions import CasePrediction

    path = Path(path)
    source = str(path)
    data = _read_capped(path, limits)
    sha256 = hashlib.sha256(data).hexdigest()
    kind = "json" if path.suffix.lower() == ".json" else "csv" if path.suffix.lower() == ".csv" else ""
    prefix = ""
    if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06" or path.suffix.lower() == ".zip":
        name, data = _zip_member(data, source, limits)
        source, prefix = f"{source}!{name}", "zip/"
        kind = PurePosixPath(name).suffix.lower().lstrip(".")
    problem = _binary_problem(data)
    if problem:
        raise SubmissionError(source, [problem])
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    if not kind:
        kind = "json" if text.lstrip()[:1] in "{[" else "csv"

    problems: list[str] = []
    metadata: dict = {}
    if kind == "json":
        cases, duplicates, metadata = _parse_json(text, problems, dataset_id)
    else:
        cases, duplicates = _parse_csv(text, problems)
    for case_id in sorted(set(duplicates)):
        problems.append(f"case {case_id!r}: duplicated (listed more than once)")
    unknown = [c for c in cases if c not in expected]
    missing = [c for c in expected if c not in cases]
    for case_id in unknown:
        shown = case_id if len(case_id) <= MAX_CASE_ID_CHARS else case_id[:MAX_CASE_ID_CHARS] + "..."
        problems.append(f"case {shown!r}: unknown case id, not in the test split")
    if missing:
        problems.append(
            f"{len(missing)} test case(s) missing (every test case must be listed, an empty one too): "
            + ", ".join(repr(c) for c in missing)
        )
    n_classes = len(class_names)
    out: dict[str, Any] = {}
    for case_id, case in cases.items():
        if case.n_bytes > limits.case_bytes:
            problems.append(f"{case.where}: {case.n_bytes} bytes, over the per-case cap of {limits.case_bytes}")
        if len(case.detections) > limits.detections_per_case:
            problems.append(
                f"{case.where}: {len(case.detections)} detections, "
                f"over the cap of {limits.detections_per_case} per case"
            )
            continue
        shape = expected.get(case_id)
        ok = [_check_detection(d, shape, n_classes, problems) for d in case.detections]
        world = _check_world(case, problems)
        if case_id in expected and all(ok):
            n = len(case.detections)
            out[case_id] = (
                np.asarray([d.box for d in case.detections], np.float64).reshape(n, 6),
                np.asarray([d.score for d in case.detections], np.float64).reshape(n),
                np.asarray([d.label for d in case.detections], np.int64).reshape(n),
                world,
            )
    if problems:
        raise SubmissionError(source, problems)
    predictions = {
        cid: CasePrediction(boxes, scores, labels, world.get("centers_world"), world.get("boxes_world"))
        for cid, (boxes, scores, labels, world) in ((c, out[c]) for c in expected)
    }
    return ValidatedSubmission(predictions, sha256, prefix + kind, metadata)
