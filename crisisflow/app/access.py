"""Who may come in, and as whom: one-time sign-in links e-mailed to directory people, server-side
web sessions, and the signed "acknowledge" links in task e-mails (the second factor is in
second_factor).

Nothing here trusts a name it is handed. A session or link token is random and only its keyed
hash is stored (signing.keyed_hash), so a copy of the database lets nobody in and a new secret
key signs everyone out and voids every unused link.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .. import actor as actors
from .. import mail, outbox, signing, store_access, store_outbox
from ..actor import Actor
from ..directory import Person
from ..errors import AccessRefused, InvalidInput, NotFoundError, RateLimited
from ..i18n import _

if TYPE_CHECKING:
    from . import App

SIGN_IN_MINUTES = 15
SIGN_IN_TEMPLATE = "access/sign-in"
PRIORITY = 10  # sign-in links and approval requests go out ahead of bulk mail
_TOUCH_SECONDS = 60  # a session's last-seen time is written at most once a minute


@dataclass(frozen=True)
class SignedIn:
    """A valid web session: whose it is, and what a form must carry to change anything."""

    person: str
    name: str
    lang: str
    session_id: int
    session_hash: str  # shown in the audit trail: names the session, not its secret
    csrf: str
    second_factor: bool  # whether the person enrolled one

    def actor(self, client: str) -> Actor:
        return Actor(self.person, actors.WEB_SESSION, session=self.session_hash, client=client)


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie's value; never stored
    person: str
    expires_at: datetime


@dataclass(frozen=True)
class AckLink:
    """What a unit's "acknowledge" link asks for, read back from its signed token."""

    ref: str
    unit: str
    unit_name: str
    task: str
    step: int  # the event that handed the task over
    expires_at: datetime
    nonce: str


# Whom a sign-in mail for an unknown address is drafted to, before it is thrown away.
_NOBODY = Person("", "Người nhận", "", "nobody@invalid.example", None, ())


def sign_in_context(base_url: str, token: str, client: str) -> dict[str, Any]:
    """What the sign-in mail's template is given besides its recipient and organisation."""
    return {
        "sign_in_url": f"{base_url}/sign-in/{token}",
        "minutes": SIGN_IN_MINUTES,
        "client": client,
    }


def _client_key(client: str) -> str:
    return client[:64]


class Access:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def key(self) -> bytes:
        return self.app.secret_key

    def _hash(self, purpose: str, token: str) -> str:
        return signing.keyed_hash(self.key, purpose, token)

    # --- sign-in ---------------------------------------------------------------------------

    def request_sign_in(self, address: str, client: str) -> None:
        """E-mail a one-time sign-in link to the directory person with this address. The
        answer is the same whether or not the address is known; only the rate limit (per
        address and per client) is told."""
        app = self.app
        address = address.strip()
        if not address or len(address) > 320 or any(c in address for c in "\r\n\x00"):
            raise InvalidInput(_("write the e-mail address the directory has for you"))
        person = app.directory.by_email(address)
        drafter, now = app.drafter, app.clock()
        address_hash = self._hash("address", address.casefold())
        limit = app.settings["sign_in_per_hour"]
        # The mail is drafted for an unknown address too, and thrown away: answering sooner
        # would tell which addresses the directory holds.
        token = signing.new_token()
        message = self._sign_in_mail(person or _NOBODY, token, client, now, drafter.sender)
        with app.store.writing() as conn:
            since = now - timedelta(hours=1)
            by_address, by_client = store_access.count_requests(
                conn, since, address_hash, _client_key(client)
            )
            if by_address >= limit or by_client >= 4 * limit:
                raise RateLimited(_("too many sign-in requests; wait an hour and try again"))
            store_access.record_request(conn, address_hash, _client_key(client), now)
            if person is None:
                return
            token_hash = self._hash("sign-in", token)
            store_access.insert_sign_in_link(
                conn,
                {
                    "token_hash": token_hash,
                    "person": person.id,
                    "created_at": now,
                    "expires_at": now + timedelta(minutes=SIGN_IN_MINUTES),
                    "used_at": None,
                },
            )
            rows = outbox.rows([message], None, None, f"sign-in/{token_hash[:24]}", now)
            for row in rows:
                row["priority"] = PRIORITY
            store_outbox.insert_outbox(conn, rows)

    def _sign_in_mail(
        self, person: Person, token: str, client: str, now: datetime, sender: mail.Mailbox
    ) -> dict[str, Any]:
        app = self.app
        context = {
            **sign_in_context(app.settings["base_url"], token, client),
            "recipient": {"name": person.name, "email": person.email},
            "org": dict(app.directory.organisation),
        }
        parts = app.renderer.render(SIGN_IN_TEMPLATE, person.lang, context)
        composed = mail.compose(
            sender=sender,
            recipient=mail.address(person.name, person.email),
            subject=parts["subject"],
            body=parts["body"],
            ref="SIGN-IN",
            when=now,
            lang=person.lang,
        )
        return {
            "message_id": composed.message_id,
            "sender": sender.email,
            "recipient": person.email,
            "recipient_name": person.name,
            "subject": composed.subject,
            "template": SIGN_IN_TEMPLATE,
            "raw": composed.raw,
        }

    def sign_in(self, token: str, client: str, user_agent: str) -> NewSession:
        """Use a sign-in link (once, within its time) and open a session for its person."""
        app = self.app
        now = app.clock()
        cookie = signing.new_token()
        expires = now + timedelta(hours=app.settings["session_max_hours"])
        with app.store.writing() as conn:
            taken = store_access.take_sign_in_link(conn, self._hash("sign-in", token), now)
            if taken is None or taken.person not in app.directory.people:
                raise AccessRefused(
                    _(
                        "this sign-in link was used already, has expired or is not valid; "
                        "ask for a new one"
                    )
                )
            store_access.insert_session(
                conn,
                {
                    "token_hash": self._hash("session", cookie),
                    "person": taken.person,
                    "client": _client_key(client),
                    "user_agent": user_agent[:300],
                    "created_at": now,
                    "last_seen_at": now,
                    "expires_at": expires,
                    "revoked_at": None,
                },
            )
        return NewSession(cookie, taken.person, expires)

    # --- sessions --------------------------------------------------------------------------

    def session(self, cookie: str) -> SignedIn | None:
        """The session this cookie opens, or None (unknown, revoked, idle too long, past its
        absolute lifetime, or its person left the directory)."""
        if not cookie or len(cookie) > 100:
            return None
        app = self.app
        now = app.clock()
        token_hash = self._hash("session", cookie)
        with app.store.reading() as conn:
            row = store_access.session_by_hash(conn, token_hash)
        idle = timedelta(minutes=app.settings["session_idle_minutes"])
        if (
            row is None
            or row.revoked_at is not None
            or row.expires_at <= now
            or row.last_seen_at + idle <= now
            or row.person not in app.directory.people
        ):
            return None
        if (now - row.last_seen_at).total_seconds() >= _TOUCH_SECONDS:
            with app.store.writing() as conn:
                store_access.touch_session(conn, row.id, now)
        person = app.directory.people[row.person]
        return SignedIn(
            person.id,
            person.name,
            person.lang,
            row.id,
            hashlib.sha256(token_hash.encode()).hexdigest()[:16],
            self._hash("csrf", cookie)[:32],
            bool(row.second_factor),
        )

    def csrf_for(self, anonymous: str) -> str:
        """The form token for a visitor not signed in, from their anonymous cookie."""
        return self._hash("csrf-anonymous", anonymous)[:32]

    def sign_out(self, cookie: str) -> None:
        found = self.session(cookie)
        if found is not None:
            self.revoke(ids=[found.session_id])

    def sessions(self, days: int = 30, limit: int = 200) -> list[dict[str, Any]]:
        app = self.app
        now = app.clock()
        with app.store.reading() as conn:
            rows = store_access.sessions(conn, now - timedelta(days=days), limit)
        idle = timedelta(minutes=app.settings["session_idle_minutes"])
        return [
            {
                "id": r.id,
                "person": r.person,
                "client": r.client,
                "user_agent": r.user_agent,
                "created_at": r.created_at,
                "last_seen_at": r.last_seen_at,
                "status": _status(r, now, idle),
            }
            for r in rows
        ]

    def revoke(self, *, ids: list[int] | None = None, person: str | None = None) -> list[int]:
        """End sessions by id, or every session of ``person``."""
        if person is not None:
            self.app.directory.person(person)
        with self.app.store.writing() as conn:
            unknown = sorted(set(ids or []) - store_access.session_ids(conn, ids or []))
            if unknown:
                raise NotFoundError(
                    _("no web session {ids}; see `crisisflow session list`").format(
                        ids=", ".join(map(str, unknown))
                    )
                )
            return store_access.revoke_sessions(
                conn, self.app.clock(), ids=ids or [], person=person
            )

    # --- e-mailed "acknowledge" links -------------------------------------------------------

    def ack_link(self, token: str) -> AckLink:
        """What an acknowledge link asks for; refused if tampered with, used or expired."""
        try:
            link = signing.read_link(self.key, "ack", token)
            ref, unit, task = link.fields["ref"], link.fields["unit"], link.fields["task"]
            step = int(task.rpartition("@")[2])  # a task is "template@event"
        except (signing.BadLink, KeyError, ValueError):
            raise AccessRefused(_("this link is not valid; use the link in the e-mail")) from None
        if link.expires <= self.app.clock():
            raise AccessRefused(_("this link has expired with its task"))
        with self.app.store.reading() as conn:
            if store_access.link_used(conn, link.nonce):
                raise AccessRefused(_("this link was used already"))
        try:
            name = self.app.directory.recipient(unit).name
        except NotFoundError:
            raise AccessRefused(_("this link names a unit the directory no longer has")) from None
        return AckLink(ref, unit, name, task, step, link.expires, link.nonce)

    def ack_by_link(self, token: str, client: str) -> list[str]:
        """Record the acknowledgement the link asks for, "via e-mail link", and spend it."""
        link = self.ack_link(token)
        now = self.app.clock()
        actor = Actor(link.unit, actors.MAIL_LINK, client=client)

        def spend(conn: Any) -> None:
            store_access.use_link(conn, link.nonce, "ack", now)

        return self.app.clocks.ack(
            link.ref, link.unit, actor=actor, also=spend, task_step=link.step
        )


def _status(row: Any, now: datetime, idle: timedelta) -> str:
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now or row.last_seen_at + idle <= now:
        return "expired"
    return "active"
