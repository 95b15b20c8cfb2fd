"""Exporting a statement: the template layout is recognised in every shipped statement template,
the Word file follows Decree 30/2020 Appendix I, staff text never becomes markup, and any text at
all exports to every format."""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import docx
import pytest
from docx.document import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Length, Pt
from docx.text.paragraph import Paragraph
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crisisflow import document_parts
from crisisflow.directory import load as load_directory
from crisisflow.export import FORMATS, AdminDocument, export, parse
from crisisflow.render import Renderer

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates"
# Working notes that stay inside (a press conference's talking points) are not issued, so they
# carry no administrative layout.
INTERNAL = {"talking-points"}
STATEMENTS = sorted(
    {p.name.split(".")[0] for p in (TEMPLATES / "statements").glob("*.*.txt")} - INTERNAL
)
# The press documents and the official letter whose every part is checked below; the other
# templates are checked for the parts every administrative document has.
LAYOUT_CHECKED = ["correction", "correction-request", "holding-statement", "initial-info"]
DIRECTORY = load_directory(ROOT / "crisisflow/skeleton/directory.yaml")
ORG = document_parts.organisation(DIRECTORY)
NOW = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)
SPOKESPERSON = {
    "id": "chu-tich",
    "name": "Lê Văn An",
    "title": "Chủ tịch UBND huyện",
    "email": "chutich@vinhlinh.example",
}
MOTTO = {
    "vi": ["CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc"],
    "en": ["SOCIALIST REPUBLIC OF VIETNAM", "Independence - Freedom - Happiness"],
}
TNR = "Times New Roman"


def context(spokesperson: dict[str, str] | None) -> dict[str, Any]:
    """What Drafter.context gives a statement template, for a verified, published incident."""
    facts: dict[str, Any] = {
        "channel": "social",
        "verified_facts": "Sáng 26/11, một đoạn bờ kè dài khoảng 15 m bị sụt lún.",
        "source_url": "https://example.org/bai-viet",
        "publish_channel": "Cổng thông tin điện tử huyện",
    }
    if spokesperson:
        facts["spokesperson"] = spokesperson
    return {
        "incident": {
            "ref": "KC-2026-0001",
            "title": "Mạng xã hội lan truyền tin sạt lở bờ kè",
            "state": "published",
            "state_title": "Đã công bố",
            "owner": "van-phong",
            "facts": facts,
            "timestamps": {"received_at": NOW, "published_at": NOW},
            "opened_at": NOW,
            "playbook": "Khủng hoảng truyền thông",
            "labels": {"channel": "mạng xã hội", "publish_channel": "Cổng thông tin điện tử"},
            "clocks": {},
            "on_behalf": [],
        },
        "org": dict(ORG),
        "channel_label": lambda code: {"portal": "Cổng thông tin điện tử"}.get(code, code),
        "role_names": {"communications": "Phòng Văn hóa và Thông tin"},
        "actor": {"id": "chu-tich", "name": "Lê Văn An", "title": "Chủ tịch UBND huyện"},
        "note": "",
        "trigger": "",
        "transition_title": "",
        "now": NOW,
        "due": None,
        "lang": "vi",
        "workspace_command": "crisisflow",
        # What the templates that take them get (the authorisation, the yearly report).
        "authorisation": {
            "person": {
                "name": "Trần Thị Bình",
                "title": "Phó Chủ tịch UBND huyện",
                "email": "phochutich@vinhlinh.example",
            },
            "granted_by": {"name": "Lê Văn An", "title": "Chủ tịch UBND huyện"},
            "valid_from": NOW,
            "valid_until": NOW,
        },
        "report": {
            "year": 2026,
            "window_start": NOW,
            "window_end": NOW,
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
                1,
            ),
        },
    }


def render(
    name: str, lang: str, spokesperson: dict[str, str] | None = SPOKESPERSON
) -> dict[str, str]:
    doc = document_parts.document(
        DIRECTORY, name, "TC", now=NOW, tz=ZoneInfo("Asia/Ho_Chi_Minh"), lang=lang
    )
    given = {**context(spokesperson), "doc": doc, "lang": lang}
    return Renderer([TEMPLATES]).render(f"statements/{name}", lang, given)


def all_lines(doc: AdminDocument) -> list[str]:
    singles = [doc.number, doc.place_date, doc.doc_type, doc.recipients_label, doc.signer_name]
    many = doc.issuing + doc.motto + doc.excerpt + doc.addressees + doc.body + doc.recipients
    return sorted(x for x in [*singles, *many, *doc.signer] if x)


# --- the parser ---------------------------------------------------------------------------


def test_every_statement_template_is_found() -> None:
    assert len(STATEMENTS) >= 4
    for name in STATEMENTS:
        assert (TEMPLATES / "statements" / f"{name}.en.txt").is_file(), name


@pytest.mark.parametrize("with_spokesperson", [True, False], ids=["spokesperson", "chairman"])
@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", LAYOUT_CHECKED)
def test_parse_finds_the_parts_of_every_template(
    name: str, lang: str, with_spokesperson: bool
) -> None:
    parts = render(name, lang, SPOKESPERSON if with_spokesperson else None)
    text = parts["body"]
    doc = parse(text)
    vi = lang == "vi"
    org = ORG["full_name"] if vi else ORG["name_en"]
    assert doc.recognised
    # A People's Committee's own documents carry no managing-body line (Decree 30, Appendix I).
    assert doc.issuing == [org.upper()]
    assert re.fullmatch(r"(Số|No\.):\s+/[A-Z]+-[A-Z]+", doc.number), doc.number
    assert doc.motto == MOTTO[lang]
    assert doc.place_date.startswith(f"{ORG['place']}, ")
    assert "2026" in doc.place_date
    if name == "correction-request":  # an official letter (công văn)
        assert doc.is_letter and not doc.doc_type
        assert doc.excerpt[0].startswith("V/v " if vi else "Re: ")
        assert doc.addressees[0].startswith("Kính gửi: " if vi else "To: ")
    else:
        assert not doc.is_letter and not doc.addressees
        assert doc.doc_type == ("THÔNG CÁO BÁO CHÍ" if vi else "PRESS RELEASE")
        assert doc.excerpt == [parts["title"].strip()]
    # The directory's signer, in the capacity it declares, and always by name.
    assert doc.signer == (
        ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
        if vi
        else ["ON BEHALF OF THE PEOPLE'S COMMITTEE", "CHAIRMAN"]
    )
    assert doc.signer_name == "Lê Văn An"
    assert doc.body and doc.body[0].startswith(ORG["full_name"] if vi else f"The {org}")
    assert doc.recipients_label == ("Nơi nhận:" if vi else "Recipients:")
    assert doc.recipients[-1].startswith("Lưu: VT" if vi else "Filed: ")
    assert not any(item.startswith("-") for item in doc.recipients)
    # Nothing is lost: every line of the text is in exactly one part.
    lines = [re.sub(r"^- ", "", x.strip()) for x in text.splitlines() if x.strip()]
    assert all_lines(doc) == sorted(lines)


@pytest.mark.parametrize("lang", ["vi", "en"])
@pytest.mark.parametrize("name", STATEMENTS)
def test_every_statement_template_is_an_administrative_document(name: str, lang: str) -> None:
    doc = parse(render(name, lang)["body"])
    assert doc.recognised, name
    assert doc.motto == MOTTO[lang]
    assert doc.place_date.startswith(f"{ORG['place']}, ") and "2026" in doc.place_date
    assert doc.body and (doc.doc_type or doc.is_letter)
    assert doc.signer


def test_parse_accepts_staff_edits_of_the_layout() -> None:
    text = render("initial-info", "vi")["body"]
    text = text.replace("CỘNG HÒA", "CỘNG HOÀ")  # the older placing of the tone mark
    text = text.replace("\n\nLê Văn An", "\nLê Văn An")  # the name right under the title
    assert "CHỦ TỊCH\nLê Văn An" in text
    doc = parse(unicodedata.normalize("NFD", text).replace("\n", "\r\n"))
    assert doc.recognised
    assert doc.motto[0] == "CỘNG HOÀ XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert doc.issuing[0] == "ỦY BAN NHÂN DÂN HUYỆN VĨNH LINH"  # NFC again
    assert unicodedata.is_normalized("NFC", "".join(all_lines(doc)))
    assert doc.signer == ["TM. ỦY BAN NHÂN DÂN", "CHỦ TỊCH"]
    assert doc.signer_name == "Lê Văn An"


def test_text_that_left_the_layout_is_all_body() -> None:
    doc = parse("Thông báo khẩn\n\n  Người dân không đến gần bờ kè.  \nXin cảm ơn.\x00\n")
    assert not doc.recognised
    assert doc.body == ["Thông báo khẩn", "Người dân không đến gần bờ kè.", "Xin cảm ơn."]
    assert not (doc.issuing or doc.doc_type or doc.recipients or doc.signer)


# --- txt and md ---------------------------------------------------------------------------


def test_txt_is_the_text_in_nfc() -> None:
    text = render("holding-statement", "vi")["body"]
    assert export(unicodedata.normalize("NFD", text), "txt", title="t") == text.encode("utf-8")


def unescape_markdown(md: str) -> str:
    """What CommonMark reads from backslash escapes."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", md)


@pytest.mark.parametrize("name", STATEMENTS)
def test_markdown_round_trips_the_body(name: str) -> None:
    text = render(name, "vi")["body"]
    tricky = "# *Không* phải [liên kết](x) <b>đậm</b> & 1. không phải danh sách_"
    text = text.replace("Nơi nhận:", f"{tricky}\n\nNơi nhận:")
    doc = parse(text)
    md = export(text, "md", title="t").decode("utf-8")
    assert tricky in doc.body
    assert tricky not in md and "<b>" not in md
    paragraphs = unescape_markdown(md).split("\n\n")
    for paragraph in doc.body:
        assert paragraph in paragraphs
    for item in doc.recipients:
        assert f"- {item}" in unescape_markdown(md).splitlines()
    assert "***Nơi nhận:***" in md


# --- html ---------------------------------------------------------------------------------

TAGS = {"html", "head", "meta", "title", "style", "body", "main", "table", "tr", "td", "p"}
TAGS |= {"span", "hr", "br"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def read_html(data: bytes) -> Page:
    page = Page()
    page.feed(data.decode("utf-8"))
    page.close()
    return page


def test_html_escapes_everything_staff_wrote() -> None:
    script = '<script>alert("x")</script>'
    text = render("initial-info", "vi")["body"]
    for anchor in ("ỦY BAN NHÂN DÂN HUYỆN", "Hiện nay", "- Lưu", "Lê Văn An", "Vĩnh Linh, ngày"):
        text = text.replace(anchor, anchor + script, 1)
    data = export(text, "html", title=f"</title>{script}", lang='vi"><script>')
    page = read_html(data)
    assert page.tags <= TAGS
    assert b"<script" not in data
    assert data.count(b"&lt;script&gt;") >= 6
    assert data.startswith(b"<!DOCTYPE html>") and b'<meta charset="utf-8">' in data
    shown = "".join(page.text)
    for paragraph in parse(text).body:
        assert paragraph in shown


def test_html_lays_out_header_and_footer_in_two_columns() -> None:
    data = export(render("initial-info", "vi")["body"], "html", title="Thông tin ban đầu")
    source = data.decode("utf-8")
    head = source[source.index('<table class="head">') : source.index("</table>")]
    assert head.count("<tr>") == 2 and head.count("<td>") == 4
    assert 'class="caps b">ỦY BAN NHÂN DÂN HUYỆN VĨNH LINH' in head
    assert '<p class="date">Vĩnh Linh, ngày 26 tháng 11 năm 2026</p>' in head
    assert '<table class="foot"><tr><td><p class="label">Nơi nhận:</p>' in source
    assert "<title>Thông tin ban đầu</title>" in source


# --- docx ---------------------------------------------------------------------------------


def read_docx(data: bytes) -> Document:
    return docx.Document(BytesIO(data))


def paragraph(paragraphs: list[Paragraph], text: str) -> Paragraph:
    return next(p for p in paragraphs if p.text == text)


def only_run(p: Paragraph) -> Any:
    assert len(p.runs) == 1, p.text
    return p.runs[0]


def assert_page_setup(document: Document) -> None:
    section = document.sections[0]

    def mm(length: Length | None) -> int:
        assert length is not None
        return round(float(length.mm))

    assert mm(section.page_width) == 210 and mm(section.page_height) == 297
    assert not section.orientation  # WD_ORIENT.PORTRAIT
    assert 20 <= mm(section.top_margin) <= 25 and 20 <= mm(section.bottom_margin) <= 25
    assert 30 <= mm(section.left_margin) <= 35 and 15 <= mm(section.right_margin) <= 20
    defaults = document.styles.element.find(f".//{qn('w:rPrDefault')}//{qn('w:rFonts')}")
    assert defaults is not None
    assert dict(defaults.attrib) == {
        qn(f"w:{s}"): TNR for s in ("ascii", "hAnsi", "eastAsia", "cs")
    }
    assert document.styles["Normal"].font.name == TNR
    parts = [document.element, section.header._element, section.first_page_header._element]
    for part in parts:
        for fonts in part.iter(qn("w:rFonts")):
            assert set(fonts.attrib.values()) <= {TNR}


@pytest.fixture(scope="module")
def statement() -> tuple[AdminDocument, Document]:
    text = render("initial-info", "vi")["body"]
    return parse(text), read_docx(export(text, "docx", title="Thông tin ban đầu"))


def test_docx_page_fonts_and_numbering(statement: tuple[AdminDocument, Document]) -> None:
    _, document = statement
    assert_page_setup(document)
    assert document.core_properties.title == "Thông tin ban đầu"
    section = document.sections[0]
    assert section.different_first_page_header_footer
    fields = section.header._element.findall(f".//{qn('w:fldSimple')}")
    assert [f.get(qn("w:instr")).strip() for f in fields] == ["PAGE"]
    number = section.header.paragraphs[0]
    assert number.alignment == WD_ALIGN_PARAGRAPH.CENTER
    size = fields[0].find(f"{qn('w:r')}/{qn('w:rPr')}/{qn('w:sz')}")
    assert size is not None and size.get(qn("w:val")) == "26"  # half-points: 13 pt
    assert not section.first_page_header._element.findall(f".//{qn('w:fldSimple')}")
    assert "PAGE" not in section.first_page_header._element.xml


def test_docx_header_is_a_borderless_two_column_table(
    statement: tuple[AdminDocument, Document],
) -> None:
    _, document = statement
    head = document.tables[0]
    assert len(head.columns) == 2
    borders = head._tbl.tblPr.find(qn("w:tblBorders"))
    assert borders is not None and {b.get(qn("w:val")) for b in borders} == {"nil"}
    bodies, motto = head.cell(0, 0).paragraphs, head.cell(0, 1).paragraphs
    issuer = only_run(paragraph(bodies, "ỦY BAN NHÂN DÂN HUYỆN VĨNH LINH"))
    assert [p.text for p in bodies if p.text] == [issuer.text]  # its own: no parent line
    assert issuer.font.size == Pt(12) and issuer.font.bold
    # A body under a managing body (a Sở) names it above, upright.
    text = render("initial-info", "vi")["body"]
    under = docx.Document(BytesIO(export("UBND TỈNH QUẢNG TRỊ\n" + text, "docx", title="t")))
    parent = only_run(paragraph(under.tables[0].cell(0, 0).paragraphs, "UBND TỈNH QUẢNG TRỊ"))
    assert parent.font.size == Pt(12) and not parent.font.bold
    assert any(p._p.find(f".//{qn('w:pBdr')}") is not None for p in bodies)  # the short rule
    national = only_run(paragraph(motto, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"))
    assert national.font.bold and national.text.isupper() and national.font.size == Pt(12)
    assert not national.font.italic
    slogan = only_run(paragraph(motto, "Độc lập - Tự do - Hạnh phúc"))
    assert slogan.font.bold and slogan.font.underline and slogan.font.size == Pt(13)
    number = only_run(paragraph(head.cell(1, 0).paragraphs, "Số:      /TC-UBND"))
    assert number.font.size == Pt(13) and not number.font.bold and not number.font.italic
    date = only_run(paragraph(head.cell(1, 1).paragraphs, "Vĩnh Linh, ngày 26 tháng 11 năm 2026"))
    assert date.font.italic and date.font.size == Pt(13)


def test_docx_title_body_recipients_and_signer(statement: tuple[AdminDocument, Document]) -> None:
    doc, document = statement
    kind = paragraph(document.paragraphs, "THÔNG CÁO BÁO CHÍ")
    assert kind.alignment == WD_ALIGN_PARAGRAPH.CENTER
    run = only_run(kind)
    assert run.font.bold and run.text.isupper() and run.font.size == Pt(14)
    excerpt = paragraph(document.paragraphs, doc.excerpt[0])
    assert excerpt.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert only_run(excerpt).font.bold and only_run(excerpt).font.size == Pt(14)
    for text in doc.body:
        body = paragraph(document.paragraphs, text)
        assert body.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY
        assert body.paragraph_format.first_line_indent == Cm(1.27)
        assert (body.paragraph_format.space_before or 0) >= Pt(6)
        run = only_run(body)
        assert run.font.size == Pt(14) and not run.font.bold and not run.font.italic
    foot = document.tables[-1]
    assert len(foot.columns) == 2
    recipients, signer = foot.cell(0, 0).paragraphs, foot.cell(0, 1).paragraphs
    label = only_run(paragraph(recipients, "Nơi nhận:"))
    assert label.font.bold and label.font.italic and label.font.size == Pt(12)
    for item in doc.recipients:
        run = only_run(paragraph(recipients, f"- {item}"))
        assert run.font.size == Pt(11) and not run.font.bold and not run.font.italic
    for line in doc.signer:
        run = only_run(paragraph(signer, line))
        assert run.font.bold and run.text.isupper() and run.font.size == Pt(14)
    name = only_run(paragraph(signer, "Lê Văn An"))
    assert name.font.bold and name.font.size == Pt(14)


def test_docx_letter_puts_its_excerpt_under_the_number() -> None:
    text = render("correction-request", "vi")["body"]
    document = read_docx(export(text, "docx", title="Đề nghị cải chính"))
    head = document.tables[0]
    excerpt = only_run(paragraph(head.cell(1, 0).paragraphs, "V/v đề nghị cải chính thông tin"))
    assert excerpt.font.size == Pt(12) and not excerpt.font.bold and not excerpt.font.italic
    to = paragraph(document.paragraphs, parse(text).addressees[0])
    assert only_run(to).font.size == Pt(14) and not only_run(to).font.bold
    assert not any(p.text.isupper() and p.runs[0].font.bold for p in document.paragraphs if p.runs)


def test_docx_of_unrecognised_text_keeps_the_page_setup() -> None:
    document = read_docx(export("Dòng một\n\nDòng hai", "docx", title="t", lang="en"))
    assert_page_setup(document)
    assert not document.tables
    assert [p.text for p in document.paragraphs] == ["Dòng một", "Dòng hai"]
    assert all(p.alignment == WD_ALIGN_PARAGRAPH.JUSTIFY for p in document.paragraphs)


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="pdf"):
        export("x", "pdf", title="t")


# --- any text at all ----------------------------------------------------------------------

TEMPLATE_LINES = render("initial-info", "vi")["body"].splitlines()
TEMPLATE_LINES += render("correction-request", "en")["body"].splitlines()


def check_any(text: str, title: str) -> None:
    for fmt in FORMATS:
        data = export(text, fmt, title=title)
        if fmt == "docx":
            assert_page_setup(read_docx(data))
        else:
            data.decode("utf-8")
        if fmt == "html":
            assert read_html(data).tags <= TAGS


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(), st.text())
def test_any_text_exports_to_every_format(text: str, title: str) -> None:
    check_any(text, title)


@settings(deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TEMPLATE_LINES) | st.text(max_size=20), max_size=40))
def test_pieces_of_the_layout_export_to_every_format(lines: list[str]) -> None:
    check_any("\n".join(lines), "t")
