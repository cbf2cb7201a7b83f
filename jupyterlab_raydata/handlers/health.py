"""``GET health``: is the server extension loaded, which version, which catalogs and executor."""

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel
from tornado import web

from .base import RaydataHandler
from .openapi import Endpoint


class Health(BaseModel):
    version: str
    catalogs: list[str]
    executor: str


class HealthHandler(RaydataHandler):
    api = {"get": Endpoint("Version, configured catalogs and executor", response=Health)}

    @web.authenticated
    @authorized
    def get(self):
        raydata = self.raydata
        self.reply(Health(version=raydata.version, catalogs=raydata.catalog_names, executor=raydata.executor))


routes = [("health", HealthHandler)]
