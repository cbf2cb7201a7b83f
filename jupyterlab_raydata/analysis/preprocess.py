"""Pre-processing: frame statistics, bad frames, I(q), intensity models, background.

Everything here streams over the frames (see :mod:`~jupyterlab_raydata.analysis.frames`)
and sums in float64.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .compress import iter_frames_or_events
from .frames import iter_chunks, n_frames, valid_frames
from .masks import check_shape, require_shape

__all__ = [
    "BackgroundSubtracted",
    "CircularAverage",
    "FrameStats",
    "circular_average",
    "find_bad_frames",
    "frame_stats",
    "load_background",
    "smooth_iq_map",
]


@dataclass(frozen=True)
class FrameStats:
    """Per-frame sums and the time-averaged image of a series.

    Attributes
    ----------
    sums : ndarray, shape ``(T,)``
        Total counts of each frame over the good pixels.
    mean_image : ndarray, shape ``(H, W)``
        Mean over the good frames (all frames if none were marked bad).
    n_good : int
        Frames averaged into ``mean_image``.
    """

    sums: np.ndarray
    mean_image: np.ndarray
    n_good: int


def frame_stats(frames, *, mask=None, bad_frames=None, chunk_size: int | None = None) -> FrameStats:
    """Per-frame sums and average image in one streaming pass.

    Photon events (:class:`~jupyterlab_raydata.analysis.compress.CompressedFrames`, HDF5 frames read
    straight to events) are summed event by event, at a cost that follows the photons; other inputs
    frame by frame.

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` frames or their photon events.
    mask : array_like of bool, optional
        True = good; masked pixels are left out of the sums (the average image
        keeps them, so they can be displayed).
    bad_frames : optional
        Frames left out of the average image (their sums are still reported, so
        they can be plotted; see :func:`find_bad_frames`).
    chunk_size : int, optional
        Frames read at a time.
    """
    sums, total, n_good = [], None, 0
    good = None
    for t0, dense, events in iter_frames_or_events(frames, chunk_size):
        n = len(events) if dense is None else dense.shape[0]
        shape = events.frame_shape if dense is None else dense.shape[1:]
        if good is None and mask is not None:
            good = check_shape(mask, shape)
        valid = valid_frames(bad_frames, t0, t0 + n)
        if dense is None:
            sums.append(events.frame_sums(good))
            part = events.pixel_sums(valid)
        else:
            flat = dense.reshape(n, -1)
            # Summing in float64 from the native dtype: no float copy of the chunk.
            sums.append(
                flat.sum(axis=1, dtype=np.float64)
                if good is None
                else flat[:, good.ravel()].sum(1, np.float64)
            )
            part = dense[valid].sum(axis=0, dtype=np.float64)
        total = part if total is None else total + part
        n_good += int(valid.sum())
    if total is None:
        raise ValueError("no frames")
    return FrameStats(np.concatenate(sums), total / max(n_good, 1), n_good)


def find_bad_frames(
    sums, *, low_fraction: float = 0.1, high_sigma: float = 10.0, low: float | None = None, high=None
) -> np.ndarray:
    """Indices of bad frames from the per-frame sums.

    Two kinds are found:

    * **shutter closed / beam lost**: sum below ``low`` (default ``low_fraction``
      times the median sum);
    * **spikes** (cosmic rays, detector glitches): sum above ``high`` (default the
      median plus ``high_sigma`` robust standard deviations, i.e. 1.4826 times the
      median absolute deviation, floored at the Poisson noise ``sqrt(median)``).

    Parameters
    ----------
    sums : array_like, shape ``(T,)``
        From :func:`frame_stats` or ``CompressedFrames.frame_sums()``.
    low_fraction, high_sigma : float
        Relative thresholds, used when ``low`` / ``high`` are not given.
    low, high : float, optional
        Absolute thresholds in counts.

    Returns
    -------
    ndarray of int
        Sorted frame indices.
    """
    sums = np.asarray(sums, dtype=np.float64)
    if sums.size == 0:
        return np.zeros(0, int)
    median = np.median(sums)
    if low is None:
        low = low_fraction * median
    if high is None:
        spread = max(1.4826 * np.median(np.abs(sums - median)), np.sqrt(max(median, 0)))
        high = median + high_sigma * spread
    return np.flatnonzero((sums < low) | (sums > high))


class CircularAverage(NamedTuple):
    """An azimuthally averaged I(q); unpacks as ``q, intensity, n_pixels``."""

    #: Mean q of the pixels in each bin (NaN for empty bins).
    q: np.ndarray
    #: Mean intensity per pixel in each bin (NaN for empty bins).
    intensity: np.ndarray
    #: Pixels per bin.
    n_pixels: np.ndarray


def circular_average(image, q_map, *, mask=None, bins=200, q_range=None) -> CircularAverage:
    """Azimuthally averaged intensity I(q).

    Parameters
    ----------
    image : ndarray, shape ``(H, W)``
        E.g. ``frame_stats(...).mean_image``.
    q_map : ndarray, shape ``(H, W)``
        q of every pixel (Å⁻¹).
    mask : array_like of bool, optional
        True = good.
    bins : int or array_like
        Number of equal q bins, or bin edges.
    q_range : tuple of float, optional
        ``(q_min, q_max)`` for equal bins; default the q range of the good pixels.

    Returns
    -------
    CircularAverage
        ``q``, ``intensity`` and ``n_pixels`` per bin.
    """
    image = np.asarray(image, dtype=np.float64)
    q_map = require_shape(np.asarray(q_map, dtype=np.float64), image.shape, "q map")
    good = np.isfinite(image) if mask is None else check_shape(mask, image.shape) & np.isfinite(image)
    q, values = q_map[good], image[good]
    if np.ndim(bins) == 0:
        lo, hi = q_range if q_range is not None else (q.min(), q.max())
        edges = np.linspace(lo, hi, int(bins) + 1)
    else:
        edges = np.asarray(bins, dtype=np.float64)
    index = np.digitize(q, edges) - 1
    # Pixels exactly at the top edge belong to the last bin.
    index[q == edges[-1]] = edges.size - 2
    inside = (index >= 0) & (index < edges.size - 1)
    n = np.bincount(index[inside], minlength=edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        q_mean = np.bincount(index[inside], q[inside], edges.size - 1) / n
        i_mean = np.bincount(index[inside], values[inside], edges.size - 1) / n
    return CircularAverage(q_mean, i_mean, n)


def smooth_iq_map(image, q_map, *, mask=None, bins=400, smooth: int = 3) -> np.ndarray:
    """A smooth model of the mean intensity at every pixel: ``I(q)`` interpolated.

    The circular average of ``image`` on fine q bins (lightly smoothed over
    ``smooth`` bins) is interpolated to each pixel's q. Pass the result as
    ``norm`` to :func:`~jupyterlab_raydata.analysis.correlation.multi_tau` so that
    the intensity gradient across a wide q ring does not bias g2 (pyCHX computes
    the same kind of map with ``get_pixelist_interp_iq``).

    Parameters
    ----------
    image : ndarray, shape ``(H, W)``
        Time-averaged image.
    q_map : ndarray, shape ``(H, W)``
        q of every pixel.
    mask : array_like of bool, optional
        True = good (only good pixels enter the average).
    bins : int
        Number of q bins.
    smooth : int
        Width of a moving average over bins (1 = none).

    Returns
    -------
    ndarray, shape ``(H, W)``
        Positive everywhere the intensity is (NaN outside the q range of the good pixels).
    """
    q, intensity, n = circular_average(image, q_map, mask=mask, bins=bins)
    ok = n > 0
    q, intensity, n = q[ok], intensity[ok], n[ok]
    if smooth > 1 and intensity.size > smooth:
        kernel = np.ones(smooth)
        # Pixel-weighted moving average: bins with few pixels count less.
        intensity = np.convolve(intensity * n, kernel, "same") / np.convolve(n, kernel, "same")
    q_map = np.asarray(q_map, dtype=np.float64)
    return np.interp(q_map, q, intensity, left=np.nan, right=np.nan)


def load_background(source, *, dataset: str | None = None, chunk_size: int | None = None) -> np.ndarray:
    """A background or dark image from a file or from another run's frames.

    Parameters
    ----------
    source : str, Path, ndarray or frames
        A ``.npy``, ``.tif``/``.tiff``, ``.h5``/``.hdf5`` or ``.edf`` file (a 3-D
        dataset is averaged over its first axis), a 2-D image, or any frame input
        (averaged, streaming).
    dataset : str, optional
        HDF5 dataset path.

    Returns
    -------
    ndarray of float64, shape ``(H, W)``
    """
    from pathlib import Path

    if isinstance(source, str | Path):
        source = _read_image_file(Path(source), dataset)
    arr = source if hasattr(source, "shape") else None
    if arr is not None and len(arr.shape) == 2:
        return np.asarray(arr, dtype=np.float64)
    return frame_stats(source, chunk_size=chunk_size).mean_image


def _read_image_file(path, dataset):
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return np.load(path, mmap_mode="r")
    if suffix in (".tif", ".tiff"):
        import tifffile

        return tifffile.imread(path)
    if suffix == ".edf":
        import fabio

        return fabio.open(str(path)).data
    if suffix in (".h5", ".hdf5"):
        import h5py

        with h5py.File(path, "r") as f:
            if dataset is None:
                raise ValueError(f"pass dataset= to read a background from {path.name}")
            data = f[dataset]
            return data[()] if data.ndim == 2 else frame_stats(data).mean_image
    raise ValueError(f"unsupported background file type {path.suffix!r}")


class BackgroundSubtracted:
    """Frames minus a scaled background image, computed chunk by chunk.

    ``frames[t] - scale * background`` in float32, optionally clipped at 0. It is a
    frame source like any other (e.g. for :func:`frame_stats` or the correlators);
    the result is no longer integer counts, so correlators compute in float64.

    Parameters
    ----------
    frames : array-like or iterable
        The series.
    background : ndarray, shape ``(H, W)``
        From :func:`load_background`.
    scale : float
        Factor on the background (e.g. a ratio of exposure times or transmissions).
    clip : bool
        Replace negative values by 0.
    """

    def __init__(self, frames, background, scale: float = 1.0, clip: bool = False):
        self.frames = frames
        self.background = np.asarray(background, dtype=np.float32) * np.float32(scale)
        self.clip = clip
        if hasattr(frames, "shape"):
            require_shape(self.background, tuple(frames.shape[-2:]), "background")

    @property
    def shape(self):
        """``(T, H, W)`` if the input's length is known."""
        return (n_frames(self.frames), *self.background.shape)

    def __len__(self) -> int:
        return n_frames(self.frames)

    def iter_frame_chunks(self, chunk_size=None, start=0, stop=None):
        """Background-subtracted chunks, as :func:`~jupyterlab_raydata.analysis.frames.iter_chunks`."""
        for t0, chunk in iter_chunks(self.frames, chunk_size, start, stop):
            require_shape(self.background, chunk.shape[1:], "background")
            out = chunk.astype(np.float32) - self.background
            if self.clip:
                np.maximum(out, 0, out=out)
            yield t0, out
