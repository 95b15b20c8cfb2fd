"""The pages' languages: Vietnamese by default, English as the second. The Vietnamese catalogue
(crisisflow/locale/vi/LC_MESSAGES/crisisflow.po) is compiled in memory when the server starts."""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

LANGS = ("vi", "en")
_LOCALE = Path(__file__).resolve().parent.parent / "locale"


@cache
def translations(lang: str) -> gettext.NullTranslations:
    """The catalogue of ``lang``; English is the source language."""
    po = _LOCALE / lang / "LC_MESSAGES" / "crisisflow.po"
    if lang == "en" or not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as source:
        catalog = read_po(source, locale=lang)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def choose(asked: str | None, person_lang: str | None, default: str) -> str:
    """The language of a page: asked for (?lang= or its cookie), else the signed-in person's,
    else the workspace's."""
    for candidate in (asked, person_lang, default):
        if candidate in LANGS:
            return candidate
    return "vi"
