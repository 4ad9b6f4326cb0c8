"""D05: Duke Breast Cancer MRI, primary tumour detection from 4 sequences, box annotations (dev pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D05",
        name="Duke Breast MRI",
        pool="dev",
        target="Primary breast tumour",
        modality="MRI",
        channels=("T1_pre", "T1_post1", "T1_post2", "T1_post3"),
        classes=("tumour",),
        splits=SplitSizes(train=509, val=128, test=274),
        objects=911,
        median_spacing=(1.00, 0.70, 0.70),
        annotation="boxes",
        citation="Saha et al., A machine learning approach to radiogenomics of breast cancer, Br. J. Cancer 2018",
        url="https://www.cancerimagingarchive.net/collection/duke-breast-cancer-mri/",
        notes="Annotations are bounding boxes only; instances are stored box-shaped.",
    )
)
