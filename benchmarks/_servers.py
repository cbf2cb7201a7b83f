"""A Jupyter server with Raydata in a child process, as every benchmark starts one: a loopback port, a
fresh token, its log in the benchmark's folder, and an HTTP client of Raydata's API."""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(process: subprocess.Popen) -> None:
    """Ask a server process to end; kill it if it has not 30 s later."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:  # a catalog sync thread can hold up a clean shutdown
        process.kill()
        process.wait()


class BenchServer:
    """``jupyter server`` (``jupyter lab`` with ``lab=True``, for a browser) with the ``raydata``
    configuration, started by :meth:`start` and stopped by :meth:`stop` (or as a context manager).

    Parameters
    ----------
    folder : path
        Where its configuration file and ``server.log`` go; the server's root unless ``root`` is given.
    raydata : dict
        The ``Raydata`` configuration section.
    lab : bool
        Serve JupyterLab too (with ``window.jupyterapp`` exposed, as the Galata tests need).
    timeout : float
        Seconds the HTTP client waits for an answer.
    """

    def __init__(
        self, folder: Path, raydata: dict, *, root: Path | None = None, lab: bool = False, timeout: float = 60
    ):
        self.folder = Path(folder)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.lab = lab
        config = {
            "ServerApp": {
                "jpserver_extensions": {"jupyterlab_raydata": True},
                "token": self.token,
                "port": self.port,
                "ip": "127.0.0.1",
                "open_browser": False,
                "allow_root": True,
                "root_dir": str(root or self.folder),
            },
            "IdentityProvider": {"token": self.token},
            "Raydata": raydata,
        }
        if lab:
            config["LabApp"] = {"expose_app_in_browser": True}
        self.config = self.folder / "jupyter_server_config.json"
        self.config.write_text(json.dumps(config))
        self.log = self.folder / "server.log"
        self.http = httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}/raydata/api/",
            headers={"Authorization": f"token {self.token}"},
            timeout=timeout,
        )
        self.process: subprocess.Popen | None = None

    def start(self, wait_s: float = 120) -> BenchServer:
        """Start the server and wait until its health endpoint answers."""
        env = {
            **os.environ,
            "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            # Not the user's own Jupyter configuration.
            "JUPYTER_CONFIG_DIR": str(self.folder / "jupyter-config"),
        }
        app = ["jupyter", "lab"] if self.lab else ["jupyter_server"]
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *app, f"--config={self.config}"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                if self.http.get("health", timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        self.stop()
        raise SystemExit(f"the server did not start; see {self.log}")

    def stop(self) -> None:
        """Stop the server (see :func:`stop_process`)."""
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
