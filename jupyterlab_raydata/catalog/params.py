"""Parse the listing parameters that are not the query: times, sort keys and column lists."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from ..errors import BadRequest

SORT_HELP = (
    "Comma-separated start-document keys, at most 3; a leading '-' sorts that key descending, "
    "e.g. '-time' (newest first, the default) or 'owner,-time'. Keys may contain spaces."
)
TIME_HELP = (
    "ISO 8601 date or date-time ('2024-03-05', '2024-03-05T14:30', with an optional UTC offset) or "
    "epoch seconds. A date alone means the start of that day for 'since' and its end for 'until'; "
    "times without an offset are in the server's local time zone."
)

MAX_SORT_KEYS = 3
MAX_COLUMNS = 50
_EPOCH = re.compile(r"^[+-]?\d+(\.\d*)?$")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class SortKey:
    key: str
    descending: bool = False


def parse_time(value: str, *, name: str, end_of_day: bool = False) -> float:
    """Turn an ISO 8601 date, date-time or epoch-seconds string into epoch seconds.

    Parameters
    ----------
    value : str
        What the user typed.
    name : str
        The parameter it came from, for the error message.
    end_of_day : bool
        For a date without a time, return the end of that day (the next midnight) instead of its start.

    Raises
    ------
    BadRequest
        When the value is neither a date nor a number.
    """
    text = value.strip()
    if _EPOCH.match(text):
        return float(text)
    try:
        if DATE_ONLY.match(text):
            day = date.fromisoformat(text)
            moment = datetime(day.year, day.month, day.day) + (
                timedelta(days=1) if end_of_day else timedelta()
            )
        else:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    except ValueError:
        raise BadRequest(
            f"Invalid date for '{name}'",
            f"'{value}' is not an ISO 8601 date (like 2024-03-05 or 2024-03-05T14:30) or epoch seconds.",
        ) from None
    # A naive datetime's .timestamp() already means local time.
    return moment.timestamp()


def parse_sort(value: str | None) -> list[SortKey]:
    """Parse ``sort`` (see :data:`SORT_HELP`); an empty value means newest first.

    Raises
    ------
    BadRequest
        For an empty key, a repeated key or more than three keys.
    """
    if not value or not value.strip():
        return [SortKey("time", descending=True)]
    keys: list[SortKey] = []
    for raw in value.split(","):
        part = raw.strip()
        descending = part.startswith("-")
        key = part[1:].strip() if descending or part.startswith("+") else part
        key = key.strip('"').strip()
        if not key:
            raise BadRequest("Invalid sort", f"'{value}' has an empty sort key; {SORT_HELP}")
        if any(k.key == key for k in keys):
            raise BadRequest("Invalid sort", f"The sort key '{key}' appears twice.")
        keys.append(SortKey(key, descending))
    if len(keys) > MAX_SORT_KEYS:
        raise BadRequest("Invalid sort", f"At most {MAX_SORT_KEYS} sort keys are allowed, got {len(keys)}.")
    return keys


def parse_columns(value: str | list[str] | None) -> list[str]:
    """Parse ``columns``: comma-separated start-document keys (repeating the parameter also works).

    Raises
    ------
    BadRequest
        For more than :data:`MAX_COLUMNS` keys.
    """
    if not value:
        return []
    parts = value if isinstance(value, list) else [value]
    columns: list[str] = []
    for part in parts:
        for raw in part.split(","):
            key = raw.strip().strip('"').strip()
            if key and key not in columns:
                columns.append(key)
    if len(columns) > MAX_COLUMNS:
        raise BadRequest("Too many columns", f"At most {MAX_COLUMNS} columns can be requested at once.")
    return columns
