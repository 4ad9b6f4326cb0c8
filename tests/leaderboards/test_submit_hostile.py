"""`benchmark submit` refuses malformed and hostile prediction files, names the problem, and writes nothing."""

from __future__ import annotations

import copy
import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest
from lb_submissions import write_json

from benchmark.cli import main


def _tree(root):
    """Every file under ``root`` with its size and mtime (to prove nothing was written)."""
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = os.path.join(dirpath, name)
            st = os.stat(p)
            out[p] = (st.st_size, st.st_mtime_ns)
    return out


def _first(obj):
    return next(iter(obj["cases"]))


def _with_detection(obj):
    """A copy whose first case has at least one detection (to corrupt)."""
    obj = copy.deepcopy(obj)
    case = obj["cases"][_first(obj)]
    if not case["scores"]:
        case.update(boxes=[[1, 1, 1, 3, 3, 3]], scores=[0.5], labels=[0])
    return obj


def _set(field, value, index=0):
    def make(tmp, good):
        obj = _with_detection(good)
        case = obj["cases"][_first(obj)]
        case[field][index] = value
        return write_json(tmp / "p.json", obj)

    return make


def _raw(name, data: bytes):
    def make(tmp, good):
        path = tmp / name
        path.write_bytes(data if isinstance(data, bytes) else data(good))
        return str(path)

    return make


def _zip(members, name="p.zip"):
    """``members``: list of (ZipInfo or name, bytes or callable(good) -> bytes)."""

    def make(tmp, good):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for info, data in members:
                zf.writestr(info, data(good) if callable(data) else data)
        path = tmp / name
        path.write_bytes(buf.getvalue())
        return str(path)

    return make


def _unknown_case(tmp, good):
    obj = copy.deepcopy(good)
    obj["cases"]["S06_9999"] = {"boxes": [], "scores": [], "labels": []}
    return write_json(tmp / "p.json", obj)


def _missing_case(tmp, good):
    obj = copy.deepcopy(good)
    del obj["cases"][_first(obj)]
    return write_json(tmp / "p.json", obj)


def _duplicated_case(tmp, good):
    text = json.dumps(good)
    cid = _first(good)
    dup = json.dumps({cid: good["cases"][cid]})[1:-1]
    text = text.replace('"cases": {', '"cases": {' + dup + ", ", 1)
    (tmp / "p.json").write_text(text)
    return str(tmp / "p.json")


def _huge(tmp, good):
    path = tmp / "p.json"
    with path.open("wb") as fh:  # sparse: no 65 MB written
        fh.truncate(65 * 1024 * 1024)
    return str(path)


def _too_many(tmp, good):
    obj = copy.deepcopy(good)
    n = 1001
    obj["cases"][_first(obj)] = {"boxes": [[1, 1, 1, 3, 3, 3]] * n, "scores": [0.5] * n, "labels": [0] * n}
    return write_json(tmp / "p.json", obj)


def _symlink_zip(tmp, good):
    info = zipfile.ZipInfo("p.json")
    info.external_attr = (0o120777 << 16)  # S_IFLNK
    return _zip([(info, b"/etc/passwd")])(tmp, good)


def _csv(text):
    def make(tmp, good):
        (tmp / "p.csv").write_text(text(good) if callable(text) else text)
        return str(tmp / "p.csv")

    return make


def _csv_rows(good, extra=()):
    rows = ["case_id,z1,y1,x1,z2,y2,x2,score,label"]
    for cid, case in good["cases"].items():
        if not case["scores"]:
            rows.append(f"{cid},,,,,,,,")
        for box, score, label in zip(case["boxes"], case["scores"], case["labels"], strict=True):
            rows.append(",".join([cid, *map(str, box), str(score), str(label)]))
    return "\n".join([*rows, *extra]) + "\n"


def _text_json(good):
    return json.dumps(good).encode()


CASES = [
    ("unknown-case-id", _unknown_case, "'S06_9999': unknown case id"),
    ("missing-case", _missing_case, "test case(s) missing"),
    ("duplicated-case", _duplicated_case, "duplicated"),
    ("nan-score", _set("scores", float("nan")), "NaN or infinite"),
    ("inf-score", _set("scores", float("inf")), "NaN or infinite"),
    ("negative-score", _set("scores", -0.1), "outside [0, 1]"),
    ("score-above-one", _set("scores", 1.5), "outside [0, 1]"),
    ("score-is-string", _set("scores", "high"), "score must be a number"),
    ("score-is-bool", _set("scores", True), "score must be a number"),
    ("inverted-box", _set("boxes", [3, 1, 1, 1, 3, 3]), "inverted or empty box on z"),
    ("box-outside-image", _set("boxes", [1, 1, 1, 3, 3, 5000]), "box outside the image on x"),
    ("negative-box", _set("boxes", [-2, 1, 1, 3, 3, 3]), "box outside the image on z"),
    ("box-wrong-length", _set("boxes", [1, 2, 3]), "box must be 6 numbers"),
    ("nan-box", _set("boxes", [1, 1, float("nan"), 3, 3, 3]), "NaN or infinite coordinates"),
    ("wrong-class", _set("labels", 5), "label 5 is not a class of the dataset"),
    ("float-label", _set("labels", 0.5), "label must be an integer"),
    ("boxes-not-a-list", lambda t, g: write_json(t / "p.json", {**g, "cases": {**g["cases"], _first(g): {
        "boxes": "none", "scores": [], "labels": []}}}), "'boxes' must be a list"),
    ("unknown-key", lambda t, g: write_json(t / "p.json", {**g, "scores": 1}), "unknown top-level key 'scores'"),
    ("wrong-dataset", lambda t, g: write_json(t / "p.json", {**g, "dataset": "S07"}), "dataset must be 'S06'"),
    ("top-level-list", lambda t, g: write_json(t / "p.json", [g]), "top level must be a JSON object"),
    ("empty-file", _raw("p.json", b""), "empty file"),
    ("whitespace-file", _raw("p.json", b"  \n "), "empty file"),
    ("truncated-json", _raw("p.json", lambda g: _text_json(g)[:-7]), "not valid JSON (truncated or malformed)"),
    ("huge-file", _huge, "file too large"),
    ("too-many-detections", _too_many, "1001 detections, over the cap"),
    ("binary-garbage", _raw("p.json", np.random.default_rng(0).bytes(4096)), "binary data"),
    ("high-bytes", _raw("p.json", bytes(range(128, 256)) * 8), "wrong encoding: not UTF-8"),
    ("nul-bytes", _raw("p.json", b'{"a": 1}\x00\x00\x00\x00' + b"x" * 100), "binary data"),
    ("utf16", _raw("p.json", lambda g: json.dumps(g).encode("utf-16")), "UTF-16"),
    ("latin1", _raw("p.json", lambda g: json.dumps({**g, "metadata": {"m": "caf\u00e9"}}, ensure_ascii=False)
                    .encode("latin-1")), "wrong encoding: not UTF-8"),
    ("pickle-as-json", _raw("p.json", lambda g: pickle.dumps(g)), "Python pickle"),
    ("zip-dotdot", _zip([("../p.json", _text_json)]), "'..' in the path"),
    ("zip-absolute", _zip([("/tmp/p.json", _text_json)]), "absolute path"),
    ("zip-symlink", _symlink_zip, "symbolic link"),
    ("zip-bomb", _zip([("p.json", b" " * (20 * 1024 * 1024))]), "compression ratio"),
    ("zip-two-files", _zip([("a.json", _text_json), ("b.json", _text_json)]), "exactly one .json or .csv"),
    ("zip-not-zip", _raw("p.zip", b"PK\x03\x04 this is not a zip"), "not a readable zip archive"),
    ("zip-with-pickle", _zip([("p.json", lambda g: pickle.dumps(g))]), "Python pickle"),
    ("csv-bad-header", _csv("case,score\nS06_0007,0.5\n"), "CSV header must be"),
    ("csv-not-a-number", _csv(lambda g: _csv_rows(g, [f"{_first(g)},a,1,1,3,3,3,0.5,0"])), "z1 'a' is not a number"),
    ("csv-duplicated-case", _csv(lambda g: _csv_rows(g, [f"{_first(g)},,,,,,,,"])), "duplicated"),
    ("csv-wrong-field-count", _csv(lambda g: _csv_rows(g, [f"{_first(g)},1,1,1,3,3,3"])), "7 fields, expected 9"),
    ("csv-nan-score", _csv(lambda g: _csv_rows(g, [f"{_first(g)},1,1,1,3,3,3,nan,0"])), "NaN or infinite"),
]


@pytest.mark.parametrize(("name", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_hostile_submission_is_refused_and_nothing_is_written(name, make, expected, twin, boards, good_predictions,
                                                              tmp_path, capsys):
    path = make(tmp_path, good_predictions)
    before = _tree(boards)
    code = main(["submit", "--dataset", str(twin), "--predictions", path, "--method", "Evil", "--boards", str(boards),
                 "--replicates", "5"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert expected in err, err
    assert "Traceback" not in err
    assert all(line.startswith("error: ") for line in err.splitlines() if line.strip()), err
    assert _tree(boards) == before  # nothing written, nothing touched
    assert not list(boards.glob("*/entries/evil.json"))


def test_there_are_at_least_twenty_distinct_hostile_cases():
    assert len({c[0] for c in CASES}) == len(CASES) >= 20


def test_every_problem_is_reported_at_once(twin, boards, good_predictions, tmp_path, capsys):
    obj = _with_detection(good_predictions)
    cid = _first(obj)
    obj["cases"][cid]["scores"][0] = 2.0
    obj["cases"][cid]["labels"][0] = 7
    obj["cases"]["S06_bogus"] = {"boxes": [], "scores": [], "labels": []}
    other = [c for c in obj["cases"] if c not in (cid, "S06_bogus")]
    del obj["cases"][other[0]]
    path = write_json(tmp_path / "p.json", obj)
    args = ["submit", "--dataset", str(twin), "--predictions", path, "--method", "x", "--boards", str(boards)]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "4 problem(s)" in err
    for fragment in (f"case {cid!r} detection 0: score 2.0", f"case {cid!r} detection 0: label 7",
                     "'S06_bogus': unknown case id", f"missing (every test case must be listed, an empty one too): "
                     f"{other[0]!r}"):
        assert fragment in err, err


def test_per_case_byte_cap(twin, good_predictions, tmp_path):
    from leaderboards.submission import Limits, SubmissionError, validate_submission
    from leaderboards.submit import expected_cases

    path = write_json(tmp_path / "p.json", good_predictions)
    with pytest.raises(SubmissionError, match="over the per-case cap of 10"):
        validate_submission(path, expected_cases(twin, ["test"]), ("nodule",), "S06", Limits(case_bytes=10))
