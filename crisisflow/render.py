"""Drafting text from templates written by staff, in Jinja2's sandbox.

A template is ``templates/<name>.<lang>.<ext>`` (ext: txt, md or html); a workspace template
overrides the shipped one of the same name, and a missing language falls back to Vietnamese.
A template may split its text into blocks (``subject`` and ``body`` for e-mail, ``title`` and
``body`` for statements); without blocks the whole text is the body.

The sandbox refuses access to Python internals, StrictUndefined makes a missing variable an error
when the draft is rendered (never later, when mail is sent), and HTML templates autoescape.
"""

from __future__ import annotations

import sys
import unicodedata
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from .errors import TemplateError
from .i18n import _

EXTENSIONS = ("txt", "md", "html")
LANG_FALLBACK = "vi"


def vn_date(value: datetime, tz: ZoneInfo | None = None) -> str:
    """'ngày 26 tháng 11 năm 2026', with the leading zero administrative documents use for
    days below 10 and for January and February (Decree 30/2020, Appendix I)."""
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    day = f"{value.day:02d}" if value.day < 10 else str(value.day)
    month = f"{value.month:02d}" if value.month < 3 else str(value.month)
    return f"ngày {day} tháng {month} năm {value.year}"


def vn_datetime(value: datetime, tz: ZoneInfo | None = None) -> str:
    """'14 giờ 30 phút, ngày 26/11/2026' as Vietnamese documents write a moment."""
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    return f"{value.hour:02d} giờ {value.minute:02d} phút, ngày {value:%d/%m/%Y}"


def en_datetime(value: datetime, tz: ZoneInfo | None = None) -> str:
    if tz is not None and value.tzinfo is not None:
        value = value.astimezone(tz)
    return f"{value:%d %b %Y, %H:%M}"


class Renderer:
    """Finds and renders templates from the workspace folder, then the shipped folder."""

    def __init__(self, folders: Iterable[Path], time_zone: str = "Asia/Ho_Chi_Minh") -> None:
        self.folders = [Path(f) for f in folders]
        self.tz = ZoneInfo(time_zone)
        self.env = ImmutableSandboxedEnvironment(
            loader=jinja2.FileSystemLoader([str(f) for f in self.folders]),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(["html", "htm", "xml"], default_for_string=False),
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        tz = self.tz
        self.env.filters.update(
            ngay=lambda v: vn_date(v, tz),
            vn_datetime=lambda v: vn_datetime(v, tz),
            en_datetime=lambda v: en_datetime(v, tz),
            moment=lambda v, lang="vi": (vn_datetime if lang == "vi" else en_datetime)(v, tz),
        )

    def find(self, name: str, lang: str, exact: bool = False) -> str | None:
        """The loader path of ``name`` in ``lang`` (else Vietnamese, unless ``exact``), or None."""
        for candidate_lang in dict.fromkeys((lang,) if exact else (lang, LANG_FALLBACK)):
            for folder in self.folders:
                for ext in EXTENSIONS:
                    relative = f"{name}.{candidate_lang}.{ext}"
                    if (folder / relative).is_file():
                        return relative
        return None

    def exists(self, name: str) -> bool:
        return any(self.find(name, lang) for lang in ("vi", "en"))

    def names(self) -> list[str]:
        """Every template name available, shipped or the workspace's own."""
        found = set()
        for folder in self.folders:
            for path in folder.rglob("*.*.*"):
                stem, lang, ext = path.relative_to(folder).as_posix().rsplit(".", 2)
                if ext in EXTENSIONS and lang in ("vi", "en"):
                    found.add(stem)
        return sorted(found)

    def render(self, name: str, lang: str, context: Mapping[str, Any]) -> dict[str, str]:
        """Render every block of the template (or the whole text as ``body``), NFC-normalised."""
        path = self.find(name, lang)
        if path is None:
            raise TemplateError(
                _(
                    "template {name!r} not found (looked for templates/{name}.{lang}.txt|md|html)"
                ).format(name=name, lang=lang)
            )
        try:
            template = self.env.get_template(path)
            if template.blocks:
                ctx = template.new_context(dict(context))
                try:
                    parts = {
                        block: "".join(render(ctx)) for block, render in template.blocks.items()
                    }
                except Exception:
                    # As Template.render does: map the traceback onto template lines.
                    self.env.handle_exception()
            else:
                parts = {"body": template.render(context)}
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                _("{file}:{line}: template syntax: {message}").format(
                    file=exc.filename or path, line=exc.lineno, message=exc.message
                )
            ) from exc
        except SecurityError as exc:
            raise TemplateError(
                _(
                    "{where}: refused by the sandbox: {message}; templates may only "
                    "use the variables they are given"
                ).format(where=self._where(path), message=exc)
            ) from exc
        except jinja2.UndefinedError as exc:
            raise TemplateError(
                _("{where}: {message}; see the variables documented for this template").format(
                    where=self._where(path), message=exc.message
                )
            ) from exc
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError) as exc:
            raise TemplateError(
                _("{where}: cannot render: {message}").format(where=self._where(path), message=exc)
            ) from exc
        return {k: unicodedata.normalize("NFC", v.strip("\n") + "\n") for k, v in parts.items()}

    def _where(self, path: str) -> str:
        """'templates/x.vi.txt:12' from the traceback Jinja2 rewrote into template lines."""
        tb = sys.exc_info()[2]
        line = None
        while tb is not None:
            if tb.tb_frame.f_code.co_filename.endswith(path):
                line = tb.tb_lineno
            tb = tb.tb_next
        full = next((str(f / path) for f in self.folders if (f / path).is_file()), path)
        return f"{full}:{line}" if line else full
