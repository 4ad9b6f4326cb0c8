"""D03: KiTS21, kidney cyst and tumour detection (dev pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D03",
        name="KiTS21",
        pool="dev",
        target="Kidney cyst, tumour",
        modality="CT",
        channels=("CT",),
        classes=("cyst", "tumour"),
        splits=SplitSizes(train=204, val=51, test=45),
        objects=826,
        median_spacing=(0.78, 0.78, 0.78),
        citation="Heller et al., The KiTS21 Challenge, arXiv:2307.01984",
        url="https://kits-challenge.org/kits21/",
    )
)
