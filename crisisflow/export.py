"""One statement version as a file: ``txt``, ``md``, ``html`` or ``docx``.

Statements are stored as plain text in the layout the templates write (issuing bodies, number;
motto, place/date; type name, excerpt; body; "Nơi nhận:"; signer). ``parse`` recognises it in
Vietnamese and English so every format lays the parts out like the paper document; text staff
rewrote beyond recognition is all body, so an export never fails on what a person typed.

The Word file follows Nghị định 30/2020/NĐ-CP, Phụ lục I: A4 portrait, margins top/bottom 20 mm,
left 30 mm, right 20 mm (Mục I.3 allows 20-25 / 30-35 / 15-20), Times New Roman, black; page
numbers 13 pt, upright, centred in the top margin, not on the first page (Mục I.7). Each element,
from Nghị định 30/2020/NĐ-CP, Phụ lục I, Mục II (the size within the allowed range is the one the
appendix's own specimen, Mục V, uses):

=====================================  ======  ==========  ====================================
element                                pt      allowed     case and style
=====================================  ======  ==========  ====================================
Quốc hiệu (national motto)             12      12-13       upper case, upright, bold
Tiêu ngữ (slogan)                      13      13-14       initial capitals, bold, underlined
Tên cơ quan chủ quản (parent body)     12      12-13       upper case, upright
Tên cơ quan ban hành (issuing body)    12      12-13       upper case, bold; rule 1/3-1/2 under
Số, ký hiệu (number, symbol)           13      13          upright, centred under issuing body
Địa danh, thời gian (place, date)      13      13-14       italic, centred under the motto
Tên loại (document type)               14      13-14       upper case, upright, bold, centred
Trích yếu (excerpt)                    14      13-14       upright, bold, centred; rule under
Trích yếu công văn ("V/v ...")         12      12-13       upright, under the number, 6 pt gap
Kính gửi (addressee)                   14      13-14       upright
Nội dung (body)                        14      13-14       justified, first line 1.27 cm,
                                                           6 pt between paragraphs, single line
Quyền hạn, chức vụ người ký (signer)   14      13-14       upper case, upright, bold
Họ tên người ký (signer name)          14      13-14       upright, bold, centred under signer
"Nơi nhận:" (recipients label)         12      12          italic, bold
Nơi nhận list (recipients)             11      11          upright, "- " at the left margin
=====================================  ======  ==========  ====================================
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from dataclasses import dataclass, field
from io import BytesIO
from typing import cast

import docx
from docx.document import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH as ALIGN
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Mm, Pt, RGBColor
from docx.styles.style import ParagraphStyle
from docx.table import _Cell
from docx.text.paragraph import Paragraph

FORMATS = ("md", "txt", "html", "docx")

_MOTTO = re.compile(
    r"CỘNG H(ÒA|OÀ) XÃ HỘI CHỦ NGHĨA VIỆT NAM|SOCIALIST REPUBLIC OF VIET ?NAM", re.I
)
_NUMBER = re.compile(r"(Số|No\.?)\s*:", re.I)
_ADDRESSEE = re.compile(r"(Kính gửi|To)\s*:", re.I)
_RECIPIENTS = re.compile(r"(Nơi nhận|Recipients)\s*:", re.I)
_BULLET = re.compile(r"[-–•+]\s*")
_BASIS = re.compile(r"(Căn cứ|Pursuant to)\s", re.I)  # a legal basis
# Characters XML 1.0 (docx) and HTML cannot carry; a pasted control character must not break them.
_NOT_XML = re.compile("[^\t\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass
class AdminDocument:
    """The parts of a Vietnamese administrative document, each line as written (NFC)."""

    issuing: list[str] = field(default_factory=list)  # parent body first, issuing body last
    number: str = ""
    motto: list[str] = field(default_factory=list)  # Quốc hiệu, Tiêu ngữ
    place_date: str = ""
    doc_type: str = ""
    excerpt: list[str] = field(default_factory=list)  # under the type, or "V/v ..." of a letter
    addressees: list[str] = field(default_factory=list)  # "Kính gửi: ..."
    body: list[str] = field(default_factory=list)
    recipients_label: str = ""
    recipients: list[str] = field(default_factory=list)  # without their leading "- "
    signer: list[str] = field(default_factory=list)
    signer_name: str = ""

    @property
    def recognised(self) -> bool:
        return bool(self.motto)

    @property
    def is_letter(self) -> bool:
        """A công văn: no type name, its excerpt ("V/v ...") sits under the number."""
        return not self.doc_type and bool(self.excerpt)


def _line(text: str) -> str:
    return unicodedata.normalize("NFC", _NOT_XML.sub("", text)).strip()


def _caps(line: str) -> bool:
    return any(c.isalpha() for c in line) and line == line.upper()


def _motto_at(blocks: list[list[str]]) -> tuple[int, int] | None:
    """(block, line) of the national motto, which must open the header's second column."""
    for i, block in enumerate(blocks[:2]):
        for k, line in enumerate(block):
            if _MOTTO.fullmatch(line):
                return i, k
    return None


def parse(text: str) -> AdminDocument:
    """Split the template layout into its parts; unrecognised text is all body."""
    blocks: list[list[str]] = [[]]
    for raw in text.splitlines():
        line = _line(raw)
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    blocks = [b for b in blocks if b]
    found = _motto_at(blocks)
    if found is None:
        return AdminDocument(body=[line for block in blocks for line in block])
    i, k = found
    right = blocks[i][k:]
    doc = AdminDocument(motto=right[:2], place_date=" ".join(right[2:]))
    left = [line for b in blocks[:i] for line in b] + blocks[i][:k]
    n = next((j for j, line in enumerate(left) if _NUMBER.match(line)), len(left))
    doc.issuing, doc.excerpt = left[:n], left[n + 1 :]
    doc.number = left[n] if n < len(left) else ""
    rest = blocks[i + 1 :]
    if not doc.excerpt and rest and _caps(rest[0][0]):
        doc.doc_type, doc.excerpt = rest[0][0], rest[0][1:]
        rest = rest[1:]
    if rest and _ADDRESSEE.match(rest[0][0]):
        doc.addressees = rest.pop(0)
    r = next((j for j in reversed(range(len(rest))) if _RECIPIENTS.match(rest[j][0])), len(rest))
    doc.body = [line for b in rest[:r] for line in b]
    if r == len(rest):
        return doc
    first, *items = rest[r]
    label = _RECIPIENTS.match(first)
    assert label is not None
    doc.recipients_label = label.group(0)
    items = [first[label.end() :].strip(), *items]
    doc.recipients = [_BULLET.sub("", item, count=1) for item in items if item]
    after = rest[r + 1 :]
    if len(after) > 1:  # the name stands apart, below the space left for the signature
        doc.signer, doc.signer_name = [x for b in after[:-1] for x in b], " ".join(after[-1])
    elif after:
        s = next((j for j, line in enumerate(after[0]) if not _caps(line)), len(after[0]))
        doc.signer, doc.signer_name = after[0][:s], " ".join(after[0][s:])
    return doc


def export(text: str, fmt: str, *, title: str, lang: str = "vi", author: str = "") -> bytes:
    """The statement ``text`` as ``fmt`` (md, txt, html or docx) bytes; ``author``: the
    issuing body, which a Word file names as its author."""
    if fmt == "txt":
        return unicodedata.normalize("NFC", text).encode("utf-8", "replace")
    writers = {"md": _markdown, "html": _html, "docx": _docx}
    if fmt not in writers:
        raise ValueError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    return writers[fmt](parse(text), _line(title), lang, _line(author))


# --- Markdown -------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
_MD_LINE_START = re.compile(r"^(\d*)([#+=>.)-])")


def _md(line: str) -> str:
    """Escape what Markdown would read as markup (CommonMark backslash escapes)."""
    return _MD_LINE_START.sub(r"\1\\\2", _MD_SPECIAL.sub(r"\\\1", line))


def _markdown(doc: AdminDocument, title: str, lang: str, _author: str = "") -> bytes:
    """Markdown has no columns or centring: the heading parts become bold lines, in order."""

    def lines(items: list[str], style: str = "") -> str:
        return "  \n".join(f"{style}{_md(item)}{style}" for item in items if item)

    issuing = [_md(x) for x in doc.issuing[:-1]] + [f"**{_md(x)}**" for x in doc.issuing[-1:]]
    letter = doc.excerpt if doc.is_letter else []
    parts = [
        "  \n".join(issuing + [_md(x) for x in [doc.number, *letter] if x]),
        lines(doc.motto, "**"),
        lines([doc.place_date], "*"),
        lines([doc.doc_type, *([] if doc.is_letter else doc.excerpt)], "**"),
        lines(doc.addressees),
        *(_md(x) for x in doc.body),
        lines([doc.recipients_label], "***"),
        "\n".join(f"- {_md(x)}" for x in doc.recipients),
        lines(doc.signer, "**"),
        lines([doc.signer_name], "**"),
    ]
    return ("\n\n".join(x for x in parts if x) + "\n").encode("utf-8")


# --- HTML -----------------------------------------------------------------------------------

_CSS = """@page { size: A4 portrait; margin: 20mm 20mm 20mm 30mm; }
body { font-family: "Times New Roman", Times, serif; color: #000; }
main { max-width: 160mm; margin: 0 auto; }
p { margin: 0; white-space: pre-wrap; }
table { width: 100%; border-collapse: collapse; }
td { vertical-align: top; text-align: center; padding: 0; }
.head { font-size: 12pt; }
.head td:first-child { width: 37.5%; }
.foot td:first-child { width: 44%; text-align: left; }
hr { width: 40%; margin: 2pt auto 0; border: 0; border-top: 1px solid #000; }
.b { font-weight: bold; }
.caps { text-transform: uppercase; }
.slogan { font-size: 13pt; font-weight: bold; display: inline-block;
          border-bottom: 1px solid #000; }
.number, .date { font-size: 13pt; margin-top: 6pt; }
.number + .letter { margin-top: 6pt; }
.date { font-style: italic; }
.type { font-size: 14pt; font-weight: bold; text-transform: uppercase; text-align: center;
        margin-top: 18pt; }
.excerpt { font-size: 14pt; font-weight: bold; text-align: center; }
.to { font-size: 14pt; text-align: center; margin-top: 12pt; }
.body { font-size: 14pt; text-align: justify; text-indent: 1.27cm; margin-top: 6pt; }
.label { font-size: 12pt; font-weight: bold; font-style: italic; margin-top: 6pt; }
.recipients { font-size: 11pt; }
.signer { font-size: 14pt; font-weight: bold; text-transform: uppercase; }
.name { font-size: 14pt; font-weight: bold; margin-top: 72pt; }
"""


def _html(doc: AdminDocument, title: str, lang: str, _author: str = "") -> bytes:
    """A page laid out like the paper document; every piece of text is escaped."""

    def p(text: str, cls: str) -> str:
        return f'<p class="{cls}">{html.escape(text)}</p>' if text else ""

    out = [
        f'<!DOCTYPE html>\n<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>\n<style>\n{_CSS}</style>\n</head>\n<body><main>",
    ]
    if doc.recognised:
        bodies = "".join(p(x, "caps") for x in doc.issuing[:-1])
        bodies += "".join(p(x, "caps b") + "<hr>" for x in doc.issuing[-1:])
        motto = p(doc.motto[0], "caps b") + "".join(
            f'<p><span class="slogan">{html.escape(x)}</span></p>' for x in doc.motto[1:]
        )
        number = p(doc.number, "number") + "".join(
            p(x, "letter") for x in (doc.excerpt if doc.is_letter else [])
        )
        out.append(
            f'<table class="head"><tr><td>{bodies}</td><td>{motto}</td></tr>'
            f"<tr><td>{number}</td><td>{p(doc.place_date, 'date')}</td></tr></table>"
        )
        out.append(p(doc.doc_type, "type"))
        if doc.excerpt and not doc.is_letter:
            out.append("".join(p(x, "excerpt") for x in doc.excerpt) + "<hr>")
        out += [p(x, "to") for x in doc.addressees]
    out += [p(x, "body") for x in doc.body]
    if doc.recipients_label or doc.signer or doc.signer_name:
        items = "<br>".join(f"- {html.escape(x)}" for x in doc.recipients)
        left = p(doc.recipients_label, "label") + f'<p class="recipients">{items}</p>'
        right = "".join(p(x, "signer") for x in doc.signer) + p(doc.signer_name, "name")
        out.append(f'<table class="foot"><tr><td>{left}</td><td>{right}</td></tr></table>')
    out.append("</main></body>\n</html>\n")
    return "\n".join(x for x in out if x).encode("utf-8")


# --- Word (Nghị định 30/2020/NĐ-CP, Phụ lục I) ----------------------------------------------

FONT = "Times New Roman"
TEXT_WIDTH = Mm(160)  # A4's 210 mm less the 30 mm and 20 mm side margins
HEAD_COLUMNS = (Cm(6), Cm(10))  # the motto at 12 pt (about 8.9 cm) keeps to one line
FOOT_COLUMNS = (Cm(7), Cm(9))
_LANGS = {"vi": "vi-VN", "en": "en-GB"}


def _para(
    where: _Cell | Document,
    text: str,
    size: float,
    *,
    bold: bool = False,
    italic: bool = False,
    underline: bool = False,
    align: ALIGN = ALIGN.CENTER,
    before: float = 0,
) -> Paragraph:
    """A one-run paragraph; a table cell's own first (empty) paragraph is used first."""
    first = where.paragraphs[0] if isinstance(where, _Cell) else None
    para = first if first is not None and not first.runs else where.add_paragraph()
    para.alignment = align
    para.paragraph_format.space_before = Pt(before)
    run = para.add_run(text)
    run.font.size, run.font.bold, run.font.italic = Pt(size), bold, italic
    run.font.underline = underline
    return para


def _rule(where: _Cell | Document, text: str, size: float, width: int) -> None:
    """The centred line under the issuing body and under the excerpt, 0.4 of the text's longest
    line (the Decree asks 1/3 to 1/2). That line is estimated from Times New Roman bold's
    average character, about 0.63 em in capitals and 0.42 em otherwise, and from how many lines
    the text wraps to in ``width``. A paragraph border stays centred in every viewer."""
    para = where.add_paragraph()
    border, bottom = OxmlElement("w:pBdr"), OxmlElement("w:bottom")
    for key, value in (("val", "single"), ("sz", "6"), ("space", "1"), ("color", "000000")):
        bottom.set(qn(f"w:{key}"), value)
    border.append(bottom)
    para._p.get_or_add_pPr().insert_element_before(
        border, "w:shd", "w:tabs", "w:spacing", "w:ind", "w:jc", "w:rPr"
    )
    estimate = len(text) * Pt(size) * (0.63 if text.isupper() else 0.42)
    length = 0.4 * estimate / max(1, math.ceil(estimate / (width - Cm(0.4))))
    fmt = para.paragraph_format
    fmt.left_indent = fmt.right_indent = int((width - length) / 2)
    fmt.line_spacing = Pt(2)


def _table(document: Document, rows: int, widths: tuple[int, int]) -> list[_Cell]:
    """A borderless two-column table of fixed widths; its cells, row by row."""
    table = document.add_table(rows=rows, cols=2)
    table.autofit = False
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    borders = OxmlElement("w:tblBorders")
    for edge in ("top", "left", "bottom", "right", "insideH", "insideV"):
        borders.append(OxmlElement(f"w:{edge}", {qn("w:val"): "nil"}))
    table._tbl.tblPr.insert_element_before(borders, "w:shd", "w:tblLayout", "w:tblLook")
    for column, width in zip(table.columns, widths, strict=True):
        column.width = width
        for cell in column.cells:
            cell.width = width
    return [cell for row in table.rows for cell in row.cells]


def _setup(document: Document, title: str, lang: str, author: str) -> None:
    """A4 portrait, the margins, Times New Roman for every script, the page-number header;
    the file's properties the document's own (python-docx's defaults must not show)."""
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin = section.bottom_margin = Mm(20)
    section.left_margin, section.right_margin = Mm(30), Mm(20)
    fonts = document.styles.element.find(f".//{qn('w:rPrDefault')}//{qn('w:rFonts')}")
    language = document.styles.element.find(f".//{qn('w:rPrDefault')}//{qn('w:lang')}")
    assert fonts is not None and language is not None
    fonts.attrib.clear()  # the template's theme fonts would win over a named font
    for script in ("ascii", "hAnsi", "eastAsia", "cs"):
        fonts.set(qn(f"w:{script}"), FONT)
    language.set(qn("w:val"), _LANGS.get(lang, lang))
    normal = cast(ParagraphStyle, document.styles["Normal"])
    normal.font.name, normal.font.size = FONT, Pt(14)
    normal.font.color.rgb = RGBColor(0, 0, 0)
    normal.paragraph_format.space_after, normal.paragraph_format.line_spacing = Pt(0), 1.0
    props = document.core_properties
    props.title, props.language = title, _LANGS.get(lang, lang)
    props.author = props.last_modified_by = author
    props.comments = props.keywords = props.subject = props.category = ""
    # Mục I.7: numbered from 1, shown from the second page on, centred in the top margin.
    section.different_first_page_header_footer = True
    section.first_page_header.is_linked_to_previous = False
    para = section.header.paragraphs[0]
    para.alignment = ALIGN.CENTER
    run = para.add_run("1")
    run.font.size = Pt(13)
    page = OxmlElement("w:fldSimple", {qn("w:instr"): "PAGE"})
    page.append(run._r)
    para._p.append(page)


def _docx(doc: AdminDocument, title: str, lang: str, author: str = "") -> bytes:
    document = docx.Document()
    _setup(document, title, lang, author)
    if doc.recognised:
        bodies, motto, number, date = _table(document, 2, HEAD_COLUMNS)
        for line in doc.issuing[:-1]:
            _para(bodies, line.upper(), 12)
        for line in doc.issuing[-1:]:
            _para(bodies, line.upper(), 12, bold=True)
            _rule(bodies, line, 12, HEAD_COLUMNS[0])
        _para(motto, doc.motto[0].upper(), 12, bold=True)
        for line in doc.motto[1:]:
            _para(motto, line, 13, bold=True, underline=True)
        _para(number, doc.number, 13, before=6)
        for i, line in enumerate(doc.excerpt if doc.is_letter else []):
            _para(number, line, 12, before=0 if i else 6)
        _para(date, doc.place_date, 13, italic=True, before=6)
        if doc.doc_type:
            _para(document, doc.doc_type.upper(), 14, bold=True, before=18)
        if doc.excerpt and not doc.is_letter:
            for line in doc.excerpt:
                _para(document, line, 14, bold=True)
            _rule(document, max(doc.excerpt, key=len), 14, TEXT_WIDTH)
        # One addressee goes on the "Kính gửi:" line; several are listed under it (Mục II.9).
        several = len(doc.addressees) > 1
        align = ALIGN.LEFT if several else ALIGN.CENTER
        for i, line in enumerate(doc.addressees):
            para = _para(document, line, 14, align=align, before=0 if i else 12)
            para.paragraph_format.left_indent = Cm(2.5) if several else None
    for line in doc.body:
        basis = bool(_BASIS.match(line))  # legal bases are italic (Phụ lục I, Mục II.8)
        para = _para(document, line, 14, align=ALIGN.JUSTIFY, before=6, italic=basis)
        para.paragraph_format.first_line_indent = Cm(1.27)
    if doc.recipients_label or doc.signer or doc.signer_name:
        recipients, signer = _table(document, 1, FOOT_COLUMNS)
        left = ALIGN.LEFT
        _para(recipients, doc.recipients_label, 12, bold=True, italic=True, align=left, before=12)
        for item in doc.recipients:
            _para(recipients, f"- {item}", 11, align=left)
        for i, line in enumerate(doc.signer):
            _para(signer, line.upper(), 14, bold=True, before=0 if i else 12)
        _para(signer, doc.signer_name, 14, bold=True, before=72)  # room to sign and stamp
    out = BytesIO()
    document.save(out)
    return out.getvalue()
