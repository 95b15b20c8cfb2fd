"""Statements: numbered versions, approval bound to the exact text, publication, corrections,
and the written per-case authorisation that lets a Vice-Chairman approve.

A statement's status is derived, never stored: it is the last submission, approval, rejection or
publication recorded for the SHA-256 of its current text. Editing the text therefore voids an
approval by construction, and publishing checks the hash it publishes against the one approved.
"""

from __future__ import annotations

import difflib
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import authority, numbering, store_register, store_statements
from .errors import InvalidInput, NotFoundError, TransitionRefused
from .history import iso
from .i18n import _
from .issuer import Signing
from .policy import Policy

MAX_STATEMENT = 100_000
# Blanks a draft leaves for a person to fill: a bracketed instruction ("[Nội dung kết quả xác
# minh: bổ sung trước khi trình ký.]", "[…]") or a dotted leader ("……", "........"). A bracket
# holding only a number ("[1]") is a reference, not a blank.
_PLACEHOLDER = re.compile(r"\[(?!\s*\d+\s*\])[^\[\]\n]*\]|…{2,}|\.{4,}|…\.|\.…")
# Sends a published statement's text as issued outside, as the policy says of ``kind`` (the
# statement's own, or for a correction the kind it corrects); returns the addresses.
PressMailer = Callable[["Statement", str, str], list[str]]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class Statement:
    """One statement of an incident, with its versions and what was done to them."""

    id: int
    incident_id: int
    kind: str
    corrects_id: int | None
    series: int = 1  # its place among the incident's statements of its kind
    versions: list[Any] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)

    @property
    def current(self) -> Any:
        return self.versions[-1]

    def version(self, number: int | None) -> Any:
        if number is None:
            return self.current
        for v in self.versions:
            if v.number == number:
                return v
        raise NotFoundError(
            _("{kind} has no version {n}; it has 1 to {last}").format(
                kind=self.kind, n=number, last=self.current.number
            )
        )

    @property
    def status(self) -> str:
        """draft, submitted, approved, rejected or published: the last thing done to the
        current text."""
        mine = [a for a in self.actions if a.text_hash == self.current.text_hash]
        return str(mine[-1].action) if mine else "draft"

    @property
    def approved(self) -> bool:
        return self.status in ("approved", "published")

    @property
    def published(self) -> bool:
        """Once published, a text is frozen: it is corrected, or followed by the next one."""
        return self.last("published") is not None

    def last(self, action: str) -> Any | None:
        return next((a for a in reversed(self.actions) if a.action == action), None)

    def returned_unchanged(self) -> Any | None:
        """The rejection of the current text itself, if it was returned and not changed since."""
        text_hash = self.current.text_hash
        return next(
            (
                a
                for a in reversed(self.actions)
                if a.action == "rejected" and a.text_hash == text_hash
            ),
            None,
        )


def assemble(heads: list[Any], versions: list[Any], actions: list[Any]) -> dict[str, Statement]:
    """Each kind's current statement (the latest of its series), with its versions and
    actions."""
    return {s.kind: s for s in every_statement(heads, versions, actions)}


def every_statement(heads: list[Any], versions: list[Any], actions: list[Any]) -> list[Statement]:
    """The statements, earlier ones of a series included, in the order they were started."""
    by_id = {h.id: Statement(h.id, h.incident_id, h.kind, h.corrects_id, h.series) for h in heads}
    for v in versions:
        by_id[v.statement_id].versions.append(v)
    for a in actions:
        by_id[a.statement_id].actions.append(a)
    return [s for s in by_id.values() if s.versions]


def unified_diff(kind: str, old: Any, new: Any) -> str:
    return "".join(
        difflib.unified_diff(
            old.text.splitlines(keepends=True),
            new.text.splitlines(keepends=True),
            fromfile=f"{kind} v{old.number}",
            tofile=f"{kind} v{new.number}",
        )
    )


def action_data(a: Any) -> dict[str, Any]:
    return {
        "action": a.action,
        "version": a.number,
        "sha256": a.text_hash,
        "actor": a.actor,
        "at": iso(a.at),
        "reason": a.reason,
        "channel": a.channel,
        "url": a.url,
    }


def add_version(
    conn: Any,
    incident_id: int,
    kind: str,
    draft: dict[str, Any],
    *,
    author: str,
    now: datetime,
    corrects_id: int | None = None,
    new: bool = False,
    series: int = 1,
) -> int:
    """Store a drafted or edited text as the statement's next version (the first of a new
    statement, ``new``, the ``series``-th of its kind); return its number."""
    values = {
        "title": draft["title"],
        "text": draft["text"],
        "text_hash": draft.get("text_hash") or sha256(draft["text"]),
        "template": draft.get("template"),
        "lang": draft["lang"],
        "author": author,
        "created_at": now,
    }
    return store_statements.add_statement_version(
        conn, incident_id, kind, values, corrects_id=corrects_id, new=new, series=series
    )


# An action that a later status already implies: submitting what is approved, say.
_IMPLIED_BY = {
    "submitted": ("submitted", "approved", "published"),
    "approved": ("approved", "published"),
}


def already_done(statement: Statement, action: str) -> bool:
    return statement.status in _IMPLIED_BY.get(action, ())


@dataclass(frozen=True)
class Act:
    """One action on a statement's current text, and what the step brings with it."""

    action: str  # submitted | approved | rejected | published
    person: str
    roles: frozenset[str]
    now: datetime
    reason: str | None = None
    channel: str | None = None
    url: str | None = None
    strict: bool = True  # a command says "already done"; a playbook step takes it as done
    # The approver read the text again after it was returned unchanged, and approves it as is.
    confirm_unchanged: bool = False
    signing: Signing | None = None  # who may sign the kind; the register's time zone


def apply(
    conn: Any, statement: Statement, act: Act, policy: Policy, press: PressMailer
) -> dict[str, Any]:
    """Submit, approve, reject or publish the current text, inside the caller's transaction.
    Refusals raise before anything is written."""
    status, current = statement.status, statement.current
    where = f"{statement.kind} v{current.number}"
    authority.require(policy, act.action, act.person, act.roles)
    _refuse_out_of_turn(statement, act, where)
    summary = {
        "kind": statement.kind,
        "action": act.action,
        "version": current.number,
        "sha256": current.text_hash,
    }
    if already_done(statement, act.action):
        if act.strict:
            raise TransitionRefused(
                _("{what} is already {status}").format(what=where, status=status)
            )
        return {**summary, "already": status}
    if act.action == "approved":
        summary.update(_check_approvable(statement, act, where))
    sent: list[str] = []
    if act.action == "published":
        mailed_as = _check_publishable(conn, statement, act, policy)
        issued, number = _issue(conn, statement, act)
        summary.update({"number": number} if number else {})
        if mailed_as is not None:
            sent = press(statement, mailed_as, issued)
    store_statements.add_statement_action(
        conn,
        {
            "statement_id": statement.id,
            "number": current.number,
            "action": act.action,
            "text_hash": current.text_hash,
            "actor": act.person,
            "at": act.now,
            "reason": act.reason,
            "channel": act.channel,
            "url": act.url,
        },
    )
    return {**summary, "channel": act.channel, "url": act.url, "press": sent}


def _refuse_out_of_turn(statement: Statement, act: Act, where: str) -> None:
    status = statement.status
    if statement.published and act.action in ("submitted", "approved"):
        # What went out stands as it went out: new words are the next statement of the kind.
        raise TransitionRefused(
            _(
                "{what} is published and does not change: correct it (`crisisflow statement "
                "correct`), or draft the next one by the playbook's step for it"
            ).format(what=where)
        )
    if act.action == "rejected" and status == "published":
        raise TransitionRefused(
            _(
                "{what} is published; start a correction instead (`crisisflow statement correct`)"
            ).format(what=where)
        )
    if act.action != "rejected" and not statement.current.text.strip():
        raise TransitionRefused(
            _("{what} is empty: write the text first (`crisisflow statement edit`)").format(
                what=where
            )
        )


def placeholder(text: str) -> tuple[int, str] | None:
    """The first blank left to fill in ``text``: its line number and the blank itself."""
    for number, line in enumerate(text.splitlines(), start=1):
        found = _PLACEHOLDER.search(line)
        if found:
            return number, found.group(0)
    return None


def _issue(conn: Any, statement: Statement, act: Act) -> tuple[str, str | None]:
    """The current text as issued: its number taken from the register of its year and symbol
    and written into its number line (nothing else changes), and that number ("05/TC-UBND");
    a text without a number line goes out as it is."""
    current = statement.current
    symbol = numbering.pending_symbol(current.text)
    if symbol is None or act.signing is None:
        return current.text, None
    year = act.now.astimezone(act.signing.tz).year
    number = store_register.take_number(conn, year, symbol)
    text = numbering.issue(current.text, number)
    store_register.add_entry(
        conn,
        {
            "year": year,
            "symbol": symbol,
            "number": number,
            "statement_id": statement.id,
            "version": current.number,
            "title": current.title,
            "signer": approved.actor if (approved := statement.last("approved")) else None,
            "issued_at": act.now,
            "text_hash": sha256(text),
        },
    )
    return text, f"{numbering.written(number)}/{symbol}"


def _check_approvable(statement: Statement, act: Act, where: str) -> dict[str, Any]:
    """Refuse a text that still has a blank to fill, a text its approver may not sign as
    laid out, and a text returned unchanged unless the approver confirms it as it is; say what
    the history records of that confirmation."""
    if act.signing is not None:
        refused = act.signing.refusal(statement.kind, act.person, statement.current.text)
        if refused:
            raise TransitionRefused(f"{where}: {refused}")
    blank = placeholder(statement.current.text)
    if blank is not None:
        line, found = blank
        shown = found if len(found) <= 60 else found[:57] + "..."
        raise TransitionRefused(
            _(
                "{what}, line {line}, still has a blank to fill: {blank}; complete the text "
                "(`crisisflow statement edit`) before it is approved"
            ).format(what=where, line=line, blank=shown)
        )
    rejected = statement.returned_unchanged()
    if rejected is None:
        return {}
    if not act.confirm_unchanged:
        raise TransitionRefused(
            _(
                "{what} was returned by {who} ({reason}) and has not changed since: edit it, "
                "or approve this same text with --confirm-unchanged"
            ).format(what=where, who=rejected.actor, reason=rejected.reason or "-")
        )
    return overruled(rejected)


def overruled(rejected: Any) -> dict[str, Any]:
    """What the history records of approving a text its rejection did not change."""
    return {
        "confirmed_unchanged": {
            "rejected_by": rejected.actor,
            "rejected_at": iso(rejected.at),
            "reason": rejected.reason,
        }
    }


def _check_publishable(conn: Any, statement: Statement, act: Act, policy: Policy) -> str | None:
    """Refuse unless the current text is the approved one on a declared channel (and a
    correction goes out on its original's channel); say as which kind it is e-mailed out
    (a correction as what it corrects), if it is."""
    where = f"{statement.kind} v{statement.current.number}"
    if statement.status != "approved":
        raise TransitionRefused(
            _("{what} is {status}, not approved: only the approved text may be published").format(
                what=where, status=statement.status
            )
        )
    if act.channel not in policy.channels:
        raise InvalidInput(
            _("publication channel must be one of: {channels}").format(
                channels=", ".join(policy.channels) or _("none declared by the playbook")
            )
        )
    original = corrected(conn, statement)
    if original is not None:
        published = original.last("published")
        if published is not None and published.channel != act.channel:
            raise TransitionRefused(
                _("a correction goes out on the channel of what it corrects: {channel}").format(
                    channel=published.channel
                )
            )
    kinds = (statement.kind, original.kind if original else None)
    return next((k for k in kinds if k is not None and policy.mailed(k)), None)


def corrected(conn: Any, statement: Statement) -> Statement | None:
    """The published statement that ``statement`` corrects, if it is a correction."""
    if statement.corrects_id is None:
        return None
    records = store_statements.statement_records(conn, statement.incident_id)
    return next((s for s in every_statement(*records) if s.id == statement.corrects_id), None)
