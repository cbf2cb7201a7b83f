import os
import subprocess
import sys

import numba
import numpy as np
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from jupyterlab_raydata.analysis import correlation, synthetic, threads
from jupyterlab_raydata.analysis.threads import limit_threads, thread_budget


def _blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv(threads.ENV_VAR, raising=False)


def test_budget_comes_from_context_then_env_then_affinity(no_env, monkeypatch):
    assert thread_budget() == len(os.sched_getaffinity(0))
    monkeypatch.setenv(threads.ENV_VAR, "3")
    assert thread_budget() == 3
    with limit_threads(1):
        assert thread_budget() == 1
        with limit_threads(2):
            assert thread_budget() == 2
        assert thread_budget() == 1
    assert thread_budget() == 3
    for ignored in ("0", "-2", "two", ""):
        monkeypatch.setenv(threads.ENV_VAR, ignored)
        assert thread_budget() == len(os.sched_getaffinity(0))
    with pytest.raises(ValueError, match=">= 1"):
        with limit_threads(0):
            pass


def test_limit_threads_caps_blas_and_numba_and_restores_them(no_env):
    assert numba.config.NUMBA_NUM_THREADS >= 2, "the machine needs 2 CPUs for this test"
    with threadpool_limits(limits=2, user_api="blas"):
        numba.set_num_threads(2)
        assert _blas_threads() and set(_blas_threads()) == {2}
        with limit_threads(1):
            assert set(_blas_threads()) == {1}
            assert numba.get_num_threads() == 1
            with limit_threads(4):  # a cap never raises a library above what it had
                assert set(_blas_threads()) == {1}
        assert set(_blas_threads()) == {2}
        assert numba.get_num_threads() == 2


def test_one_thread_budget_reaches_every_pool(no_env, small, monkeypatch):
    frames, labels = small
    with limit_threads(1):
        dense = correlation.MultiTauCorrelator(labels, method="dense")
        events = correlation.MultiTauCorrelator(labels, method="events")
        events.update(frames[:4])
        model = synthetic._SpeckleModel(synthetic.SpeckleParameters((8, 8), 2))
    assert dense.workers == 1 and len(dense._shares) == 1
    assert events.workers == 1 and len(events._shares) == 1
    assert model.pool is None
    model.close()
    assert correlation.MultiTauCorrelator(labels, workers=3).workers == 3  # explicit wins
    monkeypatch.setenv(threads.ENV_VAR, "1")
    assert correlation.MultiTauCorrelator(labels).workers == 1
    # Same frames whatever the budget.
    with limit_threads(1):
        one = synthetic.simulate_speckle((16, 16), 5, seed=3).frames
    np.testing.assert_array_equal(one, synthetic.simulate_speckle((16, 16), 5, seed=3).frames)


def test_job_environment_contract():
    """The job runner's variables give a process a one-thread budget everywhere."""
    env = dict(os.environ)
    for name in ("OMP", "OPENBLAS", "MKL", "NUMBA", "RAYDATA"):
        env[f"{name}_NUM_THREADS" if name != "RAYDATA" else threads.ENV_VAR] = "1"
    code = (
        "import numpy, numba\n"
        "from threadpoolctl import threadpool_info\n"
        "from jupyterlab_raydata.analysis import correlation, threads\n"
        "assert threads.thread_budget() == 1\n"
        "assert {i['num_threads'] for i in threadpool_info()} == {1}, threadpool_info()\n"
        "assert numba.config.NUMBA_NUM_THREADS == 1\n"
        "assert correlation.MultiTauCorrelator(numpy.ones((4, 4), int)).workers == 1\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
