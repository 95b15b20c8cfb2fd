"""The pages' languages: Vietnamese by default, English as the second. The Vietnamese catalogue
(crisisflow/locale/vi/LC_MESSAGES/crisisflow.po) is compiled in memory when the server starts."""

from __future__ import annotations

from ..i18n import catalogue

LANGS = ("vi", "en")
translations = catalogue  # the catalogue of a page's language


def choose(asked: str | None, person_lang: str | None, default: str) -> str:
    """The language of a page: asked for (?lang= or its cookie), else the signed-in person's,
    else the workspace's."""
    for candidate in (asked, person_lang, default):
        if candidate in LANGS:
            return candidate
    return "vi"
