"""Random triggers and inputs against every shipped playbook (hypothesis stateful testing).

Invariants after every step: the state is a state of the playbook; a refused trigger changed
nothing; the audit chain verifies; outbox rows exist only for committed events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from crisisflow import audit, catalogue, models
from crisisflow.app import App
from crisisflow.config import load_settings, shipped
from crisisflow.errors import CrisisflowError

from .conftest import FakeClock

PLAYBOOKS = sorted(p.stem for p in shipped("playbooks").glob("*.yaml"))
PEOPLE = ["chu-tich", "pho-chu-tich", "truc-ban", "truong-phong-vhtt", None]
VALUES = [
    "ubnd-cua-tung",
    "chu-tich",
    "L1",
    "L3",
    "press",
    "press_release",
    "true",
    "Đã xác minh: không có thiệt hại.",
    "https://example.com/a",
    "bad\nvalue",
    "",
]


def rows(app: App) -> dict[str, list[Any]]:
    with app.store.reading() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
            for t in models.metadata.sorted_tables
        }


def run_machine(workspace: Path, playbook_id: str) -> None:
    playbook = catalogue.load_file(workspace / "playbooks" / f"{playbook_id}.yaml")
    triggers = sorted({t.trigger for t in playbook.transitions} | {"no_such_trigger"})
    fact_names = [*sorted(playbook.facts), "unknown_fact"]

    class Incidents(RuleBasedStateMachine):
        @initialize()
        def open_incident(self) -> None:
            self.app = App(load_settings(workspace), clock=FakeClock())
            self.ref = self.app.incidents.open(
                playbook_id, "Tin đồn trên mạng xã hội", actor=self.app.identify()
            ).ref

        @rule(
            trigger=st.sampled_from(triggers),
            actor=st.sampled_from(PEOPLE),
            note=st.sampled_from([None, "Ghi chú.", "x\r\nBcc: a@b.c"]),
            given=st.dictionaries(st.sampled_from(fact_names), st.sampled_from(VALUES), max_size=2),
        )
        def fire(
            self, trigger: str, actor: str | None, note: str | None, given: dict[str, str]
        ) -> None:
            before = rows(self.app)
            try:
                who = self.app.identify(actor)
                self.app.incidents.advance(self.ref, trigger, note=note, given=given, actor=who)
            except CrisisflowError:
                assert rows(self.app) == before, "a refused command changed the database"

        @invariant()
        def state_is_a_playbook_state(self) -> None:
            assert self.app.records.show(self.ref)["state"] in playbook.states

        @invariant()
        def audit_chain_verifies_and_mail_belongs_to_events(self) -> None:
            with self.app.store.reading() as conn:
                events = [
                    r._mapping
                    for r in conn.execute(
                        sa.select(models.events).order_by(
                            models.events.c.incident_id, models.events.c.seq
                        )
                    )
                ]
                orphan = conn.execute(
                    sa.select(sa.func.count())
                    .select_from(models.outbox)
                    .where(models.outbox.c.event_id.not_in(sa.select(models.events.c.id)))
                ).scalar()
            mine = [e for e in events if e["incident_id"] == events[-1]["incident_id"]]
            assert audit.first_broken(self.ref, mine) is None
            assert orphan == 0

        def teardown(self) -> None:
            if hasattr(self, "app"):
                self.app.close()

    Incidents.TestCase.settings = settings(
        max_examples=12,
        stateful_step_count=20,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Incidents.TestCase().runTest()


@pytest.mark.parametrize("playbook_id", PLAYBOOKS)
def test_random_triggers_keep_the_invariants(workspace: Path, playbook_id: str) -> None:
    run_machine(workspace, playbook_id)
