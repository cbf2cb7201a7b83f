"""One named catalog: its source (opened lazily), its search index kept in step with it, and the
answers the API and the notebook widget give about it.

Every method may block (tiled, SQLite); the handlers call them from worker threads, many at once.
How they share a catalog:

* **Opening** happens once. ``_open_lock`` is held while the source is opened (which may build the
  demo catalog or wait on a server) and guards ``_source`` and the cached failure; ``_index_lock``
  guards ``_index``. Each is written only under its lock, once, and read freely after that.
* **The index** is this catalog's alone: one :class:`~.index.RunIndex` object, which serialises its own
  writes; readers never wait for them (SQLite WAL).
* **Copying from the catalog** (:mod:`.sync`) is done by one thread at a time: whoever holds
  ``_sync_lock``, taken and released by that same thread with ``with``. The first request that finds
  the index empty copies the newest page itself and answers; every later copy runs in a background
  thread that a request starts when the index is incomplete or older than ``refresh_seconds``, so no
  request waits on the catalog after the first.
* **The state the copies record** (whether a background copy runs, when the last one started, its
  error) is read and written only under the ``_state`` condition, which :meth:`Catalog.settle` waits on.
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path
from typing import Any

from ..errors import BadRequest, NotFound, RaydataError, Unavailable
from . import sync as syncing
from .demo import READY
from .documents import RunDocs
from .frame_files import NotLocated
from .index import RunIndex, index_path
from .models import (
    CatalogInfo,
    ColumnInfo,
    ColumnList,
    DataKeyInfo,
    RunDetail,
    RunPage,
    RunRow,
    StreamInfo,
)
from .panels import build_panels
from .params import SortKey
from .preview import PreviewCache, PreviewParams, render_png, select_image
from .query import Term
from .record import RunRecord
from .search import RunSearch
from .sources import RunSource, open_client
from .specs import CatalogSpec, DemoSpec, TiledSpec
from .sql import RUN_COLUMNS

log = logging.getLogger(__name__)

#: After a failed connection, wait this long before trying the catalog again.
RETRY_AFTER_S = 15.0
#: Listing pages requested at once from a remote tiled server.
REMOTE_PARALLEL_PAGES = 4
#: An unknown sort key's error lists at most this many of the catalog's keys.
_KEYS_IN_ERROR = 20


class Catalog:
    """One named catalog: its source (opened lazily), its search index and its preview cache.

    Parameters
    ----------
    name : str
        The catalog's name in the API.
    spec : CatalogSpec or None
        Its validated configuration; ``None`` with ``client``.
    data_dir : path
        Raydata's state folder; the index, the preview cache and the demo catalog live under it.
    client : tiled client, optional
        An already-open catalog client (tests, notebooks) instead of a configuration.
    follow : bool
        Whether requests start background copies that keep the index up to date (the server's
        catalogs). A job kernel's catalogs do not: they read the index the server keeps, and copy from
        the catalog only what an answer needs (the first page of an empty index, a run not indexed yet).
    """

    def __init__(
        self,
        name: str,
        spec: CatalogSpec | None,
        data_dir: str | Path,
        *,
        client: Any = None,
        follow: bool = True,
    ):
        if spec is None and client is None:
            raise ValueError("a catalog needs a spec or a client")
        self.name = name
        self.spec = spec
        self.kind = spec.kind if spec is not None else "client"
        self.refresh_seconds = spec.refresh_seconds if spec is not None else 10.0
        self.data_dir = Path(data_dir)
        self.previews = PreviewCache(self.data_dir / "previews" / name)
        self._client = client
        self.follow = follow
        self._open_lock = threading.Lock()
        self._source: RunSource | None = None
        self._failure: tuple[float, RaydataError] | None = None
        self._index_lock = threading.Lock()
        self._index: RunIndex | None = None
        self._sync_lock = threading.Lock()
        self._state = threading.Condition()
        self._syncing = False
        self._last_attempt = -float("inf")
        self._sync_error: str | None = None

    @classmethod
    def from_client(cls, name: str, client: Any, data_dir: str | Path) -> Catalog:
        """A catalog over an open ``CatalogOfBlueskyRuns`` client, e.g. ``databroker.temp()``."""
        return cls(name, None, data_dir, client=client)

    @property
    def demo_dir(self) -> Path:
        return self.data_dir / "catalogs" / self.name

    # -- opening ------------------------------------------------------------------------------------

    def source(self) -> RunSource:
        """The open catalog, connecting on first use.

        Raises
        ------
        Unavailable
            When it cannot be reached, with the reason; retried after :data:`RETRY_AFTER_S`.
        """
        if self._source is not None:
            return self._source
        with self._open_lock:
            if self._source is not None:
                return self._source
            if self._failure is not None and time.monotonic() - self._failure[0] < RETRY_AFTER_S:
                raise self._failure[1]
            try:
                self._source = self._open()
            except Exception as exc:
                if not isinstance(exc, RaydataError):
                    log.warning("Catalog %s cannot be opened", self.name, exc_info=True)
                detail = (exc.detail or exc.error) if isinstance(exc, RaydataError) else _reason(exc)
                error = Unavailable(f"Catalog '{self.name}' cannot be reached", detail)
                self._failure = (time.monotonic(), error)
                raise error from None
            self._failure = None
            return self._source

    def _open(self) -> RunSource:
        if self._client is not None:
            return RunSource(self._client)
        if isinstance(self.spec, DemoSpec):
            from .demo import ensure_demo_catalog

            path, _build = ensure_demo_catalog(self.demo_dir, self.spec.runs)
            return RunSource(open_client(self.spec, sqlite_path=path))
        parallel = REMOTE_PARALLEL_PAGES if isinstance(self.spec, TiledSpec) else 1
        return RunSource(open_client(self.spec), parallel=parallel)

    def index(self) -> RunIndex:
        """The search index, opened (and created, or emptied for another source) on first use."""
        if self._index is not None:
            return self._index
        identity = self._identity()
        with self._index_lock:
            if self._index is None:
                path = index_path(self.data_dir, self.name)
                log.info("Catalog %s: opening its search index %s", self.name, path)
                self._index = RunIndex(path, identity)
            return self._index

    def _identity(self) -> str:
        if self.spec is None:
            return f"client-{id(self._client):x}"
        identity = self.spec.identity()
        if isinstance(self.spec, DemoSpec):
            # A rebuilt demo catalog has new uids: tie the index to the build.
            self.source()
            identity += "-" + (self.demo_dir / READY).read_text()
        return identity

    # -- keeping the index fresh --------------------------------------------------------------------

    def sync(self, max_pages: int | None = None) -> syncing.SyncReport:
        """Bring the index up to date now, in the calling thread (waits for a copy already running)."""
        with self._sync_lock:
            return self._sync_locked(max_pages)

    def _sync_locked(self, max_pages: int | None) -> syncing.SyncReport:
        with self._state:
            self._last_attempt = time.monotonic()
        try:
            report = syncing.sync(self.index(), self.source(), max_pages=max_pages)
        except RaydataError as exc:
            self._record_sync(exc.detail or exc.error)
            raise
        except Exception as exc:
            log.warning("Catalog %s: index refresh failed", self.name, exc_info=True)
            reason = _reason(exc)
            self._record_sync(reason)
            raise Unavailable(f"Catalog '{self.name}' cannot be read", reason) from None
        self._record_sync(None)
        return report

    def _record_sync(self, error: str | None) -> None:
        with self._state:
            self._sync_error = error

    def _ready_index(self) -> RunIndex:
        """The index, able to answer: on first use the newest page is copied in this thread.

        Callers answer from it, then call :meth:`_start_background_sync`, so a first answer is
        exactly that page and never races a background copy.
        """
        index = self.index()
        if not syncing.has_synced(index):
            with self._sync_lock:
                if not syncing.has_synced(index):
                    self._sync_locked(max_pages=1)
                    log.info("Catalog %s: index started with the newest %d runs", self.name, index.count())
        return index

    def _start_background_sync(self, index: RunIndex) -> None:
        if not self.follow:
            return
        complete = syncing.backfill_complete(index)
        with self._state:
            due = time.monotonic() - self._last_attempt >= self.refresh_seconds
            # An incomplete index keeps copying at once, unless the last copy failed.
            wanted = due or (not complete and self._sync_error is None)
            if self._syncing or not wanted:
                return
            self._syncing = True
            self._last_attempt = time.monotonic()
        threading.Thread(target=self._background_sync, name=f"raydata-sync-{self.name}", daemon=True).start()

    def _background_sync(self) -> None:
        try:
            self.sync()
        except Exception:
            pass  # recorded in _sync_error and logged; a later request tries again
        finally:
            with self._state:
                self._syncing = False
                self._state.notify_all()

    def settle(self, timeout: float | None = None) -> bool:
        """Wait for a background copy in progress to end; False if it still runs after ``timeout`` s."""
        with self._state:
            return self._state.wait_for(lambda: not self._syncing, timeout)

    # -- answers ------------------------------------------------------------------------------------

    def info(self) -> CatalogInfo:
        """Name, kind and whether the catalog can be reached (connecting if needed; a demo catalog not
        built yet counts as reachable, since the first listing builds it)."""
        reachable, reason = True, ""
        if not (isinstance(self.spec, DemoSpec) and not (self.demo_dir / READY).exists()):
            try:
                self.source()
            except RaydataError as exc:
                reachable, reason = False, exc.detail or exc.error
        indexed = self._index.count() if self._index is not None else None
        return CatalogInfo(
            name=self.name, kind=self.kind, reachable=reachable, reason=reason, indexed_runs=indexed
        )

    def search(self, request: RunSearch) -> RunPage:
        """One page of a search as the user wrote it (the REST API's and the widget's entry point)."""
        p = request.parsed()
        return self.runs(
            p.terms,
            since=p.since,
            until=p.until,
            sort=p.sort,
            offset=p.offset,
            limit=p.limit,
            columns=p.columns,
        )

    def runs(
        self, terms: list[Term], *, offset: int = 0, sort: list[SortKey] | None = None, **search: Any
    ) -> RunPage:
        """One page of the run table; ``search`` takes the other options of :meth:`RunIndex.search`
        (``since``, ``until``, ``limit``, ``columns``).

        Raises
        ------
        BadRequest
            For a sort key that no indexed run has.
        """
        index = self._ready_index()
        complete = syncing.backfill_complete(index)
        if sort and complete:
            self._check_sort(index, sort)
        result = index.search(terms, offset=offset, sort=sort, **search)
        page = RunPage(
            runs=[RunRow(**row) for row in result.rows],
            total=result.total,
            offset=offset,
            partial=not complete,
            indexed_runs=index.count(),
            catalog_runs=syncing.catalog_runs(index),
            stale=self._stale(),
        )
        self._start_background_sync(index)
        return page

    def _stale(self) -> bool:
        with self._state:
            return self._sync_error is not None

    def _check_sort(self, index: RunIndex, sort: list[SortKey]) -> None:
        """Refuse a sort key no run has (checked once every run is indexed: before, it may yet come)."""
        for key in sort:
            if key.key in RUN_COLUMNS or index.has_key(key.key):
                continue
            keys = [k for k, _ in index.columns() if k not in RUN_COLUMNS]
            more = f" (and {len(keys) - _KEYS_IN_ERROR} more)" if len(keys) > _KEYS_IN_ERROR else ""
            raise BadRequest(
                "Unknown sort key",
                f"No run in catalog '{self.name}' has the key '{key.key}'. Sort by "
                f"{', '.join(RUN_COLUMNS)} or a start-document key: "
                f"{', '.join(keys[:_KEYS_IN_ERROR])}{more}.",
            )

    def columns(self) -> ColumnList:
        """Start-document keys seen so far, with how many runs carry each."""
        index = self._ready_index()
        answer = ColumnList(
            columns=[ColumnInfo(key=k, count=n) for k, n in index.columns()], total_runs=index.count()
        )
        self._start_background_sync(index)
        return answer

    def _docs(self, uid: str):
        index = self._ready_index()
        self._start_background_sync(index)
        found = index.get(uid)
        if found is None:
            # Perhaps newer than the index: ask the catalog once, and remember it.
            index.upsert([self.source().fetch(uid)])
            found = index.get(uid)
        if found is None:
            raise NotFound("Unknown run", f"No run with uid '{uid}' in catalog '{self.name}'.")
        return index, found

    def _docs_and_streams(self, uid: str) -> tuple[RunDocs, list[StreamInfo]]:
        """A run's documents and stream summary; the summary of a finished run is kept in the index."""
        index, (docs, streams) = self._docs(uid)
        if streams is None:
            streams = self.source().streams(uid, docs.stop)
            if docs.stop:
                index.set_streams(uid, streams)
        infos = [
            StreamInfo(
                name=s["name"], events=s["events"], data_keys=[DataKeyInfo(**k) for k in s["data_keys"]]
            )
            for s in streams
        ]
        return docs, infos

    def run(self, uid: str) -> RunDetail:
        """Panels, full documents and the stream summary of one run."""
        docs, streams = self._docs_and_streams(uid)
        return RunDetail(
            uid=uid,
            panels=build_panels(docs.start),
            start=docs.start,
            stop=docs.stop,
            streams=streams,
            image_keys=_image_keys(streams),
        )

    def record(self, uid: str, image_key: str | None = None) -> RunRecord:
        """What an analysis of one run needs: its documents, its image and where the frames are stored.

        Raises
        ------
        NotFound
            For an unknown run, a run without detector images, or an image key it does not have.
        """
        docs, streams = self._docs_and_streams(uid)
        key, stream = choose_image(streams, image_key, run=f"Run '{uid}' of catalog '{self.name}'")
        files, unknown = None, None
        try:
            files = self.source().frame_files(uid, stream, key)
        except NotLocated as exc:
            unknown = str(exc)
        except Exception as exc:
            # The frames can still be read through tiled: a record that cannot be read must not stop that.
            log.warning("Where the frames of run %s are stored is unknown", uid, exc_info=True)
            unknown = f"the run's record could not be read ({_reason(exc)})"
        return RunRecord(
            catalog=self.name,
            uid=uid,
            start=docs.start,
            stop=docs.stop,
            stream=stream,
            image_key=key,
            files=files,
            files_unknown=unknown,
        )

    def preview(
        self,
        uid: str,
        *,
        key: str | None = None,
        kind: str = "average",
        index: int = 0,
        scale: str = "log",
        max_size: int = 512,
    ) -> tuple[bytes, bool]:
        """A PNG of one detector frame or an average, and whether it came from the cache.

        Raises
        ------
        NotFound
            For an unknown run, a run without detector images, or a frame index out of range.
        """
        _, streams = self._docs_and_streams(uid)
        key, stream = choose_image(streams, key, run=f"Run '{uid}'", purpose=" to preview")
        params = PreviewParams(key=key, kind=kind, index=index, scale=scale, max_size=max_size)
        name = params.cache_name(self.index().get_meta("source_id") or "", uid)
        cached = self.previews.get(name)
        if cached is not None:
            return cached, True
        series = self.source().frames(uid, stream, key)
        png = render_png(select_image(series, params), scale=scale, max_size=max_size)
        self.previews.put(name, png)
        return png, False


def _image_keys(streams: list[StreamInfo]) -> list[str]:
    """Image data keys, the primary stream's first and names ending in ``_image`` before others."""
    found = [
        (s.name != "primary", not k.key.endswith("_image"), k.key)
        for s in streams
        for k in s.data_keys
        if k.image
    ]
    return [key for *_, key in sorted(found)]


def choose_image(
    streams: list[StreamInfo], key: str | None = None, *, run: str, purpose: str = ""
) -> tuple[str, str]:
    """Which detector image of a run is "the image": ``key`` if given, else the run's first image
    key (primary stream first, names ending in ``_image`` before others); with the stream holding it.

    Parameters
    ----------
    streams : list of StreamInfo
        The run's streams (:attr:`RunDetail.streams`).
    key : str, optional
        The image data key asked for; empty or ``None`` for the run's first.
    run : str
        How errors name the run, e.g. ``"Run 'abc'"``.
    purpose : str
        Ends the no-image message, e.g. ``" to preview"``.

    Returns
    -------
    (key, stream) : (str, str)

    Raises
    ------
    NotFound
        For a run without detector images, or a key that is not one of them.
    """
    keys = _image_keys(streams)
    if not keys:
        raise NotFound("No image", f"{run} has no detector images{purpose}.")
    key = key or keys[0]
    if key not in keys:
        raise NotFound("No such image", f"{run} has no image key '{key}'; it has {', '.join(keys)}.")
    return key, next(s.name for s in streams if any(k.key == key for k in s.data_keys))


def _reason(exc: BaseException) -> str:
    """A one-line reason for a failure, without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
