"""Every error a user can cause, each with its own exit code.

::

    CrisisflowError                 1   anything the user can fix; one line, no traceback
    ├── ConfigError                 3   settings, workspace discovery, directory.yaml
    ├── PlaybookError               4   a playbook that does not load or lint (file:line problems)
    ├── NotFoundError               5   unknown incident, playbook, person, unit
    ├── TransitionRefused           6   trigger not allowed now, guard refused, input missing
    ├── ConflictError               7   someone else changed the incident first
    ├── InvalidInput                8   a fact value, a time, a key=value pair that does not parse
    ├── TemplateError               9   a template that does not render (sandbox, missing variable)
    ├── StorageError               10   database unreachable or its schema out of date
    ├── DeliveryConfigError        11   the SMTP relay refuses our settings (auth, TLS, sender)
    ├── UndeliverableMail          12   a message went dead (the work was done; .report says what)
    └── AuditBroken                13   an incident's hash chain does not verify (.results)

Foreign exceptions are wrapped once, where the library is called, with ``raise X(...) from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class CrisisflowError(Exception):
    """Base of all user-facing errors; ``str(err)`` is the one-line message."""

    exit_code = 1


class ConfigError(CrisisflowError):
    exit_code = 3


@dataclass(frozen=True)
class Problem:
    """One finding of the playbook loader or linter, printed as ``file:line: message``."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class PlaybookError(CrisisflowError):
    exit_code = 4

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        first = str(problems[0]) if problems else "invalid playbook"
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__(first + more)


class NotFoundError(CrisisflowError):
    exit_code = 5


class TransitionRefused(CrisisflowError):
    exit_code = 6


class ConflictError(CrisisflowError):
    exit_code = 7


class TextChanged(ConflictError):
    """The statement's text is no longer the one the person saw when they chose to act."""


class InvalidInput(CrisisflowError):
    exit_code = 8


class TemplateError(CrisisflowError):
    exit_code = 9


class StorageError(CrisisflowError):
    exit_code = 10


class DeliveryConfigError(CrisisflowError):
    exit_code = 11


class UndeliverableMail(CrisisflowError):
    """Raised after a delivery run in which a message went dead; ``report`` is the run's."""

    exit_code = 12

    def __init__(self, message: str, report: Any) -> None:
        super().__init__(message)
        self.report = report


class AuditBroken(CrisisflowError):
    """Raised after an audit in which a chain did not verify; ``results`` has every incident."""

    exit_code = 13

    def __init__(self, message: str, results: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.results = results


class AccessRefused(CrisisflowError):
    """A sign-in link, session, e-mailed link or second-factor code that does not let its
    bearer in: used, expired, tampered with, revoked or wrong."""

    exit_code = 14


class RateLimited(CrisisflowError):
    """Too many requests of one kind from one address or client; try again later."""

    exit_code = 15
