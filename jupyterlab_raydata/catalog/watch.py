"""Keeping catalogs synced with nobody looking: a schedule that notices new and finished runs.

Requests sync a catalog as they need it; this schedule also syncs the catalogs someone wants watched
(automatic analysis on) about twice a second, so that a run's stop document becomes a queued job within
a second, and the catalogs browsed recently every few seconds; it shows its listener the newest runs and
what changed: runs it had not seen, and runs that finished since the last look. It knows nothing of
jobs: the listener decides what to do (the server emits "runs changed" and queues automatic analyses).
A look at a catalog where nothing changed costs two small requests (its run count and its last run,
see :mod:`~jupyterlab_raydata.catalog.sync`), and one more per run still acquiring.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import RaydataError
from .models import RunRow
from .registry import CatalogRegistry
from .search import RunSearch

log = logging.getLogger(__name__)

#: How many of the newest runs each look compares (runs start and finish in order, near the top).
NEWEST = 100
#: A catalog browsed within this many seconds keeps being synced.
BROWSED_S = 300.0


@dataclass
class RunChanges:
    """What one look at a catalog found."""

    catalog: str
    newest: list[RunRow] = field(default_factory=list)
    added: list[RunRow] = field(default_factory=list)
    finished: list[RunRow] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.added or self.finished)


class CatalogWatcher:
    """Sync catalogs on a schedule in a thread of its own.

    Parameters
    ----------
    registry : CatalogRegistry
    interval : float
        Seconds between looks at a catalog browsed recently.
    wanted : callable
        ``wanted() -> set of catalog names`` to watch besides the recently browsed ones.
    wanted_interval : float
        Seconds between looks at those.
    on_look : callable
        ``on_look(RunChanges)``, called from the watcher's thread after every look.
    columns : list of str
        Start-document keys the listener needs on each row (e.g. ``auto_pipeline``).
    """

    def __init__(
        self,
        registry: CatalogRegistry,
        *,
        interval: float,
        wanted: Callable[[], set[str]],
        wanted_interval: float,
        on_look: Callable[[RunChanges], None],
        columns: tuple[str, ...] = (),
    ):
        self.registry = registry
        self.interval = interval
        self.wanted = wanted
        self.wanted_interval = wanted_interval
        self.on_look = on_look
        self.columns = columns
        self._browsed: dict[str, float] = {}
        self._seen: dict[str, dict[str, str | None]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def browsed(self, name: str) -> None:
        """Someone looked at this catalog: keep it synced for :data:`BROWSED_S` seconds."""
        with self._lock:
            self._browsed[name] = time.monotonic()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="raydata-catalog-watch", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        due: dict[str, float] = {}
        while not self._stop.wait(min(self.interval, self.wanted_interval)):
            wanted = self.wanted() & set(self.registry.names)
            for name in sorted(self._browsed_now() | wanted):
                now = time.monotonic()
                if self._stop.is_set():
                    return
                if now < due.get(name, 0.0):
                    continue
                due[name] = now + (self.wanted_interval if name in wanted else self.interval)
                try:
                    self.look(name)
                except RaydataError as exc:
                    log.debug("Catalog %s not watched this time: %s", name, exc)
                except Exception:
                    log.exception("Watching catalog %s failed", name)

    def _browsed_now(self) -> set[str]:
        now = time.monotonic()
        with self._lock:
            recent = {n for n, t in self._browsed.items() if now - t < BROWSED_S}
        return recent & set(self.registry.names)

    def look(self, name: str) -> RunChanges:
        """Sync one catalog now and report what changed since the last look (nothing on the first)."""
        catalog = self.registry.get(name)
        catalog.sync()
        columns = ",".join(self.columns) or None
        page = catalog.search(RunSearch(sort="-time", limit=NEWEST, columns=columns))
        current = {row.uid: row.exit_status for row in page.runs}
        previous = self._seen.get(name)
        self._seen[name] = current
        changes = RunChanges(name, newest=page.runs)
        if previous is not None:
            for row in page.runs:
                if row.uid not in previous:
                    changes.added.append(row)
                    if row.exit_status is not None:
                        changes.finished.append(row)
                elif previous[row.uid] is None and row.exit_status is not None:
                    changes.finished.append(row)
        self.on_look(changes)
        return changes
