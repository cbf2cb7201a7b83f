"""The one way in to a catalog search: the REST API's ``runs`` route and the notebook's ``RunBrowser``
both hand a :class:`RunSearch` (what the user typed, as text) to :meth:`.catalog.Catalog.search`."""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel, Field

from .models import QueryExample, QueryHelp
from .params import MAX_COLUMNS, SORT_HELP, TIME_HELP, SortKey, parse_columns, parse_sort, parse_time
from .query import QUERY_EXAMPLES, QUERY_HELP, Term, parse_query

MAX_LIMIT = 1000


class RunSearch(BaseModel):
    """One page of a search, every part as the user wrote it."""

    since: str | None = Field(None, description=f"Runs that started at or after this time. {TIME_HELP}")
    until: str | None = Field(
        None,
        description="Runs that started before this time (same formats as since; a date alone means the "
        "end of that day).",
    )
    q: str = Field("", description="Search text; GET catalogs/{name}/query-help explains the syntax.")
    sort: str | None = Field(None, description=SORT_HELP)
    offset: int = Field(0, ge=0, description="Rows to skip.")
    limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"Rows per page, at most {MAX_LIMIT}.")
    columns: str | list[str] | None = Field(
        None, description=f"Comma-separated start-document keys to add to each row (at most {MAX_COLUMNS})."
    )

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
