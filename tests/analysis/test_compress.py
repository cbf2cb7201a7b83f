from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from jupyterlab_raydata.analysis import compress, frames, preprocess


@pytest.fixture
def sparse(rng):
    data = rng.poisson(0.05, size=(40, 16, 20)).astype(np.uint16)
    data[3] = 0
    return data


def test_lossless_round_trip_and_occupancy(sparse):
    result = compress.compress_frames(sparse, chunk_size=9)
    c, stats = result
    assert result.frames is c and result.stats is stats
    assert c.shape == sparse.shape and len(c) == 40 and c.dtype == np.uint16
    np.testing.assert_array_equal(c[:], sparse)
    np.testing.assert_array_equal(c[5], sparse[5])
    np.testing.assert_array_equal(c[2:9:3], sparse[2:9:3])
    nonzero = np.count_nonzero(sparse)
    assert stats.occupancy == pytest.approx(nonzero / sparse.size)
    assert stats.mean_counts == pytest.approx(sparse.mean())
    assert stats.mean_counts_occupied == pytest.approx(sparse.sum() / nonzero)
    assert stats.max_count == sparse.max()
    assert stats.compression > 1
    assert "fraction of pixels occupied by photons" in str(stats)
    np.testing.assert_array_equal(c.frame_sums(), sparse.sum(axis=(1, 2)))
    p, v = c.sparse_frame(3)
    assert p.size == 0 and v.size == 0
    assert c.sparse_frame(5).indices.tolist() == np.flatnonzero(sparse[5]).tolist()
    np.testing.assert_array_equal(c.sparse_frame(5).values, sparse[5][sparse[5] > 0])


def test_mask_and_threshold(sparse):
    mask = np.ones((16, 20), bool)
    mask[:, :5] = False
    c, stats = compress.compress_frames(sparse, mask=mask, threshold=1)
    expected = np.where(mask & (sparse > 1), sparse, 0)
    np.testing.assert_array_equal(c[:], expected)
    assert stats.n_pixels == mask.sum()


def test_is_a_frame_source_and_gathers_directly(sparse):
    c, _ = compress.compress_frames(sparse)
    starts = [t0 for t0, _ in frames.iter_chunks(c, chunk_size=15)]
    assert starts == [0, 15, 30]
    np.testing.assert_allclose(preprocess.frame_stats(c).mean_image, sparse.mean(axis=0))
    labels = np.zeros((16, 20), int)
    labels[2:5, 3:9] = 1
    labels[10:, 10:] = 2
    sel = frames.PixelSelection.from_labels(labels)
    gathered = np.concatenate([x for _, x in c.gather_pixels(sel, chunk_size=7)])
    np.testing.assert_array_equal(gathered, sel.gather(sparse))


def test_save_and_load(tmp_path, sparse):
    c, _ = compress.compress_frames(sparse)
    c.save(tmp_path / "c.h5")
    back = compress.CompressedFrames.load(tmp_path / "c.h5")
    np.testing.assert_array_equal(back[:], sparse)
    with pytest.raises(ValueError, match="inconsistent"):
        compress.CompressedFrames([0, 2], [1], [1], (2, 2))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.uint32, np.int32, np.float32, np.float64])
def test_extraction_kernel_matches_numpy(rng, dtype):
    # 7x9 pixels: frames end in the middle of 64-bit words; 30 % occupancy outgrows
    # the kernel's first output buffer.
    frames = (rng.random((50, 7, 9)) < 0.3) * rng.integers(1, 200, (50, 7, 9))
    if np.dtype(dtype).kind != "u":
        frames = frames - 50 * (rng.random((50, 7, 9)) < 0.1)  # negative values are not photons
    frames = frames.astype(dtype)
    if np.dtype(dtype).kind == "f":
        frames[frames == 0] = -0.0
    mask = rng.random((7, 9)) > 0.2
    for threshold, good in ((0, None), (3.5, mask.ravel())):
        keep = frames > threshold
        if good is not None:
            keep &= mask
        expected = np.where(keep, frames, 0)
        for threads in (1, 3):
            with ThreadPoolExecutor(threads) as pool:
                got = compress.dense_events(
                    frames, good=good, threshold=threshold, pool=pool, threads=threads
                )
            assert got.dtype == dtype
            np.testing.assert_array_equal(got[:], expected)
            assert all(np.all(np.diff(got.sparse_frame(t).indices) > 0) for t in range(len(got)))
