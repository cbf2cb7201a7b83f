"""Compile a parsed search (query terms, time bounds, sort keys) into SQL over the index's tables.

The tables are described in :mod:`.index`; every condition here is on the alias ``r`` of ``runs``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import BadRequest
from .params import DATE_ONLY, SortKey, parse_time
from .query import Filter, ScanId, Term, Text, UidPrefix

#: Keys that are columns of ``runs`` rather than rows of ``kv``, and how each sorts.
RUN_COLUMNS = {
    "time": "r.time",
    "scan_id": "r.scan_id",
    "uid": "r.uid",
    "plan_name": "r.plan_name COLLATE NOCASE",
    "owner": "r.owner COLLATE NOCASE",
    "exit_status": "r.exit_status",
}
# Text keys that are also indexed columns of ``runs``.
_PROMOTED_TEXT = {"owner": "r.owner", "plan_name": "r.plan_name"}
_SQL_OPS = {"=": "=", "!=": "=", ">=": ">=", "<=": "<=", ">": ">", "<": "<"}
_FTS = "r.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)"


@dataclass
class CompiledSearch:
    """``SELECT … FROM runs r {joins} WHERE {where} ORDER BY {order}`` with its parameters in that order."""

    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    joins: str = ""
    join_params: list[Any] = field(default_factory=list)
    order: str = ""

    @property
    def where_sql(self) -> str:
        return (" WHERE " + " AND ".join(self.where)) if self.where else ""

    @property
    def full_text(self) -> bool:
        return any("fts MATCH" in w for w in self.where)


def compile_search(
    terms: list[Term], *, since: float | None, until: float | None, sort: list[SortKey]
) -> CompiledSearch:
    """The SQL for runs matching every term with ``since <= time < until``, in ``sort`` order.

    Raises
    ------
    BadRequest
        For a term the index cannot answer (``time=…``, ``uid>…``).
    """
    out = CompiledSearch()
    match: list[str] = []
    for term in terms:
        if isinstance(term, Text) and not term.negate:
            # Every positive word goes into one FTS query: one index walk instead of one per word.
            match.append(_fts_word(term))
            continue
        sql, args = _compile_term(term)
        out.where.append(f"NOT ({sql})" if term.negate else sql)
        out.params.extend(args)
    if match:
        out.where.insert(0, _FTS)
        out.params.insert(0, " ".join(match))
    if since is not None:
        out.where.append("r.time >= ?")
        out.params.append(since)
    if until is not None:
        out.where.append("r.time < ?")
        out.params.append(until)
    out.joins, out.join_params, out.order = _compile_sort(sort)
    return out


def _fts_quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _fts_word(term: Text) -> str:
    return _fts_quote(term.text) + ("*" if term.prefix else "")


def _like_pattern(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped.replace("*", "%")


def _compile_term(term: Term) -> tuple[str, list[Any]]:
    if isinstance(term, Text):
        return _FTS, [_fts_word(term)]
    if isinstance(term, ScanId):
        return "r.scan_id = ?", [term.scan_id]
    if isinstance(term, UidPrefix):
        return (
            f"(r.uid >= ? AND r.uid < ?) OR {_FTS}",
            [term.prefix, term.prefix + "\U0010ffff", _fts_quote(term.prefix)],
        )
    return _compile_filter(term)


def _compile_filter(f: Filter) -> tuple[str, list[Any]]:
    if f.key == "time":
        return _compile_time_filter(f)
    if f.key == "uid":
        if f.op not in ("=", "!="):
            raise BadRequest("Invalid search query", "uid can only be matched with = or != (a prefix).")
        sql, args = "r.uid LIKE ? ESCAPE '\\'", [_like_pattern(f.value.lower().rstrip("*")) + "%"]
        return (f"NOT ({sql})" if f.op == "!=" else sql), args
    number = f.number
    column = _PROMOTED_TEXT.get(f.key)
    if column is not None and f.op in ("=", "!=") and not f.is_pattern:
        # An indexed column of runs: newest-first pages and counts of common values stay cheap.
        sql = f"coalesce({column} = ? COLLATE NOCASE, 0)"
        return (f"NOT ({sql})" if f.op == "!=" else sql), [f.value]
    if f.op in ("=", "!="):
        if f.value == "*":
            cond, args = "1", []
        elif f.is_pattern:
            cond, args = "txt LIKE ? ESCAPE '\\'", [_like_pattern(f.value)]
        elif number is not None:
            # Two index look-ups: SQLite would scan every row of the key for "num = ? OR txt = ?".
            sql = (
                "r.id IN (SELECT run FROM kv WHERE key = ? AND num = ? "
                "UNION ALL SELECT run FROM kv WHERE key = ? AND txt = ?)"
            )
            return (f"NOT ({sql})" if f.op == "!=" else sql), [f.key, number, f.key, f.value]
        else:
            cond, args = "txt = ?", [f.value]
    else:
        column = "num" if number is not None else "txt"
        cond, args = f"{column} {_SQL_OPS[f.op]} ?", [number if number is not None else f.value]
    sql = f"r.id IN (SELECT run FROM kv WHERE key = ? AND {cond})"
    return (f"NOT ({sql})" if f.op == "!=" else sql), [f.key, *args]


def _compile_time_filter(f: Filter) -> tuple[str, list[Any]]:
    if f.op in ("=", "!="):
        raise BadRequest(
            "Invalid search query",
            "Compare time with >=, <=, > or < (or use the From/To dates), not with '='.",
        )
    op = f.op
    if DATE_ONLY.match(f.value.strip()) and op in ("<=", ">"):
        # A whole day: "<= day" ends, and "> day" begins, at the next midnight.
        return f"r.time {'<' if op == '<=' else '>='} ?", [parse_time(f.value, name="time", end_of_day=True)]
    return f"r.time {op} ?", [parse_time(f.value, name="time")]


def _compile_sort(sort: list[SortKey]) -> tuple[str, list[Any], str]:
    joins: list[str] = []
    params: list[Any] = []
    order: list[str] = []
    for i, key in enumerate(sort):
        direction = "DESC" if key.descending else "ASC"
        column = RUN_COLUMNS.get(key.key)
        if column is not None:
            order.append(f"{column} {direction} NULLS LAST")
            continue
        alias = f"s{i}"
        joins.append(f"LEFT JOIN kv {alias} ON {alias}.run = r.id AND {alias}.key = ? AND {alias}.pos = 0 ")
        params.append(key.key)
        order.append(f"{alias}.num {direction} NULLS LAST, {alias}.txt {direction} NULLS LAST")
    if not any(k.key == "time" for k in sort):
        order.append("r.time DESC")
    order.append("r.id DESC")
    return "".join(joins), params, ", ".join(order)
