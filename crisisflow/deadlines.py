"""Clocks on incidents: started and stopped by the playbook, reminded before they run out,
escalated when they do, acknowledged by the units that own them.

Time is always handed in (``now``), never read here, so tests drive it and a clock behaves the
same on every machine. Each reminder and escalation is keyed and stored once under a unique
constraint: however often ``tick`` runs, and however many workers run it, each is sent once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from . import history, store
from .errors import ConfigError, ConflictError, InvalidInput, NotFoundError
from .i18n import _
from .rules import Pack, measure

if TYPE_CHECKING:
    from .app import App
    from .playbook import Playbook

ACTOR = "crisisflow-clock"
RUNNING, MET, MISSED, CANCELLED = "running", "met", "missed", "cancelled"
_POINT_RE = re.compile(r"^\s*(\d+)\s*(%|m|h|d)\s*$")
_SECONDS = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class NoticePolicy:
    """When to remind (fractions of the clock, or time before it runs out) and how often to
    escalate once it has."""

    reminders: tuple[tuple[str, float, bool], ...]  # (label, value, is_fraction)
    escalation_interval: timedelta

    @classmethod
    def parse(cls, reminders: str, interval_hours: float) -> NoticePolicy:
        points = []
        for part in filter(None, (p.strip() for p in reminders.split(","))):
            match = _POINT_RE.match(part)
            if not match:
                raise ConfigError(
                    _("setting reminders: {part!r} is not like 50% or 2h").format(part=part)
                )
            amount, unit = int(match.group(1)), match.group(2)
            if unit == "%":
                points.append((part, amount / 100, True))
            else:
                points.append((part, float(amount * _SECONDS[unit]), False))
        return cls(tuple(points), timedelta(hours=interval_hours))


@dataclass(frozen=True)
class Notice:
    key: str
    at: datetime
    kind: str  # reminder | escalation
    level: int = 0


def notices(row: Any, sent: set[str], policy: NoticePolicy) -> list[Notice]:
    """The notices a running clock still owes, in time order: its reminders (unless its owner
    acknowledged it) and the next escalation level."""
    owed = []
    span = row.due_at - row.started_at
    if row.acknowledged_at is None:
        for label, value, fraction in policy.reminders:
            at = (
                row.started_at + span * value if fraction else row.due_at - timedelta(seconds=value)
            )
            if row.started_at < at < row.due_at and f"remind:{label}" not in sent:
                owed.append(Notice(f"remind:{label}", at, "reminder"))
    level = 1 + sum(1 for key in sent if key.startswith("escalate:"))
    at = row.due_at + policy.escalation_interval * (level - 1)
    owed.append(Notice(f"escalate:{level}", at, "escalation", level))
    return sorted(owed, key=lambda n: n.at)


def status_of(row: Any, now: datetime) -> str:
    """running, overdue, met, missed or cancelled."""
    if row.status == RUNNING and now > row.due_at:
        return "overdue"
    return str(row.status)


def parse_duration(text: str) -> timedelta:
    match = re.match(r"^\s*(\d+)\s*(m|h|d)\s*$", text)
    if not match:
        raise InvalidInput(_("{text!r} is not a duration such as 90m, 2h or 3d").format(text=text))
    return timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)])


class Deadlines:
    """The clock use cases of one workspace (``app.deadlines``)."""

    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def pack(self) -> Pack:
        return self.app.rule_pack

    @cached_property
    def policy(self) -> NoticePolicy:
        s = self.app.settings
        return NoticePolicy.parse(s["reminders"], s["escalation_interval_hours"])

    # --- inside a command's transaction ----------------------------------------------------

    def on_enter(
        self,
        conn: Any,
        incident_id: int,
        playbook: Playbook,
        state: str,
        stamps: dict[str, datetime],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Start, re-measure, stop and cancel the incident's clocks for entering ``state``;
        return what changed, for the command's output and its audit event."""
        spec = playbook.states[state]
        rows = {r.clock: r for r in store.deadlines_of(conn, incident_id)}
        tz, changes = self.app.tz, []
        for clock in spec.deadlines:
            if clock in rows:
                continue  # a clock runs once per incident
            found = measure(self.pack, clock, stamps, now, tz)
            if found is None:
                continue  # no rule applies yet: its start is not recorded
            values = {
                "incident_id": incident_id,
                "clock": clock,
                "rule": found.rule.id,
                "title": self._title(found.rule.id),
                "basis": found.rule.basis,
                "owner": spec.owner,
                "entered_at": now,
                "started_at": found.started_at,
                "due_at": found.due_at,
                "status": RUNNING,
            }
            values["next_notice_at"] = self._next_notice(values, set())
            store.insert_deadline(conn, values)
            changes.append(
                {
                    "clock": clock,
                    "change": "started",
                    "rule": found.rule.id,
                    "due_at": found.due_at.isoformat(),
                }
            )
        for clock, row in rows.items():
            if row.status != RUNNING:
                continue
            if clock in spec.stop_clocks or spec.final:
                status = (
                    CANCELLED
                    if clock not in spec.stop_clocks
                    else (MET if now <= row.due_at else MISSED)
                )
                store.update_deadline(
                    conn, row.id, {"status": status, "stopped_at": now, "next_notice_at": None}
                )
                changes.append({"clock": clock, "change": status, "rule": row.rule})
                continue
            found = measure(self.pack, clock, stamps, row.entered_at, tz)
            if found is not None and (found.rule.id, found.due_at) != (row.rule, row.due_at):
                # A newly recorded time brings an earlier due time under another rule.
                values = {
                    "rule": found.rule.id,
                    "title": self._title(found.rule.id),
                    "basis": found.rule.basis,
                    "started_at": found.started_at,
                    "due_at": found.due_at,
                }
                sent = store.notice_keys(conn, row.id)
                values["next_notice_at"] = self._next_notice({**row._mapping, **values}, sent)
                store.update_deadline(conn, row.id, values)
                changes.append(
                    {
                        "clock": clock,
                        "change": "measured",
                        "rule": found.rule.id,
                        "due_at": found.due_at.isoformat(),
                    }
                )
        return changes

    def _next_notice(self, values: dict[str, Any], sent: set[str]) -> datetime:
        row = _Row(values)
        return notices(row, sent, self.policy)[0].at

    # --- the clock's own work --------------------------------------------------------------

    def tick(self, limit: int = 500) -> list[dict[str, Any]]:
        """Send every reminder and escalation that is due, once; safe to run any number of
        times and from several workers at once."""
        app = self.app
        now = app.clock()
        with app.store.reading() as conn:
            due_ids = store.deadlines_due(conn, now, limit)
        sent: list[dict[str, Any]] = []
        for deadline_id in due_ids:
            try:
                with app.store.writing() as conn:
                    sent += self._notify(conn, deadline_id, now)
            except ConflictError:
                continue  # another worker sent these first
        return sent

    def _notify(self, conn: Any, deadline_id: int, now: datetime) -> list[dict[str, Any]]:
        app = self.app
        row = store.deadline_by_id(conn, deadline_id)
        if row.status != RUNNING:
            return []
        keys = store.notice_keys(conn, row.id)
        owed = [n for n in notices(row, keys, self.policy) if n.at <= now]
        incident_row = store.incident_by_id(conn, row.incident_id)
        incident = app.view(conn, incident_row)
        playbook = incident.playbook
        done = []
        for notice in owed:
            store.insert_notice(conn, {"deadline_id": row.id, "key": notice.key, "sent_at": now})
            keys.add(notice.key)
            role = self._addressee(playbook, row, notice)
            deadline = {
                "rule": row.rule,
                "title": row.title,
                "basis": row.basis,
                "due_at": row.due_at,
                "started_at": row.started_at,
                "status": status_of(row, now),
                "escalation_level": notice.level,
            }
            template = (
                "mail/deadline-reminder"
                if notice.kind == "reminder"
                else ("mail/deadline-escalation")
            )
            mails = app.compose_for_role(incident, role, template, {"deadline": deadline}, now)
            history.append(
                conn,
                row.incident_id,
                at=now,
                actor=ACTOR,
                kind=notice.kind,
                note=_("{clock}: {kind} to {role}, due {due}").format(
                    clock=row.clock, kind=notice.kind, role=role, due=app.local(row.due_at)
                ),
                data={
                    "clock": row.clock,
                    "rule": row.rule,
                    "key": notice.key,
                    "due_at": row.due_at.isoformat(),
                    "to": [m["recipient"] for m in mails],
                },
            )
            app.queue_mails(
                conn, row.incident_id, mails, f"{incident.ref}/{row.clock}/{notice.key}", now
            )
            done.append(
                {
                    "ref": incident.ref,
                    "clock": row.clock,
                    "notice": notice.key,
                    "to": [m["recipient"] for m in mails],
                }
            )
        upcoming = notices(row, keys, self.policy)
        store.update_deadline(conn, row.id, {"next_notice_at": upcoming[0].at})
        return done

    @staticmethod
    def _addressee(playbook: Playbook, row: Any, notice: Notice) -> str:
        """A reminder goes to the clock's owner; escalation level n to the n-th role of the
        playbook's escalation chain (the last one again once the chain is used up)."""
        chain = playbook.escalation or (row.owner or "coordinator",)
        if notice.kind == "reminder":
            return str(row.owner or chain[0])
        return chain[min(notice.level, len(chain)) - 1]

    def _title(self, rule_id: str) -> str:
        rule = self.pack.rules.get(rule_id)
        if rule is None:
            return rule_id
        lang = self.app.settings["language"]
        return rule.title.get(lang) or rule.title.get("vi") or rule_id

    # --- the duty officer's commands -------------------------------------------------------

    def ack(self, ref: str, unit: str, *, actor: str | None = None) -> list[str]:
        """Record that ``unit`` took on its tasks in incident ``ref``: its running clocks get
        no more reminders (escalation, if one runs out, still happens)."""
        app = self.app
        who = app.actor_id(actor)
        if unit not in app.directory.units and unit not in app.directory.people:
            raise NotFoundError(
                _("unknown unit {unit!r}; known: {known}").format(
                    unit=unit, known=", ".join(sorted(app.directory.units))
                )
            )
        now = app.clock()
        with app.store.reading() as conn:
            row = app.incident_row(conn, ref)
            incident = app.view(conn, row)
            owned = [
                d
                for d in store.deadlines_of(conn, row.id)
                if d.status == RUNNING
                and d.acknowledged_at is None
                and d.owner
                and unit in {r.id for r in app.drafter.recipients(d.owner, incident)}
            ]
        if not owned:
            raise InvalidInput(
                _("{ref}: {unit} owns no running task that awaits acknowledgement").format(
                    ref=row.ref, unit=unit
                )
            )
        event = history.next_event(
            row,
            at=now,
            actor=who,
            kind="acknowledged",
            note=_("{unit} acknowledged").format(unit=unit),
            data={"unit": unit, "clocks": [d.clock for d in owned]},
        )
        with app.store.writing() as conn:
            app.commit_event(conn, row, event)
            for d in owned:
                upcoming = notices(
                    _Row({**d._mapping, "acknowledged_at": now}),
                    store.notice_keys(conn, d.id),
                    self.policy,
                )
                store.update_deadline(
                    conn,
                    d.id,
                    {
                        "acknowledged_at": now,
                        "acknowledged_by": unit,
                        "next_notice_at": upcoming[0].at,
                    },
                )
        return [d.clock for d in owned]

    def view(self, rows: list[Any], now: datetime) -> list[dict[str, Any]]:
        """The clocks as `show --json` gives them."""
        return [
            {
                "clock": d.clock,
                "rule": d.rule,
                "title": d.title,
                "basis": d.basis,
                "owner": d.owner,
                "started_at": d.started_at.isoformat(),
                "due_at": d.due_at.isoformat(),
                "status": status_of(d, now),
                "stopped_at": d.stopped_at.isoformat() if d.stopped_at else None,
                "seconds_left": int((d.due_at - now).total_seconds())
                if d.status == RUNNING
                else None,
                "acknowledged_by": d.acknowledged_by,
            }
            for d in rows
        ]


class _Row:
    """Attribute access over a dict, so notice planning reads rows and new values alike."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__.setdefault("acknowledged_at", None)
