"""One typed identity per fine-tuning run: :class:`RunKey`.

The key holds everything that changes a run's results: dataset, architecture, pre-training setting, training
profile, fold, seed, and ``options`` for anything else (test-time augmentation, a weights file's hash, a twin
generated at another scale than the profile's, ...). It names the run folder (``benchmark train``), the
results-store entry (``benchmark run``, :mod:`analysis.store`) and the runner's skip decision, so runs that
differ in any of these never share a folder, and a finished run is recognised wherever it was made.

Folder: ``<dataset>/<architecture>__<pretraining>/<profile>_<fold>_seed<seed>[_<variant>]`` where ``fold`` is
``official`` or ``foldK`` and ``variant`` is an 8-character hash of ``options``, present only when there are
options, so the common runs keep readable names.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

__all__ = ["RunKey"]

_ID = re.compile(r"^[a-z0-9][a-z0-9.-]*(_[a-z0-9.-]+)*$")  # no double underscore: it separates arch and pre
_DATASET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
_PROFILE = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # no '_': it separates the parts of the leaf folder name


def _check(kind: str, value: object, pattern: re.Pattern[str], hint: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise ValueError(f"{kind} {value!r} is not valid in a run identity: {hint}")
    return value


@dataclass(frozen=True, order=True)
class RunKey:
    """The identity of one fine-tuning run (see the module docstring)."""

    dataset: str
    architecture: str
    pretraining: str
    profile: str
    fold: int | None = None
    seed: int = 0
    options: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        _check("dataset id", self.dataset, _DATASET, "letters, digits, '.', '-' (e.g. 'S06', 'D06')")
        _check("architecture", self.architecture, _ID, "lower-case letters, digits, '.', '-' and single '_'")
        _check("pre-training", self.pretraining, _ID, "lower-case letters, digits, '.', '-' and single '_'")
        _check("profile", self.profile, _PROFILE, "lower-case letters, digits and '-'")
        if self.fold is not None and (not isinstance(self.fold, int) or self.fold < 0):
            raise ValueError(f"fold must be None or an integer >= 0, got {self.fold!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ValueError(f"seed must be an integer >= 0, got {self.seed!r}")
        normalised = tuple(sorted((str(k), str(v)) for k, v in dict(self.options).items()))
        if len(normalised) != len(self.options):
            raise ValueError(f"options has repeated names: {self.options}")
        object.__setattr__(self, "options", normalised)

    @classmethod
    def make(
        cls,
        dataset: str,
        architecture: str,
        pretraining: str,
        profile: str,
        fold: int | None = None,
        seed: int = 0,
        options: Mapping[str, Any] | None = None,
    ) -> RunKey:
        """A key whose ``options`` are given as a mapping; ``None`` and ``False`` values are left out."""
        kept = {k: _option_text(v) for k, v in (options or {}).items() if v is not None and v is not False}
        return cls(dataset, architecture, pretraining, profile, fold, seed, tuple(kept.items()))

    @property
    def model(self) -> tuple[str, str]:
        """``(architecture, pretraining)``: what the analysis ranks."""
        return (self.architecture, self.pretraining)

    @property
    def fold_name(self) -> str:
        return "official" if self.fold is None else f"fold{self.fold}"

    @property
    def variant(self) -> str:
        """8 hex characters identifying ``options`` ('' without options)."""
        if not self.options:
            return ""
        text = json.dumps(self.options, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    @property
    def leaf(self) -> str:
        base = f"{self.profile}_{self.fold_name}_seed{self.seed}"
        return f"{base}_{self.variant}" if self.variant else base

    @property
    def folder(self) -> PurePosixPath:
        """The relative folder every store and runs root uses for this run."""
        return PurePosixPath(self.dataset, f"{self.architecture}__{self.pretraining}", self.leaf)

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "architecture": self.architecture,
            "pretraining": self.pretraining,
            "profile": self.profile,
            "fold": self.fold,
            "seed": self.seed,
            "options": dict(self.options),
            "variant": self.variant,
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> RunKey:
        try:
            key = cls(
                dataset=obj["dataset"],
                architecture=obj["architecture"],
                pretraining=obj["pretraining"],
                profile=obj["profile"],
                fold=obj.get("fold"),
                seed=obj.get("seed", 0),
                options=tuple(dict(obj.get("options") or {}).items()),
            )
        except KeyError as err:
            raise ValueError(f"run identity lacks {err.args[0]!r}: {dict(obj)}") from None
        return key

    def __str__(self) -> str:
        return self.folder.as_posix()


def _option_text(value: Any) -> str:
    if value is True:
        return "1"
    if isinstance(value, (list, tuple)):
        return ",".join(str(v) for v in value)
    return str(value)
