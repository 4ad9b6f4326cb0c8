"""Preprocessing of prepared datasets for training: planning, normalisation, resampling, fast storage.

Typical use (see docs/preprocessing.md)::

    plan = plan_preprocessing("data/S06", config="fixed")
    report = preprocess_dataset("data/S06", "preprocessed/S06_fixed", plan, workers=4)
    boxes_orig = preprocessed_to_original_boxes(pred_boxes, read_case_meta(out_dir, case_id))
"""

from benchmark.preprocessing.fingerprint import PREPROCESSING_VERSION, code_version
from benchmark.preprocessing.mapping import (
    original_to_preprocessed_boxes,
    preprocessed_boxes_to_world,
    preprocessed_to_original_boxes,
    preprocessed_to_original_points,
    preprocessed_to_world,
)
from benchmark.preprocessing.pipeline import (
    CaseReport,
    PreprocessReport,
    StaleOutputError,
    preprocess_case,
    preprocess_dataset,
)
from benchmark.preprocessing.plan import CONFIGS, PLANS_FILE, ChannelNormalization, Plan, load_plan
from benchmark.preprocessing.planning import fit_patch_size, plan_preprocessing
from benchmark.preprocessing.store import (
    STORE_FORMAT,
    PreprocessedCaseMeta,
    StoreFormatError,
    open_case_arrays,
    read_case_meta,
)

__all__ = [
    "CONFIGS",
    "PLANS_FILE",
    "PREPROCESSING_VERSION",
    "STORE_FORMAT",
    "CaseReport",
    "ChannelNormalization",
    "Plan",
    "PreprocessReport",
    "PreprocessedCaseMeta",
    "StaleOutputError",
    "StoreFormatError",
    "code_version",
    "fit_patch_size",
    "load_plan",
    "open_case_arrays",
    "original_to_preprocessed_boxes",
    "plan_preprocessing",
    "preprocess_case",
    "preprocess_dataset",
    "preprocessed_boxes_to_world",
    "preprocessed_to_original_boxes",
    "preprocessed_to_original_points",
    "preprocessed_to_world",
    "read_case_meta",
]
