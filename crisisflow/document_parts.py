"""The parts of an administrative document that come from the directory, not the template:
the header, the number line, the place and date, the signer block; and the organisation's
words that running text needs (its head, its office, the bodies above and below it).

Templates print these and fix no body's name, level or post of their own, so one set of
templates serves a district, a commune and a provincial department alike.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from . import numbering
from .directory import Directory
from .issuer import NO_SIGNER, Signer
from .playbook import Playbook
from .render import vn_date


def organisation(directory: Directory) -> dict[str, Any]:
    """What templates get as ``org``: the directory's organisation section and the words
    derived from it."""
    issuer = directory.issuer
    head = issuer.head
    return {
        **directory.organisation,
        "name": issuer.name,
        "full_name": issuer.full_name,
        "symbol": issuer.symbol,
        "reports_to": issuer.reports_to,
        "parent": issuer.reports_to,  # the name earlier templates used
        "managing_body": issuer.managing_body,
        "head": head,  # "Chủ tịch"
        "leaders": f"{head}, các Phó {head} {issuer.name}",
        "office": issuer.office or f"Văn phòng {issuer.name}",
        "office_symbol": issuer.office_symbol,
        "lower_level": issuer.lower_level,
    }


def document(
    directory: Directory,
    kind: str,
    abbreviation: str | None,
    *,
    now: datetime,
    tz: ZoneInfo,
    lang: str,
) -> dict[str, Any]:
    """What a statement template gets as ``doc``: its header lines, number line, place and
    date, and signer block, for a statement of ``kind`` (numbered as ``abbreviation``)."""
    issuer = directory.issuer
    symbol = numbering.symbol(abbreviation, issuer.symbol, issuer.office_symbol)
    signers = issuer.signers_for(kind)
    signer = _signer_card(directory, signers[0] if signers else None, lang)
    return {
        "header": "\n".join(issuer.header(lang)),
        "number": numbering.number_line(symbol, lang),
        "symbol": symbol,
        "place_date": _place_date(issuer.place, now, tz, lang),
        "signer": signer,
        "signature": "\n".join([*signer["lines"], "", signer["name"]]),
    }


def _signer_card(directory: Directory, signer: Signer | None, lang: str) -> dict[str, Any]:
    issuer = directory.issuer
    if signer is None:  # nobody declared: a blank that keeps the text from being approved
        head = Signer("", "head")
        return {
            "id": "",
            "name": NO_SIGNER.get(lang, NO_SIGNER["vi"]),
            "capacity": "head",
            "lines": issuer.capacity_lines(head, "", "", lang),
        }
    person = directory.people[signer.person]
    return {
        "id": person.id,
        "name": person.name,
        "capacity": signer.capacity,
        "lines": issuer.capacity_lines(signer, person.post, person.post_en, lang),
    }


def _place_date(place: str, now: datetime, tz: ZoneInfo, lang: str) -> str:
    local = now.astimezone(tz) if now.tzinfo else now
    if lang == "en":
        return f"{place}, {local.day} {local:%B %Y}" if place else f"{local.day} {local:%B %Y}"
    return f"{place}, {vn_date(local)}" if place else vn_date(local).capitalize()


def template_facts(
    directory: Directory, playbook: Playbook, facts: dict[str, Any]
) -> dict[str, Any]:
    """An incident's facts as templates read them: a person or unit as its directory card,
    a time as a datetime."""
    found: dict[str, Any] = {}
    for name, value in facts.items():
        fact = playbook.facts.get(name)
        kind = fact.type if fact else None
        if kind == "person" and value in directory.people:
            p = directory.people[value]
            found[name] = {
                "id": p.id,
                "name": p.name,
                "title": p.title,
                "email": p.email,
                "phone": p.phone,
            }
        elif kind == "unit" and value in directory.units:
            u = directory.units[value]
            found[name] = {"id": u.id, "name": u.name, "email": u.email}
        elif kind == "datetime" and value:
            found[name] = datetime.fromisoformat(value)
        else:
            found[name] = value
    return found


def fact_labels(playbook: Playbook, facts: dict[str, Any], lang: str) -> dict[str, str]:
    """Each choice fact's value as the document's language writes it: never the code."""
    return {
        name: fact.choice_label(str(value), lang, playbook.policy.channels)
        for name, value in facts.items()
        if (fact := playbook.facts.get(name)) is not None and fact.type == "choice"
    }
