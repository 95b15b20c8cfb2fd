"""Settings and workspace discovery.

Settings are one typed table. Each is read from its default, then ``crisisflow.toml`` in the
workspace, then the environment (``CRISISFLOW_<NAME>``), then command-line flags; later wins.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from .errors import ConfigError
from .i18n import _
from .setting_table import SETTINGS, SETTINGS_BY_NAME, Setting

WORKSPACE_FILE = "crisisflow.toml"
HOME_ENV = "CRISISFLOW_HOME"


@dataclass(frozen=True)
class Settings:
    workspace: Path
    values: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    @property
    def database_url(self) -> str:
        url: str = self.values["database_url"]
        return url or f"sqlite:///{self.workspace / 'crisisflow.db'}"

    def __repr__(self) -> str:
        shown = {
            k: ("***" if SETTINGS_BY_NAME[k].secret and v else v) for k, v in self.values.items()
        }
        return f"Settings(workspace={self.workspace!s}, values={shown!r})"


def find_workspace(explicit: str | Path | None = None, cwd: Path | None = None) -> Path:
    """Return the workspace folder: ``explicit``, else ``$CRISISFLOW_HOME``, else walk up."""
    if explicit:
        path = Path(explicit).expanduser()
        if not (path / WORKSPACE_FILE).is_file():
            raise ConfigError(
                _(
                    "{path}: not a crisisflow workspace (no {file}); run `crisisflow init {path}`"
                ).format(path=path, file=WORKSPACE_FILE)
            )
        return path.resolve()
    home = os.environ.get(HOME_ENV)
    if home:
        return find_workspace(home)
    start = (cwd or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    raise ConfigError(
        _(
            "no crisisflow workspace here or above {path}; run `crisisflow init DIR`, "
            "or pass --workspace DIR / set {env}"
        ).format(path=start, env=HOME_ENV)
    )


def _shown(value: Any) -> str:
    """A value as a message shows it: repr (so odd characters are visible), bounded."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _coerce(setting: Setting, value: Any, where: str) -> Any:
    if setting.kind is str and isinstance(value, str):
        return value
    if setting.kind is int and not isinstance(value, bool | float):
        try:
            return int(value)
        except (TypeError, ValueError):
            pass
    if setting.kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if setting.kind is float and not isinstance(value, bool):
        try:
            return float(value)
        except (TypeError, ValueError):
            pass
    kind = {int: _("a whole number"), float: _("a number")}.get(setting.kind, _("text"))
    raise ConfigError(
        _("{where}: setting {name} must be {kind}, got {value}").format(
            where=where, name=setting.name, kind=kind, value=_shown(value)
        )
    )


def _check(setting: Setting, value: Any, where: str) -> None:
    """Refuse a value outside the setting's choices or bounds, or an unknown time zone."""
    problem, hint = None, ""
    if setting.choices and value not in setting.choices:
        problem = _("must be one of {choices}").format(choices=", ".join(setting.choices))
    elif setting.low is not None and setting.high is not None:
        if not (math.isfinite(value) and setting.low <= value <= setting.high):
            problem = _("must be between {low:g} and {high:g}").format(
                low=setting.low, high=setting.high
            )
    elif setting.name == "base_url" and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        problem = _("must be an http(s) address such as https://crisisflow.example.gov.vn")
    elif setting.name == "time_zone" and not _is_time_zone(value):
        problem = _("must be a time zone name of the IANA database such as Asia/Ho_Chi_Minh")
        close = _close_time_zone(value)
        hint = _("; did you mean {zone}?").format(zone=close) if close else ""
    if problem:
        raise ConfigError(
            _("{where}: setting {name} {problem}, got {value}").format(
                where=where, name=setting.name, problem=problem, value=_shown(value)
            )
            + hint
        )


def _close_time_zone(name: str) -> str | None:
    """A known zone the name is probably a typo of: other letter case, or one or two letters."""
    import difflib  # only a wrong setting needs it

    known = sorted(available_timezones())
    same = [zone for zone in known if zone.lower() == name.strip().lower()]
    close = same or difflib.get_close_matches(name, known, n=1, cutoff=0.85)
    return close[0] if close else None


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):  # not found, not a valid key, a folder, too long
        return False
    return True


def _read_table(toml_path: Path) -> tuple[dict[str, Any], str]:
    """The [crisisflow] table of ``crisisflow.toml`` (empty when there is none) and its text."""
    try:
        text = toml_path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except FileNotFoundError:
        return {}, ""
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            _("{file}: cannot read settings: {error}").format(file=toml_path, error=exc)
        ) from exc
    table = data.get("crisisflow", {})
    if not isinstance(table, dict):
        raise ConfigError(_("{file}: [crisisflow] must be a table").format(file=toml_path))
    return table, text


def _where_in(toml_path: Path, text: str, key: str) -> str:
    """``file:line`` of ``key = …`` in the settings file (the file alone if not found)."""
    found = re.search(rf"^[ \t]*[\"']?{re.escape(key)}[\"']?[ \t]*=", text, re.MULTILINE)
    return f"{toml_path}:{text.count(chr(10), 0, found.start()) + 1}" if found else str(toml_path)


def load_settings(workspace: Path, overrides: dict[str, Any] | None = None) -> Settings:
    """Read the settings table for ``workspace``; secrets only from the environment. Every
    value is checked here, once, and an error names where the bad value came from."""
    values = {s.name: s.default for s in SETTINGS}
    origins = {s.name: _("default") for s in SETTINGS}
    toml_path = workspace / WORKSPACE_FILE
    table, text = _read_table(toml_path)
    for key, value in table.items():
        setting = SETTINGS_BY_NAME.get(key)
        where = _where_in(toml_path, text, key)
        if setting is None:
            raise ConfigError(
                _("{file}: unknown setting {key!r}; known: {known}").format(
                    file=where, key=key, known=", ".join(SETTINGS_BY_NAME)
                )
            )
        if setting.secret:
            raise ConfigError(
                _("{file}: {key} is a secret; set it in the environment as {env}").format(
                    file=where, key=key, env=setting.env
                )
            )
        values[key], origins[key] = _coerce(setting, value, where), where
    for setting in SETTINGS:
        if setting.env in os.environ and setting.file_only:
            raise ConfigError(
                _(
                    "{env}: {name} says who may act, which is the workspace's to decide; "
                    "unset {env} and set {name} in {file}"
                ).format(env=setting.env, name=setting.name, file=toml_path)
            )
        if setting.env in os.environ:
            values[setting.name] = _coerce(setting, os.environ[setting.env], setting.env)
            origins[setting.name] = setting.env
    for key, value in (overrides or {}).items():
        if value is not None:
            flag = "--" + key.replace("_", "-")
            values[key], origins[key] = _coerce(SETTINGS_BY_NAME[key], value, flag), flag
    for setting in SETTINGS:
        _check(setting, values[setting.name], origins[setting.name])
    return Settings(workspace=workspace, values=values)


def shipped(name: str) -> Path:
    """A folder of shipped defaults (``playbooks``, ``templates``): inside the installed wheel,
    or at the top of the source tree when running from a checkout or an editable install."""
    packaged = Path(__file__).parent / "shipped" / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / name


SKELETON = Path(__file__).parent / "skeleton"
