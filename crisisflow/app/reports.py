"""Reports: the after-action review of one incident, and the yearly spokesperson report
(Decree 244/2026/NĐ-CP, Art. 10) counted from the record by the rule pack's definitions (see
``rules/vn.yaml`` `reports:` and the README)."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from .. import document_parts, store_reports
from ..errors import InvalidInput
from ..i18n import _

if TYPE_CHECKING:
    from . import App


class Reports:
    def __init__(self, app: App) -> None:
        self.app = app

    @property
    def yearly_template(self) -> str:
        return self.app.rule_pack.yearly_report.template

    def yearly_window(self, year: int) -> tuple[datetime, datetime]:
        """15 December of the year before to the end of 14 December, workspace time."""
        start = datetime.combine(datetime(year - 1, 12, 15).date(), time(0), self.app.tz)
        end = datetime.combine(datetime(year, 12, 15).date(), time(0), self.app.tz)
        return start, end

    def yearly_counts(self, year: int) -> dict[str, Any]:
        if not 2000 <= year <= 2100:
            raise InvalidInput(_("--year {year}: give a year such as 2026").format(year=year))
        start, end = self.yearly_window(year)
        kinds = self.app.rule_pack.yearly_report
        with self.app.store.reading() as conn:
            counts = store_reports.yearly_counts(conn, start, end, kinds)
            on_behalf = store_reports.on_behalf_entries(conn, start, end)
        last = end - timedelta(seconds=1)
        return {
            "year": year,
            "window_start": start,
            "window_end": last,
            "basis": kinds.basis_for(last.date()),  # the decree in force as the window closes
            "counts": counts,
            "on_behalf": on_behalf,
        }

    def yearly(self, year: int, fmt: str) -> str:
        """The yearly report: counts as JSON, or the administrative document in md or html."""
        report = self.yearly_counts(year)
        if fmt == "json":
            return json.dumps(
                {
                    **report,
                    "window_start": report["window_start"].isoformat(),
                    "window_end": report["window_end"].isoformat(),
                    "on_behalf": [{**e, "at": e["at"].isoformat()} for e in report["on_behalf"]],
                },
                ensure_ascii=False,
                indent=2,
            )
        text, title, lang = self._yearly_document(report)
        if fmt == "html":
            from ..export import export

            page: bytes = export(text, "html", title=title, lang=lang)
            return page.decode("utf-8")
        return text

    def yearly_docx(self, year: int) -> bytes:
        """The yearly report as a Word document laid out as Decree 30/2020 asks."""
        from ..export import export

        text, title, lang = self._yearly_document(self.yearly_counts(year))
        document: bytes = export(text, "docx", title=title, lang=lang)
        return document

    def _yearly_document(self, report: dict[str, Any]) -> tuple[str, str, str]:
        app = self.app
        lang = app.settings["language"]
        now = app.clock()
        context = {
            "org": document_parts.organisation(app.directory),
            "doc": app.drafter.layout("yearly_report", "BC", now),
            "now": now,
            "lang": lang,
            "report": report,
            "note": "",
            "actor": app.drafter.person_card(app.identify().person),
            "workspace_command": "crisisflow",
        }
        parts = app.renderer.render(self.yearly_template, lang, context)
        return parts["body"], parts.get("title", ""), lang

    def after_action(self, ref: str, fmt: str, lang: str | None = None) -> str:
        """The after-action review (``review``), in ``lang`` (default: the workspace's)."""
        from .review import after_action

        return after_action(self.app, ref, fmt, lang or self.app.settings["language"])
