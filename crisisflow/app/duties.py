"""The recurring duties the rule pack declares (the yearly spokesperson report): listed with
their next due time, reminded by the worker's tick like a clock (each reminder once, however
often it runs), and marked done by the office."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from .. import outbox, store_duties
from ..actor import Actor
from ..errors import ConflictError, InvalidInput, NotFoundError
from ..i18n import _
from ..rules import Duty

if TYPE_CHECKING:
    from . import App

DONE, OVERDUE = "done", "overdue"
DUTY_TEMPLATE = "mail/duty-reminder"


class DutyCases:
    def __init__(self, app: App) -> None:
        self.app = app

    def _duty(self, duty_id: str) -> Duty:
        duties = self.app.rule_pack.duties
        if duty_id not in duties:
            raise NotFoundError(
                _("no duty {id!r}; the rule pack declares: {known}").format(
                    id=duty_id, known=", ".join(sorted(duties)) or _("none")
                )
            )
        return duties[duty_id]

    def _period(self, conn: Any, duty: Duty, now: datetime) -> int:
        """The year whose occurrence is the one now owed: this year's, unless it was done
        (then next year's)."""
        year = now.astimezone(self.app.tz).year
        done = any(n.key == DONE for n in store_duties.notices_of(conn, duty.id, year))
        return year + 1 if done else year

    def upcoming(self) -> list[dict[str, Any]]:
        """Each duty's occurrence now owed: its due time, legal basis, and what was sent."""
        app, now = self.app, self.app.clock()
        lang = app.settings["language"]
        found = []
        with app.store.reading() as conn:
            for duty in app.rule_pack.duties.values():
                period = self._period(conn, duty, now)
                due = duty.due_in(period, app.tz)
                sent = [n.key for n in store_duties.notices_of(conn, duty.id, period)]
                found.append(
                    {
                        "duty": duty.id,
                        "title": duty.title.get(lang) or duty.title.get("vi") or duty.id,
                        "period": period,
                        "due_at": due.isoformat(),
                        "seconds_left": int((due - now).total_seconds()),
                        "owner": duty.owner,
                        "basis": duty.basis,
                        "sent": sent,
                    }
                )
        return sorted(found, key=lambda d: d["due_at"])

    def done(self, duty_id: str, note: str, *, actor: Actor) -> dict[str, Any]:
        """Record this period's occurrence of the duty done (say how in ``note``)."""
        duty, note = self._duty(duty_id), note.strip()
        if not note:
            raise InvalidInput(_("--note: say how the duty was done (its document number)"))
        now = self.app.clock()
        with self.app.store.writing() as conn:
            period = self._period(conn, duty, now)
            values = {"duty": duty.id, "period": period, "key": DONE, "at": now}
            store_duties.insert_notice(conn, {**values, "actor": actor.person, "note": note})
        return {"duty": duty.id, "period": period, "done_at": now.isoformat()}

    def remind(self, now: datetime) -> list[dict[str, Any]]:
        """Queue each reminder due by ``now``, and one notice once the duty is overdue, to the
        duty's owner role, each once."""
        sent: list[dict[str, Any]] = []
        duties = self.app.rule_pack.duties.values()
        if duties:
            self.app.drafter  # noqa: B018 - templates and directory, before a transaction
        for duty in duties:
            try:
                with self.app.store.writing() as conn:
                    sent += self._remind(conn, duty, now)
            except ConflictError:
                continue  # another worker sent it first
        return sent

    def _remind(self, conn: Any, duty: Duty, now: datetime) -> list[dict[str, Any]]:
        period = self._period(conn, duty, now)
        due = duty.due_in(period, self.app.tz)
        keys = {n.key for n in store_duties.notices_of(conn, duty.id, period)}
        # Only the latest notice owed by now, once: a worker that was down sends no backlog.
        times = sorted((due - b, f"remind:{_span(b)}") for b in duty.remind)
        passed = [key for moment, key in [*times, (due, OVERDUE)] if moment <= now]
        owed = passed[-1:] if passed and passed[-1] not in keys else []
        sent = []
        for key in owed:
            store_duties.insert_notice(
                conn, {"duty": duty.id, "period": period, "key": key, "at": now}
            )
            mails = self._mails(duty, period, due, key, now)
            outbox.queue(conn, mails, None, f"duty/{duty.id}/{period}/{key}", now)
            sent.append(
                {
                    "ref": f"{duty.id}-{period}",
                    "clock": duty.id,
                    "notice": key,
                    "to": [m["recipient"] for m in mails],
                }
            )
        return sent

    def _context(self, duty: Duty, period: int, due: datetime, key: str, now: datetime) -> Any:
        return {
            "org": dict(self.app.directory.organisation),
            "duty": {"id": duty.id, "title": duty.title, "basis": duty.basis, "period": period},
            "due": due,
            "overdue": key == OVERDUE,
            "now": now,
            "workspace_command": "crisisflow",
        }

    def sample_context(self, now: datetime) -> dict[str, Any]:
        """What the reminder template gets, for a preview: the pack's first duty (or an
        example), due this year."""
        duties = list(self.app.rule_pack.duties.values())
        duty = duties[0] if duties else Duty("example", {"vi": "Nhiệm vụ"}, 12, 19, "-", "-", ())
        year = now.astimezone(self.app.tz).year
        context: dict[str, Any] = self._context(duty, year, duty.due_in(year, self.app.tz), "", now)
        return context

    def _mails(
        self, duty: Duty, period: int, due: datetime, key: str, now: datetime
    ) -> list[dict[str, Any]]:
        app = self.app
        drafter = app.drafter
        context = self._context(duty, period, due, key, now)
        mails = []
        for recipient in app.directory.members(duty.owner):
            lang = recipient.lang
            parts = app.renderer.render(DUTY_TEMPLATE, lang, {**context, "lang": lang})
            subject = " ".join(parts["subject"].split())
            mails.append(
                drafter.composed(
                    f"{duty.id}-{period}", recipient, subject, parts["body"], now, DUTY_TEMPLATE
                )
            )
        return mails


def _span(before: Any) -> str:
    hours = int(before.total_seconds() // 3600)
    return f"{hours // 24}d" if hours % 24 == 0 else f"{hours}h"
