"""The official evaluation protocols of four benchmark datasets, each reproducing its published script.

* :mod:`.luna16` -- LUNA16 CPM (Setio et al. 2017, ``noduleCADEvaluationLUNA16.py``);
* :mod:`.pn9` -- PN9 as SANet evaluates it (Mei et al., TPAMI, mj129/SANet);
* :mod:`.cta_a` -- CTA-A box FROC at IoU 0.3 (nnDetection's ``FROCMetric``), internal/external test sets;
* :mod:`.ribfrac` -- RibFrac challenge FROC (M3DV/RibFrac-Challenge ``ribfrac/evaluation.py``).

Importing this package registers ``luna16``, ``pn9``, ``cta_a`` and ``ribfrac`` in
:data:`benchmark.metrics.registry.METRICS`; :data:`PROTOCOLS` maps the same names to the direct functions
(official file formats in, :class:`ProtocolResult` out).
"""

from __future__ import annotations

from collections.abc import Callable

from benchmark.metrics.protocols._froc import BootstrapCI, ProtocolResult
from benchmark.metrics.protocols.cta_a import CTAAProtocol, cta_a_evaluate, cta_a_froc
from benchmark.metrics.protocols.luna16 import LUNA16Protocol, luna16_froc, luna16_froc_files
from benchmark.metrics.protocols.pn9 import PN9Protocol, pn9_froc, pn9_froc_files
from benchmark.metrics.protocols.ribfrac import RibFracCase, RibFracProtocol, ribfrac_case, ribfrac_froc
from benchmark.metrics.registry import METRICS

__all__ = [
    "PROTOCOLS",
    "BootstrapCI",
    "ProtocolResult",
    "RibFracCase",
    "cta_a_evaluate",
    "cta_a_froc",
    "get_protocol",
    "luna16_froc",
    "luna16_froc_files",
    "pn9_froc",
    "pn9_froc_files",
    "ribfrac_case",
    "ribfrac_froc",
]

PROTOCOLS: dict[str, Callable[..., ProtocolResult]] = {
    "luna16": luna16_froc,
    "pn9": pn9_froc,
    "cta_a": cta_a_froc,
    "ribfrac": ribfrac_froc,
}


def get_protocol(name: str) -> Callable[..., ProtocolResult]:
    """The protocol function registered as ``name``; ValueError listing the valid names otherwise."""
    if name not in PROTOCOLS:
        raise ValueError(f"unknown evaluation protocol {name!r}; valid: {', '.join(sorted(PROTOCOLS))}")
    return PROTOCOLS[name]


for _metric in (LUNA16Protocol(), PN9Protocol(), CTAAProtocol(), RibFracProtocol()):
    if _metric.name not in METRICS:
        METRICS.register(_metric.name, _metric)
