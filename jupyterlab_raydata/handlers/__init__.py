"""The HTTP surface under ``/raydata/api/``: parse, validate, call the layer below, answer JSON."""

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..errors import NotFound
from . import catalogs, health, jobs, masks
from .base import RaydataHandler
from .openapi import PREFIX


class UnknownRouteHandler(RaydataHandler):
    """Anything else under the prefix: a JSON 404 rather than the server's HTML page."""

    @web.authenticated
    @authorized
    def get(self, path):
        raise NotFound("Unknown endpoint", f"There is no Raydata API route '{path}'.")

    post = put = patch = delete = get


ROUTES = [*health.routes, *catalogs.routes, *masks.routes, *jobs.routes]


def route_table() -> list[tuple[str, type]]:
    """Every route under ``raydata/api/`` (the server adds its base URL), then the JSON 404 for the rest."""
    table = [(url_path_join(PREFIX, pattern), handler) for pattern, handler in ROUTES]
    table.append((url_path_join(PREFIX, "(?P<path>.*)"), UnknownRouteHandler))
    return table
