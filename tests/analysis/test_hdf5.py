"""HDF5 frames decoded chunk by chunk in parallel, dense and straight into photon events."""

import h5py
import hdf5plugin
import numpy as np
import pytest

from jupyterlab_raydata.analysis import compress, correlation, hdf5

# name: (filter options, dtype, shape, frames per chunk, decoder); options None = contiguous
# storage, read through h5py (decoder None).
BSLZ4 = hdf5plugin.Bitshuffle(cname="lz4")
SMALL_BLOCKS = hdf5plugin.Bitshuffle(nelems=64, cname="lz4")
LAYOUTS = {
    "bslz4": (BSLZ4, np.uint16, (9, 13, 17), 1, "bitshuffle-lz4"),
    "bslz4-u32": (BSLZ4, np.uint32, (9, 13, 17), 1, "bitshuffle-lz4"),
    # Small blocks and several frames per chunk: blocks and frames do not line up.
    "bslz4-multi": (SMALL_BLOCKS, np.uint16, (9, 33, 41), 4, "bitshuffle-lz4"),
    "bslz4-f32": (BSLZ4, np.float32, (9, 13, 17), 1, "bitshuffle-lz4"),
    "bslz4-i16": (BSLZ4, np.int16, (9, 13, 17), 1, "bitshuffle-lz4"),
    "bszstd": (hdf5plugin.Bitshuffle(cname="zstd"), np.uint16, (9, 13, 17), 1, "bitshuffle-zstd"),
    "bitshuffle": (hdf5plugin.Bitshuffle(cname="none"), np.uint16, (9, 13, 17), 1, "bitshuffle"),
    "zstd": (hdf5plugin.Zstd(), np.uint16, (9, 13, 17), 2, "zstd"),
    "deflate": ({"compression": "gzip"}, np.uint16, (9, 13, 17), 1, "deflate"),
    "raw": ({}, np.uint16, (9, 13, 17), 1, "raw"),
    "contiguous": (None, np.uint16, (9, 13, 17), None, None),
}


@pytest.fixture(scope="module")
def h5file(tmp_path_factory):
    rng = np.random.default_rng(5)
    path = tmp_path_factory.mktemp("h5") / "frames.h5"
    with h5py.File(path, "w") as f:
        for name, (options, dtype, shape, per_chunk, _) in LAYOUTS.items():
            data = (rng.random(shape) < 0.2) * rng.integers(1, 700, shape)  # counts past one byte
            if np.dtype(dtype).kind == "i":
                data -= (rng.random(shape) < 0.05) * 3  # negative values are not photons
            data[2] = 0  # an empty frame
            data = data.astype(dtype)
            if options is None:
                f.create_dataset(name, data=data)
            else:
                f.create_dataset(name, data=data, chunks=(per_chunk, *shape[1:]), **options)
    return path


@pytest.mark.parametrize("name", LAYOUTS)
def test_dense_and_event_reads_equal_h5py(h5file, name, rng):
    with h5py.File(h5file) as f:
        dset = f[name]
        truth = dset[()]
        frames = hdf5.HDF5Frames(dset, workers=2)
        assert (frames.codec and frames.codec.kind) == LAYOUTS[name][4]
        dense = np.concatenate([c for _, c in frames.iter_frame_chunks(chunk_size=4, start=1, stop=8)])
        np.testing.assert_array_equal(dense, truth[1:8])
        pieces = [p for _, p in frames.iter_event_chunks(chunk_size=4, start=1)]
        events = compress.CompressedFrames.concatenate(pieces, truth.shape[1:])
        np.testing.assert_array_equal(events[:], np.where(truth[1:] > 0, truth[1:], 0))
        mask = rng.random(truth.shape[1:]) < 0.7
        thresholded, stats = compress.compress_frames(dset, mask=mask, threshold=2)
        np.testing.assert_array_equal(thresholded[:], np.where((truth > 2) & mask, truth, 0))
        assert stats.n_pixels == mask.sum()


def test_a_chunk_nothing_holds_lends_its_memory_to_a_later_one(h5file):
    """Streaming readers recycle chunk memory (fresh memory costs page faults); kept chunks stay intact."""
    with h5py.File(h5file) as f:
        truth = f["bslz4"][()]
        frames = hdf5.HDF5Frames(f["bslz4"], workers=2)
        addresses = []
        for t0, chunk in frames.iter_frame_chunks(chunk_size=2):
            np.testing.assert_array_equal(chunk, truth[t0 : t0 + 2])
            addresses.append(chunk.__array_interface__["data"][0])
        # While the loop holds one chunk, the reader fills the other, then the first again.
        first, second = addresses[:2]
        assert first != second
        assert addresses == [first, second, first, second, first]
        kept = [chunk for _, chunk in frames.iter_frame_chunks(chunk_size=2)]
        np.testing.assert_array_equal(np.concatenate(kept), truth)
        assert len({c.__array_interface__["data"][0] for c in kept}) == len(kept)


def test_from_a_path_and_through_the_analysis(h5file):
    with hdf5.HDF5Frames(h5file, "bslz4-multi") as frames:
        assert frames.shape == (9, 33, 41) and len(frames) == 9 and frames.dtype == np.uint16
        truth = frames[:]
        labels = np.zeros((33, 41), int)
        labels[3:20, 4:30] = 1
        labels[22:, :] = 2
        dense = correlation.multi_tau(truth, labels, 4, method="dense")
        result = correlation.multi_tau(frames, labels, 4)
        np.testing.assert_array_equal(result.lags, dense.lags)
        np.testing.assert_allclose(result.g2, dense.g2, rtol=1e-12)
    with pytest.raises(TypeError, match=r"h5py\.Dataset"):
        hdf5.HDF5Frames(np.zeros((2, 3, 3)))


def test_chunk_stored_without_its_filter(tmp_path):
    """HDF5 may skip a filter for a chunk (its filter mask says so): the bytes are then the frame."""
    path = tmp_path / "skipped.h5"
    frame = np.zeros((8, 8), np.uint16)
    frame[2, 3], frame[7, 7] = 5, 1
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("d", (2, 8, 8), np.uint16, chunks=(1, 8, 8), **BSLZ4)
        dset[0] = frame + 1
        dset.id.write_direct_chunk((1, 0, 0), frame.tobytes(), filter_mask=1)
    with hdf5.HDF5Frames(path, "d") as frames:
        np.testing.assert_array_equal(next(frames.iter_frame_chunks())[1], [frame + 1, frame])
        events = next(frames.iter_event_chunks())[1]
        np.testing.assert_array_equal(events[1], frame)


def test_corrupt_chunk_is_an_error(tmp_path):
    path = tmp_path / "bad.h5"
    with h5py.File(path, "w") as f:
        dset = f.create_dataset("d", (2, 8, 8), np.uint16, chunks=(1, 8, 8), **BSLZ4)
        dset[0] = 1
        # A chunk whose block claims more bytes than there are.
        header = (128).to_bytes(8, "big") + (8192).to_bytes(4, "big")
        dset.id.write_direct_chunk((1, 0, 0), header + b"\xff" * 8)
    with hdf5.HDF5Frames(path, "d") as frames, pytest.raises(OSError, match="corrupt"):
        list(frames.iter_event_chunks())
