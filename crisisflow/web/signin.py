"""Coming in and going out: the sign-in form, the one-time link's confirmation (a GET never
signs anyone in: mail scanners open links), signing out, and a unit's e-mailed "acknowledge"
link, confirmed the same way."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .guard import read_form, safe_next
from .site import SESSION_COOKIE, Site

NEXT_COOKIE = "cf_next"


async def form(request: Request) -> Response:
    site: Site = request.app.state.site
    response: Response = site.render(request, "sign_in.html")
    wanted = request.query_params.get("next")
    if wanted:
        response.set_cookie(
            NEXT_COOKIE,
            safe_next(wanted),
            max_age=3600,
            httponly=True,
            samesite="lax",
            secure=site.secure,
        )
    return response


async def request_link(request: Request) -> Response:
    site: Site = request.app.state.site
    fields = await read_form(request, site.csrf(request))
    site.access.request_sign_in(fields.get("email", ""), site.client(request))
    return site.render(request, "sign_in_sent.html")


async def confirm(request: Request) -> Response:
    site: Site = request.app.state.site
    return site.render(request, "sign_in_confirm.html", token=request.path_params["token"])


async def enter(request: Request) -> Response:
    site: Site = request.app.state.site
    await read_form(request, site.csrf(request))
    opened = site.access.sign_in(
        request.path_params["token"],
        site.client(request),
        request.headers.get("user-agent", ""),
    )
    target = safe_next(request.cookies.get(NEXT_COOKIE))
    response = RedirectResponse(target, status_code=303)
    max_age = int(site.app.settings["session_max_hours"]) * 3600
    site.session_cookie(response, opened.token, max_age)
    response.delete_cookie(NEXT_COOKIE)
    return response


async def leave(request: Request) -> Response:
    site: Site = request.app.state.site
    await read_form(request, site.csrf(request))
    site.access.sign_out(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response


async def ack_confirm(request: Request) -> Response:
    site: Site = request.app.state.site
    link = site.access.ack_link(request.path_params["token"])
    return site.render(request, "ack.html", link=link, token=request.path_params["token"])


async def ack(request: Request) -> Response:
    site: Site = request.app.state.site
    await read_form(request, site.csrf(request))
    token = request.path_params["token"]
    link = site.access.ack_link(token)
    clocks = site.access.ack_by_link(token, site.client(request))
    return site.render(request, "ack_done.html", link=link, clocks=clocks)
