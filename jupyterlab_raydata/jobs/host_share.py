"""A job's share of its host's cores: the cores its process may use, divided among the jobs running on
the host when it starts.

A job alone on a node gets every core (a run analysed as fast as the node allows, the real-time case);
jobs that start beside others get their share. Dask's worker threads only say how many jobs a worker
runs at once, and the workers of one host (a LocalCluster's processes, several batch jobs on one node)
do not know of each other: each running job leaves a file in a folder of this host's, named after its
process and job, which the others count.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _folder() -> Path:
    folder = Path(tempfile.gettempdir()) / f"raydata-running-jobs-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_here() -> int:
    """Jobs running on this host now (their runners' processes are alive); forgets the others."""
    count = 0
    for entry in _folder().iterdir():
        pid = entry.name.partition("-")[0]
        if pid.isdigit() and _alive(int(pid)):
            count += 1
        else:
            entry.unlink(missing_ok=True)
    return count


@contextlib.contextmanager
def share_of_cores(job_id: str) -> Iterator[int]:
    """While the block runs, this job counts as running here; yields its thread budget."""
    mark = _folder() / f"{os.getpid()}-{job_id}"
    mark.touch()
    try:
        cores = len(os.sched_getaffinity(0))
        yield max(1, cores // max(1, running_here()))
    finally:
        mark.unlink(missing_ok=True)
