"""Pixels to mask found from the data: never-counting pixels, values out of range, outliers in a q ring.

Each function returns a boolean array that is True for the pixels it *flags* (to be masked); hot
and dead pixels relative to their neighbours are :func:`~.masks.hot_dead_pixels` and
:func:`~.masks.hot_dead_from_mean`.
"""

from __future__ import annotations

import numpy as np

from .masks import check_shape, require_shape

__all__ = ["never_counted", "outside_range", "ring_outliers"]


def never_counted(max_image) -> np.ndarray:
    """True where a pixel's largest value over the frames is zero (or not a number): dead pixels and
    detector gaps that never count.

    Parameters
    ----------
    max_image : array_like, shape ``(H, W)``
        Per-pixel maximum over the frames.
    """
    max_image = np.asarray(max_image)
    return ~(max_image > 0)


def outside_range(image, vmin: float | None = None, vmax: float | None = None) -> np.ndarray:
    """True where ``image < vmin`` or ``image > vmax`` (either bound may be None), or not finite.

    Examples
    --------
    >>> outside_range(np.array([0.0, 1.0, 5.0, np.nan]), vmin=0.5, vmax=4).tolist()
    [True, False, True, True]
    """
    image = np.asarray(image, dtype=np.float64)
    flagged = ~np.isfinite(image)
    if vmin is not None:
        flagged |= image < vmin
    if vmax is not None:
        flagged |= image > vmax
    return flagged


def ring_outliers(
    image, q_map, n_rings: int = 100, sigma: float = 5.0, *, mask=None, q_range=None
) -> np.ndarray:
    """True for pixels whose value is an outlier among the pixels of the same q ring.

    The pixels are split into ``n_rings`` rings of equal width in q; within a ring, a pixel is an
    outlier when ``|v - median| > sigma · 1.4826 · MAD`` (the median absolute deviation scaled to a
    standard deviation for normal data). Rings of isotropic scattering should hold similar values,
    so this finds hot pixels and shadows that a neighbour comparison misses.

    Parameters
    ----------
    image : array_like, shape ``(H, W)``
        Average image.
    q_map : array_like, shape ``(H, W)``
        q of every pixel.
    n_rings : int
        Number of rings across ``q_range``.
    sigma : float
        Threshold in robust standard deviations.
    mask : array_like of bool, optional
        True = used; masked pixels are neither counted in the statistics nor flagged.
    q_range : tuple of float, optional
        ``(q_min, q_max)``; default the range of the used pixels.

    Returns
    -------
    ndarray of bool
    """
    image = np.asarray(image, dtype=np.float64)
    q_map = require_shape(np.asarray(q_map, dtype=np.float64), image.shape, "q map", "the image")
    if n_rings < 1 or n_rings > 65535:
        raise ValueError(f"n_rings must be in [1, 65535], got {n_rings}")
    used = np.isfinite(image) & np.isfinite(q_map)
    if mask is not None:
        used &= check_shape(mask, image.shape, "mask", "the image")
    flagged = np.zeros(image.shape, bool)
    if not used.any():
        return flagged
    lo, hi = (float(q_map[used].min()), float(q_map[used].max())) if q_range is None else q_range
    if not hi > lo:
        return flagged
    q = q_map[used]
    inside = (q >= lo) & (q <= hi)
    ring = np.minimum(np.floor((q[inside] - lo) / (hi - lo) * n_rings), n_rings - 1).astype(np.uint16)
    where = np.flatnonzero(used.ravel())[inside]
    values = image.ravel()[where]
    # A stable sort of 16-bit keys is a radix sort: the rings come out contiguous in linear time.
    order = np.argsort(ring, kind="stable")
    starts = np.flatnonzero(np.diff(ring[order], prepend=-1))
    stops = np.append(starts[1:], order.size)
    out = np.zeros(order.size, bool)
    for start, stop in zip(starts, stops, strict=True):
        group = values[order[start:stop]]
        median = np.median(group)
        spread = 1.4826 * np.median(np.abs(group - median))
        # Without spread (a ring of mostly equal values, e.g. zero counts) there is no judging.
        if spread > 0:
            out[order[start:stop]] = np.abs(group - median) > sigma * spread
    flagged.ravel()[where] = out
    return flagged
