"""Converters from each dataset's official download layout into the canonical prepared format.

Each converter is one :class:`benchmark.converters.template.ConverterSpec` registered under the dataset id
it converts (``CONVERTERS.register("D06", ConverterSpec(...))``); :func:`convert_dataset` runs it through
the shared template (checks, streaming, resumption, validation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmark.core.registry import Registry

CONVERTERS: Registry = Registry("converter (dataset id)")

from benchmark.converters import (  # noqa: E402,F401
    cta_a,
    duke_breast,
    kits21,
    lidc,
    luna16,
    msd_pancreas,
    pn9,
    ribfrac,
)


def convert_dataset(dataset_id: str, source: str | Path, out: str | Path, **kwargs: Any):  # noqa: ANN201
    """Convert the official download of ``dataset_id`` (see :func:`benchmark.converters.template.run_converter`)."""
    from benchmark.converters.template import run_converter

    return run_converter(CONVERTERS.get(dataset_id), source, out, **kwargs)


def evaluation_extras(root) -> dict:  # noqa: ANN001
    """Official side files a converter stored with a prepared dataset (``ROOT/official/``), for the protocols."""
    return luna16.evaluation_extras(root)


__all__ = ["CONVERTERS", "convert_dataset", "evaluation_extras"]
