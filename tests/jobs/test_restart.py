"""Restart safety against a real ``jupyter server`` process: SIGTERM and kill -9 with jobs queued and
running. Queued jobs keep their order, a running job is re-queued once and then failed, nothing is lost,
nothing runs twice at once."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import psutil
import pytest
from notebooks import write_template
from servers import Server

WAIT = "import pathlib, time\nwhile gate and not pathlib.Path(gate).exists():\n    time.sleep(0.05)"


@pytest.fixture
def server(tmp_path, jobs_demo_catalog):
    templates = tmp_path / "templates"
    templates.mkdir()
    write_template(templates, "gate", ["# Wait", WAIT], {"gate": {"type": "string", "default": ""}})
    server = Server(tmp_path, {"demo": {"kind": "sqlite", "path": str(jobs_demo_catalog)}}, templates)
    server.start()
    yield server
    if server.process.poll() is None:
        server.stop(signal.SIGTERM)


def job_process(job: dict) -> int:
    """The pid of the process executing a job's notebook (from its folder's status)."""
    return json.loads((Path(job["folder"]) / "status.json").read_text())["pid"]


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_jobs_survive_sigterm_and_kill_9(server, tmp_path):
    uids = [
        r["uid"]
        for r in server.client.get(
            "catalogs/demo/runs", params={"q": "plan_name=count", "sort": "scan_id"}
        ).json()["runs"]
    ]
    gate = tmp_path / "open"
    body = {"template": "gate", "catalog": "demo", "uids": uids[:3], "parameters": {"gate": str(gate)}}
    a, b, c = (j["id"] for j in server.client.post("jobs", json=body).json()["jobs"])
    first = server.wait(a, lambda j: j["state"] == "running" and j["heading"] == "Wait")
    first_pid = job_process(first)

    # SIGTERM: the running job is stopped with the server and re-queued once at its place.
    server.stop(signal.SIGTERM)
    assert server.process.returncode == 0
    assert gone(first_pid)
    server.start()
    second = server.wait(
        a, lambda j: j["attempts"] == 2 and j["state"] == "running" and j["heading"] == "Wait"
    )
    assert second["folder"] != first["folder"] and second["folder"].endswith(f"gate-{a}-attempt2")
    assert [j["id"] for j in server.client.get("jobs", params={"state": "queued"}).json()["jobs"]] == [b, c]
    second_pid = job_process(second)

    # kill -9: no goodbye at all. The job's process is stopped before anything is re-queued, and a job
    # interrupted twice fails with the reason; the queue goes on in order.
    server.stop(signal.SIGKILL)
    server.start()
    failed = server.wait(a, lambda j: j["state"] == "failed")
    assert failed["failure"] == "interrupted by server restart"
    assert failed["attempts"] == 2
    assert gone(second_pid)
    server.wait(b, lambda j: j["state"] == "running")
    assert server.job(c)["state"] == "queued"
    gate.touch()
    done = [server.wait(i, lambda j: j["state"] in ("completed", "failed", "cancelled")) for i in (b, c)]
    assert [j["state"] for j in done] == ["completed", "completed"]
    assert done[0]["finished"] <= done[1]["started"]
    assert [j["id"] for j in server.client.get("jobs", params={"sort": "id"}).json()["jobs"]] == [a, b, c]
