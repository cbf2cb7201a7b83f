"""Running one prepared job: its notebook executes in a child process group, which cancel kills.

:func:`run_job` is what a dask worker executes (and what the command line calls directly): it starts
``python -m jupyterlab_raydata.jobs.execute FOLDER`` in a session of its own with the job's
environment, watches for a cancel request while it runs, and settles the job's final status.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..kernel_settings import JOB_ID_ENV, RUN_RECORD_ENV, SETTINGS_ENV
from . import standby
from .folder import JobFolder, JobStatus
from .host_share import share_of_cores
from .processes import kill_tree
from .standby import EXECUTE, KERNEL, Standby

#: How often the runner looks for a cancel request.
POLL_S = 0.2

#: The failure of a job whose first runner was lost and that the scheduler started again.
RESTARTED = (
    "The job's first runner was lost (its dask worker died, say) and the cluster started it again; "
    "it is not run a second time. The partial notebook is kept."
)

#: The folder for the job kernel's Unix sockets, from the runner to the job's process.
SOCKETS_ENV = "RAYDATA_KERNEL_SOCKETS"
# Linux refuses a single environment string over 128 KiB (MAX_ARG_STRLEN).
_RECORD_ENV_MAX = 100_000
#: The kernel's sockets are this name in that folder, with "-<n>" added for each of the five.
SOCKET_NAME = "k"
#: Longest Unix socket path (``sun_path`` holds 108 bytes with its terminating NUL).
_SOCKET_PATH_MAX = 107
#: Where the sockets' folder is made: the temporary folder, else /tmp if that path is too long.
_SOCKET_PARENTS = (None, "/tmp")

_THREAD_VARIABLES = ("RAYDATA_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def kernel_sockets_dir() -> str:
    """A new private folder for the job kernel's Unix sockets.

    Job kernels talk over Unix sockets (ZMQ ``ipc``), not TCP: jupyter_client picks free TCP ports by
    binding and releasing them before the kernel binds them, so kernels that other processes start at
    the same moment (the jobs on a cluster's other workers) can be handed the same port and die with
    "Address already in use". A socket file in a folder of its own cannot collide.
    """
    for parent in _SOCKET_PARENTS:
        path = tempfile.mkdtemp(prefix="raydata-kernel-", dir=parent)
        if len(os.path.join(path, f"{SOCKET_NAME}-99")) <= _SOCKET_PATH_MAX:
            return path
        os.rmdir(path)
    raise RuntimeError(f"No folder for the kernel's sockets: {tempfile.gettempdir()} is too long a path.")


def _base_environment(sockets: str, threads: int) -> dict[str, str]:
    env = dict(os.environ)
    # A backend forced by the worker's environment (e.g. Agg) would keep figures out of the notebook.
    env.pop("MPLBACKEND", None)
    env["PYTHONUNBUFFERED"] = "1"
    env[SOCKETS_ENV] = sockets
    for name in (*_THREAD_VARIABLES, "NUMBA_NUM_THREADS"):
        env[name] = str(threads)
    for name in (SETTINGS_ENV, JOB_ID_ENV, RUN_RECORD_ENV):
        env.pop(name, None)
    return env


def job_environment(folder: JobFolder, threads: int, sockets: str) -> dict[str, str]:
    """The child's environment: the server's settings and the job's run for the kernel, the job's thread
    budget and the folder for its kernel's sockets."""
    spec = folder.spec()
    env = _base_environment(sockets, threads)
    env[SETTINGS_ENV] = spec.settings.to_env()
    env[JOB_ID_ENV] = spec.job_id
    record = spec.run.model_dump_json() if spec.run is not None else ""
    # Past the kernel's limit on one variable the process would not start: the kernel asks the catalog.
    if 0 < len(record) <= _RECORD_ENV_MAX:
        env[RUN_RECORD_ENV] = record
    return env


def start_standby() -> Standby:
    """A job process for the next job, started now (see :mod:`~jupyterlab_raydata.jobs.standby`): its
    kernel may use every core this process may (each job lowers it to its own budget)."""
    sockets = kernel_sockets_dir()
    return Standby(KERNEL, sockets, _base_environment(sockets, len(os.sched_getaffinity(0))))


def _header(folder: JobFolder, threads: int, *, warm: bool) -> str:
    spec = folder.spec()
    lines = [
        f"Job {spec.job_id}: template {spec.template} on run {spec.uid} (scan {spec.scan_id}) "
        f"of catalog {spec.catalog}",
        f"Host {platform.node()}, runner pid {os.getpid()}, python {sys.executable}",
        f"SLURM_JOB_ID={os.environ.get('SLURM_JOB_ID', '')} PBS_JOBID={os.environ.get('PBS_JOBID', '')}",
        f"Thread budget {threads}",
        "Kernel started ahead of the job (standby)" if warm else "Kernel started for the job",
    ]
    return "".join(f"# {line}\n" for line in lines)


def _settle(folder: JobFolder, state: str, failure: str | None = None) -> JobStatus:
    """Record a final state the child could not record itself (cancelled, or it died)."""
    status = folder.status() or JobStatus(job_id=folder.spec().job_id)
    status.state = state
    status.failure = failure
    status.finished = time.time()
    status.cell, status.heading = None, ""
    folder.write_status(status)
    return status


def _exit_reason(code: int) -> str:
    if code < 0:
        return f"The job's process was killed by signal {-code}; the partial notebook is kept."
    return f"The job's process ended with exit code {code} without recording a result."


def run_job(folder_path: str | Path, threads: int | None = None) -> dict:
    """Execute the job prepared in ``folder_path`` and return its final :class:`JobStatus` as a dict.

    Parameters
    ----------
    folder_path : path
        A folder made by :meth:`JobFolder.create`.
    threads : int, optional
        The job's thread budget; by default its share of this host's cores
        (:func:`~jupyterlab_raydata.jobs.host_share.share_of_cores`).
    """
    folder = JobFolder(folder_path)
    if folder.cancel_requested:
        return _settle(folder, "cancelled").model_dump()
    if not folder.claim_runner():
        return _settle(folder, "failed", RESTARTED).model_dump()
    waiting = standby.pool()
    warm = waiting.take(folder.spec().kernel) if waiting is not None else None
    # Made (or the standby's taken) and removed here, in the process that outlives the job's: a killed
    # job leaves no sockets.
    try:
        sockets = warm.sockets if warm is not None else kernel_sockets_dir()
    except (OSError, RuntimeError) as exc:
        return _settle(folder, "failed", f"The job's kernel cannot be started: {exc}").model_dump()
    try:
        with share_of_cores(folder.path.name) as share:
            threads = threads or share
            code = _run_child(folder, threads, job_environment(folder, threads, sockets), warm)
    finally:
        shutil.rmtree(sockets, ignore_errors=True)
        if waiting is not None:
            waiting.fill()  # for the next job, started once this one's work is done
    if code is None:
        return _settle(folder, "cancelled").model_dump()
    status = folder.status()
    if status is None or not status.final:
        return _settle(folder, "failed", _exit_reason(code)).model_dump()
    return status.model_dump()


def _run_child(folder: JobFolder, threads: int, env: dict[str, str], warm: Standby | None) -> int | None:
    """Run the job's process to its end (the standby ``warm``, else a new one); its exit code, or
    ``None`` if it was cancelled (and killed)."""
    with open(folder.log, "a", encoding="utf-8") as log:
        log.write(_header(folder, threads, warm=warm is not None))
        log.flush()
        if warm is not None:
            added = {k: v for k, v in env.items() if os.environ.get(k) != v}
            child = warm.hand_over(folder.path, added, threads)
        else:
            child = subprocess.Popen(
                [*EXECUTE, str(folder.path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=folder.path,
                env=env,
                start_new_session=True,
            )
        while True:
            folder.beat()
            try:
                return child.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                if folder.cancel_requested:
                    kill_tree(child.pid)
                    child.wait()
                    return None
