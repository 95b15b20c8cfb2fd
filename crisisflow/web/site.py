"""What every page handler shares: the workspace's use cases, the page templates in each
language, who is signed in, and the form token a page must carry."""

from __future__ import annotations

import secrets
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from . import lang as languages
from .pagecache import PageCache

if TYPE_CHECKING:
    from ..app import App
    from ..app.access import Access, SignedIn
    from ..app.board import Board
    from ..app.decisions import Decisions
    from ..app.second_factor import SecondFactor

TEMPLATES = Path(__file__).parent / "templates"
SESSION_COOKIE = "cf_session"
ANONYMOUS_COOKIE = "cf_anon"  # a visitor not signed in: what their form tokens derive from
LANG_COOKIE = "cf_lang"


# The codes pages show, as people read them (the codes stay in `show --json`).
LABELS = {
    "draft": "draft",
    "submitted": "submitted for approval",
    "approved": "approved",
    "rejected": "returned for changes",
    "published": "published",
    "running": "running",
    "overdue": "overdue",
    "met": "met",
    "missed": "missed",
    "cancelled": "cancelled",
    "not_required": "not required",
    "handed_over": "handed over",
    "pending": "waiting to be sent",
    "sending": "being sent",
    "sent": "sent",
    "dead": "undeliverable",
}


def _time_left(translation: Any) -> Any:
    def left(seconds: int | None) -> str:
        """A clock's time left as people say it: "3 h 05 min left", "overdue by 20 min"."""
        if seconds is None:
            return ""
        hours, minutes = divmod(abs(int(seconds)) // 60, 60)
        span = translation.gettext("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
        if seconds < 0:
            return str(translation.gettext("overdue by %(span)s") % {"span": span})
        return str(translation.gettext("%(span)s left") % {"span": span})

    return left


class Site:
    def __init__(self, app: App) -> None:
        self.app = app
        self.secure = app.settings["base_url"].startswith("https://")
        self.access.key  # noqa: B018 - no key, no server: say so at start, not per request
        self._envs = {lang: self._environment(lang) for lang in languages.LANGS}
        self.pages = PageCache()

    @cached_property
    def access(self) -> Access:
        from ..app.access import Access

        return Access(self.app)

    @cached_property
    def decisions(self) -> Decisions:
        from ..app.decisions import Decisions

        return Decisions(self.app)

    @cached_property
    def second_factor(self) -> SecondFactor:
        from ..app.second_factor import SecondFactor

        return SecondFactor(self.app)

    @cached_property
    def board(self) -> Board:
        from ..app.board import Board

        return Board(self.app)

    def _environment(self, lang: str) -> jinja2.Environment:
        env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            extensions=["jinja2.ext.i18n"],
        )
        translation = languages.translations(lang)
        env.install_gettext_translations(translation, newstyle=True)  # type: ignore[attr-defined]
        env.filters["local"] = self.local
        env.filters["left"] = _time_left(translation)
        env.filters["label"] = lambda code: translation.gettext(LABELS.get(str(code), str(code)))
        env.globals["lang"] = lang
        return env

    def local(self, value: datetime | str | None) -> str:
        return self.app.local(value)

    # --- who is asking ------------------------------------------------------------------------

    def viewer(self, request: Request) -> SignedIn | None:
        """The signed-in person making this request, once per request."""
        if "viewer" not in request.scope.setdefault("crisisflow", {}):
            self.app.reread_directory()  # a person removed from it is signed out at once
            cookie = request.cookies.get(SESSION_COOKIE, "")
            request.scope["crisisflow"]["viewer"] = self.access.session(cookie) if cookie else None
        found: SignedIn | None = request.scope["crisisflow"]["viewer"]
        return found

    @staticmethod
    def client(request: Request) -> str:
        """The client's address (a trusted proxy's X-Forwarded-For, as uvicorn applies it)."""
        return request.client.host if request.client else "unknown"

    def csrf(self, request: Request) -> str:
        """The token this visitor's forms must carry."""
        viewer = self.viewer(request)
        if viewer is not None:
            return viewer.csrf
        anonymous = request.cookies.get(ANONYMOUS_COOKIE) or request.scope.setdefault(
            "crisisflow", {}
        ).setdefault("new_anonymous", secrets.token_urlsafe(24))
        return self.access.csrf_for(anonymous)

    def language(self, request: Request) -> str:
        viewer = self.viewer(request)
        asked = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE)
        return languages.choose(
            asked, viewer.lang if viewer else None, self.app.settings["language"]
        )

    # --- answering ----------------------------------------------------------------------------

    def page_key(self, request: Request, name: str, stamp: Any) -> tuple[Any, ...] | None:
        """The key a page is kept under, or None when it must be drawn afresh (not signed in,
        a language being chosen)."""
        viewer = self.viewer(request)
        if viewer is None or stamp is None or "lang" in request.query_params:
            return None
        minute = int(self.app.clock().timestamp() // 60)
        lang = self.language(request)
        return (name, request.url.path, request.url.query, stamp, viewer.session_id, lang, minute)

    def kept(self, key: tuple[Any, ...] | None) -> Response | None:
        page = self.pages.get(key) if key is not None else None
        return HTMLResponse(page) if page is not None else None

    def keep(self, key: tuple[Any, ...] | None, response: Response) -> Response:
        if key is not None and response.status_code == 200:
            self.pages.put(key, bytes(response.body))
        return response

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> Response:
        lang = self.language(request)
        template = self._envs[lang].get_template(name)
        page = template.render(
            viewer=self.viewer(request),
            csrf=self.csrf(request),
            path=request.url.path,
            **context,
        )
        response = HTMLResponse(page, status_code=status)
        self.set_cookies(request, response)
        if request.query_params.get("lang") in languages.LANGS:
            response.set_cookie(
                LANG_COOKIE,
                lang,
                max_age=365 * 86400,
                httponly=True,
                samesite="lax",
                secure=self.secure,
            )
        return response

    def set_cookies(self, request: Request, response: Response) -> None:
        """Give a new visitor the anonymous cookie their form tokens derive from."""
        new = request.scope.get("crisisflow", {}).get("new_anonymous")
        if new and not request.cookies.get(ANONYMOUS_COOKIE):
            response.set_cookie(
                ANONYMOUS_COOKIE, new, httponly=True, samesite="lax", secure=self.secure
            )

    def session_cookie(self, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
