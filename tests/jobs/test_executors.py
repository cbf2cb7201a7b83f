"""Jobs as dask tasks: the configuration, a real LocalCluster, and a real one-node Slurm."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import dask
import dask.array
import psutil
import pytest
import yaml
from distributed import KilledWorker
from notebooks import prepare
from test_runner import gone, wait_for, waiting

from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.catalog.search import RunSearch
from jupyterlab_raydata.context import KernelSettings
from jupyterlab_raydata.errors import Unavailable
from jupyterlab_raydata.jobs.executors import ClusterConfig, DaskExecutor
from jupyterlab_raydata.jobs.folder import JobFolder
from jupyterlab_raydata.jobs.runner import RESTARTED, SOCKETS_ENV, run_job
from jupyterlab_raydata.jobs.submission import check_submission, job_spec
from jupyterlab_raydata.jobs.templates import TemplateRegistry

ROOT = Path(__file__).resolve().parents[2]


def test_the_default_is_a_local_cluster():
    config = ClusterConfig.parse({})
    assert config.is_local
    assert config.describe() == "LocalCluster"


def test_a_batch_queue_and_a_scheduler_address_describe_themselves():
    slurm = ClusterConfig.parse({"module": "dask_jobqueue", "class": "SLURMCluster", "adapt": {"maximum": 4}})
    assert not slurm.is_local
    assert slurm.describe() == "SLURMCluster (adaptive 0 to 4 jobs)"
    assert (
        ClusterConfig.parse({"address": "tcp://10.0.0.1:8786"}).describe()
        == "dask scheduler at tcp://10.0.0.1:8786"
    )


def test_a_bad_cluster_configuration_says_what_is_wrong():
    with pytest.raises(ValueError) as caught:
        ClusterConfig.parse({"class": "LocalCluster", "workers": 3})
    assert str(caught.value) == (
        "c.Raydata.cluster is not a valid cluster configuration: workers: Extra inputs are not permitted"
    )


def test_a_cluster_that_cannot_start_is_unavailable_with_the_reason():
    executor = DaskExecutor({"module": "dask.distributed", "class": "NoSuchCluster"})
    with pytest.raises(Unavailable) as caught:
        executor.client()
    assert caught.value.error == "The analysis cluster cannot be started"
    assert caught.value.detail == "NoSuchCluster: there is no class NoSuchCluster in dask.distributed"


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        # The worker's own temporary folder: jobs elsewhere on this host do not share its cores.
        patch.setenv("TMPDIR", str(tmp_path_factory.mktemp("worker-tmp")))
        executor = DaskExecutor({"kwargs": {"n_workers": 1, "threads_per_worker": 1}})
        executor.client()
    yield executor
    executor.close()


def test_the_cluster_does_not_become_the_process_default_scheduler(local):
    before = dask.config.get("scheduler", None)
    local.client()
    assert dask.config.get("scheduler", None) == before
    assert dask.array.ones(4).sum().compute() == 4.0  # still computed here, not on the job cluster


def test_a_job_is_one_task_on_a_local_worker_with_its_thread_budget(local, tmp_path):
    folder = prepare(tmp_path, ["import os\nprint(os.environ['RAYDATA_THREADS'])"], job_id="7")
    future = local.submit(folder)
    assert future.key == "raydata-job-7"
    status = future.result(timeout=120)
    assert status["state"] == "completed"
    assert status["threads"] == len(os.sched_getaffinity(0))  # alone on this host: every core


def test_cancel_through_the_executor_stops_a_running_job(local, tmp_path):
    pids = tmp_path / "pids"
    folder = prepare(tmp_path, waiting(pids), job_id="8")
    future = local.submit(folder)
    wait_for(lambda: (s := folder.status()) and s.heading == "Wait", what="the waiting cell")
    kernel, daemon = map(int, pids.read_text().split())
    local.cancel(folder)
    assert future.result(timeout=60)["state"] == "cancelled"
    assert gone(kernel) and gone(daemon)


def test_a_killed_worker_fails_the_task_once_and_leaves_no_kernel(tmp_path):
    executor = DaskExecutor({"kwargs": {"n_workers": 1, "threads_per_worker": 1}})
    try:
        pids = tmp_path / "pids"
        folder = prepare(tmp_path, waiting(pids), job_id="9")
        future = executor.submit(folder)
        wait_for(lambda: (s := folder.status()) and s.heading == "Wait", what="the waiting cell")
        kernel, daemon = map(int, pids.read_text().split())
        child = folder.status().pid
        sockets = Path(psutil.Process(child).environ()[SOCKETS_ENV])
        worker_pid = next(iter(executor.client().run(os.getpid).values()))
        os.kill(worker_pid, 9)
        with pytest.raises(KilledWorker):
            future.result(timeout=120)
        wait_for(
            lambda: all(gone(p) for p in (child, kernel, daemon)), timeout=30, what="the job's processes"
        )
        assert not sockets.exists()
    finally:
        executor.close()


def test_a_job_started_again_after_its_runner_was_lost_fails_without_running(tmp_path):
    folder = prepare(tmp_path, ["print('ran')"], job_id="10")
    assert run_job(folder.path, threads=1)["state"] == "completed"
    notebook = folder.notebook.read_bytes()

    again = run_job(folder.path, threads=1)

    assert (again["state"], again["failure"]) == ("failed", RESTARTED)
    assert folder.notebook.read_bytes() == notebook


# -- a running scheduler, given by its address -----------------------------------------------------


@pytest.fixture
def scheduler(tmp_path):
    """A dask scheduler and two one-thread workers, each a process of its own, as a facility runs them
    (with dask's default ``allowed-failures``: a task whose worker dies is started again)."""
    info = tmp_path / "scheduler.json"
    dask_cli = [str(Path(sys.executable).with_name("dask"))]
    # The workers' own temporary folder: jobs elsewhere on this host do not share their cores.
    env = {**os.environ, "DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES": "3", "TMPDIR": str(tmp_path)}
    processes = [
        subprocess.Popen(
            [*dask_cli, "scheduler", "--port", "0", "--no-dashboard", "--scheduler-file", str(info)], env=env
        )
    ]
    wait_for(info.exists, what="the scheduler file")
    for _ in range(2):
        processes.append(
            subprocess.Popen(
                [
                    *dask_cli,
                    "worker",
                    "--scheduler-file",
                    str(info),
                    "--nthreads",
                    "1",
                    "--no-nanny",
                    "--no-dashboard",
                ],
                env=env,
            )
        )
    address = json.loads(info.read_text())["address"]
    yield address, processes
    for process in processes:
        process.kill()
        process.wait()


def test_jobs_run_on_a_running_scheduler_and_a_lost_worker_is_not_retried(scheduler, tmp_path):
    address, _processes = scheduler
    executor = DaskExecutor({"address": address})
    try:
        wait_for(lambda: len(executor.client().scheduler_info()["workers"]) == 2, what="two workers")
        (tmp_path / "a").mkdir()
        folder = prepare(tmp_path / "a", ["import os\nprint(os.environ['RAYDATA_THREADS'])"], job_id="11")
        status = executor.submit(folder).result(timeout=120)
        assert (status["state"], status["threads"]) == ("completed", len(os.sched_getaffinity(0)))

        pids = tmp_path / "pids"
        (tmp_path / "b").mkdir()
        folder = prepare(tmp_path / "b", waiting(pids), job_id="12")
        future = executor.submit(folder)
        wait_for(lambda: (s := folder.status()) and s.heading == "Wait", what="the waiting cell")
        kernel, daemon = map(int, pids.read_text().split())
        os.kill(psutil.Process(folder.status().pid).ppid(), 9)  # the worker running the job

        # The scheduler starts the task on the other worker; the runner there refuses it.
        status = future.result(timeout=120)
        assert (status["state"], status["failure"]) == ("failed", RESTARTED)
        wait_for(lambda: gone(kernel) and gone(daemon), timeout=30, what="the lost job's processes")
    finally:
        executor.close()


# -- a real one-node Slurm -------------------------------------------------------------------------

JOBQUEUE_YAML = """
jobqueue:
  slurm:
    queue: debug
    cores: 1
    processes: 1
    memory: 2GB
    walltime: "00:30:00"
    log-directory: {logs}
"""


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    started = subprocess.run([str(ROOT / "scripts" / "slurm.sh"), "start"], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    logs = tmp_path_factory.mktemp("slurm-logs")
    # The settings a facility keeps in ~/.config/dask/jobqueue.yaml.
    with dask.config.set(yaml.safe_load(JOBQUEUE_YAML.format(logs=logs))):
        executor = DaskExecutor({"module": "dask_jobqueue", "class": "SLURMCluster", "adapt": {"maximum": 1}})
        yield executor
        executor.close()


def test_quick_look_runs_inside_a_slurm_allocation(slurm, tmp_path, jobs_demo_catalog):
    catalogs = {"demo": {"kind": "sqlite", "path": str(jobs_demo_catalog)}}
    settings = KernelSettings(
        catalogs=catalogs, data_dir=str(tmp_path / "data"), masks_dir=str(tmp_path / "masks")
    )
    registry = CatalogRegistry(catalogs, settings.data_dir)
    uid = registry.get("demo").search(RunSearch(q="plan_name=count", limit=1)).runs[0].uid
    submission = check_submission(
        TemplateRegistry([]), registry, settings, template="quick_look", catalog="demo", uids=[uid]
    )
    spec = job_spec(
        submission, submission.runs[0], job_id="s1", settings=settings, results_dir=tmp_path / "results"
    )
    folder = JobFolder(spec.folder)
    folder.create(spec)

    status = slurm.submit(folder).result(timeout=300)

    assert status["state"] == "completed", status["failure"]
    assert status["slurm_job_id"].isdigit()
    assert f"SLURM_JOB_ID={status['slurm_job_id']} " in folder.log.read_text()
    assert status["figures"] and all((folder.figures / f["file"]).is_file() for f in status["figures"])
    assert (folder.path / "summary.json").is_file()


def test_cancel_works_inside_slurm(slurm, tmp_path):
    pids = tmp_path / "pids"
    folder = prepare(tmp_path, waiting(pids), job_id="s2")
    future = slurm.submit(folder)
    wait_for(lambda: (s := folder.status()) and s.heading == "Wait", timeout=120, what="the waiting cell")
    kernel, daemon = map(int, pids.read_text().split())
    slurm.cancel(folder)
    status = future.result(timeout=60)
    assert status["state"] == "cancelled"
    assert status["slurm_job_id"].isdigit()
    assert gone(kernel) and gone(daemon)
