"""Sparse compression of photon-sparse frames (pixels with counts only).

XPCS frames are mostly zeros: at CHX typically well under 10 % of the pixels see
a photon in a frame. :class:`CompressedFrames` keeps, per frame, the flat
(row-major) indices and values of the non-zero pixels, like pyCHX's compressed
"multifile", in three flat arrays (CSR layout). It is itself a frame source:
every function taking frames accepts it, and correlators gather their pixels from
it without expanding frames. :func:`compress_frames` builds it in one streaming
pass and reports occupancy statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .frames import iter_chunks
from .masks import check_shape

__all__ = ["CompressedFrames", "CompressionResult", "OccupancyStats", "SparseFrame", "compress_frames"]


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
        """
        if tuple(selection.shape) != self.frame_shape:
            raise ValueError(f"labels have shape {selection.shape} but the frames have {self.frame_shape}")
        column = np.full(self.frame_shape[0] * self.frame_shape[1], -1, np.int64)
        column[selection.index] = np.arange(selection.index.size)
        size = chunk_size or 256
        for t0 in range(0, len(self), size):
            t1 = min(t0 + size, len(self))
            a, b = self.indptr[t0], self.indptr[t1]
            cols = column[self.indices[a:b]]
            keep = cols >= 0
            rows = np.repeat(np.arange(t1 - t0), np.diff(self.indptr[t0 : t1 + 1]))[keep]
            out = np.zeros((t1 - t0, selection.index.size), self.dtype)
            out[rows, cols[keep]] = self.values[a:b][keep]
            yield t0, out

    def frame_sums(self) -> np.ndarray:
        """Total counts of every frame (float64)."""
        totals = (
            np.add.reduceat(self.values.astype(np.float64), self.indptr[:-1]) if self.values.size else None
        )
        sums = np.zeros(len(self))
        if totals is not None:
            nonempty = np.diff(self.indptr) > 0
            sums[nonempty] = totals[nonempty]
        return sums

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
        ``(T, H, W)`` integer counts (see :mod:`~jupyterlab_raydata.analysis.frames`).
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
    indptr, indices, values = [np.zeros(1, np.int64)], [], []
    frame_shape, good, dtype = None, None, None
    total = occupied = 0
    max_count = 0.0
    for _, chunk in iter_chunks(frames, chunk_size):
        if frame_shape is None:
            frame_shape, dtype = chunk.shape[1:], chunk.dtype
            good = np.ones(frame_shape, bool) if mask is None else check_shape(mask, frame_shape)
            good_flat = good.ravel()
        flat = chunk.reshape(chunk.shape[0], -1)
        keep = (flat > threshold) & good_flat
        rows, cols = np.nonzero(keep)
        vals = flat[rows, cols]
        counts = np.bincount(rows, minlength=chunk.shape[0])
        indptr.append(indptr[-1][-1] + np.cumsum(counts))
        indices.append(cols.astype(np.int32))
        values.append(vals)
        total += float(vals.sum(dtype=np.float64))
        occupied += vals.size
        max_count = max(max_count, float(vals.max(initial=0)))
    if frame_shape is None:
        raise ValueError("no frames")
    compressed = CompressedFrames(
        np.concatenate(indptr),
        np.concatenate(indices),
        np.concatenate(values).astype(dtype, copy=False),
        frame_shape,
    )
    n_t, n_good = len(compressed), int(good.sum())
    dense_bytes = n_t * frame_shape[0] * frame_shape[1] * np.dtype(dtype).itemsize
    stats = OccupancyStats(
        n_frames=n_t,
        n_pixels=n_good,
        occupancy=occupied / max(n_t * n_good, 1),
        mean_counts=total / max(n_t * n_good, 1),
        mean_counts_occupied=total / max(occupied, 1),
        max_count=max_count,
        compression=dense_bytes / max(compressed.nbytes, 1),
    )
    return CompressionResult(compressed, stats)
