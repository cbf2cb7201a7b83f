"""Frame series access: one way to stream any supported input in chunks of frames.

Supported inputs (all yield frames of shape ``(H, W)`` in time order):

* a numpy array ``(T, H, W)`` (including ``np.memmap``);
* anything array-like with ``.shape`` and slicing along the first axis: a dask array,
  an ``h5py.Dataset``, a tiled ``ArrayClient``, a zarr array;
* a 4-D array-like ``(events, frames, H, W)`` as bluesky/tiled return detector
  images, read event by event as one series;
* any object with ``iter_frame_chunks(chunk_size, start, stop)`` yielding
  ``(t0, chunk)`` pairs, e.g.
  :class:`~jupyterlab_raydata.analysis.compress.CompressedFrames` or
  :class:`~jupyterlab_raydata.analysis.preprocess.BackgroundSubtracted`;
* any other iterable of 2-D frames (a generator, a list), consumed once.

Only one chunk is materialised at a time, so a series larger than memory can be
processed; array-likes are sliced lazily and only the slice is read.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_CHUNK_BYTES",
    "PixelSelection",
    "SeriesArray",
    "frame_shape",
    "iter_chunks",
    "n_frames",
    "valid_frames",
]

#: Default size of one chunk of raw frames in memory (64 MiB).
DEFAULT_CHUNK_BYTES = 64 * 2**20


def _is_array_like(frames) -> bool:
    return hasattr(frames, "shape") and hasattr(frames, "__getitem__") and len(frames.shape) in (3, 4)


def n_frames(frames) -> int | None:
    """Number of frames in ``frames``, or ``None`` for an iterator of unknown length."""
    if _is_array_like(frames):
        shape = tuple(frames.shape)
        return shape[0] * shape[1] if len(shape) == 4 else shape[0]
    try:
        return len(frames)
    except TypeError:
        return None


def frame_shape(frames) -> tuple[int, int] | None:
    """Shape ``(H, W)`` of one frame, or ``None`` if it cannot be known without reading."""
    if _is_array_like(frames):
        return tuple(int(s) for s in frames.shape[-2:])
    return None


def _default_chunk(shape: tuple[int, int], itemsize: int) -> int:
    return max(1, DEFAULT_CHUNK_BYTES // (shape[0] * shape[1] * max(itemsize, 1)))


def iter_chunks(frames, chunk_size: int | None = None, start: int = 0, stop: int | None = None):
    """Stream a frame series as consecutive chunks.

    Parameters
    ----------
    frames : array-like or iterable
        Any supported input (see the module docstring).
    chunk_size : int, optional
        Frames per chunk; by default about :data:`DEFAULT_CHUNK_BYTES` of raw data.
    start, stop : int, optional
        Frame range ``[start, stop)``, like a slice.

    Yields
    ------
    t0 : int
        Index of the chunk's first frame in the series.
    chunk : ndarray, shape ``(c, H, W)``
        The frames, in their native dtype (a view where the input allows).
    """
    if hasattr(frames, "iter_frame_chunks"):
        yield from frames.iter_frame_chunks(chunk_size, start, stop)
        return
    if _is_array_like(frames):
        yield from _array_chunks(frames, chunk_size, start, stop)
        return
    if isinstance(frames, np.ndarray):
        raise ValueError(f"frames must have shape (T, H, W), got {frames.shape}")
    yield from _iterable_chunks(frames, chunk_size, start, stop)


def _array_chunks(frames, chunk_size, start, stop):
    shape = tuple(frames.shape)
    itemsize = np.dtype(getattr(frames, "dtype", np.float64)).itemsize
    size = chunk_size or _default_chunk(shape[-2:], itemsize)
    total = n_frames(frames)
    stop = total if stop is None else min(stop, total)
    per_event = shape[1] if len(shape) == 4 else None
    t = start
    while t < stop:
        t1 = min(t + size, stop)
        if per_event is None:
            chunk = frames[t:t1]
        else:
            # Never span two events, so each read is one contiguous slice.
            event, offset = divmod(t, per_event)
            t1 = min(t1, (event + 1) * per_event)
            chunk = frames[event, offset : offset + t1 - t]
        yield t, np.asarray(chunk)
        t = t1


def _iterable_chunks(frames: Iterable, chunk_size, start, stop):
    iterator = iter(frames)
    if start:
        iterator = itertools.islice(iterator, start, None)
    t = start
    size = chunk_size
    while stop is None or t < stop:
        first = next(iterator, None)
        if first is None:
            return
        first = np.asarray(first)
        if first.ndim != 2:
            raise ValueError(f"each frame must be 2-D (H, W), got shape {first.shape}")
        if size is None:
            size = _default_chunk(first.shape, first.dtype.itemsize)
        want = size if stop is None else min(size, stop - t)
        rest = [np.asarray(f) for f in itertools.islice(iterator, want - 1)]
        for f in rest:
            if f.shape != first.shape:
                raise ValueError(f"frame shape {f.shape} differs from the first frame's {first.shape}")
        yield t, np.stack([first, *rest])
        t += 1 + len(rest)


class SeriesArray:
    """A frame series as a lazy ``(T, H, W)`` array: slicing reads only those frames, ``np.asarray``
    reads all. It works wherever this package takes frames.

    Subclasses give ``count``, ``frame_shape``, ``dtype``, ``read(start, stop)`` (frames
    ``start..stop-1`` as ``(n, H, W)``) and ``frame(index)`` (one ``(H, W)`` frame).
    """

    ndim = 3

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.count, *self.frame_shape)

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index) -> np.ndarray:
        first, rest = (index[0], index[1:]) if isinstance(index, tuple) else (index, ())
        if isinstance(first, slice):
            start, stop, step = first.indices(len(self))
            if step == 1:
                block = self.read(start, stop)
            else:
                block = np.stack([self.frame(i) for i in range(start, stop, step)])
            return block[(slice(None), *rest)] if rest else block
        i = int(first)
        i = i + len(self) if i < 0 else i
        if not 0 <= i < len(self):
            raise IndexError(f"frame {int(first)} is out of range for {len(self)} frames")
        frame = self.frame(i)
        return frame[rest] if rest else frame

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        frames = self.read(0, len(self))
        return frames if dtype is None else frames.astype(dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(shape={self.shape}, dtype={self.dtype})"


def valid_frames(bad_frames, t0: int, t1: int) -> np.ndarray:
    """Boolean validity of frames ``[t0, t1)`` given a bad-frame specification.

    Parameters
    ----------
    bad_frames : None, sequence of int, or boolean array
        Indices of bad frames in the whole series, or a boolean array that is
        True for bad frames (it may be shorter than the series; frames past its
        end are good).
    t0, t1 : int
        The frame range.

    Returns
    -------
    ndarray of bool, shape ``(t1 - t0,)``
        True where the frame is good.
    """
    valid = np.ones(t1 - t0, dtype=bool)
    if bad_frames is None:
        return valid
    bad = np.asarray(bad_frames)
    if bad.dtype == bool:
        part = bad[t0:t1]
        valid[: part.size] = ~part
        return valid
    if bad.size and not np.issubdtype(bad.dtype, np.integer):
        raise ValueError(f"bad_frames must be frame indices or a boolean array, got dtype {bad.dtype}")
    idx = bad[(bad >= t0) & (bad < t1)].astype(np.intp) - t0
    valid[idx] = False
    return valid


@dataclass(frozen=True)
class PixelSelection:
    """The pixels of a label array, grouped by label, for gathering from frames.

    Attributes
    ----------
    shape : tuple of int
        Detector shape ``(H, W)``.
    labels : ndarray of int
        The distinct non-zero label values, ascending; result columns follow this order.
    index : ndarray of intp
        Flat (row-major) pixel indices, label by label, ascending within a label.
    bounds : ndarray of intp, shape ``(n_labels + 1,)``
        Label ``k`` occupies ``index[bounds[k]:bounds[k + 1]]``.
    """

    shape: tuple[int, int]
    labels: np.ndarray
    index: np.ndarray
    bounds: np.ndarray

    @classmethod
    def from_labels(cls, label_array, mask=None) -> PixelSelection:
        """Build from a label array (0 = not used) and an optional good-pixel mask.

        Parameters
        ----------
        label_array : array_like of int, shape ``(H, W)``
            ROI labels; 0 and negative values are ignored.
        mask : array_like of bool, shape ``(H, W)``, optional
            True for good pixels; masked (False) pixels are dropped from every label.
        """
        label_array = np.asarray(label_array)
        if label_array.ndim != 2:
            raise ValueError(f"labels must be a 2-D array, got shape {label_array.shape}")
        if not np.issubdtype(label_array.dtype, np.integer):
            raise ValueError(f"labels must be integers, got dtype {label_array.dtype}")
        flat = label_array.ravel()
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != label_array.shape:
                raise ValueError(f"mask shape {mask.shape} does not match labels shape {label_array.shape}")
            flat = np.where(mask.ravel(), flat, 0)
        used = np.flatnonzero(flat > 0)
        order = used[np.argsort(flat[used], kind="stable")]
        values, counts = np.unique(flat[order], return_counts=True)
        if values.size == 0:
            raise ValueError("labels select no pixels (all zero or masked)")
        bounds = np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)
        return cls(tuple(label_array.shape), values, order.astype(np.intp), bounds)

    @property
    def n_labels(self) -> int:
        """Number of distinct labels."""
        return self.labels.size

    @property
    def n_pixels(self) -> np.ndarray:
        """Pixels per label."""
        return np.diff(self.bounds)

    def columns(self, dtype=np.int64) -> np.ndarray:
        """Column of every flat pixel in a gathered matrix, -1 for pixels not selected."""
        column = np.full(self.shape[0] * self.shape[1], -1, dtype)
        column[self.index] = np.arange(self.index.size, dtype=dtype)
        return column

    def label_slices(self) -> list[slice]:
        """Column slice of each label in a gathered matrix."""
        return [slice(a, b) for a, b in zip(self.bounds[:-1], self.bounds[1:], strict=True)]

    def gather(self, chunk: np.ndarray) -> np.ndarray:
        """Selected pixels of a chunk of frames as a ``(c, n_selected)`` matrix (same dtype).

        Parameters
        ----------
        chunk : ndarray, shape ``(c, H, W)``
        """
        if chunk.shape[1:] != self.shape:
            raise ValueError(f"frame shape {chunk.shape[1:]} does not match labels shape {self.shape}")
        flat = chunk.reshape(chunk.shape[0], -1)
        # mode="clip" skips per-element bounds checks; the indices are valid by construction.
        return np.take(flat, self.index, axis=1, mode="clip")
