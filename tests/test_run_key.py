"""The one run identity: folder names, options hashing, JSON round trip, validation."""

from __future__ import annotations

import pytest

from benchmark.core.run_key import RunKey


def test_folder_names_every_component():
    key = RunKey("S06", "retina_unet", "fixed", "cpu")
    assert key.folder.as_posix() == "S06/retina_unet__fixed/cpu_official_seed0"
    assert RunKey("D06", "deformable_detr", "mae", "paper", fold=3, seed=2).folder.as_posix() == (
        "D06/deformable_detr__mae/paper_fold3_seed2"
    )


def test_every_field_changes_the_folder():
    base = RunKey("S06", "retina_unet", "fixed", "cpu")
    variants = [
        RunKey("S07", "retina_unet", "fixed", "cpu"),
        RunKey("S06", "deformable_detr", "fixed", "cpu"),
        RunKey("S06", "retina_unet", "default", "cpu"),
        RunKey("S06", "retina_unet", "fixed", "tiny"),
        RunKey("S06", "retina_unet", "fixed", "cpu", fold=0),
        RunKey("S06", "retina_unet", "fixed", "cpu", seed=1),
        RunKey.make("S06", "retina_unet", "fixed", "cpu", options={"tta": True}),
    ]
    folders = {base.folder, *(v.folder for v in variants)}
    assert len(folders) == len(variants) + 1


def test_options_are_normalised_and_defaults_left_out():
    a = RunKey.make("S06", "retina_unet", "fixed", "cpu", options={"tta": True, "data": "tiny-seed0"})
    b = RunKey.make("S06", "retina_unet", "fixed", "cpu", options={"data": "tiny-seed0", "tta": True})
    assert a == b and hash(a) == hash(b) and len(a.variant) == 8 and a.leaf.endswith(a.variant)
    plain = RunKey.make("S06", "retina_unet", "fixed", "cpu", options={"tta": False, "weights": None})
    assert plain.options == () and plain.variant == ""


def test_json_round_trip():
    key = RunKey.make("D06", "resenc_retina_unet", "mt", "paper", fold=2, seed=5, options={"tta": True})
    assert RunKey.from_json(key.to_json()) == key
    with pytest.raises(ValueError, match="lacks 'profile'"):
        RunKey.from_json({"dataset": "S06", "architecture": "retina_unet", "pretraining": "fixed"})


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"dataset": "S 06"}, "dataset id"),
        ({"architecture": "retina__unet"}, "architecture"),
        ({"pretraining": "Fixed"}, "pre-training"),
        ({"profile": "my_profile"}, "profile"),
        ({"fold": -1}, "fold"),
        ({"seed": -2}, "seed"),
    ],
)
def test_invalid_parts_are_refused(kwargs, message):
    fields = {"dataset": "S06", "architecture": "retina_unet", "pretraining": "fixed", "profile": "cpu", **kwargs}
    with pytest.raises(ValueError, match=message):
        RunKey(**fields)
