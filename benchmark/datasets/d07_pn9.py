"""D07: PN9, pulmonary nodule detection with the official train/val/test split (test pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D07",
        name="PN9",
        pool="test",
        target="Lung nodule",
        modality="CT",
        channels=("CT",),
        classes=("nodule",),
        splits=SplitSizes(train=6037, val=670, test=2091),
        objects=40436,
        median_spacing=(1.00, 1.00, 1.00),
        protocols=("map@0.1", "froc@0.1", "pn9"),
        citation="Mei et al., SANet: A Slice-Aware Network for Pulmonary Nodule Detection, TPAMI 2021",
        url="https://jiemei.xyz/publications/SANet",
    )
)
