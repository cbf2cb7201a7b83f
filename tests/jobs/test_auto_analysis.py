"""Automatic analysis of runs a real RunEngine writes while a real server runs: queued once per run,
not again after a restart; runs of other pipelines, and runs from before the switch, are left alone."""

from __future__ import annotations

import getpass
import signal
import time

import numpy as np
import pytest
from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
from notebooks import write_template
from ophyd.sim import SynSignal
from servers import Server

from jupyterlab_raydata.catalog.demo import create_sqlite_catalog

PIPELINE = "XPCS_SAXS_2way_pipeline"


@pytest.fixture
def beamline(tmp_path, request):
    """A catalog a RunEngine writes into, and a server watching it with automatic analysis available
    (its syncs of browsed catalogs every ``request.param`` seconds, default 0.5)."""
    client = create_sqlite_catalog(tmp_path / "beamline")
    RE = RunEngine({}, context_managers=[])
    RE.subscribe(TiledWriter(client))
    templates = tmp_path / "templates"
    templates.mkdir()
    write_template(templates, "look", ["# Look", "print(uid)"])
    server = Server(
        tmp_path,
        {"beamline": {"kind": "sqlite", "path": str(tmp_path / "beamline" / "catalog.db")}},
        templates,
        auto_pipelines={PIPELINE: "look"},
        sync_interval=getattr(request, "param", 0.5),
    )
    server.start()
    yield RE, server
    if server.process.poll() is None:
        server.stop(signal.SIGTERM)


def take_run(RE, **md) -> str:
    camera = SynSignal(name="eiger1m_image", func=lambda: np.ones((16, 16), dtype="uint16"))
    (uid,) = RE(count([camera], num=3), **md)
    return uid


def wait_for_jobs(server, uid, n=1, timeout=60.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        jobs = server.jobs(uid=uid)
        if len(jobs) >= n:
            return jobs
        time.sleep(0.2)
    raise AssertionError(f"no automatic job for run {uid}:\n" + server.log.read_text()[-3000:])


def test_runs_written_while_the_server_runs_are_analysed_once(beamline):
    RE, server = beamline
    before = take_run(RE, auto_pipeline=PIPELINE)
    assert server.client.get("catalogs/beamline/auto-analysis").json()["enabled"] is False
    switched = server.client.put("catalogs/beamline/auto-analysis", json={"enabled": True}).json()
    # The configured mapping, then what the shipped templates serve.
    pipelines = {PIPELINE: "look", "XPCS_SAXS*": "xpcs_saxs"}
    assert switched == {"catalog": "beamline", "enabled": True, "pipelines": pipelines}

    uid = take_run(RE, auto_pipeline=PIPELINE)
    other = take_run(RE, auto_pipeline="none")
    (job,) = wait_for_jobs(server, uid)
    assert (job["template"], job["owner"], job["auto"], job["catalog"]) == (
        "look",
        getpass.getuser(),
        True,
        "beamline",
    )
    job = server.wait(job["id"], lambda j: j["state"] in ("completed", "failed"))
    assert job["state"] == "completed"

    server.stop(signal.SIGTERM)
    server.start()
    later = take_run(RE, auto_pipeline=PIPELINE)
    wait_for_jobs(server, later)
    # The restarted server has looked at the catalog since: still one job for the first run.
    assert [j["id"] for j in server.jobs(uid=uid)] == [job["id"]]
    assert server.jobs(uid=other) == []
    assert server.jobs(uid=before) == []


@pytest.mark.parametrize("beamline", [3600.0], indirect=True)
def test_a_watched_catalog_is_looked_at_far_more_often_than_a_browsed_one(beamline):
    """With browsed catalogs synced once an hour, a run with automatic analysis on is still queued at
    once: a catalog with automatic analysis on is looked at every auto_sync_interval (0.5 s)."""
    RE, server = beamline
    server.client.put("catalogs/beamline/auto-analysis", json={"enabled": True})
    # The run table open beside the switch (the catalog is open), and a run that starts after it.
    assert server.client.get("catalogs/beamline/runs").status_code == 200
    time.sleep(1.0)
    uid = take_run(RE, auto_pipeline=PIPELINE)
    stopped = time.time()
    (job,) = wait_for_jobs(server, uid, timeout=30)
    print(f"stop document -> queued job: {job['created'] - stopped:.2f} s")
    assert (job["template"], job["auto"]) == ("look", True)


@pytest.mark.parametrize("name", ["sync_interval", "auto_sync_interval"])
def test_an_interval_must_be_above_zero(name):
    from traitlets import TraitError

    from jupyterlab_raydata.app import Raydata

    with pytest.raises(TraitError, match=f"c.Raydata.{name} must be a number of seconds above 0"):
        Raydata(**{name: 0})
    assert getattr(Raydata(**{name: 0.25}), name) == 0.25
