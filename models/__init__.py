"""Detectors of the study: Retina U-Net and 3D Deformable DETR on the plain and ResEncL encoders."""
