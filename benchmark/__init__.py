"""detbench harness: datasets, preprocessing, training, inference, metrics, runner and CLI."""

from __future__ import annotations

__version__ = "0.1.0"
