"""detbench's pre-trained checkpoint format: encoder weights plus everything needed to rebuild and cite them.

A checkpoint is one file written with ``torch.save`` holding only plain data (dicts, lists, strings, numbers,
tensors), so it loads with ``torch.load(weights_only=True)`` and never needs pickle::

    {
      "format": "detbench-pretrained", "version": 1,
      "method": "mae",                         # pre-training method id (pretraining registry)
      "encoder": {...},                        # models.config.EncoderConfig fields (kind, in_channels, ...)
      "encoder_weights": {"stem...": Tensor},  # the encoder's state dict (keys relative to the encoder)
      "stems": {"<name>": {key: Tensor}},      # optional extra input stems (MultiTalent: one per dataset)
      "data": {...},                           # pre-training data summary (corpus id, cases, modalities)
      "preprocessing": {...},                  # spacing, normalisation, patch size
      "training": {...},                       # profile, seed, steps, final loss
      "code": {...},                           # detbench version, git revision
    }

A sidecar ``<file>.json`` repeats the metadata (without tensors) and the file's sha256, so a checkpoint can be
identified and verified without loading it. Files from elsewhere (nnssl, nnU-Net, MultiTalent) are read by the
importers, not by :func:`load_checkpoint`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmark.core.atomic import atomic_write, atomic_write_json

FORMAT = "detbench-pretrained"
VERSION = 1
MAX_CHECKPOINT_BYTES = 8 * 1024**3  # a ResEnc-L encoder is ~0.4 GB in float32; refuse absurd files early


class CheckpointError(ValueError):
    """A checkpoint that cannot be read safely or is not in the expected format; the message says why."""


@dataclass
class PretrainedCheckpoint:
    """The content of a detbench checkpoint (see the module docstring)."""

    method: str
    encoder: dict[str, Any]
    encoder_weights: dict[str, Any]
    stems: dict[str, dict[str, Any]] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    preprocessing: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    code: dict[str, Any] = field(default_factory=dict)

    def metadata(self) -> dict[str, Any]:
        """Everything but the tensors."""
        return {
            "format": FORMAT,
            "version": VERSION,
            "method": self.method,
            "encoder": dict(self.encoder),
            "stems": sorted(self.stems),
            "data": dict(self.data),
            "preprocessing": dict(self.preprocessing),
            "training": dict(self.training),
            "code": dict(self.code),
        }


def sha256_of(path: str | Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def save_checkpoint(path: str | Path, checkpoint: PretrainedCheckpoint) -> Path:
    """Write ``checkpoint`` atomically to ``path`` and its metadata + sha256 to ``path.json``."""
    import torch

    path = Path(path)
    payload = {
        **checkpoint.metadata(),
        "stems": {k: dict(v) for k, v in checkpoint.stems.items()},
        "encoder_weights": dict(checkpoint.encoder_weights),
    }
    atomic_write(path, lambda fh: torch.save(payload, fh))
    atomic_write_json(sidecar_path(path), {**checkpoint.metadata(), "sha256": sha256_of(path)}, default=str)
    return path


def sidecar_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".json")


def safe_torch_load(path: str | Path, max_bytes: int = MAX_CHECKPOINT_BYTES) -> Any:
    """``torch.load`` of an untrusted file: size-capped, CPU, ``weights_only=True`` (pickled objects refused)."""
    import pickle

    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint file at {path}")
    size = path.stat().st_size
    if size > max_bytes:
        raise CheckpointError(f"{path}: {size / 1e9:.1f} GB is larger than the {max_bytes / 1e9:.1f} GB limit")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        text = str(err)
        unsupported = [line.strip() for line in text.splitlines() if "Unsupported global" in line]
        if not unsupported:  # not a refused object but a damaged or foreign file
            last = text.strip().splitlines()[-1][:200] if text.strip() else type(err).__name__
            raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({last})") from None
        first = unsupported[0][:200]
        raise CheckpointError(
            f"{path}: refused, the file needs arbitrary pickled objects to load ({first}); detbench only loads "
            "tensors and plain data. Re-save the state dict alone (torch.save(model.state_dict(), ...))"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable PyTorch checkpoint ({err})") from None


def load_checkpoint(path: str | Path, verify: bool = True) -> PretrainedCheckpoint:
    """Read a detbench checkpoint; with ``verify``, its sha256 must match the sidecar when one exists."""
    path = Path(path)
    payload = safe_torch_load(path)
    if not isinstance(payload, Mapping) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a detbench pre-trained checkpoint (no format={FORMAT!r})")
    if payload.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {payload.get('version')} is not supported ({VERSION})")
    side = sidecar_path(path)
    if verify and side.is_file():
        expected = json.loads(side.read_text()).get("sha256")
        if expected and expected != sha256_of(path):
            raise CheckpointError(f"{path}: sha256 differs from {side}; the file was changed or is incomplete")
    missing = [k for k in ("method", "encoder", "encoder_weights") if k not in payload]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {missing}")
    return PretrainedCheckpoint(
        method=str(payload["method"]),
        encoder=dict(payload["encoder"]),
        encoder_weights=dict(payload["encoder_weights"]),
        stems={k: dict(v) for k, v in dict(payload.get("stems") or {}).items()},
        data=dict(payload.get("data") or {}),
        preprocessing=dict(payload.get("preprocessing") or {}),
        training=dict(payload.get("training") or {}),
        code=dict(payload.get("code") or {}),
    )
