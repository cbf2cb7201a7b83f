"""Kernels started ahead of demand: each dask worker keeps one job process waiting with its kernel up.

A job's fixed cost is mostly starting things: the job's process (papermill), its kernel, the analysis
stack's imports and the compiled kernels' loading, several seconds before its first cell. A worker keeps
one :class:`Standby`: the job process started with ``execute --standby``, which starts its kernel, imports
the analysis stack in it (:data:`~jupyterlab_raydata.jobs.execute.WARM_UP`) and waits for the one job it
will run. The next job on the worker takes it; the job's own settings (its environment, folder and
thread budget) reach the kernel before its first cell; when the job ends, a new standby starts for the
next one. A kernel serves one job and ends with it: jobs stay isolated. A standby costs about 460 MB per
worker (the process 120 MB, its kernel with the analysis imported 340 MB).

Workers get their pool from :class:`~jupyterlab_raydata.jobs.worker_plugin.WarmKernels`, a dask worker
plugin the executor registers; a runner outside a worker (the command line, tests) starts its kernel when
its job comes.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from .processes import kill_tree

log = logging.getLogger(__name__)

#: The kernel standbys start (a job whose template names another starts its own).
KERNEL = "python3"
#: A job's process: ``EXECUTE + [job folder]``, or ``EXECUTE + ["--standby", kernel]``.
EXECUTE = [sys.executable, "-m", "jupyterlab_raydata.jobs.execute"]


class Standby:
    """One job process started ahead of its job, its kernel warming up or waiting.

    Parameters
    ----------
    kernel : str
        The kernel to start.
    sockets : path
        The private folder for the kernel's sockets (the runner removes it after the job).
    env : dict
        The process's environment (see :func:`~jupyterlab_raydata.jobs.runner.standby_environment`).
    """

    def __init__(self, kernel: str, sockets: str, env: dict[str, str]):
        self.kernel = kernel
        self.sockets = sockets
        # Its output until it has a job, in a file with no name: nothing is left behind, whoever ends it.
        self._output = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [*EXECUTE, "--standby", kernel],
            stdin=subprocess.PIPE,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            text=True,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def hand_over(self, folder: Path, env: dict[str, str], threads: int) -> subprocess.Popen:
        """Give the standby its job (its folder, the environment it adds, its thread budget); it writes
        to the job's log from now on. Returns its process."""
        self.process.stdin.write(json.dumps({"folder": str(folder), "env": env, "threads": threads}) + "\n")
        self.process.stdin.close()
        self._output.close()
        return self.process

    def close(self) -> None:
        """End a standby that no job took: its kernel, its sockets, its log (said in the worker's log
        when it died by itself)."""
        if self.alive():
            try:
                self.process.stdin.close()  # no job: it shuts its kernel down and ends
                self.process.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                kill_tree(self.process.pid)
                self.process.wait()
        elif self.process.returncode:
            self._output.seek(0)
            output = self._output.read()[-2000:].decode(errors="replace")
            log.warning("A standby kernel ended by itself (exit %s):\n%s", self.process.returncode, output)
        shutil.rmtree(self.sockets, ignore_errors=True)
        self._output.close()


class StandbyPool:
    """The one standby of a worker process: taken by the next job, started again when a job ends."""

    def __init__(self, start):
        self._start = start
        self._lock = threading.Lock()
        self._standby: Standby | None = None
        self._closed = False

    def fill(self) -> None:
        """Start a standby unless one is waiting (a dead one is replaced)."""
        with self._lock:
            if self._closed or (self._standby is not None and self._standby.alive()):
                return
            dead, self._standby = self._standby, None
            if dead is not None:
                dead.close()
            try:
                self._standby = self._start()
            except (OSError, RuntimeError):
                log.warning("No standby kernel: the next job starts its own", exc_info=True)

    def take(self, kernel: str) -> Standby | None:
        """The waiting standby for a job of ``kernel``, if one is alive; it is no longer the pool's."""
        with self._lock:
            standby = self._standby
            if standby is None or standby.kernel != kernel:
                return None
            self._standby = None
        if standby.alive():
            return standby
        standby.close()
        return None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            standby, self._standby = self._standby, None
        if standby is not None:
            standby.close()


_pool: StandbyPool | None = None


def pool() -> StandbyPool | None:
    """This process's pool, if it keeps standbys (a dask worker with the warm-kernels plugin)."""
    return _pool


def install(new: StandbyPool | None) -> None:
    global _pool
    old, _pool = _pool, new
    if old is not None:
        old.close()
