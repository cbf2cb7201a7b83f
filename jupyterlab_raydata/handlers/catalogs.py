"""``catalogs/…``: list catalogs, search their runs, run metadata and detector previews.

Thin: validate the query string, call :mod:`jupyterlab_raydata.catalog` in a worker thread (it
blocks on SQLite and tiled), answer its models.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web

from ..catalog.models import CatalogList, ColumnList, QueryHelp, RunDetail, RunPage
from ..catalog.search import RunSearch, query_help
from .base import RaydataHandler
from .openapi import Endpoint


class ImageQuery(BaseModel):
    kind: Literal["average", "frame"] = Field(
        "average", description="One frame, or an average over the series."
    )
    index: int = Field(0, ge=0, description="The frame, for kind=frame (0-based, across events).")
    scale: Literal["log", "linear"] = "log"
    max_size: int = Field(512, ge=16, le=4096, description="Longest side of the image in pixels.")
    key: str | None = Field(None, description="The image data key; default the run's first detector image.")


class CatalogsHandler(RaydataHandler):
    api = {"get": Endpoint("Configured catalogs, and whether each can be reached", response=CatalogList)}

    @web.authenticated
    @authorized
    async def get(self):
        infos = await asyncio.to_thread(self.raydata.registry.infos)
        self.reply(CatalogList(catalogs=infos))


class RunsHandler(RaydataHandler):
    api = {
        "get": Endpoint(
            "Search a catalog's runs: one page, newest first by default",
            response=RunPage,
            query=RunSearch,
            errors=(400, 404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        search = self.query_model(RunSearch)
        catalog = self.raydata.registry.get(name)
        page = await asyncio.to_thread(catalog.search, search)
        # Someone is browsing it: the server keeps it synced, so new runs are pushed as events.
        self.raydata.services.watcher.browsed(name)
        self.reply(page)


class ColumnsHandler(RaydataHandler):
    api = {
        "get": Endpoint(
            "Start-document keys seen in a catalog, with how many runs have each",
            response=ColumnList,
            errors=(404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        catalog = self.raydata.registry.get(name)
        await self.reply_with(catalog.columns)


class QueryHelpHandler(RaydataHandler):
    api = {
        "get": Endpoint("Help text for the search box, sort and dates", response=QueryHelp, errors=(404, 503))
    }

    @web.authenticated
    @authorized
    def get(self, name):
        self.raydata.registry.get(name)
        self.reply(query_help())


class RunHandler(RaydataHandler):
    api = {
        "get": Endpoint(
            "One run: metadata panels, start/stop documents, streams and data keys",
            response=RunDetail,
            errors=(404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name, uid):
        catalog = self.raydata.registry.get(name)
        await self.reply_with(catalog.run, uid)


class RunImageHandler(RaydataHandler):
    api = {
        "get": Endpoint(
            "PNG preview of a run's detector image: one frame or the average",
            query=ImageQuery,
            media_type="image/png",
            errors=(400, 404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name, uid):
        args = self.query_model(ImageQuery)
        catalog = self.raydata.registry.get(name)
        png, cached = await asyncio.to_thread(
            catalog.preview,
            uid,
            key=args.key,
            kind=args.kind,
            index=args.index,
            scale=args.scale,
            max_size=args.max_size,
        )
        headers = {"Cache-Control": "private, max-age=3600", "X-Raydata-Cache": "hit" if cached else "miss"}
        self.reply_bytes(png, "image/png", headers)


_NAME = "catalogs/(?P<name>[^/]+)"
_RUN = _NAME + "/runs/(?P<uid>[^/]+)"
routes = [
    ("catalogs", CatalogsHandler),
    (_NAME + "/runs", RunsHandler),
    (_NAME + "/columns", ColumnsHandler),
    (_NAME + "/query-help", QueryHelpHandler),
    (_RUN, RunHandler),
    (_RUN + "/image", RunImageHandler),
]
