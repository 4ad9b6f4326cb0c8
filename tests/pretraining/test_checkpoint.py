"""The detbench pre-trained checkpoint format: round trip, sidecar hash, refusal of pickled objects."""

from __future__ import annotations

import json

import pytest
import torch

from pretraining.checkpoint import (
    CheckpointError,
    PretrainedCheckpoint,
    load_checkpoint,
    safe_torch_load,
    save_checkpoint,
    sidecar_path,
)


def _checkpoint() -> PretrainedCheckpoint:
    return PretrainedCheckpoint(
        method="mae",
        encoder={"kind": "plain", "in_channels": 1},
        encoder_weights={"stages.0.w": torch.arange(6.0).reshape(2, 3)},
        data={"corpus": "SPT", "cases": 3},
    )


def test_round_trip_and_sidecar(tmp_path):
    path = save_checkpoint(tmp_path / "enc.pt", _checkpoint())
    side = json.loads(sidecar_path(path).read_text())
    assert side["method"] == "mae" and len(side["sha256"]) == 64
    back = load_checkpoint(path)
    assert back.method == "mae" and back.data == {"corpus": "SPT", "cases": 3}
    assert torch.equal(back.encoder_weights["stages.0.w"], torch.arange(6.0).reshape(2, 3))


def test_changed_file_fails_the_hash(tmp_path):
    path = save_checkpoint(tmp_path / "enc.pt", _checkpoint())
    ck = _checkpoint()
    ck.method = "mg"
    import pretraining.checkpoint as mod

    mod.atomic_write(path, lambda fh: torch.save({**ck.metadata(), "encoder_weights": ck.encoder_weights}, fh))
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path)


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_pickled_object_is_refused(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"network_weights": {}, "thing": _Evil()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        safe_torch_load(path)
    assert "this must never run" not in capsys.readouterr().out


def test_not_a_detbench_checkpoint(tmp_path):
    path = tmp_path / "plain.pt"
    torch.save({"w": torch.zeros(1)}, path)
    with pytest.raises(CheckpointError, match="not a detbench"):
        load_checkpoint(path)
    (tmp_path / "junk.pt").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable"):
        load_checkpoint(tmp_path / "junk.pt")
