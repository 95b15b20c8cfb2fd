"""A list read only when someone looks at it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any


class Later(Sequence[Any]):
    """A list read only when a template looks at it: most never do, and reading it may cost
    a query (the review's decisions entered on behalf)."""

    def __init__(self, load: Callable[[], Sequence[Any]]) -> None:
        self._load = load
        self._items: Sequence[Any] | None = None

    def _all(self) -> Sequence[Any]:
        if self._items is None:
            self._items = list(self._load())
        return self._items

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())
