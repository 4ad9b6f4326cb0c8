"""Formatting and escaping shared by the markdown and HTML pages of the leaderboard site.

Every string that comes from an entry file (method names, descriptions, citations, case ids) is untrusted: a
submitter chooses it. HTML gets :func:`html.escape` (quotes included, so it is safe inside attributes);
markdown gets :func:`md_escape` (markdown punctuation backslash-escaped, ``<``/``>``/``&`` as entities, since
markdown renderers pass raw HTML through). Names that become file names (board ids, entry slugs) are checked
against the contract's pattern ``[a-z0-9-]+`` again here, so a page can never be written outside the site.
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = [
    "as_dict",
    "checked_name",
    "fmt_interval",
    "fmt_rank",
    "fmt_value",
    "md_escape",
    "safe_http_url",
]

_NAME = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+!|~])")


def as_dict(model: Any) -> dict[str, Any]:
    """A board spec or entry as the plain JSON shape of the contract (pydantic models are dumped by alias)."""
    if hasattr(model, "model_dump"):
        return model.model_dump(mode="json", by_alias=True)
    if isinstance(model, dict):
        return dict(model)
    raise TypeError(f"expected a pydantic model or a dict, got {type(model).__name__}")


def checked_name(value: str, what: str) -> str:
    """``value`` if it is a safe file-name stem (``[a-z0-9-]+``, as the contract requires); ValueError otherwise."""
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(f"{what} {value!r} is not a valid name ([a-z0-9-]+): refusing to write a page for it")
    return value


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def fmt_value(value: Any, digits: int = 3) -> str:
    """``0.312`` (``-`` when missing or not finite)."""
    return f"{value:.{digits}f}" if _finite(value) else "-"


def fmt_interval(low: Any, high: Any, digits: int = 3) -> str:
    """``[0.281, 0.344]`` or an empty string when the entry has no interval (reported entries)."""
    if not (_finite(low) and _finite(high)):
        return ""
    return f"[{low:.{digits}f}, {high:.{digits}f}]"


def _rank_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"


def fmt_rank(rank: dict[str, Any] | None) -> str:
    """``1.4 [1, 3]``: mean bootstrap rank and its 95% interval; ``-`` for an unranked (reported) entry."""
    if not rank or not _finite(rank.get("mean")):
        return "-"
    text = f"{rank['mean']:.1f}"
    if _finite(rank.get("low")) and _finite(rank.get("high")):
        text += f" [{_rank_number(rank['low'])}, {_rank_number(rank['high'])}]"
    return text


def md_escape(text: Any) -> str:
    """``text`` safe inside a markdown table cell: one line, no markup, no raw HTML."""
    s = " ".join(str(text if text is not None else "").split())  # newlines would end the table row
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", s)


def safe_http_url(text: Any) -> str | None:
    """``text`` when it is a plain ``http(s)://`` address (worth a link), else None (shown as text only)."""
    if isinstance(text, str) and re.match(r"https?://[^\s\"'<>]+\Z", text):
        return text
    return None
