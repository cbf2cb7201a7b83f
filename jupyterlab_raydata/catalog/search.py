"""The one way in to a catalog search: the REST API's ``runs`` route and the notebook's ``RunBrowser``
both hand a :class:`RunSearch` (what the user typed, as text) to :meth:`.catalog.Catalog.search`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field, field_validator

from .models import QueryExample, QueryHelp
from .params import MAX_COLUMNS, SORT_HELP, TIME_HELP, SortKey, parse_columns, parse_sort, parse_time
from .query import QUERY_EXAMPLES, QUERY_HELP, Term, parse_query

MAX_LIMIT = 1000
# The formats, for the API's description (blank means absent); the parsers have the last word: a
# day that does not exist or a sort key no run has is still refused, naming the problem.
_TIME_PATTERN = (
    r"^\s*([+-]?\d+(\.\d*)?|\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?)?\s*$"
)
_SORT_PATTERN = r"^\s*$|^\s*[+-]?\s*[^,\s+-][^,]*(,\s*[+-]?\s*[^,\s+-][^,]*){0,2}$"


class RunSearch(BaseModel):
    """One page of a search, every part as the user wrote it."""

    since: str | None = Field(
        None,
        description=f"Runs that started at or after this time. {TIME_HELP}",
        json_schema_extra={"pattern": _TIME_PATTERN},
    )
    until: str | None = Field(
        None,
        description="Runs that started before this time (same formats as since; a date alone means the "
        "end of that day).",
        json_schema_extra={"pattern": _TIME_PATTERN},
    )
    q: str = Field("", description="Search text; GET catalogs/{name}/query-help explains the syntax.")
    sort: str | None = Field(None, description=SORT_HELP, json_schema_extra={"pattern": _SORT_PATTERN})
    offset: int = Field(0, ge=0, description="Rows to skip.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}.")
    columns: str | list[str] | None = Field(
        None, description=f"Comma-separated start-document keys to add to each row (at most {MAX_COLUMNS})."
    )

    @field_validator("since", "until", "sort", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: object) -> object:
        # A form's empty box arrives as "since=": no bound, not a malformed date.
        return None if isinstance(value, str) and not value.strip() else value

    def parsed(self) -> ParsedSearch:
        """The search parsed and checked.

        Raises
        ------
        BadRequest
            For a malformed query, date, sort or column list, naming the part and the problem.
        """
        return ParsedSearch(
            terms=parse_query(self.q),
            since=None if self.since is None else parse_time(self.since, name="since"),
            until=None if self.until is None else parse_time(self.until, name="until", end_of_day=True),
            sort=parse_sort(self.sort),
            offset=self.offset,
            limit=self.limit,
            columns=parse_columns(self.columns),
        )


@dataclass(frozen=True)
class ParsedSearch:
    terms: list[Term]
    since: float | None
    until: float | None
    sort: list[SortKey]
    offset: int
    limit: int
    columns: list[str]


def query_help() -> QueryHelp:
    """The search-box help the UI shows in its popup."""
    return QueryHelp(
        query=QUERY_HELP,
        examples=[QueryExample(query=q, meaning=m) for q, m in QUERY_EXAMPLES],
        sort=SORT_HELP,
        dates=TIME_HELP,
    )
