import dask.array as da
import h5py
import numpy as np
import pytest

from jupyterlab_raydata.analysis import frames as fr


@pytest.fixture
def stack(rng):
    return rng.integers(0, 5, size=(23, 6, 7), dtype=np.uint16)


class SliceOnly:
    """Like a tiled ArrayClient: a shape, a dtype and slicing, nothing else."""

    def __init__(self, data):
        self._data, self.shape, self.dtype = data, data.shape, data.dtype
        self.reads = []

    def __getitem__(self, index):
        self.reads.append(index)
        return self._data[index].copy()


def _collect(source, **kwargs):
    parts = list(fr.iter_chunks(source, **kwargs))
    starts = [t0 for t0, _ in parts]
    return starts, np.concatenate([c for _, c in parts])


def test_every_input_kind_streams_the_same_frames(tmp_path, stack):
    with h5py.File(tmp_path / "f.h5", "w") as f:
        f["data"] = stack
    sources = {
        "ndarray": stack,
        "dask": da.from_array(stack, chunks=(5, 6, 7)),
        "iterator": (frame for frame in stack),
        "list": list(stack),
        "slice-only": SliceOnly(stack),
    }
    with h5py.File(tmp_path / "f.h5", "r") as f:
        sources["h5py"] = f["data"]
        for name, source in sources.items():
            starts, out = _collect(source, chunk_size=5)
            np.testing.assert_array_equal(out, stack, err_msg=name)
            assert starts == [0, 5, 10, 15, 20], name


def test_slicing_reads_only_the_requested_range(stack):
    source = SliceOnly(stack)
    starts, out = _collect(source, chunk_size=4, start=3, stop=11)
    np.testing.assert_array_equal(out, stack[3:11])
    assert starts == [3, 7]
    assert source.reads == [slice(3, 7), slice(7, 11)]
    assert fr.n_frames(source) == 23 and fr.frame_shape(source) == (6, 7)
    assert fr.n_frames(iter([])) is None


def test_events_by_frames_are_one_series(stack):
    events = stack[:20].reshape(4, 5, 6, 7)
    starts, out = _collect(events, chunk_size=3)
    np.testing.assert_array_equal(out, stack[:20])
    assert starts == [0, 3, 5, 8, 10, 13, 15, 18]  # a chunk never spans two events
    assert fr.n_frames(events) == 20


def test_iterator_frames_must_match():
    with pytest.raises(ValueError, match="2-D"):
        list(fr.iter_chunks(iter([np.zeros(3)])))
    with pytest.raises(ValueError, match="differs"):
        list(fr.iter_chunks([np.zeros((2, 2)), np.zeros((2, 3))], chunk_size=2))
    with pytest.raises(ValueError, match=r"\(T, H, W\)"):
        list(fr.iter_chunks(np.zeros((3, 3))))


def test_valid_frames_from_indices_or_booleans():
    np.testing.assert_array_equal(fr.valid_frames([1, 5, 9], 4, 8), [True, False, True, True])
    np.testing.assert_array_equal(fr.valid_frames(None, 0, 2), [True, True])
    flags = np.zeros(6, bool)
    flags[[2, 5]] = True
    np.testing.assert_array_equal(fr.valid_frames(flags, 4, 8), [True, False, True, True])
    with pytest.raises(ValueError):
        fr.valid_frames([0.5], 0, 2)


def test_pixel_selection_groups_by_label_and_honours_the_mask(stack):
    labels = np.zeros((6, 7), int)
    labels[0, :3] = 7
    labels[2, 1] = 2
    labels[5, 5:] = 2
    mask = np.ones((6, 7), bool)
    mask[0, 1] = False
    sel = fr.PixelSelection.from_labels(labels, mask)
    assert sel.labels.tolist() == [2, 7]
    assert sel.n_pixels.tolist() == [3, 2]
    assert sel.index.tolist() == [2 * 7 + 1, 5 * 7 + 5, 5 * 7 + 6, 0, 2]
    x = sel.gather(stack)
    np.testing.assert_array_equal(x[:, 3:], stack[:, 0, [0, 2]])
    with pytest.raises(ValueError, match="no pixels"):
        fr.PixelSelection.from_labels(np.zeros((2, 2), int))
    with pytest.raises(ValueError, match="integers"):
        fr.PixelSelection.from_labels(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\(5, 5\)"):
        fr.PixelSelection.from_labels(labels, np.ones((5, 5), bool))
