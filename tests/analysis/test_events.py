"""The photon-event paths equal the dense ones (multi-tau, two-time, XSVS histograms)."""

import numpy as np
import pytest

from jupyterlab_raydata.analysis import compress, correlation, geometry, rois, synthetic, xsvs
from jupyterlab_raydata.analysis._event_multitau import plan_event_levels
from jupyterlab_raydata.analysis._event_pairs import MAX_PAIR_GAP, pair_levels


def _sparse(rng, shape=(150, 24, 30), occupancy=0.05, top=4, dtype=np.uint16):
    counts = rng.integers(1, top + 1, shape)
    return ((rng.random(shape) < occupancy) * counts).astype(dtype)


@pytest.fixture
def data(rng):
    """Sparse random frames with an empty frame, a one-photon frame and counts > 1."""
    frames = _sparse(rng)
    frames[10] = 0
    frames[11] = 0
    frames[11, 5, 7] = 3
    labels = np.zeros(frames.shape[1:], int)
    labels[2:10, 3:20] = 1
    labels[12:22, 5:28] = 2
    labels[0, :] = 4
    return frames, labels


def _same(a, b):
    np.testing.assert_array_equal(a.lags, b.lags)
    np.testing.assert_allclose(a.g2, b.g2, rtol=1e-12, atol=0)


@pytest.mark.parametrize("pair_limit", [0.0, 0.5, 100.0])
@pytest.mark.parametrize(
    ("num_bufs", "num_levels", "workers"), [(8, None, 1), (4, 3, 2), (6, 7, 3), (2, None, 2)]
)
def test_multi_tau_events_equal_dense(data, monkeypatch, num_bufs, num_levels, workers, pair_limit):
    """Pair levels (one, some, all), then event levels from re-binned rows, then dense ones."""
    monkeypatch.setattr(correlation, "PAIR_LIMIT", pair_limit)
    frames, labels = data
    bad = [0, 3, 4, 99]
    dense = correlation.multi_tau(frames, labels, num_bufs, num_levels, bad_frames=bad, method="dense")
    for source in (frames, compress.compress_frames(frames).frames):
        kw = {"bad_frames": bad, "workers": workers, "chunk_size": 37}
        _same(correlation.multi_tau(source, labels, num_bufs, num_levels, method="events", **kw), dense)
        _same(correlation.multi_tau(source, labels, num_bufs, num_levels, method="auto", **kw), dense)


@pytest.mark.parametrize(("pair_limit", "dense_pairs"), [(0.3, 0.4), (4.0, 0.4), (4.0, 0.02)])
@pytest.mark.parametrize("limit", [0.01, 0.08, 0.2, 0.6])
def test_every_split_between_event_and_dense_levels(data, monkeypatch, limit, pair_limit, dense_pairs):
    """The limits move the levels where re-binned rows and the dense engine take over; the result stays."""
    frames, labels = data
    monkeypatch.setattr(correlation, "EVENT_OCCUPANCY_LIMIT", limit)
    monkeypatch.setattr(correlation, "PAIR_LIMIT", pair_limit)
    monkeypatch.setattr(correlation, "DENSE_PAIR_LIMIT", dense_pairs)
    dense = correlation.multi_tau(frames, labels, 4, bad_frames=[5, 60], method="dense")
    corr = correlation.MultiTauCorrelator(labels, 4, workers=2)
    for start in range(0, len(frames), 23):  # fed in pieces, with results read in between
        corr.update(frames[start : start + 23], bad_frames=[5, 60])
        if start == 46:
            corr.result()
    _same(corr.result(), dense)
    if corr.pairs is None:  # dense frames too full for events already in their first frames
        assert corr.path == "dense" and corr.occupancy[0] > limit
        return
    n_pair = pair_levels(corr.occupancy[0], 4, pair_limit)
    first_dense = plan_event_levels(corr.occupancy, corr.pairs, n_pair, 2, limit, dense_pairs)
    if first_dense == 0:
        assert corr.path == "dense"
    else:
        assert (corr.path, corr.event_levels) == ("events", first_dense)
        assert 1 <= corr.pair_levels <= first_dense


def test_auto_takes_the_engine_the_matrix_finds_faster(data, rng, monkeypatch):
    """As ``benchmarks/bench_correlation.py --matrix`` measured: a sparse series runs its sparse levels from
    photon events and the rest dense; a full one runs dense, and full dense frames are never turned into
    events only to find that out (the fixed cost that made "auto" lose to "dense" on them)."""
    frames, labels = data
    sparse = correlation.MultiTauCorrelator(labels)
    sparse.update(frames)
    first = frames[: correlation.OCCUPANCY_PROBE_FRAMES, labels > 0]
    assert sparse.occupancy[0] == np.count_nonzero(first) / first.size  # its first frames, not all of them
    assert (sparse.path, sparse.event_levels, sparse.pair_levels) == ("events", 3, 3)
    n_pair = pair_levels(sparse.occupancy[0], 8, correlation.PAIR_LIMIT)
    limits = correlation.EVENT_OCCUPANCY_LIMIT, correlation.DENSE_PAIR_LIMIT
    assert sparse.event_levels == plan_event_levels(sparse.occupancy, sparse.pairs, n_pair, 3, *limits)

    full = rng.integers(0, 3, frames.shape).astype(np.uint16)
    first = full[: correlation.OCCUPANCY_PROBE_FRAMES, labels > 0]

    def refuse(*args, **kwargs):
        raise AssertionError("full dense frames were turned into photon events")

    with monkeypatch.context() as patched:
        patched.setattr(correlation, "dense_events", refuse)
        crowded = correlation.MultiTauCorrelator(labels)
        crowded.update(full)
    assert crowded.path == "dense"
    np.testing.assert_array_equal(crowded.occupancy, [np.count_nonzero(first) / first.size])
    _same(crowded.result(), correlation.multi_tau(full, labels, method="events"))
    as_read = correlation.MultiTauCorrelator(labels)  # the same frames as a job reads them
    as_read.update(compress.compress_frames(full).frames)
    assert as_read.path == "dense" and as_read.occupancy[0] == crowded.occupancy[0]


def test_auto_goes_dense_where_bright_slow_speckle_holds_many_pairs(rng):
    """Photons that stay on their pixels (the bright, slow inner rings of a steep I(q)) give a pair level
    many partners at a low occupancy: measured from the photons themselves, such a level goes dense
    although its occupancy stays far below the limit, as the real-size run of bench_realtime needs."""
    labels = np.zeros((48, 48), int)
    labels[4:44, 4:44] = 1 + np.arange(40) // 10
    ring = np.flatnonzero(labels.ravel())
    frames = (rng.random((256, 48 * 48)) < 0.002).astype(np.uint16)  # sparse independent photons
    bright = rng.choice(ring, int(0.03 * ring.size), replace=False)
    frames[:, bright] = 1  # and 3 % of the ROI pixels lit in every frame
    frames = frames.reshape(256, 48, 48)
    corr = correlation.MultiTauCorrelator(labels, 8, workers=1)
    corr.update(compress.compress_frames(frames).frames)
    lit = frames[:, labels > 0] > 0
    for k in range(5):  # n (n - 1) photons of a pixel within each measured sum of 2^k frames
        n_blocks = max(2, correlation.OCCUPANCY_PROBE_FRAMES >> k)
        n = lit[: n_blocks << k].reshape(n_blocks, 1 << k, -1).sum(axis=1)
        assert corr.pairs[k] == (n * (n - 1)).sum() / (n_blocks * (1 << k) * ring.size)
        assert corr.occupancy[k] == np.count_nonzero(n) / n.size
    assert corr.occupancy[4] < 0.1 < correlation.EVENT_OCCUPANCY_LIMIT
    # Level 0 pairs photons up to 8 frames apart (pairs[3], 0.21 per pixel and frame), level 1 up to 16
    # (pairs[4], 0.45): past DENSE_PAIR_LIMIT.
    assert corr.pairs[3] < correlation.DENSE_PAIR_LIMIT < corr.pairs[4]
    assert (corr.path, corr.event_levels, corr.pair_levels) == ("events", 1, 1)
    _same(corr.result(), correlation.multi_tau(frames, labels, 8, method="dense"))


def test_auto_keeps_a_short_series_from_events_throughout(data, monkeypatch):
    """Dense levels need rows to pay for every pixel's buffers: a series known to be too short for them
    runs its full levels from events too; one long enough, or of unknown length, goes dense there."""
    frames, labels = data  # its level 3 is the first full enough for the dense engine
    need = correlation.DENSE_LEVEL_ROWS * 8 << 3
    paths = {}
    for length in (None, need, need - 1):
        corr = correlation.MultiTauCorrelator(labels, 8, length=length)
        corr.update(frames[:need])
        paths[length] = (corr.path, corr.event_levels)
        _same(corr.result(), correlation.multi_tau(frames[:need], labels, 8, method="dense"))
    assert paths == {None: ("events", 3), need: ("events", 3), need - 1: ("events", None)}
    told, init = [], correlation.MultiTauCorrelator.__init__

    def spy(self, *args, **kwargs):
        told.append(kwargs.get("length"))
        init(self, *args, **kwargs)

    monkeypatch.setattr(correlation.MultiTauCorrelator, "__init__", spy)
    correlation.multi_tau(compress.compress_frames(frames[: need - 1]).frames, labels, 8)
    assert told == [need - 1]  # multi_tau tells the correlator the length of the series


def test_auto_measures_a_large_detector_on_a_spread_of_its_rows(rng):
    """On a detector with many ROI pixels, the occupancy comes from every few rows (their photons are
    jumped over, not read): exact for those rows, close to the whole detector's."""
    frames = _sparse(rng, (40, 600, 410), occupancy=0.03)
    labels = np.zeros(frames.shape[1:], int)
    labels[50:560, 20:400] = 1 + (np.arange(380) // 95)  # 193,800 pixels in four ROIs
    corr = correlation.MultiTauCorrelator(labels, workers=1)
    corr.update(compress.compress_frames(frames).frames)
    pixels, col_of, step = corr._pixel_order().sampled_rows
    assert step == 2 and pixels.size == 255 * 380
    np.testing.assert_array_equal(np.unique(pixels // 410), np.arange(50, 560, 2))
    assert np.array_equal(col_of[pixels], np.arange(pixels.size))
    first = frames[: correlation.OCCUPANCY_PROBE_FRAMES].reshape(correlation.OCCUPANCY_PROBE_FRAMES, -1)
    assert corr.occupancy[0] == np.count_nonzero(first[:, pixels]) / first[:, pixels].size
    assert corr.occupancy[0] == pytest.approx(
        np.count_nonzero(first[:, labels.ravel() > 0]) / (16 * 193800), abs=2e-3
    )
    blocks = frames[:16].reshape(8, 2, -1).max(axis=1)[:, pixels]  # level 1: eight sums of two frames
    assert corr.occupancy[1] == np.count_nonzero(blocks) / blocks.size


def test_norm_masks_and_every_roi_shape(rng):
    frames = _sparse(rng, (120, 40, 44), occupancy=0.08, top=300)  # counts past one byte
    geo = geometry.Geometry((20.0, 22.0), 5.0, 1.0, 75e-6)
    q, phi = geometry.q_map((40, 44), geo), geometry.phi_map((40, 44), geo)
    mask = rng.random((40, 44)) > 0.1
    edges = rois.ring_edges(q[20, 26], q[20, 42], 4)
    shapes = [
        rois.q_rings(q, edges, mask=mask).labels,
        rois.q_phi_segments(q, phi, edges, [(-180, -60), (-60, 60), (170, -170)], mask=mask).labels,
        rois.boxes((40, 44), [(2, 3, 10, 12), (20, 1, 39, 9), (30, 30, 36, 43)], mask=mask).labels,
    ]
    norm = rng.uniform(0.5, 2.0, (40, 44))
    for labels in shapes:
        for kw in ({"mask": mask}, {"norm": norm}):
            dense = correlation.multi_tau(frames, labels, 8, bad_frames=[7], method="dense", **kw)
            _same(correlation.multi_tau(frames, labels, 8, bad_frames=[7], method="events", **kw), dense)
            d2 = correlation.two_time(frames[:50], labels, [7], method="dense", dtype=np.float64, **kw)
            e2 = correlation.two_time(frames[:50], labels, [7], method="events", dtype=np.float64, **kw)
            np.testing.assert_allclose(e2, d2, rtol=1e-12, atol=1e-300)
        np.testing.assert_array_equal(
            xsvs.photon_histograms(frames, labels, n_bins=4, mask=mask, method="events").counts,
            xsvs.photon_histograms(frames, labels, n_bins=4, mask=mask, method="dense").counts,
        )


def test_known_dynamics_through_events(speckle, speckle_rings):
    """Synthetic Brownian speckle: the event path gives the dense path's g2, exactly."""
    compressed, _ = compress.compress_frames(speckle.frames)
    corr = correlation.MultiTauCorrelator(speckle_rings.labels, method="events")
    corr.update(compressed)
    dense = correlation.multi_tau(speckle.frames, speckle_rings.labels, method="dense")
    _same(corr.result(), dense)
    lag = 1
    expected = synthetic.expected_g2(speckle.truth, speckle_rings.q, [lag * speckle.truth["dt_s"]])[0]
    assert np.abs(corr.result().g2[lag] - expected).max() < 0.05


def test_two_time_events_equal_dense(data):
    frames, labels = data
    for bad in ([], [0, 10, 33]):
        dense = correlation.two_time(frames[:90], labels, bad, method="dense")
        for workers in (1, 2):
            events = correlation.two_time(frames[:90], labels, bad, method="events", workers=workers)
            assert events.dtype == np.float32
            np.testing.assert_array_equal(events, dense)
        compressed = compress.compress_frames(frames[:90]).frames
        np.testing.assert_array_equal(correlation.two_time(compressed, labels, bad, chunk_size=16), dense)


def test_two_time_dense_in_column_blocks(data, monkeypatch):
    """Dense two-time takes an ROI's pixels a block at a time, from frames or photons: the pair map."""
    frames, labels = data
    norm = np.linspace(0.5, 2.0, labels.size).reshape(labels.shape)
    monkeypatch.setattr(correlation, "GRAM_COLUMNS", 7)  # ROIs of 30 to 230 pixels
    photons = compress.compress_frames(frames[:60]).frames
    for n in (None, norm):
        events = correlation.two_time(frames[:60], labels, [4], method="events", norm=n)
        for source in (frames[:60], photons):  # photons: each block filled from them, chunk by chunk
            blocked = correlation.two_time(source, labels, [4], method="dense", norm=n, chunk_size=16)
            if n is None:
                np.testing.assert_array_equal(blocked, events)
            else:
                np.testing.assert_allclose(blocked, events, rtol=1e-6)  # float32 maps, sums in another order


@pytest.mark.parametrize(("tile", "threads"), [(8192, "1"), (13, "2"), (50, "3")])
def test_photon_histograms_events_equal_dense(data, monkeypatch, tile, threads):
    """One tile of pixels or many, shared out among threads: the counts of the dense counter."""
    from jupyterlab_raydata.analysis import _event_xsvs

    monkeypatch.setattr(_event_xsvs, "TILE", tile)
    monkeypatch.setenv("RAYDATA_THREADS", threads)
    frames, labels = data
    compressed = compress.compress_frames(frames).frames
    for bad in (None, [0, 1, 31, 100]):
        kw = {"n_bins": 5, "bad_frames": bad}
        dense = xsvs.photon_histograms(frames, labels, method="dense", chunk_size=20, **kw)
        events = xsvs.photon_histograms(frames, labels, method="events", chunk_size=7, **kw)
        np.testing.assert_array_equal(events.counts, dense.counts)
        np.testing.assert_array_equal(xsvs.photon_histograms(compressed, labels, **kw).counts, dense.counts)


def test_events_must_be_sorted_within_a_frame(data):
    frames, labels = data
    c = compress.compress_frames(frames[:4]).frames
    reverse = slice(None, None, -1)
    shuffled = compress.CompressedFrames(c.indptr, c.indices[reverse], c.values[reverse], c.frame_shape)
    with pytest.raises(ValueError, match="ascending"):
        correlation.multi_tau(shuffled, labels, method="events")
    with pytest.raises(ValueError, match="ascending"):
        xsvs.photon_histograms(shuffled, labels, method="events")
    with pytest.raises(ValueError, match="method"):
        correlation.multi_tau(frames, labels, method="fast")


def test_small_row_budgets_give_the_same_result(data, monkeypatch):
    """Few rows per dense call and per hand-over to the engine above: the same numbers."""
    from jupyterlab_raydata.analysis import _event_multitau, _multitau

    frames, labels = data
    bad = [3, 40, 41]
    before = {
        m: correlation.multi_tau(frames, labels, 4, bad_frames=bad, method=m) for m in ("dense", "auto")
    }
    monkeypatch.setattr(_multitau, "LEVEL_BYTES", 1)
    monkeypatch.setattr(_event_multitau, "UP_ROWS", 1)
    monkeypatch.setattr(correlation, "PAIR_LIMIT", 0.3)
    for method, expected in before.items():
        corr = correlation.MultiTauCorrelator(labels, 4, method=method)
        corr.update(frames, bad_frames=bad, chunk_size=29)
        if method == "dense":
            assert corr._shares[0].engine.block == _multitau.SUB_ROWS
        else:
            assert corr.pair_levels < corr.event_levels or corr._shares[0].upper is not None
        _same(corr.result(), expected)


@pytest.mark.parametrize(("pair_limit", "limit"), [(0.3, 0.08), (4.0, 0.2), (0.3, 1.0)])
def test_labels_across_tile_edges(data, monkeypatch, pair_limit, limit):
    """Tiles of a few columns, so every label's columns straddle tile edges: the same numbers, with
    the dense levels fed tile by tile by the pair kernel, or whole rows through event levels."""
    from jupyterlab_raydata.analysis import _event_multitau, _event_pairs

    frames, labels = data
    bad = [3, 40]
    dense = correlation.multi_tau(frames, labels, 4, bad_frames=bad, method="dense")
    monkeypatch.setattr(correlation, "PAIR_LIMIT", pair_limit)
    monkeypatch.setattr(correlation, "EVENT_OCCUPANCY_LIMIT", limit)
    monkeypatch.setattr(_event_pairs, "TILE", 5)
    monkeypatch.setattr(_event_multitau, "TILE", 7)
    for workers in (1, 2):
        corr = correlation.MultiTauCorrelator(labels, 4, workers=workers)
        corr.update(frames, bad_frames=bad, chunk_size=31)
        share = corr._shares[0]
        assert share.tile_cols.size > 10
        assert isinstance(share.upper, _event_multitau.UnionShare) == (limit == 1.0)
        _same(corr.result(), dense)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.uint32, np.float32, np.float64])
def test_event_values_of_every_dtype(rng, dtype):
    """Counts reach the kernels as recorded (no float copy): every dtype, fractions too."""
    frames = _sparse(rng, (90, 20, 26), occupancy=0.06, top=9, dtype=np.uint16).astype(dtype)
    if np.dtype(dtype).kind == "f":
        frames = frames * np.asarray(0.37, dtype)  # not integers: the float64 path
    labels = np.zeros((20, 26), int)
    labels[1:9, 2:20] = 1
    labels[10:19, :] = 3
    dense = correlation.multi_tau(frames, labels, 4, bad_frames=[2, 50], method="dense")
    events = compress.compress_frames(frames).frames
    assert events.values.dtype == dtype
    for method in ("events", "auto"):
        _same(correlation.multi_tau(events, labels, 4, bad_frames=[2, 50], method=method), dense)


def test_pair_levels_follow_the_partners_and_stop_at_the_largest_gap():
    """A photon's partners decide how many levels come from pairs, within MAX_PAIR_GAP frames."""
    assert MAX_PAIR_GAP == 512
    assert pair_levels(0.5, 8, 4.0) == 1  # 2.5 partners at level 0, 5 at level 1
    assert pair_levels(0.02, 8, 4.0) == 6  # 0.1 partners at level 0, doubling per level
    assert pair_levels(1e-9, 8, 4.0) == 7  # level 6's pairs span 8 · 2^6 = 512 frames
    assert pair_levels(1e-9, 64, 4.0) == 4
    assert pair_levels(1e-9, 1024, 4.0) == 0
