"""Hypothesis plays every shipped playbook the way staff would, against a model of each step.

A step fires a trigger allowed in the incident's state, with valid values for what it requires
and an actor who holds the roles its guards need (after the statement steps those guards need:
an edit, a submission, an approval). The model predicts the outcome from the playbook and the
directory alone: the destination, the stamps, exactly one transition event, the e-mails its
notify steps address (and the press list when a press statement is published), the clocks the
state starts and stops, the statements' status, a hash chain that verifies. Other steps try what
must be refused (a trigger not allowed now, the wrong person, a missing or malformed input, a
role fact set by a step that does not assign it, an approval by a non-approver) and check that
not one row of any table changed.

The states reached are printed in the terminal summary. With ``CI`` set the walks are longer
and every state of every shipped playbook must have been reached.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from hypothesis import HealthCheck, Phase, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    rule,
    run_state_machine_as_test,
)

from crisisflow import audit, models
from crisisflow.app import App
from crisisflow.config import load_settings, shipped
from crisisflow.errors import InvalidInput, NotFoundError, TransitionRefused
from crisisflow.playbook import Fact, Playbook, Step, Transition

from .conftest import START, FakeClock, own

# A blank a draft leaves for a person to fill: a bracketed instruction or a dotted leader.
BLANK = re.compile(r"\[[^\]\n]*\]|…{2,}|\.{4,}")

# --- the engine, reached only through these functions (switch them when its API changes) ------


def build_app(workspace: Path, clock: FakeClock) -> App:
    return App(load_settings(workspace), clock=clock)


def close_app(app: App) -> None:
    app.close()


def default_actor(workspace: Path) -> str | None:
    """Who acts when a command names nobody: the workspace's ``actor`` setting."""
    return load_settings(workspace)["actor"] or None


def load_playbook(app: App, playbook_id: str) -> Playbook:
    return app.catalogue.load(playbook_id)


@dataclass(frozen=True)
class StatementPolicy:
    """What the playbook says of its statements: the role that approves or rejects, the roles
    that publish, what a written authorisation grants, the kinds mailed to the press."""

    approver: str
    publishers: tuple[str, ...]
    grants: tuple[str, ...]
    press: tuple[str, ...]
    to_requester: tuple[str, ...]  # mailed to the address the requester fact holds
    requester: str | None
    to_roles: Mapping[str, tuple[str, ...]]  # mailed to whoever fills these roles


def statement_policy(playbook: Playbook) -> StatementPolicy:
    policy = playbook.policy
    return StatementPolicy(
        str(policy.approver),
        tuple(policy.publishers),
        tuple(policy.grants),
        tuple(policy.press),
        tuple(policy.to_requester),
        policy.requester_fact,
        dict(policy.to_roles),
    )


def open_incident(
    app: App, playbook_id: str, title: str, *, given: dict[str, str], actor: str | None
) -> str:
    return app.incidents.open(playbook_id, title, given=given, actor=own(app, actor)).ref


def advance(
    app: App,
    ref: str,
    trigger: str,
    *,
    given: dict[str, str],
    note: str | None,
    actor: str | None,
) -> None:
    # Staff confirm, when asked, that they approve a returned text as it is.
    app.incidents.advance(
        ref, trigger, given=given, note=note, actor=own(app, actor), confirm_unchanged=True
    )


# Each signer's block as drafts print it (the directory's signers).
SIGNS = {
    "chu-tich": "\nCHỦ TỊCH\n\nLê Văn An",
    "pho-chu-tich": "\nKT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\n\nTrần Thị Bình",
}


def edit_statement(app: App, ref: str, kind: str, text: str, *, actor: str | None) -> None:
    app.statements.edit(ref, kind, text, actor=own(app, actor))


def submit_statement(app: App, ref: str, kind: str, *, actor: str | None) -> None:
    app.statements.submit(ref, kind, actor=own(app, actor))


def approve_statement(app: App, ref: str, kind: str, *, actor: str | None) -> None:
    app.statements.approve(ref, kind, actor=own(app, actor), confirm_unchanged=True)


def authorise(app: App, ref: str, person: str, until: datetime, *, actor: str) -> None:
    app.statements.authorise(ref, person, until.isoformat(), actor=own(app, actor))


def incident_view(app: App, ref: str) -> dict[str, Any]:
    """The JSON view: state, facts, timestamps, events, messages, deadlines, allowed."""
    return app.records.show(ref)


def statement_statuses(app: App, ref: str) -> dict[str, str]:
    return {s["kind"]: s["status"] for s in app.statements.list(ref)}


def statement_text(app: App, ref: str, kind: str) -> str:
    return str(app.statements.show(ref, kind)["text"])


def table_rows(app: App) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table."""
    with app.store.reading() as conn:
        return {
            t.name: [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key))]
            for t in models.metadata.sorted_tables
        }


def stored_chain(app: App, ref: str) -> tuple[list[Mapping[str, Any]], str]:
    """The incident's stored events in order, and the head hash its row records."""
    i, e = models.incidents, models.events
    with app.store.reading() as conn:
        head = conn.execute(sa.select(i.c.id, i.c.head_hash).where(i.c.ref == ref)).one()
        rows = conn.execute(sa.select(e).where(e.c.incident_id == head.id).order_by(e.c.seq))
        return [dict(r._mapping) for r in rows], str(head.head_hash)


# --- the model ---------------------------------------------------------------------------------

PLAYBOOKS = sorted(p.stem for p in shipped("playbooks").glob("*.yaml"))
REACHED: dict[str, set[str]] = {}  # playbook id → the states walks entered, for the summary
STATES: dict[str, list[str]] = {}  # playbook id → all its states

# Walks per playbook on SQLite; PostgreSQL runs a quarter of them. With CI set the walks are
# many more, and the same on every run: reaching every state is then not a matter of luck.
# Locally a failing walk is reported as it was generated, every step with its draws: shrinking
# replays whole walks against the database, for up to five minutes a test. CI shrinks.
settings.register_profile(
    "stateful",
    max_examples=4,
    stateful_step_count=40,
    deadline=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "stateful-ci",
    max_examples=30,
    stateful_step_count=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)

STATEMENT_ACTIONS = {
    "submit_statement": "submitted",
    "approve_statement": "approved",
    "reject_statement": "rejected",
    "publish_statement": "published",
}
# A playbook step takes submitting or approving what already is so as done.
ALREADY = {("submitted", "submitted"), ("submitted", "approved"), ("approved", "approved")}
RUNNING = ("running", "overdue")
TITLES = ["Báo điện tử phản ánh sạt lở bờ kè Cửa Tùng", "Tin đồn cắt điện toàn huyện"]
NOTES = ["Đã trao đổi với đơn vị.", "Ý kiến trái chiều trên mạng xã hội;\nđã báo cáo."]
WAITS = [0, 0, 0, 20, 90, 150, 60 * 25]  # minutes between one step and the next
# Good values by fact type: as typed on the command line, as stored.
GOOD: dict[str, list[tuple[str, Any]]] = {
    "text": [("Dự thảo quy định mức thu phí", "Dự thảo quy định mức thu phí"), ("KC-1", "KC-1")],
    "longtext": [(n, n) for n in NOTES],
    "url": [("https://vinhlinh.example/tin/1", "https://vinhlinh.example/tin/1")],
    "email": [("lienhe@vinhlinh.example", "lienhe@vinhlinh.example")],
    "integer": [("1200", 1200), ("0", 0)],
    "boolean": [("true", True), ("không", False)],
    "datetime": [("2026-12-30T17:00+07:00", "2026-12-30T10:00:00+00:00")],
}
BAD: dict[str, list[str]] = {
    "text": ["hai\ndòng", "chuông\x07"],
    "longtext": ["nul\x00"],
    "url": ["javascript:alert(1)", "vinhlinh.example"],
    "email": ["không-phải-địa-chỉ"],
    "integer": ["nhiều"],
    "boolean": ["có lẽ"],
    "datetime": ["hôm qua"],
    "choice": ["không-có"],
    "person": ["nobody"],
    "unit": ["no-such-unit"],
}


class Org:
    """Who is who, read by this test straight from the workspace's directory.yaml."""

    def __init__(self, path: Path) -> None:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.units = {uid: spec["email"] for uid, spec in data["units"].items()}
        self.people: dict[str, dict[str, Any]] = data["people"]
        self.bindings = {
            role: [members] if isinstance(members, str) else list(members)
            for role, members in (data.get("roles") or {}).items()
        }
        self.press = [entry["email"] for entry in data.get("press") or []]

    def email(self, member: str) -> str:
        return self.units.get(member) or str(self.people[member]["email"])

    def roles_of(self, person: str) -> set[str]:
        spec = self.people.get(person, {})
        held = set(spec.get("roles", []))
        for role, members in self.bindings.items():
            if person in members or spec.get("unit") in members:
                held.add(role)
        return held

    def members(self, role: str) -> list[str]:
        bound = self.bindings.get(role, [])
        listed = [p for p, spec in self.people.items() if role in spec.get("roles", [])]
        return bound + [p for p in listed if p not in bound]


@dataclass
class Incident:
    """What the model knows of the incident under test."""

    ref: str
    state: str
    facts: dict[str, Any]
    stamps: set[str] = field(default_factory=set)
    statuses: dict[str, str] = field(default_factory=dict)  # statement kind → status
    authorised: list[tuple[str, datetime, datetime]] = field(default_factory=list)
    visited: set[str] = field(default_factory=set)


@dataclass
class Expected:
    """A step's predicted outcome."""

    trigger: str | None
    from_state: str | None
    to_state: str
    actor: str | None
    note: str | None
    facts: dict[str, Any]
    stamps: set[str]
    statuses: dict[str, str]
    mails: Counter[tuple[str, str]]
    closes: dict[str, str] = field(default_factory=dict)  # clock → outcome the step decides


def effects(playbook: Playbook, transition: Transition | None, dest: str) -> list[Step]:
    """A step's actions in the order the engine carries them out: the transition's, then the
    entered state's on_enter (also when a transition loops back to its own state)."""
    return [*(transition.actions if transition else ()), *playbook.states[dest].on_enter]


def walk_machine(
    app: App,
    clock: FakeClock,
    playbook: Playbook,
    org: Org,
    fallback_actor: str | None,
    reached: set[str],
) -> type[RuleBasedStateMachine]:
    """A RuleBasedStateMachine that walks incidents of ``playbook`` on ``app``, adding the
    states it enters to ``reached``."""
    people: list[str | None] = [None, *sorted(org.people)]  # None: nobody named, the default
    triggers = sorted({t.trigger for t in playbook.transitions} | {"no_such_trigger"})
    drafted = {s.arg["kind"] for s in playbook.steps() if s.kind == "draft"}
    policy = statement_policy(playbook)
    limits = app.clock_keeper.pack.limits
    # Facts that fill a role (a spokesperson): only a step that requires one may set it.
    role_facts = {
        n for n, f in playbook.facts.items() if f.type in ("person", "unit") and n in playbook.roles
    }
    free_facts = sorted(set(playbook.facts) - role_facts)

    class Walk(RuleBasedStateMachine):
        incident: Incident

        @initialize(data=st.data())
        def open_first(self, data: st.DataObject) -> None:
            clock.now = START
            self.open_incident(data)

        @rule(data=st.data())
        def step(self, data: st.DataObject) -> None:
            """What staff do next, mostly moving the incident on. One rule that chooses, not a
            rule each: Hypothesis switches rules off at random per walk (swarm testing), and a
            walk without its moving rule would go nowhere."""
            if self.final:
                choices = ["open_another"] * 2 + ["try_what_must_be_refused"]
            else:
                choices = ["fire_an_allowed_trigger"] * 6 + ["try_what_must_be_refused"] * 3
                if self.editable():
                    choices.append("edit_a_statement")
                if not self.holds("pho-chu-tich", policy.approver):
                    choices.append("authorise_the_deputy")
            getattr(self, data.draw(st.sampled_from(choices), "step"))(data)

        # --- staff at work -----------------------------------------------------------------

        def open_another(self, data: st.DataObject) -> None:
            self.open_incident(data)

        def fire_an_allowed_trigger(self, data: st.DataObject) -> None:
            clock.advance(minutes=data.draw(st.sampled_from(WAITS), "minutes later"))
            transition = data.draw(st.sampled_from(self.onward()), "transition")
            given, note, facts = self.draw_inputs(data, transition)
            actor = data.draw(st.sampled_from(self.actors(transition, True)), "actor")
            self.prepare_statements(data, transition, actor)
            before = incident_view(app, self.ref)
            expected = self.predict(transition, facts, set(), actor, note)
            advance(app, self.ref, transition.trigger, given=given, note=note, actor=actor)
            self.check(before, expected)

        def edit_a_statement(self, data: st.DataObject) -> None:
            kind = data.draw(st.sampled_from(self.editable()), "kind")
            self.edit(kind, data.draw(st.sampled_from(people), "editor"))
            assert statement_statuses(app, self.ref)[kind] == "draft", "an edit voids approval"

        def authorise_the_deputy(self, data: st.DataObject) -> None:
            until = clock.now + timedelta(hours=data.draw(st.integers(1, 8), "hours"))
            authorise(app, self.ref, "pho-chu-tich", until, actor="chu-tich")
            self.incident.authorised.append(("pho-chu-tich", clock.now, until))
            self.incident.statuses["authorisation"] = "draft"

        # --- staff mistakes: refused, and not one row changed ------------------------------

        def try_what_must_be_refused(self, data: st.DataObject) -> None:
            attempts = {
                "trigger not allowed now": self.wrong_trigger,
                "malformed input": self.malformed_input,
                "unknown person": self.unknown_person,
            }
            if self.guarded():
                attempts["actor without the role"] = self.wrong_actor
            if self.missing_inputs():
                attempts["required input missing"] = self.missing_input
            if self.unapproved():
                attempts["approval by a non-approver"] = self.approval_by_non_approver
            if self.unassigning():
                attempts["role set by a step that does not assign it"] = self.self_appointment
            name = data.draw(st.sampled_from(sorted(attempts)), "mistake")
            attempt, error = attempts[name](data)
            before = table_rows(app)
            with pytest.raises(error):
                attempt()
            assert table_rows(app) == before, f"{name}: a refused command changed the database"

        def wrong_trigger(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            allowed = {t.trigger for t in playbook.transitions_from(self.incident.state)}
            trigger = data.draw(st.sampled_from([t for t in triggers if t not in allowed]))
            return self.attempt(trigger, {}, NOTES[0], "chu-tich"), TransitionRefused

        def malformed_input(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            name = data.draw(st.sampled_from([*playbook.facts, "no_such_fact", "--note"]))
            trigger = data.draw(st.sampled_from(triggers), "trigger")
            note, given = NOTES[0], {}
            if name == "--note":
                note = "chuông\x07"
            elif name == "no_such_fact":
                given = {name: "x"}
            else:
                given = {name: data.draw(st.sampled_from(BAD[playbook.facts[name].type]))}
            return self.attempt(trigger, given, note, None), InvalidInput

        def unknown_person(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            trigger = data.draw(st.sampled_from(triggers), "trigger")
            return self.attempt(trigger, {}, NOTES[0], "nobody"), NotFoundError

        def wrong_actor(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            transition = data.draw(st.sampled_from(self.guarded()), "transition")
            given, note, _facts = self.draw_inputs(data, transition)
            actor = data.draw(st.sampled_from(self.actors(transition, False)), "actor")
            self.prepare_statements(data, transition, actor)
            return self.attempt(transition.trigger, given, note, actor), TransitionRefused

        def missing_input(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            transition = data.draw(st.sampled_from(self.missing_inputs()), "transition")
            given, note, _facts = self.draw_inputs(data, transition)
            missing = [n for n in transition.requires if not self.present(n)]
            left_out = data.draw(st.sampled_from(missing), "left out")
            if left_out == "note":
                note = data.draw(st.sampled_from([None, "", "   "]), "empty note")
            else:
                del given[left_out]
            actor = data.draw(st.sampled_from(self.actors(transition, True)), "actor")
            self.prepare_statements(data, transition, actor)
            return self.attempt(transition.trigger, given, note, actor), TransitionRefused

        def self_appointment(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            transition = data.draw(st.sampled_from(self.unassigning()), "transition")
            given, note, _facts = self.draw_inputs(data, transition)
            name = data.draw(st.sampled_from(sorted(role_facts - set(transition.requires))), "role")
            # The approver may designate who fills a role at any step; anyone else may not.
            others = [
                a for a in self.actors(transition, True) if not self.holds(a, policy.approver)
            ]
            assume(others)
            actor = data.draw(st.sampled_from(others), "actor")
            raw, _value = data.draw(st.sampled_from(self.good(playbook.facts[name])), name)
            self.prepare_statements(data, transition, actor)
            given[name] = raw
            return self.attempt(transition.trigger, given, note, actor), InvalidInput

        def approval_by_non_approver(self, data: st.DataObject) -> tuple[Callable[[], None], type]:
            kind = data.draw(st.sampled_from(self.unapproved()), "kind")
            who = [p for p in people if not self.holds(p, policy.approver)]
            actor = data.draw(st.sampled_from(who), "actor")
            return lambda: approve_statement(app, self.ref, kind, actor=actor), TransitionRefused

        def attempt(
            self, trigger: str, given: dict[str, str], note: str | None, actor: str | None
        ) -> Callable[[], None]:
            return lambda: advance(app, self.ref, trigger, given=given, note=note, actor=actor)

        # --- the model -----------------------------------------------------------------------

        @property
        def ref(self) -> str:
            return self.incident.ref

        @property
        def facts(self) -> dict[str, Any]:
            return self.incident.facts

        @property
        def final(self) -> bool:
            return playbook.states[self.incident.state].final

        def present(self, name: str) -> bool:
            return name != "note" and self.facts.get(name) not in (None, "")

        def good(self, fact: Fact) -> list[tuple[str, Any]]:
            if fact.type == "choice":
                return [(c, c) for c in fact.choices]
            if fact.type == "person" and fact.holds:  # only someone who holds the role now
                return [(p, p) for p in sorted(org.people) if self.qualified(p, fact.holds)]
            if fact.type == "person":
                return [(p, p) for p in sorted(org.people)]
            if fact.type == "unit":
                return [(u, u) for u in sorted(org.units)]
            return GOOD[fact.type]

        def draw_values(
            self, data: st.DataObject, names: list[str], facts: dict[str, Any]
        ) -> tuple[dict[str, str], dict[str, Any]]:
            given, facts = {}, dict(facts)
            for name in names:
                raw, value = data.draw(st.sampled_from(self.good(playbook.facts[name])), name)
                given[name], facts[name] = raw, value
            return given, facts

        def draw_inputs(
            self, data: st.DataObject, transition: Transition
        ) -> tuple[dict[str, str], str | None, dict[str, Any]]:
            """Valid values for what ``transition`` requires and its fact guards test, now and
            then another fact too, or one given again (a role only by a step that requires
            it); a note when it needs one."""
            names = {n for n in transition.requires if n != "note" and not self.present(n)}
            names |= {g.arg for g in transition.guards if g.kind == "fact_set"}
            settable = sorted({*free_facts, *(role_facts & set(transition.requires))})
            names |= data.draw(st.sets(st.sampled_from(settable), max_size=2))
            given, facts = self.draw_values(data, sorted(names), self.facts)
            for guard in transition.guards:
                if guard.kind == "fact_in":
                    name, values = guard.arg["fact"], guard.arg["values"]
                    value = data.draw(st.sampled_from(values), name)
                    given[name], facts[name] = str(value), value
            if "note" in transition.requires:
                note: str | None = data.draw(st.sampled_from(NOTES), "note")
            else:
                note = data.draw(st.sampled_from([None, *NOTES]), "note")
            return given, note, facts

        def holds(self, person: str | None, role: str) -> bool:
            """Whether ``person`` holds ``role`` for this incident now: in the directory, as
            the incident's person fact named for the role, or by a valid authorisation."""
            who = person or fallback_actor
            if who is None:
                return False  # the login name holds no roles
            fact = playbook.facts.get(role)
            if (
                fact
                and fact.type == "person"
                and role in playbook.roles
                and self.facts.get(role) == who
            ):
                return True
            if role in policy.grants and any(
                holder == who and start <= clock.now < end
                for holder, start, end in self.incident.authorised
            ):
                return True
            return role in org.roles_of(who)

        def qualified(self, person: str, role: str) -> bool:
            """Whether ``person`` may be named to ``role``: it is theirs in the directory, or
            by a written authorisation valid now (never by being named to it)."""
            return role in org.roles_of(person) or (
                role in policy.grants
                and any(
                    holder == person and start <= clock.now < end
                    for holder, start, end in self.incident.authorised
                )
            )

        def needs(self, transition: Transition) -> list[tuple[str, ...]]:
            """Roles an actor must hold one of, each: its actor_is guards, the approver's for a
            step that approves or rejects a statement, a publisher's for one that publishes."""
            needed = [tuple(g.arg) for g in transition.guards if g.kind == "actor_is"]
            if any(s.kind in ("approve_statement", "reject_statement") for s in transition.actions):
                needed.append((policy.approver,))
            if any(s.kind == "publish_statement" for s in transition.actions):
                needed.append(policy.publishers)
            return needed

        def actors(self, transition: Transition, able: bool) -> list[str | None]:
            """Those who may fire ``transition`` (``able``), or those who may not, by the roles
            they hold when the command starts."""
            return [
                p
                for p in people
                if able == all(any(self.holds(p, r) for r in rs) for rs in self.needs(transition))
            ]

        def fireable(self) -> list[Transition]:
            """Allowed transitions whose guards some person, input or statement step meets."""
            found = []
            statuses = self.incident.statuses
            for t in playbook.transitions_from(self.incident.state):
                kinds = set(statuses) | {s.arg["kind"] for s in t.actions if s.kind == "draft"}
                if any(g.kind == "stamped" and g.arg not in self.incident.stamps for g in t.guards):
                    continue
                if any(
                    g.kind in ("has_statement", "statement_approved") and g.arg not in statuses
                    for g in t.guards
                ):
                    continue
                if any(s.kind in STATEMENT_ACTIONS and s.arg not in kinds for s in t.actions):
                    continue
                if any(  # what went out does not change: no new round without a new draft
                    s.kind in ("submit_statement", "approve_statement", "reject_statement")
                    and statuses.get(s.arg) == "published"
                    for s in t.actions
                ):
                    continue
                if any(
                    g.kind == "within_limit"
                    and int(self.incident.facts.get(g.arg["count"]) or 0)
                    >= limits[g.arg["limit"]].most
                    for g in t.guards
                ):
                    continue
                if self.actors(t, True):
                    found.append(t)
            return found

        def onward(self) -> list[Transition]:
            """The fireable transitions, those into a state this incident has not seen (and
            that does not end it) four times over: a walk tends onwards, so it gets deep."""
            found = self.fireable()
            assert found, f"{self.incident.state}: no allowed trigger can be fired"
            weighted = []
            for t in found:
                new = t.dest not in self.incident.visited and not playbook.states[t.dest].final
                weighted += [t] * (4 if new else 1)
            return weighted

        def guarded(self) -> list[Transition]:
            return [t for t in self.fireable() if self.needs(t) and self.actors(t, False)]

        def unassigning(self) -> list[Transition]:
            """Fireable transitions that do not require some role fact."""
            return [t for t in self.fireable() if role_facts - set(t.requires)]

        def missing_inputs(self) -> list[Transition]:
            return [t for t in self.fireable() if any(not self.present(n) for n in t.requires)]

        def editable(self) -> list[str]:
            """Drafted statements an edit would change the status of (a published one is
            frozen)."""
            return sorted(
                k
                for k, s in self.incident.statuses.items()
                if k in drafted and s not in ("draft", "published")
            )

        def unapproved(self) -> list[str]:
            return sorted(
                k
                for k, s in self.incident.statuses.items()
                if k in drafted and s in ("draft", "submitted", "rejected")
            )

        def edit(self, kind: str, actor: str | None) -> None:
            text = statement_text(app, self.ref, kind)
            edit_statement(app, self.ref, kind, text + "Bổ sung số hộ bị ảnh hưởng.\n", actor=actor)
            self.incident.statuses[kind] = "draft"

        def make_approved(self, data: st.DataObject, kind: str) -> None:
            """Bring ``kind`` to approved the way staff would: submit, have an approver
            approve (a published text counts as approved, and stays as it went out)."""
            if self.incident.statuses[kind] in ("approved", "published"):
                return
            self.fill_blanks(kind)
            if self.incident.statuses[kind] != "submitted":
                submit_statement(app, self.ref, kind, actor=data.draw(st.sampled_from(people)))
            approvers = [p for p in people if self.holds(p, policy.approver)]
            approver = data.draw(st.sampled_from(approvers))
            if self.sign_for(kind, approver):
                self.resubmit(kind)
            approve_statement(app, self.ref, kind, actor=approver)
            self.incident.statuses[kind] = "approved"

        def sign_for(self, kind: str, person: str | None) -> bool:
            """Put the approver's own signer block in place of another's (the Vice-Chairman
            signs KT. CHỦ TỊCH), as the office edits the text for them; say if it did."""
            text = statement_text(app, self.ref, kind)
            own = SIGNS.get(person or "")
            other = next((b for b in SIGNS.values() if b != own and b in text), None)
            if own is None or own in text or other is None:
                return False
            edit_statement(app, self.ref, kind, text.replace(other, own), actor=None)
            self.incident.statuses[kind] = "draft"
            return True

        def resubmit(self, kind: str) -> None:
            """Submit ``kind`` again after the office re-laid it for its signer."""
            if statement_statuses(app, self.ref)[kind] != "submitted":
                submit_statement(app, self.ref, kind, actor=None)
            self.incident.statuses[kind] = "submitted"

        def fill_blanks(self, kind: str) -> None:
            """Write in what a draft left blank ([…], dotted leaders): no approver signs it."""
            text = statement_text(app, self.ref, kind)
            filled = BLANK.sub("đã bổ sung", text)
            if filled != text:
                edit_statement(app, self.ref, kind, filled, actor=None)
                self.incident.statuses[kind] = "draft"

        def prepare_statements(
            self, data: st.DataObject, transition: Transition, actor: str | None
        ) -> None:
            """The statement steps the transition's guards and actions need first; a text
            ``actor`` approves by the step is laid out for their signature."""
            for guard in transition.guards:
                if guard.kind == "statement_approved":
                    self.make_approved(data, guard.arg)
            for step in transition.actions:
                if step.kind not in STATEMENT_ACTIONS:
                    continue
                status = self.incident.statuses[step.arg]
                if step.kind == "publish_statement" and status != "approved":
                    self.make_approved(data, step.arg)
                if step.kind == "approve_statement":
                    self.fill_blanks(step.arg)
                    was = self.incident.statuses[step.arg]
                    if self.sign_for(step.arg, actor) and was == "submitted":
                        self.resubmit(step.arg)

        def addressed(self, roles: tuple[str, ...], facts: dict[str, Any]) -> list[str]:
            """The addresses one notify step writes to, each once: the incident's own fact
            for a role named like one, else the directory's members of the role."""
            found: list[str] = []
            for role in roles:
                fact, bound = playbook.facts.get(role), facts.get(role)
                if fact is not None and fact.type in ("person", "unit") and bound:
                    members = [bound]
                else:
                    members = org.members(role)
                found += [e for e in map(org.email, members) if e not in found]
            return found

        def predict(
            self,
            transition: Transition | None,
            facts: dict[str, Any],
            stamps: set[str],
            actor: str | None,
            note: str | None,
        ) -> Expected:
            dest = transition.dest if transition else playbook.initial
            statuses = dict(self.incident.statuses) if transition else {}
            mails: Counter[tuple[str, str]] = Counter()
            closes: dict[str, str] = {}
            for step in effects(playbook, transition, dest):
                if step.kind == "close_clock":
                    closes[step.arg["clock"]] = step.arg["as"]
                elif step.kind == "stamp":
                    stamps = stamps | {step.arg}
                elif step.kind == "notify":
                    template = step.arg["template"]
                    mails.update((e, template) for e in self.addressed(step.arg["to"], facts))
                elif step.kind == "draft":
                    if statuses.get(step.arg["kind"]) in (None, "published"):
                        statuses[step.arg["kind"]] = "draft"  # a new one: what went out stays
                elif step.kind == "count":
                    facts = {**facts, step.arg: int(facts.get(step.arg) or 0) + 1}
                elif step.kind in STATEMENT_ACTIONS:
                    action = STATEMENT_ACTIONS[step.kind]
                    if (action, statuses[step.arg]) in ALREADY:
                        continue
                    if action == "published" and step.arg in policy.press:
                        mails.update((e, "press") for e in org.press)
                    elif action == "published" and step.arg in policy.to_requester:
                        mails.update([(facts[str(policy.requester)], "requester")])
                    elif action == "published" and step.arg in policy.to_roles:
                        roles = policy.to_roles[step.arg]
                        mails.update((e, "to-roles") for e in self.addressed(roles, facts))
                    statuses[step.arg] = action
            return Expected(
                transition.trigger if transition else None,
                self.incident.state if transition else None,
                dest,
                actor or fallback_actor,
                note,
                facts,
                stamps,
                statuses,
                mails,
                closes,
            )

        def open_incident(self, data: st.DataObject) -> None:
            names = data.draw(st.sets(st.sampled_from(free_facts)), "facts")
            names |= {n for n, f in playbook.facts.items() if f.required}  # open insists
            given, facts = self.draw_values(data, sorted(names), {})
            facts = {n: f.default for n, f in playbook.facts.items() if f.default is not None} | (
                facts
            )
            actor = data.draw(st.sampled_from(people), "actor")
            title = data.draw(st.sampled_from(TITLES), "title")
            expected = self.predict(
                None, facts, {"opened_at", "occurred_at", "received_at"}, actor, None
            )
            ref = open_incident(app, playbook.id, title, given=given, actor=actor)
            self.incident = Incident(ref, playbook.initial, facts)
            self.check({}, expected)

        def check(self, before: dict[str, Any], expected: Expected) -> None:
            """The incident now against ``expected``; then the model moves on."""
            after = incident_view(app, self.ref)
            dest = playbook.states[expected.to_state]
            reached.add(after["state"])
            assert after["state"] == expected.to_state
            assert after["final"] == dest.final and (after["closed_at"] is not None) == dest.final
            assert [a["trigger"] for a in after["allowed"]] == [
                t.trigger for t in playbook.transitions_from(dest.name)
            ]
            assert after["facts"] == expected.facts

            # Exactly one new event, the transition's (or the opening's), and a sound chain.
            events = after["events"]
            assert len(events) == len(before.get("events", [])) + 1
            event = events[-1]
            assert (event["kind"], event["trigger"], event["from"], event["to"]) == (
                "transition" if expected.trigger else "opened",
                expected.trigger,
                expected.from_state,
                expected.to_state,
            )
            assert event["note"] == expected.note
            if expected.actor:
                assert event["actor"] == expected.actor
            else:
                assert event["actor"].startswith("user:")
            stored, head = stored_chain(app, self.ref)
            assert audit.first_broken(self.ref, stored) is None and stored[-1]["hash"] == head

            # The stamps the step declares, recorded now; those recorded before, untouched.
            old, new = before.get("timestamps", {}), after["timestamps"]
            assert {k: v for k, v in new.items() if k in old} == old
            assert set(new) == set(old) | expected.stamps
            assert all(datetime.fromisoformat(new[k]) == clock.now for k in set(new) - set(old))

            # E-mail exactly as its notify steps (and a press publication) address it.
            seen = {m["id"] for m in before.get("messages", [])}
            queued = [m for m in after["messages"] if m["id"] not in seen]
            assert Counter((m["to"], m["template"]) for m in queued) == expected.mails
            assert all(m["status"] == "pending" for m in queued)

            # Clocks: started on entering, closed as the step decides, stopped where the state says,
            # cancelled at the end.
            was = {d["clock"]: d["status"] for d in before.get("deadlines", [])}
            now = {d["clock"]: d["status"] for d in after["deadlines"]}
            starts = {  # a clock the state starts `when` a fact says so, only then
                c
                for c in dest.deadlines
                if c not in dest.deadline_when
                or str(expected.facts.get(dest.deadline_when[c][0])) in dest.deadline_when[c][1]
            }
            assert starts <= set(now) <= set(was) | starts
            for name, status in was.items():
                if status not in RUNNING:
                    assert now[name] == status, name
                elif name in expected.closes:  # decided: nothing owed, never met
                    assert now[name] == expected.closes[name], name
                elif name in dest.stop_clocks:
                    assert now[name] == ("met" if status == "running" else "missed"), name
                elif dest.final:
                    assert now[name] == "cancelled", name
                else:
                    assert now[name] == status, name

            assert statement_statuses(app, self.ref) == expected.statuses
            self.incident.state, self.incident.facts = dest.name, expected.facts
            self.incident.stamps, self.incident.statuses = set(new), expected.statuses
            self.incident.visited.add(dest.name)

    return Walk


@pytest.fixture(scope="module", autouse=True)
def states_reached_summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """Print, in the terminal summary, how many states of each playbook the walks reached."""

    class Summary:
        @staticmethod
        def pytest_terminal_summary(terminalreporter: Any) -> None:
            terminalreporter.write_sep("-", "states reached by tests/test_stateful.py")
            for playbook_id, states in sorted(REACHED.items()):
                every = STATES[playbook_id]
                missing = [s for s in every if s not in states]
                terminalreporter.write_line(
                    f"{playbook_id}: {len(every) - len(missing)}/{len(every)} states"
                    + (f"; not reached: {', '.join(missing)}" if missing else "")
                )

    manager = request.config.pluginmanager
    if not manager.has_plugin("crisisflow-states-reached"):
        manager.register(Summary(), "crisisflow-states-reached")
    yield


@pytest.mark.parametrize("playbook_id", PLAYBOOKS)
def test_walks_through_allowed_triggers_match_the_model(
    workspace: Path, db_url: str, playbook_id: str
) -> None:
    ci = bool(os.environ.get("CI"))
    walks = settings.get_profile("stateful-ci" if ci else "stateful")
    on_sqlite = db_url.startswith("sqlite")
    if not on_sqlite:
        walks = settings(walks, max_examples=max(2, walks.max_examples // 4))
    clock = FakeClock()
    app = build_app(workspace, clock)
    reached: set[str] = set()
    try:
        playbook = load_playbook(app, playbook_id)
        org = Org(workspace / "directory.yaml")
        machine = walk_machine(app, clock, playbook, org, default_actor(workspace), reached)
        run_state_machine_as_test(machine, settings=walks)
    finally:
        close_app(app)
        STATES[playbook_id] = list(playbook.states)
        REACHED.setdefault(playbook_id, set()).update(reached)
    if ci and on_sqlite:
        missing = [s for s in playbook.states if s not in reached]
        assert not missing, f"{playbook_id}: no walk reached {', '.join(missing)}"
