"""A run's frames in a kernel: from the files the run's record names, or through tiled when they cannot
be read here; in a job's kernel from the run the server resolved, without opening the catalog."""

from __future__ import annotations

import numpy as np
import pytest

from jupyterlab_raydata import context
from jupyterlab_raydata.analysis import compress
from jupyterlab_raydata.analysis.hdf5_series import HDF5Series


def events(frames, shape):
    return compress.CompressedFrames.concatenate([p for _, p in compress.iter_events(frames)], shape)


def assert_same_numbers(a, b):
    """Equal frames, and equal photon events, to the last bit."""
    dense_a, dense_b = np.asarray(a), np.asarray(b)
    assert dense_a.dtype == dense_b.dtype
    np.testing.assert_array_equal(dense_a, dense_b)
    ea, eb = events(a, dense_a.shape[1:]), events(b, dense_b.shape[1:])
    for name in ("indptr", "indices", "values"):
        np.testing.assert_array_equal(getattr(ea, name), getattr(eb, name))


@pytest.fixture
def run_and_tiled(demo_kernel_env, demo_xpcs_runs):
    """An XPCS demo run's record and its frames read through tiled."""
    uid = demo_xpcs_runs[0].uid
    catalog = context.open_catalog("demo")
    record = catalog.record(uid)
    return record, context.FrameArray(catalog.source().frames(uid, record.stream, record.image_key))


def test_a_notebook_reads_the_frames_from_their_file(run_and_tiled):
    record, tiled = run_and_tiled
    run = context.load_run("demo", record.uid[:10])
    [segment] = record.files.segments
    assert isinstance(run.frames, HDF5Series)
    assert run.frames_from == f"read from {segment.path} (from the tiled data source)"
    assert (run.uid, run.image_key, run.n_frames) == (record.uid, "eiger4m_single_image", tiled.shape[0])
    assert_same_numbers(run.frames, tiled)


def test_a_job_kernel_reads_its_run_without_opening_the_catalog(run_and_tiled, monkeypatch):
    record, tiled = run_and_tiled

    def no_catalog(name):
        raise AssertionError(f"the catalog {name} was opened")

    monkeypatch.setattr(context, "open_catalog", no_catalog)
    monkeypatch.setenv(context.RUN_RECORD_ENV, record.model_dump_json())
    run = context.load_run("demo", record.uid)
    assert (run.uid, run.start, run.stop) == (record.uid, record.start, record.stop)
    assert run.frames_from.startswith("read from ")
    assert_same_numbers(run.frames, tiled)


def test_another_run_than_the_jobs_is_looked_up_in_the_catalog(run_and_tiled, demo_xpcs_runs, monkeypatch):
    record, _ = run_and_tiled
    monkeypatch.setenv(context.RUN_RECORD_ENV, record.model_dump_json())
    other = context.load_run("demo", demo_xpcs_runs[1].uid)
    assert other.uid == demo_xpcs_runs[1].uid != record.uid


def test_files_this_kernel_cannot_see_are_read_through_tiled(run_and_tiled, monkeypatch, tmp_path):
    record, tiled = run_and_tiled
    elsewhere = record.model_copy(deep=True)
    elsewhere.files.segments[0].path = str(tmp_path / "beamline" / "gpfs" / "frames.h5")
    monkeypatch.setenv(context.RUN_RECORD_ENV, elsewhere.model_dump_json())
    run = context.load_run("demo", record.uid)
    assert isinstance(run.frames, context.FrameArray)
    assert run.frames_from.startswith(
        f"read through tiled (its files cannot be read here: [Errno 2] Unable to synchronously open file "
        f"(unable to open file: name = '{tmp_path}/beamline/gpfs/frames.h5'"
    )
    assert_same_numbers(run.frames, tiled)


def test_a_run_whose_record_names_no_files_is_read_through_tiled(run_and_tiled, monkeypatch):
    record, tiled = run_and_tiled
    unknown = record.model_copy(update={"files": None, "files_unknown": "its resource spec is AD_TIFF"})
    monkeypatch.setenv(context.RUN_RECORD_ENV, unknown.model_dump_json())
    run = context.load_run("demo", record.uid)
    assert run.frames_from == "read through tiled (its resource spec is AD_TIFF)"
    assert_same_numbers(run.frames, tiled)
