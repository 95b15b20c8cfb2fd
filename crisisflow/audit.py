"""The audit chain: each event's hash covers its content and its predecessor's hash, so changing,
removing or reordering a stored event is detectable."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

GENESIS = "0" * 64
HASHED_FIELDS = ("seq", "at", "actor", "kind", "trigger", "from_state", "to_state", "note", "data")


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def event_hash(ref: str, prev_hash: str, event: Mapping[str, Any]) -> str:
    body = {name: _plain(event.get(name)) for name in HASHED_FIELDS}
    payload = json.dumps(
        [ref, prev_hash, body],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def first_broken(ref: str, events: Iterable[Mapping[str, Any]]) -> int | None:
    """The ``seq`` of the first event whose link does not verify, or None if the chain holds."""
    prev = GENESIS
    expected_seq = 1
    for event in events:
        if (
            event["seq"] != expected_seq
            or event["prev_hash"] != prev
            or event_hash(ref, prev, event) != event["hash"]
        ):
            return int(event["seq"])
        prev = event["hash"]
        expected_seq += 1
    return None
