"""Who may be named to fill a role in an incident: a fact named for a role is set only by the
step that assigns it (or by the approver), and a role the playbook says must be held already
(the spokesperson) goes only to someone who holds it."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import authority, store_statements
from ..errors import InvalidInput, TransitionRefused
from ..i18n import _

if TYPE_CHECKING:
    from ..directory import Directory
    from ..playbook import Playbook, Transition


class Authorised:
    """Whether a person holds a written authorisation for the incident now; the
    authorisations are read only when a step names someone to a role that must be held."""

    def __init__(self, conn: Any, row: Any, now: datetime) -> None:
        self.conn, self.row, self.now = conn, row, now
        self._granted: list[Any] | None = None

    def __call__(self, person: str) -> bool:
        if self._granted is None:
            self._granted = list(store_statements.authorisations_of(self.conn, self.row.id))
        return authority.holds_authorisation(self._granted, person, self.now)


def refuse_role_assignments(
    playbook: Playbook, given: dict[str, str], transition: Transition | None, roles: set[str]
) -> None:
    """A fact named for a role makes whoever it names hold that role in the incident (its
    spokesperson approves nothing, but may publish). Such a fact is set only by the steps
    that exist to assign it (those that require it), or by the playbook's approver, who
    designates who speaks for the matter."""
    if playbook.policy.approver in roles:
        return
    allowed = set(transition.requires) if transition else set()
    for name in given:
        fact = playbook.facts.get(name)
        if fact is None or fact.type not in ("person", "unit") or name not in playbook.roles:
            continue
        if name not in allowed:
            steps = [t.trigger for t in playbook.transitions if name in t.requires]
            raise InvalidInput(
                _(
                    "--set {fact}: {fact} is a role, assigned by: {steps} (or by the approver)"
                ).format(fact=name, steps=", ".join(dict.fromkeys(steps)) or _("no step"))
            )


def refuse_unqualified(
    playbook: Playbook,
    given: dict[str, str],
    facts: dict[str, Any],
    directory: Directory,
    authorised: Authorised | None,
) -> None:
    """Refuse to name a person to a role the playbook says must be held already, unless the
    directory gives it to them or a written authorisation valid now does (``authorised``:
    None for an incident being opened, which has none yet)."""
    for name in given:
        fact = playbook.facts.get(name)
        person = facts.get(name)
        if fact is None or fact.holds is None or not person:
            continue
        if fact.holds in directory.roles_of(person):
            continue
        grants = playbook.policy.grants
        if authorised is not None and fact.holds in grants and authorised(person):
            continue
        who = directory.people[person].name if person in directory.people else person
        if authorised is None:
            raise TransitionRefused(
                _(
                    "--set {fact}={person}: {who} holds no role {role} in the directory; open "
                    "the incident without it, authorise them in writing (`crisisflow statement "
                    "authorise REF {person} --until 24h`), then name them"
                ).format(fact=name, person=person, who=who, role=fact.holds)
            )
        raise TransitionRefused(
            _(
                "--set {fact}={person}: {who} holds no role {role} in the directory nor a "
                "written authorisation valid now for {ref}; name someone who does, or "
                "authorise them first (`crisisflow statement authorise {ref} {person} "
                "--until 24h`)"
            ).format(fact=name, person=person, who=who, role=fact.holds, ref=authorised.row.ref)
        )
