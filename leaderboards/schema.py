"""The data contract of the leaderboards: a board's ``board.json`` and one entry file per method.

Both are pydantic v2 models with ``extra="forbid"``, so a typo or an unknown field in a committed JSON file is
an error and not silently dropped. The shared contract is /work/wt/_shared/leaderboard-spec.md (documented
for users in leaderboards/README.md):

* :class:`BoardSpec` -- ``board.json``: which dataset, protocol and metric a board ranks on;
* :class:`Entry` -- ``entries/<slug>.json``: one method's value, bootstrap 95% interval, rank summary, date,
  provenance (:class:`EvaluatedProvenance` = scored here from a prediction file; :class:`ReportedProvenance` =
  copied from a publication) and, for evaluated entries, per-case counts.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "BOARD_ID_PATTERN",
    "SCHEMA_VERSION",
    "SLUG_PATTERN",
    "BoardSpec",
    "CaseResult",
    "Entry",
    "EvaluatedProvenance",
    "Provenance",
    "RankSummary",
    "ReportedProvenance",
    "slugify",
]

SCHEMA_VERSION = 1
SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
BOARD_ID_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"
MAX_METHOD_CHARS = 120
MAX_DESCRIPTION_CHARS = 2000


def slugify(method: str) -> str:
    """The entry file name of a method: lower-case ``[a-z0-9]`` runs joined by single ``-``.

    ``"ResEnc-RetUNet + MG"`` -> ``"resenc-retunet-mg"``. Raises ValueError when nothing is left.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", str(method).lower()).strip("-")
    if not slug:
        raise ValueError(f"method name {method!r} has no letters or digits to name its entry file")
    return slug[:MAX_METHOD_CHARS]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoardSpec(_Strict):
    """``board.json``: one board ranks methods on one dataset's test split under one protocol."""

    schema_version: Literal[1] = SCHEMA_VERSION
    board_id: Annotated[str, Field(pattern=BOARD_ID_PATTERN)]
    dataset: Annotated[str, Field(pattern=r"^[DS][0-9]{2}$")]
    protocol: Annotated[str, Field(pattern=BOARD_ID_PATTERN)]
    metric: Annotated[str, Field(min_length=1)]
    higher_is_better: bool = True
    title: Annotated[str, Field(min_length=1)]
    # Which split the board ranks on and, for multi-set protocols, which test set (CTA-A internal/external).
    split: Literal["test", "external_test"] = "test"

    @model_validator(mode="after")
    def _id_matches(self) -> BoardSpec:
        expected = f"{self.dataset.lower()}-{self.protocol}"
        if self.board_id != expected:
            raise ValueError(f"board_id {self.board_id!r} must be '<dataset>-<protocol>' = {expected!r}")
        return self


class RankSummary(_Strict):
    """Distribution of the entry's rank over bootstrap replicates (1 = best): mean, median, 2.5/97.5 percentiles."""

    mean: float
    median: float
    low: float
    high: float
    n_entries: Annotated[int, Field(ge=1)]
    n_replicates: Annotated[int, Field(ge=1)]

    @model_validator(mode="after")
    def _ordered(self) -> RankSummary:
        values = (self.mean, self.median, self.low, self.high)
        if not all(math.isfinite(v) and 1 <= v <= self.n_entries for v in values):
            raise ValueError(f"rank values must lie in [1, n_entries={self.n_entries}], got {values}")
        if not self.low <= self.median <= self.high:
            raise ValueError(f"rank percentiles must satisfy low <= median <= high, got {values}")
        return self


class EvaluatedProvenance(_Strict):
    """Scored by detbench from a prediction file against the hidden ground truth of the test split."""

    kind: Literal["evaluated"]
    predictions_sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    detbench_version: Annotated[str, Field(min_length=1)]
    dataset_version: Annotated[str, Field(min_length=1)]
    split_version: Annotated[str, Field(min_length=1)]
    git_hash: str | None = None


class ReportedProvenance(_Strict):
    """Copied from a publication: the number is not re-computed here (no interval, rank or per-case table)."""

    kind: Literal["reported"]
    citation: Annotated[str, Field(min_length=1)]
    source: Annotated[str, Field(min_length=1)]


Provenance = Annotated[EvaluatedProvenance | ReportedProvenance, Field(discriminator="kind")]


class CaseResult(_Strict):
    """Per-case counts of an evaluated entry: objects, detections and true positives at IoU 0.1."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, serialize_by_alias=True)

    case_id: Annotated[str, Field(min_length=1)]
    n_objects: Annotated[int, Field(ge=0)]
    n_detections: Annotated[int, Field(ge=0)]
    tp_at_0_1: Annotated[int, Field(ge=0, alias="tp_at_0.1")]


class Entry(_Strict):
    """``entries/<slug>.json``: one method on one board."""

    schema_version: Literal[1] = SCHEMA_VERSION
    board_id: Annotated[str, Field(pattern=BOARD_ID_PATTERN)]
    method: Annotated[str, Field(min_length=1, max_length=MAX_METHOD_CHARS)]
    slug: Annotated[str, Field(pattern=SLUG_PATTERN)]
    architecture: str | None = None
    pretraining: str | None = None
    description: Annotated[str, Field(max_length=MAX_DESCRIPTION_CHARS)] = ""
    date: _dt.date
    value: float
    ci_low: float | None = None
    ci_high: float | None = None
    rank: RankSummary | None = None
    provenance: Provenance
    per_case: list[CaseResult] | None = None

    @field_validator("value", "ci_low", "ci_high")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Entry:
        if self.slug != slugify(self.method):
            raise ValueError(f"slug {self.slug!r} must be slugify(method) = {slugify(self.method)!r}")
        if (self.ci_low is None) != (self.ci_high is None):
            raise ValueError("ci_low and ci_high are given together or not at all")
        if self.ci_low is not None and not self.ci_low <= self.ci_high:
            raise ValueError(f"ci_low {self.ci_low} must not exceed ci_high {self.ci_high}")
        if self.provenance.kind == "reported" and (
            self.ci_low is not None or self.rank is not None or self.per_case is not None
        ):
            raise ValueError("a reported entry has no interval, rank or per_case (they are not re-computed)")
        return self

    def to_json_dict(self) -> dict:
        """The entry as written to its file (``date`` as ``YYYY-MM-DD``, ``tp_at_0.1`` by its alias)."""
        return self.model_dump(mode="json", by_alias=True)
