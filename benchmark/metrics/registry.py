"""The metric registry ``METRICS``: name (``map@0.1``, ``froc@0.1``, a protocol such as ``luna16``) -> metric.

Interface of a registered metric (structural, see :class:`Metric`): an object with

* ``name: str`` and ``description: str`` (one line, shown by ``benchmark evaluate``);
* ``match_key: Hashable`` -- metrics with equal keys share one :class:`MatchTable` (e.g. every metric
  matched by IoU 0.1 with 100 detections per image and class);
* ``match(inputs: EvaluationInput) -> MatchTable`` -- the expensive part, run once per evaluation;
* ``score(table: MatchTable, weights: np.ndarray | None = None) -> MetricResult`` -- reads the table only;
  ``weights`` are per-image bootstrap counts (``weights[i]`` belongs to ``table.image_ids[i]``; 0 drops an
  image, 2 counts it twice), so a bootstrap calls ``score`` 1000 times and never re-matches.

A protocol with its own matching rule (centre distance, ...) builds a :class:`MatchTable` in ``match`` (set
``tp``/``ignored`` per detection, ``gt_counts`` per image and class) and may reuse
:func:`~benchmark.metrics.froc.froc_from_matches` in ``score``. Register with
``METRICS.register("name", obj)``; :func:`get_metric` then finds it, and unknown names raise a ValueError
with suggestions.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from benchmark.core.registry import Registry

if TYPE_CHECKING:
    import numpy as np

    from benchmark.core.conventions import Geometry
    from benchmark.metrics.ground_truth import CaseGroundTruth
    from benchmark.metrics.matching import MatchTable
    from benchmark.metrics.predictions import CasePrediction

__all__ = ["METRICS", "EvaluationInput", "Metric", "MetricResult", "evaluate", "get_metric", "match_tables"]


@dataclass(frozen=True, eq=False)
class EvaluationInput:
    """What a metric may match on: validated predictions and ground truth of the same cases, and context.

    ``ground_truth`` defines the evaluated cases and their order. ``geometries`` (case -> Geometry) and
    ``dataset_root`` are optional context for protocols that work in millimetres.
    """

    predictions: Mapping[str, CasePrediction]
    ground_truth: Mapping[str, CaseGroundTruth]
    class_names: tuple[str, ...]
    dataset_id: str = ""
    geometries: Mapping[str, Geometry] | None = None
    dataset_root: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class MetricResult:
    """A metric's headline ``value`` (a fraction in [0, 1], NaN if undefined) and JSON-ready ``details``."""

    name: str
    value: float
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        value = None if self.value != self.value else float(self.value)  # NaN -> null
        return {"name": self.name, "value": value, "details": self.details}


@runtime_checkable
class Metric(Protocol):
    """The structural interface every entry of :data:`METRICS` satisfies (see the module docstring)."""

    name: str
    description: str

    @property
    def match_key(self) -> Hashable: ...

    def match(self, inputs: EvaluationInput) -> MatchTable: ...

    def score(self, table: MatchTable, weights: np.ndarray | None = None) -> MetricResult: ...


METRICS: Registry[Metric] = Registry("metric")


def get_metric(name: str) -> Metric:
    """The metric registered as ``name`` (loads the built-in metrics and protocols first)."""
    import benchmark.metrics  # noqa: F401 - registers the built-in metrics and protocols

    return METRICS.get(name)


def match_tables(metrics: Iterable[Metric], inputs: EvaluationInput) -> dict[Hashable, MatchTable]:
    """One match table per distinct ``match_key`` (what :func:`evaluate` and bootstraps read)."""
    tables: dict[Hashable, MatchTable] = {}
    for metric in metrics:
        if metric.match_key not in tables:
            tables[metric.match_key] = metric.match(inputs)
    return tables


def evaluate(names: Iterable[str], inputs: EvaluationInput) -> dict[str, MetricResult]:
    """Evaluate the named metrics on ``inputs``, matching once per distinct ``match_key``."""
    metrics = [get_metric(n) for n in names]
    tables = match_tables(metrics, inputs)
    return {m.name: m.score(tables[m.match_key]) for m in metrics}
