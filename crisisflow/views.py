"""How things read on a terminal: plain functions from data to text, no I/O."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .i18n import _

if TYPE_CHECKING:
    from email.message import EmailMessage

    from .app.incidents import Outcome
    from .dispatch import Report
    from .mailbox import Stored
    from .playbook import Playbook, Step


def _step(step: Step) -> str:
    arg = step.arg
    if step.kind == "notify":
        return _("e-mail {roles} ({template})").format(
            roles=", ".join(arg["to"]), template=arg["template"]
        )
    if step.kind == "draft":
        return _("draft {kind} ({template})").format(kind=arg["kind"], template=arg["template"])
    if isinstance(arg, tuple | list):
        arg = ", ".join(map(str, arg))
    elif isinstance(arg, dict):
        arg = ", ".join(f"{k}={v}" for k, v in arg.items())
    return f"{step.kind} {arg}"


def _requires(requires: list[str] | tuple[str, ...]) -> str:
    return " ".join("--note TEXT" if r == "note" else f"--set {r}=…" for r in requires)


def playbook_text(pb: Playbook, lang: str) -> str:
    lines = [
        f"{pb.id} v{pb.version} — {pb.title.get_lang(lang)}",
        _("reference: {prefix}-YYYY-NNNN   initial state: {initial}").format(
            prefix=pb.reference_prefix, initial=pb.initial
        ),
        "",
        _("States:"),
    ]
    for state in pb.states.values():
        owner = _("owner {role}").format(role=state.owner) if state.owner else ""
        final = _("final") if state.final else ""
        lines.append(
            f"  {state.name:<24} {state.title.get_lang(lang)}  "
            + "  ".join(filter(None, [owner, final]))
        )
        lines += [f"      ↳ {_step(step)}" for step in state.on_enter]
    lines += ["", _("Transitions:")]
    for t in pb.transitions:
        lines.append(
            f"  {t.trigger:<20} {', '.join(t.sources)} → {t.dest}   {t.title.get_lang(lang)}"
        )
        if t.requires:
            lines.append("      " + _("needs: {inputs}").format(inputs=_requires(t.requires)))
        lines += ["      " + _("guard: {guard}").format(guard=_step(g)) for g in t.guards]
        lines += [f"      ↳ {_step(a)}" for a in t.actions]
    return "\n".join(lines)


def mermaid(pb: Playbook, lang: str) -> str:
    """A Mermaid state diagram (paste into any Markdown renderer that knows Mermaid)."""
    lines = ["stateDiagram-v2", f"    [*] --> {pb.initial}"]
    for state in pb.states.values():
        title = state.title.get_lang(lang).replace(":", " ").replace('"', "'")
        lines.append(f"    {state.name} : {title}")
    for t in pb.transitions:
        for source in t.sources:
            lines.append(f"    {source} --> {t.dest} : {t.trigger}")
    lines += [f"    {s.name} --> [*]" for s in pb.states.values() if s.final]
    return "\n".join(lines)


def playbook_data(pb: Playbook) -> dict[str, Any]:
    def step(s: Step) -> dict[str, Any]:
        arg = list(s.arg) if isinstance(s.arg, tuple) else s.arg
        if isinstance(arg, dict):
            arg = {k: list(v) if isinstance(v, tuple) else v for k, v in arg.items()}
        return {s.kind: arg}

    return {
        "id": pb.id,
        "version": pb.version,
        "hash": pb.source_hash,
        "title": dict(pb.title),
        "reference_prefix": pb.reference_prefix,
        "initial": pb.initial,
        "roles": {k: dict(v) for k, v in pb.roles.items()},
        "facts": {
            k: {
                "type": f.type,
                "required": f.required,
                "default": f.default,
                "choices": list(f.choices),
                "label": dict(f.label),
            }
            for k, f in pb.facts.items()
        },
        "states": {
            s.name: {
                "title": dict(s.title),
                "owner": s.owner,
                "final": s.final,
                "on_enter": [step(a) for a in s.on_enter],
            }
            for s in pb.states.values()
        },
        "transitions": [
            {
                "trigger": t.trigger,
                "source": list(t.sources),
                "dest": t.dest,
                "title": dict(t.title),
                "requires": list(t.requires),
                "guards": [step(g) for g in t.guards],
                "actions": [step(a) for a in t.actions],
            }
            for t in pb.transitions
        ],
    }


def outcome_data(outcome: Outcome) -> dict[str, Any]:
    data = asdict(outcome)
    data["from"] = data.pop("from_state")
    data["to"] = data.pop("to_state")
    return data


def outcome_text(
    outcome: Outcome, lang: str, preview: int = 0, local: Callable[[Any], str] = str
) -> str:
    """What a command did; ``preview`` lines of each new draft are shown under it."""
    if outcome.from_state is None:
        lines = [_("{ref} opened in state {state}").format(ref=outcome.ref, state=outcome.to_state)]
    else:
        lines = [f"{outcome.ref}: {outcome.from_state} → {outcome.to_state}"]
    for d in outcome.drafted:
        lines.append("  " + _("drafted {kind} v{number}: {title}").format(**d))
        if preview:
            lines += ["    │ " + line for line in d["text"].splitlines()[:preview]] + ["    │ …"]
    for step in outcome.statement_steps:
        lines.append(
            "  "
            + _("{kind} v{version}: {action} (sha256 {hash}…)").format(
                kind=step["kind"],
                version=step["version"],
                action=step["action"],
                hash=step["sha256"][:12],
            )
        )
        if step.get("press"):
            lines.append("    " + _("sent to: {to}").format(to=", ".join(step["press"])))
    for c in outcome.clocks:
        due = _(", due {due}").format(due=local(c["due_at"])) if c.get("due_at") else ""
        lines.append(
            "  "
            + _("clock {clock}: {change} ({rule}{due})").format(
                clock=c["clock"], change=c["change"], rule=c["rule"], due=due
            )
        )
    for q in outcome.queued:
        lines.append("  " + _("queued e-mail to {name} <{to}>: {subject}").format(**q))
    lines.append(_next_text(outcome.next, lang))
    return "\n".join(lines)


def _next_text(allowed: list[dict[str, Any]], lang: str) -> str:
    if not allowed:
        return _("Next: nothing, the incident is in a final state.")
    lines = [_("Next:")]
    for t in allowed:
        title = t["title"].get(lang) or t["title"].get("vi", "")
        needs = _requires(t["requires"])
        lines.append(
            f"  {t['trigger']:<20} → {t['dest']:<22} {title}" + (f"  [{needs}]" if needs else "")
        )
    return "\n".join(lines)


def incident_text(data: dict[str, Any], lang: str, local: Callable[[Any], str]) -> str:
    title = data["state_title"].get(lang) or data["state_title"].get("vi", "")
    owner = data["owner"] or "-"
    lines = [
        f"{data['ref']}  {data['title']}",
        _("Playbook: {title} ({id} v{version})").format(
            title=data["playbook"]["title"].get(lang) or data["playbook"]["title"].get("vi"),
            id=data["playbook"]["id"],
            version=data["playbook"]["version"],
        ),
        _("State:    {state} — {title} (owner: {owner})").format(
            state=data["state"], title=title, owner=owner
        ),
        _("Opened:   {opened}   updated: {updated}").format(
            opened=local(data["opened_at"]), updated=local(data["updated_at"])
        ),
    ]
    if data["facts"]:
        lines.append(_("Facts:"))
        lines += [f"  {k}: {v}" for k, v in data["facts"].items()]
    if data["timestamps"]:
        lines.append(_("Times:"))
        lines += [f"  {k}: {local(v)}" for k, v in data["timestamps"].items()]
    lines += _clock_lines(data["deadlines"], local)
    lines.append(_next_text(data["allowed"], lang))
    lines += _history_lines(data["events"], local)
    if data["statements"]:
        lines.append(_("Statements:"))
        for s in data["statements"]:
            last, kind = s["versions"][-1], s["kind"]
            if s.get("series", 1) > 1:
                kind = f"{kind} #{s['series']}"
            lines.append(
                f"  {kind:<20} v{last['number']}  {local(last['created_at'])}  {last['title']}"
            )
    if data["undeliverable"]:
        lines.append(
            _(
                "WARNING: {n} e-mail(s) could not be delivered; see `crisisflow outbox "
                "--incident {ref}`"
            ).format(n=data["undeliverable"], ref=data["ref"])
        )
    if data["messages"]:
        lines.append(_("E-mails:"))
        for msg in data["messages"]:
            lines.append(f"  #{msg['id']:<5} {msg['status']:<8} {msg['to']:<34} {msg['subject']}")
    return "\n".join(lines)


def _clock_lines(clocks: list[dict[str, Any]], local: Callable[[Any], str]) -> list[str]:
    if not clocks:
        return []
    lines = [_("Clocks:")]
    for d in clocks:
        left = ""
        if d["seconds_left"] is not None:
            hours, minutes = divmod(abs(d["seconds_left"]) // 60, 60)
            span = f"{hours}h{minutes:02d}"
            left = (_("{span} left") if d["seconds_left"] >= 0 else _("{span} OVERDUE")).format(
                span=span
            )
        lines.append(
            f"  {d['clock']:<18} {d['status']:<9} "
            + _("due {due}").format(due=local(d["due_at"]))
            + f"  {left}"
        )
        lines.append("      " + f"{d['title']} — {d['basis']}")
        if d.get("outcome_note"):  # not required, handed over: for what reason
            lines.append("      " + _("why: {note}").format(note=d["outcome_note"]))
    return lines


def entered_text(person: str, data: dict[str, Any]) -> str:
    """Who typed an entry in for ``person`` and, entered on behalf, on what word; empty for
    an entry ``person`` made themselves."""
    by = data.get("entered_by")
    if not by:
        return ""
    if data.get("on_behalf") is None:
        return _("entered by {by}").format(by=by)
    return _("entered by {by} on behalf of {person}: {note}").format(
        by=by, person=person, note=data["on_behalf"]
    )


def _history_lines(events: list[dict[str, Any]], local: Callable[[Any], str]) -> list[str]:
    lines = [_("History:")]
    for e in events:
        what = e["kind"]
        if e["trigger"]:
            what = f"{e['trigger']}: {e['from']} → {e['to']}"
        elif e["kind"] == "opened":
            what = _("opened → {state}").format(state=e["to"])
        data = e["data"] or {}
        said = e["note"]
        if said and " ".join(said.split()) == data.get("on_behalf"):
            said = None  # the on-behalf note, shown on the line below
        note = f"  «{' ⏎ '.join(said.splitlines())}»" if said else ""
        lines.append(f"  {e['seq']:>3}  {local(e['at'])}  {e['actor']:<16} {what}{note}")
        entered = entered_text(e["actor"], data)
        if entered:
            lines.append(" " * 25 + f"↳ {entered}")
    return lines


def entries_text(results: list[dict[str, Any]], local: Callable[[Any], str]) -> list[str]:
    """The entries `audit verify` found typed in for another person, one line each."""
    lines = []
    for r in results:
        for x in r["entered"]:
            step = f"{x['step']} {x['statement']}" if x["statement"] else x["step"]
            lines.append(
                _("{ref} event {seq}, {at}, {person}, {step}: {entered}").format(
                    ref=r["ref"],
                    seq=x["seq"],
                    at=local(x["at"]),
                    person=x["person"],
                    step=step,
                    entered=entered_text(x["person"], x),
                )
            )
    return lines


def report_data(report: Report) -> dict[str, Any]:
    return {
        "sent": report.sent,
        "retry": report.retried,
        "dead": report.dead,
        "released": report.released,
    }


def report_text(report: Report) -> str:
    lines = [
        _("sent {sent}, to retry later {retry}, undeliverable {dead}").format(
            sent=report.sent, retry=report.retried, dead=len(report.dead)
        )
    ]
    for dead in report.dead:
        lines.append("  " + _("UNDELIVERABLE #{id} to {to}: {reply}").format(**dead))
    if report.dead:
        lines.append(_("Fix the address or the cause, then `crisisflow outbox retry ID`."))
    return "\n".join(lines)


def outbox_text(rows: list[dict[str, Any]], local: Callable[[Any], str]) -> str:
    if not rows:
        return _("No messages.")
    lines = []
    for r in rows:
        when = local(r["sent_at"] or r["next_attempt_at"])
        lines.append(
            f"#{r['id']:<6} {r['status']:<8} {r['attempts']:>2}× {when}  "
            f"{r['incident'] or '-':<14} {r['to']:<32} {r['subject']}"
        )
        if r["status"] != "sent" and r["last_reply"]:
            lines.append("        " + _("last reply: {reply}").format(reply=r["last_reply"]))
    return "\n".join(lines)


def stored_data(stored: Stored) -> dict[str, Any]:
    data = asdict(stored)
    data["received_at"] = stored.received_at.isoformat()
    return data


def mailbox_text(received: list[Stored], local: Callable[[Any], str]) -> str:
    if not received:
        return _("The mailbox is empty.")
    return "\n".join(
        f"{n:>4}  {local(s.received_at)}  {s.to:<32} {s.subject}" for n, s in enumerate(received, 1)
    )


def message_text(msg: EmailMessage) -> str:
    lines = [
        f"{name}: {msg[name]}"
        for name in ("From", "To", "Subject", "Date", "Message-ID")
        if msg[name]
    ]
    body = msg.get_body(("plain",))
    lines += ["", body.get_content() if body is not None else ""]
    attachments = [a.get_filename() or a.get_content_type() for a in msg.iter_attachments()]
    if attachments:
        lines.append(_("Attachments: {names}").format(names=", ".join(attachments)))
    return "\n".join(lines)


def statement_text(data: dict[str, Any]) -> str:
    head = _("{ref} {kind} v{version} of {latest} — {status}").format(**data)
    lines = [
        head,
        _("sha256 {hash} · by {author} · {at}").format(
            hash=data["sha256"], author=data["author"], at=data["created_at"]
        ),
    ]
    if data["corrects"]:
        lines.append(_("corrects: {kind}").format(kind=data["corrects"]))
    lines += ["", data["text"].rstrip("\n"), ""]
    for a in data["actions"]:
        extra = " ".join(filter(None, [a["channel"], a["url"], a["reason"]]))
        lines.append(f"  {a['at']}  v{a['version']}  {a['action']:<10} {a['actor']}  {extra}")
    return "\n".join(lines)
