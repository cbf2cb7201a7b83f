"""What the catalog layer keeps of a run (its start and stop documents), and how it reads a key of one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RunDocs:
    """The start and stop documents of one run; ``stop`` is ``None`` while it runs."""

    start: dict
    stop: dict | None = None


def lookup(doc: dict, key: str) -> Any:
    """A start-document value by key; a dotted key reaches into nested dicts when no top-level key matches."""
    if key in doc:
        return doc[key]
    value: Any = doc
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value
