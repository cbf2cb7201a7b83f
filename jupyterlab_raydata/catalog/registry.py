"""Named catalogs: open each on first use, keep its search index fresh, answer the API's questions.

Every method here may block (tiled, SQLite); the handlers call them from a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFound, RaydataError, Unavailable
from . import sync as syncing
from .index import RunDocs, RunIndex, index_path
from .models import (
    CatalogInfo,
    ColumnInfo,
    ColumnList,
    DataKeyInfo,
    QueryExample,
    QueryHelp,
    RunDetail,
    RunPage,
    RunRow,
    StreamInfo,
)
from .panels import build_panels
from .params import SORT_HELP, TIME_HELP
from .preview import PreviewCache, PreviewParams, render_png, select_image
from .query import QUERY_EXAMPLES, QUERY_HELP, Term
from .sources import RunSource, open_client
from .specs import CatalogSpec, DemoSpec, InvalidSpec, parse_spec

log = logging.getLogger(__name__)

#: After a failed connection, wait this long before trying the catalog again.
RETRY_AFTER_S = 15.0


def query_help() -> QueryHelp:
    """The search-box help the UI shows in its popup."""
    return QueryHelp(
        query=QUERY_HELP,
        examples=[QueryExample(query=q, meaning=m) for q, m in QUERY_EXAMPLES],
        sort=SORT_HELP,
        dates=TIME_HELP,
    )


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
    """

    def __init__(self, name: str, spec: CatalogSpec | None, data_dir: str | Path, *, client: Any = None):
        if spec is None and client is None:
            raise ValueError("a catalog needs a spec or a client")
        self.name = name
        self.spec = spec
        self.kind = spec.kind if spec is not None else "client"
        self.refresh_seconds = spec.refresh_seconds if spec is not None else 10.0
        self.data_dir = Path(data_dir)
        self._client = client
        self._source: RunSource | None = None
        self._open_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._index: RunIndex | None = None
        self._failure: tuple[float, RaydataError] | None = None
        self._sync_error: str | None = None
        self._last_attempt = 0.0
        self.previews = PreviewCache(self.data_dir / "previews" / name)

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
        return RunSource(open_client(self.spec))

    def index(self) -> RunIndex:
        if self._index is None:
            identity = self.spec.identity() if self.spec is not None else f"client-{id(self._client):x}"
            if isinstance(self.spec, DemoSpec):
                # A rebuilt demo catalog has new uids: tie the index to the build.
                self.source()
                marker = self.demo_dir / "READY"
                identity += "-" + marker.read_text()
            self._index = RunIndex(index_path(self.data_dir, self.name), identity)
        return self._index

    # -- keeping the index fresh --------------------------------------------------------------------

    def sync(self, max_pages: int | None = None) -> syncing.SyncReport:
        """Bring the index up to date now, in the calling thread (waits for a sync already running)."""
        with self._sync_lock:
            return self._sync_locked(max_pages)

    def _sync_locked(self, max_pages: int | None) -> syncing.SyncReport:
        self._last_attempt = time.monotonic()
        try:
            report = syncing.sync(self.index(), self.source(), max_pages=max_pages)
        except RaydataError as exc:
            self._sync_error = exc.detail or exc.error
            raise
        except Exception as exc:
            log.warning("Catalog %s: index refresh failed", self.name, exc_info=True)
            self._sync_error = _reason(exc)
            raise Unavailable(f"Catalog '{self.name}' cannot be read", self._sync_error) from None
        self._sync_error = None
        return report

    def _refresh(self) -> RunIndex:
        """The index, fresh enough to answer: the first page is fetched in this thread, later updates
        in a background thread so no request waits on the catalog."""
        index = self.index()
        if not syncing.has_synced(index):
            with self._sync_lock:
                if not syncing.has_synced(index):
                    self._sync_locked(max_pages=1)
        stale = time.monotonic() - self._last_attempt >= self.refresh_seconds
        needs_more = stale or not syncing.backfill_complete(index)
        if needs_more and self._sync_lock.acquire(blocking=False):
            self._last_attempt = time.monotonic()
            threading.Thread(
                target=self._background_sync, name=f"raydata-sync-{self.name}", daemon=True
            ).start()
        return index

    def _background_sync(self) -> None:
        try:
            self._sync_locked(max_pages=None)
        except Exception:
            pass  # recorded in _sync_error and logged; the next request tries again
        finally:
            self._sync_lock.release()

    # -- answers ------------------------------------------------------------------------------------

    def info(self) -> CatalogInfo:
        """Name, kind and whether the catalog can be reached (connecting if needed; a demo catalog not
        built yet counts as reachable, since the first listing builds it)."""
        reachable, reason = True, ""
        if not (isinstance(self.spec, DemoSpec) and not (self.demo_dir / "READY").exists()):
            try:
                self.source()
            except RaydataError as exc:
                reachable, reason = False, exc.detail or exc.error
        indexed = self._index.count() if self._index is not None else None
        return CatalogInfo(
            name=self.name, kind=self.kind, reachable=reachable, reason=reason, indexed_runs=indexed
        )

    def runs(self, terms: list[Term], *, offset: int = 0, **search: Any) -> RunPage:
        """One page of the run table; ``search`` takes the other options of :meth:`RunIndex.search`
        (``since``, ``until``, ``sort``, ``limit``, ``columns``)."""
        index = self._refresh()
        result = index.search(terms, offset=offset, **search)
        return RunPage(
            runs=[RunRow(**row) for row in result.rows],
            total=result.total,
            offset=offset,
            complete=syncing.backfill_complete(index),
            stale=self._sync_error is not None,
        )

    def columns(self) -> ColumnList:
        """Start-document keys seen so far, with how many runs carry each."""
        index = self._refresh()
        return ColumnList(
            columns=[ColumnInfo(key=k, count=n) for k, n in index.columns()], total_runs=index.count()
        )

    def _docs(self, uid: str):
        index = self._refresh()
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
        images = _image_keys(streams)
        if not images:
            raise NotFound("No image", f"Run '{uid}' has no detector images to preview.")
        if key is None:
            key = images[0]
        elif key not in images:
            raise NotFound(
                "No such image", f"Run '{uid}' has no image key '{key}'; it has {', '.join(images)}."
            )
        params = PreviewParams(key=key, kind=kind, index=index, scale=scale, max_size=max_size)
        name = params.cache_name(self.index().get_meta("source_id") or "", uid)
        cached = self.previews.get(name)
        if cached is not None:
            return cached, True
        stream = next(s.name for s in streams if any(k.key == key for k in s.data_keys))
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


def _reason(exc: BaseException) -> str:
    """A one-line reason for a failure, without a traceback."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class CatalogRegistry:
    """The catalogs named in ``c.Raydata.catalogs``, or the demo catalog when none are.

    Parameters
    ----------
    specs : mapping
        ``{name: configuration dict}``; an invalid entry is kept and reported (the other catalogs
        still work).
    data_dir : path
        Raydata's state folder.
    """

    def __init__(self, specs: Mapping[str, Any], data_dir: str | Path):
        self.data_dir = Path(data_dir)
        self._catalogs: dict[str, Catalog] = {}
        self._invalid: dict[str, InvalidSpec] = {}
        for name, raw in (specs or {"demo": {"kind": "demo"}}).items():
            try:
                self._catalogs[name] = Catalog(name, parse_spec(name, raw), self.data_dir)
            except InvalidSpec as exc:
                log.error("%s", exc)
                self._invalid[name] = exc

    @property
    def names(self) -> list[str]:
        return sorted([*self._catalogs, *self._invalid])

    def add(self, catalog: Catalog) -> None:
        """Register an already-built catalog (see :meth:`Catalog.from_client`)."""
        self._catalogs[catalog.name] = catalog

    def get(self, name: str) -> Catalog:
        """The catalog called ``name``.

        Raises
        ------
        NotFound
            For a name that is not configured.
        InvalidSpec
            For a catalog whose configuration does not validate (HTTP 503).
        """
        if name in self._invalid:
            raise self._invalid[name]
        try:
            return self._catalogs[name]
        except KeyError:
            known = ", ".join(self.names) or "none"
            raise NotFound(
                "Unknown catalog", f"There is no catalog '{name}' (configured: {known})."
            ) from None

    def infos(self) -> list[CatalogInfo]:
        """Every catalog's name, kind and reachability, in name order."""
        out = []
        for name in self.names:
            if name in self._invalid:
                exc = self._invalid[name]
                out.append(CatalogInfo(name=name, kind="invalid", reachable=False, reason=exc.detail))
            else:
                out.append(self._catalogs[name].info())
        return out
