"""What stands between a request and the use cases: security headers on every answer, form
bodies read with limits and checked for their CSRF token, redirects kept on this site, and
every refusal turned into a plain page with the right status."""

from __future__ import annotations

import hmac
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import (
    AccessRefused,
    ConfigError,
    ConflictError,
    CrisisflowError,
    InvalidInput,
    NotFoundError,
    RateLimited,
    StorageError,
    TransitionRefused,
)

if TYPE_CHECKING:
    from .site import Site

STATIC = Path(__file__).parent / "static"
MAX_FORM = 64 * 1024  # bytes: a note or a reason, never a document
MAX_FIELDS = 20

_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class Headers:
    """Security headers on every response; pages (which may show drafts) are never cached."""

    def __init__(self, app: ASGIApp, secure: bool) -> None:
        self.app = app
        self.secure = secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"cache-control"]
                headers += [
                    (b"content-security-policy", _POLICY.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                    (b"cache-control", b"public, max-age=3600" if static else b"no-store"),
                ]
                if self.secure:
                    headers.append((b"strict-transport-security", b"max-age=31536000"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


async def read_form(request: Request, csrf: str) -> dict[str, str]:
    """The form's fields, after checking its size, type, encoding and CSRF token."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_FORM):
        raise HTTPException(413, "the form is too large")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM:
            raise HTTPException(413, "the form is too large")
    try:
        pairs = parse_qsl(
            body.decode("utf-8", errors="strict"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=MAX_FIELDS,
            errors="strict",
        )
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "the form could not be read") from None
    fields: dict[str, str] = {}
    for key, value in pairs:
        if key in fields or "\x00" in value:
            raise HTTPException(400, "the form could not be read")
        fields[key] = value
    if not hmac.compare_digest(fields.pop("csrf", "").encode(), csrf.encode()):
        raise HTTPException(403, "the form's security token is missing or wrong; reload the page")
    return fields


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path on this site, else the first page."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x21 for c in target)
    ):
        return "/incidents"
    return target


_STATUS = (
    (StorageError, 503),  # the database is unreachable: try again later
    (ConfigError, 500),  # the workspace is broken: the office must mend it
    (AccessRefused, 403),
    (RateLimited, 429),
    (NotFoundError, 404),
    (ConflictError, 409),
    (TransitionRefused, 409),
    (InvalidInput, 400),
)


def failure_handlers() -> dict[Any, Any]:
    async def crisisflow_error(request: Request, exc: Exception) -> Response:
        status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
        return _failure_page(request, status, str(exc))

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        return _failure_page(request, exc.status_code, exc.detail)

    return {CrisisflowError: crisisflow_error, HTTPException: http_error}


def _failure_page(request: Request, status: int, message: str) -> Response:
    site: Site = request.app.state.site
    try:
        return site.render(
            request, "failure.html", status=status, status_code=status, message=message
        )
    except Exception:  # a page that cannot be drawn still answers, in plain text
        return PlainTextResponse(message, status_code=status)
