"""A person's decisions on a statement, as a front end that shows the text takes them: what the
person may decide on an incident now, and the decision itself, bound to the text they read.

A decision goes through the playbook step that takes it when the incident stands at one (the
approval moves the incident on), else through the statement command; both check the same
rights in authority.require and the same guards as the command line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import authority, store_statements
from ..actor import Actor
from ..errors import InvalidInput
from ..i18n import _
from .lookup import incident_row

if TYPE_CHECKING:
    from ..playbook import Playbook, Transition
    from . import App

ACTIONS = {
    "approve": "approve_statement",
    "reject": "reject_statement",
    "publish": "publish_statement",
}


@dataclass(frozen=True)
class Rights:
    """What one person may do on one incident now."""

    roles: frozenset[str]
    view: bool = False  # a role in the incident: its pages are theirs to read
    approve: bool = False
    publish: bool = False
    note: bool = False  # anyone with a role in the incident; seeing it needs the same
    channels: list[tuple[str, str]] = field(default_factory=list)  # (code, label)
    # What the playbook calls its roles and facts, in the reader's language.
    labels: dict[str, str] = field(default_factory=dict)


def _step_for(playbook: Playbook, state: str, action: str, kind: str) -> Transition | None:
    """The step out of ``state`` that takes ``action`` on statement ``kind``, if one does."""
    for transition in playbook.transitions_from(state):
        if any(s.kind == ACTIONS[action] and s.arg == kind for s in transition.actions):
            return transition
    return None


class Decisions:
    def __init__(self, app: App) -> None:
        self.app = app

    def rights(self, ref: str, person: str, lang: str = "vi") -> Rights:
        """The roles ``person`` holds in incident ``ref`` and what they let them do; only
        for showing what to offer: every decision is checked again when it is taken."""
        with self.app.store.reading() as conn:
            return self._rights(conn, incident_row(conn, ref), person, lang)

    def page(self, ref: str, person: str, lang: str = "vi") -> tuple[Rights, dict[str, Any]]:
        """The person's rights on incident ``ref`` and, if they may see it, the incident as
        `show` gives it (else an empty view), read in one transaction."""
        with self.app.store.reading() as conn:
            row = incident_row(conn, ref)
            rights = self._rights(conn, row, person, lang)
            return rights, (self.app.records.view(conn, row) if rights.view else {})

    def _rights(self, conn: Any, row: Any, person: str, lang: str) -> Rights:
        app = self.app
        playbook = app.catalogue.pinned(conn, row.playbook_hash)
        granted = store_statements.authorisations_of(conn, row.id)
        authorised = authority.holds_authorisation(granted, person, app.clock())
        own = app.directory.roles_of(person)
        unit = app.directory.people[person].unit if person in app.directory.people else None
        roles = authority.roles_of(person, playbook, row.facts, own, authorised, unit)
        policy = playbook.policy
        return Rights(
            roles,
            view=bool(roles & set(playbook.roles)),
            approve=policy.approver is not None and policy.approver in roles,
            publish=bool(roles & set(policy.publishers)),
            note=bool(roles & set(playbook.roles)),
            channels=[(code, policy.channel_label(code, lang)) for code in policy.channels],
            labels={
                **{name: title.get_lang(lang) for name, title in playbook.roles.items()},
                **{name: f.label.get_lang(lang) for name, f in playbook.facts.items() if f.label},
            },
        )

    def decide(
        self,
        ref: str,
        kind: str,
        action: str,
        sha256: str,
        *,
        actor: Actor,
        reason: str | None = None,
        channel: str | None = None,
        url: str | None = None,
        confirm_unchanged: bool = False,
    ) -> str:
        """Approve, reject or publish statement ``kind`` of ``ref`` if its current text still
        has ``sha256``; returns the incident's state afterwards. ``confirm_unchanged``: the
        approver approves a text returned earlier, as it is."""
        if action not in ACTIONS:
            raise InvalidInput(_("unknown decision {action!r}").format(action=action))
        app = self.app
        with app.store.reading() as conn:
            row = incident_row(conn, ref)
            playbook = app.catalogue.pinned(conn, row.playbook_hash)
        step = _step_for(playbook, row.state, action, kind)
        if step is not None:
            given: dict[str, str] = {}
            policy = playbook.policy
            if action == "publish" and policy.channel_fact:
                given[policy.channel_fact] = channel or ""
                if url and policy.url_fact:
                    given[policy.url_fact] = url
            outcome = app.incidents.advance(
                row.ref,
                step.trigger,
                actor=actor,
                note=reason,
                given=given,
                expect_state=row.state,
                expect_text=(kind, sha256),
                confirm_unchanged=confirm_unchanged,
            )
            return outcome.to_state
        self._direct(row.ref, kind, action, sha256, actor, reason, channel, url, confirm_unchanged)
        return str(row.state)

    def _direct(
        self, ref: str, kind: str, action: str, sha256: str, actor: Actor, *rest: Any
    ) -> None:
        reason, channel, url, confirm_unchanged = rest
        cases = self.app.statements
        if action == "approve":
            cases.approve(
                ref, kind, actor=actor, expect_sha256=sha256, confirm_unchanged=confirm_unchanged
            )
        elif action == "reject":
            cases.reject(ref, kind, reason or "", actor=actor, expect_sha256=sha256)
        else:
            cases.publish(ref, kind, channel or "", url, actor=actor, expect_sha256=sha256)
