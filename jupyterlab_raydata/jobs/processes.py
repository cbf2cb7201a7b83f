"""Stopping a job's processes: the executing process, the kernel it started and whatever that started.

jupyter_client starts every kernel in a session of its own, so one process group is not enough: we
collect the whole tree (and each member's process group) before signalling, then signal the groups.
"""

from __future__ import annotations

import os
import signal

import psutil

#: Seconds between SIGTERM and SIGKILL.
GRACE_S = 2.0


def _tree(pid: int, include_self: bool) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        found = root.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [root, *found] if include_self else found


def _groups(procs: list[psutil.Process]) -> set[int]:
    groups = set()
    for p in procs:
        try:
            groups.add(os.getpgid(p.pid))
        except ProcessLookupError:
            pass
    # Never signal our own group: the caller (a dask worker, the server) lives there.
    groups.discard(os.getpgid(0))
    return groups


def _signal(procs: list[psutil.Process], groups: set[int], sig: int) -> None:
    for group in groups:
        try:
            os.killpg(group, sig)
        except (ProcessLookupError, PermissionError):
            pass
    for p in procs:
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def kill_tree(pid: int, *, include_self: bool = True, grace: float = GRACE_S) -> list[int]:
    """Stop process ``pid``'s descendants (and ``pid`` itself unless ``include_self`` is false).

    Each gets SIGTERM, and SIGKILL if it is still there after ``grace`` seconds.

    Returns
    -------
    list of int
        The pids that were signalled.
    """
    procs = _tree(pid, include_self)
    groups = _groups(procs)
    if not include_self:
        try:
            groups.discard(os.getpgid(pid))
        except ProcessLookupError:
            pass
    _signal(procs, groups, signal.SIGTERM)
    _, alive = psutil.wait_procs(procs, timeout=grace)
    if alive:
        _signal(alive, _groups(alive), signal.SIGKILL)
        psutil.wait_procs(alive, timeout=grace)
    return [p.pid for p in procs]
