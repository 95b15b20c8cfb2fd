"""YAML data files read safely, with the line of every key and item kept for error messages.

Only ``yaml.safe_load`` semantics: no tags that build Python objects. Duplicate keys, which YAML
would silently collapse, are refused. Strings are normalised to Unicode NFC.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

import yaml

from .errors import Problem
from .i18n import _

_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[str, Any]):
    """A mapping that remembers the line (1-based) of itself and of each key."""

    line: int
    key_lines: dict[str, int]

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class LineList(list[Any]):
    """A sequence that remembers its own line and the line of each item."""

    line: int
    item_lines: list[int]

    def line_of(self, index: int) -> int:
        return self.item_lines[index] if index < len(self.item_lines) else self.line


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class _LineLoader(_BaseLoader):  # type: ignore[misc, valid-type]
    pass


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LineDict:
    loader.flatten_mapping(node)
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, str):
            key = unicodedata.normalize("NFC", key)
        if key in result:
            raise DuplicateKey(
                None, None, _("duplicate key {key!r}").format(key=key), key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_str(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> str:
    return unicodedata.normalize("NFC", str(loader.construct_scalar(node)))


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)
_LineLoader.add_constructor("tag:yaml.org,2002:str", _construct_str)


def parse(text: str, filename: str) -> tuple[Any, Problem | None]:
    """Parse YAML text; on a syntax error return ``(None, problem)`` with its line."""
    try:
        return yaml.load(text, Loader=_LineLoader), None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        context = exc.context
        if context and exc.context_mark and exc.context_mark.line + 1 != line:
            context += f" (line {exc.context_mark.line + 1})"
        message = ": ".join(filter(None, [context, exc.problem])) or str(exc)
        return None, Problem(filename, line, _("YAML: {message}").format(message=message))
    except yaml.YAMLError as exc:
        return None, Problem(filename, 1, _("YAML: {message}").format(message=exc))


def read(path: Path) -> tuple[str, Any, Problem | None]:
    """Read and parse a YAML file: ``(text, data, problem)``."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return "", None, Problem(str(path), 1, _("not UTF-8 text"))
    except OSError as exc:
        return "", None, Problem(str(path), 1, _("cannot read: {error}").format(error=exc.strerror))
    data, problem = parse(text, str(path))
    return text, data, problem
