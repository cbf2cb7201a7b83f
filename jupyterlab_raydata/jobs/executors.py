"""Where jobs run: a dask cluster made from configuration, one dask task per job.

The configuration has the shape NERSC users know from dask-labextension's ``labextension.factory``::

    {"module": "dask.distributed", "class": "LocalCluster", "args": [], "kwargs": {"n_workers": 2}}
    {"module": "dask_jobqueue", "class": "SLURMCluster", "adapt": {"minimum": 0, "maximum": 4}}
    {"address": "tcp://scheduler.example.org:8786"}

A batch-queue cluster (any dask-jobqueue class) takes its queue, account, cores, memory and walltime
from dask's own ``jobqueue.yaml``; ``kwargs`` here override them. Each job is one task keyed
``raydata-job-<id>`` that runs :func:`~jupyterlab_raydata.jobs.runner.run_job` on a worker: a worker's
threads are how many jobs it runs at once, and a job's own threads are its share of its host's cores
(:mod:`~jupyterlab_raydata.jobs.host_share`).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import Unavailable
from .folder import JobFolder
from .runner import run_job

log = logging.getLogger(__name__)

#: A worker runs one job per thread; each job's analysis takes its share of the host's cores.
LOCAL_DEFAULTS = {"n_workers": 2, "threads_per_worker": 1, "processes": True, "dashboard_address": None}


class ClusterConfig(BaseModel):
    """``c.Raydata.cluster``: a cluster class to start, or the address of a running scheduler."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    module: str = Field("dask.distributed", description="Module of the cluster class.")
    class_name: str = Field("LocalCluster", alias="class", description="Cluster class name.")
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    adapt: dict[str, int] | None = Field(
        None, description="Scale adaptively, e.g. {'minimum': 0, 'maximum': 4} (batch queues)."
    )
    address: str | None = Field(None, description="Connect to this running scheduler instead.")

    @classmethod
    def parse(cls, raw: Mapping[str, Any] | None) -> ClusterConfig:
        try:
            return cls.model_validate(dict(raw or {}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
            raise ValueError(f"c.Raydata.cluster is not a valid cluster configuration: {problems}") from None

    @property
    def is_local(self) -> bool:
        return self.address is None and (self.module, self.class_name) == ("dask.distributed", "LocalCluster")

    def describe(self) -> str:
        if self.address:
            return f"dask scheduler at {self.address}"
        text = self.class_name
        if self.adapt:
            text += f" (adaptive {self.adapt.get('minimum', 0)} to {self.adapt.get('maximum', '?')} jobs)"
        return text


class DaskExecutor:
    """Runs job folders as dask tasks on the configured cluster, started on first use.

    Parameters
    ----------
    config : ClusterConfig or mapping
        See the module docstring.
    """

    def __init__(self, config: ClusterConfig | Mapping[str, Any] | None = None):
        self.config = config if isinstance(config, ClusterConfig) else ClusterConfig.parse(config)
        self._lock = threading.Lock()
        self._cluster = None
        self._client = None

    def describe(self) -> str:
        return self.config.describe()

    def _make_cluster(self):
        try:
            cls = getattr(importlib.import_module(self.config.module), self.config.class_name)
        except (ImportError, AttributeError):
            raise ValueError(f"there is no class {self.config.class_name} in {self.config.module}") from None
        kwargs = {**LOCAL_DEFAULTS, **self.config.kwargs} if self.config.is_local else self.config.kwargs
        cluster = cls(*self.config.args, **kwargs)
        if self.config.adapt:
            cluster.adapt(**self.config.adapt)
        return cluster

    def client(self):
        """The dask client, starting the cluster (or connecting to the scheduler) the first time.

        Raises
        ------
        Unavailable
            When the cluster cannot be started or the scheduler cannot be reached, with the reason.
        """
        if self._client is not None:
            return self._client
        with self._lock:
            if self._client is None:
                import dask
                from distributed import Client

                # Not the process's default scheduler: the server's own dask work (tiled reads for
                # previews and masks) stays in the server and does not queue behind analysis jobs.
                try:
                    # A job whose worker dies fails with that reason; it is never silently re-run.
                    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
                        if self.config.address:
                            self._client = Client(self.config.address, timeout="10s", set_as_default=False)
                        else:
                            self._cluster = self._make_cluster()
                            self._client = Client(self._cluster, set_as_default=False)
                except Exception as exc:
                    log.warning("Cannot start the dask cluster", exc_info=True)
                    self.close()
                    raise Unavailable(
                        "The analysis cluster cannot be started", f"{self.describe()}: {exc}"
                    ) from None
                self._keep_kernels_warm()
        return self._client

    def _keep_kernels_warm(self) -> None:
        """Every worker, now and later, keeps a kernel started for its next job (see ``standby``)."""
        from .worker_plugin import WarmKernels

        try:
            self._client.register_plugin(WarmKernels())
        except Exception:
            log.warning("Workers keep no standby kernels: each job starts its own", exc_info=True)

    def submit(self, folder: JobFolder):
        """Start the job prepared in ``folder``; returns its dask future (its result: the final status)."""
        job_id = folder.spec().job_id
        return self.client().submit(run_job, str(folder.path), key=f"raydata-job-{job_id}", pure=False)

    def cancel(self, folder: JobFolder, future=None) -> None:
        """Stop a job: a running one through its folder (the runner kills it), a waiting one in dask."""
        folder.request_cancel()
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Shut the client and any cluster we started."""
        client, cluster = self._client, self._cluster
        self._client = self._cluster = None
        for part in (client, cluster):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    log.warning("Closing %s failed", type(part).__name__, exc_info=True)
