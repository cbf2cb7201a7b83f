"""Dispatchers on a job store: two (two servers of one user) on one store run every job exactly once,
within the global limit, on SQLite and on a real PostgreSQL; a running job's progress keeps flowing
while the dispatcher is busy starting another."""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest
from notebooks import write_notebook

from jupyterlab_raydata.context import KernelSettings
from jupyterlab_raydata.jobs.dispatcher import Dispatcher, DispatcherTimes, Limits
from jupyterlab_raydata.jobs.executors import DaskExecutor
from jupyterlab_raydata.jobs.folder import JobSpec
from jupyterlab_raydata.jobs.store import JobQuery, JobStore, NewJob

RECORD = "import os\nwith open({path!r}, 'a') as f:\n    f.write(os.environ['RAYDATA_JOB_ID'] + '\\n')"
JOBS = 6


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'jobs.db'}"
    return request.getfixturevalue("postgres_url")


def spec_for(record, template: Path, work: Path) -> JobSpec:
    """What a dispatcher runs for ``record``: ``template`` in a folder of its own attempt under ``work``."""
    return JobSpec(
        job_id=str(record.id),
        template=template.stem,
        template_path=str(template),
        catalog=record.catalog,
        uid=record.uid,
        settings=KernelSettings(data_dir=str(work / "data"), masks_dir=str(work / "masks")),
        folder=str(work / "results" / f"job-{record.id}-attempt{record.attempts}"),
    )


def test_two_dispatchers_on_one_store_run_every_job_once(store_url, tmp_path):
    ran = tmp_path / "ran.txt"
    template = write_notebook(tmp_path / "record.ipynb", ["# Record", RECORD.format(path=str(ran))])

    def prepare(record) -> JobSpec:
        return spec_for(record, template, tmp_path)

    stores = [JobStore(store_url), JobStore(store_url)]
    stores[0].add(
        [
            NewJob(
                owner="alice",
                catalog="demo",
                uid=f"{i:032x}",
                scan_id=i,
                template="record",
                parameters={},
                mask=None,
            )
            for i in range(JOBS)
        ]
    )
    executors = [
        DaskExecutor({"kwargs": {"n_workers": 2, "threads_per_worker": 1, "processes": False}})
        for _ in range(2)
    ]
    dispatchers = [
        Dispatcher(
            store,
            executor,
            owner="alice",
            server_key=f"server-{n}",
            prepare=prepare,
            emit=lambda schema, data: None,
            limits=Limits(total=2, per_user=2),
            times=DispatcherTimes(tick=0.05),
        )
        for n, (store, executor) in enumerate(zip(stores, executors, strict=True))
    ]
    try:
        for dispatcher in dispatchers:
            dispatcher.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            jobs = stores[0].list(JobQuery(limit=100)).jobs
            if all(j.state in ("completed", "failed", "cancelled") for j in jobs):
                break
            time.sleep(0.2)
    finally:
        for dispatcher in dispatchers:
            dispatcher.stop()
        for executor in executors:
            executor.close()

    jobs = stores[0].list(JobQuery(limit=100, sort="id")).jobs
    assert [j.state for j in jobs] == ["completed"] * JOBS
    assert [j.attempts for j in jobs] == [1] * JOBS
    assert sorted(ran.read_text().split()) == sorted(str(j.id) for j in jobs)
    # Never more than the global limit at once: count overlaps at every start.
    for job in jobs:
        overlapping = [o for o in jobs if o.started <= job.started < o.finished]
        assert len(overlapping) <= 2
    assert {j.server_id for j in jobs} <= {d.server_id for d in dispatchers}
    for store in stores:
        store.close()


def test_progress_flows_while_another_job_is_slow_to_start(tmp_path):
    # Starting a job can take long (a remote catalog checks its run); the running job's progress
    # must still reach browsers meanwhile.
    go_on = tmp_path / "go-on"
    template = write_notebook(
        tmp_path / "steps.ipynb",
        [
            "# First",
            "x = 1",
            "# Second",
            "x = 2",
            "# Wait",
            f"import os, time\nwhile not os.path.exists({str(go_on)!r}):\n    time.sleep(0.05)",
        ],
    )
    catalog_answers = threading.Event()

    def prepare(record) -> JobSpec:
        if record.id == 2:
            catalog_answers.wait(300)
        return spec_for(record, template, tmp_path)

    emitted: queue.Queue = queue.Queue()
    store = JobStore(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.add(
        [NewJob(owner="alice", catalog="demo", uid=f"{i:032x}", scan_id=i, template="steps") for i in (1, 2)]
    )
    executor = DaskExecutor({"kwargs": {"n_workers": 2, "threads_per_worker": 1, "processes": False}})
    dispatcher = Dispatcher(
        store,
        executor,
        owner="alice",
        server_key="server",
        prepare=prepare,
        emit=lambda schema, data: emitted.put((schema, data)),
        limits=Limits(total=2, per_user=2),
        times=DispatcherTimes(tick=0.05),
    )
    headings = []
    try:
        dispatcher.start()
        while "Wait" not in headings:
            _schema, data = emitted.get(timeout=180)
            if data["id"] == 1 and data["reason"] == "progress":
                headings.append(data["heading"])
        # Job 2 is still being prepared the whole time: the dispatching thread never got back.
        assert not catalog_answers.is_set()
        assert store.get(2).state == "running" and store.get(2).folder is None
    finally:
        go_on.touch()
        catalog_answers.set()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and {store.get(i).state for i in (1, 2)} != {"completed"}:
            time.sleep(0.2)
        dispatcher.stop()
        executor.close()
    assert [store.get(i).state for i in (1, 2)] == ["completed", "completed"]
    assert headings[-1] == "Wait"
    assert (store.get(1).cells_done, store.get(1).cells_total) == (5, 5)
    store.close()
