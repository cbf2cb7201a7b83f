"""A cold start under load: 16 concurrent first requests of every catalog route at an empty data dir,
while the demo catalog is still being built, all answer; the catalog and its index are made once."""

import asyncio
import json
import logging

import pytest

from jupyterlab_raydata.catalog.demo import run_uid

RUNS = 3
CONCURRENT = 16


@pytest.fixture
def raydata_config(tmp_path):
    return {"data_dir": str(tmp_path / "cold"), "catalogs": {"demo": {"kind": "demo", "runs": RUNS}}}


async def test_concurrent_first_requests_of_every_route_all_answer(jp_fetch, caplog):
    caplog.set_level(logging.INFO, logger="jupyterlab_raydata")
    uid = run_uid(0)  # an XPCS run, with detector frames: the same uid in every build
    routes = [
        ("catalogs",),
        ("catalogs", "demo", "runs"),
        ("catalogs", "demo", "columns"),
        ("catalogs", "demo", "query-help"),
        ("catalogs", "demo", "runs", uid),
        ("catalogs", "demo", "runs", uid, "image"),
    ]
    requests = [
        jp_fetch("raydata", "api", *route, connect_timeout=600, request_timeout=600)
        for route in routes
        for _ in range(CONCURRENT)
    ]
    responses = await asyncio.gather(*requests, return_exceptions=True)

    failures = [
        (r, route)
        for r, route in zip(responses, [r for r in routes for _ in range(CONCURRENT)], strict=True)
        if isinstance(r, Exception)
    ]
    assert failures == []
    assert [r.code for r in responses] == [200] * len(routes) * CONCURRENT
    listings = [json.loads(r.body) for r in responses[CONCURRENT : 2 * CONCURRENT]]
    assert {(page["total"], page["partial"]) for page in listings} == {(RUNS, False)}
    details = [json.loads(r.body) for r in responses[4 * CONCURRENT : 5 * CONCURRENT]]
    assert {d["uid"] for d in details} == {uid}
    images = {r.body for r in responses[5 * CONCURRENT :]}
    assert len(images) == 1 and next(iter(images)).startswith(b"\x89PNG")

    messages = [record.getMessage() for record in caplog.records]
    assert sum("Building a demo catalog" in m for m in messages) == 1
    assert sum("opening its search index" in m for m in messages) == 1
    assert sum("index started with the newest" in m for m in messages) == 1
