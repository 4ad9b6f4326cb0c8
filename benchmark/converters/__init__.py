"""Converters from each dataset's official download layout into the canonical prepared format.

A converter is a function ``convert(source: Path, out: Path, workers: int = 1, overwrite: bool = False) -> Path``
registered under the dataset id it converts (``CONVERTERS.register("D06", convert_luna16)``).
"""

from __future__ import annotations

from benchmark.core.registry import Registry

CONVERTERS: Registry = Registry("converter (dataset id)")

from benchmark.converters import kits21, luna16, msd_pancreas, ribfrac  # noqa: E402,F401


def evaluation_extras(root) -> dict:  # noqa: ANN001
    """Official side files a converter stored with a prepared dataset (``ROOT/official/``), for the protocols."""
    return luna16.evaluation_extras(root)


__all__ = ["CONVERTERS", "evaluation_extras"]
