"""The dask worker plugin that keeps a standby kernel on every worker (see :mod:`.standby`)."""

from __future__ import annotations

from distributed.diagnostics.plugin import WorkerPlugin

from . import standby


class WarmKernels(WorkerPlugin):
    """Each worker keeps a standby kernel for its next job, from its start to its end."""

    name = "raydata-warm-kernels"

    def setup(self, worker) -> None:
        from .runner import start_standby

        pool = standby.StandbyPool(start_standby)
        standby.install(pool)
        pool.fill()

    def teardown(self, worker) -> None:
        standby.install(None)
