"""The after-action review of one incident, in the workspace's language: its timeline, clocks
against their legal basis, statements and their versions, messages and their delivery, who did
what, and the decisions entered on behalf."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..i18n import catalogue
from .records import on_behalf_decisions

if TYPE_CHECKING:
    from . import App

Section = tuple[str, list[str], list[list[str]]]
Translate = Callable[[str], str]


def after_action(app: App, ref: str, fmt: str, lang: str) -> str:
    """The review as Markdown or HTML, its words in ``lang``."""
    tr = catalogue(lang).gettext
    data = app.records.show(ref)
    statements = app.statements.list(ref)
    loc = app.local
    sections = [
        _timeline(tr, data, loc),
        _clocks(tr, data, loc),
        _statements(tr, data, statements, loc),
        _mail(tr, data, loc),
        _who(tr, data),
        _on_behalf(tr, data, loc),
    ]
    title = tr("After-action review {ref}: {title}").format(ref=data["ref"], title=data["title"])
    facts = [
        tr("Playbook: {id} v{version}").format(**data["playbook"]),
        tr("State: {state}").format(state=data["state"]),
        tr("Opened {opened}, closed {closed}").format(
            opened=loc(data["opened_at"]), closed=loc(data["closed_at"])
        ),
    ]
    if fmt == "html":
        return _html(tr, title, facts, sections, lang)
    return _markdown(tr, title, facts, sections)


def _timeline(tr: Translate, data: dict[str, Any], loc: Any) -> Section:
    return (
        tr("Timeline"),
        [tr("#"), tr("time"), tr("who"), tr("what"), tr("note")],
        [
            [
                str(e["seq"]),
                loc(e["at"]),
                _who_cell(tr, e),
                f"{e['trigger']}: {e['from']} → {e['to']}" if e["trigger"] else e["kind"],
                e["note"] or "",
            ]
            for e in data["events"]
        ],
    )


def _who_cell(tr: Translate, e: dict[str, Any]) -> str:
    """The actor, and who typed the entry in when it was not them."""
    entered = (e["data"] or {}).get("entered_by")
    if not entered:
        return str(e["actor"])
    if (e["data"] or {}).get("on_behalf") is None:
        return tr("{person} (entered by {by})").format(person=e["actor"], by=entered)
    return tr("{person} (entered by {by} on behalf)").format(person=e["actor"], by=entered)


def _on_behalf(tr: Translate, data: dict[str, Any], loc: Any) -> Section:
    """The decisions taken elsewhere (by phone, in a meeting) and entered for the person who
    took them: the review lists each, with the word it was entered on."""
    return (
        tr("Decisions entered on behalf"),
        [tr("#"), tr("time"), tr("decided by"), tr("entered by"), tr("step"), tr("how and when")],
        [
            [
                str(d["seq"]),
                loc(d["at"]),
                d["person"],
                d["entered_by"],
                f"{d['step']} {d['statement']}" if d["statement"] else d["step"],
                d["on_behalf"],
            ]
            for d in on_behalf_decisions(data["events"])
        ],
    )


def _clocks(tr: Translate, data: dict[str, Any], loc: Any) -> Section:
    return (
        tr("Clocks"),
        [tr("clock"), tr("status"), tr("due"), tr("rule"), tr("basis")],
        [
            [d["clock"], d["status"], loc(d["due_at"]), d["rule"], d["basis"]]
            for d in data["deadlines"]
        ],
    )


def _statements(
    tr: Translate, data: dict[str, Any], statements: list[dict[str, Any]], loc: Any
) -> Section:
    # The two reads are separate transactions: a statement drafted in between has no versions
    # counted here rather than none at all.
    versions = {x["kind"]: len(x["versions"]) for x in data["statements"]}
    return (
        tr("Statements"),
        [tr("statement"), tr("versions"), tr("status"), tr("updated")],
        [
            [
                s["kind"],
                str(versions.get(s["kind"], 0)),
                s["status"],
                loc(s["updated_at"]),
            ]
            for s in statements
        ],
    )


def _mail(tr: Translate, data: dict[str, Any], loc: Any) -> Section:
    return (
        tr("E-mail"),
        [tr("to"), tr("subject"), tr("status"), tr("attempts"), tr("sent / last reply")],
        [
            [
                msg["to"],
                msg["subject"],
                msg["status"],
                str(msg["attempts"]),
                loc(msg["sent_at"]) if msg["sent_at"] else (msg["last_error"] or ""),
            ]
            for msg in data["messages"]
        ],
    )


def _who(tr: Translate, data: dict[str, Any]) -> Section:
    who: dict[str, dict[str, int]] = {}
    for e in data["events"]:
        kind = e["kind"]
        if (e["data"] or {}).get("on_behalf") is not None:
            kind = tr("{kind} entered on behalf").format(kind=kind)
        who.setdefault(e["actor"], {}).setdefault(kind, 0)
        who[e["actor"]][kind] += 1
    return (
        tr("Who did what"),
        [tr("who"), tr("what")],
        [
            [actor, ", ".join(f"{kind} ×{n}" for kind, n in kinds.items())]
            for actor, kinds in who.items()
        ],
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _markdown(tr: Translate, title: str, facts: list[str], sections: list[Any]) -> str:
    lines = [f"# {title}", "", *[f"- {f}" for f in facts]]
    for heading, header, rows in sections:
        lines += ["", f"## {heading}", ""]
        if not rows:
            lines.append(tr("(none)"))
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _html(tr: Translate, title: str, facts: list[str], sections: list[Any], lang: str) -> str:
    e = html.escape
    parts = [
        f'<!DOCTYPE html>\n<html lang="{e(lang)}"><head><meta charset="utf-8">'
        f"<title>{e(title)}</title>"
        "<style>body{font-family:'Times New Roman',serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;vertical-align:top}</style></head>"
        f"<body><h1>{e(title)}</h1><ul>" + "".join(f"<li>{e(f)}</li>" for f in facts) + "</ul>"
    ]
    for heading, header, rows in sections:
        parts.append(f"<h2>{e(heading)}</h2>")
        if not rows:
            parts.append(f"<p>{e(tr('(none)'))}</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
