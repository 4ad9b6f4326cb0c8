"""One registry mechanism for datasets, architectures, pre-training methods and metrics.

Each kind of component has one :class:`Registry`. Adding a component is a module plus a call to
``REGISTRY.register(name, obj)`` (or the decorator form). Looking up an unknown name raises
:class:`UnknownNameError`, a ``ValueError`` whose message suggests close matches and lists every valid name.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


class UnknownNameError(ValueError, KeyError):
    """An unknown registry name; the message carries "did you mean" suggestions and the valid names."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """A named collection of components of one kind (``kind`` is used in error messages)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str, obj: T | None = None) -> T | Callable[[T], T]:
        """Register ``obj`` under ``name``; without ``obj`` returns a decorator."""
        if obj is None:

            def decorator(o: T) -> T:
                self.register(name, o)
                return o

            return decorator
        if not name or not isinstance(name, str):
            raise ValueError(f"{self.kind} name must be a non-empty string, got {name!r}")
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = obj
        return obj

    def get(self, name: str) -> T:
        """Return the component registered as ``name`` (case-insensitive fallback)."""
        if name in self._items:
            return self._items[name]
        folded = {k.lower(): k for k in self._items}
        if isinstance(name, str) and name.lower() in folded:
            return self._items[folded[name.lower()]]
        raise UnknownNameError(self._unknown_message(name))

    def _unknown_message(self, name: object) -> str:
        valid = sorted(self._items)
        close = difflib.get_close_matches(str(name), valid, n=3, cutoff=0.5)
        if not close:
            lowered = {v.lower(): v for v in valid}
            close = [lowered[c] for c in difflib.get_close_matches(str(name).lower(), list(lowered), n=3)]
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return f"Unknown {self.kind} {name!r}.{hint} Valid names: {', '.join(valid) or '(none registered)'}."

    def names(self) -> list[str]:
        """Registered names in registration order."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())
