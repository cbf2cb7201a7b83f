"""Keep a :class:`~.index.RunIndex` in step with its catalog.

The passes, each cheap once the index is full:

1. **newest page**: the first call copies the newest :data:`PAGE` runs (sorted on start time, which
   tiled does by reading every run's metadata: about a second at 100k runs, once), so the first request
   is answered at once with the runs a user most likely wants; a smaller catalog is then done.
2. **backfill**: the whole catalog in its own order (no sort), :data:`PAGE` runs a request, with
   ``source.parallel`` requests in flight while the previous pages are written, until a short page.
   Runs added meanwhile land at the end of that order and are read too; re-reading a run is harmless
   (writes are idempotent).
3. **refresh**, once the backfill is done: two small requests, the catalog's run count and the uid
   of its last run in its own order (where a new run lands). When the catalog holds as many runs as
   the index and that run is indexed, nothing else is asked: a refresh that finds nothing costs those
   two requests. Otherwise runs that started since the newest indexed one (less
   :data:`OVERLAP_S`, for clocks and slow writers) are copied; if the counts still differ, runs were
   deleted (or skipped while the catalog changed under the backfill): every uid is listed, the gone
   ones are forgotten and the missing ones fetched.
4. **open runs**: recent runs with no stop document yet are asked for again, so a run listed while it
   was running gets its exit status once it ends.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

from ..errors import NotFound
from .index import RunIndex
from .sources import RunSource

T = TypeVar("T")

#: Tiled's largest page.
PAGE = 300
#: Look this far behind the newest indexed run for runs that were written late.
OVERLAP_S = 600.0
#: Runs older than this without a stop document are taken to have crashed and are not asked again.
OPEN_RUN_GRACE_S = 3 * 86400.0
MAX_OPEN_RUNS = 50
#: Reconciling fetches missing runs one by one up to this many; beyond it the backfill starts over.
MAX_MISSING_FETCHES = PAGE


@dataclass
class SyncReport:
    added: int = 0
    removed: int = 0
    complete: bool = False


def backfill_complete(index: RunIndex) -> bool:
    return index.get_meta("backfill_done") == "1"


def has_synced(index: RunIndex) -> bool:
    """Whether the newest page has been copied, so the index can answer requests."""
    return index.get_meta("backfill_offset") is not None


def catalog_runs(index: RunIndex) -> int | None:
    """How many runs the catalog held at the last sync (for progress while the backfill runs)."""
    value = index.get_meta("catalog_runs")
    return None if value is None else int(value)


def sync(index: RunIndex, source: RunSource, *, max_pages: int | None = None) -> SyncReport:
    """Copy what is new in ``source`` into ``index``, and forget what it no longer has.

    Parameters
    ----------
    index : RunIndex
    source : RunSource
    max_pages : int, optional
        Stop the first index after this many pages (the refresh passes always run to the end);
        the next call carries on where this one stopped.

    Returns
    -------
    SyncReport
        Runs added and removed, and whether the index now holds the whole catalog.
    """
    report = SyncReport()
    budget = max_pages
    if not has_synced(index):
        newest = source.page(0, PAGE, descending=True)
        report.added += index.upsert(newest)
        # A short page is the whole catalog.
        done = {"backfill_done": 1} if len(newest) < PAGE else {}
        _set_changed(index, backfill_offset=0, catalog_runs=source.count(), **done)
        budget = None if budget is None else budget - 1
    if not backfill_complete(index) and budget != 0:
        report.added += _backfill(index, source, budget)
    if backfill_complete(index):
        indexed = index.count()
        total = source.count()
        # Equal counts with the last run in the catalog's order indexed: nothing came (a run added
        # and another deleted since the last refresh would show as an unknown last run).
        last = source.at(indexed - 1) if total == indexed and indexed else None
        if total != indexed or (last is not None and not index.has_uid(last)):
            report.added += _newer(index, source)
            total = source.count()
        if total != index.count():
            added, removed = _reconcile(index, source)
            report.added += added
            report.removed += removed
        _set_changed(index, catalog_runs=total)
    _open_runs(index, source)
    report.complete = backfill_complete(index)
    return report


def _set_changed(index: RunIndex, **values: int) -> None:
    """Write metadata only when it changed: a refresh that finds nothing writes nothing."""
    changed = {k: v for k, v in values.items() if index.get_meta(k) != str(v)}
    if changed:
        index.set_meta(**changed)


def _pages(
    fetch: Callable[[int], list[T]], first: int, parallel: int, max_pages: int | None
) -> Iterator[list[T]]:
    """Pages at offsets ``first, first+PAGE, …`` in order, ``parallel`` requests ahead, to a short page."""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="raydata-page") as pool:
        ahead: deque[Future] = deque()
        offset = first
        asked = 0
        try:
            while True:
                while len(ahead) < parallel and (max_pages is None or asked < max_pages):
                    ahead.append(pool.submit(fetch, offset))
                    offset += PAGE
                    asked += 1
                if not ahead:
                    return
                page = ahead.popleft().result()
                yield page
                if len(page) < PAGE:
                    return
        finally:
            for future in ahead:
                future.cancel()


def _backfill(index: RunIndex, source: RunSource, max_pages: int | None) -> int:
    added = 0
    offset = int(index.get_meta("backfill_offset") or 0)
    for page in _pages(lambda o: source.page(o, PAGE), offset, source.parallel, max_pages):
        added += index.upsert(page)
        offset += PAGE
        done = len(page) < PAGE
        index.set_meta(backfill_offset=offset, **({"backfill_done": 1} if done else {}))
    return added


def _newer(index: RunIndex, source: RunSource) -> int:
    newest = index.newest_time()
    # An index of a catalog that was empty when first read takes everything that came since.
    since = 0.0 if newest is None else newest - OVERLAP_S
    added = 0
    for page in _pages(lambda o: source.newer(since, o, PAGE), 0, 1, None):
        added += index.upsert(page)
    return added


def _reconcile(index: RunIndex, source: RunSource) -> tuple[int, int]:
    """Make the index hold exactly the catalog's uids; returns (added, removed)."""
    present: set[str] = set()
    for page in _pages(lambda o: source.uids(o, PAGE), 0, source.parallel, None):
        present.update(page)
    indexed = index.uids()
    removed = index.delete(indexed - present)
    missing = present - indexed
    if len(missing) > MAX_MISSING_FETCHES:
        # Many runs were skipped: reading the whole catalog again is cheaper than one by one.
        index.set_meta(backfill_offset=0, backfill_done=0)
        return _backfill(index, source, None), removed
    found = []
    for uid in missing:
        try:
            found.append(source.fetch(uid))
        except NotFound:
            continue  # deleted since it was listed
    return index.upsert(found), removed


def _open_runs(index: RunIndex, source: RunSource) -> None:
    finished = []
    for uid in index.open_runs(time.time() - OPEN_RUN_GRACE_S, MAX_OPEN_RUNS):
        try:
            docs = source.fetch(uid)
        except NotFound:
            continue
        if docs.stop:
            finished.append(docs)
    if finished:
        index.upsert(finished)
