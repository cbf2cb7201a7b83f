"""A real ``jupyter server`` with Raydata in a child process, for restart and automatic-analysis tests."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

TOKEN = "restart-test-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``jupyter server`` in a child process, restartable on the same port, data dir and root."""

    def __init__(self, tmp_path: Path, catalogs: dict, templates: Path, **raydata):
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
                        "catalogs": catalogs,
                        "template_paths": [str(templates)],
                        "cluster": {"kwargs": {"n_workers": 1, "threads_per_worker": 1}},
                        "max_running_jobs": 1,
                        **raydata,
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

    def jobs(self, **params) -> list[dict]:
        return self.client.get("jobs", params=params).json()["jobs"]

    def wait(self, job_id: int, predicate, timeout: float = 120.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.job(job_id)
            if predicate(job):
                return job
            time.sleep(0.2)
        raise AssertionError(f"job {job_id}: {job}\n" + self.log.read_text()[-3000:])
