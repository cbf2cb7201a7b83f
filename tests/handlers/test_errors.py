"""The base handler turns every failure into JSON ``{"error", "detail"}`` with the right status."""

import json

import pytest
from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, Field
from tornado import web
from tornado.httpclient import HTTPClientError

from jupyterlab_raydata.errors import Conflict, NotFound, Unavailable
from jupyterlab_raydata.handlers.base import RaydataHandler


class Paging(BaseModel):
    limit: int = Field(50, ge=1, le=1000)


class ProbeHandler(RaydataHandler):
    """Raises whatever the test asks for, to exercise the base class's error mapping."""

    failures = {
        "not-found": NotFound("Unknown run", "No run with uid 'abc' in catalog 'demo'."),
        "conflict": Conflict("Job already finished", "Job 7 finished at 10:02; nothing to cancel."),
        "unavailable": Unavailable("Catalog unreachable", "Connection refused by chx.example:443."),
        "crash": RuntimeError("secret internal state /etc/passwd"),
        "value": ValueError("mask shape (100, 100) does not match the detector shape (128, 128)"),
    }

    @web.authenticated
    @authorized
    def get(self, kind):
        if kind == "paging":
            self.reply(self.query_model(Paging))
            return
        raise self.failures[kind]

    @web.authenticated
    @authorized
    def post(self, kind):
        self.reply(self.body_model(Paging))


@pytest.fixture
def probe(jp_web_app, jp_base_url):
    jp_web_app.add_handlers(".*$", [(jp_base_url + "raydata-probe/(?P<kind>[a-z-]+)", ProbeHandler)])


async def _error(jp_fetch, *parts, **kwargs):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch(*parts, **kwargs)
    response = info.value.response
    assert response.headers["Content-Type"].startswith("application/json")
    return info.value.code, json.loads(response.body)


@pytest.mark.parametrize(
    "kind,status,error",
    [
        ("not-found", 404, "Unknown run"),
        ("conflict", 409, "Job already finished"),
        ("unavailable", 503, "Catalog unreachable"),
    ],
)
async def test_raydata_errors_keep_their_status_and_message(jp_fetch, probe, kind, status, error):
    code, body = await _error(jp_fetch, "raydata-probe", kind)
    assert code == status
    assert body["error"] == error
    assert body["detail"] == str(ProbeHandler.failures[kind].detail)


async def test_the_analysis_layers_value_error_is_400_with_its_message(jp_fetch, probe):
    code, body = await _error(jp_fetch, "raydata-probe", "value")
    assert (code, body) == (
        400,
        {
            "error": "Invalid input",
            "detail": "mask shape (100, 100) does not match the detector shape (128, 128)",
        },
    )


async def test_unexpected_exception_is_500_without_internals(jp_fetch, probe):
    code, body = await _error(jp_fetch, "raydata-probe", "crash")
    assert code == 500
    assert body["error"] == "Internal server error"
    assert "passwd" not in json.dumps(body)
    assert "Traceback" not in json.dumps(body)


async def test_invalid_query_argument_is_400_naming_the_field(jp_fetch, probe):
    code, body = await _error(jp_fetch, "raydata-probe", "paging", params={"limit": "5000"})
    assert code == 400
    assert body["error"] == "Invalid request"
    assert body["detail"].startswith("limit:")
    assert "1000" in body["detail"]


async def test_valid_query_argument_is_parsed(jp_fetch, probe):
    response = await jp_fetch("raydata-probe", "paging", params={"limit": "7"})
    assert json.loads(response.body) == {"limit": 7}


async def test_malformed_json_body_is_400(jp_fetch, probe):
    code, body = await _error(jp_fetch, "raydata-probe", "paging", method="POST", body=b"{limit: 3")
    assert code == 400
    assert body["error"] == "Request body is not valid JSON"


async def test_unknown_api_route_is_json_404(jp_fetch):
    code, body = await _error(jp_fetch, "raydata", "api", "no", "such", "thing")
    assert code == 404
    assert body == {"error": "Unknown endpoint", "detail": "There is no Raydata API route 'no/such/thing'."}


async def test_a_method_a_route_does_not_have_is_405_naming_the_allowed_ones(jp_fetch):
    for path, method in (("catalogs", "DELETE"), ("health", "POST")):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("raydata", "api", path, method=method, body=b"{}" if method == "POST" else None)
        assert info.value.code == 405
        assert info.value.response.headers["Allow"] == "GET, OPTIONS"
        assert json.loads(info.value.response.body)["error"] == "Method Not Allowed"
