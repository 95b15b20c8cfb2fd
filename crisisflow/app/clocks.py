"""The clock use cases: the worker's tick (reminders and escalations, each once) and a unit's
acknowledgement of its tasks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import history, store_clocks, store_incidents
from ..actor import Actor
from ..clock_status import RUNNING
from ..errors import ConfigError, ConflictError, InvalidInput, NotFoundError
from ..i18n import _
from ..incident_view import IncidentView, view_of
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
        sent += app.duties.remind(now)  # the recurring duties, reminded the same way
        if problem is not None and on_problem is None:
            raise problem
        return sent

    def _postpone(self, deadline_id: int, until: datetime) -> None:
        """Keep a clock that cannot be notified from the head of the queue until ``until``."""
        with self.app.store.writing() as conn:
            store_clocks.update_deadline(conn, deadline_id, {"next_notice_at": until})

    def _awaiting(
        self, conn: Any, row: Any, incident: IncidentView, unit: str, task_step: int | None
    ) -> list[Any]:
        """The clocks ``unit`` acknowledges: all its running, unacknowledged ones, or with
        ``task_step`` only those the step that handed it the task started."""
        drafter = self.app.drafter
        mine = [
            d
            for d in store_clocks.deadlines_of(conn, row.id)
            if d.owner and unit in {r.id for r in drafter.recipients(d.owner, incident)}
        ]
        owned = [d for d in mine if d.status == RUNNING and d.acknowledged_at is None]
        if task_step is not None:
            started = store_incidents.event_time(conn, row.id, task_step)
            of_task = [d for d in mine if d.entered_at == started]
            owned = [d for d in owned if d in of_task]
            if of_task and not owned:
                raise InvalidInput(
                    _("{ref}: this task of {unit} is done or was acknowledged already").format(
                        ref=row.ref, unit=unit
                    )
                )
            return owned  # none: a task no clock measures, acknowledged in the history
        if not owned:
            raise InvalidInput(
                _("{ref}: {unit} owns no running task that awaits acknowledgement").format(
                    ref=row.ref, unit=unit
                )
            )
        return owned

    def ack(
        self,
        ref: str,
        unit: str,
        *,
        actor: Actor,
        also: Callable[[Any], None] | None = None,
        task_step: int | None = None,
    ) -> list[str]:
        """Record that ``unit`` took on its tasks in incident ``ref``: its running clocks get
        no more reminders (escalation, if one runs out, still happens). ``also(conn)`` runs
        in the same transaction (spending the e-mailed link that asked for it).

        ``task_step`` (an e-mailed link's): the task handed over at that event, and only it.
        Its clocks are those the step started for the unit; a task no clock measures (a
        review asked of the legal office) is acknowledged in the history only; a task whose
        clocks all stopped or were acknowledged is refused."""
        app = self.app
        directory = app.directory
        app.drafter  # noqa: B018 - loaded before the transaction
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
            owned = self._awaiting(conn, row, incident, unit, task_step)
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
