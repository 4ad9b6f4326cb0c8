"""Pre-training settings in one :class:`benchmark.core.registry.Registry`, and where their weights come from.

A setting says how the encoder is initialised and which preprocessing configuration fine-tuning uses:

* ``default`` / ``fixed``: random initialisation (the paper's "No - Default", nnDetection's planned spacing
  and patch, and "No - Fixed", 1 mm isotropic and 128^3);
* ``mt``, ``mae``, ``s3d``, ``mg``, ``voco``: the study's pre-trainings (MultiTalent, MAE, SparkMAE/S3D,
  Models Genesis, VoCo), fine-tuned on the fixed preprocessing;
* ``custom``: any checkpoint from ``--weights`` (not a row of the paper).

Labels are Table 3's row labels (Eckstein et al., "The Missing Piece", MICCAI 2025, Table 3; also in
``analysis/reported/eckstein2025_table3_test.csv``), and the architectures a setting applies to are the ones
Table 3 reports it for: MultiTalent for all four detectors, the self-supervised methods for the ResEnc ones
only (fine-tuning an SSL setting on a plain encoder is an error).

Weights of a study setting (:func:`resolve_pretrained`): the registered :class:`pretraining.weights.WeightRecord`
of its method and encoder when its file is on this machine (``$DETBENCH_WEIGHTS/<record>/``), otherwise a
pre-training run on the synthetic corpus (:mod:`pretraining.trainer`), made on first use and cached under
``<cache>/<method>/<encoder>/<profile>_seed<seed>/pretrained.pt``. The cache folder is the ``cache_dir``
argument, else ``$DETBENCH_PRETRAINED``, else ``<data root>/pretrained`` (data root: ``$DETBENCH_DATA`` or
``./data``). The pre-training profile is the fine-tuning profile of the same name; the seed is
:data:`PRETRAIN_SEED` unless given. An interrupted first-use pre-training resumes on the next call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from benchmark.core.registry import Registry

__all__ = [
    "PRETRAINED_ENV",
    "PRETRAINING",
    "PRETRAIN_SEED",
    "PretrainingSpec",
    "WeightsSource",
    "applicable",
    "check_applicable",
    "pretrained_cache_dir",
    "resolve_pretrained",
    "weights_source",
]

PRETRAINED_ENV = "DETBENCH_PRETRAINED"
PRETRAIN_SEED = 0  # one pre-trained encoder per (method, encoder, profile), as the study had one per method
ALL_ARCHITECTURES = ("retina_unet", "deformable_detr", "resenc_retina_unet", "resenc_deformable_detr")
RESENC_ARCHITECTURES = ("resenc_retina_unet", "resenc_deformable_detr")


@dataclass(frozen=True)
class PretrainingSpec:
    """One setting.

    ``weights``: ``None`` (random initialisation), ``"user"`` (``--weights``) or ``"pretrained"`` (a study
    setting: registered record or cached synthetic pre-training, see the module docstring). ``method`` is the
    :data:`pretraining.methods.METHODS` name, ``records`` the :data:`pretraining.weights.WEIGHTS` name per encoder
    kind, ``architectures`` the detectors it applies to (``None``: all).
    """

    name: str
    paper_label: str
    preprocessing: str
    weights: str | None = None
    description: str = ""
    study: bool = True  # a setting of the paper's Table 3 (``paper_label`` is then its row label)
    method: str | None = None
    records: dict[str, str] = field(default_factory=dict)
    architectures: tuple[str, ...] | None = None


PRETRAINING: Registry[PretrainingSpec] = Registry("pre-training setting")
PRETRAINING.register(
    "default",
    PretrainingSpec("default", "No - Default", "default", None, "random init, nnDetection-planned spacing and patch"),
)
PRETRAINING.register(
    "fixed", PretrainingSpec("fixed", "No - Fixed", "fixed", None, "random init, fixed 1 mm spacing and 128^3 patch")
)
# Table 3 row labels (Eckstein et al. 2025): MT, MAE, S3D, MG, VoCo.
PRETRAINING.register(
    "mt",
    PretrainingSpec(
        "mt",
        "MT",
        "fixed",
        "pretrained",
        "supervised MultiTalent pre-training; the CT stem transfers (another 4-channel stem on 4-channel data)",
        method="multitalent",
        records={"resenc": "multitalent_resencl", "plain": "multitalent_retina_unet"},
        architectures=ALL_ARCHITECTURES,
    ),
)
for _name, _label, _what in (
    ("mae", "MAE", "masked autoencoder (75% in cubic blocks)"),
    ("s3d", "S3D", "SparkMAE: sparse masked modelling for CNNs"),
    ("mg", "MG", "Models Genesis: restore distorted patches"),
    ("voco", "VoCo", "volume contrast: predict crop overlaps"),
):
    PRETRAINING.register(
        _name,
        PretrainingSpec(
            _name,
            _label,
            "fixed",
            "pretrained",
            f"self-supervised {_what}; random stem",
            method=_name,
            records={"resenc": f"{_name}_resencl"},
            architectures=RESENC_ARCHITECTURES,
        ),
    )
PRETRAINING.register(
    "custom",
    PretrainingSpec(
        "custom",
        "Custom weights",
        "fixed",
        "user",
        "encoder weights from --weights (any checkpoint the importers read), fixed 1 mm spacing and 128^3 patch",
        study=False,
    ),
)


def applicable(setting: PretrainingSpec, architecture: str) -> bool:
    """Whether Table 3 runs ``setting`` on ``architecture``."""
    return setting.architectures is None or architecture in setting.architectures


def check_applicable(setting: PretrainingSpec, architecture: str) -> None:
    """ValueError when ``setting`` does not apply to ``architecture`` (e.g. an SSL setting on a plain encoder)."""
    if not applicable(setting, architecture):
        raise ValueError(
            f"pre-training {setting.name!r} ({setting.paper_label}) applies to "
            f"{', '.join(setting.architectures or ())} only (Table 3 of the paper), not to {architecture!r}"
        )


def pretrained_cache_dir(cache_dir: str | Path | None = None, data_root: str | Path | None = None) -> Path:
    """``cache_dir``, else ``$DETBENCH_PRETRAINED``, else ``<data root>/pretrained``."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get(PRETRAINED_ENV)
    if env:
        return Path(env)
    if data_root is None:
        data_root = os.environ.get("DETBENCH_DATA", "data")
    return Path(data_root) / "pretrained"


@dataclass(frozen=True)
class WeightsSource:
    """Where a setting's weights come from: ``kind`` ``"record"`` (a published file on this machine, ``path``
    its folder) or ``"synthetic"`` (``path`` the cached pre-training run folder, which may not exist yet)."""

    kind: str
    path: Path
    record: str | None = None

    @property
    def checkpoint(self) -> Path:
        from pretraining.trainer import FINAL

        return self.path / FINAL if self.kind == "synthetic" else self.path


def _encoder_of(architecture: str) -> str:
    from models.registry import ARCHITECTURES

    return ARCHITECTURES.get(architecture).encoder_kind


def weights_source(
    setting: PretrainingSpec,
    architecture: str,
    profile: str,
    seed: int = PRETRAIN_SEED,
    cache_dir: str | Path | None = None,
    data_root: str | Path | None = None,
) -> WeightsSource:
    """The source of ``setting``'s weights for ``architecture`` (cheap: looks for files, runs nothing)."""
    from pretraining.weights import WEIGHTS, weights_dir

    if setting.weights != "pretrained" or setting.method is None:
        raise ValueError(f"pre-training {setting.name!r} has no pre-trained weights of its own")
    check_applicable(setting, architecture)
    encoder = _encoder_of(architecture)
    record_name = setting.records.get(encoder)
    if record_name is not None:
        record = WEIGHTS.get(record_name)
        folder = weights_dir() / record.name
        if (folder / record.file_name).is_file():
            return WeightsSource("record", folder, record.name)
    root = pretrained_cache_dir(cache_dir, data_root)
    return WeightsSource("synthetic", root / setting.method / encoder / f"{profile}_seed{seed}")


def resolve_pretrained(
    setting: PretrainingSpec,
    architecture: str,
    profile: str,
    seed: int = PRETRAIN_SEED,
    cache_dir: str | Path | None = None,
    data_root: str | Path | None = None,
    device: str = "auto",
    progress: bool = True,
) -> WeightsSource:
    """:func:`weights_source`, pre-training on the synthetic corpus first when nothing is cached yet."""
    source = weights_source(setting, architecture, profile, seed, cache_dir, data_root)
    if source.kind == "record":
        return source
    from pretraining.checkpoint import sidecar_path
    from pretraining.profiles import PRETRAINING_PROFILES

    final = source.checkpoint
    if final.is_file() and sidecar_path(final).is_file():
        _check_cached_encoder(sidecar_path(final), _encoder_of(architecture), profile)
        return source
    PRETRAINING_PROFILES.get(profile)  # a fine-tuning profile without a pre-training counterpart fails here
    from pretraining.trainer import PretrainConfig, pretrain

    if progress:
        encoder = _encoder_of(architecture)
        print(f"pre-training {setting.name} ({setting.method}, {encoder}, profile {profile}) once into {source.path}")
    result = pretrain(
        PretrainConfig(
            method=setting.method,
            out_dir=str(source.path),
            encoder=_encoder_of(architecture),
            profile=profile,
            seed=seed,
            device=device,
            resume=True,
            progress=progress,
            cache_dir=str(pretrained_cache_dir(cache_dir, data_root) / "data"),
        )
    )
    if not result.finished:  # pragma: no cover - pretrain without max_steps always finishes
        raise RuntimeError(f"the pre-training in {source.path} did not finish")
    return source


def _check_cached_encoder(sidecar: Path, encoder: str, profile: str) -> None:
    """Refuse a cached synthetic pre-training whose encoder is not the one ``profile`` builds today (e.g. made
    before a laptop profile changed its ResEnc depth): fine-tuning would silently train the old shape."""
    import json

    from pretraining.profiles import PRETRAINING_PROFILES
    from pretraining.trainer import encoder_config_for

    try:
        raw = json.loads(sidecar.read_text(encoding="utf-8")).get("encoder", {})
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot read the cached pre-training's metadata {sidecar}: {exc}") from exc
    want = encoder_config_for(encoder, PRETRAINING_PROFILES.get(profile), in_channels=1)
    have = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k != "in_channels"}
    try:
        from models.config import EncoderConfig

        cached = EncoderConfig(**{**have, "in_channels": 1})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the cached pre-training {sidecar.parent} has an unreadable encoder config: {exc}") from exc
    shape = ("kind", "stage_features", "stage_blocks", "stage_strides_3d")
    if any(getattr(cached, k) != getattr(want, k) for k in shape):
        raise ValueError(
            f"the cached pre-training in {sidecar.parent} has another encoder than profile {profile!r} builds now "
            f"(blocks {cached.stage_blocks} vs {want.stage_blocks}, features {cached.stage_features} vs "
            f"{want.stage_features}); it was made by an earlier version. Delete that folder to pre-train again, "
            "or pass another --pretrained-cache"
        )

