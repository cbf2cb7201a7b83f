"""q-phi partitions in the layout the APS tools use (pySimpleMask writes it, boost_corr reads it).

A partition splits the used pixels into ``n_q x n_phi`` bins: q rings cut into azimuthal sectors.
Bins are numbered ring by ring and sector by sector within a ring (the combined, 0-based index
``i_q · n_phi + i_phi``); the *ROI map* labels each pixel with its bin's rank among the bins that
hold pixels (1..n, 0 = pixel unused), and ``index_mapping`` gives the combined index of each label.
The labels are those of :func:`~jupyterlab_raydata.analysis.rois.q_phi_segments` for the same edges,
but for pixels exactly on the last edge, which the last bin here includes.

XPCS uses two partitions of one mask: a coarse *dynamic* one (where g2 is computed) and a fine
*static* one nested inside it (for the intensity normalisation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .masks import check_shape, require_shape

__all__ = [
    "Partition",
    "axis_edges",
    "bin_index",
    "dynamic_static",
    "grid_index",
    "presort",
    "qphi_partition",
]


@dataclass(frozen=True)
class Partition:
    """One q-phi partition.

    Attributes
    ----------
    roi_map : ndarray of uint32, shape ``(H, W)``
        0 = unused pixel, ``1..n`` = bin rank among the non-empty bins.
    q_edges : ndarray, shape ``(n_q, 2)``
        ``[inner, outer)`` of each ring in Å⁻¹.
    phi_edges : ndarray, shape ``(n_phi, 2)``
        ``[start, stop)`` of each sector in degrees.
    v_list_dim0 : ndarray, shape ``(n_q,)``
        Centre of each ring (arithmetic for linear spacing, geometric for log).
    v_list_dim1 : ndarray, shape ``(n_phi,)``
        Centre of each sector.
    index_mapping : ndarray of int64, shape ``(n,)``
        Combined 0-based bin index ``i_q · n_phi + i_phi`` of labels ``1..n``.
    n_pixels : ndarray of int64, shape ``(n,)``
        Pixels in each label ``1..n``.
    """

    roi_map: np.ndarray
    q_edges: np.ndarray
    phi_edges: np.ndarray
    v_list_dim0: np.ndarray
    v_list_dim1: np.ndarray
    index_mapping: np.ndarray
    n_pixels: np.ndarray

    @property
    def num_pts(self) -> tuple[int, int]:
        """``(n_q, n_phi)``: the grid, empty bins included."""
        return len(self.q_edges), len(self.phi_edges)

    @property
    def n(self) -> int:
        """Number of non-empty bins (the largest label)."""
        return int(self.index_mapping.size)

    @property
    def q(self) -> np.ndarray:
        """Ring centre of each label ``1..n``."""
        return self.v_list_dim0[self.index_mapping // len(self.phi_edges)]

    @property
    def phi(self) -> np.ndarray:
        """Sector centre of each label ``1..n``."""
        return self.v_list_dim1[self.index_mapping % len(self.phi_edges)]


def axis_edges(lo: float, hi: float, n: int, spacing: str = "linear") -> np.ndarray:
    """``n`` contiguous bins tiling ``[lo, hi]``, equally spaced in value or in log value (which needs
    ``lo > 0``).

    Returns
    -------
    ndarray, shape ``(n, 2)``
    """
    if n < 1 or not hi > lo:
        raise ValueError(f"need n >= 1 and lo < hi, got n={n}, lo={lo}, hi={hi}")
    if spacing == "linear":
        bounds = np.linspace(lo, hi, n + 1)
    elif spacing == "log":
        if not lo > 0:
            raise ValueError(f"log spacing needs a positive lower bound, got {lo}")
        bounds = np.geomspace(lo, hi, n + 1)
    else:
        raise ValueError(f"spacing must be 'linear' or 'log', got {spacing!r}")
    return np.column_stack([bounds[:-1], bounds[1:]])


def _centres(edges: np.ndarray, spacing: str) -> np.ndarray:
    if spacing == "log":
        return np.sqrt(edges[:, 0] * edges[:, 1])
    return edges.mean(axis=1)


def presort(values) -> tuple[np.ndarray, np.ndarray]:
    """``(order, sorted values)`` of a map, flattened: :func:`bin_index` with them bins any edges
    with a few binary searches and one scatter, for a map binned many times (NaN sorts last)."""
    flat = np.asarray(values, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    return order.astype(np.int32 if flat.size < 2**31 else np.int64), flat[order]


def bin_index(values, edges, *, presorted=None) -> np.ndarray:
    """1-based bin of each value for contiguous edges, 0 outside.

    Bins are half-open ``[start, stop)`` except the last, which also holds its stop: the pixel with
    the largest q of the mask (the default range's end) is inside, as pySimpleMask counts it.

    Parameters
    ----------
    values : ndarray
        Any shape (a q or phi map).
    edges : array_like, shape ``(n, 2)``
        Contiguous bins in increasing order.
    presorted : tuple, optional
        :func:`presort` of ``values``.

    Returns
    -------
    ndarray of int32, the shape of ``values``
    """
    values = np.asarray(values, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64).reshape(-1, 2)
    bounds = np.append(edges[:, 0], edges[-1, 1])
    n = len(edges)
    if presorted is not None:
        order, ordered = presorted
        # Values in bin k are those from the first >= bounds[k] up to the first >= bounds[k + 1];
        # the last bin also takes values equal to its stop.
        starts = np.searchsorted(ordered, bounds, side="left")
        starts[-1] = np.searchsorted(ordered, bounds[-1], side="right")
        labels = np.zeros(ordered.size, np.int32)
        for k in range(n):
            labels[starts[k] : starts[k + 1]] = k + 1
        index = np.empty(ordered.size, np.int32)
        index[order] = labels
        return index.reshape(values.shape)
    guess = _uniform_guess(values, bounds)
    if guess is None:
        index = np.searchsorted(bounds, values, side="right").astype(np.int32)
    else:
        # Equal bins: the arithmetic guess is at most one bin off, which two comparisons with the
        # very bounds put right (several times faster than a binary search on a detector).
        k = np.clip(np.nan_to_num(guess, nan=0.0), 0, n - 1).astype(np.int32)
        k -= values < bounds[k]
        np.clip(k, 0, n - 1, out=k)
        k += values >= bounds[k + 1]
        np.clip(k, 0, n - 1, out=k)
        index = k + 1
        index[~(values >= bounds[0]) | (values >= bounds[-1])] = 0
    index[values == bounds[-1]] = n
    index[(index < 1) | (index > n)] = 0
    return index


def _uniform_guess(values: np.ndarray, bounds: np.ndarray) -> np.ndarray | None:
    """``floor`` of each value's position in equal-width (or equal-ratio) bins, or None when the
    bounds are not evenly spaced."""
    width = np.diff(bounds)
    if len(width) > 1 and np.allclose(width, width[0], rtol=1e-9, atol=0):
        return np.floor((values - bounds[0]) / width[0])
    if len(width) > 1 and bounds[0] > 0:
        ratio = np.diff(np.log(bounds))
        if np.allclose(ratio, ratio[0], rtol=1e-9, atol=0):
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.floor(np.log(values / bounds[0]) / ratio[0])
    return None


def grid_index(q_map, phi_map, q_edges, phi_edges, *, binner=None) -> np.ndarray:
    """Each pixel's 1-based combined bin ``i_q · n_phi + i_phi + 1``, 0 outside the grid (any mask
    aside: it depends on the geometry and the edges only, so it may be kept while a mask changes).

    ``binner(values, edges)`` stands in for :func:`bin_index` (e.g. one that remembers results).

    Returns
    -------
    ndarray of int32, the shape of the maps
    """
    q_edges = np.asarray(q_edges, dtype=np.float64).reshape(-1, 2)
    phi_edges = np.asarray(phi_edges, dtype=np.float64).reshape(-1, 2)
    for name, edges in (("q", q_edges), ("phi", phi_edges)):
        if len(edges) == 0 or np.any(edges[:, 1] <= edges[:, 0]) or np.any(edges[1:, 0] != edges[:-1, 1]):
            raise ValueError(f"{name} edges must be contiguous increasing bins, got {edges.tolist()}")
    binner = bin_index if binner is None else binner
    ring, sector = binner(q_map, q_edges), binner(phi_map, phi_edges)
    index = (ring - 1) * np.int32(len(phi_edges)) + sector
    return np.where((ring > 0) & (sector > 0), index, 0).astype(np.int32, copy=False)


def qphi_partition(q_map, phi_map, mask, q_edges, phi_edges, spacing: str = "linear") -> Partition:
    """Partition the used pixels into q rings by azimuthal sectors.

    Parameters
    ----------
    q_map, phi_map : ndarray, shape ``(H, W)``
        q (Å⁻¹) and azimuth (degrees) of every pixel.
    mask : array_like of bool
        True = pixel used.
    q_edges : array_like, shape ``(n_q, 2)``
        Contiguous ring edges in increasing order (:func:`axis_edges`); each ring is ``[inner, outer)``
        except the last, ``[inner, outer]``.
    phi_edges : array_like, shape ``(n_phi, 2)``
        Contiguous sector edges in increasing order, within ``[-180, 180]`` (the same rule).
    spacing : {"linear", "log"}
        How the ring centres (``v_list_dim0``) are taken.

    Returns
    -------
    Partition
    """
    q_map = np.asarray(q_map, dtype=np.float64)
    phi_map = require_shape(np.asarray(phi_map, dtype=np.float64), q_map.shape, "phi map", "the q map")
    used = check_shape(mask, q_map.shape, "mask", "the q map")
    q_edges = np.asarray(q_edges, dtype=np.float64).reshape(-1, 2)
    phi_edges = np.asarray(phi_edges, dtype=np.float64).reshape(-1, 2)
    index = np.where(used, grid_index(q_map, phi_map, q_edges, phi_edges), 0)
    return _from_index(
        index,
        np.bincount(index.ravel(), minlength=len(q_edges) * len(phi_edges) + 1),
        np.arange(len(q_edges) * len(phi_edges) + 1),
        q_edges,
        phi_edges,
        spacing,
    )


def _from_index(index, counts, relabel, q_edges, phi_edges, spacing) -> Partition:
    """A partition from pixels' grid indices: ``relabel`` maps each index to this partition's
    combined bin (the identity, or a coarser grid), ``counts`` the pixels at each index."""
    size = len(q_edges) * len(phi_edges) + 1
    counts = np.bincount(relabel, weights=counts, minlength=size).astype(np.int64)
    present = np.flatnonzero(counts[1:]) + 1
    lookup = np.zeros(size, np.uint32)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.uint32)
    return Partition(
        roi_map=lookup[relabel][index],
        q_edges=q_edges,
        phi_edges=phi_edges,
        v_list_dim0=_centres(q_edges, spacing),
        v_list_dim1=phi_edges.mean(axis=1),
        index_mapping=(present - 1).astype(np.int64),
        n_pixels=counts[present],
    )


def dynamic_static(
    q_map,
    phi_map,
    mask,
    *,
    dynamic: tuple[int, int],
    static: tuple[int, int],
    q_range: tuple[float, float] | None = None,
    phi_range: tuple[float, float] = (-180.0, 180.0),
    spacing: str = "linear",
    indexer=None,
) -> tuple[Partition, Partition]:
    """The dynamic and static partitions of one mask, over the same q and phi range.

    Parameters
    ----------
    q_map, phi_map, mask
        As for :func:`qphi_partition`.
    dynamic, static : tuple of int
        ``(n_q, n_phi)`` of each; the static counts must be multiples of the dynamic ones, so that
        every static bin lies inside one dynamic bin.
    q_range : tuple of float, optional
        ``(q_min, q_max)`` in Å⁻¹; default the range of q over the used pixels.
    phi_range : tuple of float
        ``(start, stop)`` in degrees, within ``[-180, 180]``.
    spacing : {"linear", "log"}
        Rings equally spaced in q or in log q.
    indexer : callable, optional
        ``indexer(q_edges, phi_edges)`` giving :func:`grid_index` of the maps (a caller may pass one
        that remembers results: they do not change as the mask does).

    Returns
    -------
    (Partition, Partition)
        Dynamic, static.

    Raises
    ------
    ValueError
        For counts that do not nest, a mask without used pixels, or an empty range.
    """
    for name, (n_q, n_phi) in (("dynamic", dynamic), ("static", static)):
        if n_q < 1 or n_phi < 1:
            raise ValueError(f"{name} partition needs at least one q and one phi bin, got {(n_q, n_phi)}")
    if static[0] % dynamic[0] or static[1] % dynamic[1]:
        raise ValueError(
            f"static bins {tuple(static)} must be multiples of the dynamic bins {tuple(dynamic)} "
            "so that each static bin lies inside one dynamic bin"
        )
    q_map = np.asarray(q_map, dtype=np.float64)
    used = check_shape(mask, q_map.shape, "mask", "the q map")
    if q_range is None:
        where = used & np.isfinite(q_map) & ((q_map > 0) if spacing == "log" else True)
        if not where.any():
            raise ValueError("the mask leaves no pixels to partition")
        q_range = (
            float(np.min(q_map, where=where, initial=np.inf)),
            float(np.max(q_map, where=where, initial=-np.inf)),
        )
    if not q_range[1] > q_range[0]:
        raise ValueError(f"q range must be increasing, got {tuple(q_range)}")
    if not -180 <= phi_range[0] < phi_range[1] <= 180:
        raise ValueError(f"phi range must be increasing within [-180, 180], got {tuple(phi_range)}")
    phi_map = require_shape(np.asarray(phi_map, dtype=np.float64), q_map.shape, "phi map", "the q map")
    static_q = axis_edges(q_range[0], q_range[1], static[0], spacing)
    static_phi = axis_edges(phi_range[0], phi_range[1], static[1], "linear")
    # The dynamic edges are every k-th static edge, the very same floats, so the bins nest exactly
    # and a pixel's dynamic bin follows from its static one: the pixels are binned once.
    fq, fp = static[0] // dynamic[0], static[1] // dynamic[1]
    if indexer is None:
        index = grid_index(q_map, phi_map, static_q, static_phi)
    else:
        index = indexer(static_q, static_phi)
    index = np.where(used, index, 0)
    counts = np.bincount(index.ravel(), minlength=static[0] * static[1] + 1)
    grid = np.arange(counts.size)
    ring, sector = (grid - 1) // static[1], (grid - 1) % static[1]
    coarse = np.where(grid > 0, ring // fq * (static[1] // fp) + sector // fp + 1, 0)
    return (
        _from_index(index, counts, coarse, _coarsen(static_q, fq), _coarsen(static_phi, fp), spacing),
        _from_index(index, counts, grid, static_q, static_phi, spacing),
    )


def _coarsen(edges: np.ndarray, factor: int) -> np.ndarray:
    """Merge each run of ``factor`` contiguous bins into one."""
    return np.column_stack([edges[::factor, 0], edges[factor - 1 :: factor, 1]])
