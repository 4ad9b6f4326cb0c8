import pytest

from analysis.reported_results import PRETRAINING_IDS
from pretraining.registry import PRETRAINING


def test_baselines_registered_with_the_paper_labels():
    assert PRETRAINING.names() == ["default", "fixed"]
    assert {s.paper_label for _, s in PRETRAINING.items()} <= set(PRETRAINING_IDS)
    assert all(PRETRAINING_IDS[s.paper_label] == name for name, s in PRETRAINING.items())
    assert PRETRAINING.get("fixed").preprocessing == "fixed" and PRETRAINING.get("default").weights is None


def test_unknown_setting_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Valid names: default, fixed"):
        PRETRAINING.get("mae")
