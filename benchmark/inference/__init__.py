"""Whole-volume inference: sliding windows, test-time mirroring, box consolidation, post-processing."""
