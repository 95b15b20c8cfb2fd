"""Statements: approval bound to the exact text, publication, corrections, authorisations."""

from __future__ import annotations

import json
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import docx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from crisisflow import models
from crisisflow.app import App
from crisisflow.cli import cli
from crisisflow.config import shipped
from crisisflow.errors import InvalidInput, NotFoundError, TemplateError, TransitionRefused
from crisisflow.statements import sha256

from .conftest import FakeClock, bind_login, deputy_signs, own, through, walk

TITLE = "Báo điện tử phản ánh sạt lở bờ kè Cửa Tùng"
UP_TO_APPROVAL = through("submit")  # drafted and submitted, awaiting the Chairman


def snapshot(app: App) -> dict[str, Any]:
    with app.store.reading() as conn:
        return {
            t.name: sorted(map(repr, conn.execute(sa.select(t)).all()))
            for t in models.metadata.sorted_tables
        }


@pytest.fixture
def ref(app: App) -> str:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, UP_TO_APPROVAL)
    return ref


def test_approval_binds_to_the_text_and_an_edit_voids_it(app: App, ref: str) -> None:
    approved = app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    text = app.statements.show(ref, "initial_info")["text"]
    edited = app.statements.edit(
        ref, "initial_info", text + "Thêm một câu.\n", actor=app.identify()
    )
    assert edited["voided_approval"] and edited["sha256"] != approved["sha256"]
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="not approved"):
        app.statements.publish(ref, "initial_info", "portal", actor=own(app, "chu-tich"))
    assert snapshot(app) == before
    assert app.statements.show(ref, "initial_info")["status"] == "draft"


def test_only_an_approver_may_approve(app: App, ref: str) -> None:
    before = snapshot(app)
    for person in ("truc-ban", "pho-chu-tich", None):
        with pytest.raises(TransitionRefused, match="only the approver"):
            app.statements.approve(ref, "initial_info", actor=own(app, person))
    assert snapshot(app) == before


def test_authorised_vice_chairman_may_approve_until_it_expires(
    app: App, ref: str, clock: FakeClock
) -> None:
    granted = app.statements.authorise(
        ref, "pho-chu-tich", "26/11/2026 12:00", actor=own(app, "chu-tich")
    )
    assert granted["person"] == "pho-chu-tich"
    document = app.statements.show(ref, "authorisation")
    assert "Trần Thị Bình" in document["text"]
    clock.advance(hours=4)  # 12:00 local is 05:00 UTC; the clock is now 05:00 UTC: expired
    with pytest.raises(TransitionRefused, match="only the approver"):
        app.statements.approve(ref, "initial_info", actor=own(app, "pho-chu-tich"))
    clock.advance(hours=-1)
    # Laid out for the Chairman's signature, the text is not hers to approve as it stands.
    with pytest.raises(TransitionRefused, match=r"KT\. CHỦ TỊCH / PHÓ CHỦ TỊCH / Trần Thị Bình"):
        app.statements.approve(ref, "initial_info", actor=own(app, "pho-chu-tich"))
    signed_by_deputy(app, ref, "initial_info")
    assert app.statements.approve(ref, "initial_info", actor=own(app, "pho-chu-tich"))[
        "action"
    ] == ("approved")
    assert (
        app.incidents.advance(ref, "approve", actor=own(app, "pho-chu-tich")).to_state == "approved"
    )


CHAIRMAN_SIGNS = "CHỦ TỊCH\n\nLê Văn An"
DEPUTY_SIGNS = "KT. CHỦ TỊCH\nPHÓ CHỦ TỊCH\n\nTrần Thị Bình"


def signed_by_deputy(app: App, ref: str, kind: str) -> None:
    """Put the Vice-Chairman's signer block (KT.) in place of the Chairman's."""
    text = app.statements.show(ref, kind)["text"]
    assert CHAIRMAN_SIGNS in text
    app.statements.edit(ref, kind, text.replace(CHAIRMAN_SIGNS, DEPUTY_SIGNS), actor=app.identify())
    app.statements.submit(ref, kind, actor=app.identify())


def test_an_authorised_person_cannot_pass_it_on(app: App, ref: str) -> None:
    app.statements.authorise(ref, "pho-chu-tich", "27/11/2026 17:00", actor=own(app, "chu-tich"))
    with pytest.raises(TransitionRefused, match="may not pass it on"):
        app.statements.authorise(
            ref, "chanh-van-phong", "27/11/2026 17:00", actor=own(app, "pho-chu-tich")
        )
    with pytest.raises(InvalidInput, match="future"):
        app.statements.authorise(
            ref, "pho-chu-tich", "01/01/2026 00:00", actor=own(app, "chu-tich")
        )
    with pytest.raises(NotFoundError):
        app.statements.authorise(ref, "ghost", "27/11/2026 17:00", actor=own(app, "chu-tich"))


def test_published_text_is_exactly_the_approved_text(app: App, ref: str) -> None:
    approved = app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    published = app.statements.publish(
        ref,
        "initial_info",
        "portal",
        "https://vinhlinh.example/tin/1",
        actor=own(app, "chu-tich"),
    )
    assert published["sha256"] == approved["sha256"]
    shown = app.statements.show(ref, "initial_info")
    assert sha256(shown["text"]) == approved["sha256"] and shown["status"] == "published"
    assert sorted(published["press"]) == ["thoisu@qrt.example", "toasoan@baoquangtri.example"]
    with app.store.reading() as conn:
        press = (
            conn.execute(
                sa.select(models.outbox.c.raw).where(
                    models.outbox.c.template == "press",
                    models.outbox.c.subject.endswith(shown["title"]),
                )
            )
            .scalars()
            .all()
        )
    assert len(press) == 2  # the holding statement went to the same two addresses before
    with pytest.raises(TransitionRefused, match=r"not approved|already"):
        app.statements.publish(ref, "initial_info", "portal", actor=own(app, "chu-tich"))


def test_the_playbook_publish_step_is_guarded_the_same_way(app: App, ref: str) -> None:
    app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(
        ref, "initial_info", text.replace("UBND", "Ủy ban nhân dân", 1), actor=app.identify()
    )
    with pytest.raises(TransitionRefused, match="not approved"):
        app.incidents.advance(
            ref, "publish", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
        )
    app.statements.submit(ref, "initial_info", actor=app.identify())
    app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    out = app.incidents.advance(
        ref, "publish", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
    )
    assert out.statement_steps[0]["action"] == "published"


def test_reject_needs_a_reason_and_an_approver(app: App, ref: str) -> None:
    with pytest.raises(InvalidInput, match="--reason"):
        app.statements.reject(ref, "initial_info", "  ", actor=own(app, "chu-tich"))
    result = app.statements.reject(
        ref, "initial_info", "Thiếu số liệu.", actor=own(app, "chu-tich")
    )
    assert result["action"] == "rejected"
    assert app.statements.show(ref, "initial_info")["status"] == "rejected"


def test_correction_goes_through_approval_on_the_same_channel(app: App, ref: str) -> None:
    with pytest.raises(TransitionRefused, match="never published"):
        app.statements.correct(ref, "initial_info", "Sửa số liệu.", actor=app.identify())
    app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    app.statements.publish(ref, "initial_info", "portal", actor=own(app, "chu-tich"))
    started = app.statements.correct(
        ref, "initial_info", "Số hộ bị ảnh hưởng là 12, không phải 21.", actor=app.identify()
    )
    assert started == {**started, "correction": "initial_info_correction", "channel": "portal"}
    correction = app.statements.show(ref, "initial_info_correction")
    assert correction["corrects"] == "initial_info" and "12, không phải 21" in correction["text"]
    with pytest.raises(TransitionRefused, match="not approved"):
        app.statements.publish(ref, "initial_info_correction", "portal", actor=own(app, "chu-tich"))
    app.statements.approve(ref, "initial_info_correction", actor=own(app, "chu-tich"))
    with pytest.raises(TransitionRefused, match="channel of what it corrects: portal"):
        app.statements.publish(
            ref, "initial_info_correction", "social_page", actor=own(app, "chu-tich")
        )
    published = app.statements.publish(
        ref, "initial_info_correction", "portal", actor=own(app, "chu-tich")
    )
    assert len(published["press"]) == 2  # a correction of a press statement goes to the press


def test_text_is_kept_in_nfc_so_hashes_are_stable(app: App, ref: str) -> None:
    nfd = unicodedata.normalize("NFD", "Thông tin đã được kiểm chứng.\n")
    saved = app.statements.edit(ref, "initial_info", nfd, actor=app.identify())
    shown = app.statements.show(ref, "initial_info")
    assert unicodedata.is_normalized("NFC", shown["text"])
    assert saved["sha256"] == sha256(unicodedata.normalize("NFC", nfd))
    with pytest.raises(InvalidInput, match="unchanged"):
        app.statements.edit(
            ref, "initial_info", unicodedata.normalize("NFC", nfd), actor=app.identify()
        )


def test_versions_and_diff(app: App, ref: str) -> None:
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(
        ref, "initial_info", text.replace("Hiện nay,", "Đến nay,"), actor=app.identify()
    )
    diff = app.statements.diff(ref, "initial_info")
    assert "-Hiện nay," in diff and "+Đến nay," in diff
    assert app.statements.show(ref, "initial_info", 1)["text"] == text
    with pytest.raises(NotFoundError, match="no version 9"):
        app.statements.show(ref, "initial_info", 9)
    with pytest.raises(NotFoundError, match="no press_release"):
        app.statements.show(ref, "press_release")


@pytest.mark.parametrize(
    "body, message",
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "sandbox"),
        ("{{ cycler.__init__.__globals__.os }}", "sandbox|undefined"),
        ("{% include '/etc/passwd' %}", "cannot render"),
        ("{{ incident.no_such_thing }}", "no attribute"),
        ("{% for %}", "syntax"),
    ],
)
def test_templates_written_by_staff_cannot_escape_the_sandbox(
    app: App, workspace: Path, body: str, message: str
) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    app.incidents.advance(ref, "triage", actor=app.identify())
    target = workspace / "templates/mail/task-verify.vi.txt"
    target.write_text(
        "{% block subject %}Nhiệm vụ{% endblock %}\n{% block body %}\n"
        + body
        + "\n{% endblock %}\n",
        encoding="utf-8",
    )
    before = snapshot(app)
    with pytest.raises(TemplateError, match=message) as caught:
        app.incidents.advance(
            ref, "verify", given={"field_unit": "ubnd-ho-xa"}, actor=app.identify()
        )
    assert "task-verify.vi.txt" in str(caught.value)
    assert snapshot(app) == before


def cli_run(workspace: Path, *args: str, code: int = 0, stdin: str | None = None) -> Any:
    result = CliRunner().invoke(
        cli, list(args), env={"CRISISFLOW_HOME": str(workspace)}, input=stdin
    )
    assert result.exit_code == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    return result


def test_statement_commands(app: App, ref: str, workspace: Path, tmp_path: Path) -> None:
    assert "initial_info" in cli_run(workspace, "statement", "list", ref).stdout
    text = cli_run(workspace, "statement", "show", ref, "initial_info").stdout
    assert "submitted" in text and "THÔNG CÁO BÁO CHÍ" in text
    new = tmp_path / "ban-sua.txt"
    new.write_text(
        app.statements.show(ref, "initial_info")["text"] + "Câu mới.\n", encoding="utf-8"
    )
    assert (
        "version 2"
        in cli_run(workspace, "statement", "edit", ref, "initial_info", "--file", str(new)).stdout
    )
    assert "+Câu mới." in cli_run(workspace, "statement", "diff", ref, "initial_info").stdout
    cli_run(workspace, "statement", "approve", ref, "initial_info", code=6)  # the duty officer
    cli_run(workspace, "statement", "submit", ref, "initial_info")
    refused = cli_run(
        workspace, "statement", "approve", ref, "initial_info", "--as", "chu-tich", code=6
    ).stderr
    assert "--as lends no rights" in refused and "--on-behalf" in refused
    bind_login(workspace, "chu-tich")  # the Chairman, at his own account
    assert "approved" in cli_run(workspace, "statement", "approve", ref, "initial_info").stdout
    cli_run(workspace, "statement", "publish", ref, "initial_info", "--channel", "fax", code=8)
    out = cli_run(
        workspace,
        "statement",
        "publish",
        ref,
        "initial_info",
        "--channel",
        "portal",
    ).stdout
    assert "queued to the press" in out
    md = cli_run(workspace, "statement", "export", ref, "initial_info", "--format", "txt").stdout
    shown = app.statements.show(ref, "initial_info")  # published: as issued, numbered
    assert md == shown["issued_text"] and f"Số: {shown['number']}" in md
    out_file = tmp_path / "tb.docx"
    cli_run(workspace, "statement", "export", ref, "initial_info", "-o", str(out_file))
    paragraphs = [p.text for p in docx.Document(str(out_file)).paragraphs]
    assert "THÔNG CÁO BÁO CHÍ" in paragraphs
    cli_run(workspace, "statement", "show", ref, "nope", code=5)
    cli_run(
        workspace,
        "statement",
        "edit",
        ref,
        "initial_info",
        "--file",
        str(tmp_path / "missing.txt"),
        code=8,
    )


def test_template_list_and_render(app: App, workspace: Path) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    listed = cli_run(workspace, "template", "list").stdout
    assert "statements/initial-info" in listed and "shipped" in listed

    def own(name: str) -> bool:
        rows = json.loads(cli_run(workspace, "template", "list", "--json").stdout)
        return bool(next(r for r in rows if r["name"] == name)["workspace"])

    assert not own("mail/new-incident")
    (workspace / "templates/mail/new-incident.en.txt").write_text(
        "{% block subject %}Own{% endblock %}{% block body %}Own body{% endblock %}",
        encoding="utf-8",
    )
    assert own("mail/new-incident")  # the workspace's copy now differs, and wins
    shown = cli_run(
        workspace, "template", "render", "mail/new-incident", "--incident", ref, "--lang", "en"
    ).stdout
    assert "Own body" in shown
    vi = cli_run(
        workspace, "template", "render", "statements/initial-info", "--incident", ref
    ).stdout
    assert "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM" in vi
    cli_run(workspace, "template", "render", "nope", "--incident", ref, code=9)


def test_who_approves_and_publishes_is_the_playbooks_to_say(app: App) -> None:
    """A workspace that lets the Vice-Chairman approve and only the office publish says so in
    its playbook; the engine follows it on the command and on the playbook step alike."""
    shipped_text = (shipped("playbooks") / "media-crisis.yaml").read_text(encoding="utf-8")
    edited = shipped_text.replace("  approver: approver\n", "  approver: deputy\n", 1).replace(
        "  publishers: [spokesperson, coordinator]\n", "  publishers: [coordinator]\n", 1
    )
    (app.workspace / "playbooks" / "media-crisis.yaml").write_text(edited, encoding="utf-8")
    # ... and in its directory, that the Vice-Chairman signs (KT. CHỦ TỊCH / PHÓ CHỦ TỊCH).
    deputy_signs(app)
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    deputy_approves = [
        (t, {"actor": "pho-chu-tich"}) if t == "approve_holding" else (t, kw)
        for t, kw in UP_TO_APPROVAL
    ]
    walk(app, ref, deputy_approves)
    with pytest.raises(TransitionRefused, match=r"only the approver \(deputy\)"):
        app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    app.incidents.advance(ref, "approve", actor=own(app, "pho-chu-tich"))
    with pytest.raises(TransitionRefused, match="only coordinator may publish"):
        app.incidents.advance(
            ref, "publish", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
        )
    assert app.records.show(ref)["state"] == "approved"
    app.incidents.advance(ref, "publish", given={"publish_channel": "portal"}, actor=app.identify())
    assert app.records.show(ref)["state"] == "published"


def test_an_empty_text_is_never_saved_approved_or_published(app: App, workspace: Path) -> None:
    # A workspace template that renders nothing drafts an empty statement...
    folder = workspace / "templates" / "statements"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "initial-info.vi.txt").write_text(
        "{% block title %}Thông tin ban đầu{% endblock %}{% block body %}{% endblock %}\n",
        encoding="utf-8",
    )
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, UP_TO_APPROVAL[:-1])  # drafted, not yet submitted
    assert app.statements.show(ref, "initial_info")["text"].strip() == ""
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="is empty"):
        app.incidents.advance(ref, "submit", actor=app.identify())
    with pytest.raises(TransitionRefused, match="is empty"):
        app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    with pytest.raises(InvalidInput, match="empty"):
        app.statements.edit(ref, "initial_info", " \n\u200b\n", actor=app.identify())
    assert snapshot(app) == before


def test_approval_is_refused_while_a_blank_is_left_and_names_its_line(app: App, ref: str) -> None:
    text = app.statements.show(ref, "initial_info")["text"]
    lines = text.splitlines()
    for blank in ("[Số hộ dân bị ảnh hưởng: bổ sung.]", "[…]", "Kính gửi: ……………… (tên cơ quan)"):
        app.statements.edit(
            ref, "initial_info", "\n".join([*lines[:3], blank, *lines[3:]]), actor=app.identify()
        )
        before = snapshot(app)
        with pytest.raises(TransitionRefused, match=r"line 4, still has a blank to fill"):
            app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
        with pytest.raises(TransitionRefused, match=r"line 4, still has a blank to fill"):
            app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
        assert snapshot(app) == before
    # A bracketed number is a reference, not a blank; the filled-in text is approved.
    app.statements.edit(ref, "initial_info", text + "Theo báo cáo [1].\n", actor=app.identify())
    assert app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))["action"] == (
        "approved"
    )


def test_a_text_returned_unchanged_is_approved_only_with_a_confirmation_the_history_keeps(
    app: App, ref: str
) -> None:
    reason = "Bổ sung số hộ bị ảnh hưởng."
    app.incidents.advance(ref, "reject", note=reason, actor=own(app, "chu-tich"))
    app.incidents.advance(ref, "submit", actor=app.identify())  # the same text again
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match=r"returned by chu-tich .* --confirm-unchanged"):
        app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
    with pytest.raises(TransitionRefused, match="--confirm-unchanged"):
        app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    assert snapshot(app) == before
    out = app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"), confirm_unchanged=True)
    assert out.to_state == "approved"
    event = app.records.show(ref)["events"][-1]
    confirmed = event["data"]["statements"][0]["confirmed_unchanged"]
    assert confirmed["rejected_by"] == "chu-tich" and confirmed["reason"] == reason
    # An edited text is a new text: no confirmation is asked for it.
    text = app.statements.show(ref, "initial_info")["text"]
    app.statements.edit(ref, "initial_info", text + "Thêm 12 hộ.\n", actor=app.identify())
    assert "confirmed_unchanged" not in app.statements.approve(
        ref, "initial_info", actor=own(app, "chu-tich")
    )


def test_the_holding_statement_goes_out_only_once_approved(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, through("hold"))
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="holding_statement"):
        app.incidents.advance(
            ref, "publish_holding", given={"publish_channel": "portal"}, actor=app.identify()
        )
    assert snapshot(app) == before
    # The Chairman approves the holding text as soon as it is drafted; the office publishes it.
    app.statements.approve(ref, "holding_statement", actor=own(app, "chu-tich"))
    out = app.incidents.advance(
        ref, "publish_holding", given={"publish_channel": "portal"}, actor=app.identify()
    )
    assert out.to_state == "drafting" and out.statement_steps[0]["action"] == "published"
    shown = app.statements.show(ref, "holding_statement")
    assert shown["status"] == "published"
    assert sorted(out.statement_steps[0]["press"]) == [
        "thoisu@qrt.example",
        "toasoan@baoquangtri.example",
    ]


def test_only_someone_who_speaks_for_the_committee_is_made_spokesperson(app: App) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, through("assess"))
    before = snapshot(app)
    for person in ("truc-ban", "pho-chu-tich"):  # a duty officer; a Vice-Chairman unauthorised
        with pytest.raises(TransitionRefused, match=rf"spokesperson={person}: .* no role"):
            app.incidents.advance(
                ref, "assign_spokesperson", given={"spokesperson": person}, actor=app.identify()
            )
    with pytest.raises(TransitionRefused, match="no role spokesperson"):
        app.incidents.open(
            "media-crisis", TITLE, given={"spokesperson": "truc-ban"}, actor=own(app, "chu-tich")
        )
    assert snapshot(app) == before
    # Authorised in writing for this matter, the Vice-Chairman may speak for it.
    app.statements.authorise(ref, "pho-chu-tich", "24h", actor=own(app, "chu-tich"))
    out = app.incidents.advance(
        ref, "assign_spokesperson", given={"spokesperson": "pho-chu-tich"}, actor=app.identify()
    )
    assert out.to_state == "spokesperson_assigned"


def test_a_published_text_is_frozen_and_further_information_is_the_next_statement(
    app: App,
) -> None:
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    walk(app, ref, through("monitor"))
    published = app.statements.show(ref, "initial_info")
    before = snapshot(app)
    with pytest.raises(TransitionRefused, match="does not change; correct it"):
        app.statements.edit(ref, "initial_info", "Văn bản khác.\n", actor=app.identify())
    for act in (app.statements.submit, app.statements.approve):
        with pytest.raises(TransitionRefused, match="published and does not change"):
            act(ref, "initial_info", actor=own(app, "chu-tich"))
    assert snapshot(app) == before

    def update(note: str) -> dict[str, Any]:
        drafted = app.incidents.advance(ref, "update", note=note, actor=app.identify()).drafted
        app.incidents.advance(ref, "submit_update", actor=app.identify())
        app.incidents.advance(ref, "approve_update", actor=own(app, "chu-tich"))
        out = app.incidents.advance(
            ref, "publish_update", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
        )
        assert out.statement_steps[0]["press"]  # further information goes to the press too
        return drafted[0]

    first = update("Đã di dời 12 hộ dân đến nơi an toàn.")
    second = update("Đã khắc phục xong đoạn bờ kè bị sụt lún.")
    assert (first["kind"], first["series"], second["series"]) == ("update_info", 1, 2)
    shown = app.records.show(ref)
    updates = [s for s in shown["statements"] if s["kind"] == "update_info"]
    assert [(s["series"], len(s["versions"])) for s in updates] == [(1, 1), (2, 1)]
    assert "12 hộ dân" in updates[0]["versions"][0]["text"]  # the first went out as it was
    assert "bờ kè bị sụt lún" in updates[1]["versions"][0]["text"]
    assert app.statements.show(ref, "update_info")["text"] == updates[1]["versions"][0]["text"]
    assert app.statements.show(ref, "initial_info")["sha256"] == published["sha256"]


def test_a_second_correction_is_a_new_one_and_never_rewrites_the_first(app: App, ref: str) -> None:
    app.statements.approve(ref, "initial_info", actor=own(app, "chu-tich"))
    app.statements.publish(ref, "initial_info", "portal", actor=own(app, "chu-tich"))
    app.statements.correct(ref, "initial_info", "Số hộ là 12.", actor=app.identify())
    with pytest.raises(TransitionRefused, match="is being prepared; edit it"):
        app.statements.correct(ref, "initial_info", "Số hộ là 13.", actor=app.identify())
    app.statements.approve(ref, "initial_info_correction", actor=own(app, "chu-tich"))
    app.statements.publish(ref, "initial_info_correction", "portal", actor=own(app, "chu-tich"))
    first = app.statements.show(ref, "initial_info_correction")
    app.statements.correct(ref, "initial_info", "Thời điểm là 07 giờ.", actor=app.identify())
    second = app.statements.show(ref, "initial_info_correction")
    assert second["status"] == "draft" and second["corrects"] == "initial_info"
    shown = app.records.show(ref)
    corrections = [s for s in shown["statements"] if s["kind"] == "initial_info_correction"]
    assert [s["series"] for s in corrections] == [1, 2]
    assert corrections[0]["versions"][-1]["sha256"] == first["sha256"]


@pytest.mark.parametrize(
    "day, rule",
    [
        (datetime(2026, 6, 30, 1, tzinfo=UTC), "authorisation.publish"),  # Decree 09/2017
        (datetime(2026, 7, 1, 1, tzinfo=UTC), "authorisation.publish.internal"),  # kept since
    ],
)
def test_a_written_authorisation_is_published_within_12_hours(
    app: App, clock: FakeClock, day: datetime, rule: str
) -> None:
    clock.now = day
    ref = app.incidents.open("media-crisis", TITLE, actor=app.identify()).ref
    granted = app.statements.authorise(ref, "pho-chu-tich", "24h", actor=own(app, "chu-tich"))
    assert [(c["clock"], c["rule"]) for c in granted["clocks"]] == [("authorisation", rule)]
    measured = {d["clock"]: d for d in app.records.show(ref)["deadlines"]}["authorisation"]
    assert datetime.fromisoformat(measured["due_at"]) == day + timedelta(hours=12)
    app.statements.submit(ref, "authorisation", actor=app.identify())
    app.statements.approve(ref, "authorisation", actor=own(app, "chu-tich"))
    clock.advance(hours=11)
    published = app.statements.publish(ref, "authorisation", "portal", actor=own(app, "chu-tich"))
    assert [(c["clock"], c["change"]) for c in published["clocks"]] == [("authorisation", "met")]
    again = app.statements.authorise(ref, "truong-phong-vhtt", "24h", actor=own(app, "chu-tich"))
    assert "clocks" not in again  # the clock runs once per incident
    assert app.statements.show(ref, "authorisation")["status"] == "draft"  # a new letter
