"""The runner on small notebooks in real kernels: progress, live figures, failures, cancel, thread budget."""

from __future__ import annotations

import base64
import os
import signal
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import numpy as np
import psutil
import pytest
from notebooks import prepare

from jupyterlab_raydata.jobs import runner
from jupyterlab_raydata.jobs.folder import JobFolder, JobStatus
from jupyterlab_raydata.jobs.runner import SOCKETS_ENV, run_job

PLOT = "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()"


def wait_for(condition, timeout=60.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def start(folder: JobFolder, **kwargs) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(run_job(folder.path, **kwargs)), daemon=True)
    thread.start()
    return thread, result


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_a_job_runs_its_notebook_and_reports_progress_and_figures(tmp_path):
    folder = prepare(
        tmp_path,
        [
            "# Setup",
            "x = factor * 21",
            "# Plots",
            PLOT,
            "# Result",
            "import os\nprint(x, uid, catalog, output_dir == os.getcwd(), os.environ['RAYDATA_THREADS'])",
        ],
        parameters={"factor": 2},
    )
    status = JobStatus(**run_job(folder.path, threads=1))

    assert status.state == "completed"
    assert status.failure is None
    # The parameters cell, papermill's injected-parameters cell and three cells of ours.
    assert (status.cells_total, status.cells_done) == (5, 5)
    assert [f.model_dump() for f in status.figures] == [
        {"file": "cell005-1.png", "cell": 5, "heading": "Plots"}
    ]
    assert status.threads == 1 and status.pid is not None and status.finished >= status.started

    nb = nbformat.read(folder.notebook, as_version=4)
    figure = (folder.figures / "cell005-1.png").read_bytes()
    assert figure == base64.b64decode(nb.cells[5].outputs[-1]["data"]["image/png"])
    assert nb.cells[7].outputs[0]["text"] == "42 0123456789abcdef demo True 1\n"
    assert nb.cells[1].metadata["tags"] == ["injected-parameters"]
    assert "# Thread budget 1\n" in folder.log.read_text()
    assert folder.status() == status


FAILING = "raise ValueError('no photons in ring 3\\nsee the mask')"


def test_a_failure_names_cell_section_and_error_and_keeps_the_partial_notebook(tmp_path):
    folder = prepare(
        tmp_path,
        [
            "# Load",
            "a = 1",
            "# Fit",
            "raise ValueError('no photons in ring 3\\nsee the mask')",
            "# Report",
            "b = 2",
        ],
    )
    status = JobStatus(**run_job(folder.path, threads=1))

    assert status.state == "failed"
    assert status.failure == "Cell [4] (Fit): ValueError: no photons in ring 3"
    nb = nbformat.read(folder.notebook, as_version=4)
    assert [c.get("execution_count") for c in nb.cells if c.cell_type == "code"] == [1, 2, 3, 4, None]
    log = folder.log.read_text()
    assert "Traceback of the failing cell" in log and "see the mask" in log


WAIT_FOR = "import pathlib, time\nwhile not pathlib.Path({path!r}).exists():\n    time.sleep(0.05)"


def test_a_figure_is_on_disk_while_the_job_still_runs(tmp_path):
    gate = tmp_path / "gate"
    folder = prepare(
        tmp_path,
        [
            "# Plot",
            PLOT,
            "# Wait",
            f"import pathlib, time\nwhile not pathlib.Path({str(gate)!r}).exists():\n    time.sleep(0.05)",
        ],
    )
    thread, result = start(folder, threads=1)
    wait_for(lambda: (folder.figures / "cell003-1.png").exists(), what="the figure")
    status = wait_for(lambda: (s := folder.status()) and s.heading == "Wait" and s, what="the next cell")
    assert thread.is_alive()
    assert status.state == "running"
    assert [f.file for f in status.figures] == ["cell003-1.png"]
    gate.touch()
    thread.join(60)
    assert result["state"] == "completed"


SLEEP = "import time\ntime.sleep(1000)"
STARTS_A_DAEMON = (
    "import os, pathlib, subprocess\n"
    "daemon = subprocess.Popen(['sleep', '1000'], start_new_session=True)\n"
    "pathlib.Path({path!r}).write_text(f'{{os.getpid()}} {{daemon.pid}}')"
)


def waiting(pids: Path) -> list[str]:
    """Cells that start a daemon in a session of its own, record the kernel's and its pid, then wait."""
    return ["# Start", STARTS_A_DAEMON.format(path=str(pids)), "# Wait", SLEEP]


def start_waiting(tmp_path: Path):
    """Start a job of :func:`waiting` cells and wait for its last cell: the job's folder, thread and
    result, and the pids of its kernel and of the daemon the kernel started."""
    pids = tmp_path / "pids"
    folder = prepare(tmp_path, waiting(pids))
    thread, result = start(folder, threads=1)
    wait_for(lambda: (s := folder.status()) and s.heading == "Wait", what="the waiting cell")
    kernel, daemon = map(int, pids.read_text().split())
    return folder, thread, result, kernel, daemon


def test_cancel_stops_the_job_its_kernel_and_what_the_kernel_started(tmp_path):
    folder, thread, result, kernel, daemon = start_waiting(tmp_path)
    child = folder.status().pid
    # Three sessions: the job's process, the kernel (jupyter_client starts it in its own) and the daemon.
    groups = {os.getpgid(pid) for pid in (child, kernel, daemon)}
    assert len(groups) == 3

    folder.request_cancel()
    thread.join(30)

    assert not thread.is_alive()
    assert result["state"] == "cancelled"
    assert folder.status().state == "cancelled"
    assert all(gone(pid) for pid in (child, kernel, daemon))
    left = [
        p.pid
        for p in psutil.process_iter(["status"])
        if p.info["status"] != psutil.STATUS_ZOMBIE and _pgid(p.pid) in groups
    ]
    assert left == []


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def test_a_job_cancelled_before_it_starts_never_runs(tmp_path):
    folder = prepare(tmp_path, ["raise RuntimeError('must not run')"])
    folder.request_cancel()
    status = JobStatus(**run_job(folder.path))
    assert status.state == "cancelled"
    assert status.started is None
    assert not folder.notebook.exists()


def test_a_killed_job_process_fails_the_job_and_takes_its_kernel_along(tmp_path):
    folder, thread, result, kernel, _ = start_waiting(tmp_path)
    sockets = Path(psutil.Process(folder.status().pid).environ()[SOCKETS_ENV])
    assert sorted(p.name for p in sockets.iterdir()) == ["k-1", "k-2", "k-3", "k-4", "k-5"]
    os.kill(folder.status().pid, signal.SIGKILL)
    thread.join(30)

    assert result["state"] == "failed"
    assert result["failure"] == "The job's process was killed by signal 9; the partial notebook is kept."
    assert folder.notebook.exists()
    assert not sockets.exists()
    wait_for(lambda: gone(kernel), timeout=30, what="the orphaned kernel to stop")


@pytest.mark.parametrize("threads", [1, 2])
def test_the_thread_budget_reaches_the_kernel(tmp_path, threads):
    names = [
        "RAYDATA_THREADS",
        "OMP_NUM_THREADS",
        "OPENBLAS_NUM_THREADS",
        "MKL_NUM_THREADS",
        "NUMBA_NUM_THREADS",
    ]
    folder = prepare(tmp_path, [f"import os\nprint([os.environ[n] for n in {names!r}])"])
    status = JobStatus(**run_job(folder.path, threads=threads))
    nb = nbformat.read(folder.notebook, as_version=4)
    assert status.threads == threads
    assert nb.cells[2].outputs[0]["text"] == f"{[str(threads)] * 5}\n"


def test_the_kernel_talks_over_unix_sockets_in_a_folder_of_its_own(tmp_path):
    """No TCP ports: kernels that other processes start at the same moment cannot be given the same."""
    folder = prepare(
        tmp_path,
        [
            "import json, os\nfrom ipykernel.connect import get_connection_info\n"
            "info = json.loads(get_connection_info())\n"
            "print(info['transport'], info['ip'], sorted(os.listdir(os.path.dirname(info['ip']))))"
        ],
    )
    status = JobStatus(**run_job(folder.path, threads=1))
    assert status.state == "completed"
    printed = nbformat.read(folder.notebook, as_version=4).cells[2].outputs[0]["text"]
    transport, ip, files = printed.split(" ", 2)
    assert transport == "ipc"
    assert Path(ip).name == "k" and Path(ip).parent.name.startswith("raydata-kernel-")
    assert files == "['k-1', 'k-2', 'k-3', 'k-4', 'k-5']\n"
    assert not Path(ip).parent.exists()


def test_no_room_for_the_kernel_sockets_fails_the_job_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    monkeypatch.setattr(runner, "_SOCKET_PARENTS", (None,))
    folder = prepare(tmp_path, ["print(1)"])
    status = JobStatus(**run_job(folder.path, threads=1))
    assert status.state == "failed"
    missing = f"[Errno 2] No such file or directory: '{tmp_path / 'missing'}/raydata-kernel-"
    assert status.failure.startswith(f"The job's kernel cannot be started: {missing}")
    assert not folder.notebook.exists()


def test_a_job_records_its_peak_memory_its_kernel_included(tmp_path):
    folder = prepare(tmp_path, ["import numpy as np\nnp.ones(40_000_000).sum()"])  # 320 MB, touched
    # A runner far larger than its job (a busy worker): the job's processes do not report its size.
    ballast = np.ones(200_000_000)  # 1.6 GB, touched
    status = JobStatus(**run_job(folder.path, threads=1))
    del ballast
    assert status.state == "completed"
    assert 320 < status.peak_rss_mb < 320 + 1000
