"""The dependency-free core every other part of detbench builds on.

``models/``, ``pretraining/``, the harness (``benchmark/``) and ``analysis/`` all import from here, and this
package imports nothing of theirs: only the standard library and numpy (``boxes`` also accepts torch tensors
without importing torch). Its modules:

- :mod:`benchmark.core.registry`: the one registry mechanism (unknown names fail with "did you mean").
- :mod:`benchmark.core.conventions`: array, box and coordinate conventions, written once.
- :mod:`benchmark.core.boxes`: vectorised 3D box volume, IoU and GIoU (numpy or torch).
- :mod:`benchmark.core.atomic`: atomic file writes (unique temporary file, fsync, ``os.replace``).
- :mod:`benchmark.core.errors`: :class:`~benchmark.core.errors.InputErrors`, several one-line user errors at once.
"""
