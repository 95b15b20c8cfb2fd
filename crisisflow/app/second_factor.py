"""The TOTP second factor: enrolled from the terminal by people with approval rights, asked for
when they approve or publish on the web. A code works once; five wrong codes in ten minutes
lock the factor for ten minutes (a stolen session cannot guess its way through)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING

from .. import store_access, totp
from ..errors import AccessRefused
from ..i18n import _

if TYPE_CHECKING:
    from . import App

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=10)


class SecondFactor:
    def __init__(self, app: App) -> None:
        self.app = app

    def enrol(self, person_id: str) -> tuple[str, str]:
        """A new TOTP secret for ``person_id`` (replacing any old one): (secret, otpauth URI)."""
        person = self.app.directory.person(person_id)
        secret = totp.new_secret()
        with self.app.store.writing() as conn:
            store_access.save_totp(conn, person.id, secret, self.app.clock())
        issuer = self.app.directory.organisation.get("name", "crisisflow")
        return secret, totp.provisioning_uri(secret, person.email, issuer)

    @contextmanager
    def required(self, person: str, code: str) -> Iterator[None]:
        """Let the block run only with ``person``'s current code, used up by it; a block that
        fails (the text changed, the step was refused) gives the code back. A person who
        enrolled no second factor needs none."""
        spent = self._spend(person, code)
        try:
            yield
        except BaseException:
            if spent is not None:
                with self.app.store.writing() as conn:
                    store_access.restore_totp_step(conn, person, *spent)
            raise

    def _spend(self, person: str, code: str) -> tuple[int, int | None] | None:
        """Use the code up: (its time step, the step used before); refused when wrong, used,
        or locked after too many wrong codes (each wrong code is counted)."""
        now = self.app.clock()
        with self.app.store.writing() as conn:
            enrolled = store_access.totp_of(conn, person)
            if enrolled is None:
                return None
            locked = enrolled.failures >= MAX_FAILURES and enrolled.failed_at + LOCKOUT > now
            step = None if locked else totp.matching_step(enrolled.secret, code, time.time())
            if step is not None and store_access.spend_totp_step(conn, person, step):
                return step, enrolled.last_step
            if not locked:
                store_access.count_totp_failure(conn, person, now, now - LOCKOUT)
        if locked:
            raise AccessRefused(
                _("too many wrong codes; the second factor is locked for 10 minutes")
            )
        raise AccessRefused(_("the code from your authenticator app is wrong or was used already"))
