"""Reports: the after-action review of one incident, and the yearly spokesperson report
(Decree 244/2026/NĐ-CP, Art. 10) counted from the record.

The yearly counts are defined on what the engine records, so any playbook contributes:

- incidents: incidents opened in the window; incidents_with_statement: those that published
  at least one statement;
- incidents_under_24h_rule: incidents whose `initial_info` clock started in the window and was
  not cancelled (a matter dismissed needs no statement); statements_on_time: those met;
- press_conferences, briefings: statements published on those channels;
- press_requests: written answers or refusals drafted (each answers a request); replies: those
  published;
- untrue_items: incidents with a correction request or a rumour rebuttal drafted (an untrue
  item found); correction_requests: correction requests published.
"""

from __future__ import annotations

import html
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from . import models as m
from .errors import InvalidInput
from .i18n import _

if TYPE_CHECKING:
    from .app import App

LEGAL_CLOCK = "initial_info"
ANSWER_KINDS = ("press_answer", "refusal")
UNTRUE_KINDS = ("correction_request", "rumour_rebuttal")


def yearly_window(year: int, app: App) -> tuple[datetime, datetime]:
    """15 December of the year before to the end of 14 December, workspace time."""
    start = datetime.combine(datetime(year - 1, 12, 15).date(), time(0), app.tz)
    end = datetime.combine(datetime(year, 12, 15).date(), time(0), app.tz)
    return start, end


def yearly_counts(app: App, year: int) -> dict[str, Any]:
    if not 2000 <= year <= 2100:
        raise InvalidInput(_("--year {year}: give a year such as 2026").format(year=year))
    start, end = yearly_window(year, app)
    inc, st, sv, act, dl = (
        m.incidents,
        m.statements,
        m.statement_versions,
        m.statement_actions,
        m.deadlines,
    )

    def count(query: Any) -> int:
        return int(conn.execute(query).scalar() or 0)

    opened = sa.and_(inc.c.opened_at >= start, inc.c.opened_at < end)
    published = sa.and_(act.c.action == "published", act.c.at >= start, act.c.at < end)
    with app.store.reading() as conn:
        counts = {
            "incidents": count(sa.select(sa.func.count()).select_from(inc).where(opened)),
            "incidents_with_statement": count(
                sa.select(sa.func.count(sa.distinct(inc.c.id)))
                .select_from(
                    inc.join(st, st.c.incident_id == inc.c.id).join(
                        act, act.c.statement_id == st.c.id
                    )
                )
                .where(opened, act.c.action == "published")
            ),
            "incidents_under_24h_rule": count(
                sa.select(sa.func.count())
                .select_from(dl)
                .where(
                    dl.c.clock == LEGAL_CLOCK,
                    dl.c.started_at >= start,
                    dl.c.started_at < end,
                    dl.c.status != "cancelled",
                )
            ),
            "statements_on_time": count(
                sa.select(sa.func.count())
                .select_from(dl)
                .where(
                    dl.c.clock == LEGAL_CLOCK,
                    dl.c.started_at >= start,
                    dl.c.started_at < end,
                    dl.c.status == "met",
                )
            ),
            "press_conferences": count(
                sa.select(sa.func.count())
                .select_from(act)
                .where(published, act.c.channel == "press_conference")
            ),
            "briefings": count(
                sa.select(sa.func.count())
                .select_from(act)
                .where(published, act.c.channel == "briefing")
            ),
            "press_requests": count(
                sa.select(sa.func.count())
                .select_from(st.join(sv, sv.c.statement_id == st.c.id))
                .where(
                    st.c.kind.in_(ANSWER_KINDS),
                    sv.c.number == 1,
                    sv.c.created_at >= start,
                    sv.c.created_at < end,
                )
            ),
            "replies": count(
                sa.select(sa.func.count())
                .select_from(st.join(act, act.c.statement_id == st.c.id))
                .where(st.c.kind.in_(ANSWER_KINDS), published)
            ),
            "untrue_items": count(
                sa.select(sa.func.count(sa.distinct(st.c.incident_id)))
                .select_from(st)
                .where(st.c.kind.in_(UNTRUE_KINDS), st.c.created_at >= start, st.c.created_at < end)
            ),
            "correction_requests": count(
                sa.select(sa.func.count())
                .select_from(st.join(act, act.c.statement_id == st.c.id))
                .where(st.c.kind == "correction_request", published)
            ),
        }
    return {
        "year": year,
        "window_start": start,
        "window_end": end - timedelta(seconds=1),
        "counts": counts,
    }


def yearly(app: App, year: int, fmt: str) -> str:
    """The yearly report: counts as JSON, or the administrative document in md or html."""
    import json

    report = yearly_counts(app, year)
    if fmt == "json":
        return json.dumps(
            {
                **report,
                "window_start": report["window_start"].isoformat(),
                "window_end": report["window_end"].isoformat(),
            },
            ensure_ascii=False,
            indent=2,
        )
    lang = app.settings["language"]
    context = {
        "org": dict(app.directory.organisation),
        "now": app.clock(),
        "lang": lang,
        "report": report,
        "note": "",
        "actor": app.person_card(app.actor_id(None)),
        "workspace_command": "crisisflow",
    }
    parts = app.renderer.render("statements/yearly-report", lang, context)
    text: str = parts["body"]
    if fmt == "html":
        from .export import export

        page: bytes = export(text, "html", title=parts.get("title", ""), lang=lang)
        return page.decode("utf-8")
    return text


def after_action(app: App, ref: str, fmt: str) -> str:
    """The after-action review: timeline, clocks against their legal basis, statements and
    their versions, messages and their delivery, who did what."""
    data = app.show(ref)
    statements = app.statements.list(ref)
    loc = app.local
    sections: list[tuple[str, list[str], list[list[str]]]] = []
    sections.append(
        (
            _("Timeline"),
            [_("#"), _("time"), _("who"), _("what"), _("note")],
            [
                [
                    str(e["seq"]),
                    loc(e["at"]),
                    e["actor"],
                    f"{e['trigger']}: {e['from']} → {e['to']}" if e["trigger"] else e["kind"],
                    e["note"] or "",
                ]
                for e in data["events"]
            ],
        )
    )
    sections.append(
        (
            _("Clocks"),
            [_("clock"), _("status"), _("due"), _("rule"), _("basis")],
            [
                [d["clock"], d["status"], loc(d["due_at"]), d["rule"], d["basis"]]
                for d in data["deadlines"]
            ],
        )
    )
    sections.append(
        (
            _("Statements"),
            [_("statement"), _("versions"), _("status"), _("updated")],
            [
                [
                    s["kind"],
                    str(
                        len(
                            next(
                                x["versions"] for x in data["statements"] if x["kind"] == s["kind"]
                            )
                        )
                    ),
                    s["status"],
                    loc(s["updated_at"]),
                ]
                for s in statements
            ],
        )
    )
    sections.append(
        (
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
    )
    who: dict[str, dict[str, int]] = {}
    for e in data["events"]:
        who.setdefault(e["actor"], {}).setdefault(e["kind"], 0)
        who[e["actor"]][e["kind"]] += 1
    sections.append(
        (
            _("Who did what"),
            [_("who"), _("what")],
            [
                [actor, ", ".join(f"{kind} ×{n}" for kind, n in kinds.items())]
                for actor, kinds in who.items()
            ],
        )
    )
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
