"""The issuing body as its documents name it, and who signs them in which capacity.

Nghị định 30/2020/NĐ-CP: the header names the managing body (cơ quan chủ quản) only where the
issuing body has one (Phụ lục I, Mục II.3: a People's Committee's own documents carry no parent
line; a Sở or a phòng under a UBND does). The signer block (Điều 13; Phụ lục I, Mục II.9)
states the capacity: "TM." before the collective body's name when a body under collective rule
issues it, "KT." for a deputy signing for the head, "TL." by delegation, "TUQ." by
authorisation, "Q." for an acting head; then the post, then the signer's full name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from .errors import ConfigError
from .i18n import _

# capacity → (Vietnamese, English) prefix of the head's post; "head": the head signs.
CAPACITIES = {
    "head": ("", ""),
    "deputy": ("KT.", "p.p."),
    "delegated": ("TL.", "BY ORDER OF THE"),
    "authorised": ("TUQ.", "BY AUTHORISATION OF THE"),
    "acting": ("Q.", "ACTING"),
}
_ON_BEHALF = ("TM.", "ON BEHALF OF THE")
# A capacity whose block names the signer's own post under the head's.
_OWN_POST = ("deputy", "delegated", "authorised")
# What a template leaves when no signer is declared: a blank that keeps the text from approval.
NO_SIGNER = {"vi": "[Họ và tên người ký]", "en": "[Signer's full name]"}

Fail = Callable[[Any, Any, str], ConfigError]


@dataclass(frozen=True)
class Signer:
    """One person who may sign a kind of statement, and in which capacity."""

    person: str
    capacity: str


@dataclass(frozen=True)
class Issuer:
    """The issuing body: its names, the body above it if it has a managing one, its head's
    post, and who signs which statement kind (``signers["default"]`` for the rest)."""

    name: str  # in running text: "UBND huyện Vĩnh Linh"
    full_name: str  # in the header: "Ủy ban nhân dân huyện Vĩnh Linh"
    symbol: str = "UBND"  # after the number: "15/TB-UBND"
    place: str = ""
    head: str = "Chủ tịch"  # the head's post, as running text writes it
    collective: str = ""  # "Ủy ban nhân dân": a collective body signs "TM. ỦY BAN NHÂN DÂN"
    managing_body: str = ""  # the header line above the issuing body, only if there is one
    reports_to: str = ""  # the body it reports to ("b/c" in Nơi nhận)
    office: str = ""  # its office (văn phòng), which keeps the register
    office_symbol: str = "VP"  # "Lưu: VT, VP."
    lower_level: str = ""  # the bodies under it, as documents address them
    english: Mapping[str, str] = field(default_factory=dict)  # head_en, collective_en, name_en
    signers: Mapping[str, tuple[Signer, ...]] = field(default_factory=dict)

    def header(self, lang: str = "vi") -> list[str]:
        """The header's issuing-body lines, upper case: the managing body first, if any."""
        full = self.english.get("name_en", self.full_name) if lang == "en" else self.full_name
        lines = [self.managing_body, full]
        return [line.upper() for line in lines if line]

    def signers_for(self, kind: str) -> tuple[Signer, ...]:
        return self.signers.get(kind) or self.signers.get("default", ())

    def may_sign(self, kind: str, person: str) -> Signer | None:
        return next((s for s in self.signers_for(kind) if s.person == person), None)

    def capacity_lines(self, signer: Signer, post: str, post_en: str, lang: str) -> list[str]:
        """The block above the signature: "TM. ỦY BAN NHÂN DÂN / KT. CHỦ TỊCH / PHÓ CHỦ TỊCH"."""
        en = lang == "en"
        head = (self.english.get("head_en", self.head) if en else self.head).upper()
        collective = self.english.get("collective_en", self.collective) if en else self.collective
        prefix = CAPACITIES[signer.capacity][1 if en else 0]
        lines = []
        if collective and signer.capacity in ("head", "deputy", "acting"):
            lines.append(f"{_ON_BEHALF[1 if en else 0]} {collective.upper()}")
        lines.append(f"{prefix} {head}".strip())
        if signer.capacity in _OWN_POST:
            lines.append(((post_en or post) if en else post).upper())
        return lines


def parse(
    org: Mapping[str, Any],
    signers: Any,
    people: Mapping[str, Any],
    units: Mapping[str, Any],
    fail: Fail,
    data: Any,
) -> Issuer:
    """The issuer from the directory's ``organisation`` and ``signers`` sections; ``fail``
    makes the file:line error for a node and key."""
    office = str(org.get("office", ""))
    if office and office not in units:
        raise fail(org, "office", _("organisation office: unknown unit {id!r}").format(id=office))
    english = {k: str(org[k]) for k in ("name_en", "head_en", "collective_en") if org.get(k)}
    return Issuer(
        name=str(org.get("name", "")),
        full_name=str(org.get("full_name") or org.get("name", "")),
        symbol=str(org.get("symbol", "UBND")),
        place=str(org.get("place", "")),
        head=str(org.get("head", "Chủ tịch")),
        collective=str(org.get("collective", "")),
        managing_body=str(org.get("managing_body", "")),
        # `parent` is what earlier directories called the body reported to.
        reports_to=str(org.get("reports_to") or org.get("parent", "")),
        office=units[office].name if office else "",
        office_symbol=(units[office].symbol if office else "") or "VP",
        lower_level=str(org.get("lower_level", "")),
        english=english,
        signers=_signers(signers, people, fail, data),
    )


def _signers(
    node: Any, people: Mapping[str, Any], fail: Fail, data: Any
) -> dict[str, tuple[Signer, ...]]:
    """`signers: {KIND or default: [{person: ID, as: CAPACITY}, ...]}`."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise fail(data, "signers", _("signers must map a statement kind (or default) to a list"))
    found: dict[str, tuple[Signer, ...]] = {}
    for kind, entries in node.items():
        if not isinstance(entries, list) or not entries:
            raise fail(
                node,
                kind,
                _("signers {kind}: list who signs, e.g. [{{person: chu-tich, as: head}}]").format(
                    kind=kind
                ),
            )
        found[str(kind)] = tuple(_signer(node, kind, e, people, fail) for e in entries)
    return found


def _signer(node: Any, kind: Any, entry: Any, people: Mapping[str, Any], fail: Fail) -> Signer:
    where = _("signers {kind}").format(kind=kind)
    if not isinstance(entry, dict) or set(entry) - {"person", "as"}:
        raise fail(
            node, kind, _("{where}: each entry is {{person: ID, as: CAPACITY}}").format(where=where)
        )
    person, capacity = str(entry.get("person", "")), str(entry.get("as", "head"))
    if person not in people:
        raise fail(node, kind, _("{where}: unknown person {id!r}").format(where=where, id=person))
    if capacity not in CAPACITIES:
        raise fail(
            node,
            kind,
            _("{where}: {person} signs as {capacity!r}; use one of: {known}").format(
                where=where, person=person, capacity=capacity, known=", ".join(CAPACITIES)
            ),
        )
    if capacity in _OWN_POST and not people[person].post:
        raise fail(
            node,
            kind,
            _(
                "{where}: {person} signs as {capacity} and needs a post in the directory "
                "(post: Phó Chủ tịch)"
            ).format(where=where, person=person, capacity=capacity),
        )
    return Signer(person, capacity)


@dataclass(frozen=True)
class Signing:
    """What approving and issuing a document need: the issuer, the people of the directory
    (name, post), and the workspace's time zone (a register's year is the local one)."""

    issuer: Issuer
    people: Mapping[str, Any]
    tz: ZoneInfo

    def block(self, signer: Signer, lang: str = "vi") -> list[str]:
        """The signer block of ``signer``: capacity lines, then the full name."""
        person = self.people[signer.person]
        lines = self.issuer.capacity_lines(signer, person.post, person.post_en, lang)
        return [*lines, person.name]

    def refusal(self, kind: str, person: str, text: str) -> str | None:
        """Why ``person`` may not approve ``text`` of ``kind`` as its signer, if they may not:
        not a signer of the kind, or the text carries another signer's block."""
        signers = self.issuer.signers_for(kind)
        if not signers:
            return None  # nobody declared: the blank signer line keeps the text back instead
        signer = self.issuer.may_sign(kind, person)
        if signer is None:
            return _("{person} does not sign {kind}: the directory's signers are {who}").format(
                person=person, kind=kind, who=", ".join(s.person for s in signers)
            )
        block = self.block(signer)
        lines = {line.strip() for line in text.splitlines()}
        others = {self.people[s.person].name for s in signers if s.person != person}
        # A text that names another signer would go out over their name, not the approver's.
        if lines & others and not all(line in lines for line in block):
            return _(
                "the text is laid out for another signer; put your own block under it "
                "(`crisisflow statement edit`): {block}"
            ).format(block=" / ".join(block))
        return None
