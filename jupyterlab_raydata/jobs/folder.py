"""A job's folder: where it lands in the user's files, and the files through which the runner reports.

One job is one template run on one run, in its own folder
``<results>/<catalog>/<scan_id>-<uid[:8]>/<template>-<job id>/`` holding

* ``job.json``: the :class:`JobSpec` (what to run; written before the job starts);
* ``notebook.ipynb``: the executed notebook, saved after every cell;
* ``figures/``: every image the notebook displays, written as its cell finishes;
* ``status.json``: the :class:`JobStatus` (state, progress, figures, failure), replaced atomically;
* ``log.txt``: where it ran, the cells' output and any traceback;
* the template's own results (``results.h5``, ``summary.json``, ``report.pdf``).

The folder is the whole contract between the runner, which may be on a cluster node, and whoever
watches it (the command line, the server's queue): both only need a shared file system.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from ..catalog.record import RunRecord
from ..kernel_settings import KernelSettings

JobState = Literal["queued", "running", "completed", "failed", "cancelled"]
FINAL_STATES = ("completed", "failed", "cancelled")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class JobSpec(BaseModel):
    """What one job runs: a validated template, its parameters and the run, in a known folder."""

    job_id: str
    template: str
    template_path: str
    kernel: str = "python3"
    catalog: str
    uid: str
    scan_id: int | None = None
    parameters: dict[str, Any] = Field(default_factory=dict, description="The template's own, validated.")
    mask: str | None = None
    settings: KernelSettings
    folder: str
    run: RunRecord | None = Field(None, description="The run as the server resolved it when the job started.")

    def injected(self) -> dict[str, Any]:
        """Every parameter the notebook gets: its own, then the ones the runner injects."""
        return {
            **self.parameters,
            "catalog": self.catalog,
            "uid": self.uid,
            "mask": self.mask or "",
            "output_dir": self.folder,
        }


class Figure(BaseModel):
    """One image the notebook displayed, in order of appearance."""

    file: str = Field(description="File name under figures/.")
    cell: int = Field(description="Index of the producing cell in the executed notebook.")
    heading: str = Field("", description="The nearest markdown heading above that cell.")


class JobStatus(BaseModel):
    """A job's progress as its runner reports it."""

    job_id: str
    state: JobState = "queued"
    cells_total: int = 0
    cells_done: int = 0
    cell: int | None = Field(None, description="Index of the cell running now.")
    heading: str = Field("", description="The heading of the section running now.")
    started: float | None = None
    finished: float | None = None
    updated: float = Field(default_factory=time.time)
    host: str = ""
    pid: int | None = None
    slurm_job_id: str | None = None
    threads: int | None = None
    figures: list[Figure] = Field(default_factory=list)
    failure: str | None = Field(None, description="One line: where and why it failed.")
    peak_rss_mb: float | None = Field(
        None,
        description="Once it ended: the peak resident memory of its largest process (kernel included), MB.",
    )

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


def _safe(part: str) -> str:
    return _UNSAFE.sub("_", part).strip("._") or "_"


def job_folder(
    results: Path, catalog: str, scan_id: int | None, uid: str, template: str, job_id: str
) -> Path:
    """The folder of one job under the results folder (every path part made file-system safe)."""
    run = f"{scan_id if scan_id is not None else 'run'}-{uid[:8]}"
    return Path(results) / _safe(catalog) / _safe(run) / _safe(f"{template}-{job_id}")


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` in one step, so a reader never sees half a file."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class JobFolder:
    """The files of one job (see the module docstring)."""

    SPEC = "job.json"
    STATUS = "status.json"
    NOTEBOOK = "notebook.ipynb"
    LOG = "log.txt"
    FIGURES = "figures"
    CANCEL = "cancel-requested"
    HEARTBEAT = "runner-alive"
    #: The runner's own marks: not a job's results, so never listed among its files.
    MARKS = frozenset({CANCEL, HEARTBEAT})

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @property
    def notebook(self) -> Path:
        return self.path / self.NOTEBOOK

    @property
    def log(self) -> Path:
        return self.path / self.LOG

    @property
    def figures(self) -> Path:
        return self.path / self.FIGURES

    def create(self, spec: JobSpec) -> None:
        """Make the folder and record what it will run (refuses a folder that already holds a job)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.figures.mkdir(exist_ok=True)
        if (self.path / self.SPEC).exists():
            raise FileExistsError(f"{self.path} already holds a job")
        write_atomic(self.path / self.SPEC, spec.model_dump_json(indent=1))
        self.write_status(JobStatus(job_id=spec.job_id))

    def spec(self) -> JobSpec:
        return JobSpec.model_validate_json((self.path / self.SPEC).read_text(encoding="utf-8"))

    def status(self) -> JobStatus | None:
        """The last status the runner wrote, or ``None`` if there is none (yet)."""
        try:
            return JobStatus.model_validate_json((self.path / self.STATUS).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValidationError):
            return None

    def write_status(self, status: JobStatus) -> None:
        status.updated = time.time()
        write_atomic(self.path / self.STATUS, status.model_dump_json(indent=1))

    def request_cancel(self) -> None:
        """Ask the runner to stop this job (it checks several times a second)."""
        (self.path / self.CANCEL).touch()

    @property
    def cancel_requested(self) -> bool:
        return (self.path / self.CANCEL).exists()

    def claim_runner(self) -> bool:
        """Make the calling runner this job's only one: False if a runner has started here before.

        A scheduler may start a task again when its worker dies (dask does, by default, unless the
        scheduler's ``allowed-failures`` is 0, which a scheduler we do not start may not set); a job
        must never run a second time by itself, over its own partial results.
        """
        try:
            with open(self.path / self.HEARTBEAT, "x"):
                return True
        except FileExistsError:
            return False

    def beat(self) -> None:
        """The runner says it is alive (several times a second while the job runs)."""
        (self.path / self.HEARTBEAT).touch()

    def runner_alive(self, within_s: float) -> bool:
        """Whether a runner has said it is alive in the last ``within_s`` seconds."""
        try:
            return time.time() - (self.path / self.HEARTBEAT).stat().st_mtime < within_s
        except FileNotFoundError:
            return False
