"""The services one server runs: built once when the extension loads, stopped when the server stops."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from .catalog.watch import CatalogWatcher, RunChanges
from .jobs import events
from .jobs.dispatcher import Dispatcher, Limits
from .jobs.executors import DaskExecutor
from .jobs.queue import JobQueue
from .jobs.store import JobStore
from .jobs.templates import TemplateRegistry

log = logging.getLogger(__name__)


@dataclass
class Services:
    store: JobStore
    executor: DaskExecutor
    dispatcher: Dispatcher
    queue: JobQueue
    watcher: CatalogWatcher

    @classmethod
    def start(cls, raydata, serverapp) -> Services:
        """Build every service from the ``Raydata`` settings and start the dispatcher.

        The dask cluster itself starts with the first job, so a server nobody analyses with starts none.
        """
        events.register(serverapp.event_logger)
        emit = events.Emitter(serverapp.event_logger, serverapp.io_loop)
        root = Path(serverapp.root_dir).expanduser().resolve()
        data_dir = Path(raydata.data_dir).expanduser()
        data_dir.mkdir(parents=True, exist_ok=True)
        store = (
            JobStore(raydata.job_store_url)
            if raydata.job_store_url
            else JobStore.sqlite(data_dir / "jobs.db")
        )
        executor = DaskExecutor(raydata.cluster)
        queue = JobQueue(
            store,
            TemplateRegistry([Path(p) for p in raydata.template_paths]),
            raydata.registry,
            raydata.kernel_settings(root),
            results_dir=(root / raydata.results_dir).resolve(),
            root_dir=root,
            owner=raydata.owner,
            admins=set(raydata.admin_users),
            auto_pipelines=dict(raydata.auto_pipelines),
            emit=emit,
        )
        dispatcher = Dispatcher(
            store,
            executor,
            owner=raydata.owner,
            server_key=raydata.server_key,
            prepare=queue.prepare,
            emit=emit,
            limits=Limits(total=raydata.max_running_jobs, per_user=raydata.max_running_jobs_per_user),
        )
        queue.wake = dispatcher.wake

        def on_look(changes: RunChanges) -> None:
            if changes.changed:
                emit(
                    events.RUNS_CHANGED,
                    {
                        "catalog": changes.catalog,
                        "added": len(changes.added),
                        "finished": len(changes.finished),
                    },
                )
            queue.analyse_new_runs(changes.catalog, changes.newest)

        registry = raydata.registry
        watcher = CatalogWatcher(
            registry,
            interval=raydata.sync_interval,
            wanted=lambda: {name for name in registry.names if store.auto_since(name) is not None},
            wanted_interval=raydata.auto_sync_interval,
            on_look=on_look,
            columns=("auto_pipeline",),
        )
        dispatcher.start()
        watcher.start()
        return cls(store, executor, dispatcher, queue, watcher)

    def stop(self) -> None:
        """Stop watching catalogs and dispatching, then the cluster (which ends the jobs still running:
        the next start of this server re-queues them), then the store."""
        self.watcher.stop()
        self.dispatcher.stop()
        self.executor.close()
        self.store.close()
