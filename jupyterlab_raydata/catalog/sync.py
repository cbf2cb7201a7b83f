"""Keep a :class:`~.index.RunIndex` in step with its catalog, a page at a time.

Three passes, each cheap once the index is full:

1. **backfill**: the catalog newest first, in pages, until it is exhausted. The first page is enough
   to answer the first request, so a large catalog is usable at once and fills in behind.
   Paging is by offset under a fixed bound; a run added meanwhile only shifts pages by one, which
   re-reads a run (harmless: writes are idempotent) and never skips one.
2. **newer**: runs that started since the newest indexed run (less a safety overlap, for clocks
   and slow writers), oldest first; skipped when the catalog holds as many runs as the index, since
   the time-range search scans every start document (~0.3 s at 100k runs on SQLite) and would
   compete with requests every refresh.
3. **open runs**: recent runs with no stop document yet are asked for again, so a run that was
   listed while it was running gets its exit status once it ends.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from ..errors import NotFound
from .index import RunIndex
from .sources import RunSource

#: Tiled's largest page.
PAGE = 300
#: Look this far behind the newest indexed run for runs that were written late.
OVERLAP_S = 600.0
#: Runs older than this without a stop document are taken to have crashed and are not asked again.
OPEN_RUN_GRACE_S = 3 * 86400.0
MAX_OPEN_RUNS = 50
# An upper bound above any start time, so the first backfill query covers every run.
_FAR_FUTURE = 1.0e12


@dataclass
class SyncReport:
    added: int = 0
    complete: bool = False


def backfill_complete(index: RunIndex) -> bool:
    return index.get_meta("backfill_done") == "1"


def has_synced(index: RunIndex) -> bool:
    """Whether at least one page has been copied, so the index can answer requests."""
    return index.get_meta("backfill_offset") is not None


def sync(index: RunIndex, source: RunSource, *, max_pages: int | None = None) -> SyncReport:
    """Copy what is new in ``source`` into ``index``.

    Parameters
    ----------
    index : RunIndex
    source : RunSource
    max_pages : int, optional
        Stop the backfill after this many pages (the other passes always run to the end); the next
        call carries on where this one stopped.

    Returns
    -------
    SyncReport
        Runs added, and whether the backfill has reached the oldest run.
    """
    report = SyncReport()
    if has_synced(index) and source.count() != index.count():
        report.added += _newer(index, source)
    report.added += _backfill(index, source, max_pages)
    _open_runs(index, source)
    index.set_meta(last_sync=time.time())
    report.complete = backfill_complete(index)
    return report


def _backfill(index: RunIndex, source: RunSource, max_pages: int | None) -> int:
    if backfill_complete(index):
        return 0
    added = 0
    offset = int(index.get_meta("backfill_offset") or 0)
    pages = 0
    while max_pages is None or pages < max_pages:
        page = source.older(_FAR_FUTURE, offset, PAGE)
        added += index.upsert(page)
        offset += len(page)
        pages += 1
        done = len(page) < PAGE
        index.set_meta(backfill_offset=offset, **({"backfill_done": 1} if done else {}))
        if done:
            break
    return added


def _newer(index: RunIndex, source: RunSource) -> int:
    newest = index.newest_time()
    # An index of a catalog that was empty when first read takes everything that came since.
    since = 0.0 if newest is None else newest - OVERLAP_S
    added = 0
    offset = 0
    while True:
        page = source.newer(since, offset, PAGE)
        added += index.upsert(page)
        offset += len(page)
        if len(page) < PAGE:
            return added


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
