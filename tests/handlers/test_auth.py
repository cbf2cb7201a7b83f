"""Every registered Raydata route refuses a request that carries no token."""

import re

import pytest
from tornado import web
from tornado.httpclient import HTTPClientError

from jupyterlab_raydata.handlers import ROUTES, UnknownRouteHandler
from jupyterlab_raydata.handlers.base import RaydataHandler

ALL_ROUTES = [*ROUTES, ("no-such-route", UnknownRouteHandler)]
VERBS = ("get", "post", "put", "patch", "delete")


def _example_path(pattern: str) -> str:
    """A concrete path for a route pattern: each named group becomes a plausible value."""
    return re.sub(r"\(\?P<(\w+)>[^)]*\)", lambda m: f"example-{m.group(1)}", pattern)


def _implemented_verbs(handler: type) -> list[str]:
    return [verb for verb in VERBS if getattr(handler, verb) is not getattr(web.RequestHandler, verb)]


CASES = [
    pytest.param(verb.upper(), _example_path(pattern), id=f"{verb.upper()} {pattern}")
    for pattern, handler in ALL_ROUTES
    for verb in _implemented_verbs(handler)
]


@pytest.mark.parametrize("pattern,handler", ALL_ROUTES)
def test_route_is_a_raydata_handler_with_verbs(pattern, handler):
    assert issubclass(handler, RaydataHandler)
    assert _implemented_verbs(handler), f"{pattern} answers no verb"


@pytest.mark.parametrize("method,path", CASES)
async def test_request_without_token_is_forbidden(jp_fetch, method, path):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(
            "raydata",
            "api",
            path,
            method=method,
            body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
            headers={"Authorization": ""},
            allow_nonstandard_methods=True,
        )
    assert info.value.code == 403


@pytest.mark.parametrize("method,path", CASES)
async def test_request_with_token_is_not_forbidden(jp_fetch, method, path):
    try:
        response = await jp_fetch(
            "raydata",
            "api",
            path,
            method=method,
            body=b"{}" if method in ("POST", "PUT", "PATCH") else None,
            allow_nonstandard_methods=True,
        )
        code = response.code
    except HTTPClientError as exc:
        code = exc.code
    assert code != 403
