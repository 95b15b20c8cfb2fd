"""The clock use cases: the worker's tick (reminders and escalations, each once) and a unit's
acknowledgement of its tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import history, store_clocks, store_incidents
from ..actor import Actor
from ..clock_status import RUNNING
from ..drafting import IncidentView, view_of
from ..errors import ConfigError, ConflictError, InvalidInput, NotFoundError
from ..i18n import _
from .lookup import incident_row

if TYPE_CHECKING:
    from . import App


class ClockCases:
    def __init__(self, app: App) -> None:
        self.app = app

    def _incident(self, conn: Any, incident_id: int) -> IncidentView:
        row = store_incidents.incident_by_id(conn, incident_id)
        return view_of(row, self.app.catalogue.pinned(conn, row.playbook_hash))

    def tick(
        self, limit: int = 500, on_problem: Callable[[ConfigError], None] | None = None
    ) -> list[dict[str, Any]]:
        """Send every reminder and escalation that is due, once; safe to run any number of
        times and from several workers at once. A clock whose playbook cannot say how to
        notify is put back by one escalation interval and told to ``on_problem`` (raised
        after the others are sent, when nobody listens); the other clocks go on."""
        app = self.app
        keeper, drafter = app.clock_keeper, app.drafter  # loaded before any transaction
        now = app.clock()
        with app.store.reading() as conn:
            due_ids = store_clocks.deadlines_due(conn, now, limit)
        sent: list[dict[str, Any]] = []
        problem: ConfigError | None = None
        for deadline_id in due_ids:
            try:
                with app.store.writing() as conn:
                    sent += keeper.notify(conn, deadline_id, now, self._incident, drafter)
            except ConflictError:
                continue  # another worker sent these first
            except ConfigError as exc:  # one playbook's mistake must not silence the others
                self._postpone(deadline_id, now + keeper.policy.escalation_interval)
                if on_problem is not None:
                    on_problem(exc)
                problem = problem or exc
        if problem is not None and on_problem is None:
            raise problem
        return sent

    def _postpone(self, deadline_id: int, until: datetime) -> None:
        """Keep a clock that cannot be notified from the head of the queue until ``until``."""
        with self.app.store.writing() as conn:
            store_clocks.update_deadline(conn, deadline_id, {"next_notice_at": until})

    def ack(
        self,
        ref: str,
        unit: str,
        *,
        actor: Actor,
        also: Callable[[Any], None] | None = None,
        clockless: bool = False,
    ) -> list[str]:
        """Record that ``unit`` took on its tasks in incident ``ref``: its running clocks get
        no more reminders (escalation, if one runs out, still happens). ``also(conn)`` runs
        in the same transaction (spending the e-mailed link that asked for it). With
        ``clockless``, a task no clock measures (a review asked of the legal office) is
        acknowledged too, in the history only."""
        app = self.app
        directory, drafter = app.directory, app.drafter
        if unit not in directory.units and unit not in directory.people:
            raise NotFoundError(
                _("unknown unit {unit!r}; known: {known}").format(
                    unit=unit, known=", ".join(sorted(directory.units))
                )
            )
        now = app.clock()
        with app.store.writing() as conn:
            row = incident_row(conn, ref, lock=True)
            incident = view_of(row, app.catalogue.pinned(conn, row.playbook_hash))
            owned = [
                d
                for d in store_clocks.deadlines_of(conn, row.id)
                if d.status == RUNNING
                and d.acknowledged_at is None
                and d.owner
                and unit in {r.id for r in drafter.recipients(d.owner, incident)}
            ]
            if not owned and not clockless:
                raise InvalidInput(
                    _("{ref}: {unit} owns no running task that awaits acknowledgement").format(
                        ref=row.ref, unit=unit
                    )
                )
            event = history.next_event(
                row,
                at=now,
                actor=actor.person,
                kind="acknowledged",
                note=_("{unit} acknowledged").format(unit=unit),
                data={"unit": unit, "clocks": [d.clock for d in owned], **actor.audit()},
            )
            history.commit_event(conn, row, event)
            app.clock_keeper.acknowledge(conn, owned, unit, now)
            if also is not None:
                also(conn)
        return [d.clock for d in owned]
