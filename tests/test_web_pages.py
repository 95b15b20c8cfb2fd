"""What the pages say: Vietnamese by default, English on request or for a person whose
directory language is English, and every catalogue message with its placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

import sqlalchemy as sa

from crisisflow import models
from crisisflow.app import App
from crisisflow.web import lang

from .conftest import FakeClock, own
from .web_support import Visitor, at_approval

TEMPLATES = Path(__file__).resolve().parent.parent / "crisisflow" / "web" / "templates"


def test_pages_are_vietnamese_by_default_and_english_on_request(app: App) -> None:
    ref = at_approval(app)
    chairman = Visitor(app)
    chairman.sign_in("chu-tich")
    page = chairman.get(f"/incidents/{ref}/statements/initial_info").text
    assert "Duyệt nội dung này" in page and "đã trình duyệt" in page and 'lang="vi"' in page
    english = chairman.get(f"/incidents/{ref}/statements/initial_info", params={"lang": "en"})
    assert "Approve this text" in english.text and 'lang="en"' in english.text
    # the choice is remembered for the next page
    assert "Open incidents" in chairman.get("/incidents").text


def test_every_page_message_has_a_vietnamese_translation_with_the_same_placeholders() -> None:
    vietnamese = lang.translations("vi")
    messages = set()
    for page in TEMPLATES.glob("*.html"):
        messages |= set(re.findall(r'_\("([^"]+)"', page.read_text(encoding="utf-8")))
    assert messages
    for message in sorted(messages):
        translated = vietnamese.gettext(message)
        assert translated != message, f"no Vietnamese for {message!r}"
        assert sorted(re.findall(r"%\(\w+\)", translated)) == sorted(
            re.findall(r"%\(\w+\)", message)
        ), message


def test_a_kept_page_never_hides_a_change(app: App, clock: FakeClock) -> None:
    """Pages are kept while nothing they show changes: a note, a step, mail going out and
    the passing minutes each show at once."""
    ref = at_approval(app)
    officer = Visitor(app)
    officer.sign_in("truc-ban")
    page = f"/incidents/{ref}"
    first = officer.get(page).text
    assert officer.get(page).text == first  # nothing changed: the same page
    app.incidents.note(ref, "Phóng viên gọi lúc 9 giờ", actor=app.identify())
    assert "Phóng viên gọi lúc 9 giờ" in officer.get(page).text
    board = officer.get("/incidents").text
    before = officer.get(page).text
    assert "waiting to be sent" not in before and "chờ gửi" in before
    ob = models.outbox
    with app.store.writing() as conn:  # the dispatcher sent one message
        first_id = conn.execute(
            sa.select(sa.func.min(ob.c.id)).where(ob.c.incident_id.isnot(None))
        ).scalar()
        conn.execute(ob.update().where(ob.c.id == first_id).values(status="sent", attempts=1))
    assert officer.get(page).text.count("đã gửi") == before.count("đã gửi") + 1
    left = re.findall(r"còn \d+ giờ \d+ phút", officer.get(page).text)
    clock.advance(minutes=1)
    assert re.findall(r"còn \d+ giờ \d+ phút", officer.get(page).text) != left
    with app.store.writing() as conn:
        conn.execute(ob.update().where(ob.c.id == first_id).values(status="dead"))
    assert officer.get("/incidents").text != board
    app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
    assert "Đã duyệt" in officer.get(page).text
