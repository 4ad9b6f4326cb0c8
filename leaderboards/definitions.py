"""Which boards exist, derived from the dataset registry (:mod:`benchmark.datasets`).

Every dataset D01-D08 and its synthetic twin S01-S08 gets a mAP@0.1 and a FROC@0.1 board on its test split
(the paper's two metrics, Eckstein et al. 2025); each official protocol a real dataset lists in its
``DatasetSpec.protocols`` gets its own board: LUNA16 CPM (D06), PN9 (D07), CTA-A internal and external test
sets (D08) and the RibFrac challenge FROC (D02). Adding a protocol to a dataset spec adds its board.
"""

from __future__ import annotations

from dataclasses import dataclass

from leaderboards.schema import BoardSpec

__all__ = ["OFFICIAL_BOARDS", "STANDARD_BOARDS", "BoardDefinition", "board_specs", "boards_of_dataset"]


@dataclass(frozen=True)
class BoardDefinition:
    """How one registry protocol becomes a board: id suffix, metric key, split, title text."""

    protocol: str  # board id suffix
    metric: str  # name in benchmark.metrics.METRICS
    split: str
    label: str


STANDARD_BOARDS = (
    BoardDefinition("map", "map@0.1", "test", "mAP@0.1"),
    BoardDefinition("froc", "froc@0.1", "test", "FROC@0.1"),
)
# registry protocol name -> its boards (CTA-A reports its internal and external test sets apart).
OFFICIAL_BOARDS: dict[str, tuple[BoardDefinition, ...]] = {
    "luna16": (BoardDefinition("luna16-cpm", "luna16", "test", "LUNA16 CPM"),),
    "pn9": (BoardDefinition("pn9", "pn9", "test", "PN9 FROC"),),
    "cta_a": (
        BoardDefinition("cta-a-internal", "cta_a", "test", "CTA-A FROC@0.3, internal test set"),
        BoardDefinition("cta-a-external", "cta_a", "external_test", "CTA-A FROC@0.3, external test set"),
    ),
    "ribfrac": (BoardDefinition("ribfrac", "ribfrac", "test", "RibFrac challenge FROC"),),
}


def _spec(dataset_id: str, name: str, definition: BoardDefinition) -> BoardSpec:
    twin = dataset_id.startswith("S")
    what = f"{name} synthetic twin ({dataset_id})" if twin else f"{name} ({dataset_id})"
    split = "external test set" if definition.split == "external_test" else "test split"
    title = f"{what}: {definition.label}" + ("" if "test set" in definition.label else f", {split}")
    return BoardSpec(
        board_id=f"{dataset_id.lower()}-{definition.protocol}",
        dataset=dataset_id,
        protocol=definition.protocol,
        metric=definition.metric,
        higher_is_better=True,
        title=title,
        split=definition.split,
    )


def boards_of_dataset(dataset_id: str) -> list[BoardSpec]:
    """The boards of one dataset id (``D06`` or its twin ``S06``)."""
    from benchmark.datasets import get_dataset

    spec = get_dataset(dataset_id)
    twin = dataset_id.upper().startswith("S")
    ident = spec.twin_id if twin else spec.id
    boards = [_spec(ident, spec.name, d) for d in STANDARD_BOARDS]
    if not twin:
        for protocol in spec.protocols:
            boards += [_spec(ident, spec.name, d) for d in OFFICIAL_BOARDS.get(protocol, ())]
    return boards


def board_specs() -> list[BoardSpec]:
    """Every board: D01-D08 with their official protocols, then the twins S01-S08."""
    from benchmark.datasets import DATASETS

    ids = [spec.id for _, spec in DATASETS.items()]
    return [b for d in ids for b in boards_of_dataset(d)] + [b for d in ids for b in boards_of_dataset("S" + d[1:])]
