"""The tables (SQLAlchemy Core). Times are stored in UTC; migrations live in ``migrations/``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, naive UTC in the column on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stored: datetime = value
        return stored.replace(tzinfo=UTC)


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

playbook_versions = Table(
    "playbook_versions",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("playbook_id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("filename", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("compiled", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

reference_counters = Table(
    "reference_counters",
    metadata,
    Column("prefix", String(16), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("last", Integer, nullable=False),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ref", String(32), nullable=False, unique=True),
    Column("playbook_id", String(64), nullable=False),
    Column("playbook_hash", String(64), ForeignKey("playbook_versions.hash"), nullable=False),
    Column("state", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("facts", JSON, nullable=False),
    Column("stamps", JSON, nullable=False),
    # Optimistic-lock counter; it also equals the number of events, so the next event's seq.
    Column("version", Integer, nullable=False),
    Column("head_hash", String(64), nullable=False),  # hash of the latest event: the chain's head
    Column("opened_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("closed_at", UTCDateTime, nullable=True),
    Index("ix_incidents_closed_at_opened_at", "closed_at", "opened_at"),
    Index("ix_incidents_state", "state"),
    Index("ix_incidents_updated_at", "updated_at"),  # the latest change, for the web's pages
)

events = Table(
    "events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("trigger", String(64), nullable=True),
    Column("from_state", String(64), nullable=True),
    Column("to_state", String(64), nullable=True),
    Column("note", Text, nullable=True),
    Column("data", JSON, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("incident_id", "seq"),
)

statements = Table(
    "statements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # A correction (đính chính) points at the published statement it corrects.
    Column("corrects_id", Integer, ForeignKey("statements.id"), nullable=True),
    # A published text never changes: new words on the same matter (a further update) are a
    # new statement of the kind, the next in its series; the latest is the kind's current one.
    Column("series", Integer, nullable=False, server_default="1"),
    UniqueConstraint("incident_id", "kind", "series"),
)

statement_versions = Table(
    "statement_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("statement_id", Integer, ForeignKey("statements.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("template", String(128), nullable=True),
    Column("lang", String(8), nullable=False),
    Column("author", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("statement_id", "number"),
)

# What happened to a statement: submitted, approved, rejected, published. An approval holds the
# SHA-256 of the exact text it approved, so any later edit leaves the new text unapproved.
statement_actions = Table(
    "statement_actions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("statement_id", Integer, ForeignKey("statements.id"), nullable=False),
    Column("number", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("text_hash", String(64), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("reason", Text, nullable=True),
    Column("channel", String(32), nullable=True),
    Column("url", Text, nullable=True),
    Index("ix_statement_actions_statement_id", "statement_id"),
)

# A written, per-matter, time-limited authorisation to speak and approve for one incident.
authorisations = Table(
    "authorisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("person", String(128), nullable=False),
    Column("granted_by", String(128), nullable=False),
    Column("valid_from", UTCDateTime, nullable=False),
    Column("valid_until", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_authorisations_incident_id", "incident_id"),
)

# A legal or internal clock on one incident, measured by the rule that gives the earliest due
# time among those in force when it started. next_notice_at is when the clock next owes a
# reminder or an escalation, so the clock's work is one indexed range scan.
deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("clock", String(64), nullable=False),
    Column("rule", String(64), nullable=False),
    Column("title", Text, nullable=False),
    Column("basis", Text, nullable=False),
    Column("owner", String(64), nullable=True),
    Column("entered_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("due_at", UTCDateTime, nullable=False),
    Column(
        "status", String(16), nullable=False
    ),  # running | met | missed | cancelled | not_required | handed_over
    Column("stopped_at", UTCDateTime, nullable=True),
    Column("acknowledged_at", UTCDateTime, nullable=True),
    Column("acknowledged_by", String(128), nullable=True),
    Column("next_notice_at", UTCDateTime, nullable=True),
    # Why a clock closed as not required or handed over (the deciding step's note).
    Column("outcome_note", Text, nullable=True),
    UniqueConstraint("incident_id", "clock"),
    Index("ix_deadlines_status_due_at", "status", "due_at"),
    Index("ix_deadlines_status_next_notice_at", "status", "next_notice_at"),
)

# Each reminder or escalation a clock sent, once: the unique key makes a second tick, or a
# second worker, that tries to send the same notice fail instead of sending it again.
deadline_notices = Table(
    "deadline_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("deadline_id", Integer, ForeignKey("deadlines.id"), nullable=False),
    Column("key", String(32), nullable=False),
    Column("sent_at", UTCDateTime, nullable=False),
    UniqueConstraint("deadline_id", "key"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=True),
    Column("event_id", Integer, ForeignKey("events.id"), nullable=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("message_id", String(255), nullable=False, unique=True),
    Column("sender", String(320), nullable=False, server_default=""),  # the envelope sender
    Column("recipient", String(320), nullable=False),
    Column("recipient_name", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("template", String(128), nullable=False),
    Column("raw", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("claimed_until", UTCDateTime, nullable=True),
    Column("claimed_by", String(32), nullable=True),  # the dispatcher run holding the claim
    Column("last_error", Text, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("sent_at", UTCDateTime, nullable=True),
    # Higher goes first: a sign-in link or an approval request must not wait behind bulk mail.
    Column("priority", Integer, nullable=False, server_default="0"),
    Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    Index("ix_outbox_incident_id", "incident_id"),
    # Lets `list` count an incident's undeliverable mail from the index alone.
    Index("ix_outbox_incident_id_status", "incident_id", "status"),
)

# A signed-in browser. Only a keyed hash of the cookie's secret is stored, so a copy of the
# database signs nobody in, and a new secret key signs everyone out.
web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("person", String(128), nullable=False),
    Column("client", String(64), nullable=False),
    Column("user_agent", Text, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_seen_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),  # the absolute lifetime's end
    Column("revoked_at", UTCDateTime, nullable=True),
    Index("ix_web_sessions_person", "person"),
)

# A one-time sign-in link e-mailed to a directory person.
sign_in_links = Table(
    "sign_in_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("person", String(128), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

# Every sign-in request, known address or not, for the rate limits (address kept as a hash).
sign_in_requests = Table(
    "sign_in_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("address_hash", String(64), nullable=False),
    Column("client", String(64), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Index("ix_sign_in_requests_at", "at"),
)

# Signed e-mail links (a unit's "acknowledge") that were used: each works once.
used_links = Table(
    "used_links",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("purpose", String(32), nullable=False),
    Column("used_at", UTCDateTime, nullable=False),
)

# A person's TOTP second factor; last_step refuses a code used once already, failures lock it.
totp_secrets = Table(
    "totp_secrets",
    metadata,
    Column("person", String(128), primary_key=True),
    Column("secret", String(64), nullable=False),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("last_step", Integer, nullable=True),
    Column("failures", Integer, nullable=False, server_default="0"),  # wrong codes in a row
    Column("failed_at", UTCDateTime, nullable=True),
)

# Statuses an outbox row moves through.
PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"


# The recurring duties of the rule pack (the yearly report): each reminder sent, and the duty
# done, once per duty and period (the year it is due in), under a unique key.
duty_notices = Table(
    "duty_notices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("duty", String(64), nullable=False),
    Column("period", Integer, nullable=False),
    Column("key", String(64), nullable=False),  # remind:7d | overdue | done
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(128), nullable=True),
    Column("note", Text, nullable=True),
    UniqueConstraint("duty", "period", "key"),
)


# The document register (sổ đăng ký văn bản): each register, by year and symbol ("TB-UBND"),
# and the last number it gave. Taking a number updates its row, which serialises two
# publications on one register while other registers go on.
register_counters = Table(
    "register_counters",
    metadata,
    Column("year", Integer, primary_key=True),
    Column("symbol", String(64), primary_key=True),
    Column("last_number", Integer, nullable=False),
)

# Each number given: to which statement version, when, signed by whom.
register_entries = Table(
    "register_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    Column("symbol", String(64), nullable=False),
    Column("number", Integer, nullable=False),
    Column("statement_id", Integer, ForeignKey("statements.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("title", Text, nullable=False),
    Column("signer", String(128), nullable=True),
    Column("issued_at", UTCDateTime, nullable=False),
    Column("text_hash", String(64), nullable=False),  # of the text as issued, number in it
    UniqueConstraint("year", "symbol", "number"),
    UniqueConstraint("statement_id", "version"),
)
