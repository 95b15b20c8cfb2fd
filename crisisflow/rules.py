"""Legal deadlines as data: rule packs, the working-day calendar, and due-time arithmetic.

A rule has an id, the clock it measures (several rules may measure one clock: the earliest due
time wins), a duration in hours, calendar days or working days, the named incident timestamp
its clock starts at, its legal basis and the dates it is in force. The rule in force on the day
its clock starts applies, so incidents before and after a change of law are each measured by
their own law. Nothing here knows Vietnam: the shipped rule pack does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .i18n import _

DURATION_RE = re.compile(r"^\s*(\d+)\s*(h|d|wd)\s*$")
ENTERED = "entered"  # a clock that starts when its state is entered


@dataclass(frozen=True)
class Rule:
    id: str
    clock: str
    title: dict[str, str]
    amount: int
    unit: str  # h | d | wd
    starts_at: str
    basis: str
    valid_from: date | None
    valid_until: date | None
    where: str = ""  # FILE:LINE of its definition, for what a check says of it
    # A backward clock: due its duration before this named time (a press conference's start,
    # whose notice is owed 24 h ahead), counted from when its state is entered.
    due_before: str | None = None

    def in_force(self, day: date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_until is None or day <= self.valid_until
        )


@dataclass
class Calendar:
    """Working days: the country's public holidays and weekend make-up days from the
    ``holidays`` package, plus the days off and working Saturdays the government announces."""

    country: str = "VN"
    days_off: frozenset[date] = frozenset()
    working_days: frozenset[date] = frozenset()
    _years: dict[int, Any] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        if day in self.working_days:
            return True
        if day in self.days_off:
            return False
        official = self._years.get(day.year)
        if official is None:
            import holidays  # only working-day rules need it

            official = self._years[day.year] = holidays.country_holidays(
                self.country, years=day.year
            )
        return bool(official.is_working_day(day))


@dataclass(frozen=True)
class YearlyReport:
    """What the yearly spokesperson report counts, in the pack's own names."""

    template: str = ""  # the document it is written as
    legal_clock: str = ""  # the clock of the 24 h rule: on time = met
    incident_playbooks: tuple[str, ...] = ()  # whose incidents are the ad-hoc ones
    dismissed_states: tuple[str, ...] = ()  # false alarms: no incident to report
    request_playbooks: tuple[str, ...] = ()  # whose incidents are the press's requests
    reply_stamp: str = ""  # ... answered (or refused) when this time is recorded
    event_playbooks: tuple[str, ...] = ()  # whose incidents are conferences and briefings
    event_fact: str = ""  # the fact saying which of the two
    conference_events: tuple[str, ...] = ()
    briefing_events: tuple[str, ...] = ()
    held_stamp: str = ""  # ... held when this time is recorded
    untrue_kinds: tuple[str, ...] = ()  # statements that say an item was untrue
    press_sources: tuple[str, ...] = ()  # FACT=VALUE: the item came from the press
    correction_request_kinds: tuple[str, ...] = ()
    basis: tuple[str, ...] = ()  # "YYYY-MM-DD: text": the decree in force from that day

    def basis_for(self, day: date) -> str:
        """The legal basis in force on ``day``: the latest of ``basis`` that began by then."""
        found = ""
        for entry in sorted(self.basis):
            since, _sep, text = entry.partition(": ")
            if date.fromisoformat(since) <= day:
                found = text
        return found


_REPORT_KEYS = tuple(YearlyReport.__dataclass_fields__)
_SINGLE = ("template", "legal_clock", "reply_stamp", "event_fact", "held_stamp")


@dataclass(frozen=True)
class Limit:
    """How many times the law lets something happen in one matter (the rounds of feedback
    between an agency and a press agency)."""

    id: str
    most: int
    title: dict[str, str]
    basis: str


@dataclass(frozen=True)
class Duty:
    """Something the law asks of the office every year, by a day of the year (the yearly
    spokesperson report before 20 December), reminded like a clock."""

    id: str
    title: dict[str, str]
    month: int
    day: int
    basis: str
    owner: str  # the role that does it, reminded
    remind: tuple[timedelta, ...]  # how long before the due time each reminder goes

    def due_in(self, year: int, tz: ZoneInfo) -> datetime:
        """When it is due in ``year``: the end of office hours (17:00) of its day."""
        return datetime(year, self.month, self.day, 17, 0, tzinfo=tz)


@dataclass(frozen=True)
class Pack:
    rules: dict[str, Rule]
    calendar: Calendar
    yearly_report: YearlyReport = YearlyReport()
    limits: dict[str, Limit] = field(default_factory=dict)
    duties: dict[str, Duty] = field(default_factory=dict)

    def knows(self, name: str) -> bool:
        """Whether a playbook may name ``name``: a clock some rule measures, or a limit."""
        return name in self.limits or any(r.clock == name for r in self.rules.values())

    def for_clock(self, clock: str) -> list[Rule]:
        return [r for r in self.rules.values() if r.clock == clock]


def due_at(rule: Rule, start: datetime, calendar: Calendar, tz: ZoneInfo) -> datetime:
    """When a clock started at ``start`` runs out under ``rule``.

    Hours and calendar days count straight through; working days count whole days in the
    workspace time zone, skipping days off, and end at the same time of day."""
    if rule.unit == "h":
        return start + timedelta(hours=rule.amount)
    if rule.unit == "d":
        return start + timedelta(days=rule.amount)
    local = start.astimezone(tz)
    day, left = local.date(), rule.amount
    while left:
        day += timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)


def span(rule: Rule) -> timedelta:
    """A backward rule's lead time (hours or calendar days)."""
    return timedelta(hours=rule.amount) if rule.unit == "h" else timedelta(days=rule.amount)


@dataclass(frozen=True)
class Measure:
    """The rule a clock is measured by, with its start and due time."""

    rule: Rule
    started_at: datetime
    due_at: datetime


def measure(
    pack: Pack,
    clock: str,
    stamps: dict[str, datetime],
    entered: datetime,
    tz: ZoneInfo,
) -> Measure | None:
    """The earliest due time among the clock's rules that apply: those whose start is recorded
    and that are in force on the day their clock starts (conservative when several apply)."""
    best: Measure | None = None
    for rule in pack.for_clock(clock):
        start = entered if rule.starts_at == ENTERED else stamps.get(rule.starts_at)
        anchor = stamps.get(rule.due_before) if rule.due_before else None
        if start is None or (rule.due_before and anchor is None):
            continue
        if not rule.in_force(start.astimezone(tz).date()):
            continue
        due = due_at(rule, start, pack.calendar, tz) if anchor is None else anchor - span(rule)
        if best is None or due < best.due_at:
            best = Measure(rule, start, due)
    return best


def _date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(
            _("{where}: {value!r} is not a date (YYYY-MM-DD)").format(where=where, value=value)
        ) from None


def load(path: Path) -> Pack:
    """Read a rule pack; every problem is a ConfigError naming the file and line."""
    from . import yamlfile

    _source, data, problem = yamlfile.read(path)
    if problem:
        raise ConfigError(str(problem))
    if not isinstance(data, dict) or not isinstance(data.get("rules"), dict):
        raise ConfigError(
            _("{path}:1: a rule pack is a mapping with a `rules:` mapping").format(path=path)
        )
    rules = {}
    for rule_id, spec in data["rules"].items():
        line = data["rules"].line_of(rule_id)
        where = f"{path}:{line}: rule {rule_id}"
        if not isinstance(spec, dict):
            raise ConfigError(_("{where}: must be a mapping").format(where=where))
        match = DURATION_RE.match(str(spec.get("duration", "")))
        if not match:
            raise ConfigError(
                _("{where}: duration must be like 24h, 30d or 15wd").format(where=where)
            )
        due_before = spec.get("due_before")
        if due_before is not None and (match.group(2) == "wd" or "starts_at" in spec):
            raise ConfigError(
                _(
                    "{where}: a due_before rule counts hours or days back from its time, "
                    "and starts when its state is entered (no starts_at)"
                ).format(where=where)
            )
        required = ("clock", "basis") if due_before else ("clock", "starts_at", "basis")
        missing = [k for k in required if not spec.get(k)]
        if missing:
            raise ConfigError(
                _("{where}: missing {keys}").format(where=where, keys=", ".join(missing))
            )
        title = spec.get("title", rule_id)
        rules[rule_id] = Rule(
            id=str(rule_id),
            clock=str(spec["clock"]),
            title=dict(title) if isinstance(title, dict) else {"vi": str(title)},
            amount=int(match.group(1)),
            unit=match.group(2),
            starts_at=str(spec.get("starts_at", ENTERED)),
            basis=str(spec["basis"]),
            valid_from=_date(spec.get("valid_from"), where),
            valid_until=_date(spec.get("valid_until"), where),
            where=f"{path}:{line}",
            due_before=str(due_before) if due_before else None,
        )
    cal = data.get("calendar") or {}

    def days(key: str) -> frozenset[date]:
        found = (_date(d, f"{path}: calendar {key}") for d in cal.get(key) or [])
        return frozenset(d for d in found if d is not None)

    calendar = Calendar(str(cal.get("country", "VN")), days("days_off"), days("working_days"))
    return Pack(
        rules, calendar, _yearly_report(path, data), _limits(path, data), _duties(path, data)
    )


_DUE_RE = re.compile(r"^(\d{2})-(\d{2})$")
_BEFORE_RE = re.compile(r"^\s*(\d{1,3})\s*(h|d)\s*$")


def _is_day(month: int, day: int) -> bool:
    try:
        date(2028, month, day)  # a leap year: 29 February is a day of the year
    except ValueError:
        return False
    return True


def _duties(path: Path, data: Any) -> dict[str, Duty]:
    """`duties: {ID: {title, due: MM-DD, owner: ROLE, remind: [7d, 1d], basis}}`."""
    duties = {}
    for duty_id, spec in (data.get("duties") or {}).items():
        where = f"{path}:{data['duties'].line_of(duty_id)}: duty {duty_id}"
        spec = spec if isinstance(spec, dict) else {}
        due = _DUE_RE.match(str(spec.get("due", "")))
        reminders = [_BEFORE_RE.match(str(r)) for r in spec.get("remind") or []]
        if due and not _is_day(int(due[1]), int(due[2])):
            due = None
        if not due or not all(reminders) or not spec.get("basis") or not spec.get("owner"):
            raise ConfigError(
                _(
                    "{where}: write {{title: …, due: MM-DD, owner: ROLE, remind: [7d, 1d], "
                    "basis: …}}"
                ).format(where=where)
            )
        title = spec.get("title", duty_id)
        duties[str(duty_id)] = Duty(
            str(duty_id),
            dict(title) if isinstance(title, dict) else {"vi": str(title)},
            int(due[1]),
            int(due[2]),
            str(spec["basis"]),
            str(spec["owner"]),
            tuple(timedelta(hours=int(r[1]) * (24 if r[2] == "d" else 1)) for r in reminders if r),
        )
    return duties


def _limits(path: Path, data: Any) -> dict[str, Limit]:
    """`limits: {ID: {most: N, title: …, basis: …}}`."""
    limits = {}
    for limit_id, spec in (data.get("limits") or {}).items():
        where = f"{path}:{data['limits'].line_of(limit_id)}: limit {limit_id}"
        most = spec.get("most") if isinstance(spec, dict) else None
        if not isinstance(most, int) or isinstance(most, bool) or most < 1 or not spec.get("basis"):
            raise ConfigError(
                _("{where}: write {{most: N, title: …, basis: …}} with N ≥ 1").format(where=where)
            )
        title = spec.get("title", limit_id)
        limits[str(limit_id)] = Limit(
            str(limit_id),
            most,
            dict(title) if isinstance(title, dict) else {"vi": str(title)},
            str(spec["basis"]),
        )
    return limits


def _yearly_report(path: Path, data: Any) -> YearlyReport:
    spec = (data.get("reports") or {}).get("yearly")
    if spec is None:
        return YearlyReport()
    line = data["reports"].line_of("yearly")
    if not isinstance(spec, dict) or set(spec) - set(_REPORT_KEYS):
        raise ConfigError(
            _("{path}:{line}: reports yearly takes: {keys}").format(
                path=path, line=line, keys=", ".join(_REPORT_KEYS)
            )
        )
    values: dict[str, Any] = {}
    for key, value in spec.items():
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(v, str) for v in items):
            raise ConfigError(
                _("{path}:{line}: reports yearly {key}: a name or a list of names").format(
                    path=path, line=getattr(spec, "line_of", lambda _k: line)(key), key=key
                )
            )
        values[key] = items[0] if key in _SINGLE else tuple(items)
    for entry in values.get("basis", ()):
        since, _sep, text = entry.partition(": ")
        if _date(since, f"{path}:{line}: reports yearly basis") is None or not text:
            raise ConfigError(
                _("{path}:{line}: reports yearly basis: write 'YYYY-MM-DD: text'").format(
                    path=path, line=line
                )
            )
    return YearlyReport(**values)


def load_packs(paths: list[Path]) -> Pack:
    """Several packs as one: later packs add rules; the first pack's calendar and report
    definitions are the ones."""
    packs = [load(path) for path in paths]
    rules: dict[str, Rule] = {}
    limits: dict[str, Limit] = {}
    duties: dict[str, Duty] = {}
    for pack in packs:
        rules.update(pack.rules)
        limits.update(pack.limits)
        duties.update(pack.duties)
    if not packs:
        return Pack(rules, Calendar())
    return Pack(rules, packs[0].calendar, packs[0].yearly_report, limits, duties)
