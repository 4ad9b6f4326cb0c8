"""D02: RibFrac challenge, rib fracture detection (dev pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D02",
        name="RibFrac",
        pool="dev",
        target="Rib fracture",
        modality="CT",
        channels=("CT",),
        classes=("fracture",),
        splits=SplitSizes(train=336, val=84, test=80),
        objects=4422,
        median_spacing=(1.25, 0.74, 0.74),
        protocols=("map@0.1", "froc@0.1", "ribfrac"),
        citation="Jin et al., Deep-learning-assisted detection and segmentation of rib fractures, EBioMedicine 2020",
        url="https://ribfrac.grand-challenge.org/",
    )
)
