"""Pages drawn once and served again while nothing they show has changed.

A page is kept under a key that holds everything it depends on: the reader's session (their
rights, their form token), the language, the incident's stamp (its version, which every event
moves, and the state of its mail) and the current minute (the clocks' time left). Any change
makes a new key; old entries fall out of a small LRU. A page that changes something is never
kept, and a decision is always checked against the database, never against a page."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from threading import Lock


class PageCache:
    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._pages: OrderedDict[Hashable, bytes] = OrderedDict()
        self._lock = Lock()

    def get(self, key: Hashable) -> bytes | None:
        with self._lock:
            page = self._pages.get(key)
            if page is not None:
                self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, page: bytes) -> None:
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
