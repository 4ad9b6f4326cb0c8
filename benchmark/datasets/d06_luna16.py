"""D06: LUNA16, lung nodule detection with the 10 official subsets (test pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D06",
        name="LUNA16",
        pool="test",
        target="Lung nodule",
        modality="CT",
        channels=("CT",),
        classes=("nodule",),
        splits=SplitSizes(train=711, val=88, test=89),
        objects=1186,
        median_spacing=(1.25, 0.70, 0.70),
        protocols=("map@0.1", "froc@0.1", "luna16"),
        official_folds="10 official subsets (subset0..subset9) for 10-fold cross-validation",
        citation="Setio et al., Validation, comparison, and combination of algorithms for automatic "
        "detection of pulmonary nodules in CT images: the LUNA16 challenge, Med. Image Anal. 2017",
        url="https://luna16.grand-challenge.org/",
    )
)
