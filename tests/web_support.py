"""Helpers for the web front end's tests: a visitor with a browser's cookie jar that fills in
forms as the pages give them, and the sign-in links read from the mail the pages queued."""

from __future__ import annotations

import email
import re
from typing import Any

import sqlalchemy as sa
from starlette.testclient import TestClient

from crisisflow import models
from crisisflow.app import App
from crisisflow.web import build

from .conftest import own, through, walk

BASE = "http://127.0.0.1:8080"
# Up to the Chairman's decision on a text he returned, submitted again unchanged.
RETURNED_UNCHANGED = [*through("reject"), ("submit", {})]


def at_approval(app: App, title: str = "Sạt lở bờ kè Cửa Tùng") -> str:
    """An incident of the media-crisis playbook waiting for the Chairman's approval: returned
    once, edited as he asked, submitted again (its second version)."""
    ref = app.incidents.open("media-crisis", title, actor=app.identify()).ref
    walk(app, ref, through("reject"))
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(
        ref, "initial_info", text + "Có 12 hộ dân bị ảnh hưởng.\n", actor=own(app, None)
    )
    walk(app, ref, [("submit", {})])
    assert app.records.show(ref)["state"] == "approval"
    return ref


def mail_text(raw: bytes) -> str:
    message = email.message_from_bytes(raw)
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode("utf-8")


def sign_in_links(app: App, address: str) -> list[str]:
    """The paths of the sign-in links e-mailed to ``address``, oldest first."""
    ob = models.outbox
    with app.store.reading() as conn:
        rows = conn.execute(
            sa.select(ob.c.raw)
            .where(ob.c.template == "access/sign-in", ob.c.recipient == address)
            .order_by(ob.c.id)
        ).all()
    links = [re.search(r"https?://\S+?(/sign-in/\S+)", mail_text(r.raw)) for r in rows]
    return [m.group(1) for m in links if m]


class Visitor:
    """One browser: its cookies, and the form token of the last page it read."""

    def __init__(self, app: App, base: str = BASE) -> None:
        self.app = app
        self.client = TestClient(build(app), base_url=base, follow_redirects=False)
        self.csrf = ""

    def get(self, path: str, **kwargs: Any) -> Any:
        response = self.client.get(path, **kwargs)
        found = re.search(r'name="csrf" value="([^"]+)"', response.text)
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, csrf: str | None = None, **fields: str) -> Any:
        data = {"csrf": self.csrf if csrf is None else csrf, **fields}
        return self.client.post(path, data=data)

    def sign_in(self, person: str) -> None:
        """Sign in as ``person`` the way people do: ask for a link, open it, press the button."""
        address = self.app.directory.people[person].email
        self.get("/sign-in")
        assert self.post("/sign-in", email=address).status_code == 200
        link = sign_in_links(self.app, address)[-1]
        assert self.get(link).status_code == 200
        entered = self.post(link)
        assert entered.status_code == 303, entered.text
