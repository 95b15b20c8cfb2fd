"""Reports: the after-action review of one incident, and the yearly spokesperson report
(Decree 244/2026/NĐ-CP, Art. 10) counted from the record by the rule pack's definitions (see
``rules/vn.yaml`` `reports:` and the README)."""

from __future__ import annotations

import html
import json
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from .. import document_parts, store_reports
from ..errors import InvalidInput
from ..i18n import _
from .records import on_behalf_decisions

if TYPE_CHECKING:
    from . import App

Section = tuple[str, list[str], list[list[str]]]


class Reports:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def yearly_template(self) -> str:
        return self.app.rule_pack.yearly_report.template

    def yearly_window(self, year: int) -> tuple[datetime, datetime]:
        """15 December of the year before to the end of 14 December, workspace time."""
        start = datetime.combine(datetime(year - 1, 12, 15).date(), time(0), self.app.tz)
        end = datetime.combine(datetime(year, 12, 15).date(), time(0), self.app.tz)
        return start, end

    def yearly_counts(self, year: int) -> dict[str, Any]:
        if not 2000 <= year <= 2100:
            raise InvalidInput(_("--year {year}: give a year such as 2026").format(year=year))
        start, end = self.yearly_window(year)
        kinds = self.app.rule_pack.yearly_report
        with self.app.store.reading() as conn:
            counts = store_reports.yearly_counts(conn, start, end, kinds)
            on_behalf = store_reports.on_behalf_entries(conn, start, end)
        last = end - timedelta(seconds=1)
        return {
            "year": year,
            "window_start": start,
            "window_end": last,
            "basis": kinds.basis_for(last.date()),  # the decree in force as the window closes
            "counts": counts,
            "on_behalf": on_behalf,
        }

    def yearly(self, year: int, fmt: str) -> str:
        """The yearly report: counts as JSON, or the administrative document in md or html."""
        report = self.yearly_counts(year)
        if fmt == "json":
            return json.dumps(
                {
                    **report,
                    "window_start": report["window_start"].isoformat(),
                    "window_end": report["window_end"].isoformat(),
                    "on_behalf": [{**e, "at": e["at"].isoformat()} for e in report["on_behalf"]],
                },
                ensure_ascii=False,
                indent=2,
            )
        text, title, lang = self._yearly_document(report)
        if fmt == "html":
            from ..export import export

            page: bytes = export(text, "html", title=title, lang=lang)
            return page.decode("utf-8")
        return text

    def yearly_docx(self, year: int) -> bytes:
        """The yearly report as a Word document laid out as Decree 30/2020 asks."""
        from ..export import export

        text, title, lang = self._yearly_document(self.yearly_counts(year))
        document: bytes = export(text, "docx", title=title, lang=lang)
        return document

    def _yearly_document(self, report: dict[str, Any]) -> tuple[str, str, str]:
        app = self.app
        lang = app.settings["language"]
        now = app.clock()
        context = {
            "org": document_parts.organisation(app.directory),
            "doc": app.drafter.layout("yearly_report", "BC", now),
            "now": now,
            "lang": lang,
            "report": report,
            "note": "",
            "actor": app.drafter.person_card(app.identify().person),
            "workspace_command": "crisisflow",
        }
        parts = app.renderer.render(self.yearly_template, lang, context)
        return parts["body"], parts.get("title", ""), lang

    def after_action(self, ref: str, fmt: str) -> str:
        """The after-action review: timeline, clocks against their legal basis, statements and
        their versions, messages and their delivery, who did what."""
        data = self.app.records.show(ref)
        statements = self.app.statements.list(ref)
        loc = self.app.local
        sections = [
            _timeline(data, loc),
            _clocks(data, loc),
            _statements(data, statements, loc),
            _mail(data, loc),
            _who(data),
            _on_behalf(data, loc),
        ]
        title = _("After-action review {ref}: {title}").format(ref=data["ref"], title=data["title"])
        facts = [
            _("Playbook: {id} v{version}").format(**data["playbook"]),
            _("State: {state}").format(state=data["state"]),
            _("Opened {opened}, closed {closed}").format(
                opened=loc(data["opened_at"]), closed=loc(data["closed_at"])
            ),
        ]
        if fmt == "html":
            return _html(title, facts, sections)
        return _markdown(title, facts, sections)


def _timeline(data: dict[str, Any], loc: Any) -> Section:
    return (
        _("Timeline"),
        [_("#"), _("time"), _("who"), _("what"), _("note")],
        [
            [
                str(e["seq"]),
                loc(e["at"]),
                _who_cell(e),
                f"{e['trigger']}: {e['from']} → {e['to']}" if e["trigger"] else e["kind"],
                e["note"] or "",
            ]
            for e in data["events"]
        ],
    )


def _who_cell(e: dict[str, Any]) -> str:
    """The actor, and who typed the entry in when it was not them."""
    entered = (e["data"] or {}).get("entered_by")
    if not entered:
        return str(e["actor"])
    if (e["data"] or {}).get("on_behalf") is None:
        return _("{person} (entered by {by})").format(person=e["actor"], by=entered)
    return _("{person} (entered by {by} on behalf)").format(person=e["actor"], by=entered)


def _on_behalf(data: dict[str, Any], loc: Any) -> Section:
    """The decisions taken elsewhere (by phone, in a meeting) and entered for the person who
    took them: the review lists each, with the word it was entered on."""
    return (
        _("Decisions entered on behalf"),
        [_("#"), _("time"), _("decided by"), _("entered by"), _("step"), _("how and when")],
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


def _clocks(data: dict[str, Any], loc: Any) -> Section:
    return (
        _("Clocks"),
        [_("clock"), _("status"), _("due"), _("rule"), _("basis")],
        [
            [d["clock"], d["status"], loc(d["due_at"]), d["rule"], d["basis"]]
            for d in data["deadlines"]
        ],
    )


def _statements(data: dict[str, Any], statements: list[dict[str, Any]], loc: Any) -> Section:
    # The two reads are separate transactions: a statement drafted in between has no versions
    # counted here rather than none at all.
    versions = {x["kind"]: len(x["versions"]) for x in data["statements"]}
    return (
        _("Statements"),
        [_("statement"), _("versions"), _("status"), _("updated")],
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


def _mail(data: dict[str, Any], loc: Any) -> Section:
    return (
        _("E-mail"),
        [_("to"), _("subject"), _("status"), _("attempts"), _("sent / last reply")],
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


def _who(data: dict[str, Any]) -> Section:
    who: dict[str, dict[str, int]] = {}
    for e in data["events"]:
        kind = e["kind"]
        if (e["data"] or {}).get("on_behalf") is not None:
            kind = _("{kind} entered on behalf").format(kind=kind)
        who.setdefault(e["actor"], {}).setdefault(kind, 0)
        who[e["actor"]][kind] += 1
    return (
        _("Who did what"),
        [_("who"), _("what")],
        [
            [actor, ", ".join(f"{kind} ×{n}" for kind, n in kinds.items())]
            for actor, kinds in who.items()
        ],
    )


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _markdown(title: str, facts: list[str], sections: list[Any]) -> str:
    lines = [f"# {title}", "", *[f"- {f}" for f in facts]]
    for heading, header, rows in sections:
        lines += ["", f"## {heading}", ""]
        if not rows:
            lines.append(_("(none)"))
            continue
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _html(title: str, facts: list[str], sections: list[Any]) -> str:
    e = html.escape
    parts = [
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{e(title)}</title>'
        "<style>body{font-family:'Times New Roman',serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:2px 6px;vertical-align:top}</style></head>"
        f"<body><h1>{e(title)}</h1><ul>" + "".join(f"<li>{e(f)}</li>" for f in facts) + "</ul>"
    ]
    for heading, header, rows in sections:
        parts.append(f"<h2>{e(heading)}</h2>")
        if not rows:
            parts.append(f"<p>{e(_('(none)'))}</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{e(str(c))}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "\n".join(parts)
