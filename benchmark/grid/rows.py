"""The paper's 20 model rows (Table 3), defined once, and which of them this build can run.

Table 3 of "The missing piece" (docs, /work/shared/paper): Retina U-Net and Deformable DETR with the plain
encoder are trained from scratch (``default``: nnDetection's planned spacing and patch; ``fixed``: 1 mm,
128^3) and from MultiTalent (``mt``); their ResEnc-L variants additionally from the four self-supervised
encoders (``voco``, ``mae``, ``s3d``, ``mg`` = Models Genesis). A row whose pre-training setting is not
registered in :data:`pretraining.registry.PRETRAINING` is reported as skipped, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPER_ROWS", "PRETRAINED_METHODS", "Row", "available_rows", "select_rows"]

_PLAIN = ("retina_unet", "deformable_detr")
_RESENC = ("resenc_retina_unet", "resenc_deformable_detr")
_SCRATCH = ("default", "fixed")
_PLAIN_PRETRAINED = ("mt",)
_RESENC_PRETRAINED = ("mt", "voco", "mae", "s3d", "mg")

#: Pre-training settings whose encoder comes from a pre-training run (a pre-training cell of the grid).
PRETRAINED_METHODS = _RESENC_PRETRAINED


@dataclass(frozen=True, order=True)
class Row:
    """One model row: an architecture and the pre-training setting it is fine-tuned from."""

    architecture: str
    pretraining: str

    @property
    def needs_pretraining(self) -> bool:
        """A registered setting with pre-trained weights (``weights == "pretrained"``), or a paper method."""
        from pretraining.registry import PRETRAINING

        if self.pretraining in PRETRAINING:
            return PRETRAINING.get(self.pretraining).weights == "pretrained"
        return self.pretraining in PRETRAINED_METHODS

    def __str__(self) -> str:
        return f"{self.architecture}__{self.pretraining}"


PAPER_ROWS: tuple[Row, ...] = tuple(
    [Row(a, p) for a in _PLAIN for p in (*_SCRATCH, *_PLAIN_PRETRAINED)]
    + [Row(a, p) for a in _RESENC for p in (*_SCRATCH, *_RESENC_PRETRAINED)]
)
assert len(PAPER_ROWS) == 20  # Table 3


def select_rows(architectures: tuple[str, ...] = (), pretraining: tuple[str, ...] = ()) -> list[Row]:
    """The rows of a run: the paper's rows restricted by the given names; both given: every combination.

    Both empty: all 20 paper rows. Only one given: the paper rows with that architecture (pre-training).
    Both given: their product (without the pairs Table 3 rules out, an SSL setting on a plain encoder), so a
    pair outside Table 3 runs when asked for.
    """
    if architectures and pretraining:
        from pretraining.registry import PRETRAINING, applicable

        return [
            Row(a, p)
            for a in architectures
            for p in pretraining
            if p not in PRETRAINING or applicable(PRETRAINING.get(p), a)  # Table 3: no SSL on plain encoders
        ]
    return [
        r
        for r in PAPER_ROWS
        if (not architectures or r.architecture in architectures) and (not pretraining or r.pretraining in pretraining)
    ]


def available_rows(rows: list[Row]) -> tuple[list[Row], list[tuple[Row, str]]]:
    """``(runnable rows, [(skipped row, reason)])``: a row runs when its pre-training setting is registered."""
    from pretraining.registry import PRETRAINING

    kept, skipped = [], []
    for row in rows:
        if row.pretraining in PRETRAINING:
            kept.append(row)
        else:
            skipped.append((row, f"pre-training {row.pretraining!r} not available in this build"))
    return kept, skipped
