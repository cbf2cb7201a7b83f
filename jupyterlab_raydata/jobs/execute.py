"""The process that executes one job's notebook: ``python -m jupyterlab_raydata.jobs.execute FOLDER``.

The runner starts it in a process group of its own and kills that group (and the kernel's, which
jupyter_client starts in a session of its own) to cancel. Here papermill executes the template with the
job's parameters, saving the notebook after every cell; per-cell hooks report progress in
``status.json`` and write every image the notebook displays to ``figures/`` as its cell finishes, so any
template gets live figures without special code. Exit status: 0 completed, 1 failed.

``python -m jupyterlab_raydata.jobs.execute --standby KERNEL`` starts the process ahead of its job (see
:mod:`~jupyterlab_raydata.jobs.standby`): it starts the kernel, runs :data:`WARM_UP` in it, then reads its
job from standard input (one JSON line: its folder, environment and threads), writes to the job's log,
gives the kernel the job's environment, folder and thread budget, and runs the job as above. An empty
standard input ends it.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import re
import resource
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

from .folder import Figure, JobFolder, JobStatus
from .processes import kill_tree
from .runner import SOCKET_NAME, SOCKETS_ENV

log = logging.getLogger("raydata.job")

_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/svg+xml": "svg"}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def section_headings(cells) -> list[str]:
    """For every cell, the nearest markdown heading at or above it ("" before the first)."""
    out, current = [], ""
    for cell in cells:
        if cell.get("cell_type") == "markdown":
            found = _HEADING.findall(cell.get("source", ""))
            if found:
                current = found[-1].strip()
        out.append(current)
    return out


def _runs(cell) -> bool:
    # nbclient skips empty code cells without calling any hook.
    return cell.get("cell_type") == "code" and bool(cell.get("source", "").strip())


class Progress:
    """nbclient hooks that keep ``status.json`` and ``figures/`` current as the notebook runs."""

    def __init__(self, folder: JobFolder, status: JobStatus):
        self.folder = folder
        self.status = status
        self.headings: list[str] = []
        self._lock = threading.Lock()

    def save(self) -> None:
        with self._lock:
            self.folder.write_status(self.status)

    def notebook_start(self, notebook, **_):
        self.headings = section_headings(notebook.cells)
        self.status.cells_total = sum(1 for c in notebook.cells if _runs(c))
        self.save()

    def cell_start(self, cell, cell_index, **_):
        self.status.cell = cell_index
        self.status.heading = self.headings[cell_index] if cell_index < len(self.headings) else ""
        self.save()

    def cell_executed(self, cell, cell_index, **_):
        self._write_figures(cell, cell_index)
        self.status.cells_done += 1
        self.save()

    def _write_figures(self, cell, cell_index) -> None:
        n = 0
        for output in cell.get("outputs", []):
            data = output.get("data") or {}
            kind = next((k for k in _IMAGE_TYPES if k in data), None)
            if kind is None:
                continue
            n += 1
            name = f"cell{cell_index:03d}-{n}.{_IMAGE_TYPES[kind]}"
            payload = data[kind]
            if isinstance(payload, list):
                payload = "".join(payload)
            raw = payload.encode() if kind == "image/svg+xml" else base64.b64decode(payload)
            (self.folder.figures / name).write_bytes(raw)
            heading = self.headings[cell_index] if cell_index < len(self.headings) else ""
            self.status.figures.append(Figure(file=name, cell=cell_index, heading=heading))


def failure_summary(exc: BaseException, headings: list[str]) -> str:
    """One line: the failing cell (as the notebook numbers it) and section, exception type and message."""
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        where = f"Cell [{exc.exec_count}]" if exc.exec_count else f"Cell {exc.cell_index}"
        heading = headings[exc.cell_index] if 0 <= exc.cell_index < len(headings) else ""
        if heading:
            where += f" ({heading})"
        message = strip_ansi(str(exc.evalue)).strip().splitlines()
        return f"{where}: {exc.ename}: {message[0] if message else ''}".rstrip(": ")
    message = strip_ansi(str(exc)).strip().splitlines()
    return f"{type(exc).__name__}: {message[0] if message else ''}".rstrip(": ")


def _watch_parent(parent: int) -> None:
    """Stop everything if the runner dies (a killed dask worker must not leave a kernel behind, nor
    its sockets, which the runner would have removed)."""
    while True:
        time.sleep(0.5)
        if os.getppid() != parent:
            kill_tree(os.getpid(), include_self=False)
            _remove_sockets()
            os._exit(3)


def _remove_sockets() -> None:
    """Remove the kernel's sockets; the runner does too, unless it died first."""
    if os.environ.get(SOCKETS_ENV):
        shutil.rmtree(os.environ[SOCKETS_ENV], ignore_errors=True)


def _on_sigterm(signum, frame):
    kill_tree(os.getpid(), include_self=False)
    _remove_sockets()  # a standby's runner may not be there to
    os._exit(128 + signum)


def _kernel_config():
    """The kernel's transport: Unix sockets in the folder the runner made for them (see
    :func:`~.runner.kernel_sockets_dir`), else jupyter's default."""
    from traitlets.config import Config

    sockets = os.environ.get(SOCKETS_ENV)
    if not sockets:
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, SOCKET_NAME)}})


#: What a standby kernel runs before its job is known: the analysis stack imported and its compiled
#: kernels loaded, in a function so that the notebook's namespace stays empty.
WARM_UP = """
def _raydata_warm_up():
    import h5py, matplotlib, scipy.optimize, scipy.stats, tqdm
    import jupyterlab_raydata.context
    from jupyterlab_raydata.analysis import (
        compress, correlation, fits, geometry, masks, preprocess, report, rois, xsvs,
    )
    from jupyterlab_raydata.analysis.warmup import warm_up
    warm_up()
_raydata_warm_up()
del _raydata_warm_up
"""

#: What a standby kernel runs once its job is known, before the notebook.
JOB_SETUP = """
def _raydata_job(env, folder, threads):
    import os
    from jupyterlab_raydata.analysis.threads import set_process_threads
    os.environ.update(env)
    os.chdir(folder)
    set_process_threads(threads)
_raydata_job({env!r}, {folder!r}, {threads!r})
del _raydata_job
"""


def _run_quietly(km, code: str, timeout: float = 300) -> None:
    """Run ``code`` in the kernel of ``km`` without output or history; raise if it fails."""
    kc = km.client()
    kc.start_channels()
    try:
        kc.wait_for_ready(timeout=60)
        reply = kc.execute_interactive(code, silent=True, store_history=False, timeout=timeout)
    finally:
        kc.stop_channels()
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(f"{content.get('ename')}: {content.get('evalue')}")


def standby(kernel_name: str) -> int:
    """Start a kernel and warm it up, wait for a job on standard input, run it; the exit status."""
    from jupyter_client.manager import KernelManager

    # nbclient leaves the channels of its client to a kernel it did not start open for their owner, and
    # the client says so when it is collected; the kernel's end (below) closes them.
    logging.getLogger("traitlets").addFilter(lambda record: "Could not destroy zmq context" not in record.msg)
    km = KernelManager(kernel_name=kernel_name, config=_kernel_config())
    km.start_kernel(cwd=tempfile.gettempdir())
    try:
        _run_quietly(km, WARM_UP)
        import papermill  # noqa: F401  (seconds to import: not once the job has come)

        line = sys.stdin.readline()
        if not line.strip():
            return 0
        job = json.loads(line)
        folder = JobFolder(Path(job["folder"]))
        log_fd = os.open(folder.log, os.O_WRONLY | os.O_APPEND)
        os.dup2(log_fd, 1)
        os.dup2(log_fd, 2)
        os.close(log_fd)
        os.environ.update(job["env"])
        os.chdir(folder.path)
        _run_quietly(km, JOB_SETUP.format(env=job["env"], folder=str(folder.path), threads=job["threads"]))
        return execute(folder, km=km)
    finally:
        km.shutdown_kernel(now=True)


def execute(folder: JobFolder, *, km=None) -> int:
    """Run the job in ``folder`` here and now (in the kernel of ``km`` if given, else a new one); returns
    the exit status."""
    import papermill

    spec = folder.spec()
    status = folder.status() or JobStatus(job_id=spec.job_id)
    status.state = "running"
    status.started = time.time()
    status.host = socket.gethostname()
    status.pid = os.getpid()
    status.slurm_job_id = os.environ.get("SLURM_JOB_ID")
    threads = os.environ.get("RAYDATA_THREADS")
    status.threads = int(threads) if threads else None
    progress = Progress(folder, status)
    progress.save()
    try:
        papermill.execute_notebook(
            spec.template_path,
            str(folder.notebook),
            parameters=spec.injected(),
            kernel_name=spec.kernel,
            cwd=str(folder.path),
            request_save_on_cell_execute=True,
            progress_bar=False,
            log_output=True,
            on_notebook_start=progress.notebook_start,
            on_cell_start=progress.cell_start,
            on_cell_executed=progress.cell_executed,
            config=_kernel_config(),
            km=km,
        )
    except Exception as exc:
        summary = failure_summary(exc, progress.headings)
        log.error("Job failed: %s", summary, exc_info=not _is_cell_error(exc))
        if _is_cell_error(exc):
            log.error("Traceback of the failing cell:\n%s", strip_ansi("\n".join(exc.traceback)))
        status.state, status.failure = "failed", summary
    else:
        status.state = "completed"
    status.finished = time.time()
    status.cell, status.heading = None, ""
    status.peak_rss_mb = _peak_rss_mb(km)
    progress.save()
    return 0 if status.state == "completed" else 1


def _peak_rss_mb(km=None) -> float:
    """The largest peak resident memory of this process, of its children that ended (a kernel papermill
    started and stopped) and of the kernel of ``km`` (still running).

    This process's own peak is read from /proc: ``getrusage`` keeps, across ``exec``, the peak of the
    process it was forked from (the dask worker, or a test runner). A child's peak from ``getrusage``
    can hold this process's size when it forked the child, about 100 MB.
    """
    pid = getattr(getattr(km, "provisioner", None), "pid", None)
    peaks_kib = [_peak_kib("self"), resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss]
    if pid is not None:
        peaks_kib.append(_peak_kib(pid))
    return max(peaks_kib) / 1024


def _peak_kib(pid) -> int:
    """A running process's peak resident memory (``VmHWM``), 0 if it has ended."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def _is_cell_error(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    return isinstance(exc, PapermillExecutionError)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (1, 2) or (len(args) == 2 and args[0] != "--standby"):
        print(
            "usage: python -m jupyterlab_raydata.jobs.execute (JOB_FOLDER | --standby KERNEL)",
            file=sys.stderr,
        )
        return 2
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        return standby(args[1]) if len(args) == 2 else execute(JobFolder(Path(args[0])))
    finally:
        _remove_sockets()


if __name__ == "__main__":
    raise SystemExit(main())
