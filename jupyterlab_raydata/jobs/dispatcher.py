"""The dispatcher: starts this server's owner's queued jobs, watches them run, records how they end.

One dispatcher runs per server, in two threads of its own. The dispatching thread, every tick,

1. says in the store that this server is alive (other servers' fairness and recovery rely on it);
2. recovers jobs a previous run of this server left ``running`` (a restart, SIGTERM or kill -9): their
   runners are asked to stop and, once silent, the store re-queues them once, then fails them;
3. passes cancel requests from the store to the executor and settles finished futures into final states;
4. claims queued jobs of its owner while the store's limits allow, and submits them to the executor.

The following thread reads the running jobs' folders and sends progress and new figures out as events,
then into the store. It is a thread of its own because steps 2 and 4 can take seconds (waiting for an
old runner to go silent, checking a run in a remote catalog, starting a cluster), and a browser should
see a figure well within a second of the runner writing it.

Only the store decides what may start (atomically, so several servers on one database never run a job
twice); a server only ever runs its own user's jobs, with that user's files and credentials.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import CancelledError
from dataclasses import dataclass, field

from ..errors import RaydataError
from . import events
from .folder import JobFolder, JobSpec, JobStatus
from .processes import kill_tree
from .store import JobQuery, JobRecord, JobStore

log = logging.getLogger(__name__)


@dataclass
class _Running:
    record: JobRecord
    folder: JobFolder
    future: object
    status_mtime: int = 0
    figures: int = 0
    cancel_sent: bool = False
    #: Set once its final state is being recorded: no progress is reported after that.
    settled: bool = False
    #: Held while the job's folder is read and reported, so the two threads never report it twice.
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class Limits:
    """How many jobs may run at once: in total (every server on the store) and per user."""

    total: int = 2
    per_user: int = 2


@dataclass
class DispatcherTimes:
    """Seconds between the dispatcher's chores; tests shorten them."""

    tick: float = 0.25
    #: How often the running jobs' folders are read for progress and figures.
    follow: float = 0.1
    heartbeat: float = 2.0
    #: A server not seen for this long is gone: its user's queued jobs no longer hold others back, and
    #: its running jobs may be recovered by another server of the same user.
    stale: float = 15.0
    #: A runner silent for this long has stopped.
    runner_silent: float = 3.0
    recover_every: float = 5.0


class Dispatcher:
    """Runs one owner's jobs from a :class:`JobStore` on an executor.

    Parameters
    ----------
    store : JobStore
    executor : DaskExecutor
        Anything with ``submit(folder) -> future`` and ``cancel(folder, future)``.
    owner : str
        The user this server belongs to; only their jobs are started here.
    server_key : str
        Stable across restarts of this server (not of other servers): jobs a previous run of this
        server left running are recovered at once rather than after :attr:`DispatcherTimes.stale`.
    prepare : callable
        ``prepare(record) -> JobSpec``: what to run for a claimed job (raises ``RaydataError`` when it
        can no longer run, e.g. its template broke since it was queued).
    emit : callable
        ``emit(schema_id, data)``, see :mod:`.events`.
    """

    def __init__(
        self,
        store: JobStore,
        executor,
        *,
        owner: str,
        server_key: str,
        prepare: Callable[[JobRecord], JobSpec],
        emit: events.Emit,
        limits: Limits | None = None,
        times: DispatcherTimes | None = None,
    ):
        self.store = store
        self.executor = executor
        self.owner = owner
        self.server_key = server_key
        self.server_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.prepare = prepare
        self.emit = emit
        self.limits = limits or Limits()
        self.times = times or DispatcherTimes()
        # Replaced, never changed in place, and by the dispatching thread only: the following thread
        # reads whichever whole dict it finds.
        self._running: dict[int, _Running] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_beat = self._last_recover = -1e9

    # -- life cycle ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._threads = [
            threading.Thread(target=self._dispatch_loop, name="raydata-dispatcher", daemon=True),
            threading.Thread(target=self._follow_loop, name="raydata-follower", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def wake(self) -> None:
        """Look at the queue now (after a submission, a cancel or a move) rather than at the next tick."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop dispatching; running jobs are asked to stop and will be recovered by the next start."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        for job in list(self._running.values()):
            job.folder.request_cancel()

    @property
    def running_ids(self) -> list[int]:
        return sorted(self._running)

    def _dispatch_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("Dispatcher step failed; trying again")
            self._wake.wait(self.times.tick)
            self._wake.clear()

    def _follow_loop(self) -> None:
        while not self._stop.is_set():
            for job in list(self._running.values()):
                try:
                    self._report(job)
                except Exception:
                    log.exception("Could not report the progress of job %s; trying again", job.record.id)
            self._stop.wait(self.times.follow)

    def step(self) -> None:
        """One round of the dispatching thread's chores (see the module docstring)."""
        now = time.monotonic()
        if now - self._last_beat >= self.times.heartbeat:
            self.store.heartbeat(self.server_id, self.owner, self.server_key)
            self._last_beat = now
        if now - self._last_recover >= self.times.recover_every:
            self._recover()
            self._last_recover = now
        self._check_running()
        if not self._stop.is_set():
            self._claim()

    # -- recovery -----------------------------------------------------------------------------------

    def _recover(self) -> None:
        orphans = self.store.recoverable(
            self.owner, self.server_key, self.server_id, stale_s=self.times.stale
        )
        if not orphans:
            return
        # Stop what may still run of them before they can be queued again: nothing runs twice at once.
        for record in orphans:
            if record.folder:
                folder = JobFolder(record.folder)
                folder.request_cancel()
                _kill_local_leftover(folder)
        deadline = time.monotonic() + 4 * self.times.runner_silent
        while time.monotonic() < deadline and any(
            r.folder and JobFolder(r.folder).runner_alive(self.times.runner_silent) for r in orphans
        ):
            time.sleep(0.2)
        for record in self.store.recover(
            self.owner, self.server_key, self.server_id, stale_s=self.times.stale
        ):
            log.warning("Job %s was interrupted by a server restart: now %s", record.id, record.state)
            self.emit(
                events.JOB, events.job_event(record, "queued" if record.state == "queued" else "finished")
            )

    # -- claiming and starting ----------------------------------------------------------------------

    def _claim(self) -> None:
        alive = self.store.alive_servers(self.times.stale)
        alive.add(self.server_id)
        while not self._stop.is_set():
            record = self.store.claim(
                self.owner,
                self.server_id,
                global_limit=self.limits.total,
                user_limit=self.limits.per_user,
                alive=alive,
            )
            if record is None:
                return
            self._start(record)

    def _start(self, record: JobRecord) -> None:
        try:
            spec = self.prepare(record)
            folder = JobFolder(spec.folder)
            folder.create(spec)
            self.store.set_folder(record.id, spec.folder)
            future = self.executor.submit(folder)
        except RaydataError as exc:
            self._finish(record.id, "failed", f"{exc.error}: {exc.detail}" if exc.detail else exc.error)
            return
        except Exception as exc:
            log.exception("Job %s could not be started", record.id)
            self._finish(record.id, "failed", f"The job could not be started: {type(exc).__name__}: {exc}")
            return
        record = self.store.get(record.id)
        self._running = {**self._running, record.id: _Running(record, folder, future)}
        self.emit(events.JOB, events.job_event(record, "started"))

    # -- following running jobs ---------------------------------------------------------------------

    def _check_running(self) -> None:
        if not self._running:
            return
        flags = {
            r.id: r for r in self.store.list(JobQuery(state=["running"], owner=self.owner, limit=1000)).jobs
        }
        for job_id, job in list(self._running.items()):
            record = flags.get(job_id)
            if record is not None and record.cancel_requested and not job.cancel_sent:
                self.executor.cancel(job.folder, job.future)
                job.cancel_sent = True
            if job.future.done():
                self._settle(job)

    def _report(self, job: _Running, *, last: bool = False) -> None:
        """Progress and new figures from the job's folder out as events, then into the store.

        ``last`` marks the report made as the job settles; none follows it.
        """
        with job.lock:
            if job.settled:
                return
            job.settled = last
            self._report_locked(job)

    def _report_locked(self, job: _Running) -> None:
        try:
            mtime = (job.folder.path / JobFolder.STATUS).stat().st_mtime_ns
        except FileNotFoundError:
            return
        if mtime == job.status_mtime:
            return
        job.status_mtime = mtime
        status = job.folder.status()
        if status is None:
            return
        for figure in status.figures[job.figures :]:
            self.emit(
                events.FIGURE,
                {
                    "id": job.record.id,
                    "owner": job.record.owner,
                    "file": figure.file,
                    "cell": figure.cell,
                    "heading": figure.heading,
                },
            )
        job.figures = len(status.figures)
        record = job.record.model_copy(
            update={
                "cells_done": status.cells_done,
                "cells_total": status.cells_total,
                "heading": status.heading,
            }
        )
        self.emit(events.JOB, {**events.job_event(record, "progress"), "written": status.updated})
        self.store.progress(
            job.record.id,
            cells_done=status.cells_done,
            cells_total=status.cells_total,
            heading=status.heading,
            worker=_where(status),
        )

    def _settle(self, job: _Running) -> None:
        self._report(job, last=True)
        try:
            result = JobStatus(**job.future.result(timeout=60))
            state, failure = result.state, result.failure
        except CancelledError:
            state, failure = "cancelled", None
        except Exception as exc:
            state, failure = "failed", _executor_failure(exc)
        if state not in ("completed", "failed", "cancelled"):
            state, failure = "failed", f"The runner ended the job in state {state!r}."
        self._running = {k: v for k, v in self._running.items() if k != job.record.id}
        self._finish(job.record.id, state, failure)

    def _finish(self, job_id: int, state: str, failure: str | None) -> None:
        try:
            record = self.store.finish(job_id, state, failure)
        except RaydataError:
            log.warning("Job %s was no longer running when it ended as %s", job_id, state)
            return
        self.emit(events.JOB, events.job_event(record, "finished"))


def _where(status: JobStatus) -> str:
    where = status.host or "?"
    if status.slurm_job_id:
        where += f" (Slurm job {status.slurm_job_id})"
    return where


def _executor_failure(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "KilledWorker":
        return "The dask worker running this job died; the partial notebook is kept."
    return f"The analysis cluster lost the job: {name}: {exc}"


def _kill_local_leftover(folder: JobFolder) -> None:
    """Kill a job process a previous run of this server left on this host (kill -9 leaves them)."""
    status = folder.status()
    if status is None or status.pid is None or status.host != socket.gethostname():
        return
    import psutil

    try:
        cmdline = psutil.Process(status.pid).cmdline()
    except psutil.Error:
        return
    if "jupyterlab_raydata.jobs.execute" in cmdline and str(folder.path) in cmdline:
        kill_tree(status.pid)
