"""``templates``, ``jobs/…`` and ``catalogs/{name}/auto-analysis``: the analysis queue over HTTP.

Thin: validate, call :class:`~jupyterlab_raydata.jobs.queue.JobQueue` in a worker thread (it blocks on
the SQL store and the catalogs), answer its models.
"""

from __future__ import annotations

import asyncio

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field, ValidationError
from tornado import web

from ..errors import BadRequest
from ..jobs.queue import (
    AutoAnalysis,
    AutoAnalysisUpdate,
    JobFiles,
    JobList,
    MoveRequest,
    SubmitRequest,
    TemplateList,
)
from ..jobs.store import SORT_KEYS, JobPage, JobQuery, JobRecord
from .base import RaydataHandler, describe_validation_error
from .openapi import Endpoint

_JOB = r"jobs/(?P<job_id>[0-9]{1,18})"


_STATE = "(queued|running|completed|failed|cancelled)"
_SORT_KEY = f"\\s*-?({'|'.join(SORT_KEYS)})\\s*"


class JobsQuery(BaseModel):
    """``GET jobs`` query string; ``state`` takes one state or several, comma-separated."""

    state: str | None = Field(
        None,
        description="queued, running, completed, failed, cancelled; several comma-separated.",
        json_schema_extra={"pattern": f"^\\s*{_STATE}\\s*(,\\s*{_STATE}\\s*)*$"},
    )
    owner: str | None = Field(None, description="Only this user's jobs.")
    catalog: str | None = None
    uid: str | None = None
    template: str | None = None
    sort: str = Field(
        "position",
        description=JobQuery.model_fields["sort"].description or "",
        json_schema_extra={"pattern": f"^{_SORT_KEY}(,{_SORT_KEY})*$"},
    )
    offset: int = Field(0, ge=0, le=1_000_000_000)
    limit: int = Field(100, ge=1, le=1000)

    def to_query(self) -> JobQuery:
        data = self.model_dump()
        if self.state is not None:
            data["state"] = [s.strip() for s in self.state.split(",") if s.strip()]
            if not data["state"]:
                raise BadRequest(
                    "Invalid request",
                    "state: name one or more of queued, running, completed, failed, cancelled.",
                )
        try:
            return JobQuery.model_validate(data)
        except ValidationError as exc:
            raise BadRequest("Invalid request", describe_validation_error(exc)) from None


class JobHandler(RaydataHandler):
    """Base for the job routes: who is asking, and the queue."""

    @property
    def queue(self):
        return self.raydata.queue

    @property
    def requester(self) -> str:
        return self.raydata.requester(self.current_user)


class TemplatesHandler(JobHandler):
    api = {
        "get": Endpoint(
            "Analysis templates with their parameter schemas (broken ones with their error)",
            response=TemplateList,
        )
    }

    @web.authenticated
    @authorized
    async def get(self):
        templates = await asyncio.to_thread(self.queue.templates.list)
        self.reply(TemplateList(templates=templates))


class JobsHandler(JobHandler):
    api = {
        "get": Endpoint("Jobs, filtered, sorted and paged", response=JobPage, query=JobsQuery, errors=(400,)),
        "post": Endpoint(
            "Analyse runs with a template: one job per run, all checked before any is queued",
            response=JobList,
            body=SubmitRequest,
            errors=(400, 404, 503),
            status=201,
        ),
    }

    @web.authenticated
    @authorized
    async def get(self):
        query = self.query_model(JobsQuery).to_query()
        await self.reply_with(self.queue.list, query)

    @web.authenticated
    @authorized
    async def post(self):
        request = self.body_model(SubmitRequest)
        records = await asyncio.to_thread(self.queue.submit, self.requester, request)
        self.reply(JobList(jobs=records), status=201)


class JobDetailHandler(JobHandler):
    api = {"get": Endpoint("One job", response=JobRecord, errors=(404,))}

    @web.authenticated
    @authorized
    async def get(self, job_id):
        await self.reply_with(self.queue.get, int(job_id))


class CancelHandler(JobHandler):
    api = {
        "post": Endpoint(
            "Cancel a job: a queued one at once, a running one is stopped",
            response=JobRecord,
            errors=(403, 404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, job_id):
        await self.reply_with(self.queue.cancel, self.requester, int(job_id))


class MoveHandler(JobHandler):
    api = {
        "post": Endpoint(
            "Move a queued job in the queue",
            response=JobRecord,
            body=MoveRequest,
            errors=(400, 403, 404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, job_id):
        request = self.body_model(MoveRequest)
        await self.reply_with(self.queue.move, self.requester, int(job_id), request.to)


class RerunHandler(JobHandler):
    api = {
        "post": Endpoint(
            "Run a finished job again as a new job (the old one and its folder stay)",
            response=JobRecord,
            errors=(400, 403, 404, 409),
            status=201,
        )
    }

    @web.authenticated
    @authorized
    async def post(self, job_id):
        await self.reply_with(self.queue.rerun, self.requester, int(job_id), status=201)


class FilesHandler(JobHandler):
    api = {"get": Endpoint("The files in a job's folder", response=JobFiles, errors=(403, 404))}

    @web.authenticated
    @authorized
    async def get(self, job_id):
        await self.reply_with(self.queue.files, self.requester, int(job_id))


class FileHandler(JobHandler):
    api = {
        "get": Endpoint(
            "One file of a job's folder (figures, notebook, report, log)",
            media_type="application/octet-stream",
            errors=(400, 403, 404),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, job_id, path):
        found, media = await asyncio.to_thread(self.queue.file, self.requester, int(job_id), path)
        # A job's files are the notebook's output: never let an SVG or HTML file run script here.
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox; default-src 'none'; img-src 'self' data:",
        }
        await self.reply_file(found, media, headers)


class AutoAnalysisHandler(JobHandler):
    api = {
        "get": Endpoint("A catalog's automatic analysis of new runs", response=AutoAnalysis, errors=(404,)),
        "put": Endpoint(
            "Turn a catalog's automatic analysis on or off",
            response=AutoAnalysis,
            body=AutoAnalysisUpdate,
            errors=(400, 404),
        ),
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        await self.reply_with(self.queue.auto_analysis, name)

    @web.authenticated
    @authorized
    async def put(self, name):
        update = self.body_model(AutoAnalysisUpdate)
        await self.reply_with(self.queue.set_auto_analysis, self.requester, name, update.enabled)


routes = [
    ("templates", TemplatesHandler),
    ("jobs", JobsHandler),
    (_JOB, JobDetailHandler),
    (_JOB + "/cancel", CancelHandler),
    (_JOB + "/move", MoveHandler),
    (_JOB + "/rerun", RerunHandler),
    (_JOB + "/files", FilesHandler),
    (_JOB + r"/files/(?P<path>.+)", FileHandler),
    (r"catalogs/(?P<name>[^/]+)/auto-analysis", AutoAnalysisHandler),
]
