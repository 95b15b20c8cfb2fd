"""Every setting crisisflow has: its name, default, meaning, kind and sensible range. `config`
reads them; `tools/readme.py` writes the README's table from them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ENV_PREFIX = "CRISISFLOW_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str
    kind: type = str
    secret: bool = False
    # Who may act, and how: the workspace's own to say, never a caller's environment.
    file_only: bool = False
    choices: tuple[str, ...] = ()
    low: float | None = None  # numeric settings: the smallest and largest sensible value
    high: float | None = None

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "database_url",
        "",
        "SQLAlchemy URL of the database; empty means the SQLite file crisisflow.db in the "
        "workspace. Example: postgresql+psycopg://user@host/crisisflow",
    ),
    Setting("language", "vi", "Language of drafts and e-mails: vi or en.", choices=("vi", "en")),
    Setting("time_zone", "Asia/Ho_Chi_Minh", "Time zone in which times are shown and read."),
    Setting(
        "actor",
        "",
        "Directory person id recorded as the actor when --as is not given; empty means the "
        "login name (a person with no roles). A person bound to the OS account (login: in "
        "directory.yaml) comes first. In crisisflow.toml only.",
        file_only=True,
    ),
    Setting(
        "on_behalf_approvals",
        "refused",
        "Whether an approval or a publication may be entered on behalf of the person who gave "
        "it (--as PERSON --on-behalf --note ...), e.g. approved by phone: refused or allowed. "
        "In crisisflow.toml only.",
        choices=("refused", "allowed"),
        file_only=True,
    ),
    Setting(
        "mail_from",
        "",
        "Sender address of outgoing e-mail; empty means the organisation's email in "
        "directory.yaml.",
    ),
    Setting("reply_to", "", "Reply-To address of outgoing e-mail; empty means none."),
    Setting(
        "smtp_host",
        "127.0.0.1",
        "SMTP relay host. The default is the local sink that `crisisflow mailbox` runs.",
    ),
    Setting(
        "smtp_port",
        8025,
        "SMTP relay port (587 for STARTTLS, 465 for TLS).",
        kind=int,
        low=1,
        high=65535,
    ),
    Setting(
        "smtp_security",
        "none",
        "How to secure the connection, chosen explicitly: starttls (refuses a server that does "
        "not offer it), tls, or none (only for a relay on the same machine).",
        choices=("starttls", "tls", "none"),
    ),
    Setting("smtp_user", "", "SMTP user name; empty means no authentication."),
    Setting(
        "smtp_password",
        "",
        "SMTP password: environment only (CRISISFLOW_SMTP_PASSWORD); never stored or printed.",
        secret=True,
    ),
    Setting(
        "smtp_timeout",
        30.0,
        "Seconds to wait for the SMTP server at each step.",
        kind=float,
        low=0.1,
        high=3600,
    ),
    Setting(
        "smtp_connections",
        4,
        "SMTP connections a dispatcher keeps open at most.",
        kind=int,
        low=1,
        high=100,
    ),
    Setting(
        "dispatch_batch",
        200,
        "Messages a dispatcher claims at a time.",
        kind=int,
        low=1,
        high=10_000,
    ),
    Setting(
        "lease_seconds",
        120.0,
        "How long a claimed message stays with its dispatcher; a crashed dispatcher's claims "
        "return to the queue after this.",
        kind=float,
        low=0.1,
        high=86_400,
    ),
    Setting(
        "max_attempts",
        12,
        "Attempts before a message that keeps failing temporarily is given up as dead.",
        kind=int,
        low=1,
        high=1000,
    ),
    Setting(
        "retry_base_seconds",
        30.0,
        "First retry delay; it doubles each time.",
        kind=float,
        low=0.1,
        high=86_400,
    ),
    Setting("retry_cap_seconds", 3600.0, "Longest retry delay.", kind=float, low=0.1, high=604_800),
    Setting(
        "worker_interval",
        5.0,
        "Seconds the worker waits when nothing is due.",
        kind=float,
        low=0.1,
        high=3600,
    ),
    Setting(
        "mailbox_port",
        8025,
        "Port of the local sink `crisisflow mailbox` runs.",
        kind=int,
        low=1,
        high=65535,
    ),
    Setting(
        "base_url",
        "http://127.0.0.1:8080",
        "Address of `crisisflow serve` as people's browsers reach it (behind a reverse proxy: "
        "the proxy's https address); e-mailed links start with it.",
    ),
    Setting(
        "web_host", "127.0.0.1", "Address `crisisflow serve` listens on (loopback by default)."
    ),
    Setting("web_port", 8080, "Port `crisisflow serve` listens on.", kind=int, low=1, high=65535),
    Setting(
        "forwarded_allow_ips",
        "",
        "Addresses of reverse proxies whose X-Forwarded-For/-Proto headers `serve` trusts, "
        "comma-separated; empty trusts none.",
    ),
    Setting(
        "session_idle_minutes",
        60,
        "A web session ends after this long without a request.",
        kind=int,
        low=1,
        high=1440,
    ),
    Setting(
        "session_max_hours",
        12,
        "A web session ends this long after sign-in, however active.",
        kind=int,
        low=1,
        high=720,
    ),
    Setting(
        "sign_in_per_hour",
        5,
        "Sign-in links one address may ask for in an hour (a client: four times as many).",
        kind=int,
        low=1,
        high=1000,
    ),
    Setting(
        "reminders",
        "50%,2h",
        "When a clock's owner is reminded: at a share of its time (50%) and/or this long "
        "before it runs out (2h, 30m, 1d), comma-separated.",
    ),
    Setting(
        "escalation_interval_hours",
        2.0,
        "Once a clock has run out, how often it is escalated to the next role of the "
        "playbook's escalation chain.",
        kind=float,
        low=0.1,
        high=720,
    ),
)
SETTINGS_BY_NAME = {s.name: s for s in SETTINGS}
