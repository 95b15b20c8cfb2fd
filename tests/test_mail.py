"""Composing messages: readable in ordinary clients, no way for user text to add headers."""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crisisflow import ical, mail
from crisisflow.errors import InvalidInput

NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
SENDER = mail.address("UBND huyện Vĩnh Linh", "crisisflow@vinhlinh.example")


def compose(**kw: object) -> email.message.EmailMessage:
    args = {
        "sender": SENDER,
        "recipient": mail.address("Văn phòng", "vanphong@vinhlinh.example"),
        "subject": "[KC-2026-0001] Phát hiện vụ việc mới",
        "body": "Kính gửi: Văn phòng\n",
        "ref": "KC-2026-0001",
        "when": NOW,
        **kw,
    }
    raw = mail.compose(**args).raw  # type: ignore[arg-type]
    assert b"\n" not in raw.replace(b"\r\n", b"")  # every line ends in CRLF
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


@pytest.mark.parametrize("bad", ["a\r\nBcc: victim@example.com", "a\nX-Evil: 1", "a\x00b"])
def test_line_breaks_in_names_are_refused(bad: str) -> None:
    with pytest.raises(InvalidInput):
        mail.address(bad, "x@vinhlinh.example")


@pytest.mark.parametrize("wrapped", ["a\r\nBcc: victim@example.com", "a\nX-Evil: 1"])
def test_a_wrapped_subject_is_folded_to_one_line_never_to_a_header(wrapped: str) -> None:
    msg = compose(subject=wrapped)
    assert msg["Bcc"] is None and msg["X-Evil"] is None
    assert msg["Subject"] == " ".join(wrapped.split())


@given(
    name=st.text(max_size=40).filter(lambda s: not any(c in s for c in "\r\n\x00")),
    subject=st.text(max_size=80).filter(lambda s: not any(c in s for c in "\r\n\x00")),
)
def test_any_name_and_subject_stay_in_their_header(name: str, subject: str) -> None:
    msg = compose(recipient=mail.address(name, "vanphong@vinhlinh.example"), subject=subject)
    assert [a.addr_spec for a in msg["To"].addresses] == ["vanphong@vinhlinh.example"]
    assert msg["Bcc"] is None and msg["Cc"] is None
    assert str(msg["Subject"]) == " ".join(subject.split())


def test_vietnamese_text_reads_back_exactly() -> None:
    body = "Kính gửi: Văn phòng HĐND và UBND huyện\n\nĐề nghị xác minh <ngay>.\n"
    msg = compose(body=body)
    assert msg["Subject"] == "[KC-2026-0001] Phát hiện vụ việc mới"
    assert msg["From"].addresses[0].display_name == "UBND huyện Vĩnh Linh"
    assert msg.get_body(("plain",)).get_content().replace("\r\n", "\n") == body
    html = msg.get_body(("html",)).get_content()
    assert "&lt;ngay&gt;" in html and "<ngay>" not in html  # user text never becomes markup
    assert not msg.defects


def test_deadline_travels_as_an_ics_event() -> None:
    deadline = mail.Deadline(NOW + timedelta(hours=2), "Hạn xác minh", "x@vinhlinh.example")
    msg = compose(deadline=deadline, reply_to=mail.address("Văn phòng", "vp@vinhlinh.example"))
    assert msg["Reply-To"].addresses[0].addr_spec == "vp@vinhlinh.example"
    attachment = next(msg.iter_attachments())
    assert attachment.get_content_type() == "text/calendar"
    assert "DTSTART:20261126T030000Z" in attachment.get_content()


def test_every_message_has_its_own_id_in_the_incident_thread() -> None:
    first, second = compose(), compose()
    assert first["Message-ID"] != second["Message-ID"]
    assert first["References"] == second["References"] == "<incident.kc-2026-0001@vinhlinh.example>"


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.mark.parametrize(
    ("filename", "shown"),
    [
        ("KC-2026-0001-initial_info-v2.docx", "KC-2026-0001-initial_info-v2.docx"),
        (
            "Thông tin ban đầu về vụ việc sạt lở bờ kè Cửa Tùng, ngày 26 tháng 11 (trình).docx",
            "Thông tin ban đầu về vụ việc sạt lở bờ kè Cửa Tùng, ngày 26 tháng 11 (trình).docx",
        ),
        (
            '../../etc/"x"\r\nBcc: victim@example.com.docx',
            ".._.._etc__x___Bcc: victim@example.com.docx",
        ),
    ],
)
def test_attachments_travel_beside_the_deadline_with_rfc_2231_names(
    filename: str, shown: str
) -> None:
    data = bytes(range(256)) * 40  # any bytes, as a .docx is
    deadline = mail.Deadline(NOW + timedelta(hours=2), "Hạn xác minh", "x@vinhlinh.example")
    msg = compose(deadline=deadline, attachments=[mail.Attachment(filename, DOCX, data)])
    calendar, document = msg.iter_attachments()
    assert calendar.get_content_type() == "text/calendar"
    assert document.get_content_type() == DOCX
    assert document.get_filename() == shown
    assert document.get_content() == data
    assert msg["Bcc"] is None and not msg.defects and not document.defects
    # The compat32 parser, which many tools still use, reads the same name from the bytes.
    composed = mail.compose(
        sender=SENDER,
        recipient=SENDER,
        subject="s",
        body="b",
        ref="KC-2026-0001",
        when=NOW,
        attachments=[mail.Attachment(filename, DOCX, data)],
    )
    legacy = email.message_from_bytes(composed.raw)
    assert [p.get_filename() for p in legacy.walk() if p.get_filename()] == [shown]


def test_a_content_type_that_could_add_headers_is_refused() -> None:
    with pytest.raises(InvalidInput):
        compose(attachments=[mail.Attachment("a.docx", "text/plain\r\nBcc: x@example.com", b"")])


def test_deadline_event_escapes_text_and_folds_long_lines_for_calendar_programs() -> None:
    summary = "Hạn xác minh; bờ kè, Cửa Tùng \\ " * 4 + "\r\nBEGIN:VEVENT"
    raw = ical.deadline_event(
        uid="kc-2026-0001.mail.task-verify.3@vinhlinh.example",
        due=NOW,
        summary=summary,
        description="[KC-2026-0001] Phiếu giao nhiệm vụ",
        stamp=NOW - timedelta(hours=2),
    )
    lines = raw.split(b"\r\n")
    assert max(len(line) for line in lines) <= 75  # RFC 5545 §3.1, in octets
    assert all(not line.startswith(b"BEGIN:VEVENT") for line in lines[5:])  # no injected line
    lines[-1].decode("utf-8")
    event = next(iter(icalendar.Calendar.from_ical(raw).walk("VEVENT")))
    assert str(event["summary"]) == summary.replace("\r\n", "\n")
    assert event.decoded("dtstart") == NOW and event.decoded("dtend") == NOW + timedelta(minutes=15)
    assert event.walk("VALARM")[0].decoded("trigger") == timedelta(minutes=-30)
