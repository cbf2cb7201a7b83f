"""Find the direct-beam position from the symmetry of a transmission scattering pattern.

Small-angle scattering is centro-symmetric about the beam, ``I(c + d) = I(c - d)``: the image
rotated by 180° about the true centre matches itself. Rotating a square crop about its own centre
``c₀`` instead shifts the copy by ``2·(c - c₀)``; the peak of the masked normalised cross-correlation
between the crop and its rotated copy gives that shift, hence ``c``. Repeating with the crop
re-centred converges in a few steps (the approach of APS pySimpleMask's finder).
"""

from __future__ import annotations

import numpy as np

from .masks import check_shape

__all__ = ["find_beam_center"]

_MIN_HALF_SIZE = 8
# Shifts where the two crops share less than this fraction of their pixels are noise-dominated.
_MIN_OVERLAP = 0.25


def find_beam_center(
    image,
    mask=None,
    *,
    guess: tuple[float, float] | None = None,
    max_radius: int = 256,
    scale: str = "log",
    max_iter: int = 8,
    tol: float = 0.1,
) -> tuple[float, float]:
    """Beam centre ``(row, col)`` in pixels, to a fraction of a pixel.

    Parameters
    ----------
    image : array_like, shape ``(H, W)``
        An average scattering image.
    mask : array_like of bool, optional
        True = pixel used; masked pixels (beam stop, gaps, hot pixels) take no part.
    guess : tuple of float, optional
        Starting point; default the intensity-weighted centroid.
    max_radius : int
        Half-size of the square crop compared with its rotated copy (the speed/accuracy knob: the
        symmetric signal is strongest near the beam).
    scale : {"log", "linear"}
        Compare ``log10`` of the counts (the default; rings far out count as much as the bright
        centre) or the counts themselves.
    max_iter : int
        Re-centring steps at most.
    tol : float
        Stop when a step moves the centre by less than this, in pixels.

    Returns
    -------
    (float, float)

    Raises
    ------
    ValueError
        When the image has no usable pixels or the start point is too close to an edge to compare.
    """
    work = np.asarray(image, dtype=np.float64)
    if work.ndim != 2:
        raise ValueError(f"image must be 2-D, got shape {work.shape}")
    valid = np.isfinite(work)
    if mask is not None:
        valid &= check_shape(mask, work.shape, "mask", "the image")
    if scale == "log":
        valid &= work > 0
        work = np.log10(np.where(valid, work, 1.0))
    elif scale != "linear":
        raise ValueError(f"scale must be 'log' or 'linear', got {scale!r}")
    if not valid.any():
        raise ValueError("the image has no usable pixels to find the beam centre")
    work = np.where(valid, work - work[valid].min(), 0.0)
    center = np.asarray(_centroid(work) if guess is None else guess, dtype=np.float64)
    for _ in range(max_iter):
        moved = _refine(work, valid, center, max_radius)
        step = float(np.hypot(*(moved - center)))
        center = moved
        if step < tol:
            break
    return float(center[0]), float(center[1])


def _centroid(work: np.ndarray) -> np.ndarray:
    total = work.sum()
    if total <= 0:
        return np.array([(work.shape[0] - 1) / 2, (work.shape[1] - 1) / 2])
    return np.array(
        [
            (work.sum(axis=1) * np.arange(work.shape[0])).sum() / total,
            (work.sum(axis=0) * np.arange(work.shape[1])).sum() / total,
        ]
    )


def _refine(work: np.ndarray, valid: np.ndarray, center: np.ndarray, max_radius: int) -> np.ndarray:
    c = np.round(center).astype(int)
    if not (0 <= c[0] < work.shape[0] and 0 <= c[1] < work.shape[1]):
        raise ValueError(f"start point {tuple(center)} is outside the image {work.shape}")
    half = int(min(c[0], work.shape[0] - 1 - c[0], c[1], work.shape[1] - 1 - c[1], max_radius))
    if half < _MIN_HALF_SIZE:
        raise ValueError(
            f"the beam at {tuple(np.round(center, 1))} is within {half} pixels of the edge: "
            "too close to compare the pattern with its rotated copy"
        )
    window = (slice(c[0] - half, c[0] + half + 1), slice(c[1] - half, c[1] + half + 1))
    a, m = work[window] * valid[window], valid[window].astype(np.float64)
    b, mb = a[::-1, ::-1], m[::-1, ::-1]
    ncc, overlap = _masked_ncc(a, m, b, mb)
    ncc[overlap < _MIN_OVERLAP * m.sum()] = -np.inf
    peak = np.unravel_index(np.argmax(ncc), ncc.shape)
    if not np.isfinite(ncc[peak]):
        raise ValueError("too few unmasked pixels around the start point to find the beam centre")
    shift = np.array([_subpixel(ncc, peak, axis) for axis in (0, 1)])
    # Correlation index k stands for the shift k (k < n) or k - size (wrapped, negative shifts).
    shift = np.where(shift > np.array(ncc.shape) / 2, shift - np.array(ncc.shape), shift)
    return c + shift / 2


def _masked_ncc(a, m, b, mb):
    """Normalised cross-correlation of ``a`` and ``b`` over the pixels both masks keep, at every
    shift (Padfield's masked formulation), and the number of such pixels."""
    size = [2 * n - 1 for n in a.shape]

    def spectrum(x):
        return np.fft.rfft2(x, size)

    def corr(fx, fy):
        return np.fft.irfft2(fx * np.conj(fy), size)

    fa, fm, fb, fmb = spectrum(a), spectrum(m), spectrum(b), spectrum(mb)
    overlap = np.round(corr(fm, fmb))
    n = np.maximum(overlap, 1.0)
    sa, sb = corr(fa, fmb), corr(fm, fb)
    saa, sbb = corr(spectrum(a * a), fmb), corr(fm, spectrum(b * b))
    sab = corr(fa, fb)
    numerator = sab - sa * sb / n
    variance = np.maximum(saa - sa * sa / n, 0.0) * np.maximum(sbb - sb * sb / n, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ncc = np.where(variance > 1e-12 * n * n, numerator / np.sqrt(variance), -np.inf)
    return ncc, overlap


def _subpixel(values: np.ndarray, peak: tuple, axis: int) -> float:
    """The peak position along ``axis`` from a parabola through it and its two neighbours."""
    i = peak[axis]
    size = values.shape[axis]

    def at(k):
        where = list(peak)
        where[axis] = k % size
        return values[tuple(where)]

    left, mid, right = at(i - 1), at(i), at(i + 1)
    curvature = left - 2 * mid + right
    if not (np.isfinite(left) and np.isfinite(right)) or curvature >= 0:
        return float(i)
    return float(i + 0.5 * (left - right) / curvature)
