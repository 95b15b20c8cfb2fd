"""The document register as the office reads it: every number given, by year and symbol."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import numbering, store_register
from ..history import iso

if TYPE_CHECKING:
    from . import App


def written(entry: Any | None) -> str | None:
    """A register entry's number as documents write it: "05/TC-UBND"."""
    return f"{numbering.written(entry.number)}/{entry.symbol}" if entry is not None else None


def issued_text(text: str, entry: Any | None) -> str:
    """A version's text as it was issued: its number written in, if it was given one."""
    return numbering.issue(text, entry.number) if entry is not None else text


class Register:
    def __init__(self, app: App) -> None:
        self.app = app

    def entries(self, year: int | None = None) -> list[dict[str, Any]]:
        """Each number given (in ``year``), in register order, with what it was given to."""
        with self.app.store.reading() as conn:
            rows = store_register.entries(conn, year)
        return [
            {
                "year": r.year,
                "symbol": r.symbol,
                "number": r.number,
                "written": written(r),
                "ref": r.ref,
                "kind": r.kind,
                "version": r.version,
                "title": r.title,
                "signer": r.signer,
                "issued_at": iso(r.issued_at),
                "sha256": r.text_hash,
            }
            for r in rows
        ]
