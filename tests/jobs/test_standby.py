"""Kernels started ahead of demand: a worker's next job finds its kernel up with the analysis imported,
and uses it alone; the job's environment, folder and threads reach that kernel."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import nbformat
import psutil
from notebooks import prepare
from test_runner import wait_for

from jupyterlab_raydata.jobs import standby
from jupyterlab_raydata.jobs.executors import DaskExecutor
from jupyterlab_raydata.jobs.runner import start_standby

CORES = len(os.sched_getaffinity(0))
REPORT = (
    "import json, os, sys, time, psutil\n"
    "print(json.dumps({'created': psutil.Process().create_time(), 'pid': os.getpid(), 'now': time.time(),\n"
    "    'job': os.environ['RAYDATA_JOB_ID'], 'threads': os.environ['RAYDATA_THREADS'], 'cwd': os.getcwd(),\n"
    "    'warm': 'jupyterlab_raydata.analysis.correlation' in sys.modules,\n"
    "    'clean': not {'compress', 'correlation', 'warm_up'} & set(globals())}))"
)


def standbys() -> list[psutil.Process]:
    """This test's standby processes that have started their kernel."""
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if "--standby" in p.cmdline() and p.children():
                found.append(p)
        except psutil.NoSuchProcess:
            continue
    return found


# 320 MB the kernel touches: the job's peak memory includes its kernel's.
ALLOCATE = "import numpy as np\nnp.ones(40_000_000).sum()"


def run(executor, tmp_path, job_id: str) -> tuple[dict, dict, Path]:
    (tmp_path / job_id).mkdir()
    folder = prepare(tmp_path / job_id, [ALLOCATE, REPORT], job_id=job_id)
    submitted = time.time()
    status = executor.submit(folder).result(timeout=120)
    printed = nbformat.read(folder.notebook, as_version=4).cells[-1].outputs[0]["text"]
    return {**json.loads(printed), "submitted": submitted}, status, folder.path


def test_each_job_takes_a_kernel_started_before_it_and_the_next_gets_a_new_one(tmp_path, monkeypatch):
    # The worker's own temporary folder: jobs elsewhere on this host do not share its cores.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    executor = DaskExecutor({"kwargs": {"n_workers": 1, "threads_per_worker": 1}})
    try:
        executor.client()
        wait_for(standbys, timeout=120, what="a standby kernel")
        first, status, path = run(executor, tmp_path, "1")
        assert status["state"] == "completed"
        assert first["created"] < first["submitted"]  # its kernel was up before the job existed
        assert (first["job"], first["threads"], first["cwd"]) == ("1", str(CORES), str(path))
        assert (first["warm"], first["clean"]) == (True, True)  # imports done, the namespace empty
        assert "# Kernel started ahead of the job (standby)\n" in (path / "log.txt").read_text()
        assert status["pid"] != first["pid"]  # the job's process, whose kernel this was
        assert 320 < status["peak_rss_mb"] < 320 + 1000

        wait_for(standbys, timeout=120, what="the next standby kernel")
        second, status, path = run(executor, tmp_path, "2")
        assert status["state"] == "completed"
        assert second["pid"] != first["pid"]  # one kernel, one job
        assert first["now"] < second["created"] < second["submitted"]
        assert (second["job"], second["cwd"]) == ("2", str(path))
        waiting = wait_for(standbys, timeout=120, what="the third standby kernel")[0]
        sockets = Path(waiting.environ()["RAYDATA_KERNEL_SOCKETS"])
        assert sockets.is_dir()
    finally:
        executor.close()
    wait_for(lambda: not standbys(), timeout=30, what="the standby to end with its worker")
    wait_for(lambda: not sockets.exists(), timeout=30, what="the standby's sockets to be removed")


def test_a_pool_keeps_one_standby_for_jobs_of_its_kernel(tmp_path):
    pool = standby.StandbyPool(start_standby)
    pool.fill()
    try:
        assert pool.take("julia-1.10") is None  # another kernel's job starts its own
        waiting = pool.take(standby.KERNEL)
        assert waiting is not None and waiting.alive()
        assert pool.take(standby.KERNEL) is None  # taken: the next job needs a new one
        pool.fill()
        refilled = pool.take(standby.KERNEL)
        assert refilled is not None and refilled.process.pid != waiting.process.pid
    finally:
        pool.close()
    for gone in (waiting, refilled):
        gone.close()
        assert gone.process.returncode == 0  # an empty standard input ends it
        assert not Path(gone.sockets).exists()


def test_a_standby_that_cannot_start_its_kernel_is_not_taken(tmp_path, caplog):
    broken = standby.Standby("no-such-kernel", str(tmp_path / "sockets"), dict(os.environ))
    pool = standby.StandbyPool(lambda: broken)
    pool.fill()
    wait_for(lambda: not broken.alive(), timeout=60, what="the broken standby to end")
    assert pool.take("no-such-kernel") is None
    assert "A standby kernel ended by itself (exit 1)" in caplog.text
    assert "NoSuchKernel" in caplog.text
    pool.close()
