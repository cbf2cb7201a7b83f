"""Every registered Raydata route refuses a request that carries no token, and gives its own answer
(not a 403, not a 500) to one that does."""

import re

import pytest
from tornado import web
from tornado.httpclient import HTTPClientError

from jupyterlab_raydata.handlers import ROUTES, UnknownRouteHandler
from jupyterlab_raydata.handlers.base import RaydataHandler

ALL_ROUTES = [*ROUTES, ("no-such-route", UnknownRouteHandler)]
VERBS = ("get", "post", "put", "patch", "delete")


def _example_path(pattern: str) -> str:
    """A concrete path for a route pattern: each named group becomes a plausible value it matches."""

    def example(match: re.Match) -> str:
        name, regex = match.group(1), match.group(2)
        return next(v for v in (f"example-{name}", "7") if re.fullmatch(regex, v))

    return re.sub(r"\(\?P<(\w+)>([^)]*)\)", example, pattern)


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


#: What an authenticated request answers on each route, with the example path parameters above (no
#: such catalog, run, mask or job exists) and ``{}`` as the body of POST, PUT and PATCH. Keyed by route
#: pattern and verb: every route in ROUTES must be listed, so whoever adds a route states its answer.
WITH_TOKEN = {
    ("health", "GET"): 200,
    ("catalogs", "GET"): 200,
    ("catalogs/(?P<name>[^/]+)/runs", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/columns", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/query-help", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/runs/(?P<uid>[^/]+)", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/runs/(?P<uid>[^/]+)/image", "GET"): 404,
    ("masks", "GET"): 200,
    ("masks/upload", "POST"): 400,
    ("masks/preview", "POST"): 400,
    ("masks/beam-center", "POST"): 400,
    ("masks/poni", "POST"): 400,
    ("masks/runs/(?P<catalog>[^/]+)/(?P<uid>[^/]+)", "GET"): 404,
    ("masks/runs/(?P<catalog>[^/]+)/(?P<uid>[^/]+)/image", "GET"): 404,
    ("masks/(?P<name>[^/]+)", "GET"): 404,
    ("masks/(?P<name>[^/]+)", "PUT"): 400,
    ("masks/(?P<name>[^/]+)", "DELETE"): 404,
    ("masks/(?P<name>[^/]+)/rename", "POST"): 400,
    ("masks/(?P<name>[^/]+)/duplicate", "POST"): 400,
    ("masks/(?P<name>[^/]+)/export", "GET"): 404,
    ("masks/(?P<name>[^/]+)/image", "GET"): 404,
    ("templates", "GET"): 200,
    ("jobs", "GET"): 200,
    ("jobs", "POST"): 400,
    ("jobs/(?P<job_id>[0-9]{1,18})", "GET"): 404,
    ("jobs/(?P<job_id>[0-9]{1,18})/cancel", "POST"): 404,
    ("jobs/(?P<job_id>[0-9]{1,18})/move", "POST"): 400,
    ("jobs/(?P<job_id>[0-9]{1,18})/rerun", "POST"): 404,
    ("jobs/(?P<job_id>[0-9]{1,18})/files", "GET"): 404,
    ("jobs/(?P<job_id>[0-9]{1,18})/files/(?P<path>.+)", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/auto-analysis", "GET"): 404,
    ("catalogs/(?P<name>[^/]+)/auto-analysis", "PUT"): 400,
    ("no-such-route", "GET"): 404,
    ("no-such-route", "POST"): 404,
    ("no-such-route", "PUT"): 404,
    ("no-such-route", "PATCH"): 404,
    ("no-such-route", "DELETE"): 404,
}


def test_every_route_states_its_answer_with_a_token():
    missing = [
        f"({pattern!r}, {verb.upper()!r})"
        for pattern, handler in ALL_ROUTES
        for verb in _implemented_verbs(handler)
        if (pattern, verb.upper()) not in WITH_TOKEN
    ]
    assert not missing, "add to WITH_TOKEN in tests/handlers/test_auth.py: " + ", ".join(missing)


@pytest.mark.parametrize(
    "method,path,expected",
    [
        pytest.param(
            verb.upper(),
            _example_path(pattern),
            WITH_TOKEN.get((pattern, verb.upper())),
            id=f"{verb.upper()} {pattern}",
        )
        for pattern, handler in ALL_ROUTES
        for verb in _implemented_verbs(handler)
    ],
)
async def test_request_with_token_gets_the_routes_answer(jp_fetch, method, path, expected):
    assert expected is not None, "the route is missing from WITH_TOKEN"
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
    assert code == expected
