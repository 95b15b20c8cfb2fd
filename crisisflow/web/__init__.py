"""The web front end (`crisisflow serve`): server-rendered pages over the same use cases as the
command line, for the people who act on incidents from their own devices.

People sign in with a one-time link e-mailed to their directory address; sessions live in the
database; every form carries a CSRF token; no GET changes anything; every page is escaped and
sent with a strict Content-Security-Policy. Pages work without JavaScript.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from . import actions, pages, signin
from .guard import STATIC, Headers, failure_handlers
from .site import Site

if TYPE_CHECKING:
    from ..app import App


def build(app: App) -> Starlette:
    """The web application over ``app``'s workspace."""
    site = Site(app)
    routes = [
        Route("/", pages.home),
        Route("/sign-in", signin.form, methods=["GET"]),
        Route("/sign-in", signin.request_link, methods=["POST"]),
        Route("/sign-in/{token}", signin.confirm, methods=["GET"]),
        Route("/sign-in/{token}", signin.enter, methods=["POST"]),
        Route("/sign-out", signin.leave, methods=["POST"]),
        Route("/incidents", pages.incidents),
        Route("/incidents/{ref}", pages.incident),
        Route("/incidents/{ref}/notes", actions.note, methods=["POST"]),
        Route("/incidents/{ref}/statements/{kind}.docx", pages.statement_docx),
        Route("/incidents/{ref}/statements/{kind}", pages.statement),
        Route("/incidents/{ref}/statements/{kind}/{action}", actions.decide, methods=["POST"]),
        Route("/ack/{token}", signin.ack_confirm, methods=["GET"]),
        Route("/ack/{token}", signin.ack, methods=["POST"]),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
    ]
    web = Starlette(
        routes=routes,
        middleware=[Middleware(Headers, secure=site.secure)],
        exception_handlers=failure_handlers(),
    )
    web.state.site = site
    return web
