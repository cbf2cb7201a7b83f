"""Time the first index of a 100k-run catalog served by a real tiled server, and the run-listing REST
API on it, end to end over HTTP.

    python benchmarks/bench_runs_api.py [--runs 100000] [--cache /tmp/raydata-bench] [--requests 30]

1. Builds (once; reruns reuse ``--cache``) a tiled SQLite catalog of ``--runs`` CHX-like runs. A few
   runs are written by ``TiledWriter`` (the demo builder, with detector images); the bulk are
   inserted straight into tiled's ``nodes`` table in one transaction, exactly as tiled stores a
   run container (its own triggers fill the closure table and full-text index), then read back
   through a tiled client to check them. That takes seconds where ``TiledWriter`` or the catalog
   adapter's ``create_node`` (~7 ms a run) take minutes to hours.
2. Serves it with ``tiled serve catalog`` on a loopback port with an API key, and starts a real
   Jupyter server with the extension in a subprocess, configured with that server as a ``tiled``
   catalog. Times the first index from the first listing until the answer is no longer partial,
   printing the progress the API reports (indexed_runs of catalog_runs) on the way.
3. Times the cost of a refresh that finds nothing (on the same index, in this process).
4. Times, over HTTP, each query ``--requests`` times and prints p50/p95 per query (target: p95 < 100 ms):
   once with the default refresh interval, then again with a server whose catalog refreshes before
   every request (``refresh_seconds=0``: a refresh is always running).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
import uuid
import warnings
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from _servers import BenchServer, free_port, stop_process  # noqa: E402

from jupyterlab_raydata.catalog.demo import build_catalog, plan_runs  # noqa: E402

REAL_RUNS = 6
RUN_SPECS = json.dumps([{"name": "BlueskyRun", "version": "3.0"}])


def build(directory: Path, runs: int) -> None:
    """A catalog of ``runs`` runs in ``directory`` (skipped when a finished one is there)."""
    ready = directory / f"READY-{runs}"
    if ready.exists():
        return
    if directory.exists():
        raise SystemExit(f"{directory} holds an unfinished or different catalog; remove it first")
    t0 = time.perf_counter()
    build_catalog(directory, REAL_RUNS)
    rng = np.random.default_rng(1)
    db = sqlite3.connect(directory / "catalog.db")
    (raw_id,) = db.execute("SELECT id FROM nodes WHERE parent = 0 AND key = 'raw'").fetchone()
    rows = []
    for i, md in enumerate(plan_runs(rng, runs - REAL_RUNS)):
        uid = str(uuid.uuid4())
        start = {"uid": uid, **md, "scan_id": 100_000 + i}
        stop = {
            "uid": str(uuid.uuid4()),
            "run_start": uid,
            "time": md["time"] + 30.0,
            "exit_status": "success" if i % 50 else "abort",
            "reason": "",
            "num_events": {"primary": 1},
        }
        rows.append((raw_id, uid, json.dumps({"start": start, "stop": stop}), RUN_SPECS))
    with db:
        db.executemany(
            "INSERT INTO nodes (parent, key, structure_family, metadata, specs) "
            "VALUES (?, ?, 'container', ?, ?)",
            rows,
        )
    db.close()
    check(directory, runs, rows[len(rows) // 2])
    ready.write_text("ok")
    print(f"built {runs} runs in {time.perf_counter() - t0:.1f} s")


def check(directory: Path, runs: int, row: tuple) -> None:
    """Read the catalog back through tiled: every run is there, and a bulk one reads as written."""
    from jupyterlab_raydata.catalog.sources import RunSource, _sqlite_client

    client = _sqlite_client(directory / "catalog.db", [str(directory)])["raw"]
    assert len(client) == runs, (len(client), runs)
    uid, md = row[1], json.loads(row[2])
    docs = RunSource(client).fetch(uid)
    assert docs.start == md["start"] and docs.stop == md["stop"]


def start_tiled(cache: Path, api_key: str, port: int) -> subprocess.Popen:
    """``tiled serve catalog`` over the bench catalog, on a loopback port."""
    catalog = cache / "catalog"
    log = open(cache / "tiled.log", "w")  # closed when the server process ends
    tiled = Path(sys.executable).with_name("tiled")
    process = subprocess.Popen(
        [
            *(str(tiled), "serve", "catalog", str(catalog / "catalog.db"), "--read", str(catalog)),
            *("--api-key", api_key, "--host", "127.0.0.1", "--port", str(port)),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v1/", timeout=5).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    raise SystemExit("tiled did not start; see tiled.log")


def start_server(cache: Path, tiled_port: int, api_key: str, refresh_s: float) -> BenchServer:
    catalog = {
        "kind": "tiled",
        "uri": f"http://127.0.0.1:{tiled_port}",
        "path": "raw",
        "api_key": api_key,
        "timeout": 60,
        "refresh_seconds": refresh_s,
    }
    return BenchServer(cache, {"data_dir": str(cache / "state"), "catalogs": {"bench": catalog}})


def first_index(http: httpx.Client, runs: int) -> float:
    """Seconds from the first listing until the index holds every run, printing the progress shown."""
    t0 = time.perf_counter()
    last_print = -10.0
    while True:
        page = http.get("catalogs/bench/runs", params={"limit": 1}, timeout=600).json()
        elapsed = time.perf_counter() - t0
        if not page["partial"] and page["total"] == runs:
            print(f"first index: {runs} runs in {elapsed:.1f} s")
            return elapsed
        if elapsed - last_print >= 10:
            print(f"  {elapsed:6.1f} s: {page['indexed_runs']:,} of {page['catalog_runs']:,} runs indexed")
            last_print = elapsed
        time.sleep(1)


def idle_refresh_ms(cache: Path, tiled_port: int, api_key: str, repeats: int = 20) -> list[float]:
    """Milliseconds a refresh takes when the catalog has nothing new (the same index, this process)."""
    from jupyterlab_raydata.catalog.catalog import Catalog
    from jupyterlab_raydata.catalog.specs import parse_spec

    spec = {"kind": "tiled", "uri": f"http://127.0.0.1:{tiled_port}", "path": "raw", "api_key": api_key}
    # The same source as the server's catalog, so the same index (a different one would be rebuilt).
    catalog = Catalog("bench", parse_spec("bench", spec), cache / "state")
    catalog.sync()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        report = catalog.sync()
        times.append((time.perf_counter() - t0) * 1000)
        assert report.added == report.removed == 0
    return times


def timed(http: httpx.Client, requests: list[tuple[str, dict]]) -> list[float]:
    times = []
    for path, params in requests:
        t0 = time.perf_counter()
        response = http.get(path, params=params)
        times.append((time.perf_counter() - t0) * 1000)
        response.raise_for_status()
    return times


def scenarios(http: httpx.Client, n: int, total: int) -> dict[str, list[tuple[str, dict]]]:
    runs = "catalogs/bench/runs"
    month = 30 * 86400
    start = 1_706_000_000  # Jan 2024, inside the demo's time span
    rng = np.random.default_rng(7)
    samples = ["silica", "latex", "gold", "PMMA", "lysozyme"]
    uids = [r["uid"] for r in http.get(runs, params={"limit": n, "offset": total // 5}).json()["runs"]]
    return {
        "newest first page (50)": [(runs, {"limit": 50}) for _ in range(n)],
        f"page at offset {total // 2}": [
            (runs, {"limit": 50, "offset": total // 2 + 50 * i}) for i in range(n)
        ],
        "time range + text": [
            (
                runs,
                {
                    "since": start + int(rng.integers(0, 8)) * month,
                    "until": start + int(rng.integers(8, 10)) * month,
                    "q": samples[i % len(samples)],
                },
            )
            for i in range(n)
        ],
        "key filter": [
            (runs, {"q": f'"sequence id"={int(rng.integers(1, 20000))}' if i % 2 else "owner=chen"})
            for i in range(n)
        ],
        "metadata fetch": [(f"{runs}/{uid}", {}) for uid in uids],
    }


def report(http: httpx.Client, requests_each: int, runs: int) -> None:
    print(f"{'query':<26} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}")
    for name, requests in scenarios(http, requests_each, runs).items():
        timed(http, requests[:3])  # warm the connection and SQLite's page cache
        ms = timed(http, requests)
        p95 = float(np.percentile(ms, 95))
        flag = "" if p95 < 100 else "  (over the 100 ms target)"
        print(f"{name:<26} {statistics.median(ms):8.1f} {p95:8.1f} {max(ms):8.1f}{flag}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/raydata-bench"))
    parser.add_argument("--requests", type=int, default=30)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    args.cache.mkdir(parents=True, exist_ok=True)
    build(args.cache / "catalog", args.runs)
    shutil.rmtree(args.cache / "state", ignore_errors=True)  # every run times a first index

    api_key, tiled_port = secrets.token_hex(16), free_port()
    tiled = start_tiled(args.cache, api_key, tiled_port)
    try:
        print(f"\n{args.runs} runs, served by tiled over HTTP; {os.cpu_count()} cores\n")
        for refresh_s, label in ((10.0, "refresh every 10 s"), (0.0, "a refresh before every request")):
            # The server starting is not part of the index's time.
            with start_server(args.cache, tiled_port, api_key, refresh_s) as server:
                http = server.http
                if refresh_s:
                    first_index(http, args.runs)
                    ms = idle_refresh_ms(args.cache, tiled_port, api_key)
                    print(
                        f"a refresh that finds nothing: p50 {statistics.median(ms):.1f} ms, "
                        f"max {max(ms):.1f} ms (two small requests to tiled)"
                    )
                else:
                    http.get("catalogs/bench/runs", params={"limit": 1}, timeout=600).raise_for_status()
                print(f"\n{label}, {args.requests} requests each:")
                report(http, args.requests, args.runs)
    finally:
        stop_process(tiled)


if __name__ == "__main__":
    main()
