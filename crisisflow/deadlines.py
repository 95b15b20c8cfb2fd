"""Clocks on incidents: started and stopped by the playbook, reminded before they run out,
escalated when they do, acknowledged by the units that own them.

Time is always handed in (``now``), never read here, so tests drive it and a clock behaves the
same on every machine. Each reminder and escalation is keyed and stored once under a unique
constraint: however often ``tick`` runs, and however many workers run it, each is sent once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from . import history, outbox, store_clocks
from .actor import CLOCK
from .clock_status import CANCELLED, MET, MISSED, RUNNING, status_of
from .errors import ConfigError, InvalidInput
from .facts import fact_times
from .i18n import _
from .rules import Pack, measure

if TYPE_CHECKING:
    from .drafting import Drafter
    from .incident_view import IncidentView
    from .playbook import Playbook

IncidentOf = Callable[[Any, int], "IncidentView"]  # (conn, incident id) → the incident
_POINT_RE = re.compile(r"^\s*(\d{1,9})\s*(%|m|h|d)\s*$")
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
            if unit == "%" and not 0 < amount < 100:
                raise ConfigError(
                    _("setting reminders: {part!r}: a share of the clock is 1% to 99%").format(
                        part=part
                    )
                )
            if unit != "%" and amount * _SECONDS[unit] > _LONGEST.total_seconds():
                raise ConfigError(
                    _("setting reminders: {part!r} is longer than any clock (3660d)").format(
                        part=part
                    )
                )
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


# No legal clock runs longer than a few months; ten years bounds every duration typed.
_LONGEST = timedelta(days=3660)


def parse_duration(text: str) -> timedelta:
    match = re.match(r"^\s*(\d{1,9})\s*(m|h|d)\s*$", text)
    span = timedelta(seconds=int(match.group(1)) * _SECONDS[match.group(2)]) if match else None
    if span is None or span > _LONGEST:
        raise InvalidInput(
            _("{text!r} is not a duration such as 90m, 2h or 3d (at most 3660d)").format(text=text)
        )
    return span


class Clocks:
    """Starting, stopping, reminding and escalating one workspace's clocks, inside the
    transactions of the use cases that call it."""

    def __init__(
        self,
        pack: Pack,
        policy: NoticePolicy,
        tz: ZoneInfo,
        language: str,
        local: Callable[[datetime], str],
    ) -> None:
        self.pack = pack
        self.policy = policy
        self.tz = tz
        self.language = language
        self.local = local

    def on_enter(
        self,
        conn: Any,
        incident_id: int,
        playbook: Playbook,
        state: str,
        stamps: dict[str, datetime],
        now: datetime,
        clocks: Sequence[Any] | None = None,
        facts: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Start, re-measure, stop and cancel the incident's clocks for entering ``state``;
        return what changed, for the command's output and its audit event. ``clocks``: the
        incident's clock rows, when the caller read them with the incident; ``facts``: its
        facts, for a clock the state starts only `when` a fact says so."""
        spec = playbook.states[state]
        if clocks is None:
            clocks = store_clocks.deadlines_of(conn, incident_id)
        rows = {r.clock: r for r in clocks}
        moments = {**fact_times(playbook, facts or {}), **stamps}
        changes = [
            change
            for clock in spec.deadlines
            if clock not in rows  # a clock runs once per incident
            and _applies(spec.deadline_when.get(clock), facts or {})
            for change in self._start(conn, incident_id, spec.owner, clock, moments, now)
        ]
        for clock, row in rows.items():
            if row.status != RUNNING:
                continue
            if clock in spec.stop_clocks or spec.final:
                changes.append(self._stop(conn, row, clock in spec.stop_clocks, now))
            else:
                changes += self._remeasure(conn, row, moments)
        return changes

    def close(
        self,
        conn: Any,
        clocks: Sequence[Any],
        closing: Sequence[Any],
        note: str | None,
        now: datetime,
    ) -> tuple[list[dict[str, Any]], list[Any]]:
        """End each running clock a step closes (``closing``: its CloseClock effects) as
        neither met nor missed, for ``note``; return what changed and the clock rows as they
        now stand, for entering the step's state."""
        outcomes = {c.clock: c.outcome for c in closing}
        changes, rows = [], []
        for row in clocks:
            outcome = outcomes.get(row.clock)
            if outcome is None or row.status != RUNNING:
                rows.append(row)
                continue
            values = {
                "status": outcome,
                "stopped_at": now,
                "next_notice_at": None,
                "outcome_note": note,
            }
            store_clocks.update_deadline(conn, row.id, values)
            rows.append(store_clocks.ClockRow({**row._mapping, **values}))
            changes.append({"clock": row.clock, "change": outcome, "rule": row.rule, "note": note})
        return changes, rows

    def on_command(
        self,
        conn: Any,
        incident_id: int,
        clock: str,
        owner: str | None,
        moments: dict[str, datetime],
        now: datetime,
    ) -> list[dict[str, Any]]:
        """Start ``clock`` for a command rather than a state (a written authorisation, which
        must be published): once per incident, and only if the rule pack measures it."""
        if not self.pack.for_clock(clock):
            return []
        if any(r.clock == clock for r in store_clocks.deadlines_of(conn, incident_id)):
            return []
        return self._start(conn, incident_id, owner, clock, moments, now)

    def stop(self, conn: Any, incident_id: int, clock: str, now: datetime) -> list[dict[str, Any]]:
        """Meet (or miss) ``clock`` for a command that does what it measures."""
        return [
            self._stop(conn, row, True, now)
            for row in store_clocks.deadlines_of(conn, incident_id)
            if row.clock == clock and row.status == RUNNING
        ]

    def _start(
        self,
        conn: Any,
        incident_id: int,
        owner: str | None,
        clock: str,
        stamps: dict[str, datetime],
        now: datetime,
    ) -> list[dict[str, Any]]:
        found = measure(self.pack, clock, stamps, now, self.tz)
        if found is None:
            return []  # no rule applies yet: its start is not recorded
        values = {
            "incident_id": incident_id,
            "clock": clock,
            "rule": found.rule.id,
            "title": self._title(found.rule.id),
            "basis": found.rule.basis,
            "owner": owner,
            "entered_at": now,
            "started_at": found.started_at,
            "due_at": found.due_at,
            "status": RUNNING,
        }
        values["next_notice_at"] = self._next_notice(values, set())
        store_clocks.insert_deadline(conn, values)
        due = found.due_at.isoformat()
        return [{"clock": clock, "change": "started", "rule": found.rule.id, "due_at": due}]

    def _stop(self, conn: Any, row: Any, stopped: bool, now: datetime) -> dict[str, Any]:
        """Reaching a state that stops the clock meets or misses it; a final state that does
        not stop it cancels it."""
        status = (MET if now <= row.due_at else MISSED) if stopped else CANCELLED
        store_clocks.update_deadline(
            conn, row.id, {"status": status, "stopped_at": now, "next_notice_at": None}
        )
        return {"clock": row.clock, "change": status, "rule": row.rule}

    def _remeasure(self, conn: Any, row: Any, stamps: dict[str, datetime]) -> list[dict[str, Any]]:
        found = measure(self.pack, row.clock, stamps, row.entered_at, self.tz)
        if found is None or (found.rule.id, found.due_at) == (row.rule, row.due_at):
            return []
        # A newly recorded time brings an earlier due time under another rule.
        values = {
            "rule": found.rule.id,
            "title": self._title(found.rule.id),
            "basis": found.rule.basis,
            "started_at": found.started_at,
            "due_at": found.due_at,
        }
        sent = store_clocks.notice_keys(conn, row.id)
        values["next_notice_at"] = self._next_notice({**row._mapping, **values}, sent)
        store_clocks.update_deadline(conn, row.id, values)
        due = found.due_at.isoformat()
        return [{"clock": row.clock, "change": "measured", "rule": found.rule.id, "due_at": due}]

    def _next_notice(self, values: dict[str, Any], sent: set[str]) -> datetime:
        return notices(_Row(values), sent, self.policy)[0].at

    def notify(
        self, conn: Any, deadline_id: int, now: datetime, incident_of: IncidentOf, drafter: Drafter
    ) -> list[dict[str, Any]]:
        """Queue every reminder and escalation of one clock that is due by ``now``, each once."""
        row = store_clocks.deadline_by_id(conn, deadline_id)
        if row.status != RUNNING:
            return []
        keys = store_clocks.notice_keys(conn, row.id)
        owed = [n for n in notices(row, keys, self.policy) if n.at <= now]
        incident = incident_of(conn, row.incident_id)
        done = []
        for notice in owed:
            store_clocks.insert_notice(
                conn, {"deadline_id": row.id, "key": notice.key, "sent_at": now}
            )
            keys.add(notice.key)
            done.append(self._send(conn, row, notice, incident, drafter, now))
        upcoming = notices(row, keys, self.policy)
        store_clocks.update_deadline(conn, row.id, {"next_notice_at": upcoming[0].at})
        return done

    def _send(
        self,
        conn: Any,
        row: Any,
        notice: Notice,
        incident: IncidentView,
        drafter: Drafter,
        now: datetime,
    ) -> dict[str, Any]:
        roles = _addressees(incident.playbook, row, notice)
        deadline = {
            "rule": row.rule,
            "title": row.title,
            "basis": row.basis,
            "due_at": row.due_at,
            "started_at": row.started_at,
            "status": status_of(row, now),
            "escalation_level": notice.level,
        }
        purpose = "reminder" if notice.kind == "reminder" else "escalation"
        template = incident.playbook.policy.templates.get(purpose)
        if template is None:  # lint requires both; a playbook pinned before it may lack them
            raise ConfigError(
                _(
                    "{ref}: playbook {id} names no {purpose} template; add `templates: "
                    "{purpose}: mail/deadline-{purpose}` to playbooks/{id}.yaml"
                ).format(ref=incident.ref, id=incident.playbook.id, purpose=purpose)
            )
        mails, recipients = [], set[str]()
        for role in roles:  # one message per address, however many of the roles it fills
            for m in drafter.for_role(incident, role, template, {"deadline": deadline}, now):
                if m["recipient"] not in recipients:
                    recipients.add(m["recipient"])
                    mails.append(m)
        history.append(
            conn,
            row.incident_id,
            at=now,
            actor=CLOCK.person,
            kind=notice.kind,
            note=_("{clock}: {kind} to {role}, due {due}").format(
                clock=row.clock, kind=notice.kind, role=", ".join(roles), due=self.local(row.due_at)
            ),
            data={
                "clock": row.clock,
                "rule": row.rule,
                "key": notice.key,
                "due_at": row.due_at.isoformat(),
                "to": [m["recipient"] for m in mails],
                "via": CLOCK.via,
            },
        )
        outbox.queue(conn, mails, row.incident_id, f"{incident.ref}/{row.clock}/{notice.key}", now)
        to = [m["recipient"] for m in mails]
        return {"ref": incident.ref, "clock": row.clock, "notice": notice.key, "to": to}

    def acknowledge(self, conn: Any, rows: list[Any], unit: str, now: datetime) -> None:
        """``unit`` took on these clocks' tasks: no more reminders (escalation still comes)."""
        for d in rows:
            sent = store_clocks.notice_keys(conn, d.id)
            upcoming = notices(_Row({**d._mapping, "acknowledged_at": now}), sent, self.policy)
            store_clocks.update_deadline(
                conn,
                d.id,
                {"acknowledged_at": now, "acknowledged_by": unit, "next_notice_at": upcoming[0].at},
            )

    def _title(self, rule_id: str) -> str:
        rule = self.pack.rules.get(rule_id)
        if rule is None:
            return rule_id
        return rule.title.get(self.language) or rule.title.get("vi") or rule_id


def _applies(when: tuple[str, tuple[str, ...]] | None, facts: Mapping[str, Any]) -> bool:
    if when is None:
        return True
    fact, values = when
    return str(facts.get(fact)) in values


def _addressees(playbook: Playbook, row: Any, notice: Notice) -> tuple[str, ...]:
    """A reminder goes to the roles the playbook's `reminders` names for the clock, else to
    its owner; escalation level n to the n-th role of the playbook's escalation chain (the
    last one again once the chain is used up)."""
    chain = playbook.escalation or ((row.owner,) if row.owner else ())
    if notice.kind == "reminder" or not chain:
        return playbook.reminders.get(row.clock) or (str(row.owner or chain[0]),)
    return (chain[min(notice.level, len(chain)) - 1],)


class _Row:
    """Attribute access over a dict, so notice planning reads rows and new values alike."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.__dict__.setdefault("acknowledged_at", None)
