"""The job queue as users see it: submit, list, cancel, move, re-run, a job's files, automatic analysis.

Who may do what: anyone with access to the server may submit and list; only a job's owner or a user
in ``c.Raydata.admin_users`` may cancel, move or re-run it or read its files (others get 403). What runs
is decided by the :class:`~.dispatcher.Dispatcher`; this module only changes the store and wakes it.
"""

from __future__ import annotations

import fnmatch
import logging
import mimetypes
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from ..catalog.models import RunRow
from ..catalog.registry import CatalogRegistry
from ..errors import BadRequest, Forbidden, NotFound
from ..kernel_settings import KernelSettings
from . import events
from .folder import JobFolder, JobSpec, job_folder
from .store import JobPage, JobQuery, JobRecord, JobStore, NewJob
from .submission import Submission, check_submission, job_spec
from .templates import TemplateInfo, TemplateRegistry

log = logging.getLogger(__name__)

MAX_RUNS_PER_SUBMISSION = 500


class SubmitRequest(BaseModel):
    """Analyse runs: one job per run, all checked before any is queued."""

    template: str = Field(min_length=1, max_length=200, description="The template's name (GET templates).")
    catalog: str = Field(min_length=1, max_length=200, description="The catalog the runs are in.")
    uids: list[str] = Field(
        min_length=1, max_length=MAX_RUNS_PER_SUBMISSION, description="The runs' uids, one job each."
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="The template's own parameters; omitted ones take their default."
    )
    mask: str | None = Field(None, max_length=128, description="A saved mask's name, or none.")


class JobList(BaseModel):
    jobs: list[JobRecord]


class MoveRequest(BaseModel):
    to: Literal["top", "bottom", "up", "down"] = Field(description="Where in the queue a queued job goes.")


class JobFile(BaseModel):
    path: str = Field(description="Relative to the job folder, with '/' separators.")
    size: int
    modified: float


class JobFiles(BaseModel):
    id: int
    folder: str | None = Field(description="The job folder, relative to the server's root when inside it.")
    files: list[JobFile]


class TemplateList(BaseModel):
    templates: list[TemplateInfo]


class AutoAnalysis(BaseModel):
    """A catalog's automatic analysis: whether it is on, and which template each pipeline runs."""

    catalog: str
    enabled: bool
    pipelines: dict[str, str] = Field(
        description="auto_pipeline value (or shell pattern) of a run's start document -> template name."
    )


class AutoAnalysisUpdate(BaseModel):
    enabled: bool = Field(strict=True, description="true to analyse new runs automatically, false to stop.")


def pipeline_map(templates: TemplateRegistry, configured: dict[str, str]) -> dict[str, str]:
    """Which template runs for which ``auto_pipeline``: the configuration first, then what usable
    templates declare they serve."""
    mapping = dict(configured)
    for info in templates.list():
        if info.error is None:
            for pattern in info.auto_pipelines:
                mapping.setdefault(pattern, info.name)
    return mapping


class JobQueue:
    """The user-facing operations on the job store.

    Parameters
    ----------
    store, templates, catalogs, settings
        The services the server built.
    results_dir : Path
        Absolute folder where job folders are made.
    root_dir : Path
        The server's root, to show job folders relative to it.
    owner : str
        The server's user, who owns automatically queued jobs.
    admins : set of str
        Users who may act on anyone's jobs.
    auto_pipelines : dict
        ``c.Raydata.auto_pipelines``.
    emit : callable
        For job events.
    wake : callable
        Tells the dispatcher to look at the queue now.
    """

    def __init__(
        self,
        store: JobStore,
        templates: TemplateRegistry,
        catalogs: CatalogRegistry,
        settings: KernelSettings,
        *,
        results_dir: Path,
        root_dir: Path,
        owner: str,
        admins: set[str],
        auto_pipelines: dict[str, str],
        emit: events.Emit,
        wake: Callable[[], None] = lambda: None,
    ):
        self.store = store
        self.templates = templates
        self.catalogs = catalogs
        self.settings = settings
        self.results_dir = results_dir
        self.root_dir = root_dir
        self.owner = owner
        self.admins = admins
        self.auto_pipelines = auto_pipelines
        self.emit = emit
        self.wake = wake
        # Runs this server has already considered for automatic analysis (the store has the last word).
        self._auto_seen: set[str] = set()

    # -- submitting ---------------------------------------------------------------------------------

    def submit(self, owner: str, request: SubmitRequest, *, auto: bool = False) -> list[JobRecord]:
        """Queue one job per run, after checking everything (nothing is queued if anything is wrong)."""
        submission = check_submission(
            self.templates,
            self.catalogs,
            self.settings,
            template=request.template,
            catalog=request.catalog,
            uids=request.uids,
            parameters=request.parameters,
            mask=request.mask,
        )
        records = self.store.add(
            [
                NewJob(
                    owner=owner,
                    catalog=submission.catalog,
                    uid=run.uid,
                    scan_id=run.scan_id,
                    template=submission.template.name,
                    parameters=submission.parameters,
                    mask=submission.mask,
                    auto=auto,
                )
                for run in submission.runs
            ]
        )
        for record in records:
            self.emit(events.JOB, events.job_event(record, "queued"))
        self.wake()
        return records

    def _recheck(self, record: JobRecord) -> Submission:
        """A queued or finished job's submission, checked again as if it were new."""
        return check_submission(
            self.templates,
            self.catalogs,
            self.settings,
            template=record.template,
            catalog=record.catalog,
            uids=[record.uid],
            parameters=record.parameters,
            mask=record.mask,
        )

    def prepare(self, record: JobRecord) -> JobSpec:
        """What the dispatcher runs for a claimed job: checked again, since templates, runs and masks
        may have changed while it waited, with the run resolved for the kernel (documents, image, the
        frames' files). A second attempt gets a folder of its own."""
        submission = self._recheck(record)
        run = submission.runs[0]
        spec = job_spec(
            submission,
            run,
            job_id=str(record.id),
            settings=self.settings,
            results_dir=self.results_dir,
            record=self.catalogs.get(record.catalog).record(run.uid),
        )
        if record.attempts > 1:
            first = job_folder(
                self.results_dir, record.catalog, record.scan_id, record.uid, record.template, str(record.id)
            )
            spec.folder = str(first.with_name(f"{first.name}-attempt{record.attempts}").resolve())
        return spec

    # -- acting on jobs -----------------------------------------------------------------------------

    def get(self, job_id: int) -> JobRecord:
        return self.store.get(job_id)

    def list(self, query: JobQuery) -> JobPage:
        return self.store.list(query)

    def _own(self, requester: str, job_id: int, action: str) -> JobRecord:
        record = self.store.get(job_id)
        if requester != record.owner and requester not in self.admins:
            raise Forbidden(
                "Not your job",
                f"Job {job_id} belongs to {record.owner}; only its owner or an admin may {action} it.",
            )
        return record

    def cancel(self, requester: str, job_id: int) -> JobRecord:
        self._own(requester, job_id, "cancel")
        record = self.store.cancel(job_id)
        self.emit(
            events.JOB,
            events.job_event(record, "finished" if record.state == "cancelled" else "cancel-requested"),
        )
        self.wake()
        return record

    def move(self, requester: str, job_id: int, to: str) -> JobRecord:
        self._own(requester, job_id, "move")
        record = self.store.move(job_id, to)
        self.emit(events.JOB, events.job_event(record, "moved"))
        self.wake()
        return record

    def rerun(self, requester: str, job_id: int) -> JobRecord:
        """A new job with the old one's template, run, parameters and mask (checked again); the old
        job and its folder stay."""
        self._recheck(self._own(requester, job_id, "re-run"))
        record = self.store.rerun(job_id, requester)
        self.emit(events.JOB, events.job_event(record, "queued"))
        self.wake()
        return record

    # -- a job's files ------------------------------------------------------------------------------

    def _folder(self, requester: str, job_id: int) -> tuple[JobRecord, Path | None]:
        record = self._own(requester, job_id, "read the files of")
        return record, Path(record.folder).resolve() if record.folder else None

    def files(self, requester: str, job_id: int) -> JobFiles:
        """Every file in the job's folder (none yet for a job that has not started)."""
        record, folder = self._folder(requester, job_id)
        found: list[JobFile] = []
        if folder is not None and folder.is_dir():
            for path in sorted(folder.rglob("*")):
                mark = path.parent == folder and path.name in JobFolder.MARKS
                if path.is_file() and not path.is_symlink() and not path.name.startswith(".") and not mark:
                    stat = path.stat()
                    found.append(
                        JobFile(
                            path=path.relative_to(folder).as_posix(),
                            size=stat.st_size,
                            modified=stat.st_mtime,
                        )
                    )
        shown = None
        if folder is not None:
            shown = (
                folder.relative_to(self.root_dir).as_posix()
                if folder.is_relative_to(self.root_dir)
                else str(folder)
            )
        return JobFiles(id=record.id, folder=shown, files=found)

    def file(self, requester: str, job_id: int, relative: str) -> tuple[Path, str]:
        """One file of the job's folder and its media type; nothing outside the folder is reachable.

        Raises
        ------
        BadRequest
            An absolute path or one with ``..``.
        Forbidden
            A path that leads out of the job folder (e.g. through a symbolic link).
        NotFound
            No such file.
        """
        parts = relative.replace("\\", "/").split("/")
        if relative.startswith("/") or os.path.isabs(relative) or ".." in parts:
            raise BadRequest(
                "Invalid path", f"'{relative}' must be a path inside the job folder, without '..'."
            )
        _, folder = self._folder(requester, job_id)
        if folder is None:
            raise NotFound("No such file", f"Job {job_id} has not started yet, so it has no files.")
        path = (folder / relative).resolve()
        if not path.is_relative_to(folder):
            raise Forbidden("Outside the job folder", f"'{relative}' leads outside job {job_id}'s folder.")
        if not path.is_file():
            raise NotFound("No such file", f"Job {job_id} has no file '{relative}'.")
        media = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return path, media

    # -- automatic analysis -------------------------------------------------------------------------

    def auto_analysis(self, catalog: str) -> AutoAnalysis:
        self.catalogs.get(catalog)
        return AutoAnalysis(
            catalog=catalog,
            enabled=self.store.auto_enabled(catalog),
            pipelines=pipeline_map(self.templates, self.auto_pipelines),
        )

    def set_auto_analysis(self, requester: str, catalog: str, enabled: bool) -> AutoAnalysis:
        self.catalogs.get(catalog)
        self.store.set_auto(catalog, enabled, requester)
        return self.auto_analysis(catalog)

    def template_for(self, auto_pipeline: object) -> str | None:
        """The template a run's ``auto_pipeline`` value maps to, if any."""
        if not isinstance(auto_pipeline, str):
            return None
        for pattern, template in pipeline_map(self.templates, self.auto_pipelines).items():
            if fnmatch.fnmatchcase(auto_pipeline, pattern):
                return template
        return None

    def analyse_new_runs(self, catalog: str, runs: list[RunRow]) -> list[JobRecord]:
        """Queue the automatic analysis of runs that finished successfully since the catalog's switch
        was turned on, once per run ever (also across restarts and servers: the store decides)."""
        since = self.store.auto_since(catalog)
        if since is None:
            return []
        queued = []
        for row in runs:
            if row.uid in self._auto_seen or row.exit_status != "success" or row.time < since:
                continue
            self._auto_seen.add(row.uid)
            template = self.template_for(row.columns.get("auto_pipeline"))
            if template is None:
                continue
            try:
                submission = check_submission(
                    self.templates,
                    self.catalogs,
                    self.settings,
                    template=template,
                    catalog=catalog,
                    uids=[row.uid],
                )
            except (BadRequest, NotFound) as exc:
                log.warning("Automatic analysis of run %s (%s) not queued: %s", row.scan_id, row.uid, exc)
                continue
            run = submission.runs[0]
            record = self.store.queue_auto(
                NewJob(
                    owner=self.owner,
                    catalog=catalog,
                    uid=run.uid,
                    scan_id=run.scan_id,
                    template=template,
                    parameters=submission.parameters,
                    mask=None,
                )
            )
            if record is not None:
                log.info("Run %s (%s) queued for automatic analysis with %s", row.scan_id, row.uid, template)
                self.emit(events.JOB, events.job_event(record, "queued"))
                queued.append(record)
        if queued:
            self.wake()
        return queued
