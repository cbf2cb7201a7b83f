"""Schemathesis over ``docs/openapi.json``: every documented operation, against a real server.

A Jupyter server with the extension runs in a subprocess on a loopback port with a token; ``st run``
generates requests from the spec (a fixed seed and a small budget per operation) and applies every
check: no 5xx, only documented status codes and content types, responses that match their schemas,
schema-valid requests accepted and invalid ones refused, 405 with ``Allow`` for undocumented methods,
and more. Routes added later are covered as soon as they are in the spec. Catalog names and run uids
are drawn mostly from the server's own, so requests get past "unknown catalog" to the code behind it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from jupyterlab_raydata.catalog.demo import run_uid

SPEC = Path(__file__).parents[2] / "docs" / "openapi.json"
SEED = 20240117
EXAMPLES_PER_OPERATION = 20


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, demo_catalog):
    """A real Jupyter server with the extension: ``(base URL, token)``."""
    root = tmp_path_factory.mktemp("schemathesis-server")
    token, port = secrets.token_hex(16), _free_port()
    config = {
        "ServerApp": {
            "jpserver_extensions": {"jupyterlab_raydata": True},
            "port": port,
            "ip": "127.0.0.1",
            "open_browser": False,
            "allow_root": True,
            "root_dir": str(root),
        },
        "IdentityProvider": {"token": token},
        "Raydata": {
            "data_dir": str(root / "data"),
            # Only reachable catalogs: the 503 of an unreachable one is documented, but schemathesis
            # counts every 5xx as a server error (tests/handlers/test_catalogs.py covers the 503s).
            "catalogs": {"chx": {"kind": "sqlite", "path": str(demo_catalog)}},
        },
    }
    config_file = root / "jupyter_server_config.json"
    config_file.write_text(json.dumps(config))
    with open(root / "server.log", "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={config_file}"],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                health = httpx.get(f"{url}/raydata/api/health", headers={"Authorization": f"token {token}"})
                if health.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the server did not start:\n{(root / 'server.log').read_text()[-3000:]}")
            time.sleep(0.5)
        # The first listing opens the catalog and indexes it; the responses timed are the later ones.
        warm = httpx.get(
            f"{url}/raydata/api/catalogs/chx/runs", headers={"Authorization": f"token {token}"}, timeout=120
        )
        assert warm.status_code == 200, warm.text
        yield url, token, root
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()


def _config(path: Path, demo_runs: int) -> Path:
    uids = [run_uid(i) for i in range(demo_runs)]
    text = f"""
[dictionaries.catalogs]
values = ["chx"]

[dictionaries.uids]
values = {json.dumps(uids)}

[parameters."path.name"]
dictionary = "catalogs"
probability = 0.8

[parameters."path.catalog"]
dictionary = "catalogs"
probability = 0.8

[parameters."path.uid"]
dictionary = "uids"
probability = 0.7

# The search text, sort keys and dates are languages: a schema gives their shape, not which words
# parse, which keys this catalog's runs have or which days exist; the handler names what is wrong.
[[operations]]
include-path = "/raydata/api/catalogs/{{name}}/runs"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]

# A PONI file's text, an uploaded file's bytes and a partition's bins (static ones multiples of the
# dynamic ones; rings with one phi bin) are file formats and cross-field rules a schema cannot state;
# the handlers name them.
[[operations]]
include-path = "/raydata/api/masks/poni"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400"]

[[operations]]
include-path = "/raydata/api/masks/upload"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]

[[operations]]
include-path = "/raydata/api/masks/beam-center"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]

[[operations]]
include-path = "/raydata/api/masks/preview"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404"]

[[operations]]
include-path = "/raydata/api/masks/{{name}}"
include-method = "PUT"
checks.positive_data_acceptance.expected-statuses = ["2xx", "400", "404", "409"]
"""
    path.write_text(text)
    return path


def test_every_documented_operation_passes_every_check(server, demo_runs, tmp_path):
    url, token, root = server
    st = shutil.which("st", path=os.path.dirname(sys.executable)) or shutil.which("st")
    command = [
        st,
        "--config-file",
        str(_config(tmp_path / "schemathesis.toml", demo_runs)),
        "run",
        str(SPEC),
        "--url",
        url,
        "--header",
        f"Authorization: token {token}",
        "--checks",
        "all",
        "--seed",
        str(SEED),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--phases",
        "examples,coverage,fuzzing",
        "--workers",
        "1",
        "--request-timeout",
        "300",
        # Tests assert no wall-clock times: a loaded CI machine must not fail the response-time check.
        "--max-response-time",
        "300",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path / "report"),
    ]
    result = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, timeout=1500)
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    server_log = (root / "server.log").read_text()[-5000:]
    assert result.returncode == 0, output[-20000:] + "\n\nServer log:\n" + server_log
