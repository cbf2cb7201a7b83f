"""A job's share of its host's cores: every core alone, a share beside the jobs already running there."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import pytest

from jupyterlab_raydata.jobs import host_share

CORES = len(os.sched_getaffinity(0))


@pytest.fixture(autouse=True)
def own_tmp(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path / f"raydata-running-jobs-{os.getuid()}"


def test_a_job_alone_gets_every_core_and_leaves_no_mark(own_tmp):
    with host_share.share_of_cores("xpcs_saxs-1") as threads:
        assert threads == CORES
        assert [p.name for p in own_tmp.iterdir()] == [f"{os.getpid()}-xpcs_saxs-1"]
    assert list(own_tmp.iterdir()) == []


def test_jobs_running_beside_it_share_the_cores(own_tmp):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        own_tmp.mkdir(parents=True, exist_ok=True)
        (own_tmp / f"{other.pid}-quick_look-2").touch()
        with host_share.share_of_cores("xpcs_saxs-3") as threads, host_share.share_of_cores("x-4") as third:
            assert threads == max(1, CORES // 2)
            assert third == max(1, CORES // 3)
            assert host_share.running_here() == 3
    finally:
        other.kill()
        other.wait()
    # A job whose process died no longer counts, and its mark is cleared.
    assert host_share.running_here() == 0
    assert list(own_tmp.iterdir()) == []
