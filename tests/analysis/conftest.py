"""Shared fixtures of the analysis tests: a tiny synthetic results store, built once per session."""

from __future__ import annotations

import pytest

from analysis.synthetic_store import build_synthetic_store

MODELS = (
    ("retina_unet", "default"),
    ("retina_unet", "mae"),
    ("resenc_deformable_detr", "default"),
    ("resenc_deformable_detr", "voco"),
)


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory):
    """3 datasets x 4 models x 20 images, matched by the real matcher."""
    return build_synthetic_store(tmp_path_factory.mktemp("store") / "store", ("S01", "S03", "S06"), MODELS, n_images=20)
