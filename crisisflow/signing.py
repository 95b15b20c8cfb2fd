"""The workspace's secret key and what it signs: keyed hashes of session and sign-in tokens,
and the signed links e-mailed to units. Rotating the key voids every session and every unused
link, and nothing else.

The key is the ``CRISISFLOW_SECRET_KEY`` environment variable, else the file ``secret.key`` in
the workspace, which ``crisisflow init`` creates with mode 0600.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .i18n import _

KEY_FILE = "secret.key"
KEY_ENV = "CRISISFLOW_SECRET_KEY"
_MIN_KEY = 32  # characters


def write_new_key(workspace: Path) -> Path:
    """Write a fresh key to ``secret.key`` (mode 0600), replacing any old one atomically."""
    path = workspace / KEY_FILE
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(48) + "\n")
    os.replace(temporary, path)
    return path


def load_key(workspace: Path) -> bytes:
    """The secret key, from the environment or the workspace's key file. The file is read
    again when it changes, so a running server takes a rotated key at its next request."""
    text = os.environ.get(KEY_ENV)
    if text is not None:
        return _checked(text, KEY_ENV)
    path = workspace / KEY_FILE
    try:
        found = path.stat()
    except FileNotFoundError:
        raise ConfigError(
            _(
                "{file}: no secret key; run `crisisflow secret rotate` to create one (or set {env})"
            ).format(file=path, env=KEY_ENV)
        ) from None
    except OSError as exc:
        raise ConfigError(
            _("{file}: cannot read the secret key: {error}").format(file=path, error=exc)
        ) from exc
    if found.st_mode & 0o077:
        raise ConfigError(
            _("{file}: the secret key is readable by others; run `chmod 600 {file}`").format(
                file=path
            )
        )
    return _read_key(str(path), found.st_mtime_ns, found.st_size)


@functools.lru_cache(maxsize=4)
def _read_key(path: str, _mtime_ns: int, _size: int) -> bytes:
    try:
        text = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            _("{file}: cannot read the secret key: {error}").format(file=path, error=exc)
        ) from exc
    return _checked(text, path)


def _checked(text: str, where: str) -> bytes:
    text = text.strip()
    if len(text) < _MIN_KEY:
        raise ConfigError(
            _("{where}: the secret key must be at least {n} characters").format(
                where=where, n=_MIN_KEY
            )
        )
    return text.encode("utf-8")


def new_token() -> str:
    """A random token for a cookie or a sign-in link (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def keyed_hash(key: bytes, purpose: str, value: str) -> str:
    """What the database keeps of a token: HMAC-SHA256 under the key, per purpose."""
    return hmac.new(key, f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Link:
    """What a signed e-mail link carries: its purpose, fields, expiry and single-use nonce."""

    purpose: str
    fields: dict[str, str]
    expires: datetime
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link(key: bytes, purpose: str, fields: dict[str, str], expires: datetime) -> str:
    """A token binding ``fields`` to ``purpose`` until ``expires``: payload.signature."""
    body = {"p": purpose, "f": fields, "e": int(expires.timestamp()), "n": secrets.token_hex(16)}
    payload = _b64(json.dumps(body, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    signature = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())
    return f"{payload}.{signature}"


class BadLink(Exception):
    """A link that was tampered with, signed with another key, made for another purpose, or
    malformed. Which of these it was is not said: a forger learns nothing from the answer."""


def read_link(key: bytes, purpose: str, token: str) -> Link:
    """The link's content, after checking its signature and purpose (not its expiry)."""
    payload, _dot, signature = token.partition(".")
    try:
        expected = _b64(hmac.new(key, payload.encode("ascii"), hashlib.sha256).digest())
        # The signature's text, not its decoded bytes: base64 has several spellings of the
        # same bytes, and a link must have exactly one.
        if not hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii")):
            raise BadLink()
        body: Any = json.loads(_unb64(payload))
        fields = body["f"]
        if body["p"] != purpose or not isinstance(fields, dict):
            raise BadLink()
        expires = datetime.fromtimestamp(int(body["e"]), UTC)
        return Link(purpose, {str(k): str(v) for k, v in fields.items()}, expires, str(body["n"]))
    except (ValueError, KeyError, TypeError, UnicodeError) as exc:
        raise BadLink() from exc
