"""The open incidents at a glance, as the web front end's first page shows them: state and who
owns it, the clocks running with their time left, and mail that could not be delivered."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .. import authority, clock_status, store_clocks, store_incidents, store_statements
from ..refs import clean_ref

if TYPE_CHECKING:
    from . import App


class Board:
    def __init__(self, app: App) -> None:
        self.app = app

    def stamp(self, ref: str | None = None) -> tuple[Any, ...] | None:
        """A value that changes whenever incident ``ref``'s page (None: the list of open
        incidents) would show something else, short of the passing time; None when there
        is no such incident. One query: cheaper than the page."""
        with self.app.store.reading() as conn:
            if ref is None:
                return store_incidents.open_stamp(conn)
            return store_incidents.incident_stamp(conn, clean_ref(ref))

    def open_incidents(self, person: str, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """The open incidents in which ``person`` has a role (the directory's, one an
        incident's facts give them or their unit, or one a written authorisation valid now
        gives them), newest first: ``limit`` of them from the ``offset``-th on."""
        app = self.app
        now = app.clock()
        own = app.directory.roles_of(person)
        with app.store.reading() as conn:
            hashes = store_incidents.open_playbooks(conn)
            playbooks = {h: app.catalogue.pinned(conn, h) for h in hashes}
            if all(set(p.roles) & own for p in playbooks.values()):
                # The directory gives them a role in every open incident: no need to look
                # at each incident's facts; the page is read as it is.
                mine = store_incidents.open_incidents(conn, limit, offset)
            else:
                mine = self._theirs(conn, person, own, playbooks, now)[offset : offset + limit]
            clocks = store_clocks.running_of(conn, [r.id for r in mine])
        running: dict[int, list[Any]] = {}
        for clock in clocks:
            running.setdefault(clock.incident_id, []).append(clock)
        return [_row(r, playbooks[r.playbook_hash], running.get(r.id, []), now) for r in mine]

    def _theirs(
        self, conn: Any, person: str, own: frozenset[str], playbooks: dict[str, Any], now: Any
    ) -> list[Any]:
        """The open incidents in which ``person`` has a role, looked at one by one."""
        directory = self.app.directory
        found = directory.people.get(person)
        unit = found.unit if found is not None else None
        authorised = store_statements.authorised_incidents(conn, person, now)
        return [
            r
            for r in store_incidents.open_incidents(conn, MAX_OPEN)
            if set(playbooks[r.playbook_hash].roles)
            & authority.roles_of(
                person, playbooks[r.playbook_hash], r.facts, own, r.id in authorised, unit
            )
        ]


MAX_OPEN = 10_000  # open incidents looked at for one reader's list


def _row(r: Any, playbook: Any, clocks: list[Any], now: Any) -> dict[str, Any]:
    state = playbook.states[r.state]
    return {
        "ref": r.ref,
        "title": r.title,
        "playbook": r.playbook_id,
        "state": r.state,
        "state_title": dict(state.title),
        "owner": state.owner,
        "owner_title": dict(playbook.roles.get(state.owner or "", {})),
        "opened_at": r.opened_at,
        "clocks": clock_status.view(clocks, now),
        "undeliverable": int(r.undeliverable),
    }
