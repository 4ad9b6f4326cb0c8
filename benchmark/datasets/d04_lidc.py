"""D04: LIDC-IDRI, benign vs malignant lung nodule detection (dev pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D04",
        name="LIDC",
        pool="dev",
        target="Lung nodule (benign vs. malignant)",
        modality="CT",
        channels=("CT",),
        classes=("benign", "malignant"),
        splits=SplitSizes(train=690, val=173, test=155),
        objects=1884,
        median_spacing=(1.38, 0.70, 0.70),
        citation="Armato et al., The LIDC/IDRI database, Med. Phys. 2011",
        url="https://www.cancerimagingarchive.net/collection/lidc-idri/",
    )
)
