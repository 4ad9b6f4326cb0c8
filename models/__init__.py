"""Detectors of the study: Retina U-Net and 3D Deformable DETR on the plain and ResEncL encoders.

Build one by name from :data:`models.registry.ARCHITECTURES` with :func:`build_detector`; configs are the
dataclasses of :mod:`models.config`. Every detector has ``compute_loss(images, targets)``,
``predict(images)``, ``num_parameters()`` and an ``encoder`` attribute (see :mod:`models.base`).
"""

from models.base import Detection, Detector, Target
from models.config import DeformableDETRConfig, EncoderConfig, RetinaUNetConfig
from models.registry import ARCHITECTURES, PAPER_PARAMETERS, build_detector, default_config

__all__ = [
    "ARCHITECTURES",
    "PAPER_PARAMETERS",
    "DeformableDETRConfig",
    "Detection",
    "Detector",
    "EncoderConfig",
    "RetinaUNetConfig",
    "Target",
    "build_detector",
    "default_config",
]
