"""How many threads the analysis layer may use: one budget for every pool.

Inside a job on a dask worker with one thread, analysis must not start a thread
per core for its own pools, nor let BLAS, OpenMP or numba do so. Every pool in
:mod:`jupyterlab_raydata.analysis` is sized by :func:`thread_budget` (an explicit
``workers=`` argument still wins), which is, in order:

1. the innermost active :func:`limit_threads` context (per thread and per
   asyncio task, like any :mod:`contextvars` value);
2. the environment variable ``RAYDATA_THREADS``, if it holds a positive integer
   (the job runner sets it, with ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
   ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS``, to the worker's thread count);
3. the CPUs this process may run on (its affinity mask, not the machine's core
   count, so a process pinned by Slurm or ``taskset`` gets what it was given).

Example::

    from jupyterlab_raydata.analysis.threads import limit_threads

    with limit_threads(1):
        result = correlation.multi_tau(frames, labels)  # one thread, BLAS too
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import os
from collections.abc import Iterator

__all__ = ["ENV_VAR", "limit_blas", "limit_threads", "set_process_threads", "thread_budget"]

#: Environment variable with the thread budget of a process (a positive integer).
ENV_VAR = "RAYDATA_THREADS"

_limit: contextvars.ContextVar[int | None] = contextvars.ContextVar("raydata_thread_limit", default=None)


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1  # platforms without affinity masks (macOS)


def thread_budget() -> int:
    """Threads the analysis layer may use here and now (always >= 1).

    See the module docstring for where the number comes from. A value of
    ``RAYDATA_THREADS`` that is not a positive integer is ignored.
    """
    limit = _limit.get()
    if limit is not None:
        return limit
    try:
        from_env = int(os.environ.get(ENV_VAR, ""))
    except ValueError:
        from_env = 0
    return from_env if from_env > 0 else _available_cpus()


@functools.cache
def _blas_controller():
    # Inspecting the loaded libraries takes about a millisecond: do it once for
    # the frequent per-call BLAS limits (limit_threads looks afresh each time).
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def limit_blas(n: int):
    """A context limiting BLAS libraries to ``n`` threads (process-wide while active).

    For use around BLAS calls inside analysis functions: cheap enough to enter
    per call. :func:`limit_threads` is the user-facing context.
    """
    return _blas_controller().limit(limits=max(1, int(n)), user_api="blas")


def _capped(controllers, n: int) -> list:
    """Lower every library above ``n`` threads to ``n``; return how to restore them."""
    restore = []
    for lib in controllers:
        current = lib.get_num_threads()
        if current is not None and current > n:
            lib.set_num_threads(n)
            restore.append((lib, current))
    return restore


@contextlib.contextmanager
def limit_threads(n: int) -> Iterator[int]:
    """Run the enclosed code with at most ``n`` threads.

    While active, :func:`thread_budget` returns ``n`` in this thread (contexts
    nest; the innermost wins), BLAS and OpenMP libraries loaded in the process are
    capped at ``n`` threads through threadpoolctl (process-wide: libraries already
    below ``n`` are left alone), and numba's parallel regions launched from this
    thread use at most ``n`` threads. Everything is restored on exit.

    Parameters
    ----------
    n : int
        Thread budget, >= 1.

    Yields
    ------
    int
        ``n``.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"a thread budget must be >= 1, got {n}")
    from threadpoolctl import ThreadpoolController

    # A fresh controller: libraries loaded since the last look (numba's OpenMP
    # layer, say) are capped too.
    restore = _capped(ThreadpoolController().lib_controllers, n)
    numba_before = _set_numba_threads(n)
    token = _limit.set(n)
    try:
        yield n
    finally:
        _limit.reset(token)
        if numba_before is not None:
            _set_numba_threads(numba_before)
        for lib, threads in restore:
            lib.set_num_threads(threads)


def _set_numba_threads(n: int) -> int | None:
    """Set numba's thread count for this thread (at most its configured maximum); return the old one."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))
    return before


def set_process_threads(n: int) -> None:
    """Give this process a thread budget of ``n`` from now on, as if it had started with
    ``RAYDATA_THREADS=n``: the budget, the BLAS and OpenMP libraries loaded so far, and numba's threads
    in the calling thread (for a process started before its work was known, e.g. a standby kernel).
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"a thread budget must be >= 1, got {n}")
    from threadpoolctl import ThreadpoolController

    os.environ[ENV_VAR] = str(n)
    _capped(ThreadpoolController().lib_controllers, n)
    _set_numba_threads(n)
