"""Masked autoencoder (MAE) for CNN encoders, as nnssl trains it.

Source: He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022; for 3D CNNs Wald et al.,
"Revisiting MAE pre-training for 3D medical image segmentation" (arXiv:2410.23132) and MIC-DKFZ/nnssl
``BaseMAETrainer``: 75% of the input is masked in cubic blocks (16^3 voxels of a 192^3 patch; scaled with the
patch on small profiles, :func:`pretraining.methods.decoder.scaled_block_size`), the masked voxels are set to 0
(the mean after z-scoring), the network reconstructs the whole patch and the MSE is taken over the masked
voxels only (nnssl ``MAEMSELoss``). Written for detbench from that description (no code copied).
"""

from __future__ import annotations

from torch import Tensor

from models.config import EncoderConfig, Triple
from pretraining.methods import METHODS, MethodSpec, PretrainBatch, PretrainingMethod
from pretraining.methods.decoder import LightDecoder, block_mask, scaled_block_size

MASK_RATIO = 0.75
FULL_BLOCK = 16  # nnssl's block at the 192^3 patch


class MAE(PretrainingMethod):
    """Encoder + :class:`LightDecoder`; ``block_size`` ``None`` scales nnssl's 16^3 block to the patch."""

    name = "mae"

    def __init__(
        self,
        encoder_config: EncoderConfig,
        patch_size: Triple,
        mask_ratio: float = MASK_RATIO,
        block_size: int | None = None,
    ) -> None:
        super().__init__(encoder_config, patch_size)
        self.mask_ratio = float(mask_ratio)
        self.block_size = int(block_size) if block_size else scaled_block_size(self.patch_size, FULL_BLOCK)
        if any(p % self.block_size for p in self.patch_size):
            raise ValueError(f"patch {self.patch_size} is not a multiple of the mask block {self.block_size}")
        self.decoder = LightDecoder(encoder_config, encoder_config.in_channels)

    def make_mask(self, batch: int) -> Tensor:
        """``(B, 1, *patch)``: 1 visible, 0 masked (torch's global CPU generator)."""
        return block_mask(batch, self.patch_size, self.block_size, self.mask_ratio)

    def reconstruct(self, images: Tensor, mask: Tensor) -> Tensor:
        """The decoder's reconstruction of ``images`` seen through ``mask``."""
        return self.decoder(self.encoder(images * mask))

    @staticmethod
    def masked_mse(prediction: Tensor, target: Tensor, mask: Tensor) -> Tensor:
        """Mean squared error over the masked voxels (``mask == 0``) of every channel."""
        hidden = (1.0 - mask).expand_as(target)
        return (((prediction.float() - target.float()) ** 2) * hidden).sum() / hidden.sum().clamp_min(1.0)

    def loss(self, batch: PretrainBatch) -> dict[str, Tensor]:
        images = batch.images
        mask = self.make_mask(images.shape[0]).to(images.device, images.dtype)
        prediction = self.reconstruct(images, mask)
        loss = self.masked_mse(prediction, images, mask)
        return {"loss": loss, "masked_fraction": (1.0 - mask).mean().detach()}


def build(encoder_config: EncoderConfig, patch_size: Triple, **options: object) -> MAE:
    return MAE(encoder_config, patch_size, **options)  # type: ignore[arg-type]


METHODS.register(
    "mae",
    MethodSpec(
        name="mae",
        label="MAE",
        build=build,
        citation=(
            "He et al.: Masked Autoencoders Are Scalable Vision Learners. CVPR 2022; Wald et al.: Revisiting MAE "
            "pre-training for 3D medical image segmentation. arXiv:2410.23132 (nnssl BaseMAETrainer)"
        ),
        defaults={"mask_ratio": MASK_RATIO},
    ),
)

__all__ = ["MAE", "MASK_RATIO", "build"]
