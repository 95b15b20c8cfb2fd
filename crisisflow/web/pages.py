"""The pages people read: the open incidents, one incident (timeline, facts, clocks, statements,
e-mails), and a statement version as it will be published, with its .docx. Reading changes
nothing; each page offers only the actions its reader may take."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import InvalidInput, NotFoundError
from ..i18n import _

if TYPE_CHECKING:
    from .site import Site


PAGE_SIZE = 50  # open incidents a page lists, newest first


def to_sign_in(request: Request) -> Response:
    wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/sign-in?next={quote(wanted, safe='')}", status_code=303)


async def home(request: Request) -> Response:
    signed_in = request.app.state.site.viewer(request) is not None
    return RedirectResponse("/incidents" if signed_in else "/sign-in", status_code=303)


async def incidents(request: Request) -> Response:
    site: Site = request.app.state.site
    viewer = site.viewer(request)
    if viewer is None:
        return to_sign_in(request)
    key = site.page_key(request, "incidents", site.board.stamp())
    kept = site.kept(key)
    if kept is not None:
        return kept
    asked = request.query_params.get("page", "1")
    page = int(asked) if asked.isdigit() and 0 < int(asked) <= 10_000 else 1
    board = site.board.open_incidents(viewer.person, PAGE_SIZE + 1, (page - 1) * PAGE_SIZE)
    response = site.render(
        request,
        "incidents.html",
        board=board[:PAGE_SIZE],
        page=page,
        more=len(board) > PAGE_SIZE,
    )
    return site.keep(key, response)


def _readable(site: Any, ref: str, viewer: Any) -> Any:
    """The reader's rights on ``ref``; an incident they have no role in is not theirs to see."""
    rights = site.decisions.rights(ref, viewer.person, viewer.lang)
    if not rights.view:
        raise NotFoundError(_("no incident {ref} for you").format(ref=ref))
    return rights


async def incident(request: Request) -> Response:
    site: Site = request.app.state.site
    viewer = site.viewer(request)
    if viewer is None:
        return to_sign_in(request)
    ref = request.path_params["ref"]
    key = site.page_key(request, "incident", site.board.stamp(ref))
    kept = site.kept(key)
    if kept is not None:
        return kept
    rights, data = site.decisions.page(ref, viewer.person, viewer.lang)
    if not rights.view:
        raise NotFoundError(_("no incident {ref} for you").format(ref=ref))
    return site.keep(key, site.render(request, "incident.html", incident=data, rights=rights))


def _version(request: Request) -> int | None:
    asked = request.query_params.get("version")
    if asked is None:
        return None
    if not asked.isdigit() or not 0 < int(asked) < 100_000:
        raise InvalidInput(_("version must be a whole number"))
    return int(asked)


def statement_page(
    request: Request,
    ref: str,
    kind: str,
    *,
    status: int = 200,
    notice: str | None = None,
    seen: str | None = None,
) -> Response:
    """A statement version with its diff, and the decisions its reader may take on it.
    ``seen``: the SHA-256 of a text the reader acted on, shown against the current one."""
    site: Site = request.app.state.site
    viewer = site.viewer(request)
    rights = _readable(site, ref, viewer)
    cases = site.app.statements
    shown = cases.show(ref, kind, _version(request))
    compare_to = None
    if seen is not None:  # the version the reader acted on, if the text is still one of them
        numbers = range(1, shown["latest"] + 1)
        compare_to = next((n for n in numbers if cases.show(ref, kind, n)["sha256"] == seen), None)
    elif shown["version"] > 1:
        compare_to = shown["version"] - 1
    diff = None
    if compare_to is not None and compare_to != shown["version"]:
        diff = cases.diff(ref, kind, compare_to, shown["version"])
    latest = shown["version"] == shown["latest"]
    return site.render(
        request,
        "statement.html",
        status=status,
        statement=shown,
        rights=rights,
        diff=diff,
        compare_to=compare_to,
        notice=notice,
        done=_done(request.query_params.get("done"), shown["status"]) if status == 200 else None,
        may_approve=latest and rights.approve and shown["status"] == "submitted",
        may_publish=latest and rights.publish and shown["status"] == "approved",
    )


# What a decision leaves a statement as: "done" is said only when the statement shows it.
_DONE = {"approve": ("approved", "published"), "reject": ("rejected",), "publish": ("published",)}


def _done(decision: str | None, status: str) -> str | None:
    return decision if decision and status in _DONE.get(decision, ()) else None


async def statement(request: Request) -> Response:
    viewer = request.app.state.site.viewer(request)
    if viewer is None:
        return to_sign_in(request)
    return statement_page(request, request.path_params["ref"], request.path_params["kind"])


async def statement_docx(request: Request) -> Response:
    site: Site = request.app.state.site
    viewer = site.viewer(request)
    if viewer is None:
        return to_sign_in(request)
    ref, kind = request.path_params["ref"], request.path_params["kind"]
    _readable(site, ref, viewer)
    number = _version(request)
    shown = site.app.statements.show(ref, kind, number)
    content = site.app.statements.export(ref, kind, "docx", shown["version"])
    name = f"{shown['ref']}-{kind}-v{shown['version']}.docx"
    return Response(
        content,
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )
