"""``benchmark import-weights``: converts, writes checkpoint + sidecar, prints the transfer report; refusals are
one-line errors."""

from __future__ import annotations

import json

import torch
from pretrain_cases import dynamic_resenc_kwargs, library_unet, nnssl_plan, save_nnssl_checkpoint

from benchmark.cli import main
from pretraining.checkpoint import load_checkpoint, sidecar_path


def _nnssl(tmp_path, **extra):
    net = library_unet("resenc", [8, 16, 32], strides=[1, 2, 2], blocks=[1, 2, 2])
    plan = nnssl_plan("ResidualEncoderUNet", dynamic_resenc_kwargs([8, 16, 32], [1, 2, 2], [1, 2, 2]))
    return net, save_nnssl_checkpoint(tmp_path / "src" / "checkpoint_final.pth", net, plan, **extra)


def test_converts_and_prints_the_report(tmp_path, capsys):
    net, _ = _nnssl(tmp_path)
    out = tmp_path / "enc.pt"
    code = main(["import-weights", str(tmp_path / "src"), "--out", str(out), "--report", str(tmp_path / "r.json")])
    text = capsys.readouterr().out
    assert code == 0
    assert "nnssl -> detbench" in text and "features [8, 16, 32]" in text
    assert "stem=random into RetinaUNet" in text and "missing 0, unexpected 0, mismatched 0" in text
    ck = load_checkpoint(out)  # sha256 verified against the sidecar
    assert json.loads(sidecar_path(out).read_text())["encoder"]["kind"] == "resenc"
    for key, value in net.encoder.state_dict().items():
        assert torch.equal(ck.encoder_weights[key], value)
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["counts"]["kept_initialisation"] == 8 and report["counts"]["transferred"] > 0
    code = main(
        [
            "import-weights",
            str(out),
            "--out",
            str(tmp_path / "again.pt"),
            "--arch",
            "resenc_deformable_detr",
            "--in-channels",
            "3",
            "--stem",
            "replicate",
        ]
    )
    assert code == 0 and "stem=replicate into DeformableDETR" in capsys.readouterr().out


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_refused_and_wrong_inputs_are_one_line_errors(tmp_path, capsys):
    _nnssl(tmp_path, logging=_Evil())
    code = main(["import-weights", str(tmp_path / "src"), "--out", str(tmp_path / "x.pt")])
    captured = capsys.readouterr()
    assert code == 1 and "this must never run" not in captured.out
    assert captured.err.startswith("error: ") and "refused" in captured.err and captured.err.count("\n") == 1
    assert not (tmp_path / "x.pt").exists()
    code = main(["import-weights", str(tmp_path / "nope"), "--out", str(tmp_path / "x.pt")])
    assert code == 1 and "error:" in capsys.readouterr().err
    torch.save(library_unet("resenc", [8, 16], strides=[1, 2], blocks=[1, 1]).state_dict(), tmp_path / "n.pt")
    code = main(["import-weights", str(tmp_path / "n.pt"), "--out", str(tmp_path / "y.pt"), "--arch", "retina_unet"])
    assert code == 1 and "resenc_retina_unet" in capsys.readouterr().err
    assert not (tmp_path / "y.pt").exists()  # nothing written for a detector that cannot take the weights
