"""Deterministic synthetic twins S01-S08 of the benchmark datasets and an unlabelled pre-training corpus."""
