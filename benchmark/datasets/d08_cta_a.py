"""D08: CTA-A, intracranial aneurysm detection with internal and external test sets (test pool)."""

from benchmark.datasets import register_dataset
from benchmark.datasets.spec import DatasetSpec, SplitSizes

SPEC = register_dataset(
    DatasetSpec(
        id="D08",
        name="CTA-A",
        pool="test",
        target="Intracranial aneurysm",
        modality="CT",
        channels=("CTA",),
        classes=("aneurysm",),
        splits=SplitSizes(train=948, val=238, test=152, external_test=138),
        objects=1590,
        median_spacing=(0.40, 0.46, 0.46),
        protocols=("map@0.1", "froc@0.1", "cta_a"),
        citation="Bo et al., Toward human intervention-free clinical diagnosis of intracranial aneurysm "
        "via deep neural network, Patterns 2021",
        notes="Internal test set for the benchmark; the external test set is evaluated separately.",
    )
)
