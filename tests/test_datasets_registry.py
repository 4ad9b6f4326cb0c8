"""The registry's Table 1 figures against the paper (Eckstein et al., MICCAI 2025, Table 1)."""

import pytest

from benchmark.cli import main
from benchmark.datasets import DATASETS, SUITES, get_dataset, resolve_suite

TABLE1 = {
    # id: (name, split train/val/test, objects, spacing z,y,x, classes, channels)
    "D01": ("MSD Pancreas", (156, 40, 85), 283, (2.50, 0.80, 0.80), ("tumour",), 1),
    "D02": ("RibFrac", (336, 84, 80), 4422, (1.25, 0.74, 0.74), ("fracture",), 1),
    "D03": ("KiTS21", (204, 51, 45), 826, (0.78, 0.78, 0.78), ("cyst", "tumour"), 1),
    "D04": ("LIDC", (690, 173, 155), 1884, (1.38, 0.70, 0.70), ("benign", "malignant"), 1),
    "D05": ("Duke Breast MRI", (509, 128, 274), 911, (1.00, 0.70, 0.70), ("tumour",), 4),
    "D06": ("LUNA16", (711, 88, 89), 1186, (1.25, 0.70, 0.70), ("nodule",), 1),
    "D07": ("PN9", (6037, 670, 2091), 40436, (1.00, 1.00, 1.00), ("nodule",), 1),
    "D08": ("CTA-A", (948, 238, 152), 1590, (0.40, 0.46, 0.46), ("aneurysm",), 1),
}


@pytest.mark.parametrize("dataset_id", sorted(TABLE1))
def test_table1_facts(dataset_id):
    name, split, objects, spacing, classes, channels = TABLE1[dataset_id]
    spec = get_dataset(dataset_id)
    assert spec.name == name
    assert (spec.splits.train, spec.splits.val, spec.splits.test) == split
    assert spec.objects == objects
    assert spec.median_spacing == pytest.approx(spacing)
    assert spec.classes == classes
    assert spec.num_channels == channels


def test_special_cases():
    assert get_dataset("D08").splits.external_test == 138
    assert get_dataset("D05").annotation == "boxes" and get_dataset("D05").modality == "MRI"
    assert "luna16" in get_dataset("D06").protocols
    assert "pn9" in get_dataset("D07").protocols
    assert "cta_a" in get_dataset("D08").protocols
    assert "ribfrac" in get_dataset("D02").protocols
    assert all("map@0.1" in s.protocols and "froc@0.1" in s.protocols for _, s in DATASETS.items())


def test_suites():
    assert [s.id for s in resolve_suite("dev")] == ["D01", "D02", "D03", "D04", "D05"]
    assert [s.id for s in resolve_suite("test")] == ["D06", "D07", "D08"]
    assert len(resolve_suite("all")) == 8 and SUITES["all"] == SUITES["dev"] + SUITES["test"]
    assert [s.id for s in resolve_suite("S06,luna16")] == ["D06", "D06"]
    assert all(s.pool == "dev" for s in resolve_suite("dev"))


def test_unknown_dataset_message():
    with pytest.raises(ValueError, match="Did you mean") as err:
        resolve_suite("D19")
    assert "Valid suites: dev, test, all" in str(err.value)


def test_datasets_command(capsys):
    assert main(["datasets", "--suite", "test"]) == 0
    out = capsys.readouterr().out
    assert "LUNA16" in out and "MSD Pancreas" not in out
    assert main(["datasets", "--suite", "nope"]) == 1
    assert "Unknown dataset" in capsys.readouterr().err
