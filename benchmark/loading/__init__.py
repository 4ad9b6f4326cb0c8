"""Training data loading: patch sampling with foreground oversampling, augmentation, deterministic workers.

Typical use (see docs/preprocessing.md)::

    data = PreprocessedData("preprocessed/S06_fixed")
    loader = PatchLoader(data, data.case_ids("train"), LoaderConfig(patch_size=data.plan.patch_size), seed=0,
                         num_workers=4)
    for batch in loader:  # one epoch; loader.state_dict() / load_state_dict() resume exactly
        loss = model.compute_loss(batch["image"], batch_targets(batch))
"""

from benchmark.loading.augmentation import (
    AugmentationConfig,
    IntensityAugmentation,
    SpatialAugmentation,
    apply_intensity_augmentation,
    sample_spatial_transform,
)
from benchmark.loading.data import PreprocessedData
from benchmark.loading.loader import LoaderPosition, PatchLoader
from benchmark.loading.patches import extract_patch, relabel_patch
from benchmark.loading.sampling import LoaderConfig, batch_targets, make_batch, sample_patch
from benchmark.loading.synthetic import write_synthetic_preprocessed

__all__ = [
    "AugmentationConfig",
    "IntensityAugmentation",
    "LoaderConfig",
    "LoaderPosition",
    "PatchLoader",
    "PreprocessedData",
    "SpatialAugmentation",
    "apply_intensity_augmentation",
    "batch_targets",
    "extract_patch",
    "make_batch",
    "relabel_patch",
    "sample_patch",
    "sample_spatial_transform",
    "write_synthetic_preprocessed",
]
