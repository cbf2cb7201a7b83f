"""The HTTP surface under ``/raydata/api/``: parse, validate, call the layer below, answer JSON."""

from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join
from tornado import web

from ..errors import NotFound
from . import catalogs, health
from .base import RaydataHandler
from .openapi import PREFIX


class UnknownRouteHandler(RaydataHandler):
    """Anything else under the prefix: a JSON 404 rather than the server's HTML page."""

    @web.authenticated
    @authorized
    def get(self, path):
        raise NotFound("Unknown endpoint", f"There is no Raydata API route '{path}'.")

    post = put = patch = delete = get


ROUTES = [*health.routes, *catalogs.routes]


def setup_handlers(web_app, raydata) -> None:
    """Register every route under ``{base_url}raydata/api/`` with ``raydata`` in the settings."""
    web_app.settings["raydata"] = raydata
    base = url_path_join(web_app.settings["base_url"], PREFIX)
    table = [(url_path_join(base, pattern), handler) for pattern, handler in ROUTES]
    table.append((url_path_join(base, "(?P<path>.*)"), UnknownRouteHandler))
    web_app.add_handlers(".*$", table)
