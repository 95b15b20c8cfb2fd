"""Creating and refreshing a workspace folder from the shipped defaults.

The settings and the directory are the organisation's own: created once, never overwritten.
Shipped playbooks and templates are copied in so staff can read and adapt them; a later
``init --update`` refreshes only the copies nobody edited (their hashes are kept in
``.crisisflow-shipped.json``), and always brings the database schema to the current version.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from .config import SKELETON, WORKSPACE_FILE, load_settings, shipped
from .errors import ConfigError
from .i18n import _
from .signing import KEY_FILE, write_new_key
from .store import Store

MANIFEST = ".crisisflow-shipped.json"
OWN_FILES = (WORKSPACE_FILE, "directory.yaml")


@dataclass
class InitReport:
    workspace: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    schema_before: str | None = None
    schema_after: str | None = None


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _shipped_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for folder in ("playbooks", "templates", "rules"):
        root = shipped(folder)
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                files[f"{folder}/{path.relative_to(root).as_posix()}"] = path
    return files


# The directories `init --example` offers: the seed's district (before the 2025 reform, the
# default), a commune, a provincial department.
EXAMPLES = {
    "district": SKELETON / "directory.yaml",
    "commune": SKELETON / "examples" / "commune.yaml",
    "department": SKELETON / "examples" / "department.yaml",
}


def init(target: Path, *, update: bool = False, example: str = "district") -> InitReport:
    """Create (or, with ``update``, refresh) the workspace in ``target`` and its database;
    a new workspace's directory is the ``example`` one (EXAMPLES)."""
    target = target.expanduser()
    if (target / WORKSPACE_FILE).exists() and not update:
        raise ConfigError(
            _(
                "{path} is already a crisisflow workspace; run `crisisflow init "
                "--update {path}` to refresh unedited shipped files and the database"
            ).format(path=target)
        )
    if target.exists() and not target.is_dir():
        raise ConfigError(_("{path} exists and is not a folder").format(path=target))
    report = InitReport(target.resolve() if target.exists() else target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name in OWN_FILES:
            if not (target / name).exists():
                source = EXAMPLES[example] if name == "directory.yaml" else SKELETON / name
                shutil.copyfile(source, target / name)
                report.created.append(name)
        manifest_path = target / MANIFEST
        manifest: dict[str, str] = (
            json.loads(manifest_path.read_text("utf-8")) if manifest_path.exists() else {}
        )
        for relative, source in _shipped_files().items():
            dest = target / relative
            new = _digest(source)
            if not dest.exists():
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, dest)
                report.created.append(relative)
            elif _digest(dest) == new:
                pass
            elif manifest.get(relative) == _digest(dest):  # still as we shipped it: refresh
                shutil.copyfile(source, dest)
                report.updated.append(relative)
            else:
                report.kept.append(relative)
                continue
            manifest[relative] = new
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", "utf-8")
        if not (target / KEY_FILE).exists():  # signs sessions and e-mailed links; mode 0600
            write_new_key(target)
            report.created.append(KEY_FILE)
    except OSError as exc:
        raise ConfigError(
            _("cannot write the workspace {path}: {error}").format(
                path=target, error=exc.strerror or exc
            )
        ) from exc
    report.workspace = target.resolve()
    settings = load_settings(report.workspace)
    db = Store(settings.database_url)
    try:
        report.schema_before, report.schema_after = db.upgrade()
    finally:
        db.dispose()
    return report
