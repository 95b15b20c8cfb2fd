"""Documents a clerical office (văn thư) files without correcting them (Decree 30/2020): the
header, the number, the signer block, no code or internal word in public text, for a district,
a commune and a provincial department; and the register numbers issued statements take."""

from __future__ import annotations

import io
import json
import multiprocessing
import re
from pathlib import Path

import docx
import pytest
from click.testing import CliRunner

from crisisflow.app import App
from crisisflow.cli import cli
from crisisflow.config import load_settings, shipped
from crisisflow.directory import load as load_directory
from crisisflow.errors import TransitionRefused
from crisisflow.export import export
from crisisflow.issuer import Signing
from crisisflow.render import Renderer

from .conftest import FakeClock, own
from .template_contexts import ORGANISATIONS, build, in_lang
from .test_templates import context_for

STATEMENTS = [n for n in Renderer([shipped("templates")]).names() if n.startswith("statements/")]
# What the public reads: never the internal incident title.
PUBLIC = {
    "statements/holding-statement",
    "statements/initial-info",
    "statements/update-info",
    "statements/press-release",
    "statements/press-answer",
    "statements/refusal",
    "statements/correction",
    "statements/correction-request",
    "statements/rumour-rebuttal",
    "statements/disclosure-notice",
    "statements/press-invitation",
    "statements/spokesperson-announcement",
    "statements/complaint-answer",
}
INTERNAL_TITLE = "Mạng xã hội lan truyền tin sạt lở bờ kè"
CODES = re.compile(r"\b(portal|press_release|social_page|written_reply|occurred|L[1-4])\b")
# Words of another kind of organisation, which a template must not fix.
FOREIGN = {
    "district": re.compile(r"Giám đốc"),
    "commune": re.compile(r"huyện|thị trấn|Giám đốc"),
    "department": re.compile(r"huyện|\bxã\b(?! hội)|Ủy ban nhân dân|ỦY BAN NHÂN DÂN|Chủ tịch"),
}
HEADERS = {
    "district": ["ỦY BAN NHÂN DÂN HUYỆN VĨNH LINH"],
    "commune": ["ỦY BAN NHÂN DÂN XÃ CỬA TÙNG"],
    "department": ["UBND TỈNH QUẢNG TRỊ", "SỞ NÔNG NGHIỆP VÀ MÔI TRƯỜNG"],
}
SIGNERS = {
    "district": ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Lê Văn An"],
    "commune": ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH", "Võ Văn Hải"],
    "department": ["GIÁM ĐỐC", "Nguyễn Hữu Phước"],
}
NUMBER = re.compile(r"^Số: {6}/(?:[A-ZĐ][A-Za-zĐ]*-[A-Z]+|[A-Z]+-[A-Z]+)$")


@pytest.fixture(scope="module", params=list(ORGANISATIONS))
def organisation(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, dict[str, object]]:
    name = request.param
    return name, build(tmp_path_factory.mktemp(name), name)


def _cells(document: docx.document.Document) -> list[list[str]]:
    return [[p.text for p in cell.paragraphs] for t in document.tables for cell in t._cells]


@pytest.mark.parametrize("name", STATEMENTS)
def test_every_statement_is_laid_out_as_its_organisation_issues_it(
    name: str, organisation: tuple[str, dict[str, object]]
) -> None:
    kind, contexts = organisation
    parts = Renderer([shipped("templates")]).render(
        name, "vi", in_lang(context_for(name, contexts), "vi")
    )
    text = parts["body"]
    document = docx.Document(io.BytesIO(export(text, "docx", title=parts["title"], lang="vi")))
    header, _motto, number, *_ = _cells(document)
    assert [line for line in header if line.strip()] == HEADERS[kind]
    assert NUMBER.match(number[0]), number
    signer = [p.text for p in document.tables[-1]._cells[-1].paragraphs if p.text.strip()]
    assert signer == SIGNERS[kind]
    bases = [p for p in document.paragraphs if p.text.startswith("Căn cứ")]
    assert all(all(run.italic for run in p.runs) for p in bases)
    if bases:
        assert bases[-1].text.rstrip().endswith((".", ",", ":")), bases[-1].text
    public = "\n".join(p.text for p in document.paragraphs) + parts["title"]
    assert not CODES.search(public), CODES.search(public)
    assert not FOREIGN[kind].search(text), FOREIGN[kind].search(text)
    if name in PUBLIC:
        assert INTERNAL_TITLE not in text and INTERNAL_TITLE not in parts["title"]


MAIL = [n for n in Renderer([shipped("templates")]).names() if not n.startswith("statements/")]


@pytest.mark.parametrize("name", MAIL)
def test_mail_fixes_no_word_of_another_kind_of_organisation(
    name: str, organisation: tuple[str, dict[str, object]]
) -> None:
    kind, contexts = organisation
    context = {**in_lang(context_for(name, contexts), "vi"), "role": "field_unit"}
    parts = Renderer([shipped("templates")]).render(name, "vi", context)
    text = "\n".join(parts.values())
    assert not FOREIGN[kind].search(text), FOREIGN[kind].search(text)
    assert not re.search(r"\b(L[1-4]|social_page|press_release)\b", parts["body"])


def test_a_signer_must_be_declared_and_the_text_must_carry_their_block(tmp_path: Path) -> None:
    directory = load_directory(ORGANISATIONS["department"] or Path())
    from zoneinfo import ZoneInfo

    signing = Signing(directory.issuer, directory.people, ZoneInfo("Asia/Ho_Chi_Minh"))
    head, _deputy = directory.issuer.signers_for("press_release")
    text = "\n".join(["Nơi nhận:", "- Lưu: VT, VP.", "", *signing.block(head)])
    assert signing.refusal("press_release", "giam-doc", text) is None
    assert "KT. GIÁM ĐỐC / PHÓ GIÁM ĐỐC / Trương Thị Hoa" in (
        signing.refusal("press_release", "pho-giam-doc", text) or ""
    )
    assert "does not sign" in (signing.refusal("press_release", "chanh-van-phong", text) or "")


def test_an_undeclared_signer_leaves_a_blank_that_keeps_the_text_back(app: App) -> None:
    directory = app.workspace / "directory.yaml"
    text = directory.read_text(encoding="utf-8")
    start = text.index("signers:")
    directory.write_text(text[:start] + text[text.index("# Where published") :], "utf-8")
    app.reread_directory()
    ref = _release(app)
    assert "[Họ và tên người ký]" in app.statements.show(ref, "press_release")["text"]
    with pytest.raises(TransitionRefused, match="blank to fill"):
        app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))


def _release(app: App, topic: str = "Khánh thành cầu Hiền Lương mới") -> str:
    given = {"topic": topic, "content": "Ngày 19/12/2026 khánh thành."}
    ref = app.incidents.open("press-release", "Việc nội bộ", given=given, actor=own(app, None)).ref
    app.incidents.advance(ref, "submit", actor=own(app, None))
    return ref


def _publish(app: App, ref: str) -> None:
    app.incidents.advance(ref, "approve", actor=own(app, "chu-tich"))
    app.incidents.advance(
        ref, "publish", given={"publish_channel": "portal"}, actor=own(app, "chu-tich")
    )


def test_publication_takes_the_next_number_of_the_year_and_symbol(
    app: App, workspace: Path
) -> None:
    first, second = _release(app), _release(app, "Lễ hội Cửa Tùng")
    _publish(app, first)
    _publish(app, second)
    shown = app.statements.show(second, "press_release")
    assert shown["number"] == "02/TC-UBND"
    assert "Số: 02/TC-UBND" in shown["issued_text"] and "Số:      /TC-UBND" in shown["text"]
    assert [r["number"] for r in app.statements.list(second)] == ["02/TC-UBND"]
    with app.store.reading() as conn:
        from crisisflow import models

        mails = conn.execute(
            models.outbox.select().where(models.outbox.c.template == "press")
        ).all()
    # The press reads each statement's own title, never the internal one or the reference.
    assert {m.subject for m in mails} == {"Khánh thành cầu Hiền Lương mới", "Lễ hội Cửa Tùng"}
    runner = CliRunner()
    listed = runner.invoke(cli, ["register", "--json"], env={"CRISISFLOW_HOME": str(workspace)})
    assert listed.exit_code == 0, listed.output
    entries = json.loads(listed.stdout)
    assert [(e["written"], e["ref"], e["signer"]) for e in entries] == [
        ("01/TC-UBND", first, "chu-tich"),
        ("02/TC-UBND", second, "chu-tich"),
    ]
    exported = app.statements.export(second, "press_release", "docx")
    props = docx.Document(io.BytesIO(exported)).core_properties
    assert props.author == "Ủy ban nhân dân huyện Vĩnh Linh" and "python-docx" not in (
        props.comments + props.last_modified_by
    )
    assert props.title == "Lễ hội Cửa Tùng"


def _publish_five(workspace: str, url: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import os

    os.environ["CRISISFLOW_DATABASE_URL"] = url
    app = App(load_settings(Path(workspace)), clock=FakeClock())
    refs = [_release(app, f"Thông cáo {i}") for i in range(5)]
    queue.put("ready")
    for ref in refs:
        _publish(app, ref)
    app.close()


def test_concurrent_publications_take_distinct_consecutive_numbers(
    app: App, workspace: Path, db_url: str
) -> None:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_publish_five, args=(str(workspace), db_url, queue))
        for _ in range(4)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
        assert w.exitcode == 0
    numbers = [e["number"] for e in app.register.entries()]
    assert sorted(numbers) == list(range(1, 21))


def test_mail_in_english_names_codes_in_english(app: App) -> None:
    directory = app.workspace / "directory.yaml"
    text = directory.read_text(encoding="utf-8")
    directory.write_text(
        text.replace(
            "    email: vanphong@vinhlinh.example\n",
            "    email: vanphong@vinhlinh.example\n    lang: en\n",
            1,
        ),
        "utf-8",
    )
    app.reread_directory()
    given = {"severity": "L3", "channel": "social"}
    ref = app.incidents.open("media-crisis", "Thử", given=given, actor=own(app, None)).ref
    with app.store.reading() as conn:
        from crisisflow import models

        (row,) = conn.execute(
            models.outbox.select().where(
                models.outbox.c.incident_id.is_not(None),
                models.outbox.c.recipient == "vanphong@vinhlinh.example",
            )
        ).all()
    import email
    from email import policy

    message = email.message_from_bytes(row.raw, policy=policy.default)
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Level 3 (high)" in body and "social media" in body, body
    assert "Cấp 3" not in body and ref in body
