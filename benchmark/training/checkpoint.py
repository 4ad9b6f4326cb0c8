"""Reading training checkpoints without unpickling arbitrary objects.

Checkpoints (``checkpoint_last.pt``, ``model_final.pt``) are read with ``torch.load(weights_only=True)``:
PyTorch's restricted unpickler rebuilds tensors, state dicts and plain containers (dict, list, tuple, str,
int, float, bool, None) and refuses every other global, so a file handed to us cannot run code when loaded.
The trainer writes only such plain data (RNG states included: see :func:`rng_state`).

:data:`SAFE_GLOBALS` is the explicit allow-list on top of that: numpy's array reconstruction, so that
checkpoints written before the RNG states became plain data (they held numpy's legacy ``get_state()``
tuple, whose key is an ``ndarray``) still resume. Array reconstruction builds data, it calls nothing else;
an object-dtype array would still have to unpickle its elements through the same restricted unpickler.
"""

from __future__ import annotations

import pickle
import random
import re
from pathlib import Path

import numpy as np
import torch

try:  # numpy >= 2
    from numpy._core.multiarray import _reconstruct
except ImportError:  # pragma: no cover - numpy 1.x
    from numpy.core.multiarray import _reconstruct  # type: ignore[no-redef]

__all__ = ["SAFE_GLOBALS", "read_checkpoint", "rng_state", "set_rng_state"]

#: Globals ``read_checkpoint`` allows beyond ``weights_only``'s defaults (numpy arrays of old RNG states).
SAFE_GLOBALS: tuple = (_reconstruct, np.ndarray, np.dtype, type(np.dtype(np.uint32)))


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """The payload of a checkpoint file, loaded with ``weights_only=True`` and :data:`SAFE_GLOBALS`.

    ValueError (one line, naming the file and the refused global) when the file holds anything else, e.g. a
    pickled object of an arbitrary class: such a file is not loaded, whoever wrote it.
    """
    path = Path(path)
    try:
        with torch.serialization.safe_globals(list(SAFE_GLOBALS)):
            payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL ([\w.]+)", str(err))
        detail = f"it needs the global {found.group(1)}" if found else "not loadable with weights_only=True"
        raise ValueError(
            f"{path}: refusing to load a checkpoint that holds objects other than tensors and plain data "
            f"({detail}); only checkpoints written by this trainer are read"
        ) from None
    if not isinstance(payload, dict):
        raise ValueError(f"{path}: not a detbench checkpoint (expected a dict, got {type(payload).__name__})")
    return payload


def rng_state() -> dict:
    """torch, numpy and python RNG states as plain data (a tensor, ints, floats, str) for ``weights_only``."""
    bit = np.random.get_state(legacy=False)
    if bit["bit_generator"] != "MT19937":  # np.random's global generator is always MT19937
        raise ValueError(f"unexpected numpy global bit generator {bit['bit_generator']!r}")
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": torch.from_numpy(bit["state"]["key"].astype(np.int64)),
            "pos": int(bit["state"]["pos"]),
            "has_gauss": int(bit["has_gauss"]),
            "gauss": float(bit["gauss"]),
        },
        "python": [int(version), [int(v) for v in internal], gauss],
    }


def set_rng_state(state: dict) -> None:
    """Restore :func:`rng_state` (or the legacy format: numpy's ``get_state()`` tuple, python's tuple)."""
    torch.set_rng_state(state["torch"])
    np_state = state["numpy"]
    if isinstance(np_state, dict):
        key = np.asarray(np_state["key"].numpy() if torch.is_tensor(np_state["key"]) else np_state["key"])
        np_state = ("MT19937", key.astype(np.uint32), np_state["pos"], np_state["has_gauss"], np_state["gauss"])
    np.random.set_state(np_state)
    version, internal, gauss = state["python"]
    random.setstate((int(version), tuple(int(v) for v in internal), gauss))
