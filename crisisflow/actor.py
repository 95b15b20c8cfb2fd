"""Who is acting, and how the system knows it.

Every use case is handed an ``Actor``: a directory person (or a login name holding no roles) and
the channel that identified them. The audit trail records both, so a change typed in by the duty
officer for the Chairman is never mistaken for one the Chairman made signed in as himself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How an actor was identified.
CLI_ACCOUNT = "cli-account"  # the directory person bound (`login:`) to the OS account
CLI_SETTING = "cli-setting"  # the workspace's `actor` setting
CLI_AS = "cli-as"  # `--as PERSON`: typed in by someone else (entered_by)
OS_LOGIN = "os-login"  # nobody named or bound: the login name, holding no roles
SYSTEM = "system"  # crisisflow's own work: the clock, the dispatcher
WEB_SESSION = "web-session"
MAIL_LINK = "mail-link"

CHANNELS = (CLI_ACCOUNT, CLI_SETTING, CLI_AS, OS_LOGIN, SYSTEM, WEB_SESSION, MAIL_LINK)


@dataclass(frozen=True)
class Actor:
    """``person`` is a directory id (or ``user:LOGIN``); ``via`` one of ``CHANNELS``.

    ``entered_by`` is who typed a ``--as`` entry in; ``on_behalf`` (its note) says that the
    person acted elsewhere (approved by phone) and the entry records it for them. ``session``
    (a hash of the web session) and ``client`` (its address) say where a web request came from.
    """

    person: str
    via: str
    entered_by: str | None = None
    on_behalf: str | None = None
    session: str | None = None
    client: str | None = None

    def __post_init__(self) -> None:
        if self.via not in CHANNELS:
            raise ValueError(f"unknown identification channel {self.via!r}")
        if self.on_behalf is not None and self.entered_by is None:
            raise ValueError("an on-behalf entry names who entered it")

    def __str__(self) -> str:
        return self.person

    @property
    def typed_for_another(self) -> bool:
        """Entered with --as, not on behalf: it may do only what its enterer may do too."""
        return self.entered_by is not None and self.on_behalf is None

    def audit(self) -> dict[str, Any]:
        """What the audit event records of how the actor was identified."""
        found: dict[str, Any] = {"via": self.via}
        if self.entered_by is not None:
            found["entered_by"] = self.entered_by
        if self.on_behalf is not None:
            found["on_behalf"] = self.on_behalf
        if self.session is not None:
            found["session"] = self.session
        if self.client is not None:
            found["client"] = self.client
        return found


CLOCK = Actor("crisisflow-clock", SYSTEM)
DISPATCH = Actor("crisisflow-dispatch", SYSTEM)
