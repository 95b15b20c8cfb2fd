"""What a playbook step does besides moving the state: the statements it drafts, the
statement actions it takes, the e-mails it queues. Inside the step's transaction, what its
guards and actions need is read once, before it fires; its effects are written after.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from .. import authority, mail, outbox, published_mail, store_outbox, store_statements
from .. import statements as stmts
from ..actor import Actor
from ..drafting import Rendered
from ..errors import ConfigError, TextChanged, TransitionRefused
from ..i18n import _
from ..incident_view import IncidentView
from ..machine import Draft, IncidentModel, StatementStep
from ..mailing import Mailing

if TYPE_CHECKING:
    from datetime import datetime

    from ..drafting import Drafter
    from ..playbook import Playbook, Step, Transition
    from . import App
    from .incidents import Outcome

STATEMENT_GUARDS = ("has_statement", "statement_approved")


@dataclass(frozen=True)
class Known:
    """What was read for one step: the actor's roles, and the statements its guards and
    actions (and its destination's) name, with their current versions and actions; ``kinds``
    are those of them that exist."""

    roles: frozenset[str] = frozenset()
    kinds: frozenset[str] = frozenset()
    statements: dict[str, stmts.Statement] = field(default_factory=dict)
    looked_up: frozenset[str] = frozenset()  # kinds read: those missing from statements are new

    @property
    def approved(self) -> frozenset[str]:
        return frozenset(k for k, s in self.statements.items() if s.approved)


def statement_steps(effects: list[Any], known: Known) -> dict[str, Any]:
    """What the audit event records of a step's statement actions: each one, and whether it
    was done already (approving what an approver approved before records no new approval)."""
    steps = []
    for e in effects:
        if isinstance(e, StatementStep):
            found = known.statements.get(e.kind)
            done = found is not None and stmts.already_done(found, e.action)
            step = {"kind": e.kind, "action": e.action, **({"already": True} if done else {})}
            rejected = found.returned_unchanged() if found and e.action == "approved" else None
            if rejected is not None and not done:  # approved as it is: the step needs confirming
                step.update(stmts.overruled(rejected))
            steps.append(step)
    return {"statements": steps} if steps else {}


def require_text(known: Known, ref: str, kind: str, sha256: str) -> None:
    """Refuse unless statement ``kind``'s current text has this SHA-256."""
    found = known.statements.get(kind)
    if found is None or found.current.text_hash != sha256:
        raise TextChanged(
            _(
                "{ref}: the text of {kind} changed since you read it (now version {number}); "
                "read the new text and decide again"
            ).format(ref=ref, kind=kind, number=found.current.number if found else "-")
        )


def _steps_of(playbook: Playbook, transition: Transition) -> tuple[Step, ...]:
    """A transition's guards and actions, and the actions of entering its destination."""
    steps = (*transition.guards, *transition.actions)
    if transition.dest in playbook.states:
        steps += playbook.states[transition.dest].on_enter
    return steps


def _named_statements(playbook: Playbook, transition: Transition) -> set[str]:
    """The statements a step looks at, acts on or drafts."""
    steps = _steps_of(playbook, transition)
    named = {s.arg for s in steps if s.kind in STATEMENT_GUARDS or s.kind.endswith("_statement")}
    return named | {s.arg["kind"] for s in steps if s.kind == "draft"}


def _role_checks(playbook: Playbook, transition: Transition) -> list[set[str]]:
    """The roles a step checks the actor against, one set per check (one of each set must be
    held): its role guards, and approving, rejecting or publishing by it or on entering its
    destination."""
    policy, checks = playbook.policy, []
    for step in _steps_of(playbook, transition):
        if step.kind == "actor_is":
            checks.append(set(step.arg))
        elif step.kind in ("approve_statement", "reject_statement"):
            checks.append({policy.approver} if policy.approver else set())
        elif step.kind == "publish_statement":
            checks.append(set(policy.publishers))
    return checks


def _statement_actions(playbook: Playbook, transition: Transition) -> set[str]:
    """The statement actions (approved, published …) a step takes."""
    kinds = {s.kind for s in _steps_of(playbook, transition)}
    return {STEP_ACTIONS[k] for k in kinds if k in STEP_ACTIONS}


STEP_ACTIONS = {
    "submit_statement": "submitted",
    "approve_statement": "approved",
    "reject_statement": "rejected",
    "publish_statement": "published",
}


def signing_key(app: App) -> bytes | None:
    """The key that signs acknowledge links, or None for a workspace that has none (made
    before keys were): its task mail then goes without the link, and the step still runs."""
    try:
        return app.secret_key
    except ConfigError:
        return None


def statement_text(statement: stmts.Statement) -> dict[str, Any]:
    """A statement's current version as an approval request presents it."""
    v = statement.current
    return {
        "kind": statement.kind,
        "title": v.title,
        "text": v.text,
        "number": v.number,
        "sha256": v.text_hash,
        "lang": v.lang,
    }


class Writer:
    def __init__(self, app: App, actor: Actor, *, confirm_unchanged: bool = False) -> None:
        self.app = app
        self.actor = actor
        self.confirm_unchanged = confirm_unchanged  # approve a returned text as it is
        self.on_behalf_allowed = app.settings["on_behalf_approvals"] == "allowed"
        self.drafter = app.drafter  # loaded here, before any write transaction opens
        self.mailing = Mailing(mail.Links(app.settings["base_url"], signing_key(app)))

    def read_for(
        self, conn: Any, row: Any, playbook: Playbook, transition: Transition | None
    ) -> Known:
        """Read, once, what the step's guards, statement actions and mail need."""
        self.mailing = replace(self.mailing, seq=row.version + 1)  # the step's event
        if transition is None:
            return Known()
        named = _named_statements(playbook, transition)
        statements: dict[str, stmts.Statement] = {}
        for kind in sorted(named):
            records = store_statements.statement_current(conn, row.id, kind)
            found = stmts.assemble(*records).get(kind)
            if found is not None:
                statements[kind] = found
        self._read_approval(conn, row.id, playbook, transition, statements)
        return Known(
            self._roles(conn, row, playbook, transition),
            frozenset(statements),
            statements,
            frozenset(named),
        )

    def _read_approval(
        self,
        conn: Any,
        incident_id: int,
        playbook: Playbook,
        transition: Transition,
        statements: dict[str, stmts.Statement],
    ) -> None:
        """When the step e-mails the playbook's approver, what that approval request
        presents: the statements the step submits, else those of the incident that await
        approval, the last submitted first."""
        steps, approver = _steps_of(playbook, transition), playbook.policy.approver
        if not any(s.kind == "notify" and approver in s.arg["to"] for s in steps):
            return
        kinds = [s.arg for s in steps if s.kind == "submit_statement"]
        found = statements
        if not kinds:
            found = stmts.assemble(*store_statements.statement_records(conn, incident_id))
            waiting = sorted(
                (s for s in found.values() if s.status == "submitted"),
                key=lambda s: max(a.id for a in s.actions if a.action == "submitted"),
                reverse=True,
            )
            kinds = [s.kind for s in waiting]
        texts = {kind: statement_text(found[kind]) for kind in kinds if kind in found}
        self.mailing = replace(self.mailing, approval=tuple(kinds), texts=texts)

    def _roles(
        self, conn: Any, row: Any, playbook: Playbook, transition: Transition
    ) -> frozenset[str]:
        """The actor's roles in the incident. Written authorisations are read only when the
        step checks a role the actor does not hold already."""
        checks = _role_checks(playbook, transition)
        authority.refuse_on_behalf(
            self.actor, _statement_actions(playbook, transition), self.on_behalf_allowed
        )
        granted: list[Any] | None = None

        def roles_for(person: str) -> frozenset[str]:
            nonlocal granted
            own = self.app.directory.roles_of(person)
            roles = authority.roles_of(person, playbook, row.facts, own, authorised=False)
            if all(roles & check for check in checks):
                return roles
            if granted is None:
                granted = list(store_statements.authorisations_of(conn, row.id))
            authorised = authority.holds_authorisation(granted, person, self.app.clock())
            return authority.roles_of(person, playbook, row.facts, own, authorised)

        return authority.acting_roles(self.actor, roles_for)

    def render(self, incident: IncidentView, model: IncidentModel, trigger: str | None) -> Rendered:
        return self.drafter.render(
            incident,
            model.effects,
            actor=self.actor.person,
            note=model.note,
            trigger=trigger,
            now=model.now,
            mailing=self.mailing,
        )

    def write(
        self,
        conn: Any,
        incident: IncidentView,
        incident_id: int,
        event: dict[str, Any],
        event_id: int,
        rendered: Rendered,
        model: IncidentModel,
        outcome: Outcome,
        known: Known,
    ) -> None:
        """Write a step's drafts, statement actions and outbox rows, in the transaction of its
        event, in the order the step produced them (a rejection before the redraft)."""
        drafts, press = iter(rendered.drafts), list[dict[str, Any]]()
        current = dict(known.statements)
        changed: set[str] = set()  # written by this step: read again before acting on them
        for effect in model.effects:
            if isinstance(effect, Draft):
                draft = next(drafts)
                earlier = current.get(effect.kind)
                if effect.kind in changed or (earlier is not None and not earlier.published):
                    continue  # drafted once; from then on staff edit the text they have
                first = effect.kind in known.looked_up and earlier is None
                drafted = self._draft(conn, incident_id, draft, earlier, first, model)
                outcome.drafted.append(drafted)
                current.pop(effect.kind, None)  # read again before a later step acts on it
                changed.add(effect.kind)
            elif isinstance(effect, StatementStep):
                if effect.kind in changed or effect.kind not in current:
                    records = store_statements.statement_current(conn, incident_id, effect.kind)
                    found = stmts.assemble(*records).get(effect.kind)
                    if found is None:
                        raise TransitionRefused(
                            _("{ref}: no {kind} statement to act on").format(
                                ref=outcome.ref, kind=effect.kind
                            )
                        )
                    current[effect.kind] = found
                    changed.discard(effect.kind)
                act = self._act(conn, incident, current[effect.kind], effect, model, press)
                outcome.statement_steps.append(act)
                changed.add(effect.kind)
        key = f"{outcome.ref}/{event['seq']}"
        rows = outbox.rows(rendered.mails, incident_id, event_id, key, model.now)
        for row in press:  # the press copy goes first, and belongs to the step's event
            row["event_id"] = event_id
        store_outbox.insert_outbox(conn, press + rows)  # the step's e-mail in one statement
        outcome.queued.extend(
            {
                "to": m["recipient"],
                "name": m["recipient_name"],
                "subject": m["subject"],
                "message_id": m["message_id"],
            }
            for m in rendered.mails
        )

    def _draft(
        self,
        conn: Any,
        incident_id: int,
        draft: dict[str, Any],
        earlier: stmts.Statement | None,
        first: bool,
        model: IncidentModel,
    ) -> dict[str, Any]:
        """Store a step's draft: the kind's first statement (``first``: known to have none),
        or, after ``earlier`` was published and froze, the next of its series."""
        series = earlier.series + 1 if earlier is not None else 1
        number = stmts.add_version(
            conn,
            incident_id,
            draft["kind"],
            draft,
            author=self.actor.person,
            now=model.now,
            new=first or earlier is not None,
            series=series,
        )
        return {**draft, "number": number, "series": series}

    def _act(
        self,
        conn: Any,
        incident: IncidentView,
        statement: stmts.Statement,
        step: StatementStep,
        model: IncidentModel,
        press: list[dict[str, Any]],
    ) -> dict[str, Any]:
        policy = incident.playbook.policy
        act = stmts.Act(
            step.action,
            self.actor.person,
            model.actor_roles,
            model.now,
            reason=model.note if step.action == "rejected" else None,
            channel=model.facts.get(policy.channel_fact) if policy.channel_fact else None,
            url=model.facts.get(policy.url_fact) if policy.url_fact else None,
            strict=False,
            confirm_unchanged=self.confirm_unchanged,
            signing=self.drafter.signing,
        )
        return stmts.apply(
            conn,
            statement,
            act,
            policy,
            press_mailer(conn, self.drafter, incident, model.now, press),
        )


def press_mailer(
    conn: Any,
    drafter: Drafter,
    incident: IncidentView,
    now: datetime,
    pending: list[dict[str, Any]] | None = None,
) -> stmts.PressMailer:
    """Queue a published statement's text where its policy sends it (the press list, the
    requester it answers, the roles it is addressed to), in the caller's transaction (or add
    its outbox rows to ``pending``, for the caller to insert with its own)."""

    def send(statement: stmts.Statement, kind: str, text: str) -> list[str]:
        current = statement.current
        mails = published_mail.messages(drafter, incident, kind, current.title, text, now)
        series = "" if statement.series == 1 else f"#{statement.series}"
        key = f"{incident.ref}/press/{statement.kind}{series}/v{current.number}"
        rows = outbox.rows(mails, statement.incident_id, None, key, now)
        if pending is None:
            store_outbox.insert_outbox(conn, rows)
        else:
            pending.extend(rows)
        return [m["recipient"] for m in mails]

    return send
