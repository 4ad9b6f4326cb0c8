"""D01: Medical Segmentation Decathlon Task07 Pancreas, tumour detection (dev pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D01",
        name="MSD Pancreas",
        pool="dev",
        target="Pancreatic tumour",
        modality="CT",
        channels=("CT",),
        classes=("tumour",),
        splits=SplitSizes(train=156, val=40, test=85),
        objects=283,
        median_spacing=(2.50, 0.80, 0.80),
        citation="Antonelli et al., The Medical Segmentation Decathlon, Nat. Commun. 2022",
        url="http://medicaldecathlon.com/",
        notes="Tumour instances are connected components of label 2 of the pancreas masks.",
    )
)
