"""``GET health``: is the server extension loaded, which version, which catalogs and executor, who asks."""

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web

from .base import RaydataHandler
from .openapi import Endpoint


class Health(BaseModel):
    version: str
    catalogs: list[str]
    executor: str
    user: str = Field(description="Who this request acts as: the owner of the jobs it submits.")


class HealthHandler(RaydataHandler):
    api = {"get": Endpoint("Version, configured catalogs and executor", response=Health)}

    @web.authenticated
    @authorized
    def get(self):
        raydata = self.raydata
        self.reply(
            Health(
                version=raydata.version,
                catalogs=raydata.catalog_names,
                executor=raydata.executor,
                user=raydata.requester(self.current_user),
            )
        )


routes = [("health", HealthHandler)]
