"""The job queue's persistent store: jobs, their order and the queue policy, in SQL.

One database holds the queue of every user who points their server at it: SQLite in the server's
``data_dir`` by default, or any SQLAlchemy URL, e.g. one PostgreSQL database that every user's server at
a beamline shares. The order and the limits are common to all of them; each server claims and runs only
its own user's jobs.

Tables: ``jobs`` (one row per job, see :class:`JobRecord`), ``servers`` (which server incarnations are
alive, for fairness and restart safety), ``auto_analysis`` (the per-catalog automatic-analysis switch)
and ``auto_queued`` (the runs that were queued automatically, so that each is queued once only).

Writes that touch the order or the limits are serialised across threads and processes: on PostgreSQL
by one transaction-scoped advisory lock, on SQLite by ``BEGIN IMMEDIATE`` (the database's write lock
from the start of the transaction). A claim therefore sees the running counts as they are and nobody
changes them until it commits; the row-level checks (``FOR UPDATE SKIP LOCKED``, an UPDATE guarded by
``state = 'queued'`` and checked by its row count) keep a job from being claimed twice even so.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Double,
    Index,
    Integer,
    String,
    Text,
    and_,
    create_engine,
    event,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..errors import BadRequest, Conflict, NotFound
from .folder import FINAL_STATES, JobState

#: The failure of a job that was interrupted by a server restart more than once.
INTERRUPTED = "interrupted by server restart"

#: Keys ``JobQuery.sort`` accepts (each may be prefixed with ``-`` for descending order).
SORT_KEYS = ("position", "created", "started", "finished", "id", "scan_id", "state", "owner", "template")

# Any constant works; every process that serialises on it uses the same one. ASCII "raydataQ".
_QUEUE_LOCK = 0x7261796461746151
# How long a SQLite writer waits for another to finish before giving up.
_SQLITE_BUSY_TIMEOUT_S = 30.0


class JobRecord(BaseModel):
    """One job as the store keeps it and the API returns it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    owner: str = Field(description="The Jupyter username the job belongs to and runs as.")
    catalog: str
    uid: str
    scan_id: int | None
    template: str
    parameters: dict[str, Any]
    mask: str | None
    state: JobState
    position: float = Field(description="Queue order, smaller first; meaningful while queued.")
    created: float = Field(description="Epoch seconds.")
    started: float | None
    finished: float | None
    cells_done: int = 0
    cells_total: int = 0
    heading: str = Field("", description="The section of the notebook running now.")
    worker: str | None = Field(None, description="Where it runs (host or dask worker).")
    folder: str | None = Field(None, description="The job folder, an absolute path.")
    failure: str | None = None
    attempts: int = Field(0, description="How many times it was started.")
    rerun_of: int | None = None
    auto: bool = Field(False, description="Queued by automatic analysis of a new run.")
    cancel_requested: bool = False
    server_id: str | None = Field(None, description="The server incarnation that runs it.")


class NewJob(BaseModel):
    """What :meth:`JobStore.add` queues: one template on one run."""

    owner: str
    catalog: str
    uid: str
    scan_id: int | None = None
    template: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    mask: str | None = None
    rerun_of: int | None = None
    auto: bool = False


class JobQuery(BaseModel):
    """Which jobs to list, in which order, which page (also the query of ``GET jobs``)."""

    state: list[JobState] | None = Field(None, description="Any of these states.")
    owner: str | None = None
    catalog: str | None = None
    uid: str | None = None
    template: str | None = None
    sort: str = Field(
        "position",
        max_length=200,
        description=f"Comma-separated keys of {', '.join(SORT_KEYS)}; '-' before a key for descending.",
    )
    offset: int = Field(0, ge=0)
    limit: int = Field(100, ge=1, le=1000)


class JobPage(BaseModel):
    """One page of a job listing."""

    jobs: list[JobRecord]
    total: int = Field(description="How many jobs match, on all pages.")
    offset: int


class _Base(DeclarativeBase):
    pass


class _Job(_Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("jobs_queue", "state", "position"),
        Index("jobs_owner", "owner", "state"),
        Index("jobs_run", "catalog", "uid"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String)
    catalog: Mapped[str] = mapped_column(String)
    uid: Mapped[str] = mapped_column(String)
    scan_id: Mapped[int | None] = mapped_column(BigInteger)
    template: Mapped[str] = mapped_column(String)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON)
    mask: Mapped[str | None] = mapped_column(String)
    state: Mapped[str] = mapped_column(String)
    position: Mapped[float] = mapped_column(Double)
    created: Mapped[float] = mapped_column(Double)
    started: Mapped[float | None] = mapped_column(Double)
    finished: Mapped[float | None] = mapped_column(Double)
    cells_done: Mapped[int] = mapped_column(Integer, default=0)
    cells_total: Mapped[int] = mapped_column(Integer, default=0)
    heading: Mapped[str] = mapped_column(Text, default="")
    worker: Mapped[str | None] = mapped_column(String)
    folder: Mapped[str | None] = mapped_column(Text)
    failure: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    rerun_of: Mapped[int | None] = mapped_column(Integer)
    auto: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    server_id: Mapped[str | None] = mapped_column(String)


class _Server(_Base):
    __tablename__ = "servers"

    id: Mapped[str] = mapped_column(String, primary_key=True)
    owner: Mapped[str] = mapped_column(String, index=True)
    key: Mapped[str] = mapped_column(String)
    last_seen: Mapped[float] = mapped_column(Double)


class _AutoSwitch(_Base):
    __tablename__ = "auto_analysis"

    catalog: Mapped[str] = mapped_column(String, primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_by: Mapped[str] = mapped_column(String)
    changed: Mapped[float] = mapped_column(Double)


class _AutoQueued(_Base):
    __tablename__ = "auto_queued"

    catalog: Mapped[str] = mapped_column(String, primary_key=True)
    uid: Mapped[str] = mapped_column(String, primary_key=True)
    queued: Mapped[float] = mapped_column(Double)


_SORT_COLUMNS = {key: getattr(_Job, key) for key in SORT_KEYS}

# How a transaction takes its locks: "read" none; "write" a write transaction (SQLite's write lock from
# the start, so it never fails half-way to upgrade a read lock); "queue" also the queue lock on PostgreSQL.
_Mode = Literal["read", "write", "queue"]


def _sqlite_connect(dbapi_connection, _record) -> None:
    # The driver must not open transactions by itself: _sqlite_begin says how each one begins.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # NORMAL is durable across a killed process (not a power cut); with WAL it is per connection.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def _sqlite_setup_lock(database: str | None) -> Iterator[None]:
    """Serialise the set-up of one SQLite file among every thread and process on this host.

    Switching a file to WAL takes an exclusive lock that SQLite refuses at once ("database is locked")
    rather than waiting for, when another connection is opening it too; so servers starting together
    take turns through a lock file beside the database. In-memory databases need no lock.
    """
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    with open(f"{database}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _sqlite_begin(connection: Connection) -> None:
    write = connection.get_execution_options().get("raydata_mode", "read") != "read"
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


class JobStore:
    """The jobs of every server on one database, and the policy that orders and limits them.

    Parameters
    ----------
    url : str
        Any SQLAlchemy URL, e.g. ``sqlite:////path/jobs.db`` or
        ``postgresql+psycopg://user@host:5432/db``. Missing tables are created.

    Safe to use from several threads and processes at once (each call is one transaction).
    """

    def __init__(self, url: str):
        parsed = make_url(url)
        self._postgres = parsed.get_backend_name() == "postgresql"
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite:
            self._engine = create_engine(parsed, connect_args={"timeout": _SQLITE_BUSY_TIMEOUT_S})
            event.listen(self._engine, "connect", _sqlite_connect)
            event.listen(self._engine, "begin", _sqlite_begin)
        else:
            self._engine = create_engine(parsed, pool_pre_ping=True)
        # Two servers starting together must not both create the tables.
        with _sqlite_setup_lock(parsed.database if sqlite else None):
            if sqlite:
                # WAL (readers never wait for the writer) is a property of the file: set once, it lasts.
                raw = self._engine.raw_connection()
                try:
                    raw.driver_connection.execute("PRAGMA journal_mode=WAL")
                finally:
                    raw.close()
            with self._engine.connect() as connection:
                connection.execution_options(raydata_mode="queue")
                with connection.begin():
                    if self._postgres:
                        connection.execute(select(func.pg_advisory_xact_lock(_QUEUE_LOCK)))
                    _Base.metadata.create_all(connection)

    @classmethod
    def sqlite(cls, path: str | Path) -> JobStore:
        """A store in the SQLite file ``path`` (created with its folder if missing)."""
        path = Path(path).absolute()
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(f"sqlite:///{path}")

    def close(self) -> None:
        """Close every pooled connection (a later call would open new ones)."""
        self._engine.dispose()

    @contextmanager
    def _transaction(self, mode: _Mode) -> Iterator[Session]:
        with Session(self._engine, expire_on_commit=False) as session, session.begin():
            session.connection(execution_options={"raydata_mode": mode})
            if mode == "queue" and self._postgres:
                session.execute(select(func.pg_advisory_xact_lock(_QUEUE_LOCK)))
            yield session

    # -- jobs ------------------------------------------------------------------------------------------

    def add(self, jobs: list[NewJob]) -> list[JobRecord]:
        """Queue ``jobs`` at the end of the queue, in the given order, in one transaction."""
        with self._transaction("queue") as session:
            rows = self._append(session, jobs)
            return [JobRecord.model_validate(row) for row in rows]

    def get(self, job_id: int) -> JobRecord:
        """The job ``job_id`` (:class:`NotFound` if there is none)."""
        with self._transaction("read") as session:
            return JobRecord.model_validate(self._row(session, job_id))

    def list(self, query: JobQuery) -> JobPage:
        """One page of the jobs that match ``query``, sorted as it says."""
        order = _order_by(query.sort)
        conditions = []
        if query.state is not None:
            conditions.append(_Job.state.in_(query.state))
        for name in ("owner", "catalog", "uid", "template"):
            value = getattr(query, name)
            if value is not None:
                conditions.append(getattr(_Job, name) == value)
        with self._transaction("read") as session:
            total = session.scalar(select(func.count()).select_from(_Job).where(*conditions))
            rows = session.scalars(
                select(_Job).where(*conditions).order_by(*order).offset(query.offset).limit(query.limit)
            )
            return JobPage(
                jobs=[JobRecord.model_validate(row) for row in rows], total=total or 0, offset=query.offset
            )

    def claim(
        self,
        owner: str,
        server_id: str,
        *,
        global_limit: int,
        user_limit: int,
        alive: set[str] | None = None,
    ) -> JobRecord | None:
        """Start ``owner``'s next queued job if the limits and the queue order allow it now.

        The job is ``owner``'s queued job with the smallest position. It starts only if fewer than
        ``global_limit`` jobs run in all, fewer than ``user_limit`` of ``owner``'s, and the queued jobs
        ahead of it that other users could start now would not take every free slot. Another user can
        start a job now if they are below ``user_limit`` and one of their servers is in ``alive`` (every
        user counts as alive when ``alive`` is ``None``); each of them can take at most as many slots as
        their own limit leaves them. So a user at their limit, or with no server running, never holds
        the queue up, and nobody overtakes a job that is first in line for a scarce slot.

        Returns
        -------
        JobRecord or None
            The job, now running on ``server_id`` (``started`` set, ``attempts`` one more), or ``None``
            when nothing may start.
        """
        with self._transaction("queue") as session:
            running = dict(
                session.execute(
                    select(_Job.owner, func.count()).where(_Job.state == "running").group_by(_Job.owner)
                ).all()
            )
            free = global_limit - sum(running.values())
            if free <= 0 or running.get(owner, 0) >= user_limit:
                return None
            job = session.scalars(
                select(_Job)
                .where(_Job.state == "queued", _Job.owner == owner)
                .order_by(_Job.position, _Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if job is None:
                return None
            ahead = session.execute(
                select(_Job.owner, func.count())
                .where(
                    _Job.state == "queued",
                    _Job.owner != owner,
                    or_(
                        _Job.position < job.position,
                        and_(_Job.position == job.position, _Job.id < job.id),
                    ),
                )
                .group_by(_Job.owner)
            ).all()
            live = None
            if alive is not None and ahead:
                live = set(session.scalars(select(_Server.owner).where(_Server.id.in_(alive))))
            contenders = 0
            for other, queued in ahead:
                room = user_limit - running.get(other, 0)
                if room > 0 and (live is None or other in live):
                    contenders += min(queued, room)
            if contenders >= free:
                return None
            # Read the clock only now: a job that finished before this claim saw it finished has a
            # smaller ``finished`` than this ``started``, so the recorded run intervals respect the limits.
            started = time.time()
            claimed = session.execute(
                update(_Job)
                .where(_Job.id == job.id, _Job.state == "queued")
                .values(
                    state="running",
                    started=started,
                    finished=None,
                    attempts=_Job.attempts + 1,
                    server_id=server_id,
                    cancel_requested=False,
                )
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:
                return None
            session.refresh(job)
            return JobRecord.model_validate(job)

    def set_folder(self, job_id: int, folder: str) -> None:
        """Record the job's folder (an absolute path)."""
        self._update(job_id, folder=folder)

    def progress(
        self, job_id: int, *, cells_done: int, cells_total: int, heading: str, worker: str | None = None
    ) -> None:
        """Record a running job's progress (and where it runs, once known); ignored once it has ended."""
        values: dict[str, Any] = {"cells_done": cells_done, "cells_total": cells_total, "heading": heading}
        if worker is not None:
            values["worker"] = worker
        self._update(job_id, only_running=True, **values)

    def finish(self, job_id: int, state: str, failure: str | None = None) -> JobRecord:
        """End a running job in the final ``state`` (completed, failed or cancelled)."""
        if state not in FINAL_STATES:
            raise BadRequest(
                "Bad job state", f"A job ends as one of {', '.join(FINAL_STATES)}, not {state!r}."
            )
        with self._transaction("queue") as session:
            job = self._row(session, job_id, lock=True)
            if job.state != "running":
                raise Conflict("Job not running", f"Job {job_id} is {job.state}; only a running job can end.")
            job.state, job.failure, job.finished = state, failure, time.time()
            return JobRecord.model_validate(job)

    def cancel(self, job_id: int) -> JobRecord:
        """Cancel a queued job at once; ask the dispatcher of its owner to stop a running one."""
        with self._transaction("queue") as session:
            job = self._row(session, job_id, lock=True)
            if job.state == "queued":
                job.state, job.finished = "cancelled", time.time()
            elif job.state == "running":
                job.cancel_requested = True
            else:
                raise Conflict(
                    "Job already finished",
                    f"Job {job_id} is {job.state}; only a queued or running job can be cancelled.",
                )
            return JobRecord.model_validate(job)

    def move(self, job_id: int, to: Literal["top", "bottom", "up", "down"]) -> JobRecord:
        """Move a queued job to the top or bottom of the queue, or one place up or down.

        Up and down swap it with the queued job just before or after it in the common order, whoever
        owns that one; at either end it stays where it is.
        """
        if to not in ("top", "bottom", "up", "down"):
            raise BadRequest("Bad move", f"A job moves to top, bottom, up or down, not {to!r}.")
        with self._transaction("queue") as session:
            job = self._row(session, job_id, lock=True)
            if job.state != "queued":
                raise Conflict("Job not queued", f"Job {job_id} is {job.state}; only a queued job can move.")
            # New positions lie outside every position in use, so positions stay unique even when a
            # running job goes back to its original place (recover).
            if to == "top":
                job.position = session.scalar(select(func.min(_Job.position))) - 1
            elif to == "bottom":
                job.position = session.scalar(select(func.max(_Job.position))) + 1
            else:
                queued = select(_Job).where(_Job.state == "queued", _Job.id != job.id)
                if to == "up":
                    neighbour_query = queued.where(_Job.position < job.position).order_by(
                        _Job.position.desc(), _Job.id.desc()
                    )
                else:
                    neighbour_query = queued.where(_Job.position > job.position).order_by(
                        _Job.position, _Job.id
                    )
                neighbour = session.scalars(neighbour_query.limit(1).with_for_update()).first()
                if neighbour is not None:
                    job.position, neighbour.position = neighbour.position, job.position
            return JobRecord.model_validate(job)

    def rerun(self, job_id: int, owner: str) -> JobRecord:
        """Queue a new job for ``owner`` that runs a finished job again (its folder stays as it is)."""
        with self._transaction("queue") as session:
            old = self._row(session, job_id)
            if old.state not in FINAL_STATES:
                raise Conflict(
                    "Job not finished",
                    f"Job {job_id} is {old.state}; only a completed, failed or cancelled job can be re-run.",
                )
            again = NewJob(
                owner=owner,
                catalog=old.catalog,
                uid=old.uid,
                scan_id=old.scan_id,
                template=old.template,
                parameters=old.parameters,
                mask=old.mask,
                rerun_of=old.id,
            )
            (row,) = self._append(session, [again])
            return JobRecord.model_validate(row)

    # -- servers and restart safety --------------------------------------------------------------------

    def heartbeat(self, server_id: str, owner: str, server_key: str) -> None:
        """Say that server incarnation ``server_id`` of ``owner`` (stable key ``server_key``) is alive."""
        with self._transaction("write") as session:
            server = session.get(_Server, server_id)
            if server is None:
                session.add(_Server(id=server_id, owner=owner, key=server_key, last_seen=time.time()))
            else:
                server.owner, server.key, server.last_seen = owner, server_key, time.time()

    def alive_servers(self, within_s: float) -> set[str]:
        """The ids of the server incarnations seen within the last ``within_s`` seconds."""
        with self._transaction("read") as session:
            return set(session.scalars(select(_Server.id).where(_Server.last_seen >= time.time() - within_s)))

    def recover(
        self, owner: str, server_key: str, server_id: str, *, stale_s: float, max_attempts: int = 2
    ) -> list[JobRecord]:
        """Take back ``owner``'s running jobs whose server is gone, in one transaction.

        A job running on another incarnation than ``server_id`` is taken back if that incarnation had
        the same ``server_key`` (this server before a restart) or has not been seen for ``stale_s``
        seconds. It goes back to the queue at its original position if it was started fewer than
        ``max_attempts`` times, else it fails with :data:`INTERRUPTED`; a job whose cancel had been
        requested is cancelled instead.

        Returns
        -------
        list of JobRecord
            The jobs changed, in queue order.
        """
        with self._transaction("queue") as session:
            changed = []
            now = time.time()
            for job in self._recoverable(session, owner, server_key, server_id, stale_s, lock=True):
                if job.cancel_requested:
                    job.state, job.finished = "cancelled", now
                elif job.attempts < max_attempts:
                    job.state, job.started, job.server_id, job.worker = "queued", None, None, None
                    job.cells_done, job.heading = 0, ""
                else:
                    job.state, job.finished, job.failure = "failed", now, INTERRUPTED
                job.cancel_requested = False
                changed.append(job)
            return [JobRecord.model_validate(job) for job in changed]

    def recoverable(self, owner: str, server_key: str, server_id: str, *, stale_s: float) -> list[JobRecord]:
        """The jobs :meth:`recover` would take back now, without changing them (their runners may have
        to be stopped first)."""
        with self._transaction("read") as session:
            jobs = self._recoverable(session, owner, server_key, server_id, stale_s, lock=False)
            return [JobRecord.model_validate(job) for job in jobs]

    @staticmethod
    def _recoverable(
        session: Session, owner: str, server_key: str, server_id: str, stale_s: float, *, lock: bool
    ) -> list[_Job]:
        query = (
            select(_Job)
            .where(
                _Job.state == "running",
                _Job.owner == owner,
                or_(_Job.server_id.is_(None), _Job.server_id != server_id),
            )
            .order_by(_Job.position, _Job.id)
        )
        jobs = session.scalars(query.with_for_update() if lock else query).all()
        servers = {
            server.id: server
            for server in session.scalars(
                select(_Server).where(_Server.id.in_({job.server_id for job in jobs if job.server_id}))
            )
        }
        now = time.time()
        return [
            job
            for job in jobs
            if (server := servers.get(job.server_id)) is None
            or server.key == server_key
            or server.last_seen < now - stale_s
        ]

    # -- automatic analysis ----------------------------------------------------------------------------

    def auto_enabled(self, catalog: str) -> bool:
        """Whether new runs of ``catalog`` are analysed automatically (off unless switched on)."""
        with self._transaction("read") as session:
            switch = session.get(_AutoSwitch, catalog)
            return bool(switch and switch.enabled)

    def auto_since(self, catalog: str) -> float | None:
        """When automatic analysis of ``catalog`` was switched on (epoch seconds), or ``None`` if off."""
        with self._transaction("read") as session:
            switch = session.get(_AutoSwitch, catalog)
            return switch.changed if switch is not None and switch.enabled else None

    def set_auto(self, catalog: str, enabled: bool, by: str) -> None:
        """Switch automatic analysis of ``catalog`` on or off (``by``: who did)."""
        with self._transaction("queue") as session:
            switch = session.get(_AutoSwitch, catalog)
            if switch is None:
                session.add(_AutoSwitch(catalog=catalog, enabled=enabled, changed_by=by, changed=time.time()))
            elif switch.enabled != enabled:
                switch.enabled, switch.changed_by, switch.changed = enabled, by, time.time()

    def mark_auto_queued(self, catalog: str, uid: str) -> bool:
        """``True`` the first time it is called for a run, ``False`` ever after (in any process)."""
        with self._transaction("queue") as session:
            return self._mark_auto(session, catalog, uid)

    def queue_auto(self, job: NewJob) -> JobRecord | None:
        """Queue an automatic job unless its run was queued automatically before (then ``None``).

        The mark and the job are one transaction: a crash cannot leave a run marked but never queued.
        """
        with self._transaction("queue") as session:
            if not self._mark_auto(session, job.catalog, job.uid):
                return None
            (row,) = self._append(session, [job.model_copy(update={"auto": True})])
            return JobRecord.model_validate(row)

    # -- helpers ---------------------------------------------------------------------------------------

    @staticmethod
    def _row(session: Session, job_id: int, lock: bool = False) -> _Job:
        job = session.get(_Job, job_id, with_for_update=lock)
        if job is None:
            raise NotFound("Unknown job", f"No job with id {job_id}.")
        return job

    @staticmethod
    def _append(session: Session, jobs: list[NewJob]) -> list[_Job]:
        # Called under the queue lock, so no other writer takes the same positions.
        last = session.scalar(select(func.max(_Job.position))) or 0.0
        now = time.time()
        rows = [
            _Job(
                **job.model_dump(),
                state="queued",
                position=last + 1 + i,
                created=now,
                cells_done=0,
                cells_total=0,
                heading="",
                attempts=0,
                cancel_requested=False,
            )
            for i, job in enumerate(jobs)
        ]
        session.add_all(rows)
        session.flush()
        return rows

    @staticmethod
    def _mark_auto(session: Session, catalog: str, uid: str) -> bool:
        # Under the queue lock; the primary key would refuse a second row in any case.
        if session.get(_AutoQueued, (catalog, uid)) is not None:
            return False
        session.add(_AutoQueued(catalog=catalog, uid=uid, queued=time.time()))
        session.flush()
        return True

    def _update(self, job_id: int, only_running: bool = False, **values: Any) -> None:
        with self._transaction("write") as session:
            statement = update(_Job).where(_Job.id == job_id)
            if only_running:
                statement = statement.where(_Job.state == "running")
            done = session.execute(statement.values(**values).execution_options(synchronize_session=False))
            if done.rowcount == 0:
                self._row(session, job_id)


def _order_by(sort: str) -> list[Any]:
    """The ORDER BY of a ``JobQuery.sort`` (empty values last either way, ties broken by id)."""
    order = []
    for part in sort.split(","):
        key = part.strip()
        descending = key.startswith("-")
        column = _SORT_COLUMNS.get(key.removeprefix("-"))
        if column is None:
            raise BadRequest("Bad sort", f"Unknown sort key {key!r}; use one of {', '.join(SORT_KEYS)}.")
        order.append((column.desc() if descending else column.asc()).nulls_last())
    order.append(_Job.id)
    return order
