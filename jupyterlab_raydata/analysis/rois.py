"""Regions of interest as label arrays: q rings, q-phi segments, boxes.

A label array has the detector's shape; 0 = pixel not used, ``1..n`` = ROI
number. Every builder drops ROIs left without pixels and numbers the rest
consecutively, so column ``k`` of a correlation result (labels sorted ascending)
is ROI ``k + 1`` and ``RoiSet.q[k]`` its scattering vector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .masks import check_shape, require_shape

__all__ = ["RoiSet", "boxes", "q_phi_segments", "q_rings", "ring_edges"]


@dataclass(frozen=True)
class RoiSet:
    """Labelled ROIs and their coordinates.

    Attributes
    ----------
    labels : ndarray of int32, shape ``(H, W)``
        0 = unused, ``1..n`` = ROI.
    q : ndarray, shape ``(n,)``
        Mean scattering vector (Å⁻¹) of each ROI's pixels, or NaN without a q-map.
    q_edges : ndarray, shape ``(n, 2)``
        ``[q_min, q_max)`` of each ROI (NaN for boxes).
    phi : ndarray, shape ``(n,)``
        Mean azimuth (degrees) of each ROI, NaN where not meaningful.
    """

    labels: np.ndarray
    q: np.ndarray
    q_edges: np.ndarray
    phi: np.ndarray

    @property
    def n(self) -> int:
        """Number of ROIs."""
        return int(self.q.size)

    @property
    def n_pixels(self) -> np.ndarray:
        """Pixels in each ROI."""
        return np.bincount(self.labels.ravel(), minlength=self.n + 1)[1:]

    def to_dict(self) -> dict:
        """JSON-serialisable summary (without the label array)."""
        return {
            "q": self.q.tolist(),
            "q_edges": self.q_edges.tolist(),
            "phi": [None if np.isnan(p) else float(p) for p in self.phi],
            "n_pixels": self.n_pixels.tolist(),
        }


def ring_edges(q_min: float, q_max: float, n: int, spacing: str = "linear", width: float | None = None):
    """Edges of ``n`` q rings between ``q_min`` and ``q_max``.

    Parameters
    ----------
    q_min, q_max : float
        Range in Å⁻¹.
    n : int
        Number of rings.
    spacing : {"linear", "log"}
        Ring centres equally spaced in q or in log q.
    width : float, optional
        Ring width in Å⁻¹ (for ``"log"``: relative width ``Δq/q`` about the ring
        centre). By default the rings tile the range without gaps.

    Returns
    -------
    ndarray, shape ``(n, 2)``
        ``[inner, outer)`` of each ring.
    """
    if not 0 <= q_min < q_max:
        raise ValueError(f"need 0 <= q_min < q_max, got {q_min}, {q_max}")
    if n < 1:
        raise ValueError(f"n must be >= 1, got {n}")
    if spacing == "linear":
        if width is None:
            bounds = np.linspace(q_min, q_max, n + 1)
            return np.column_stack([bounds[:-1], bounds[1:]])
        centres = np.linspace(q_min + width / 2, q_max - width / 2, n)
        return np.column_stack([centres - width / 2, centres + width / 2])
    if spacing == "log":
        if q_min <= 0:
            raise ValueError("log spacing needs q_min > 0")
        if width is None:
            bounds = np.geomspace(q_min, q_max, n + 1)
            return np.column_stack([bounds[:-1], bounds[1:]])
        if not 0 < width < 2:
            raise ValueError(f"relative width must be in (0, 2), got {width}")
        lo, hi = 1 - width / 2, 1 + width / 2
        centres = np.geomspace(q_min / lo, q_max / hi, n)
        return np.column_stack([centres * lo, centres * hi])
    raise ValueError(f"spacing must be 'linear' or 'log', got {spacing!r}")


def _finish(bins: np.ndarray, q_map, phi_map, edges) -> RoiSet:
    """Renumber non-empty bins ``1..n`` (``bins`` holds 0 or ``1..len(edges)``)."""
    present = np.unique(bins[bins > 0])
    lookup = np.zeros(len(edges) + 1, np.int32)
    lookup[present] = np.arange(1, present.size + 1, dtype=np.int32)
    labels = lookup[bins]
    flat = labels.ravel()
    counts = np.bincount(flat, minlength=present.size + 1)[1:]

    def mean_of(values):
        if values is None:
            return np.full(present.size, np.nan)
        sums = np.bincount(
            flat, weights=np.asarray(values, dtype=np.float64).ravel(), minlength=present.size + 1
        )
        return sums[1:] / counts

    return RoiSet(labels, mean_of(q_map), np.asarray(edges, dtype=np.float64)[present - 1], mean_of(phi_map))


def q_rings(q_map, edges, mask=None) -> RoiSet:
    """Label pixels by q ring.

    Parameters
    ----------
    q_map : ndarray, shape ``(H, W)``
        q of every pixel (:func:`~jupyterlab_raydata.analysis.geometry.q_map`).
    edges : array_like, shape ``(n, 2)``
        ``[inner, outer)`` per ring (:func:`ring_edges`); rings must not overlap.
    mask : array_like of bool, optional
        True = good; masked pixels get label 0.

    Returns
    -------
    RoiSet
    """
    q_map = np.asarray(q_map, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64).reshape(-1, 2)
    order = np.argsort(edges[:, 0])
    if np.any(edges[order][1:, 0] < edges[order][:-1, 1]):
        raise ValueError("q rings overlap")
    bins = np.zeros(q_map.shape, np.int64)
    for i, (lo, hi) in enumerate(edges):
        bins[(q_map >= lo) & (q_map < hi)] = i + 1
    if mask is not None:
        bins[~check_shape(mask, q_map.shape)] = 0
    return _finish(bins, q_map, None, edges)


def q_phi_segments(q_map, phi_map, q_edges, phi_edges, mask=None) -> RoiSet:
    """Label pixels by q ring and azimuthal sector.

    Parameters
    ----------
    q_map, phi_map : ndarray, shape ``(H, W)``
        q (Å⁻¹) and azimuth (degrees, :func:`~jupyterlab_raydata.analysis.geometry.phi_map`).
    q_edges : array_like, shape ``(n_q, 2)``
        Ring edges (:func:`ring_edges`).
    phi_edges : array_like, shape ``(n_phi, 2)``
        ``[start, stop)`` of each sector in degrees; a sector may wrap through
        ±180 (e.g. ``(170, -170)``).
    mask : array_like of bool, optional
        True = good.

    Returns
    -------
    RoiSet
        Numbered ring by ring, sector by sector within a ring.
    """
    q_map = np.asarray(q_map, dtype=np.float64)
    phi_map = require_shape(np.asarray(phi_map, dtype=np.float64), q_map.shape, "phi map")
    rings = q_rings(q_map, q_edges, mask)
    phi_edges = np.asarray(phi_edges, dtype=np.float64).reshape(-1, 2)
    n_phi = len(phi_edges)
    sector = np.zeros(q_map.shape, np.int64)
    for i, (start, stop) in enumerate(phi_edges):
        inside = (
            (phi_map >= start) & (phi_map < stop) if start < stop else (phi_map >= start) | (phi_map < stop)
        )
        sector[inside & (sector == 0)] = i + 1
    ring_index = rings.labels.astype(np.int64)
    bins = np.where((ring_index > 0) & (sector > 0), (ring_index - 1) * n_phi + sector, 0)
    edges = np.repeat(rings.q_edges, n_phi, axis=0)
    # Mean phi of a wrapping sector is taken on the circle.
    out = _finish(bins, q_map, None, edges)
    angle = np.radians(phi_map).ravel()
    flat = out.labels.ravel()
    s = np.bincount(flat, weights=np.sin(angle), minlength=out.n + 1)[1:]
    c = np.bincount(flat, weights=np.cos(angle), minlength=out.n + 1)[1:]
    return RoiSet(out.labels, out.q, out.q_edges, np.degrees(np.arctan2(s, c)))


def boxes(shape, corners, q_map=None, mask=None) -> RoiSet:
    """Label rectangular boxes.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(H, W)``.
    corners : sequence of ``(row0, col0, row1, col1)``
        Half-open boxes ``[row0, row1) x [col0, col1)``; later boxes win overlaps.
    q_map : ndarray, optional
        To report each box's mean q.
    mask : array_like of bool, optional
        True = good.

    Returns
    -------
    RoiSet
    """
    bins = np.zeros(shape, np.int64)
    for i, (r0, c0, r1, c1) in enumerate(corners):
        if r1 <= r0 or c1 <= c0:
            raise ValueError(f"box {i} is empty: {(r0, c0, r1, c1)}")
        bins[int(r0) : int(r1), int(c0) : int(c1)] = i + 1
    if mask is not None:
        bins[~check_shape(mask, shape)] = 0
    if q_map is not None:
        q_map = require_shape(np.asarray(q_map, dtype=np.float64), shape, "q map")
    return _finish(bins, q_map, None, np.full((len(corners), 2), np.nan))
