"""Incident references, such as KC-2026-0007: their shape, checked before any lookup."""

from __future__ import annotations

import re

from .errors import NotFoundError
from .i18n import _

_REF_RE = re.compile(r"([A-Z][A-Z0-9]{0,7})-([0-9]{4})-([0-9]{1,9})")
_MAX_REF = 40


def shown(value: str, limit: int = 60) -> str:
    """A user's value as a message shows it: repr (odd characters visible), bounded."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


def clean_ref(ref: str) -> str:
    """An incident reference as stored: ``" kc-2026-7 "`` → ``"KC-2026-0007"``; anything that
    cannot be a reference is refused with NotFoundError before it reaches the database."""
    text = ref.strip()
    found = _REF_RE.fullmatch(text.upper()) if text.isascii() and len(text) <= _MAX_REF else None
    if found is None:
        raise NotFoundError(
            _(
                "no incident {ref}: a reference looks like KC-2026-0007; "
                "see `crisisflow list --all`"
            ).format(ref=shown(ref))
        )
    prefix, year, number = found.groups()
    return f"{prefix}-{year}-{int(number):04d}"
