"""What the pages say: Vietnamese by default, English on request or for a person whose
directory language is English, and every catalogue message with its placeholders intact."""

from __future__ import annotations

import re
from pathlib import Path

from crisisflow.app import App
from crisisflow.web import lang

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
