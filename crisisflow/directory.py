"""The organisation's directory: units, people, who fills which role, the press list.

Playbooks name roles; the directory says who fills them. A role is bound to unit ids and/or
person ids; a person holds the roles listed on them, the roles bound to them and the roles bound
to their unit.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, NotFoundError
from .i18n import _
from .issuer import Issuer
from .issuer import parse as parse_issuer

# A plain ASCII address, as mail servers without SMTPUTF8 accept it: dot-atom local part, host
# names of letters, digits and inner hyphens (an internationalised domain in its xn-- form).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_TLD = r"(?:[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59})"
EMAIL_RE = re.compile(rf"\A(?=.{{3,254}}\Z){_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+{_TLD}\Z")
# What may not be in one line of directory text; names also go into mail headers: no <, >.
_NOT_IN_NAMES = re.compile(r"[<>\x00-\x1f\x7f\x85\u2028\u2029]")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Recipient:
    """Someone mail can go to: a unit or a person, with a checked address."""

    id: str
    name: str
    email: str
    lang: str = "vi"


@dataclass(frozen=True)
class Unit:
    id: str
    name: str
    email: str
    lang: str = "vi"
    symbol: str = ""  # after the body's in a letter's number: "123/UBND-VP"


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    title: str
    email: str
    unit: str | None
    roles: tuple[str, ...]
    lang: str = "vi"
    login: str | None = None  # the OS account the command line acts for this person from
    phone: str = ""  # announced with the spokesperson's name, title and e-mail
    post: str = ""  # the post a signer block names: "Phó Chủ tịch"
    post_en: str = ""


@dataclass(frozen=True)
class Directory:
    organisation: dict[str, str]
    units: dict[str, Unit]
    people: dict[str, Person]
    roles: dict[str, tuple[str, ...]]
    press: tuple[Recipient, ...] = field(default=())
    issuer: Issuer = field(default_factory=lambda: Issuer("", ""))

    def person(self, person_id: str) -> Person:
        try:
            return self.people[person_id]
        except KeyError:
            raise NotFoundError(
                _("unknown person {id!r}; known: {known}").format(
                    id=person_id, known=", ".join(sorted(self.people))
                )
            ) from None

    def by_login(self, login: str) -> Person | None:
        """The person bound to OS account ``login``, if any."""
        return next((p for p in self.people.values() if p.login == login), None)

    def by_email(self, address: str) -> Person | None:
        """The person with this e-mail address (compared without letter case), if any."""
        wanted = address.strip().casefold()
        return next((p for p in self.people.values() if p.email.casefold() == wanted), None)

    def roles_of(self, person_id: str) -> frozenset[str]:
        person = self.people.get(person_id)
        if person is None:
            return frozenset()
        held = set(person.roles)
        for role, members in self.roles.items():
            if person_id in members or (person.unit and person.unit in members):
                held.add(role)
        return frozenset(held)

    def recipient(self, member_id: str) -> Recipient:
        """A unit or person id as a mail recipient."""
        if member_id in self.units:
            unit = self.units[member_id]
            return Recipient(unit.id, unit.name, unit.email, unit.lang)
        if member_id in self.people:
            person = self.people[member_id]
            return Recipient(person.id, person.name, person.email, person.lang)
        raise NotFoundError(
            _("unknown unit or person {id!r} in the directory").format(id=member_id)
        )

    def members(self, role: str) -> list[Recipient]:
        """Everyone the directory binds to ``role``: the role's units and people, then people
        whose own ``roles`` list it."""
        found = [self.recipient(m) for m in self.roles.get(role, ())]
        found += [
            self.recipient(p.id)
            for p in self.people.values()
            if role in p.roles and p.id not in self.roles.get(role, ())
        ]
        return found


def _fail(path: Path, node: Any, key: Any, message: str) -> ConfigError:
    line = node.line_of(key) if hasattr(node, "line_of") else getattr(node, "line", 1)
    return ConfigError(f"{path}:{line}: {message}")


def _text(
    path: Path,
    node: dict[str, Any],
    key: str,
    where: str,
    required: bool = True,
    header: bool = False,
) -> str:
    """One line of text; ``header``: a display name, which goes into mail headers."""
    value = node.get(key, "")
    if (required and not value) or not isinstance(value, str):
        raise _fail(
            path,
            node,
            key,
            _("{where}: {key} must be one line of text").format(where=where, key=key),
        )
    bad = _NOT_IN_NAMES.search(value)
    if bad and (header or bad.group() not in "<>"):
        raise _fail(
            path,
            node,
            key,
            _(
                "{where}: {key} may not contain {char} (it goes into mail headers); remove it"
            ).format(where=where, key=key, char=_char(bad.group())),
        )
    return value


def _char(char: str) -> str:
    return char if char in "<>" else _("a line break or control character")


def _email(path: Path, node: dict[str, Any], where: str, required: bool = True) -> str:
    email = _text(path, node, "email", where, required)
    if EMAIL_RE.match(email) or (not email and not required):
        return email
    if not email.isascii():
        guess = _ascii_guess(email)
        raise _fail(
            path,
            node,
            "email",
            _(
                "{where}: {email!r} has letters outside ASCII ({chars}), which mail servers "
                "refuse; write the address in plain ASCII as the mail server knows it{hint}"
            ).format(
                where=where,
                email=email,
                chars="".join(dict.fromkeys(c for c in email if not c.isascii())),
                hint=_(", e.g. {guess}").format(guess=guess) if guess else "",
            ),
        )
    raise _fail(
        path,
        node,
        "email",
        _("{where}: {email!r} is not an e-mail address; write it like name@example.org").format(
            where=where, email=email
        ),
    )


def _ascii_guess(email: str) -> str | None:
    """The address with its accents dropped (vănphòng@ → vanphong@) and an internationalised
    domain in its xn-- form, if that makes a valid address."""
    local, _at, domain = email.rpartition("@")
    plain = unicodedata.normalize("NFKD", local.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in plain if not unicodedata.combining(c))
    try:
        domain = domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    guess = f"{plain}@{domain}"
    return guess if EMAIL_RE.match(guess) else None


def _lang(path: Path, node: dict[str, Any], where: str) -> str:
    lang = node.get("lang", "vi")
    if lang not in ("vi", "en"):
        raise _fail(path, node, "lang", _("{where}: lang must be vi or en").format(where=where))
    return str(lang)


def _entry(path: Path, section: Any, key: Any, spec: Any, where: str) -> None:
    if not ID_RE.match(str(key)) or not isinstance(spec, dict):
        raise _fail(
            path,
            section,
            key,
            _("{where}: needs an id of lower-case letters, digits, dashes and a mapping").format(
                where=where
            ),
        )


def load(path: Path) -> Directory:
    """Read and check ``directory.yaml``; every problem is a ConfigError with file:line."""
    from . import yamlfile

    _source, data, problem = yamlfile.read(path)
    if problem:
        raise ConfigError(str(problem))
    if not isinstance(data, dict):
        raise ConfigError(_("{path}:1: the directory must be a mapping").format(path=path))
    units = _units(path, data)
    people = _people(path, data, units)
    organisation = _organisation(path, data)
    return Directory(
        organisation,
        units,
        people,
        _roles(path, data, units, people),
        _press(path, data),
        parse_issuer(
            data.get("organisation") or {},
            data.get("signers"),
            people,
            units,
            lambda node, key, message: _fail(path, node, key, message),
            data,
        ),
    )


def _organisation(path: Path, data: dict[str, Any]) -> dict[str, str]:
    org = data.get("organisation") or {}
    if not isinstance(org, dict):
        raise _fail(path, data, "organisation", _("organisation must be a mapping"))
    organisation = {k: str(v) for k, v in org.items()}
    where = _("organisation")
    if "name" in org:
        organisation["name"] = _text(path, org, "name", where, header=True)
    if "email" in org:
        organisation["email"] = _email(path, org, where)
    return organisation


def _units(path: Path, data: dict[str, Any]) -> dict[str, Unit]:
    units: dict[str, Unit] = {}
    for uid, spec in (data.get("units") or {}).items():
        where = _("unit {id!r}").format(id=uid)
        _entry(path, data["units"], uid, spec, where)
        units[uid] = Unit(
            uid,
            _text(path, spec, "name", where, header=True),
            _email(path, spec, where),
            _lang(path, spec, where),
            _text(path, spec, "symbol", where, required=False),
        )
    return units


def _people(path: Path, data: dict[str, Any], units: dict[str, Unit]) -> dict[str, Person]:
    people: dict[str, Person] = {}
    for pid, spec in (data.get("people") or {}).items():
        where = _("person {id!r}").format(id=pid)
        _entry(path, data["people"], pid, spec, where)
        if pid in units:
            raise _fail(
                path,
                data["people"],
                pid,
                _("{where}: id already used by a unit").format(where=where),
            )
        unit = spec.get("unit")
        if unit is not None and unit not in units:
            raise _fail(
                path,
                spec,
                "unit",
                _("{where}: unknown unit {unit!r}").format(where=where, unit=unit),
            )
        held = spec.get("roles", [])
        if not isinstance(held, list) or not all(isinstance(r, str) for r in held):
            raise _fail(
                path, spec, "roles", _("{where}: roles must be a list of names").format(where=where)
            )
        people[pid] = Person(
            pid,
            _text(path, spec, "name", where, header=True),
            _text(path, spec, "title", where, required=False),
            _email(path, spec, where),
            unit,
            tuple(held),
            _lang(path, spec, where),
            _login(path, spec, where, {p.login: p.id for p in people.values() if p.login}),
            _phone(path, spec, where),
            _text(path, spec, "post", where, required=False),
            _text(path, spec, "post_en", where, required=False),
        )
    return people


PHONE_RE = re.compile(r"^\+?[0-9][0-9 .()-]{5,19}$")


def _phone(path: Path, spec: dict[str, Any], where: str) -> str:
    phone = spec.get("phone")
    if phone is None:
        return ""
    if not isinstance(phone, str | int) or not PHONE_RE.match(str(phone)):
        raise _fail(
            path,
            spec,
            "phone",
            _("{where}: phone {phone!r} is not a telephone number, e.g. 0233 3823 456").format(
                where=where, phone=phone
            ),
        )
    return str(phone)


LOGIN_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")


def _login(path: Path, spec: dict[str, Any], where: str, taken: dict[str, str]) -> str | None:
    """An OS account name bound to the person; each account to one person at most."""
    login = spec.get("login")
    if login is None:
        return None
    if not isinstance(login, str) or not LOGIN_RE.match(login):
        raise _fail(
            path,
            spec,
            "login",
            _("{where}: login must be an OS account name such as nguyenvana").format(where=where),
        )
    if login in taken:
        raise _fail(
            path,
            spec,
            "login",
            _("{where}: login {login!r} is already bound to {other!r}").format(
                where=where, login=login, other=taken[login]
            ),
        )
    return login


def _roles(
    path: Path, data: dict[str, Any], units: dict[str, Unit], people: dict[str, Person]
) -> dict[str, tuple[str, ...]]:
    roles: dict[str, tuple[str, ...]] = {}
    raw_roles = data.get("roles") or {}
    for role, members in raw_roles.items():
        members = [members] if isinstance(members, str) else members
        if not isinstance(members, list):
            raise _fail(
                path, raw_roles, role, _("role {role!r}: list unit or person ids").format(role=role)
            )
        for member in members:
            if member not in units and member not in people:
                raise _fail(
                    path,
                    raw_roles,
                    role,
                    _("role {role!r}: unknown unit or person {id!r}").format(role=role, id=member),
                )
        roles[role] = tuple(members)
    return roles


def _press(path: Path, data: dict[str, Any]) -> tuple[Recipient, ...]:
    press = []
    for index, spec in enumerate(data.get("press") or []):
        where = _("press entry {n}").format(n=index + 1)
        if not isinstance(spec, dict):
            raise _fail(
                path, data["press"], index, _("{where}: must be a mapping").format(where=where)
            )
        press.append(
            Recipient(
                f"press-{index + 1}",
                _text(path, spec, "name", where, header=True),
                _email(path, spec, where),
                _lang(path, spec, where),
            )
        )
    return tuple(press)
