import numpy as np
import pytest

from jupyterlab_raydata.analysis import compress, geometry, masks, preprocess


@pytest.fixture
def series(rng):
    frames = rng.poisson(2.0, size=(60, 10, 12)).astype(np.uint16)
    frames[10] = 0  # shutter closed
    frames[33, 4, 4] = 5000  # spike
    return frames


def test_frame_stats_sums_mask_and_bad_frames(series):
    mask = np.ones((10, 12), bool)
    mask[0] = False
    stats = preprocess.frame_stats(series, mask=mask, bad_frames=[10, 33], chunk_size=7)
    np.testing.assert_array_equal(stats.sums, series[:, 1:].sum(axis=(1, 2)))
    good = np.delete(series, [10, 33], axis=0)
    np.testing.assert_allclose(stats.mean_image, good.mean(axis=0))
    assert stats.n_good == 58
    assert stats.sums.dtype == np.float64


def test_find_bad_frames(series):
    sums = series.sum(axis=(1, 2)).astype(float)
    np.testing.assert_array_equal(preprocess.find_bad_frames(sums), [10, 33])
    np.testing.assert_array_equal(preprocess.find_bad_frames(sums, high=np.inf), [10])
    np.testing.assert_array_equal(preprocess.find_bad_frames(sums, low=-1), [33])
    assert preprocess.find_bad_frames([]).size == 0


def test_circular_average_of_an_analytic_image():
    g = geometry.Geometry((32.0, 32.0), 5.0, 1.0, 75e-6)
    q = geometry.q_map((64, 64), g)
    image = 3.0 + 1e3 * q
    mask = masks.circle((64, 64), (32, 32), 30)
    iq = preprocess.circular_average(image, q, mask=mask, bins=10)
    qb, ib, n = iq
    assert (iq.q, iq.intensity, iq.n_pixels) == (qb, ib, n)
    np.testing.assert_allclose(ib, 3.0 + 1e3 * qb)  # linear in q: bin mean of I = I(bin mean of q)
    assert n.sum() == mask.sum()
    _qe, ie, ne = preprocess.circular_average(image, q, bins=[0, 1e-3, 1.0])
    assert ne.sum() == q.size and ie[0] == pytest.approx(3.0 + 1e3 * q[q < 1e-3].mean())


def test_smooth_iq_map_removes_noise_keeps_the_profile(rng):
    g = geometry.Geometry((40.0, 40.0), 5.0, 1.0, 75e-6)
    q = geometry.q_map((80, 80), g)
    truth = 100.0 / (1 + (q / 2e-3) ** 2)
    noisy = rng.poisson(truth * 50) / 50.0
    model = preprocess.smooth_iq_map(noisy, q, bins=60)
    ring = (q > 5e-4) & (q < 3.5e-3)
    assert np.nanmax(np.abs(model[ring] / truth[ring] - 1)) < 0.03
    assert np.abs(noisy[ring] / truth[ring] - 1).max() > 0.1


def test_background_subtraction_streams_scaled_images(tmp_path, series):
    background = np.full((10, 12), 0.5)
    np.save(tmp_path / "dark.npy", background)
    loaded = preprocess.load_background(tmp_path / "dark.npy")
    sub = preprocess.BackgroundSubtracted(series, loaded, scale=2.0)
    assert sub.shape == (60, 10, 12) and len(sub) == 60
    stats = preprocess.frame_stats(sub, chunk_size=16)
    np.testing.assert_allclose(stats.mean_image, series.mean(axis=0) - 1.0, rtol=1e-6)
    clipped = preprocess.frame_stats(preprocess.BackgroundSubtracted(series, loaded * 10, clip=True))
    assert clipped.sums.min() >= 0
    # A background made from another run's frames is their average.
    np.testing.assert_allclose(preprocess.load_background(series), series.mean(axis=0))
    with pytest.raises(ValueError, match="background"):
        preprocess.BackgroundSubtracted(series, np.zeros((3, 3)))


def test_background_from_hdf5_stack(tmp_path, series):
    import h5py

    with h5py.File(tmp_path / "dark.h5", "w") as f:
        f["entry/dark"] = series[:5]
    image = preprocess.load_background(tmp_path / "dark.h5", dataset="entry/dark")
    np.testing.assert_allclose(image, series[:5].mean(axis=0))


class EventsOnly(compress.CompressedFrames):
    """Photon events that refuse to be expanded into dense frames."""

    def iter_frame_chunks(self, *args, **kwargs):
        raise AssertionError("the events were expanded into dense frames")

    def _dense(self, t0, t1):
        raise AssertionError("the events were expanded into dense frames")


def events_only(frames) -> EventsOnly:
    events = compress.compress_frames(frames).frames
    return EventsOnly(events.indptr, events.indices, events.values, events.frame_shape)


def test_frame_stats_of_photon_events_are_summed_event_by_event(rng):
    frames = ((rng.random((700, 19, 23)) < 0.05) * rng.integers(1, 9, (700, 19, 23))).astype(np.uint16)
    mask = rng.random((19, 23)) < 0.8
    bad = [3, 511, 512, 699]  # either side of a 512-frame piece's edge
    dense = preprocess.frame_stats(frames, mask=mask, bad_frames=bad)
    events = preprocess.frame_stats(events_only(frames), mask=mask, bad_frames=bad)
    np.testing.assert_array_equal(events.sums, dense.sums)
    np.testing.assert_array_equal(events.mean_image, dense.mean_image)
    assert events.n_good == dense.n_good == 696


def test_hot_and_dead_pixels_of_photon_events_equal_the_dense_ones(rng):
    frames = rng.poisson(0.3, (400, 24, 24)).astype(np.uint16)
    frames[:, 5, 7] += 30  # hot
    frames[:, 11, 2] = 0  # dead
    found = masks.hot_dead_pixels(events_only(frames), hot_sigma=8.0)
    np.testing.assert_array_equal(found, masks.hot_dead_pixels(frames, hot_sigma=8.0))
    assert not found[5, 7] and not found[11, 2] and found.sum() == 24 * 24 - 2
