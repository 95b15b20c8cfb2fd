"""The playbooks a workspace offers and the exact versions its incidents were opened with.

Loading a playbook file parses and lints it; pinning stores its source with the incident, by
content hash, so that editing the file never changes a running incident. The catalogue keeps
what it has loaded, pinned and compiled for the life of the application object that owns it.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import store_incidents
from .errors import NotFoundError, PlaybookError, Problem
from .i18n import _
from .playbook import Playbook
from .playbook_data import build

if TYPE_CHECKING:
    from .machine import Machines
    from .rules import Rule

Exists = Callable[[str], bool]


def parse_text(
    source: str,
    filename: str,
    template_exists: Exists | None = None,
    clock_exists: Exists | None = None,
) -> Playbook:
    """Load and lint a playbook from YAML text; raise PlaybookError listing every problem."""
    from . import lint, yamlfile  # only loading a file needs YAML; a pinned copy is JSON

    data, problem = yamlfile.parse(source, filename)
    if problem:
        raise PlaybookError([problem])
    playbook, problems = build(data, source, filename)
    if playbook is not None:
        problems = lint.check(playbook, template_exists, clock_exists)
    if problems:
        raise PlaybookError(problems)
    assert playbook is not None
    return playbook


def load_file(
    path: Path, template_exists: Exists | None = None, clock_exists: Exists | None = None
) -> Playbook:
    try:
        source = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlaybookError(
            [Problem(str(path), 1, _("cannot read: {error}").format(error=exc))]
        ) from exc
    return parse_text(source, str(path), template_exists, clock_exists)


def to_json(playbook: Playbook) -> str:
    """The pinned form stored with incidents: the source's parsed data as JSON."""
    from . import yamlfile

    data, _problem = yamlfile.parse(playbook.source, playbook.filename)
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


def from_pinned(compiled: str, source: str, filename: str) -> Playbook:
    """Rebuild a pinned playbook from its stored JSON, without YAML (every command's fast path)."""
    playbook, problems = build(json.loads(compiled), source, filename)
    if playbook is None:
        raise PlaybookError(problems)
    return playbook


class Catalogue:
    """The workspace's playbook files (its own win over the shipped ones of the same name),
    and the pinned versions, loaded once each."""

    def __init__(
        self, folders: Iterable[Path], template_exists: Exists, clock_exists: Exists
    ) -> None:
        self.folders = tuple(folders)  # later folders win
        self.template_exists = template_exists
        self.clock_exists = clock_exists
        self._loaded: dict[tuple[str, int, int], Playbook] = {}  # by (path, mtime, size)
        self._pinned: dict[str, Playbook] = {}  # by content hash: immutable
        self._compiled: dict[str, str] = {}  # the pinned JSON form by content hash

    @cached_property
    def machines(self) -> Machines:
        """Compiled machines: only commands that fire a trigger load `transitions`."""
        from .machine import Machines

        return Machines()

    def files(self) -> dict[str, Path]:
        """Playbook id (file stem) → file."""
        found: dict[str, Path] = {}
        for folder in self.folders:
            for path in sorted(folder.glob("*.yaml")):
                found[path.stem] = path
        return found

    def load(self, playbook_id: str) -> Playbook:
        """The workspace's current version of a playbook, linted."""
        files = self.files()
        path = files.get(playbook_id)
        if path is None:
            raise NotFoundError(
                _("unknown playbook {id!r}; available: {known}").format(
                    id=playbook_id, known=", ".join(files) or _("none")
                )
            )
        stat = path.stat()
        key = (str(path), stat.st_mtime_ns, stat.st_size)
        if key not in self._loaded:  # opening many incidents should not re-parse a file
            self._loaded[key] = self.load_path(path)
        return self._loaded[key]

    def load_path(self, path: Path) -> Playbook:
        loaded = load_file(path, self.template_exists, self.clock_exists)
        if loaded.id != path.stem:
            message = _("id {id!r} differs from the file name; name the file {id}.yaml")
            raise PlaybookError([Problem(str(path), 1, message.format(id=loaded.id))])
        return loaded

    def check(self, paths: Iterable[Path] | None = None) -> list[Problem]:
        """Lint playbook files (default: all of the workspace's); return every problem."""
        problems: list[Problem] = []
        for path in paths if paths is not None else self.files().values():
            try:
                self.load_path(Path(path))
            except PlaybookError as exc:
                problems.extend(exc.problems)
        return problems

    def idle_rules(self, rules: Iterable[Rule]) -> list[str]:
        """Warnings for the pack rules whose clock no state of the workspace's playbooks
        starts: nothing can ever measure them."""
        started: set[str] = set()
        for path in self.files().values():
            try:
                playbook = self.load_path(Path(path))
            except PlaybookError:
                continue  # its problems are reported on their own
            started |= {c for state in playbook.states.values() for c in state.deadlines}
            if playbook.policy.authorisation_clock:  # started by `statement authorise`
                started.add(playbook.policy.authorisation_clock)
        return [
            _(
                "{where}: warning: rule {rule} can never start: no playbook state starts "
                "clock {clock}"
            ).format(where=rule.where, rule=rule.id, clock=rule.clock)
            for rule in rules
            if rule.clock not in started
        ]

    def compiled(self, playbook: Playbook) -> str:
        """The JSON form pinned with an incident."""
        found = self._compiled.get(playbook.source_hash)
        if found is None:
            found = self._compiled[playbook.source_hash] = to_json(playbook)
        return found

    def pinned(self, conn: Any, playbook_hash: str) -> Playbook:
        """The exact playbook version an incident was opened with, from the database."""
        cached = self._pinned.get(playbook_hash)
        if cached is None:
            row = store_incidents.pinned_playbook(conn, playbook_hash)
            if row is None:  # pragma: no cover - a foreign key guarantees it
                raise NotFoundError(
                    _("pinned playbook {hash} is missing").format(hash=playbook_hash)
                )
            cached = self._pinned[playbook_hash] = self._with_policy(
                from_pinned(row.compiled, row.source, row.filename), row.compiled
            )
        return cached

    def _with_policy(self, pinned: Playbook, compiled: str) -> Playbook:
        """A playbook pinned before statement policy became data declares none: its incident
        follows the policy of the workspace's current playbook of the same id, if any."""
        data = json.loads(compiled)
        if "statements" in data or "templates" in data or pinned.id not in self.files():
            return pinned
        try:
            current = self.load(pinned.id)
        except PlaybookError:
            return pinned  # a broken file on disk must not stop a running incident
        return dataclasses.replace(pinned, policy=current.policy)
