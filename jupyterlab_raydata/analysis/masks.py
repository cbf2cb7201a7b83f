"""Pixel masks: load and save, compose, draw shapes, and find bad pixels.

Convention: a mask is a 2-D boolean array, **True = good pixel** (used in the
analysis), False = masked. Files that store the opposite convention (e.g. a
blemish file where 1 marks a bad pixel) are read with ``invert=True``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

__all__ = [
    "annulus",
    "check_shape",
    "circle",
    "difference",
    "hot_dead_from_mean",
    "hot_dead_pixels",
    "hot_scores",
    "intersection",
    "invert",
    "load_mask",
    "polygon",
    "rectangle",
    "require_shape",
    "save_mask",
    "union",
]

_SUFFIXES = {".npy": "npy", ".tif": "tiff", ".tiff": "tiff", ".h5": "hdf5", ".hdf5": "hdf5", ".edf": "edf"}


def require_shape(
    array: np.ndarray, shape, what: str = "mask", reference: str = "the detector"
) -> np.ndarray:
    """Return ``array`` unchanged if it has ``shape``.

    Raises
    ------
    ValueError
        Naming both shapes, e.g. ``mask has shape (10, 12) but the detector has (10, 10)``.
    """
    if np.shape(array) != tuple(shape):
        raise ValueError(f"{what} has shape {np.shape(array)} but {reference} has {tuple(shape)}")
    return array


def check_shape(mask, shape, what: str = "mask", reference: str = "the detector") -> np.ndarray:
    """Return ``mask`` as a boolean array, checking it has ``shape`` (see :func:`require_shape`)."""
    return require_shape(np.asarray(mask), shape, what, reference).astype(bool, copy=False)


def load_mask(path, *, dataset: str | None = None, invert: bool = False, shape=None) -> np.ndarray:
    """Load a mask from ``.npy``, ``.tif``/``.tiff``, ``.h5``/``.hdf5`` or ``.edf``.

    Any non-zero value is True, so 0/1 integer images load as expected.

    Parameters
    ----------
    path : str or Path
        The file; its suffix selects the reader.
    dataset : str, optional
        HDF5 dataset path inside the file (required for HDF5 unless the file holds
        exactly one 2-D dataset).
    invert : bool
        Set when the file marks bad pixels as non-zero (True = bad); the result is
        always True = good.
    shape : tuple of int, optional
        Expected detector shape; a different shape raises ``ValueError``.

    Returns
    -------
    ndarray of bool
    """
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"unsupported mask file type {path.suffix!r}; use one of {sorted(_SUFFIXES)}")
    if kind == "npy":
        data = np.load(path, allow_pickle=False)
    elif kind == "tiff":
        import tifffile

        data = tifffile.imread(path)
    elif kind == "hdf5":
        data = _read_hdf5(path, dataset)
    else:
        import fabio

        data = fabio.open(str(path)).data
    data = np.asarray(data)
    if data.ndim != 2:
        raise ValueError(f"a mask must be 2-D, {path.name} holds shape {data.shape}")
    mask = data != 0
    if invert:
        mask = ~mask
    return mask if shape is None else check_shape(mask, shape)


def _read_hdf5(path: Path, dataset: str | None) -> np.ndarray:
    import h5py

    with h5py.File(path, "r") as f:
        if dataset is None:
            found = []
            f.visititems(lambda name, obj: found.append(name) if getattr(obj, "ndim", 0) == 2 else None)
            if len(found) != 1:
                raise ValueError(f"{path.name} has {len(found)} 2-D datasets {found}; pass dataset=")
            dataset = found[0]
        if dataset not in f:
            raise ValueError(f"{path.name} has no dataset {dataset!r}")
        return f[dataset][()]


def save_mask(path, mask, *, dataset: str = "mask", invert: bool = False) -> Path:
    """Write a mask in the format given by the suffix (as :func:`load_mask` reads it).

    Stored as uint8 1/0 (1 = good, or 1 = bad with ``invert=True``).
    """
    path = Path(path)
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"unsupported mask file type {path.suffix!r}; use one of {sorted(_SUFFIXES)}")
    data = np.asarray(mask, dtype=bool)
    data = (~data if invert else data).astype(np.uint8)
    if kind == "npy":
        np.save(path, data)
    elif kind == "tiff":
        import tifffile

        tifffile.imwrite(path, data)
    elif kind == "hdf5":
        import h5py

        with h5py.File(path, "a") as f:
            if dataset in f:
                del f[dataset]
            f.create_dataset(dataset, data=data, compression="gzip")
    else:
        import fabio.edfimage

        fabio.edfimage.EdfImage(data=data).write(str(path))
    return path


def _same_shape(masks) -> list[np.ndarray]:
    masks = [np.asarray(m, dtype=bool) for m in masks]
    if not masks:
        raise ValueError("at least one mask is needed")
    for i, m in enumerate(masks[1:], start=2):
        check_shape(m, masks[0].shape, f"mask {i}", "mask 1")
    return masks


def union(*masks) -> np.ndarray:
    """Good where any mask is good (logical OR)."""
    return np.logical_or.reduce(_same_shape(masks))


def intersection(*masks) -> np.ndarray:
    """Good where every mask is good (logical AND): the usual way to combine masks."""
    return np.logical_and.reduce(_same_shape(masks))


def difference(mask, *others) -> np.ndarray:
    """Good in ``mask`` but in none of ``others`` (set difference of the good pixels)."""
    first, *rest = _same_shape([mask, *others])
    return first & ~np.logical_or.reduce(rest) if rest else first.copy()


def invert(mask) -> np.ndarray:
    """Swap good and masked pixels."""
    return ~np.asarray(mask, dtype=bool)


def _grid(shape):
    rows, cols = np.indices(shape, dtype=np.float64)
    return rows, cols


def circle(shape, center, radius) -> np.ndarray:
    """True inside a circle (pixel centres within ``radius`` of ``center = (row, col)``)."""
    rows, cols = _grid(shape)
    return np.hypot(rows - center[0], cols - center[1]) <= radius


def annulus(shape, center, r_inner, r_outer) -> np.ndarray:
    """True for pixel centres with ``r_inner <= distance < r_outer`` from ``center``."""
    if r_outer <= r_inner:
        raise ValueError(f"r_outer ({r_outer}) must exceed r_inner ({r_inner})")
    rows, cols = _grid(shape)
    r = np.hypot(rows - center[0], cols - center[1])
    return (r >= r_inner) & (r < r_outer)


def rectangle(shape, top_left, bottom_right) -> np.ndarray:
    """True inside the rectangle ``[row0, row1) x [col0, col1)`` (corners as ``(row, col)``)."""
    mask = np.zeros(shape, bool)
    (r0, c0), (r1, c1) = top_left, bottom_right
    mask[max(int(r0), 0) : max(int(r1), 0), max(int(c0), 0) : max(int(c1), 0)] = True
    return mask


def polygon(shape, vertices) -> np.ndarray:
    """True for pixel centres inside a polygon of ``(row, col)`` vertices (even-odd rule)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    if vertices.ndim != 2 or vertices.shape[1] != 2 or len(vertices) < 3:
        raise ValueError(f"a polygon needs at least 3 (row, col) vertices, got shape {vertices.shape}")
    rows, cols = _grid(shape)
    inside = np.zeros(shape, bool)
    # Ray casting along +col: toggle at every edge crossing the pixel's row.
    for (r0, c0), (r1, c1) in zip(vertices, np.roll(vertices, -1, axis=0), strict=True):
        if r0 == r1:
            continue
        crosses = (rows >= min(r0, r1)) & (rows < max(r0, r1))
        col_at = c0 + (rows - r0) * (c1 - c0) / (r1 - r0)
        inside ^= crosses & (cols < col_at)
    return inside


def hot_dead_pixels(
    frames,
    *,
    hot_sigma: float = 8.0,
    dead_fraction: float = 0.0,
    window: int = 3,
    mask=None,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Mask of pixels whose mean count is out of line with their neighbours (True = good).

    Each pixel's mean over time is compared with the median of the means in a
    ``window x window`` neighbourhood, so the steep I(q) of SAXS is not mistaken
    for hot pixels. With ``m`` the mean, ``l`` the local median and ``T`` frames,
    ``z = (m - l) / sqrt(l / T)`` is the deviation in units of the Poisson noise of
    the mean. A pixel is *hot* if ``z`` exceeds ``hot_sigma`` times the robust
    spread of ``z`` (1.4826 times the median absolute deviation, at least 1), and *dead* if
    ``m <= dead_fraction · l`` where ``l > 0``. Frames are streamed (photon events event by event).

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` frames (see :mod:`~jupyterlab_raydata.analysis.frames`).
    hot_sigma : float
        Threshold for hot pixels.
    dead_fraction : float
        Threshold for dead pixels; 0 flags pixels that never counted where their
        neighbours did.
    window : int
        Neighbourhood size in pixels (odd).
    mask : array_like of bool, optional
        Already-known good pixels; the result is also False there.

    Returns
    -------
    ndarray of bool
        True for pixels that are neither hot nor dead (and good in ``mask``).
    """
    # preprocess builds on this module's shape checks.
    from .preprocess import frame_stats

    stats = frame_stats(frames, chunk_size=chunk_size)
    return hot_dead_from_mean(
        stats.mean_image,
        stats.n_good,
        hot_sigma=hot_sigma,
        dead_fraction=dead_fraction,
        window=window,
        mask=mask,
    )


def hot_dead_from_mean(
    mean,
    count: int,
    *,
    hot_sigma: float = 8.0,
    dead_fraction: float = 0.0,
    window: int = 3,
    mask=None,
    local=None,
    scores=None,
) -> np.ndarray:
    """:func:`hot_dead_pixels` on a mean image of ``count`` frames already at hand.

    ``local`` may pass the ``window x window`` median of ``mean``, or ``scores`` the whole of
    :func:`hot_scores`, computed before (the slow part, the same for every threshold).
    ``hot_sigma=np.inf`` finds dead pixels only, ``dead_fraction=-np.inf`` hot pixels only.
    """
    mean = np.asarray(mean, dtype=np.float64)
    good = np.ones(mean.shape, bool) if mask is None else check_shape(mask, mean.shape).copy()
    z, spread, local = (
        hot_scores(mean, count, window=window, mask=mask, local=local) if scores is None else scores
    )
    hot = z > hot_sigma * spread
    dead = (local > 0) & (mean <= dead_fraction * local) if np.isfinite(dead_fraction) else np.zeros_like(hot)
    return good & ~hot & ~dead


def hot_scores(mean, count: int, *, window: int = 3, mask=None, local=None):
    """How far each pixel's mean count is from its neighbours', in Poisson units.

    Parameters
    ----------
    mean : array_like, shape ``(H, W)``
        Mean count per pixel over ``count`` frames.
    count : int
        Frames averaged.
    window : int
        Neighbourhood size in pixels (odd).
    mask : array_like of bool, optional
        Good pixels; only they enter the spread.
    local : ndarray, optional
        The ``window x window`` median of ``mean``, if computed before.

    Returns
    -------
    z : ndarray
        ``(mean - local) / sqrt(local / count)``.
    spread : float
        1.4826 times the median absolute deviation of ``z`` over the good pixels, at least 1.
    local : ndarray
        The neighbourhood median.
    """
    from scipy import ndimage

    mean = np.asarray(mean, dtype=np.float64)
    good = np.ones(mean.shape, bool) if mask is None else check_shape(mask, mean.shape)
    if local is None:
        local = ndimage.median_filter(mean, size=window, mode="nearest")
    z = (mean - local) / np.sqrt(np.maximum(local, 1e-12) / count)
    spread = max(1.4826 * np.median(np.abs(z[good] - np.median(z[good]))), 1.0) if good.any() else 1.0
    return z, spread, local
