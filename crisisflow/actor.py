"""Who is acting, and how the system knows it.

Every use case is handed an ``Actor``: a directory person (or a login name holding no roles) and
the channel that identified them. The audit trail records both, so a change made by typing
``--as chu-tich`` is never mistaken for one the Chairman made signed in as himself.
"""

from __future__ import annotations

from dataclasses import dataclass

# How an actor was identified. The command line knows only what it is told; the web front end
# and e-mailed links identify people themselves.
CLI_SETTING = "cli-setting"  # the workspace's `actor` setting
CLI_AS = "cli-as"  # `--as PERSON` on the command line
OS_LOGIN = "os-login"  # nobody named: the login name, holding no roles
SYSTEM = "system"  # crisisflow's own work: the clock, the dispatcher
WEB_SESSION = "web-session"
MAIL_LINK = "mail-link"

CHANNELS = (CLI_SETTING, CLI_AS, OS_LOGIN, SYSTEM, WEB_SESSION, MAIL_LINK)


@dataclass(frozen=True)
class Actor:
    """``person`` is a directory id (or ``user:LOGIN``); ``via`` one of ``CHANNELS``."""

    person: str
    via: str

    def __post_init__(self) -> None:
        if self.via not in CHANNELS:
            raise ValueError(f"unknown identification channel {self.via!r}")

    def __str__(self) -> str:
        return self.person


CLOCK = Actor("crisisflow-clock", SYSTEM)
DISPATCH = Actor("crisisflow-dispatch", SYSTEM)
