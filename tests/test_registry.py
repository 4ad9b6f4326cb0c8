import pytest

from benchmark.core.registry import Registry, UnknownNameError


def test_register_and_get():
    reg: Registry[int] = Registry("widget")
    reg.register("alpha", 1)

    @reg.register("beta")
    def beta():
        return 2

    assert reg.get("alpha") == 1
    assert reg.get("BETA") is beta
    assert reg.names() == ["alpha", "beta"]
    assert "alpha" in reg and len(reg) == 2


def test_unknown_name_suggests_and_lists():
    reg: Registry[int] = Registry("widget")
    for n in ("retina_unet", "deformable_detr"):
        reg.register(n, 0)
    with pytest.raises(ValueError) as err:
        reg.get("retina_unte")
    msg = str(err.value)
    assert isinstance(err.value, UnknownNameError)
    assert "Did you mean 'retina_unet'" in msg
    assert "Valid names: deformable_detr, retina_unet" in msg


def test_duplicate_registration_rejected():
    reg: Registry[int] = Registry("widget")
    reg.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 2)
