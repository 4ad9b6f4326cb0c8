"""Typed records of published pre-trained encoders (as torchgeo's weight enums), in one Registry.

A :class:`WeightRecord` says what a published checkpoint is (method, encoder, input channels, stems), where it
comes from (citation, URL) and how to recognise the file (name, sha256). detbench never downloads: a user
downloads the file and passes its path, or puts it where :func:`resolve_weights` looks for a record's name
(``$DETBENCH_WEIGHTS/<name>/<file name>``, default ``~/.cache/detbench/weights``).

Nothing here is invented. Where a location or hash could not be checked it is ``None`` and ``verified`` says
what was checked: the study's own checkpoints (Eckstein et al., MICCAI 2025) are announced in nnssl's format,
but their download address was not confirmed when this was written (the study's repository,
MIC-DKFZ/nnDetection-finetuning, said the code would follow). The OpenMind ResEnc-L MAE checkpoint is the
example that MIC-DKFZ/nnUNet's documentation (finetuning_from_nnssl_checkpoints.md) gives; it was not
downloaded here, so its hash is unknown.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from benchmark.core.registry import Registry
from pretraining.checkpoint import CheckpointError, PretrainedCheckpoint, sha256_of

__all__ = ["WEIGHTS", "WeightRecord", "load_pretrained", "resolve_weights", "weights_dir"]

STUDY = (
    "Eckstein, Ulrich, Baumgartner et al.: The Missing Piece: A Case for Pre-Training in 3D Medical Object "
    "Detection. MICCAI 2025"
)
STUDY_UNVERIFIED = (
    "announced in nnssl's format by the study; download address and sha256 not confirmed, so none is given"
)


@dataclass(frozen=True)
class WeightRecord:
    """One published pre-trained encoder.

    ``stems`` names the input stems the checkpoint holds (``encoder`` = its own); ``url``/``sha256`` are
    ``None`` when not verified. ``format`` is the importer that reads the file (:mod:`pretraining.importers`).
    """

    name: str
    paper_label: str
    method: str
    encoder: str
    in_channels: int
    stems: tuple[str, ...]
    citation: str
    file_name: str
    format: str = "nnssl"
    url: str | None = None
    sha256: str | None = None
    pretraining_data: str = ""
    verified: str = ""


WEIGHTS: Registry[WeightRecord] = Registry("pre-trained weights")


def _study(name: str, label: str, method: str, citation: str, encoder: str = "resenc", **kw: object) -> None:
    WEIGHTS.register(
        name,
        WeightRecord(
            name=name,
            paper_label=label,
            method=method,
            encoder=encoder,
            in_channels=1,
            stems=("encoder",),
            citation=f"{citation}; weights: {STUDY}",
            file_name="checkpoint_final.pth",
            verified=STUDY_UNVERIFIED,
            **kw,  # type: ignore[arg-type]
        ),
    )


_SSL_DATA = "CT-RATE + ABCD (the study's self-supervised corpus), 1 mm isotropic, z-score"
_study(
    "mae_resencl",
    "MAE",
    "mae",
    "He et al.: Masked Autoencoders Are Scalable Vision Learners. CVPR 2022; Wald et al.: Revisiting MAE "
    "pre-training for 3D medical image segmentation. arXiv:2410.23132",
    pretraining_data=_SSL_DATA,
)
_study(
    "s3d_resencl",
    "S3D",
    "s3d",
    "Wald et al.: Revisiting MAE pre-training for 3D medical image segmentation (SparK 3D). arXiv:2410.23132",
    pretraining_data=_SSL_DATA,
)
_study(
    "mg_resencl",
    "MG",
    "mg",
    "Zhou et al.: Models Genesis. Medical Image Analysis 67, 2021",
    pretraining_data=_SSL_DATA,
)
_study(
    "voco_resencl",
    "VoCo",
    "voco",
    "Wu et al.: VoCo: A Simple-yet-Effective Volume Contrastive Learning Framework for 3D Medical Image "
    "Analysis. CVPR 2024 (arXiv:2402.17300)",
    pretraining_data=_SSL_DATA + "; 192x192x64 patches",
)
_MT = "Ulrich et al.: MultiTalent: A Multi-dataset Approach to Medical Image Segmentation. MICCAI 2023"
_MT_DATA = "65 public segmentation datasets, 21,436 images (CT, MRI, CBCT, PET/CT, US), 1 mm isotropic"
_study("multitalent_resencl", "MT", "multitalent", _MT, pretraining_data=_MT_DATA)
_study("multitalent_retina_unet", "MT", "multitalent", _MT, encoder="plain", pretraining_data=_MT_DATA)
WEIGHTS.register(
    "openmind_mae_resencl",
    WeightRecord(
        name="openmind_mae_resencl",
        paper_label="",
        method="mae",
        encoder="resenc",
        in_channels=1,
        stems=("encoder",),
        citation="Wald et al.: An OpenMind for 3D medical vision self-supervised learning (nnssl, OpenMind)",
        file_name="checkpoint_final.pth",
        url="https://huggingface.co/AnonRes/ResEncL-OpenMind-MAE",
        pretraining_data="OpenMind: 114k head and neck MRI volumes, 1 mm, 160^3 patches",
        verified=(
            "address as given in MIC-DKFZ/nnUNet documentation/finetuning_from_nnssl_checkpoints.md; "
            "not downloaded here, sha256 unknown"
        ),
    ),
)


def weights_dir() -> Path:
    """Where :func:`resolve_weights` looks for registered weights: ``$DETBENCH_WEIGHTS`` or the user cache."""
    env = os.environ.get("DETBENCH_WEIGHTS")
    return Path(env) if env else Path.home() / ".cache" / "detbench" / "weights"


def resolve_weights(name_or_path: str | Path) -> tuple[Path, WeightRecord | None]:
    """The file or folder of ``name_or_path`` and its record (``None`` for a plain path).

    An existing path is returned as is. A registered name resolves to ``weights_dir()/<name>`` (a downloaded
    model folder) or ``weights_dir()/<name>/<file name>``; FileNotFoundError says where to put it when absent.
    Anything else is an unknown name (UnknownNameError with suggestions).
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path, None
    looks_like_path = any(sep in str(name_or_path) for sep in ("/", "\\")) or path.suffix in (".pt", ".pth", ".model")
    if looks_like_path:
        raise FileNotFoundError(f"no pre-trained weights at {path}")
    record = WEIGHTS.get(str(name_or_path))
    folder = weights_dir() / record.name
    if (folder / record.file_name).is_file():
        return folder, record
    where = f"download it from {record.url}" if record.url else "its download address is not known to detbench"
    raise FileNotFoundError(
        f"weights {record.name!r} are not on this machine; {where} and put the folder at {folder} "
        f"(holding {record.file_name}), or pass the file's path"
    )


def load_pretrained(name_or_path: str | Path, fmt: str = "auto") -> PretrainedCheckpoint:
    """Resolve and import pre-trained weights (any supported format); a record's known sha256 must match."""
    from pretraining.importers import import_weights, resolve_source

    path, record = resolve_weights(name_or_path)
    if record is not None and record.sha256:
        file, _ = resolve_source(path)
        actual = sha256_of(file)
        if actual != record.sha256:
            raise CheckpointError(f"{file}: sha256 {actual} differs from the published {record.sha256}")
    checkpoint = import_weights(path, fmt=fmt)
    if record is not None:
        checkpoint.data.setdefault("source", {})["record"] = record.name
    return checkpoint
