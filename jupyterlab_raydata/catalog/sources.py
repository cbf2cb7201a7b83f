"""Reach a catalog of bluesky runs through tiled, whatever its configuration and its shape.

The two shapes behind one interface (:class:`RunSource`):

* SQL-backed (tiled's SQL catalog, written by ``TiledWriter``): streams hold their data keys
  directly, ``run["primary"][key]``, and runs sort on ``start.time``;
* MongoDB-backed (databroker's ``MongoAdapter``, e.g. CHX today): ``run["primary"]["data"][key]``,
  and runs sort on ``time``.

Everything here blocks (HTTP or an in-process tiled app); callers run it in a worker thread.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np

from ..errors import NotFound, Unavailable
from . import frame_files
from .documents import RunDocs
from .frame_files import FrameFiles
from .specs import CatalogSpec, DatabrokerSpec, DemoSpec, ProfileSpec, SQLiteSpec, TiledSpec

# Below this many pixels per event a data key is a scalar or a waveform, not an image.
_MIN_IMAGE_DIMS = 2


@dataclass(frozen=True)
class Shape:
    """Where the two catalog shapes differ."""

    name: str
    sort_key: str
    data_node: str | None

    def data(self, stream: Any) -> Any:
        """The node of a stream that holds its data keys."""
        return stream[self.data_node] if self.data_node else stream


SQL = Shape("sql", sort_key="start.time", data_node=None)
MONGO = Shape("mongo", sort_key="time", data_node="data")


def _plain_docs(item: dict) -> RunDocs:
    md = item["attributes"]["metadata"]
    return RunDocs(dict(md["start"]), dict(md["stop"]) if md.get("stop") else None)


def _is_image(data_key: dict) -> bool:
    return len(data_key.get("shape") or []) >= _MIN_IMAGE_DIMS


class FrameSeries:
    """The frames of one image data key, numbered 0..n-1 across events (and frames within an event).

    Parameters
    ----------
    array : tiled ArrayClient
        Shape ``(events, [frames per event, ...], rows, cols)``.
    lock : threading.Lock
        Held while reading, since tiled clients are not thread-safe.
    """

    def __init__(self, array: Any, lock: threading.RLock):
        self._array = array
        self._lock = lock
        shape = tuple(array.shape)
        self.leading = shape[:-2]
        self.frame_shape = shape[-2:]
        self.dtype = np.dtype(array.dtype)
        self.count = int(np.prod(self.leading)) if self.leading else 1

    def frame(self, index: int) -> np.ndarray:
        """One frame as a 2-D array."""
        if not 0 <= index < self.count:
            raise NotFound("No such frame", f"Frame {index} is out of range: this series has {self.count}.")
        where = np.unravel_index(index, self.leading) if self.leading else ()
        with self._lock:
            return np.asarray(self._array[tuple(int(i) for i in where)])

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start..stop-1`` as ``(n, rows, cols)``, one request per event they span."""
        start, stop = max(0, start), min(stop, self.count)
        if stop <= start:
            return np.empty((0, *self.frame_shape), dtype=self.dtype)
        if len(self.leading) != 2:
            return np.stack([self.frame(i) for i in range(start, stop)])
        per_event = self.leading[1]
        blocks = []
        t = start
        with self._lock:
            while t < stop:
                event, offset = divmod(t, per_event)
                n = min(stop - t, per_event - offset)
                blocks.append(np.asarray(self._array[event, offset : offset + n]))
                t += n
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)

    def sample(self, max_frames: int) -> np.ndarray:
        """Up to ``max_frames`` frames evenly spread over the series, as ``(n, rows, cols)``.

        Frames within one event are read in one strided request; a series of many single-frame events
        is read frame by frame.
        """
        step = max(1, -(-self.count // max_frames))
        if len(self.leading) == 2 and self.leading[0] == 1:
            with self._lock:
                return np.asarray(self._array[0, 0 : self.count : step])
        return np.stack([self.frame(i) for i in range(0, self.count, step)])


class RunSource:
    """One catalog of bluesky runs (a ``CatalogOfBlueskyRuns`` tiled client), either shape.

    Listings ask tiled's search endpoint directly for pages of run metadata only (``fields=metadata``),
    not through client objects: tiled's default answer also counts every run's streams, which made
    a page ten times slower, and wrapping each run in a client object costs more than reading it.

    Parameters
    ----------
    client : tiled client
        The ``CatalogOfBlueskyRuns`` container.
    parallel : int
        How many listing pages may be requested at once: more than one only for a remote server,
        whose work happens in another process.
    """

    def __init__(self, client: Any, *, parallel: int = 1):
        if not hasattr(client, "is_sql"):
            raise Unavailable(
                "Not a catalog of runs",
                "The configured node is not a catalog of bluesky runs (spec CatalogOfBlueskyRuns); "
                "check the catalog's path.",
            )
        self.client = client
        self.shape = SQL if client.is_sql else MONGO
        self.parallel = parallel
        # Client objects are not thread-safe; raw page requests (own httpx calls) need no lock.
        self.lock = threading.RLock()
        # An in-process tiled app is called by one thread at a time, client objects and pages alike.
        self._page_lock = self.lock if parallel == 1 else None

    def _get_page(self, params: dict[str, Any], link: str | None = None) -> dict:
        from tiled.client.utils import MSGPACK_MIME_TYPE, handle_error

        link = link or self.client.item["links"]["search"]
        request = lambda: handle_error(  # noqa: E731
            self.client.context.http_client.get(link, headers={"Accept": MSGPACK_MIME_TYPE}, params=params)
        ).json()
        if self._page_lock is None:
            return request()
        with self._page_lock:
            return request()

    def page(
        self, offset: int, limit: int, *, query: Any = None, descending: bool | None = None
    ) -> list[RunDocs]:
        """Runs ``offset .. offset+limit-1`` of the catalog, optionally of a search and in time order.

        ``descending=None`` keeps the catalog's own order (insertion order for tiled's SQL catalog):
        far cheaper than sorting on start time, which tiled does by reading every run's metadata.
        """
        from tiled.client.container import _queries_to_params

        params: dict[str, Any] = {"page[offset]": offset, "page[limit]": limit, "fields": "metadata"}
        if query is not None:
            params.update(_queries_to_params(query))
        if descending is not None:
            params["sort"] = ("-" if descending else "") + self.shape.sort_key
        return [_plain_docs(item) for item in self._get_page(params)["data"]]

    # Which fields tiled puts in a search answer matters: none named means all of them, "count" makes it
    # count every run's streams too (and the exact total, which is otherwise capped), while "specs"
    # alone gives ids with next to nothing else: the cheapest listing.

    def uids(self, offset: int, limit: int) -> list[str]:
        """Uids of a page of the catalog in its own order (no metadata: the cheapest listing)."""
        params = {"page[offset]": offset, "page[limit]": limit, "fields": "specs"}
        return [item["id"] for item in self._get_page(params)["data"]]

    def at(self, offset: int) -> str | None:
        """The uid at ``offset`` in the catalog's own order, if there is one."""
        return next(iter(self.uids(offset, 1)), None)

    def count(self) -> int:
        """Runs in the catalog now: one count query (``len()`` of the client may answer from a cache)."""
        return int(self._get_page({"fields": "count", "page[limit]": 0})["meta"]["count"])

    def newer(self, since: float, offset: int, limit: int) -> list[RunDocs]:
        """Runs that started at or after ``since``, oldest first; a page of that list."""
        from tiled.queries import Comparison

        return self.page(offset, limit, query=Comparison("ge", "start.time", since), descending=False)

    def run(self, uid: str) -> Any:
        """The client of one run, by its full uid.

        The catalog client's own ``[]`` also takes partial uids and scan ids, and raises
        ``ValueError`` for a short or odd one; a plain key look-up answers "not found" instead.
        """
        from httpx import InvalidURL
        from tiled.client.container import Container

        with self.lock:
            try:
                return Container.__getitem__(self.client, uid)
            except (KeyError, InvalidURL):
                # A uid no URL can carry (control characters) names no run either.
                raise NotFound("Unknown run", f"No run with uid '{uid}' in this catalog.") from None

    def fetch(self, uid: str) -> RunDocs:
        """The start and stop documents of one run."""
        return _plain_docs(self.run(uid).item)

    def streams(self, uid: str, stop: dict | None) -> list[dict]:
        """Each stream's name, event count and data keys (shape, dtype, whether an image)."""
        num_events = (stop or {}).get("num_events") or {}
        by_stream: dict[str, dict] = {}
        for name, md in self._stream_metadata(uid):
            # Mongo streams list their descriptors; a SQL stream's metadata is its descriptor.
            for desc in md.get("descriptors") or [md]:
                by_stream.setdefault(name, {}).update(desc.get("data_keys") or {})
        out = []
        for name, data_keys in sorted(by_stream.items()):
            out.append(
                {
                    "name": name,
                    "events": num_events.get(name),
                    "data_keys": [
                        {
                            "key": key,
                            "shape": [int(s) for s in (dk.get("shape") or []) if s is not None],
                            "dtype": str(dk.get("dtype_numpy") or dk.get("dtype") or ""),
                            "source": str(dk.get("source") or ""),
                            "external": bool(dk.get("external")),
                            "image": _is_image(dk),
                        }
                        for key, dk in sorted(data_keys.items())
                    ],
                }
            )
        return out

    def _stream_metadata(self, uid: str) -> list[tuple[str, dict]]:
        """``(name, metadata)`` of each stream of a run: one search request on a SQL catalog (a remote
        server answers it in one round trip instead of one per stream), client objects otherwise."""
        if self.shape is SQL:
            from tiled.client.utils import ClientError

            link = f"{self.client.item['links']['search']}/{quote(uid, safe='')}"
            try:
                items = self._get_page({"fields": "metadata", "page[limit]": 300}, link)["data"]
            except ClientError as exc:
                if exc.response.status_code == 404:
                    raise NotFound("Unknown run", f"No run with uid '{uid}' in this catalog.") from None
                raise
            return [(item["id"], item["attributes"]["metadata"]) for item in items]
        run = self.run(uid)
        with self.lock:
            return [(name, run[name].metadata) for name in list(run)]

    def _image(self, run: Any, uid: str, stream: str, key: str) -> Any:
        try:
            return self.shape.data(run[stream])[key]
        except KeyError:
            raise NotFound("No such image", f"Run '{uid}' has no '{key}' in its '{stream}' stream.") from None

    def frames(self, uid: str, stream: str, key: str) -> FrameSeries:
        """The image series of ``key`` in ``stream``, read lazily."""
        run = self.run(uid)
        with self.lock:
            return FrameSeries(self._image(run, uid, stream, key), self.lock)

    def frame_files(self, uid: str, stream: str, key: str) -> FrameFiles:
        """Where the frames of ``key`` in ``stream`` are stored, as the run's record says: tiled's data
        sources in a SQL catalog, the resource and datum documents in a MongoDB one.

        Raises
        ------
        NotLocated
            With the reason, when the record does not name HDF5 datasets holding the frames.
        """
        run = self.run(uid)
        with self.lock:
            array = self._image(run, uid, stream, key)
            if self.shape is SQL:
                return frame_files.from_data_sources(array)
            return frame_files.from_documents(run.documents(fill="no"), stream, key, array.shape, array.dtype)


def _probe(uri: str, timeout: float) -> None:
    """Fail fast when a tiled server does not answer: tiled's client retries for up to 45 s."""
    import httpx

    url = uri if "/api/" in uri else uri.rstrip("/") + "/api/v1/"
    try:
        httpx.get(url, timeout=timeout, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise Unavailable("Catalog server unreachable", f"No answer from {uri}: {exc}.") from None


def _serve_in_process(tree: Any) -> Any:
    """A tiled client on an adapter tree, served inside this process (no port)."""
    from tiled.client import from_context
    from tiled.client.context import Context
    from tiled.server.app import build_app

    return from_context(Context.from_app(build_app(tree)))


def _sub(client: Any, path: str) -> Any:
    path = path.strip("/")
    return client[path] if path else client


def _api_key(spec: TiledSpec) -> str | None:
    if spec.api_key is not None:
        return spec.api_key.get_secret_value()
    if spec.api_key_env:
        value = os.environ.get(spec.api_key_env)
        if not value:
            raise Unavailable(
                "Missing API key",
                f"The environment variable {spec.api_key_env} holding the API key is not set.",
            )
        return value
    return None


def open_client(spec: CatalogSpec, *, sqlite_path: Path | None = None) -> Any:
    """Connect to the catalog a spec describes and return the tiled client of its runs container.

    Parameters
    ----------
    spec : CatalogSpec
        A validated catalog configuration.
    sqlite_path : Path, optional
        For a demo spec, the SQLite file that was built for it.
    """
    if isinstance(spec, TiledSpec):
        import httpx
        from tiled.client import from_uri

        api_key = _api_key(spec)  # a configuration problem is reported before any network one
        _probe(spec.uri, spec.timeout)
        client = from_uri(
            spec.uri,
            api_key=api_key,
            prompt_for_reauthentication=False,
            timeout=httpx.Timeout(spec.timeout),
        )
        return _sub(client, spec.path)
    if isinstance(spec, ProfileSpec):
        from tiled.client import from_profile

        return _sub(from_profile(spec.profile), spec.path)
    if isinstance(spec, DatabrokerSpec):
        from databroker.mongo_normalized import MongoAdapter

        tree = MongoAdapter.from_uri(spec.uri, asset_registry_uri=spec.asset_registry_uri)
        return _serve_in_process(tree)
    if isinstance(spec, (SQLiteSpec, DemoSpec)):
        path = Path(spec.path) if isinstance(spec, SQLiteSpec) else sqlite_path
        if path is None or not path.is_file():
            raise Unavailable("Catalog file missing", f"There is no SQLite catalog at {path}.")
        readable = spec.readable_storage if isinstance(spec, SQLiteSpec) else []
        return _sub(_sqlite_client(path, readable or [str(path.parent)]), getattr(spec, "container", "raw"))
    raise TypeError(f"unknown catalog spec {spec!r}")


def _sqlite_client(path: Path, readable_storage: Sequence[str]) -> Any:
    from tiled.catalog import from_uri

    tree = from_uri(f"sqlite:///{path}", readable_storage=list(readable_storage))
    return _serve_in_process(tree)
