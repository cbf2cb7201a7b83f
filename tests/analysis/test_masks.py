import numpy as np
import pytest

from jupyterlab_raydata.analysis import masks


@pytest.fixture
def mask(rng):
    return rng.random((12, 17)) > 0.3


@pytest.mark.parametrize("suffix", [".npy", ".tif", ".tiff", ".h5", ".hdf5", ".edf"])
@pytest.mark.parametrize("inverted", [False, True])
def test_round_trip_every_format(tmp_path, mask, suffix, inverted):
    path = masks.save_mask(tmp_path / f"m{suffix}", mask, invert=inverted)
    kwargs = {"dataset": "mask"} if suffix in (".h5", ".hdf5") else {}
    loaded = masks.load_mask(path, invert=inverted, **kwargs)
    assert loaded.dtype == bool
    np.testing.assert_array_equal(loaded, mask)
    # Read without `invert`, a file storing bad pixels as 1 gives the complement.
    if inverted:
        np.testing.assert_array_equal(masks.load_mask(path, **kwargs), ~mask)


def test_hdf5_dataset_path_and_discovery(tmp_path, mask):
    import h5py

    path = tmp_path / "detector.h5"
    with h5py.File(path, "w") as f:
        f["entry/instrument/detector/pixel_mask"] = (~mask).astype(np.uint32)
        f["entry/data/frames"] = np.zeros((2, 3, 4))
    loaded = masks.load_mask(path, dataset="entry/instrument/detector/pixel_mask", invert=True)
    np.testing.assert_array_equal(loaded, mask)
    assert masks.load_mask(path, invert=True).shape == mask.shape  # the only 2-D dataset
    with pytest.raises(ValueError, match="no dataset"):
        masks.load_mask(path, dataset="nope")


def test_nonzero_values_are_good(tmp_path):
    np.save(tmp_path / "m.npy", np.array([[0, 1], [7, 0]], dtype=np.int32))
    np.testing.assert_array_equal(masks.load_mask(tmp_path / "m.npy"), [[False, True], [True, False]])


def test_wrong_shape_error_names_both_shapes(tmp_path, mask):
    masks.save_mask(tmp_path / "m.npy", mask)
    with pytest.raises(ValueError, match=r"\(12, 17\).*\(10, 10\)"):
        masks.load_mask(tmp_path / "m.npy", shape=(10, 10))
    with pytest.raises(ValueError, match=r"\(12, 16\).*\(12, 17\)"):
        masks.intersection(mask, mask[:, :16])
    with pytest.raises(ValueError, match=r"mask 2 has shape \(12, 16\) but mask 1 has \(12, 17\)"):
        masks.union(mask, mask[:, :16])


def test_unsupported_suffix(tmp_path):
    with pytest.raises(ValueError, match="unsupported"):
        masks.load_mask(tmp_path / "m.png")


def test_composition_truth_table():
    a = np.array([[True, True], [False, False]])
    b = np.array([[True, False], [True, False]])
    np.testing.assert_array_equal(masks.union(a, b), [[True, True], [True, False]])
    np.testing.assert_array_equal(masks.intersection(a, b), [[True, False], [False, False]])
    np.testing.assert_array_equal(masks.difference(a, b), [[False, True], [False, False]])
    np.testing.assert_array_equal(masks.invert(a), ~a)
    np.testing.assert_array_equal(masks.difference(a), a)


def test_shapes():
    c = masks.circle((11, 11), (5, 5), 2)
    assert c.sum() == 13 and c[5, 7] and not c[5, 8]
    ring = masks.annulus((11, 11), (5, 5), 2, 3)
    assert not ring[5, 5] and ring[5, 7] and not ring[5, 8]
    assert not (ring & masks.circle((11, 11), (5, 5), 1.9)).any()
    r = masks.rectangle((6, 8), (1, 2), (3, 5))
    assert r.sum() == 6 and r[1, 2] and r[2, 4] and not r[3, 4]
    tri = masks.polygon((10, 10), [(0, 0), (0, 9), (9, 0)])
    # Pixel centres strictly inside the triangle row + col < 9 (ray-casting convention).
    rows, cols = np.indices((10, 10))
    np.testing.assert_array_equal(tri, (rows + cols < 9))
    square = masks.polygon((6, 6), [(1, 1), (1, 4), (4, 4), (4, 1)])
    np.testing.assert_array_equal(square, masks.rectangle((6, 6), (1, 1), (4, 4)))
    with pytest.raises(ValueError):
        masks.polygon((4, 4), [(0, 0), (1, 1)])
    with pytest.raises(ValueError):
        masks.annulus((4, 4), (1, 1), 3, 2)


def test_hot_and_dead_pixels_despite_intensity_gradient(rng):
    shape = (40, 40)
    rows, cols = np.indices(shape)
    mean = 50.0 / (1 + ((rows - 5) ** 2 + (cols - 5) ** 2) / 30.0)  # steep, SAXS-like
    frames = rng.poisson(mean, size=(200, *shape)).astype(np.uint16)
    frames[:, 30, 30] += 40  # hot
    frames[:, 4, 6] = 0  # dead, in the bright region
    good = masks.hot_dead_pixels(frames)
    assert not good[30, 30] and not good[4, 6]
    assert good.sum() == good.size - 2
    known = np.ones(shape, bool)
    known[0, 0] = False
    assert not masks.hot_dead_pixels(frames, mask=known)[0, 0]
