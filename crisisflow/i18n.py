"""gettext for every user-facing message, so the CLI can be translated (domain ``crisisflow``).

The language follows the usual ``LANGUAGE`` / ``LC_ALL`` / ``LC_MESSAGES`` / ``LANG`` variables;
catalogues live in ``crisisflow/locale/<lang>/LC_MESSAGES/crisisflow.mo``.
"""

from __future__ import annotations

import gettext
from pathlib import Path

_LOCALE_DIR = Path(__file__).parent / "locale"
_translation = gettext.translation("crisisflow", localedir=_LOCALE_DIR, fallback=True)

_ = _translation.gettext
ngettext = _translation.ngettext


class Localized(dict[str, str]):
    """A text in several languages; ``text.get_lang('en')`` falls back to Vietnamese."""

    def get_lang(self, lang: str) -> str:
        return self.get(lang) or self.get("vi") or next(iter(self.values()), "")
