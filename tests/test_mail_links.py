"""What the e-mail of a step carries: an approval request the approver can decide from (the
whole text, the .docx, the link to its page), and task mail with a signed, single-purpose
"acknowledge" link that expires with the task."""

from __future__ import annotations

import email
import email.policy
import io
import re
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import docx
import pytest
import sqlalchemy as sa

from crisisflow import models, signing
from crisisflow.app import App
from crisisflow.config import load_settings, shipped
from crisisflow.numbering import preview

from .conftest import MEDIA_CRISIS_PATH, FakeClock, own, through, walk

TITLE = "Mạng xã hội lan truyền <b>tin</b> sạt lở bờ kè Cửa Tùng"
TO_APPROVAL = through("submit")  # the last of these steps submits the initial information


def queued(app: App, template: str) -> list[Any]:
    with app.store.reading() as conn:
        ob = models.outbox
        query = sa.select(ob).where(ob.c.template == template).order_by(ob.c.id)
        return list(conn.execute(query))


def parsed(row: Any) -> EmailMessage:
    message = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage) and not message.defects
    return message


def plain(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def html(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content())


def ack_token(app: App, body: str) -> str:
    found = re.findall(re.escape(app.settings["base_url"]) + r"/ack/([A-Za-z0-9_.-]+)", body)
    assert len(found) == 1, body
    return str(found[0])


def docx_lines(data: bytes) -> list[str]:
    """Every paragraph of a Word file, tables included, as one comparable line each."""
    document = docx.Document(io.BytesIO(data))
    paragraphs = list(document.paragraphs)
    for table in document.tables:
        for row in table.rows:
            for cell in row.cells:
                paragraphs.extend(cell.paragraphs)
    return [" ".join(p.text.split()).casefold() for p in paragraphs]


def test_an_approval_request_carries_the_whole_text_its_docx_and_its_page(
    app: App, clock: FakeClock
) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, TO_APPROVAL)
    statement = app.statements.show(ref, "initial_info")
    _holding, row = queued(app, "mail/approval-request")  # the holding statement's first
    assert row.recipient == "chutich@vinhlinh.example" and row.priority == 10
    message = parsed(row)
    body = plain(message)
    # The whole text, to decide from, as it will be issued (its number still to come).
    assert preview(statement["text"], "vi").rstrip() in body
    assert statement["sha256"] in body and f"Phiên bản {statement['version']}" in body
    page = f"{app.settings['base_url']}/incidents/{ref}/statements/initial_info"
    assert page.startswith("http://") and page in body and page in html(message)
    assert "crisisflow advance" not in body and "/ack/" not in body
    # The title and the text come from people: in the HTML twin they stay text.
    assert "&lt;b&gt;tin&lt;/b&gt;" in html(message) and "<b>" not in html(message)
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == f"{ref}-initial_info-v{statement['version']}.docx"
    lines = docx_lines(attachment.get_content())
    for line in statement["text"].splitlines():  # the attachment: the very text approved
        if line.strip():
            assert " ".join(line.split()).casefold() in lines, line


def test_a_text_edited_after_rejection_goes_out_again_in_full(app: App, clock: FakeClock) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, through("reject"))  # submitted, then rejected
    edited = app.statements.show(ref, "initial_info")["text"].replace(
        "Bờ kè sụt lún 15 m", "Bờ kè sụt lún 15 m, 12 hộ dân bị ảnh hưởng"
    )
    app.statements.edit(ref, "initial_info", edited, actor=own(app, None))
    walk(app, ref, [("submit", {})])  # submitted again
    _holding, first, second = queued(app, "mail/approval-request")
    assert "12 hộ dân" not in plain(parsed(first))
    message = parsed(second)
    assert preview(edited, "vi").rstrip() in plain(message)
    (attachment,) = message.iter_attachments()
    assert attachment.get_filename() == f"{ref}-initial_info-v2.docx"
    assert any("12 hộ dân" in line for line in docx_lines(attachment.get_content()))


def test_task_mail_carries_a_signed_acknowledge_link_for_its_unit_and_task(
    app: App, clock: FakeClock
) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, MEDIA_CRISIS_PATH[:2])  # triage, verify: the field unit's task, due in 2 h
    (task,) = queued(app, "mail/task-verify")
    body = plain(parsed(task))
    token = ack_token(app, body)
    link = signing.read_link(app.secret_key, "ack", token)
    assert link.fields == {"ref": ref, "unit": "ubnd-cua-tung", "task": "mail/task-verify@3"}
    assert link.expires == clock.now + timedelta(hours=2)  # it expires with the task
    assert f"Xác nhận đã nhận nhiệm vụ: {app.settings['base_url']}/ack/{token}" in body
    walk(app, ref, through("publish_holding")[2:])  # up to drafting: a review task with no due time
    reviews = queued(app, "mail/task-review")
    assert len(reviews) == 2
    tokens = {r.recipient: ack_token(app, plain(parsed(r))) for r in reviews}
    assert len(set(tokens.values())) == 2  # each recipient its own link
    for address, token in tokens.items():
        link = signing.read_link(app.secret_key, "ack", token)
        assert app.directory.recipient(link.fields["unit"]).email == address
        assert link.fields["ref"] == ref and link.fields["task"] == "mail/task-review@9"
        assert link.expires == clock.now + timedelta(hours=72)


def test_an_acknowledge_link_changed_in_one_character_is_refused(
    app: App, clock: FakeClock
) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, MEDIA_CRISIS_PATH[:2])
    (task,) = queued(app, "mail/task-verify")
    token = ack_token(app, plain(parsed(task)))
    signing.read_link(app.secret_key, "ack", token)  # as sent, it reads
    # Every position, the last too: its two unused bits spell the same bytes otherwise.
    for at in range(len(token)):
        swapped = "B" if token[at] == "A" else "A"
        with pytest.raises(signing.BadLink):
            signing.read_link(app.secret_key, "ack", token[:at] + swapped + token[at + 1 :])
    with pytest.raises(signing.BadLink):
        signing.read_link(b"another key of forty characters or more!", "ack", token)
    with pytest.raises(signing.BadLink):
        signing.read_link(app.secret_key, "sign-in", token)


def test_a_workspace_without_a_key_still_advances_and_mails_without_the_link(
    workspace: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    (workspace / signing.KEY_FILE).unlink()  # a workspace made before keys existed
    app = App(load_settings(workspace), clock=clock)
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, TO_APPROVAL)
    assert app.records.show(ref)["state"] == "approval"
    (task,) = queued(app, "mail/task-verify")
    body = plain(parsed(task))
    assert "/ack/" not in body and "đề nghị phản hồi ngay" in body
    _holding, request = queued(app, "mail/approval-request")  # needs no key: its page signs in
    assert f"/incidents/{ref}/statements/initial_info" in plain(parsed(request))
    app.close()


def test_an_approval_request_no_step_submits_presents_what_awaits_approval(
    workspace: Path, clock: FakeClock
) -> None:
    """A step that e-mails the approver without submitting (here a reminder that re-enters
    the approval state) presents the texts already submitted."""
    source = (shipped("playbooks") / "media-crisis.yaml").read_text(encoding="utf-8")
    source = source.replace("id: media-crisis", "id: media-remind").replace(
        "reference_prefix: KC", "reference_prefix: KR"
    )
    source += (
        "  - trigger: remind\n"
        "    title: {vi: Nhắc duyệt, en: Remind the approver}\n"
        "    source: approval\n"
        "    dest: approval\n"
    )
    (workspace / "playbooks" / "media-remind.yaml").write_text(source, encoding="utf-8")
    app = App(load_settings(workspace), clock=clock)
    ref = app.incidents.open("media-remind", TITLE, actor=app.identify()).ref
    walk(app, ref, [*TO_APPROVAL, ("remind", {})])
    statement = app.statements.show(ref, "initial_info")
    _holding, _submitted, reminder = queued(app, "mail/approval-request")
    message = parsed(reminder)
    assert reminder.priority == 10
    assert preview(statement["text"], "vi").rstrip() in plain(message)
    assert f"/incidents/{ref}/statements/initial_info" in plain(message)
    assert [a.get_filename() for a in message.iter_attachments()] == [f"{ref}-initial_info-v1.docx"]
    app.close()
