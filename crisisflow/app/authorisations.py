"""Written authorisations to speak for the committee on one incident: granted by an approver
in their own right, drafted as a letter, and, where the playbook says, measured by the clock for
publishing that letter."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import authority, store_statements
from .. import statements as stmts
from ..actor import Actor
from ..directory import Person
from ..errors import InvalidInput, TransitionRefused
from ..i18n import _
from ..incident_view import view_of
from .lookup import template_for

if TYPE_CHECKING:
    from . import App
    from .statements import Situation

# The letter a written authorisation is drafted as, a statement like any other.
LETTER = "authorisation"


def granting(app: App, grantee: Person, until: str, actor: Actor) -> Any:
    """The work of granting ``grantee`` an authorisation until ``until``, for one transaction:
    refused unless ``actor`` is an approver in their own right."""
    valid_until = _until(until, app.clock(), app.tz)

    def work(conn: Any, s: Situation) -> dict[str, Any]:
        _refuse_ungranted(app, s, grantee, actor, valid_until)
        store_statements.add_authorisation(
            conn,
            {
                "incident_id": s.row.id,
                "person": grantee.id,
                "granted_by": actor.person,
                "valid_from": s.now,
                "valid_until": valid_until,
                "created_at": s.now,
            },
        )
        number = _draft_letter(app, conn, s, grantee, actor, valid_until)
        # The letter is to be published (12 h under Decree 09/2017; an internal rule
        # since): the office that publishes statements is reminded of it.
        policy = s.playbook.policy
        clocks = []
        if policy.authorisation_clock:
            owner = (policy.publishers or (None,))[0]
            moments = {"authorised_at": s.now}
            clocks = app.clock_keeper.on_command(
                conn, s.row.id, policy.authorisation_clock, owner, moments, s.now
            )
        return {
            "person": grantee.id,
            "valid_until": valid_until.isoformat(),
            "document_version": number,
            **({"clocks": clocks} if clocks else {}),
        }

    return work


def _refuse_ungranted(
    app: App, s: Situation, grantee: Person, actor: Actor, valid_until: datetime
) -> None:
    own = authority.acting_roles(actor, app.directory.roles_of)  # no --as lending
    if not authority.may_grant(s.playbook.policy, own):
        raise TransitionRefused(
            _(
                "only the approver ({role}) in their own right may authorise; an "
                "authorised person may not pass it on, and {actor} is not one"
            ).format(role=s.playbook.policy.approver or _("none declared"), actor=actor.person)
        )
    if grantee.id == actor.person:
        raise InvalidInput(_("{person} already holds the role").format(person=grantee.id))
    if valid_until <= s.now:
        raise InvalidInput(_("--until must be in the future"))


def _draft_letter(
    app: App, conn: Any, s: Situation, grantee: Person, actor: Actor, valid_until: datetime
) -> int:
    """The authorisation letter, as the next version of the incident's letter (or a new
    letter, once the last one was published: what went out does not change)."""
    letter = {
        "person": {"name": grantee.name, "title": grantee.title, "email": grantee.email},
        "granted_by": app.drafter.person_card(actor.person),
        "valid_from": s.now,
        "valid_until": valid_until,
    }
    draft = app.drafter.document(
        view_of(s.row, s.playbook),
        template_for(s.playbook, "authorisation"),
        actor=actor.person,
        note=None,
        now=s.now,
        extra={"authorisation": letter},
        kind=LETTER,
    )
    earlier = s.statements.get(LETTER)
    frozen = earlier is not None and earlier.published
    return stmts.add_version(
        conn,
        s.row.id,
        LETTER,
        draft,
        author=actor.person,
        now=s.now,
        new=frozen,
        series=earlier.series + 1 if frozen and earlier else 1,
    )


def _until(text: str, now: datetime, tz: Any) -> datetime:
    """When an authorisation ends: a time, or a span from now (24h, 3d)."""
    from ..facts import parse_time

    span = re.fullmatch(r"\s*(\d{1,4})\s*([hd])\s*", text)
    if span:
        return now + timedelta(hours=int(span[1]) * (24 if span[2] == "d" else 1))
    return parse_time(text, tz, "--until")
