"""Which roles a person holds in one incident, and the one place where the right to approve,
reject or publish a statement is checked.

A person holds the roles the directory gives them, the roles an incident's own person facts
name them for (its spokesperson), and, while a written authorisation for the incident is valid,
the roles the playbook says such an authorisation grants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from .actor import Actor
from .errors import TransitionRefused
from .i18n import _
from .playbook import Playbook
from .policy import Policy


def holds_authorisation(authorisations: Iterable[Any], person: str, now: datetime) -> bool:
    """Whether ``person`` holds one of these written authorisations valid at ``now``."""
    return any(a.person == person and a.valid_from <= now < a.valid_until for a in authorisations)


def roles_of(
    person: str,
    playbook: Playbook,
    facts: dict[str, Any],
    directory_roles: Iterable[str],
    authorised: bool,
    unit: str | None = None,
) -> frozenset[str]:
    """``unit``: the person's own unit, when a unit fact named for a role (field_unit) should
    count for its people too."""
    roles = set(directory_roles)
    mine = {"person": person, "unit": unit}
    for name, fact in playbook.facts.items():  # a person or unit fact named for a role fills it
        bound = facts.get(name)
        if name in playbook.roles and bound is not None and bound == mine.get(fact.type):
            roles.add(name)
    if authorised:
        roles |= set(playbook.policy.grants)
    return frozenset(roles)


def acting_roles(actor: Actor, roles_for: Callable[[str], frozenset[str]]) -> frozenset[str]:
    """The roles ``actor`` acts with. An entry typed in for another person (``--as``) without
    ``--on-behalf`` may do only what both the person and whoever typed it may do: naming
    someone else never lends their rights."""
    roles = roles_for(actor.person)
    if actor.typed_for_another and actor.entered_by is not None:
        roles &= roles_for(actor.entered_by)
    return roles


@contextmanager
def explaining_entry(actor: Actor) -> Iterator[None]:
    """Add to a refusal of an entry typed in for another person what to do instead."""
    try:
        yield
    except TransitionRefused as exc:
        if not actor.typed_for_another:
            raise
        raise TransitionRefused(
            _(
                "{error} (entered by {caller} for {person}: --as lends no rights; if {person} "
                'decided this, let them do it themselves, or add --on-behalf --note "how and '
                'when {person} decided")'
            ).format(error=exc, caller=actor.entered_by, person=actor.person)
        ) from exc


# Statement actions whose on-behalf entry a workspace setting must allow: approving,
# publishing, and authorising someone else to approve.
ON_BEHALF_GUARDED = frozenset({"approved", "published", "authorised"})


def refuse_on_behalf(actor: Actor, actions: Iterable[str], allowed: bool) -> None:
    """Refuse an on-behalf entry of approving or publishing unless the workspace allows it."""
    if actor.on_behalf is None or allowed or not ON_BEHALF_GUARDED & set(actions):
        return
    raise TransitionRefused(
        _(
            "approving, publishing or authorising may not be entered on behalf of {person} in this "
            'workspace (setting on_behalf_approvals = "refused"); {person} must do it '
            "signed in on the web, or from the account bound to them"
        ).format(person=actor.person)
    )


# What each statement action needs of the actor, by the policy's field.
_NEEDS = {"approved": "approver", "rejected": "approver", "published": "publishers"}


def require(policy: Policy, action: str, person: str, roles: frozenset[str]) -> None:
    """Refuse ``action`` (approved, rejected, published …) on a statement unless ``roles``
    allow it under ``policy``. Submitting and editing need no role beyond taking part."""
    need = _NEEDS.get(action)
    if need is None:
        return
    if need == "approver":
        allowed = {policy.approver} if policy.approver else set()
    else:
        allowed = set(policy.publishers)
    if roles & allowed:
        return
    if need == "approver":
        raise TransitionRefused(
            _(
                "only the approver ({role}) may approve or reject, or a person holding a written "
                "authorisation for this incident that is valid now (`crisisflow statement "
                "authorise`); {actor} is neither"
            ).format(role=policy.approver or _("none declared"), actor=person)
        )
    raise TransitionRefused(
        _("only {roles} may publish, and {actor} holds none of these roles").format(
            roles=" / ".join(policy.publishers) or _("nobody (the playbook names no publishers)"),
            actor=person,
        )
    )


def may_grant(policy: Policy, directory_roles: Iterable[str]) -> bool:
    """An authorisation is granted by an approver in their own right (no sub-delegation)."""
    return policy.approver is not None and policy.approver in set(directory_roles)
