import pytest

from analysis.reported_results import PRETRAINING_IDS
from pretraining.registry import PRETRAINING


def test_baselines_registered_with_the_paper_labels():
    assert PRETRAINING.names()[:2] == ["default", "fixed"]
    study = [(name, s) for name, s in PRETRAINING.items() if s.study]
    assert {s.paper_label for _, s in study} <= set(PRETRAINING_IDS)
    assert all(PRETRAINING_IDS[s.paper_label] == name for name, s in study)
    assert PRETRAINING.get("fixed").preprocessing == "fixed" and PRETRAINING.get("default").weights is None


def test_custom_weights_setting_is_not_a_study_row():
    custom = PRETRAINING.get("custom")
    assert not custom.study and custom.weights == "user" and custom.preprocessing == "fixed"


def test_unknown_setting_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Valid names: .*default, fixed"):
        PRETRAINING.get("maee")
