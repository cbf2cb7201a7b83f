"""Analysis against the experiment: a real-size run analysed by its job, timed from the run's stop document.

A detector-sized run is written as a beamline writes it: Eiger-1M frames (1065 x 1030, uint16, one frame
a chunk, Bitshuffle-LZ4) of decorrelating speckle with a known diffusion coefficient, acquired at 1 kHz,
in an HDF5 file that an ordinary bluesky run points at (start, AD_HDF5 resource, descriptor, datum,
event, stop) in a tiled SQLite catalog. A real ``jupyter server`` with Raydata (its queue, dispatcher
and a dask LocalCluster, a fresh kernel per job) analyses it with the shipped ``xpcs_saxs``, started
by automatic analysis when the stop document lands. Printed, from the stop document: the job queued
and started, its first figure, its g2 figure, ``summary.json`` and the report; the whole job against
the acquisition; the job's peak RSS (kernel included); D against the truth. Then a stream: a new run
every ``--every`` seconds for ``--minutes`` minutes, with automatic analysis on: whether the queue
grew, and p50/p95 of stop -> g2 figure.

The frame file is simulated once and kept in the cache folder (``--cache``); every run written here
is a new run (new uid, new documents) pointing at it, as consecutive acquisitions of one sample would.
A short job runs first, as on a server that has been running (the cluster started, its workers'
standby kernels up).

Usage::

    python benchmarks/bench_realtime.py                     # 10,000 frames, then a 5-minute stream
    python benchmarks/bench_realtime.py --frames 5000 --no-stream

Goals (2-core machine): whole job <= the acquisition; stop -> g2 figure < 8 s; peak RSS < 2.5 GB;
D within 3 % of the truth; in the stream the queue never grows and stop -> g2 figure p95 < 12 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from _servers import BenchServer  # noqa: E402
from bench_queue import listen, percentile  # noqa: E402

SHAPE = (1065, 1030)
BEAM_CENTER = (520.0, 500.0)
DISTANCE_M = 10.0
WAVELENGTH_A = 1.285
PIXEL_M = 75e-6
PERIOD_S = 0.001
OCCUPANCY = 0.02
BETA = 0.5
#: The relaxation time 1/(2 D q^2) at the middle of the detector's q range, in frames.
TAU_FRAMES = 20
IMAGE_KEY = "eiger1m_single_image"
FINAL = ("completed", "failed", "cancelled")


def diffusion_coefficient() -> float:
    """D (Å²/s) that puts the relaxation time at mid q at :data:`TAU_FRAMES` frames."""
    q_per_pixel = 4 * np.pi / WAVELENGTH_A * np.sin(np.arctan(PIXEL_M / DISTANCE_M) / 2)
    q_mid = q_per_pixel * min(SHAPE) / 4
    return 1 / (2 * q_mid**2 * TAU_FRAMES * PERIOD_S)


def parameters(n_frames: int) -> dict:
    return {
        "shape": SHAPE,
        "n_frames": n_frames,
        "beam_center": BEAM_CENTER,
        "distance_m": DISTANCE_M,
        "wavelength_A": WAVELENGTH_A,
        "pixel_size_m": PIXEL_M,
        "diffusion": diffusion_coefficient(),
        "dt": PERIOD_S,
        "beta": BETA,
        # Mean counts that light about OCCUPANCY of the pixels (Poisson: 1 - exp(-mu) of them).
        "mean_counts": float(-np.log1p(-OCCUPANCY)),
        "seed": 7,
    }


def frame_file(cache: Path, n_frames: int) -> tuple[Path, dict]:
    """The simulated series as Eiger writes it (made once, then reused), and its ground truth."""
    from bench_sparse import cached_eiger_file

    from jupyterlab_raydata.analysis.synthetic import SpeckleParameters, iter_speckle_chunks

    params = parameters(n_frames)
    truth = SpeckleParameters(**params).truth()
    path = cache / f"eiger1m_{n_frames}_{OCCUPANCY:g}.h5"
    blocks = iter_speckle_chunks(chunk=64, **params)
    say = lambda t: print(f"\r  simulating {t}/{n_frames} frames", end="", flush=True)  # noqa: E731
    return cached_eiger_file(path, json.dumps(truth, sort_keys=True), n_frames, blocks, progress=say), truth


def open_catalog(folder: Path, readable: Path):
    """A writable client of a new tiled SQLite catalog in ``folder``, reading files under ``readable``."""
    from tiled.catalog import from_uri
    from tiled.structures.core import Spec

    from jupyterlab_raydata.catalog.sources import _serve_in_process

    (folder / "data").mkdir(parents=True, exist_ok=True)
    tree = from_uri(
        f"sqlite:///{folder / 'catalog.db'}",
        writable_storage=[str(folder / "data"), f"sqlite:///{folder / 'storage.db'}"],
        readable_storage=[str(readable), str(folder)],
        init_if_not_exists=True,
    )
    client = _serve_in_process(tree)
    client.create_container("raw", specs=[Spec("CatalogOfBlueskyRuns", version="3.0")])
    return client["raw"]


def write_run(writer, path: Path, truth: dict, scan_id: int) -> tuple[str, float]:
    """One acquisition's documents, as a RunEngine with an Eiger writes them; returns (uid, stop time)."""
    from event_model import compose_run

    from jupyterlab_raydata.catalog.demo import image_data_key, truth_keys

    n = truth["n_frames"]
    start = time.time() - n * PERIOD_S
    md = {
        "scan_id": scan_id,
        "plan_name": "count",
        "detectors": [IMAGE_KEY.removesuffix("_image")],
        "owner": "bench",
        "sample": "silica_bench",
        "beamline_id": "CHX",
        "auto_pipeline": "XPCS_SAXS_2way_pipeline",
        "number of images": n,
        "acquire period": PERIOD_S,
        "exposure time": PERIOD_S,
        **truth_keys(truth),
    }
    bundle = compose_run(metadata=md, time=start)
    writer("start", bundle.start_doc)
    resource = bundle.compose_resource(
        spec="AD_HDF5", root=str(path.parent), resource_path=path.name, resource_kwargs={"frame_per_point": n}
    )
    writer("resource", resource.resource_doc)
    frames = np.broadcast_to(np.zeros((), np.uint16), (n, *SHAPE))  # only its shape and dtype are read
    descriptor = bundle.compose_descriptor(
        name="primary", data_keys={IMAGE_KEY: image_data_key(frames, "PV:XF:11IDB-ES{Det:Eig1M}")}
    )
    writer("descriptor", descriptor.descriptor_doc)
    datum = resource.compose_datum(datum_kwargs={"point_number": 0})
    writer("datum", datum)
    t1 = time.time()
    writer(
        "event",
        descriptor.compose_event(
            data={IMAGE_KEY: datum["datum_id"]},
            timestamps={IMAGE_KEY: t1},
            filled={IMAGE_KEY: False},
            time=t1,
        ),
    )
    stopped = time.time()
    writer("stop", bundle.compose_stop(exit_status="success", time=stopped))
    return bundle.start_doc["uid"], stopped


class Watch:
    """Events of the server's bus, kept with the time each arrived."""

    def __init__(self, server: BenchServer):
        self.server = server
        self.received: list[tuple[float, dict]] = []
        self._stop = asyncio.Event()
        self._task = None

    async def __aenter__(self) -> Watch:
        self._task = asyncio.create_task(listen(self.server, self.received, self._stop))
        await asyncio.sleep(0.5)
        return self

    async def __aexit__(self, *exc) -> None:
        self._stop.set()
        await self._task

    def first(self, job_id: int, schema: str, **match) -> float | None:
        for at, message in self.received:
            if message.get("schema_id", "").endswith(schema) and message.get("id") == job_id:
                if all(message.get(k) == v for k, v in match.items()):
                    return at
        return None

    def figure(self, job_id: int, heading_start: str) -> float | None:
        for at, message in self.received:
            if message.get("schema_id", "").endswith("/job-figure") and message.get("id") == job_id:
                if message.get("heading", "").startswith(heading_start):
                    return at
        return None


def job_of(server: BenchServer, uid: str) -> dict | None:
    page = server.http.get("jobs", params={"limit": 100, "sort": "-id"}).json()["jobs"]
    return next((j for j in page if j["uid"] == uid), None)


async def wait_for_job(server: BenchServer, uid: str, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    job = None
    while time.monotonic() < deadline:
        job = await asyncio.to_thread(job_of, server, uid)
        if job is not None and job["state"] in FINAL:
            return job
        await asyncio.sleep(0.1)
    raise SystemExit(f"the job of run {uid} did not finish in {timeout:.0f} s (last seen: {job})")


def timeline(watch: Watch, job: dict, stopped: float) -> dict:
    folder = Path(job["folder"])
    mtime = lambda name: (folder / name).stat().st_mtime if (folder / name).exists() else None  # noqa: E731
    marks = {
        "queued": job["created"],
        "started": job["started"],
        "first figure": next(
            (
                at
                for at, m in watch.received
                if m.get("schema_id", "").endswith("/job-figure") and m["id"] == job["id"]
            ),
            None,
        ),
        "g2 figure": watch.figure(job["id"], "8."),
        "summary.json": mtime("summary.json"),
        "report.pdf": mtime("report.pdf"),
        "finished": job["finished"],
    }
    return {name: None if at is None else at - stopped for name, at in marks.items()}


def peak_rss_mb(job: dict) -> float | None:
    """The job's peak resident memory, kernel included, as its runner recorded it."""
    status = json.loads((Path(job["folder"]) / "status.json").read_text())
    return status.get("peak_rss_mb")


def section_times(job: dict) -> list[tuple[str, float]]:
    from bench_jobs import sections

    return sections(Path(job["folder"]) / "notebook.ipynb")


async def one_run(server, writer, path, truth, scan_id) -> dict:
    async with Watch(server) as watch:
        uid, stopped = await asyncio.to_thread(write_run, writer, path, truth, scan_id)
        job = await wait_for_job(server, uid, 1800)
        await asyncio.sleep(1.0)  # the last events
    summary_path = Path(job["folder"]) / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    return {"job": job, "marks": timeline(watch, job, stopped), "summary": summary}


async def stream(server, writer, path, truth, every: float, minutes: float, first_scan: int) -> list[dict]:
    rows = []
    async with Watch(server) as watch:
        began = time.monotonic()
        written = []
        scan = first_scan
        max_waiting = 0
        while time.monotonic() - began < minutes * 60:
            tick = time.monotonic()
            uid, stopped = await asyncio.to_thread(write_run, writer, path, truth, scan)
            written.append((uid, stopped))
            scan += 1
            while time.monotonic() - tick < every:
                page = await asyncio.to_thread(
                    server.http.get, "jobs", params={"state": "queued", "limit": 100}
                )
                max_waiting = max(max_waiting, len(page.json()["jobs"]))
                await asyncio.sleep(0.5)
        for uid, stopped in written:
            job = await wait_for_job(server, uid, 1800)
            rows.append({"job": job, "stopped": stopped})
        await asyncio.sleep(1.0)
    for row in rows:
        row["marks"] = timeline(watch, row["job"], row["stopped"])
    rows.append({"max_waiting": max_waiting})
    return rows


def warm_up(server, writer, path, truth) -> None:
    """A first, short job (quick_look on 100 frames of a run written for it), then time for the
    workers' standby kernels to start."""
    uid, _ = write_run(writer, path, truth, 0)
    body = {"template": "quick_look", "catalog": "bench", "uids": [uid], "parameters": {"max_frames": 100}}
    answer = server.http.post("jobs", json=body)
    if answer.status_code >= 400:
        raise SystemExit(f"the warm-up job was refused: {answer.text}")
    job = asyncio.run(wait_for_job(server, uid, 600))
    if job["state"] != "completed":
        raise SystemExit(f"the warm-up job did not complete: {job}")
    time.sleep(10)


def fmt(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:7.2f} s"


def report_one(result: dict, truth: dict) -> None:
    acquisition = truth["n_frames"] * PERIOD_S
    job, marks, summary = result["job"], result["marks"], result["summary"]
    print(f"  job {job['id']} {job['state']}{': ' + job['failure'] if job.get('failure') else ''}")
    for name, at in marks.items():
        print(f"  stop -> {name:<14}{fmt(at)}")
    total = job["finished"] - job["started"]
    print(
        f"  job (started -> finished) {total:.1f} s against {acquisition:.1f} s of acquisition: "
        f"{total / acquisition:.2f}x"
    )
    rss = peak_rss_mb(job)
    print(f"  peak RSS of the job (kernel included): {'-' if rss is None else f'{rss:,.0f} MB'}")
    d, d_true = summary.get("D_A2_per_s"), truth["diffusion_A2_per_s"]
    if d is not None:
        print(f"  D {d:.5g} Å²/s against the truth {d_true:.5g}: {100 * (d / d_true - 1):+.2f} %")
    else:
        print(f"  D not measured: {summary.get('D_note', job['state'])}")
    for heading, seconds in section_times(job):
        print(f"  {seconds:8.2f} s  {heading}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "raydata-bench")
    parser.add_argument("--no-stream", action="store_true", help="Only the one real-size run.")
    parser.add_argument("--every", type=float, default=20.0, help="Seconds between runs of the stream.")
    parser.add_argument("--minutes", type=float, default=5.0, help="Length of the stream.")
    args = parser.parse_args()

    path, truth = frame_file(args.cache, args.frames)
    work = Path(tempfile.mkdtemp(prefix="raydata-bench-realtime-"))
    client = open_catalog(work / "catalog", args.cache)
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

    writer = TiledWriter(client)
    raydata = {
        "data_dir": str(work / "state"),
        "catalogs": {
            "bench": {
                "kind": "sqlite",
                "path": str(work / "catalog" / "catalog.db"),
                "readable_storage": [str(args.cache), str(work / "catalog")],
            }
        },
        "max_running_jobs": 1,
        "max_running_jobs_per_user": 1,
    }
    root = work / "root"
    root.mkdir()
    with BenchServer(work, raydata, root=root, timeout=60) as server:
        answer = server.http.put("catalogs/bench/auto-analysis", json={"enabled": True})
        if answer.status_code >= 400:
            raise SystemExit(f"automatic analysis could not be turned on: {answer.text}")
        # The cluster starts with a server's first job: a short one first, as on a server that has been
        # running (its workers' standby kernels up). Automatic analysis takes runs that start after it.
        warm_up(server, writer, path, truth)
        time.sleep(args.frames * PERIOD_S + 0.5)
        print(
            f"One run: {args.frames} Eiger-1M frames at {OCCUPANCY:.0%}, "
            f"{args.frames * PERIOD_S:.0f} s at 1 kHz"
        )
        result = asyncio.run(one_run(server, writer, path, truth, 1))
        report_one(result, truth)
        if args.no_stream:
            return
        print(f"\nStream: a run every {args.every:.0f} s for {args.minutes:.0f} min, automatic analysis on")
        rows = asyncio.run(stream(server, writer, path, truth, args.every, args.minutes, 2))
        max_waiting = rows.pop()["max_waiting"]
        g2 = [r["marks"]["g2 figure"] for r in rows if r["marks"]["g2 figure"] is not None]
        states = [r["job"]["state"] for r in rows]
        print(f"  {len(rows)} runs, jobs {dict((s, states.count(s)) for s in set(states))}")
        print(f"  most jobs waiting at once: {max_waiting} (the queue grows if this keeps rising)")
        if g2:
            print(
                f"  stop -> g2 figure p50 {statistics.median(g2):.2f} s, p95 {percentile(g2, 95):.2f} s, "
                f"max {max(g2):.2f} s"
            )


if __name__ == "__main__":
    main()
