"""Document numbers: the kind abbreviations of Nghị định 30/2020/NĐ-CP, Phụ lục III, the
number line a draft carries ("Số:      /TB-UBND", filled when the document is issued), and
the number it is issued with.

A number comes from the register of its year and symbol (Điều 15: numbered from 01 on
1 January to 31 December) and is written with a leading zero below 10 (Phụ lục I, Mục II.4).
A công văn has no kind abbreviation: its symbol is the body's and the drafting unit's
("Số: 123/UBND-VP").
"""

from __future__ import annotations

import re

# Phụ lục III: the abbreviation of each kind of administrative document.
APPENDIX_III = {
    "NQ": "Nghị quyết",
    "QĐ": "Quyết định",
    "CT": "Chỉ thị",
    "QC": "Quy chế",
    "QyĐ": "Quy định",
    "TC": "Thông cáo",
    "TB": "Thông báo",
    "HD": "Hướng dẫn",
    "CTr": "Chương trình",
    "KH": "Kế hoạch",
    "PA": "Phương án",
    "ĐA": "Đề án",
    "DA": "Dự án",
    "BC": "Báo cáo",
    "BB": "Biên bản",
    "TTr": "Tờ trình",
    "HĐ": "Hợp đồng",
    "CĐ": "Công điện",
    "BGN": "Bản ghi nhớ",
    "BTT": "Bản thỏa thuận",
    "GUQ": "Giấy ủy quyền",
    "GM": "Giấy mời",
    "GGT": "Giấy giới thiệu",
    "GNP": "Giấy nghỉ phép",
    "PG": "Phiếu gửi",
    "PC": "Phiếu chuyển",
    "PB": "Phiếu báo",
}
LETTER = "letter"  # a công văn: no kind abbreviation
KINDS = (*APPENDIX_III, LETTER)

_LABEL = {"vi": "Số", "en": "No."}
_GAP = "      "  # the blank the văn thư fills in by hand on paper
# The number line of a draft: "Số:      /TB-UBND", the number not yet given.
_BLANK = re.compile(r"^(?P<label>Số|No\.)\s*:[ \t]*/(?P<symbol>[^\s/]+)[ \t]*$", re.M)
PENDING = {"vi": "(số sẽ cấp khi ban hành)", "en": "(number given on issue)"}


def symbol(kind: str | None, body: str, office: str) -> str:
    """What follows the number: "TB-UBND" for a notice, "UBND-VP" for a công văn."""
    if kind is None or kind == LETTER:
        return f"{body}-{office}"
    return f"{kind}-{body}"


def number_line(symbol_text: str, lang: str) -> str:
    """A draft's number line, the number left blank."""
    return f"{_LABEL.get(lang, _LABEL['vi'])}:{_GAP}/{symbol_text}"


def pending_symbol(text: str) -> str | None:
    """The symbol of the blank number line of ``text`` (the register it is numbered from),
    or None if it has no such line (already numbered, or not a document)."""
    found = _BLANK.search(text)
    return found.group("symbol") if found else None


def written(number: int) -> str:
    return f"{number:02d}"


def issue(text: str, number: int) -> str:
    """``text`` as issued: its blank number line filled with ``number``, nothing else."""
    return _BLANK.sub(
        lambda m: f"{m.group('label')}: {written(number)}/{m.group('symbol')}", text, count=1
    )


def preview(text: str, lang: str) -> str:
    """``text`` as it will be issued, the number still to come: for the approver to read."""
    pending = PENDING.get(lang, PENDING["vi"])
    return _BLANK.sub(lambda m: f"{m.group('label')}: {pending}/{m.group('symbol')}", text, count=1)
