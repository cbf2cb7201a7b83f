"""The process that executes one job's notebook: ``python -m jupyterlab_raydata.jobs.execute FOLDER``.

The runner starts it in a process group of its own and kills that group (and the kernel's, which
jupyter_client starts in a session of its own) to cancel. Here papermill executes the template with the
job's parameters, saving the notebook after every cell; per-cell hooks report progress in
``status.json`` and write every image the notebook displays to ``figures/`` as its cell finishes, so any
template gets live figures without special code. Exit status: 0 completed, 1 failed.
"""

from __future__ import annotations

import base64
import logging
import os
import re
import resource
import shutil
import signal
import socket
import sys
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
    os._exit(128 + signum)


def _kernel_config():
    """The kernel's transport: Unix sockets in the folder the runner made for them (see
    :func:`~.runner.kernel_sockets_dir`), else jupyter's default."""
    from traitlets.config import Config

    sockets = os.environ.get(SOCKETS_ENV)
    if not sockets:
        return Config()
    return Config({"KernelManager": {"transport": "ipc", "ip": os.path.join(sockets, SOCKET_NAME)}})


def execute(folder: JobFolder) -> int:
    """Run the job in ``folder`` here and now; returns the exit status."""
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
    status.peak_rss_mb = _peak_rss_mb()
    progress.save()
    return 0 if status.state == "completed" else 1


def _peak_rss_mb() -> float:
    """The largest peak resident memory of this process and of its children that ended (the kernel)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024  # KiB on Linux


def _is_cell_error(exc: BaseException) -> bool:
    from papermill.exceptions import PapermillExecutionError

    return isinstance(exc, PapermillExecutionError)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m jupyterlab_raydata.jobs.execute JOB_FOLDER", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s"
    )
    signal.signal(signal.SIGTERM, _on_sigterm)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    try:
        return execute(JobFolder(Path(args[0])))
    finally:
        _remove_sockets()


if __name__ == "__main__":
    raise SystemExit(main())
