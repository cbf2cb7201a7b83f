"""Sparse compression of photon-sparse frames: photon events (pixels with counts only).

XPCS frames are mostly zeros: at CHX typically well under 10 % of the pixels see
a photon in a frame. :class:`CompressedFrames` keeps, per frame, the flat
(row-major) indices and values of the non-zero pixels, like pyCHX's compressed
"multifile", in three flat arrays (CSR layout). It is itself a frame source:
every function taking frames accepts it, and the correlators work on its events
directly (their cost follows the photons, not the pixels).

:func:`iter_events` turns any frame input into events chunk by chunk: a compiled
kernel skips zero pixels a 64-bit word at a time, frames are split among threads
(:func:`~jupyterlab_raydata.analysis.threads.thread_budget`), and HDF5 datasets
are decoded straight into events (:mod:`~jupyterlab_raydata.analysis.hdf5`).
:func:`compress_frames` collects them and reports occupancy statistics.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .frames import iter_chunks
from .masks import check_shape
from .threads import thread_budget

__all__ = [
    "CompressedFrames",
    "CompressionResult",
    "OccupancyStats",
    "SparseFrame",
    "compress_frames",
    "dense_events",
    "iter_events",
    "iter_frames_or_events",
    "occupancy",
    "read_events",
]

#: Frames per piece when a series is turned into events chunk by chunk.
EVENT_CHUNK_FRAMES = 256

#: Frames per piece of events already in memory: the pieces are views, so their
#: length costs no memory, and longer pieces let the correlators re-read fewer of
#: the photons they keep from one piece to the next.
VIEW_CHUNK_FRAMES = 512


@dataclass(frozen=True)
class OccupancyStats:
    """How photon-sparse a series is.

    Attributes
    ----------
    n_frames, n_pixels : int
        Frames, and good pixels per frame.
    occupancy : float
        Mean fraction of good pixels with a photon count in a frame.
    mean_counts : float
        Mean count per good pixel per frame.
    mean_counts_occupied : float
        Mean count of an occupied pixel.
    max_count : int
        Largest count seen.
    compression : float
        Size of the dense frames divided by the size of the compressed arrays.
    """

    n_frames: int
    n_pixels: int
    occupancy: float
    mean_counts: float
    mean_counts_occupied: float
    max_count: float
    compression: float

    def __str__(self) -> str:
        return (
            f"{self.n_frames} frames, {self.n_pixels} good pixels: "
            f"the fraction of pixels occupied by photons is {100 * self.occupancy:6.3f}%, "
            f"{self.mean_counts:.4g} photons/pixel/frame "
            f"({self.mean_counts_occupied:.3g} per occupied pixel), "
            f"max count {self.max_count:g}, compression x{self.compression:.1f}"
        )


class SparseFrame(NamedTuple):
    """The photons of one frame; unpacks as ``indices, values``."""

    #: Flat (row-major) pixel indices, ascending.
    indices: np.ndarray
    #: Counts of those pixels.
    values: np.ndarray


class CompressedFrames:
    """A frame series stored as the non-zero pixels of each frame.

    Parameters
    ----------
    indptr : ndarray of int64, shape ``(T + 1,)``
        Frame ``t`` owns entries ``indptr[t]:indptr[t + 1]``.
    indices : ndarray of int32
        Flat pixel indices (``row * W + col``), ascending within a frame.
    values : ndarray
        Counts of those pixels.
    frame_shape : tuple of int
        ``(H, W)``.
    """

    def __init__(self, indptr, indices, values, frame_shape):
        self.indptr = np.asarray(indptr, dtype=np.int64)
        self.indices = np.asarray(indices, dtype=np.int32)
        self.values = np.asarray(values)
        self.frame_shape = tuple(int(s) for s in frame_shape)
        if (
            self.indptr[0] != 0
            or self.indptr[-1] != self.indices.size
            or self.indices.size != self.values.size
        ):
            raise ValueError("inconsistent compressed arrays")

    def __len__(self) -> int:
        return self.indptr.size - 1

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(T, H, W)`` of the dense series."""
        return (len(self), *self.frame_shape)

    @property
    def dtype(self) -> np.dtype:
        """Dtype of the counts."""
        return self.values.dtype

    @property
    def nbytes(self) -> int:
        """Memory taken by the compressed arrays."""
        return self.indptr.nbytes + self.indices.nbytes + self.values.nbytes

    def sparse_frame(self, t: int) -> SparseFrame:
        """Flat pixel indices and counts of frame ``t`` (views, not copies)."""
        a, b = self.indptr[t], self.indptr[t + 1]
        return SparseFrame(self.indices[a:b], self.values[a:b])

    def frame(self, t: int) -> np.ndarray:
        """Dense frame ``t``."""
        out = np.zeros(self.frame_shape[0] * self.frame_shape[1], self.dtype)
        p, v = self.sparse_frame(t)
        out[p] = v
        return out.reshape(self.frame_shape)

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return np.stack([self.frame(t) for t in range(start, stop, step)])
            return self._dense(start, stop)
        return self.frame(int(index) % len(self))

    def _dense(self, t0: int, t1: int) -> np.ndarray:
        n_pix = self.frame_shape[0] * self.frame_shape[1]
        out = np.zeros((t1 - t0, n_pix), self.dtype)
        a, b = self.indptr[t0], self.indptr[t1]
        rows = np.repeat(np.arange(t1 - t0), np.diff(self.indptr[t0 : t1 + 1]))
        out[rows, self.indices[a:b]] = self.values[a:b]
        return out.reshape(t1 - t0, *self.frame_shape)

    def select(self, start: int, stop: int) -> CompressedFrames:
        """Frames ``[start, stop)`` (views of these arrays)."""
        a, b = self.indptr[start], self.indptr[stop]
        return CompressedFrames(
            self.indptr[start : stop + 1] - a, self.indices[a:b], self.values[a:b], self.frame_shape
        )

    @classmethod
    def concatenate(cls, pieces, frame_shape, *, take=None) -> CompressedFrames:
        """Consecutive pieces as one series (``frame_shape`` is needed when there are none).

        ``take(n, dtype)``, if given, supplies the arrays for the indices and the
        values (a reader recycling its memory); by default they are new.
        """
        pieces = list(pieces)
        if not pieces:
            return cls(np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0), frame_shape)
        if len(pieces) == 1:
            return pieces[0]
        offsets = np.cumsum([0] + [p.indices.size for p in pieces])
        indptr = np.concatenate([[0]] + [p.indptr[1:] + o for p, o in zip(pieces, offsets[:-1], strict=True)])
        parts = [[p.indices for p in pieces], [p.values for p in pieces]]
        if take is None:
            indices, values = (np.concatenate(part) for part in parts)
        else:
            indices, values = (
                np.concatenate(part, out=take(int(offsets[-1]), np.result_type(*part))) for part in parts
            )
        return cls(indptr, indices, values, frame_shape)

    def iter_event_chunks(self, chunk_size=None, start=0, stop=None, *, mask=None, threshold: float = 0):
        """Events of consecutive frames, ``(t0, CompressedFrames)``, as :func:`iter_events`.

        Pieces are views (copies only with ``mask`` or ``threshold``), by default
        of :data:`VIEW_CHUNK_FRAMES` frames.
        """
        stop = len(self) if stop is None else min(stop, len(self))
        size = chunk_size or VIEW_CHUNK_FRAMES
        good = None if mask is None else check_shape(mask, self.frame_shape).ravel()
        for t0 in range(start, stop, size):
            piece = self.select(t0, min(t0 + size, stop))
            if good is not None or threshold > 0:
                keep = piece.values > threshold
                if good is not None:
                    keep &= good[piece.indices]
                piece = piece.keep(keep)
            yield t0, piece

    def keep(self, keep: np.ndarray) -> CompressedFrames:
        """The events where ``keep`` (one flag per event) is True."""
        frame_of = np.repeat(np.arange(len(self)), np.diff(self.indptr))
        counts = np.bincount(frame_of[keep], minlength=len(self))
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return CompressedFrames(indptr, self.indices[keep], self.values[keep], self.frame_shape)

    def iter_frame_chunks(self, chunk_size=None, start=0, stop=None):
        """Dense chunks ``(t0, (c, H, W))``, as :func:`~jupyterlab_raydata.analysis.frames.iter_chunks`."""
        stop = len(self) if stop is None else min(stop, len(self))
        size = chunk_size or max(1, 2**25 // max(self.frame_shape[0] * self.frame_shape[1], 1))
        for t0 in range(start, stop, size):
            yield t0, self._dense(t0, min(t0 + size, stop))

    def gather_pixels(self, selection, chunk_size=None):
        """Selected pixels as ``(t0, (c, n_selected))`` matrices, without dense frames.

        Columns follow ``selection.index`` (label by label), as
        :meth:`~jupyterlab_raydata.analysis.frames.PixelSelection.gather` returns them.
        ``chunk_size`` frames at a time (default: about 64 MB of matrix).
        """
        if tuple(selection.shape) != self.frame_shape:
            raise ValueError(f"labels have shape {selection.shape} but the frames have {self.frame_shape}")
        column = selection.columns(np.int32)
        row_bytes = max(selection.index.size * self.dtype.itemsize, 1)
        size = chunk_size or int(np.clip(2**26 // row_bytes, 1, 256))
        for t0 in range(0, len(self), size):
            t1 = min(t0 + size, len(self))
            a, b = self.indptr[t0], self.indptr[t1]
            cols = column[self.indices[a:b]]
            keep = cols >= 0
            rows = np.repeat(np.arange(t1 - t0, dtype=np.int32), np.diff(self.indptr[t0 : t1 + 1]))[keep]
            out = np.zeros((t1 - t0, selection.index.size), self.dtype)
            out[rows, cols[keep]] = self.values[a:b][keep]
            yield t0, out

    def frame_sums(self, mask=None) -> np.ndarray:
        """Total counts of every frame (float64), over the pixels where ``mask`` is True (default all)."""
        values = self.values.astype(np.float64)
        if mask is not None:
            good = check_shape(mask, self.frame_shape).ravel()
            values[~good[self.indices]] = 0
        sums = np.zeros(len(self))
        if values.size:
            nonempty = np.diff(self.indptr) > 0
            sums[nonempty] = np.add.reduceat(values, self.indptr[:-1])[nonempty]
        return sums

    def pixel_sums(self, frames=None) -> np.ndarray:
        """Total counts of every pixel (float64, ``(H, W)``) over the frames where ``frames`` is True
        (one flag per frame; default all)."""
        indices, values = self.indices, self.values
        if frames is not None and not np.all(frames):
            keep = np.repeat(np.asarray(frames, bool), np.diff(self.indptr))
            indices, values = indices[keep], values[keep]
        n_pixels = self.frame_shape[0] * self.frame_shape[1]
        return np.bincount(indices, weights=values, minlength=n_pixels).reshape(self.frame_shape)

    def save(self, path) -> Path:
        """Write to an HDF5 file (datasets ``indptr``, ``indices``, ``values``)."""
        import h5py

        path = Path(path)
        with h5py.File(path, "w") as f:
            f.attrs["frame_shape"] = self.frame_shape
            f.attrs["format"] = "jupyterlab_raydata.compressed_frames/1"
            for name in ("indptr", "indices", "values"):
                f.create_dataset(name, data=getattr(self, name), compression="gzip", compression_opts=1)
        return path

    @classmethod
    def load(cls, path) -> CompressedFrames:
        """Read a file written by :meth:`save`."""
        import h5py

        with h5py.File(path, "r") as f:
            return cls(f["indptr"][()], f["indices"][()], f["values"][()], tuple(f.attrs["frame_shape"]))


class CompressionResult(NamedTuple):
    """What :func:`compress_frames` returns; unpacks as ``frames, stats``."""

    #: The compressed series.
    frames: CompressedFrames
    #: How photon-sparse it is.
    stats: OccupancyStats


def compress_frames(
    frames, *, mask=None, threshold: float = 0, chunk_size: int | None = None
) -> CompressionResult:
    """Compress a series to its non-zero pixels, streaming.

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` counts (see :mod:`~jupyterlab_raydata.analysis.frames`); an
        ``h5py.Dataset`` or :class:`~jupyterlab_raydata.analysis.hdf5.HDF5Frames`
        is decoded in parallel straight into events.
    mask : array_like of bool, optional
        True = good; masked pixels are dropped.
    threshold : float
        Keep counts ``> threshold``; 0 keeps every photon (lossless).
    chunk_size : int, optional
        Frames read at a time.

    Returns
    -------
    CompressionResult
        ``frames`` (:class:`CompressedFrames`) and ``stats`` (:class:`OccupancyStats`).
    """
    compressed = read_events(frames, chunk_size, mask=mask, threshold=threshold)
    return CompressionResult(compressed, occupancy(compressed, mask))


def occupancy(events: CompressedFrames, mask=None) -> OccupancyStats:
    """How photon-sparse a series is, over the pixels where ``mask`` is True (default all).

    Parameters
    ----------
    events : CompressedFrames
        The series.
    mask : array_like of bool, optional
        True = good pixel; photons of other pixels are not counted.
    """
    frame_shape = events.frame_shape
    n_t = len(events)
    values = events.values
    if mask is None:
        n_good, inside = frame_shape[0] * frame_shape[1], None
        n_events = values.size
    else:
        good = check_shape(mask, frame_shape).ravel()
        n_good, inside = int(good.sum()), good[events.indices]
        n_events = int(np.count_nonzero(inside))
    total = float(np.sum(values, dtype=np.float64, where=True if inside is None else inside))
    largest = values.max(initial=0, where=True if inside is None else inside)
    dense_bytes = n_t * n_good * values.dtype.itemsize
    compressed_bytes = events.indptr.nbytes + n_events * (events.indices.itemsize + values.dtype.itemsize)
    return OccupancyStats(
        n_frames=n_t,
        n_pixels=n_good,
        occupancy=n_events / max(n_t * n_good, 1),
        mean_counts=total / max(n_t * n_good, 1),
        mean_counts_occupied=total / max(n_events, 1),
        max_count=float(largest),
        compression=dense_bytes / max(compressed_bytes, 1),
    )


def read_events(
    frames, chunk_size: int | None = None, *, mask=None, threshold: float = 0, progress=None
) -> CompressedFrames:
    """All the photon events of any frame input, in one :class:`CompressedFrames`.

    The pieces of :func:`iter_events` are copied once, into arrays sized from the first piece's
    photons per frame (grown if later frames hold more), instead of being kept and concatenated.

    Parameters
    ----------
    frames, chunk_size, mask, threshold
        As for :func:`iter_events`.
    progress : callable, optional
        ``progress(n)`` after each piece of ``n`` frames (e.g. a ``tqdm`` bar's ``update``).
    """
    n_total = len(frames) if hasattr(frames, "__len__") else None
    counts, indices, values = [], None, None
    used = 0
    frame_shape = None
    for _, piece in iter_events(frames, chunk_size, mask=mask, threshold=threshold):
        n = piece.indices.size
        if indices is None:
            frame_shape = piece.frame_shape
            per_frame = n / max(len(piece), 1)
            guess = int(per_frame * (n_total or 2 * len(piece)) * 1.05) + 1024
            indices, values = np.empty(guess, np.int32), np.empty(guess, piece.values.dtype)
        if used + n > indices.size:
            size = max(used + n, int(indices.size * 1.5))
            indices, values = _grow(indices, used, size), _grow(values, used, size)
        indices[used : used + n] = piece.indices
        values[used : used + n] = piece.values
        used += n
        counts.append(np.diff(piece.indptr))
        if progress is not None:
            progress(len(piece))
    if indices is None:
        raise ValueError("no frames")
    indptr = np.zeros(sum(c.size for c in counts) + 1, np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    return CompressedFrames(indptr, indices[:used], values[:used], frame_shape)


def iter_events(frames, chunk_size: int | None = None, *, mask=None, threshold: float = 0, workers=None):
    """Photon events of any frame input, chunk by chunk.

    Parameters
    ----------
    frames : frames or events
        :class:`CompressedFrames`, an ``h5py.Dataset``, an object with
        ``iter_event_chunks`` (e.g. :class:`~jupyterlab_raydata.analysis.hdf5.HDF5Frames`),
        or any input of :func:`~jupyterlab_raydata.analysis.frames.iter_chunks`.
    chunk_size : int, optional
        Frames per piece.
    mask : array_like of bool, optional
        True = good pixel.
    threshold : float
        Keep counts ``> threshold``.
    workers : int, optional
        Threads for dense input; default the thread budget.

    Yields
    ------
    t0 : int
        First frame of the piece.
    events : CompressedFrames
        The piece's events.
    """
    from .hdf5 import HDF5Frames, is_h5py_dataset

    if is_h5py_dataset(frames) and frames.ndim == 3:
        frames = HDF5Frames(frames, workers=workers)
    if hasattr(frames, "iter_event_chunks"):
        yield from frames.iter_event_chunks(chunk_size, mask=mask, threshold=threshold)
        return
    good = None
    threads = max(1, workers or thread_budget())
    with ThreadPoolExecutor(threads) if threads > 1 else _no_pool() as pool:
        for t0, chunk in iter_chunks(frames, chunk_size):
            if good is None and mask is not None:
                good = check_shape(mask, chunk.shape[1:]).ravel()
            yield t0, dense_events(chunk, good=good, threshold=threshold, pool=pool, threads=threads)


def iter_frames_or_events(frames, chunk_size: int | None = None, *, workers=None):
    """Chunks of a series in the form the input holds them: ``(t0, dense, events)``.

    Event sources (:class:`CompressedFrames`, HDF5 datasets, anything with
    ``iter_event_chunks``) give ``events`` (``dense`` is None); other inputs give
    dense ``(c, H, W)`` frames (``events`` is None). Analysis functions that can
    work either way take whichever is there and convert only when they must.
    """
    from .hdf5 import is_h5py_dataset

    if hasattr(frames, "iter_event_chunks") or (is_h5py_dataset(frames) and frames.ndim == 3):
        for t0, events in iter_events(frames, chunk_size, workers=workers):
            yield t0, None, events
        return
    for t0, chunk in iter_chunks(frames, chunk_size):
        yield t0, chunk, None


class _no_pool:
    """Stands for a thread pool when the budget is one thread."""

    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None


def dense_events(frames, *, good=None, threshold: float = 0, pool=None, threads: int = 1) -> CompressedFrames:
    """Events of a block of dense frames ``(c, H, W)``.

    Parameters
    ----------
    frames : ndarray, shape ``(c, H, W)``
    good : ndarray of bool, shape ``(H * W,)``, optional
        True = good pixel (flat).
    threshold : float
        Keep values ``> threshold``.
    pool : ThreadPoolExecutor, optional
        Threads among which the frames are split, in ``threads`` parts.
    threads : int
        Parts when ``pool`` is given.

    Returns
    -------
    CompressedFrames
    """
    frames = np.ascontiguousarray(frames)
    if frames.ndim != 3:
        raise ValueError(f"frames must have shape (c, H, W), got {frames.shape}")
    frame_shape = frames.shape[1:]
    flat = frames.reshape(frames.shape[0], -1)
    if threshold < 0 or frames.dtype.kind not in "uif" or frames.dtype.itemsize > 8 or not frames.size:
        return _dense_events_numpy(flat, good, threshold, frame_shape)
    n = frames.shape[0]
    parts = 1 if pool is None else max(1, min(threads, n))
    cuts = np.linspace(0, n, parts + 1).round().astype(int)
    tasks = [(flat[a:b], good, float(threshold)) for a, b in itertools.pairwise(cuts) if b > a]
    results = list(pool.map(_extract_part, tasks)) if parts > 1 else [_extract_part(tasks[0])]
    pieces = [CompressedFrames(indptr, idx, val, frame_shape) for indptr, idx, val in results]
    return CompressedFrames.concatenate(pieces, frame_shape)


def _extract_part(task):
    """Run the extraction kernel on ``(frames (c, P), good, threshold)``, growing its output as needed."""
    from ._extract import dense_events as kernel

    flat2d, good, threshold = task
    n, n_pix = flat2d.shape
    flat = flat2d.reshape(-1)
    itemsize = flat.dtype.itemsize
    words = flat[: flat.size * itemsize // 8 * 8 // itemsize].view(np.uint64)
    indptr = np.zeros(n + 1, np.int64)
    # Room for a frame more than ~3 % occupancy; grown (rarely) when exceeded.
    capacity = n_pix + n * n_pix // 32 + 64
    idx, val = np.empty(capacity, np.int32), np.empty(capacity, flat.dtype)
    mask = np.zeros(0, bool) if good is None else good
    t = e = 0
    while True:
        t, e = kernel(
            words, flat, 8 // itemsize, n_pix, t, threshold, mask, good is not None, indptr, idx, val, e
        )
        if t == n:
            break
        capacity = e + n_pix + (n - t) * max(e // max(t, 1), n_pix // 32) * 2
        idx, val = _grow(idx, e, capacity), _grow(val, e, capacity)
    return indptr, idx[:e].copy(), val[:e].copy()


def _grow(a: np.ndarray, used: int, size: int) -> np.ndarray:
    out = np.empty(size, a.dtype)
    out[:used] = a[:used]
    return out


def _dense_events_numpy(flat, good, threshold, frame_shape) -> CompressedFrames:
    """Reference path for what the kernel does not cover (negative thresholds, odd dtypes)."""
    keep = flat > threshold
    if good is not None:
        keep &= good
    rows, cols = np.nonzero(keep)
    counts = np.bincount(rows, minlength=flat.shape[0])
    indptr = np.concatenate([[0], np.cumsum(counts)])
    return CompressedFrames(indptr, cols.astype(np.int32), flat[rows, cols], frame_shape)
