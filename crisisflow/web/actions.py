"""The changes a signed-in person makes from a page, each through the same use case and checks
as the command line: a decision on a statement (bound to the text on screen) and a note."""

from __future__ import annotations

from contextlib import nullcontext
from typing import TYPE_CHECKING
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..errors import AccessRefused, InvalidInput, TextChanged
from ..i18n import _
from .guard import read_form
from .pages import statement_page

if TYPE_CHECKING:
    from .site import Site

DECISIONS = ("approve", "reject", "publish")


def _signed_in(request: Request):  # type: ignore[no-untyped-def]
    viewer = request.app.state.site.viewer(request)
    if viewer is None:
        raise AccessRefused(_("sign in first; your session has ended"))
    return viewer


async def decide(request: Request) -> Response:
    site: Site = request.app.state.site
    viewer = _signed_in(request)
    fields = await read_form(request, viewer.csrf)
    ref, kind, action = (request.path_params[k] for k in ("ref", "kind", "action"))
    if action not in DECISIONS:
        raise InvalidInput(_("unknown decision {action!r}").format(action=action))
    sha256 = fields.get("sha256", "")
    # Approving and publishing ask for the second factor, if the person enrolled one.
    code = fields.get("code", "") if action != "reject" else None
    guard = site.second_factor.required(viewer.person, code) if code is not None else nullcontext()
    try:
        with guard:
            site.decisions.decide(
                ref,
                kind,
                action,
                sha256,
                actor=viewer.actor(site.client(request)),
                reason=fields.get("reason") or None,
                channel=fields.get("channel") or None,
                url=fields.get("url") or None,
                confirm_unchanged=fields.get("confirm_unchanged") == "yes",
            )
    except TextChanged as exc:
        return statement_page(request, ref, kind, status=409, notice=str(exc), seen=sha256)
    target = f"/incidents/{quote(ref)}/statements/{quote(kind)}?done={action}"
    return RedirectResponse(target, status_code=303)


async def note(request: Request) -> Response:
    site: Site = request.app.state.site
    viewer = _signed_in(request)
    fields = await read_form(request, viewer.csrf)
    ref = request.path_params["ref"]
    rights = site.decisions.rights(ref, viewer.person, viewer.lang)
    if not rights.note:
        raise AccessRefused(_("only people with a role in {ref} add notes to it").format(ref=ref))
    site.app.incidents.note(ref, fields.get("text", ""), actor=viewer.actor(site.client(request)))
    return RedirectResponse(f"/incidents/{quote(ref)}#history", status_code=303)
