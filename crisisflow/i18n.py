"""gettext for every user-facing message, so the CLI can be translated (domain ``crisisflow``).

The language follows the usual ``LANGUAGE`` / ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` variables;
catalogues live in ``crisisflow/locale/<lang>/LC_MESSAGES/crisisflow.mo``.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

_LOCALE_DIR = Path(__file__).parent / "locale"
_translation = gettext.translation("crisisflow", localedir=_LOCALE_DIR, fallback=True)

_ = _translation.gettext
ngettext = _translation.ngettext


@cache
def catalogue(lang: str) -> gettext.NullTranslations:
    """The messages in ``lang``, for what is written in a language other than the process's
    (a web page, a report in the workspace's language); English is the source language. The
    Vietnamese catalogue is compiled in memory from its .po file."""
    po = _LOCALE_DIR / lang / "LC_MESSAGES" / "crisisflow.po"
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


class Localized(dict[str, str]):
    """A text in several languages; ``text.get_lang('en')`` falls back to Vietnamese."""

    def get_lang(self, lang: str) -> str:
        return self.get(lang) or self.get("vi") or next(iter(self.values()), "")
