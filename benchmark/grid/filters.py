"""``--only`` / ``--exclude``: select grid cells by architecture, pre-training and dataset.

A filter is ``field=value[,field=value...]`` with fields ``arch`` (or ``architecture``), ``pretraining`` (or
``pre``) and ``dataset``; values of one field are alternatives (``arch=retina_unet,arch=deformable_detr``, or
``arch=retina_unet+deformable_detr``), different fields must all match. ``--only F`` keeps the fine-tuning
cells F matches, ``--exclude F`` drops them; pre-training cells follow the fine-tuning cells that need them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CellFilter", "parse_filter"]

_FIELDS = {"arch": "arch", "architecture": "arch", "pretraining": "pretraining", "pre": "pretraining"}
_FIELDS["dataset"] = "dataset"


@dataclass(frozen=True)
class CellFilter:
    """Allowed values per field (a field absent from ``values`` matches everything)."""

    text: str
    values: dict[str, frozenset[str]] = field(default_factory=dict)

    def matches(self, architecture: str, pretraining: str, dataset: str) -> bool:
        found = {"arch": architecture, "pretraining": pretraining, "dataset": dataset}
        return all(found[name].lower() in {v.lower() for v in allowed} for name, allowed in self.values.items())


def parse_filter(text: str, flag: str = "--only") -> CellFilter:
    """Parse one ``--only``/``--exclude`` value; a bad field or an empty value raises ``ValueError``."""
    import difflib

    values: dict[str, set[str]] = {}
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise ValueError(f"{flag}: empty filter; use e.g. {flag} arch=retina_unet,pretraining=fixed")
    for part in parts:
        name, sep, value = part.partition("=")
        name = name.strip().lower()
        if not sep or not value.strip():
            raise ValueError(f"{flag} {text!r}: {part!r} is not field=value (fields: arch, pretraining, dataset)")
        if name not in _FIELDS:
            close = difflib.get_close_matches(name, list(_FIELDS), n=1)
            hint = close[0] if close else None
            raise ValueError(
                f"{flag} {text!r}: unknown field {name!r}"
                + (f" (did you mean {hint!r}?)" if hint else "")
                + "; fields: arch, pretraining, dataset"
            )
        values.setdefault(_FIELDS[name], set()).update(v.strip() for v in value.split("+") if v.strip())
    return CellFilter(text, {k: frozenset(v) for k, v in values.items()})
