"""One frame series stored in several HDF5 datasets (or ranges of them), read as one ``(T, H, W)`` array.

A detector series often spans files: Eiger writes ``data_000001.h5``, ``data_000002.h5``, …, and an
area-detector run may give each event its own range of one file. :class:`HDF5Series` reads them in
order, every part through :class:`~jupyterlab_raydata.analysis.hdf5.HDF5Frames`, so that the parallel
decoding (straight to photon events for Bitshuffle chunks) serves the whole series.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from .frames import SeriesArray
from .hdf5 import HDF5Frames

__all__ = ["HDF5Series"]


@dataclass
class _Part:
    frames: HDF5Frames
    first: int  # in the dataset
    count: int
    offset: int  # in the series


class HDF5Series(SeriesArray):
    """Frames of HDF5 datasets taken in order as one lazy ``(T, H, W)`` series.

    Parameters
    ----------
    parts : iterable of (path, dataset, first, count)
        Each part: a file, the dataset in it, the first frame taken and how many (``None``: to the
        dataset's end).
    frame_shape : (int, int), optional
        The shape every frame must have.
    count : int, optional
        The number of frames the parts must add up to.
    workers : int, optional
        Decoding threads (see :class:`~jupyterlab_raydata.analysis.hdf5.HDF5Frames`).

    Raises
    ------
    OSError
        When a file cannot be opened.
    ValueError
        When a dataset is missing, is not ``(T, H, W)``, is shorter than its part, or the frames differ
        from ``frame_shape`` or ``count``.
    """

    def __init__(self, parts: Iterable[tuple], *, frame_shape=None, count: int | None = None, workers=None):
        self._parts: list[_Part] = []
        try:
            offset = 0
            for path, dataset, first, n in parts:
                frames = _open(path, dataset, workers)
                self._parts.append(_Part(frames, first, 0, offset))
                n = len(frames) - first if n is None else n
                if first + n > len(frames):
                    raise ValueError(
                        f"{path} holds {len(frames)} frames in {dataset}; the run's record takes frames "
                        f"{first}..{first + n - 1}"
                    )
                self._parts[-1].count = n
                offset += n
            if not self._parts:
                raise ValueError("a series needs at least one dataset")
            shapes = {tuple(p.frames.shape[1:]) for p in self._parts}
            if len(shapes) > 1:
                raise ValueError(f"the files hold frames of different shapes: {sorted(shapes)}")
            self.frame_shape = shapes.pop()
            if frame_shape is not None and tuple(frame_shape) != self.frame_shape:
                raise ValueError(
                    f"the files hold {self.frame_shape} frames, the run records {tuple(frame_shape)}"
                )
            if count is not None and offset != count:
                raise ValueError(f"the files hold {offset} of the run's frames, the run records {count}")
        except BaseException:
            self.close()
            raise
        self.count = offset
        self.dtype = np.dtype(self._parts[0].frames.dtype)

    def close(self) -> None:
        """Close every file."""
        for part in self._parts:
            part.frames.close()

    def __enter__(self) -> HDF5Series:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _spans(self, start: int, stop: int):
        """``(part, first, last)`` in dataset frames for the series' frames ``[start, stop)``."""
        for part in self._parts:
            a, b = max(start, part.offset), min(stop, part.offset + part.count)
            if a < b:
                yield part, part.first + a - part.offset, part.first + b - part.offset

    def _range(self, start: int, stop: int | None) -> tuple[int, int]:
        return max(0, start), len(self) if stop is None else min(stop, len(self))

    def iter_event_chunks(
        self, chunk_size=None, start: int = 0, stop=None, *, mask=None, threshold: float = 0
    ):
        """Photon events, ``(t0, CompressedFrames)`` per chunk, as
        :meth:`HDF5Frames.iter_event_chunks` (a chunk never spans two parts)."""
        start, stop = self._range(start, stop)
        for part, a, b in self._spans(start, stop):
            shift = part.offset - part.first
            for t0, events in part.frames.iter_event_chunks(chunk_size, a, b, mask=mask, threshold=threshold):
                yield t0 + shift, events

    def iter_frame_chunks(self, chunk_size=None, start: int = 0, stop=None):
        """Dense chunks ``(t0, (c, H, W))``, as :meth:`HDF5Frames.iter_frame_chunks`."""
        start, stop = self._range(start, stop)
        for part, a, b in self._spans(start, stop):
            shift = part.offset - part.first
            for t0, chunk in part.frames.iter_frame_chunks(chunk_size, a, b):
                yield t0 + shift, chunk

    def frame(self, index: int) -> np.ndarray:
        """One frame as a 2-D array."""
        return self.read(index, index + 1)[0]

    def read(self, start: int, stop: int) -> np.ndarray:
        """Frames ``start..stop-1`` as ``(n, H, W)``."""
        start, stop = self._range(start, stop)
        if stop <= start:
            return np.empty((0, *self.frame_shape), self.dtype)
        blocks = [part.frames.dataset[a:b] for part, a, b in self._spans(start, stop)]
        return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _open(path, dataset: str, workers) -> HDF5Frames:
    try:
        return HDF5Frames(path, dataset, workers=workers)
    except KeyError:
        raise ValueError(f"{path} has no dataset {dataset}") from None
