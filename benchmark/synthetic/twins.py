"""The registered synthetic twins S01-S08, one per benchmark dataset D01-D08.

Adding a twin is one :class:`TwinConfig` plus :func:`register_twin`. Knob defaults and the reasons for
them (real size ranges, empty-image fractions, objects per image) are documented in
``docs/synthetic-twins.md``.
"""

from __future__ import annotations

import numpy as np

from benchmark.core.registry import Registry
from benchmark.synthetic.anatomy import SCENES
from benchmark.synthetic.config import DifficultyKnobs, TwinConfig
from benchmark.synthetic.objects import PLACERS

TWINS: Registry[TwinConfig] = Registry("synthetic twin")


def register_twin(config: TwinConfig) -> TwinConfig:
    """Check a twin config against its scene/object generators and mirrored dataset, then register it."""
    if config.scene not in SCENES:
        raise ValueError(f"{config.twin_id}: unknown scene {config.scene!r}. Valid scenes: {', '.join(SCENES)}")
    if config.target not in PLACERS:
        raise ValueError(f"{config.twin_id}: unknown target {config.target!r}. Valid targets: {', '.join(PLACERS)}")
    config.check_against_spec()
    if config.spec.twin_id != config.twin_id:
        raise ValueError(f"{config.twin_id}: mirrors {config.mirrors}, whose twin id is {config.spec.twin_id}")
    TWINS.register(config.twin_id, config)
    return config


def get_twin(name: str) -> TwinConfig:
    """Look up a twin by twin id (``S06``), dataset id (``D06``) or dataset name (``LUNA16``)."""
    from benchmark.datasets import get_dataset

    if isinstance(name, str) and name.upper() in TWINS:
        return TWINS.get(name.upper())
    try:
        return TWINS.get(get_dataset(name).twin_id)
    except ValueError:
        return TWINS.get(name)  # raises with the list of valid twin ids


def resolve_twins(suite_or_ids: str | list[str] | tuple[str, ...]) -> list[TwinConfig]:
    """Twins of a suite (``dev``, ``test``, ``all``) or of comma-separated ids (``S06,D01``)."""
    from benchmark.datasets import resolve_suite

    return [get_twin(spec.twin_id) for spec in resolve_suite(suite_or_ids)]  # its errors list the twin ids


def _rotation_x(degrees: float) -> tuple[float, ...]:
    a = np.deg2rad(degrees)
    m = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(a), -np.sin(a)], [0.0, np.sin(a), np.cos(a)]])
    return tuple(float(v) for v in m.ravel())


FLIPPED_XY = (-1.0, 0.0, 0.0, 0.0, -1.0, 0.0, 0.0, 0.0, 1.0)  # a RAS-stored NIfTI seen in ITK's LPS

register_twin(
    TwinConfig(
        twin_id="S01",
        mirrors="D01",
        scene="abdomen",
        target="pancreatic_tumour",
        fov_mm=(250.0, 410.0, 410.0),
        knobs=DifficultyKnobs(
            noise_sigma=15.0,
            texture_sigma=8.0,
            object_diameter_mm=(10.0, 60.0),
            object_median_mm=(27.0,),
            object_size_spread=0.35,
            empty_fraction=0.0,
            count_model="geometric",
            max_objects=3,
            irregularity=0.15,
            spiculation=(0.1,),
            distractors=2,
        ),
        description="Hypodense pancreatic tumours in a tube-like pancreas of a portal-venous abdominal CT.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S02",
        mirrors="D02",
        scene="thorax",
        target="rib_fracture",
        fov_mm=(380.0, 380.0, 380.0),
        knobs=DifficultyKnobs(
            noise_sigma=20.0,
            texture_sigma=10.0,
            object_diameter_mm=(6.0, 40.0),
            object_median_mm=(14.0,),
            object_size_spread=0.4,
            empty_fraction=0.02,
            count_model="poisson",
            max_objects=24,
            irregularity=0.0,
            spiculation=(0.0,),
            distractors=2,
            vessel_count=8,
        ),
        description="Rib fractures (gap, callus or buckle) labelled as thin capsules along rib arcs of a chest CT.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S03",
        mirrors="D03",
        scene="abdomen",
        target="kidney_lesion",
        fov_mm=(260.0, 400.0, 400.0),
        knobs=DifficultyKnobs(
            noise_sigma=15.0,
            texture_sigma=8.0,
            object_diameter_mm=(6.0, 90.0),
            object_median_mm=(14.0, 35.0),
            object_size_spread=0.45,
            empty_fraction=0.0,
            count_model="geometric",
            max_objects=8,
            class_probs=(0.55, 0.45),
            irregularity=0.12,
            spiculation=(0.0, 0.1),
            distractors=1,
        ),
        direction=FLIPPED_XY,
        description="Homogeneous renal cysts vs heterogeneous enhancing renal tumours, corticomedullary CT.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S04",
        mirrors="D04",
        scene="thorax",
        target="lung_nodule",
        fov_mm=(330.0, 350.0, 350.0),
        knobs=DifficultyKnobs(
            noise_sigma=25.0,
            texture_sigma=10.0,
            object_diameter_mm=(3.0, 30.0),
            object_median_mm=(5.5, 14.0),
            object_size_spread=0.4,
            empty_fraction=0.1,
            count_model="geometric",
            max_objects=8,
            class_probs=(0.6, 0.4),
            irregularity=0.1,
            spiculation=(0.0, 0.35),
            distractors=2,
        ),
        description="Benign (small, smooth, sometimes calcified) vs malignant (large, spiculated) lung nodules.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S05",
        mirrors="D05",
        scene="breast_mri",
        target="breast_tumour",
        fov_mm=(160.0, 320.0, 320.0),
        knobs=DifficultyKnobs(
            noise_sigma=10.0,
            texture_sigma=25.0,
            blur_mm=0.5,
            object_diameter_mm=(6.0, 60.0),
            object_median_mm=(20.0,),
            object_size_spread=0.45,
            empty_fraction=0.0,
            count_model="fixed",
            max_objects=1,
            irregularity=0.2,
            spiculation=(0.25,),
            distractors=2,
            mimics=2,
            vessel_count=9,
            bias_field=0.35,
        ),
        description="One enhancing breast tumour per 4-channel DCE-MRI with bias field; box annotations.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S06",
        mirrors="D06",
        scene="thorax",
        target="lung_nodule",
        fov_mm=(320.0, 350.0, 350.0),
        knobs=DifficultyKnobs(
            noise_sigma=20.0,
            texture_sigma=10.0,
            object_diameter_mm=(3.0, 32.0),
            object_median_mm=(6.4,),
            object_size_spread=0.5,
            empty_fraction=0.32,
            count_model="geometric",
            max_objects=10,
            irregularity=0.08,
            spiculation=(0.05,),
            distractors=2,
        ),
        num_folds=10,
        description="Lung nodules 3-32 mm (LUNA16 size distribution); a third of the scans has no nodule.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S07",
        mirrors="D07",
        scene="thorax",
        target="lung_nodule",
        fov_mm=(300.0, 330.0, 330.0),
        knobs=DifficultyKnobs(
            noise_sigma=25.0,
            texture_sigma=12.0,
            object_diameter_mm=(3.0, 30.0),
            object_median_mm=(6.0,),
            object_size_spread=0.5,
            empty_fraction=0.0,
            count_model="poisson",
            max_objects=12,
            irregularity=0.1,
            spiculation=(0.05,),
            distractors=3,
        ),
        num_folds=5,
        description="Many lung nodules per scan (PN9: 4.6 per image) at 1 mm isotropic spacing.",
    )
)

register_twin(
    TwinConfig(
        twin_id="S08",
        mirrors="D08",
        scene="head_cta",
        target="aneurysm",
        fov_mm=(140.0, 220.0, 220.0),
        knobs=DifficultyKnobs(
            noise_sigma=20.0,
            texture_sigma=5.0,
            object_diameter_mm=(2.0, 10.0),
            object_median_mm=(4.5,),
            object_size_spread=0.4,
            empty_fraction=0.1,
            count_model="geometric",
            max_objects=4,
            irregularity=0.08,
            spiculation=(0.0,),
            distractors=2,
            vessel_count=10,
            external_shift=0.5,
        ),
        direction=_rotation_x(12.0),
        num_folds=5,
        description="Small saccular aneurysms on contrast-filled brain arteries of a head CTA; tilted gantry.",
    )
)
