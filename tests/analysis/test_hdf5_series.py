"""A frame series spread over several HDF5 datasets (and ranges of them), read as one series."""

import h5py
import hdf5plugin
import numpy as np
import pytest

from jupyterlab_raydata.analysis import compress
from jupyterlab_raydata.analysis.hdf5_series import HDF5Series


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Three Bitshuffle-LZ4 files of 7, 5 and 9 photon-sparse frames, and all 21 frames in order."""
    rng = np.random.default_rng(11)
    folder = tmp_path_factory.mktemp("series")
    paths, frames = [], []
    for i, n in enumerate((7, 5, 9)):
        data = ((rng.random((n, 24, 31)) < 0.1) * rng.integers(1, 400, (n, 24, 31))).astype(np.uint16)
        path = folder / f"data_{i:06d}.h5"
        with h5py.File(path, "w") as f:
            f.create_dataset(
                "entry/data/data", data=data, chunks=(1, 24, 31), **hdf5plugin.Bitshuffle(cname="lz4")
            )
        paths.append(str(path))
        frames.append(data)
    return paths, np.concatenate(frames)


def parts(paths, ranges=((0, None), (0, None), (0, None))):
    return [(p, "entry/data/data", a, n) for p, (a, n) in zip(paths, ranges, strict=True)]


def test_whole_files_read_as_one_series(files):
    paths, truth = files
    with HDF5Series(parts(paths), frame_shape=(24, 31), count=21, workers=2) as series:
        assert (series.shape, series.dtype, len(series)) == ((21, 24, 31), np.uint16, 21)
        np.testing.assert_array_equal(np.asarray(series), truth)
        np.testing.assert_array_equal(series[5:15], truth[5:15])  # across two files
        np.testing.assert_array_equal(series[-1], truth[-1])
        np.testing.assert_array_equal(series[1:20:4, 3:9, ::2], truth[1:20:4, 3:9, ::2])
        dense = [(t0, c) for t0, c in series.iter_frame_chunks(4, start=3, stop=18)]
        assert [t0 for t0, _ in dense] == [3, 7, 11, 12, 16]  # a chunk never spans two files
        np.testing.assert_array_equal(np.concatenate([c for _, c in dense]), truth[3:18])


def test_events_equal_the_events_of_the_dense_frames(files):
    paths, truth = files
    mask = np.random.default_rng(2).random((24, 31)) < 0.8
    with HDF5Series(parts(paths), workers=2) as series:
        pieces = list(compress.iter_events(series, mask=mask))
    assert [t0 for t0, _ in pieces] == [0, 7, 12]
    got = compress.CompressedFrames.concatenate([p for _, p in pieces], (24, 31))
    want = compress.CompressedFrames.concatenate(
        [p for _, p in compress.iter_events(truth, mask=mask)], (24, 31)
    )
    for name in ("indptr", "indices", "values"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_ranges_of_files_take_only_their_frames(files):
    paths, truth = files
    with HDF5Series(parts(paths, ((2, 3), (0, 0), (4, None))), count=8) as series:
        np.testing.assert_array_equal(np.asarray(series), np.concatenate([truth[2:5], truth[16:21]]))
        events = compress.CompressedFrames.concatenate([p for _, p in series.iter_event_chunks(3)], (24, 31))
        np.testing.assert_array_equal(events[:], np.asarray(series))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 20}, "the files hold 21 of the run's frames, the run records 20"),
        ({"frame_shape": (31, 24)}, r"the files hold \(24, 31\) frames, the run records \(31, 24\)"),
        (
            {"ranges": ((0, None), (3, 4), (0, None))},
            "holds 5 frames in entry/data/data; the run's record takes frames 3..6",
        ),
        ({"dataset": "entry/data/missing"}, "has no dataset entry/data/missing"),
    ],
)
def test_a_record_that_does_not_fit_the_files_is_refused(files, change, message):
    paths, _ = files
    dataset = change.pop("dataset", "entry/data/data")
    ranges = change.pop("ranges", ((0, None),) * 3)
    with pytest.raises(ValueError, match=message):
        HDF5Series([(p, dataset, a, n) for p, (a, n) in zip(paths, ranges, strict=True)], **change)


def test_a_missing_file_is_an_os_error(tmp_path, files):
    paths, _ = files
    with pytest.raises(OSError, match="No such file"):
        HDF5Series(parts([paths[0], str(tmp_path / "gone.h5"), paths[2]]))
