"""The contexts templates get from real steps, for each kind of organisation: shared by the
template tests and by tools/render_check.py."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

import crisisflow.store_incidents
from crisisflow import document_parts, numbering
from crisisflow.app import App
from crisisflow.config import SKELETON
from crisisflow.incident_view import view_of

from .conftest import MEDIA_CRISIS_PATH, walk

# The shipped directories: the district (the workspace default), a commune, a department.
ORGANISATIONS = {
    "district": None,
    "commune": SKELETON / "examples" / "commune.yaml",
    "department": SKELETON / "examples" / "department.yaml",
}
# A unit that verifies, and the head who approves and speaks, in each directory.
PEOPLE = {
    "district": ("ubnd-cua-tung", "chu-tich"),
    "commune": ("phong-kinh-te", "chu-tich"),
    "department": ("thanh-tra", "giam-doc"),
}


def for_organisation(
    path: list[tuple[str, dict[str, object]]], unit: str, head: str
) -> list[tuple[str, dict[str, object]]]:
    """A walk with the district's unit and Chairman replaced by ``unit`` and ``head``."""

    def swap(value: object) -> object:
        if isinstance(value, dict):
            return {k: swap(v) for k, v in value.items()}
        return {"ubnd-cua-tung": unit, "chu-tich": head}.get(value, value)  # type: ignore[arg-type]

    return [(trigger, swap(kwargs)) for trigger, kwargs in path]  # type: ignore[misc]


# What opening each playbook needs (its required facts).
OPENING: dict[str, dict[str, str]] = {
    "press-inquiry": {"press_agency": "Báo Tuổi Trẻ", "question": "Tiến độ giải phóng mặt bằng?"},
    "press-conference": {
        "topic": "Tiến độ dự án đường ven biển",
        "conference_at": "10/12/2026 09:00",
        "venue": "Hội trường số 1",
    },
    "spokesperson-announcement": {"speaker": "HEAD", "assigned_at": "07/12/2026 16:00"},
    "press-release": {"topic": "Khánh thành cầu", "content": "Ngày 19/12/2026 khánh thành."},
    "disclosure": {
        "document": "Kế hoạch sử dụng đất năm 2027",
        "information_created_at": "04/02/2027 10:00",
    },
}


def build(folder: Path, organisation: str = "district") -> dict[str, object]:
    """The context a step gives templates, for a media-crisis incident walked to its end, in
    a workspace of ``organisation`` (district, commune or department: ORGANISATIONS)."""
    from crisisflow.config import load_settings
    from crisisflow.workspace import init

    from .conftest import FakeClock

    mp = pytest.MonkeyPatch()
    mp.setenv("CRISISFLOW_DATABASE_URL", f"sqlite:///{folder / 'db.sqlite'}")
    workspace = init(folder / "ws").workspace
    example = ORGANISATIONS[organisation]
    if example is not None:
        shutil.copy(example, workspace / "directory.yaml")
    app = App(load_settings(workspace), clock=FakeClock())
    unit, head = PEOPLE[organisation]
    deputy = app.directory.issuer.signers_for("default")[1].person
    ref = app.incidents.open(
        "media-crisis", "Mạng xã hội lan truyền tin sạt lở bờ kè", actor=app.identify()
    ).ref
    walk(app, ref, for_organisation(MEDIA_CRISIS_PATH, unit, head))
    with app.store.reading() as conn:
        row = crisisflow.store_incidents.incident_by_ref(conn, ref)
        incident = view_of(row, app.catalogue.pinned(conn, row.playbook_hash))
    now = app.clock()
    context = app.drafter.context(incident, actor=head, note="Ghi chú.", trigger="verify", now=now)
    shown = app.statements.show(ref, "initial_info")
    base = app.settings["base_url"]
    statement = {
        "kind": "initial_info",
        "title": shown["title"],
        "text": shown["text"],
        "number": shown["version"],
        "sha256": shown["sha256"],
        "lang": "vi",
        "url": f"{base}/incidents/{ref}/statements/initial_info",
    }
    statement["preview"] = numbering.preview(statement["text"], "vi")
    docs = {
        lang: document_parts.document(
            app.directory, "initial_info", "TC", now=now, tz=app.tz, lang=lang
        )
        for lang in ("vi", "en")
    }
    extras = {
        "docs": docs,
        "doc": docs["vi"],
        "statements": [statement],
        "statement": statement,
        "approval_url": statement["url"],
        "ack_url": f"{base}/ack/eyJwIjoiYWNrIn0.c2lnbmVk",
        "recipient": {
            "name": app.directory.recipient(unit).name,
            "email": app.directory.recipient(unit).email,
        },
        "role": "field_unit",
        "sign_in_url": f"{base}/sign-in/c2lnbi1pbi10b2tlbg",
        "minutes": 15,
        "client": "203.0.113.7",
        "due": now + timedelta(hours=2),
        "deadline": {
            "rule": "verify.internal",
            "title": "Xác minh thông tin",
            "basis": "Mục tiêu nội bộ",
            "due_at": now,
            "started_at": now,
            "status": "overdue",
            "escalation_level": 1,
        },
        "authorisation": {
            "person": app.drafter.person_card(deputy),
            "granted_by": app.drafter.person_card(head),
            "valid_from": now,
            "valid_until": now + timedelta(days=1),
        },
        "duty": {
            "id": "yearly_report",
            "title": {"vi": "Báo cáo năm", "en": "Yearly report"},
            "basis": "Nghị định 244/2026/NĐ-CP, Điều 10",
            "period": 2026,
        },
        "overdue": False,
        "report": {
            "year": 2026,
            "window_start": now,
            "window_end": now,
            "basis": "Điều 10 Nghị định số 244/2026/NĐ-CP của Chính phủ",
            "on_behalf": [
                {
                    "ref": "KC-2026-0001",
                    "at": now,
                    "person": head,
                    "step": "approve",
                    "entered_by": "truc-ban",
                    "on_behalf": "Đồng ý qua điện thoại",
                }
            ],
            "counts": dict.fromkeys(
                [
                    "press_conferences",
                    "briefings",
                    "replies",
                    "press_requests",
                    "incidents_with_statement",
                    "incidents",
                    "statements_on_time",
                    "incidents_under_24h_rule",
                    "correction_requests",
                    "untrue_items",
                ],
                2,
            ),
        },
    }
    # Each other playbook's own templates read its incidents' facts.
    others: dict[str, dict[str, object]] = {}
    for playbook, given in OPENING.items():
        given = {k: head if v == "HEAD" else v for k, v in given.items()}
        other = app.incidents.open(playbook, "Thử", given=given, actor=app.identify()).ref
        with app.store.reading() as conn:
            row = crisisflow.store_incidents.incident_by_ref(conn, other)
            opened = view_of(row, app.catalogue.pinned(conn, row.playbook_hash))
        found = app.drafter.context(
            opened, actor="truc-ban", note="Ghi chú.", trigger=None, now=now
        )
        others[playbook] = {**found, **extras, "ref": other}
    inquiry = others["press-inquiry"]["incident"]
    inquiry["facts"]["refusal_ground"] = "under_investigation"  # type: ignore[index]
    inquiry["labels"]["refusal_ground"] = "vụ việc đang được điều tra"  # type: ignore[index]
    app.close()
    mp.undo()
    return {**context, **extras, "ref": ref, "others": others}


def in_lang(context: dict[str, object], lang: str) -> dict[str, object]:
    """``context`` for a template rendered in ``lang``: its document parts in that language."""
    docs = context["docs"]
    assert isinstance(docs, dict)
    return {**context, "lang": lang, "doc": docs[lang]}
