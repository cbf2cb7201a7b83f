"""A local SQLite summary of a catalog's runs, so listing and search never wait on the catalog.

One file per catalog under ``<data_dir>/index/``. Tables:

* ``runs``: one row per run, the columns the table sorts on, and the start/stop documents as JSON;
* ``kv``: every scalar start-document value (nested dicts as ``a.b``, list items one row each), as a
  number and as case-insensitive text, indexed by key, so ``key=value`` filters and sorts on any key
  are index look-ups instead of JSON scans;
* ``fts``: an FTS5 full-text index of the start-document values;
* ``key_counts``: how many runs carry each top-level key, for the column chooser.

Reads use one connection per thread; SQLite's WAL mode lets them run while the synchroniser writes.
Searches are compiled to SQL by :mod:`.sql`; this module stores and reads.

One :class:`RunIndex` object per file and process (its :class:`~.catalog.Catalog` makes it once): its
writes are serialised by its own lock, and the file is switched to WAL mode once, when it is created.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .documents import RunDocs, lookup
from .params import SortKey
from .query import Term
from .sql import compile_search

SCHEMA_VERSION = "1"
MAX_LIST_ITEMS = 32
MAX_TEXT = 256

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    uid TEXT NOT NULL UNIQUE,
    time REAL NOT NULL,
    scan_id INTEGER,
    plan_name TEXT,
    owner TEXT,
    exit_status TEXT,
    start TEXT NOT NULL,
    stop TEXT,
    streams TEXT
);
CREATE INDEX IF NOT EXISTS runs_time ON runs (time);
CREATE INDEX IF NOT EXISTS runs_scan_id ON runs (scan_id, time);
CREATE INDEX IF NOT EXISTS runs_owner ON runs (owner COLLATE NOCASE, time);
CREATE INDEX IF NOT EXISTS runs_plan ON runs (plan_name COLLATE NOCASE, time);
CREATE INDEX IF NOT EXISTS runs_open ON runs (time) WHERE stop IS NULL;
CREATE TABLE IF NOT EXISTS kv (
    run INTEGER NOT NULL,
    key TEXT NOT NULL,
    pos INTEGER NOT NULL,
    num REAL,
    txt TEXT COLLATE NOCASE
);
CREATE INDEX IF NOT EXISTS kv_num ON kv (key, num, run);
CREATE INDEX IF NOT EXISTS kv_txt ON kv (key, txt, run);
CREATE INDEX IF NOT EXISTS kv_run ON kv (run, key, pos);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS key_counts (key TEXT PRIMARY KEY, n INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class SearchResult:
    rows: list[dict[str, Any]]
    total: int


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def flatten(start: dict) -> Iterator[tuple[str, int, Any]]:
    """``(key, position, scalar)`` for every searchable value of a start document.

    Nested dicts one level deep become ``outer.inner`` keys; list items share their key with their
    position; ``uid`` and ``time`` are left out because they are columns of their own.
    """
    for key, value in start.items():
        if key in ("uid", "time"):
            continue
        if isinstance(value, dict):
            for inner, sub in value.items():
                yield from _flatten_value(f"{key}.{inner}", sub)
        else:
            yield from _flatten_value(key, value)


def _flatten_value(key: str, value: Any) -> Iterator[tuple[str, int, Any]]:
    if _scalar(value):
        yield key, 0, value
    elif isinstance(value, (list, tuple)):
        for pos, item in enumerate(value[:MAX_LIST_ITEMS]):
            if _scalar(item):
                yield key, pos, item


def _as_num_txt(value: Any) -> tuple[float | None, str]:
    if isinstance(value, bool):
        return float(value), "true" if value else "false"
    if isinstance(value, (int, float)):
        return float(value), repr(value) if isinstance(value, float) else str(value)
    return None, str(value)[:MAX_TEXT]


class RunIndex:
    """The summary index of one catalog.

    Parameters
    ----------
    path : Path
        The SQLite file; created with its folder if missing.
    source_id : str
        Identifies the catalog the index mirrors; when it changes (the configuration now points at
        another catalog) the index is emptied and rebuilt from scratch.
    """

    def __init__(self, path: Path, source_id: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        with self._write_lock:
            conn = self._conn()
            # WAL is a property of the file: set once here, it lasts; setting it on every new
            # connection needs an exclusive lock, which fails ("database is locked") under load.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            if self.get_meta("source_id") not in (None, source_id) or self.get_meta("schema") not in (
                None,
                SCHEMA_VERSION,
            ):
                self._reset(conn)
            self._set_meta_conn(conn, {"source_id": source_id, "schema": SCHEMA_VERSION})

    # -- connections and metadata -------------------------------------------------------------------

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA cache_size=-65536")
            conn.execute("PRAGMA mmap_size=536870912")
            conn.execute("PRAGMA temp_store=MEMORY")
            self._local.conn = conn
        return conn

    def _reset(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        for table in ("runs", "kv", "fts", "key_counts", "meta"):
            conn.execute(f"DELETE FROM {table}")
        conn.execute("COMMIT")

    def get_meta(self, key: str) -> str | None:
        row = self._conn().execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, **values: Any) -> None:
        with self._write_lock:
            self._set_meta_conn(self._conn(), values)

    @staticmethod
    def _set_meta_conn(conn: sqlite3.Connection, values: dict[str, Any]) -> None:
        conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(k, None if v is None else str(v)) for k, v in values.items()],
        )

    # -- writing ------------------------------------------------------------------------------------

    def upsert(self, runs: Iterable[RunDocs]) -> int:
        """Add new runs and record stop documents of known ones, in one transaction.

        Returns
        -------
        int
            How many runs were new to the index.
        """
        added = 0
        counts: dict[str, int] = {}
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for run in runs:
                    added += self._upsert_one(conn, run, counts)
                conn.executemany(
                    "INSERT INTO key_counts (key, n) VALUES (?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET n = n + excluded.n",
                    counts.items(),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return added

    @staticmethod
    def _upsert_one(conn: sqlite3.Connection, run: RunDocs, counts: dict[str, int]) -> int:
        start, stop = run.start, run.stop
        stop_json = json.dumps(stop) if stop else None
        exit_status = stop.get("exit_status") if stop else None
        row = conn.execute("SELECT id, stop IS NOT NULL FROM runs WHERE uid = ?", (start["uid"],)).fetchone()
        if row is not None:
            if stop and not row[1]:
                conn.execute(
                    "UPDATE runs SET stop = ?, exit_status = ? WHERE id = ?", (stop_json, exit_status, row[0])
                )
            return 0
        scan_id = start.get("scan_id")
        cur = conn.execute(
            "INSERT INTO runs (uid, time, scan_id, plan_name, owner, exit_status, start, stop) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                start["uid"],
                float(start.get("time") or 0.0),
                scan_id if isinstance(scan_id, int) and not isinstance(scan_id, bool) else None,
                _text_or_none(start.get("plan_name")),
                _text_or_none(start.get("owner")),
                exit_status,
                json.dumps(start),
                stop_json,
            ),
        )
        run_id = cur.lastrowid
        values = list(flatten(start))
        conn.executemany(
            "INSERT INTO kv (run, key, pos, num, txt) VALUES (?, ?, ?, ?, ?)",
            [(run_id, key, pos, *_as_num_txt(value)) for key, pos, value in values],
        )
        body = " ".join(_as_num_txt(value)[1] for _, _, value in values)
        conn.execute("INSERT INTO fts (rowid, body) VALUES (?, ?)", (run_id, body))
        for key in start:
            counts[key] = counts.get(key, 0) + 1
        return 1

    def set_streams(self, uid: str, streams: list[dict]) -> None:
        """Remember a finished run's stream summary so the detail view asks the catalog only once."""
        with self._write_lock:
            self._conn().execute("UPDATE runs SET streams = ? WHERE uid = ?", (json.dumps(streams), uid))

    def delete(self, uids: Iterable[str]) -> int:
        """Forget runs the catalog no longer has; returns how many were removed."""
        removed = 0
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for uid in uids:
                    row = conn.execute("SELECT id, start FROM runs WHERE uid = ?", (uid,)).fetchone()
                    if row is None:
                        continue
                    run_id, start = row
                    conn.execute("DELETE FROM kv WHERE run = ?", (run_id,))
                    conn.execute("DELETE FROM fts WHERE rowid = ?", (run_id,))
                    conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
                    conn.executemany(
                        "UPDATE key_counts SET n = n - 1 WHERE key = ?", [(k,) for k in json.loads(start)]
                    )
                    removed += 1
                conn.execute("DELETE FROM key_counts WHERE n <= 0")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return removed

    # -- reading ------------------------------------------------------------------------------------

    def count(self) -> int:
        return self._conn().execute("SELECT count(*) FROM runs").fetchone()[0]

    def has_uid(self, uid: str) -> bool:
        return self._conn().execute("SELECT 1 FROM runs WHERE uid = ?", (uid,)).fetchone() is not None

    def uids(self) -> set[str]:
        return {row[0] for row in self._conn().execute("SELECT uid FROM runs")}

    def has_key(self, key: str) -> bool:
        """Whether any indexed run has a searchable value under ``key`` (``a.b`` for nested keys)."""
        row = self._conn().execute("SELECT 1 FROM kv WHERE key = ? LIMIT 1", (key,)).fetchone()
        return row is not None

    def newest_time(self) -> float | None:
        return self._conn().execute("SELECT max(time) FROM runs").fetchone()[0]

    def open_runs(self, since: float, limit: int) -> list[str]:
        """Uids of runs with no stop document that started after ``since``, newest first."""
        rows = self._conn().execute(
            "SELECT uid FROM runs WHERE stop IS NULL AND time >= ? ORDER BY time DESC LIMIT ?", (since, limit)
        )
        return [r[0] for r in rows]

    def get(self, uid: str) -> tuple[RunDocs, list[dict] | None] | None:
        """The start/stop documents and the cached stream summary of one run, or ``None``."""
        row = self._conn().execute("SELECT start, stop, streams FROM runs WHERE uid = ?", (uid,)).fetchone()
        if row is None:
            return None
        stop = json.loads(row[1]) if row[1] else None
        return RunDocs(json.loads(row[0]), stop), (json.loads(row[2]) if row[2] else None)

    def columns(self) -> list[tuple[str, int]]:
        """Top-level start-document keys with how many runs have each, most common first."""
        rows = self._conn().execute("SELECT key, n FROM key_counts ORDER BY n DESC, key")
        return [(k, n) for k, n in rows]

    def search(
        self,
        terms: list[Term],
        *,
        since: float | None = None,
        until: float | None = None,
        sort: list[SortKey] | None = None,
        offset: int = 0,
        limit: int = 50,
        columns: list[str] | None = None,
    ) -> SearchResult:
        """One page of runs matching every term, in the requested order, and the total count.

        Parameters
        ----------
        terms : list
            From :func:`~jupyterlab_raydata.catalog.query.parse_query`.
        since, until : float, optional
            Start-time bounds in epoch seconds, ``since <= time < until``.
        sort : list of SortKey, optional
            Default newest first; ties are always broken newest first.
        offset, limit : int
            The page.
        columns : list of str, optional
            Start-document keys to return with each row under ``columns``.
        """
        compiled = compile_search(terms, since=since, until=until, sort=sort or [SortKey("time", True)])
        where_sql = compiled.where_sql
        wanted = "r.uid, r.time, r.scan_id, r.plan_name, r.owner, r.exit_status" + (
            ", r.start" if columns else ""
        )
        conn = self._conn()
        # With a full-text term both the page and the count walk the matched rows, so one pass with a
        # window count halves the work. Without one, the page stops after `limit` rows of an index
        # while a window count would force a sort of every match: there, two queries are far cheaper.
        count_column = ", count(*) OVER ()" if compiled.full_text else ""
        rows = conn.execute(
            f"SELECT {wanted}{count_column} FROM runs r {compiled.joins}{where_sql} "
            f"ORDER BY {compiled.order} LIMIT ? OFFSET ?",
            [*compiled.join_params, *compiled.params, limit, offset],
        ).fetchall()
        if compiled.full_text and rows:
            total = rows[0][-1]
        else:
            total = conn.execute(f"SELECT count(*) FROM runs r{where_sql}", compiled.params).fetchone()[0]
        result = []
        for row in rows:
            item = {
                "uid": row[0],
                "time": row[1],
                "scan_id": row[2],
                "plan_name": row[3],
                "owner": row[4],
                "exit_status": row[5],
                "columns": {},
            }
            if columns:
                start = json.loads(row[6])
                item["columns"] = {key: lookup(start, key) for key in columns}
            result.append(item)
        return SearchResult(result, total)


def _text_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def index_path(data_dir: str | os.PathLike, catalog: str) -> Path:
    """Where the index of ``catalog`` lives under ``data_dir``."""
    return Path(data_dir) / "index" / f"{catalog}.sqlite"
