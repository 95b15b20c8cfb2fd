"""Finding an incident by its reference, and what may be done next in a state: shared by the
use cases."""

from __future__ import annotations

from typing import Any

from .. import history, store_clocks, store_incidents
from ..errors import NotFoundError, TransitionRefused
from ..i18n import _
from ..playbook import Playbook
from ..refs import clean_ref


def incident_row(conn: Any, ref: str, *, lock: bool = False) -> Any:
    """The incident ``ref``; with ``lock``, held until the transaction ends (PostgreSQL's row
    lock; a SQLite writer already holds the whole database)."""
    row = store_incidents.incident_by_ref(conn, clean_ref(ref), lock=lock)
    if row is None:
        raise NotFoundError(_("no incident {ref}; see `crisisflow list --all`").format(ref=ref))
    return row


def incident_and_clocks(conn: Any, ref: str) -> tuple[Any, list[Any]]:
    """The incident ``ref``, locked as by ``incident_row``, and its clocks."""
    row, clocks = store_clocks.incident_with_clocks(conn, clean_ref(ref))
    if row is None:
        raise NotFoundError(_("no incident {ref}; see `crisisflow list --all`").format(ref=ref))
    return row, clocks


def next_steps(playbook: Playbook, state: str) -> list[dict[str, Any]]:
    """The transitions out of ``state``, as `show --json` lists them under ``allowed``."""
    result = []
    for t in playbook.transitions_from(state):  # guards are checked when one is fired
        guards = [{g.kind: (list(g.arg) if isinstance(g.arg, tuple) else g.arg)} for g in t.guards]
        result.append(
            {
                "trigger": t.trigger,
                "title": dict(t.title),
                "dest": t.dest,
                "requires": list(t.requires),
                "guards": history.plain_json(guards),
            }
        )
    return result


def template_for(playbook: Playbook, purpose: str) -> str:
    """The template the playbook names for ``purpose`` (a correction, an authorisation)."""
    template = playbook.policy.templates.get(purpose)
    if template is None:
        raise TransitionRefused(
            _("playbook {id} names no {purpose} template (templates: {purpose}: NAME)").format(
                id=playbook.id, purpose=purpose
            )
        )
    return template
