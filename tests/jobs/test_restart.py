"""Restart safety against a real ``jupyter server`` process: SIGTERM and kill -9 with jobs queued and
running. Queued jobs keep their order, a running job is re-queued once and then failed, nothing is lost,
nothing runs twice at once."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest
from notebooks import write_template

WAIT = "import pathlib, time\nwhile gate and not pathlib.Path(gate).exists():\n    time.sleep(0.05)"
TOKEN = "restart-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``jupyter server`` in a child process, restartable on the same port, data dir and root."""

    def __init__(self, tmp_path: Path, catalog: Path, templates: Path):
        self.root = tmp_path / "root"
        self.root.mkdir()
        self.port = free_port()
        self.config = tmp_path / "jupyter_server_config.json"
        self.config.write_text(
            json.dumps(
                {
                    "ServerApp": {
                        "jpserver_extensions": {"jupyterlab_raydata": True},
                        "token": TOKEN,
                        "root_dir": str(self.root),
                        "port": self.port,
                        "ip": "127.0.0.1",
                        "open_browser": False,
                        "allow_root": True,
                    },
                    "Raydata": {
                        "data_dir": str(tmp_path / "data"),
                        "catalogs": {"demo": {"kind": "sqlite", "path": str(catalog)}},
                        "template_paths": [str(templates)],
                        "cluster": {"kwargs": {"n_workers": 1, "threads_per_worker": 1}},
                        "max_running_jobs": 1,
                    },
                }
            )
        )
        self.log = tmp_path / "server.log"
        self.process: subprocess.Popen | None = None
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/raydata/api/",
            headers={"Authorization": f"token {TOKEN}"},
            timeout=30,
        )

    def start(self) -> None:
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(self.config.parent / "jupyter-config")}
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyter_server", f"--config={self.config}"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if self.client.get("health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            time.sleep(0.2)
        raise AssertionError("the server did not start:\n" + self.log.read_text()[-3000:])

    def stop(self, sig: int) -> None:
        self.process.send_signal(sig)
        self.process.wait(60)

    def job(self, job_id: int) -> dict:
        return self.client.get(f"jobs/{job_id}").json()

    def wait(self, job_id: int, predicate, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if predicate(job):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id}: {job}\n" + self.log.read_text()[-3000:])


@pytest.fixture
def server(tmp_path, jobs_demo_catalog):
    templates = tmp_path / "templates"
    templates.mkdir()
    write_template(templates, "gate", ["# Wait", WAIT], {"gate": {"type": "string", "default": ""}})
    server = Server(tmp_path, jobs_demo_catalog, templates)
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
