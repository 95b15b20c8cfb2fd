"""What a step's mail links to and carries besides its templates' text, and what an approval
request presents: each text awaiting approval as it will be issued, with its page."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import mail, numbering


@dataclass(frozen=True)
class Mailing:
    """What a step's mail links to and carries besides its templates' text: ``links`` (None:
    none), the step's event number, and for an approval request the kinds it presents with
    their current texts (kind, title, text, number, sha256, lang; else the step's draft)."""

    links: mail.Links | None = None
    seq: int = 1
    approval: tuple[str, ...] = ()
    texts: Mapping[str, dict[str, Any]] = field(default_factory=dict)


def approval_context(
    texts: Sequence[Mapping[str, Any]], ref: str, links: mail.Links | None
) -> dict[str, Any]:
    """What an approval request's template gets: ``statements`` (each with the ``url`` of
    its page), the first of them as ``statement``, and its page as ``approval_url``."""
    cards = [
        {
            **t,
            "url": links.statement(ref, t["kind"]) if links else None,
            # As it will be issued: the number line says the number comes on issue.
            "preview": numbering.preview(t["text"], t.get("lang", "vi")),
        }
        for t in texts
    ]
    first = cards[0] if cards else None
    return {"statements": cards, "statement": first, "approval_url": first and first["url"]}
