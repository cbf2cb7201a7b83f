"""Mask shapes beyond those in :mod:`.masks`: a line of given width and a beam stop with its arm.

Like :mod:`.masks`, every function returns a boolean array of the detector's shape that is True
inside the shape, with coordinates ``(row, col)`` in pixels and pixel centres on integers.
"""

from __future__ import annotations

import numpy as np

from .masks import circle

__all__ = ["beamstop", "line", "phi_range", "q_range", "within_box"]


def line(shape, start, end, width: float) -> np.ndarray:
    """True for pixel centres within ``width / 2`` of the segment from ``start`` to ``end``.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    start, end : tuple of float
        The segment's ends as ``(row, col)``; equal ends give a disc of diameter ``width``.
    width : float
        Full width of the stroke in pixels (> 0).

    Returns
    -------
    ndarray of bool

    Examples
    --------
    A horizontal line 3 pixels wide through row 5 covers rows 4, 5 and 6 between its ends
    (and the round caps around them).
    """
    if not width > 0:
        raise ValueError(f"width must be positive, got {width}")
    (r0, c0), (r1, c1) = (float(v) for v in start), (float(v) for v in end)
    # Only the bounding box of the stroke can be inside: work there, not on the whole detector.
    half = width / 2
    top, bottom = int(np.floor(min(r0, r1) - half)), int(np.ceil(max(r0, r1) + half)) + 1
    left, right = int(np.floor(min(c0, c1) - half)), int(np.ceil(max(c0, c1) + half)) + 1
    out = np.zeros(shape, bool)
    top, left = max(top, 0), max(left, 0)
    bottom, right = min(bottom, shape[0]), min(right, shape[1])
    if top >= bottom or left >= right:
        return out
    rows = np.arange(top, bottom, dtype=np.float64)[:, None]
    cols = np.arange(left, right, dtype=np.float64)[None, :]
    dr, dc = r1 - r0, c1 - c0
    length2 = dr * dr + dc * dc
    # Projection of each pixel centre on the segment, clamped to its ends.
    t = 0.0 if length2 == 0 else np.clip(((rows - r0) * dr + (cols - c0) * dc) / length2, 0.0, 1.0)
    distance = np.hypot(rows - (r0 + t * dr), cols - (c0 + t * dc))
    out[top:bottom, left:right] = distance <= half
    return out


def within_box(shape, rows: tuple[float, float], cols: tuple[float, float], draw) -> np.ndarray:
    """Draw a shape on the window of the detector that holds it, not on the whole detector.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    rows, cols : tuple of float
        The shape's bounding box, ``(min, max)`` in pixel coordinates.
    draw : callable
        ``draw(window_shape, row_offset, col_offset)`` returns the shape on a window whose pixel
        ``(0, 0)`` is the detector's ``(row_offset, col_offset)``.

    Returns
    -------
    ndarray of bool
        The shape on the whole detector; exactly what ``draw`` gives on the full shape, since
        subtracting the integer offsets from coordinates is exact.
    """
    out = np.zeros(shape, bool)
    r0, r1 = max(int(np.floor(rows[0])), 0), min(int(np.ceil(rows[1])) + 1, shape[0])
    c0, c1 = max(int(np.floor(cols[0])), 0), min(int(np.ceil(cols[1])) + 1, shape[1])
    if r0 < r1 and c0 < c1:
        out[r0:r1, c0:c1] = draw((r1 - r0, c1 - c0), r0, c0)
    return out


def beamstop(shape, center, radius: float, arm_angle_deg: float | None = None, arm_width: float = 0.0):
    """A beam stop: a disc around the direct beam and, optionally, the arm that holds it.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    center : tuple of float
        Centre of the disc ``(row, col)``, usually the beam centre.
    radius : float
        Radius of the disc in pixels.
    arm_angle_deg : float, optional
        Direction of the arm from the centre, in degrees from the +col axis towards +row (the
        azimuth convention of :func:`~jupyterlab_raydata.analysis.geometry.phi_map`); the arm runs to
        the edge of the detector. None for no arm.
    arm_width : float
        Full width of the arm in pixels.

    Returns
    -------
    ndarray of bool
    """
    row, col = float(center[0]), float(center[1])
    out = within_box(
        shape,
        (row - radius, row + radius),
        (col - radius, col + radius),
        lambda window, dr, dc: circle(window, (row - dr, col - dc), radius),
    )
    if arm_angle_deg is not None and arm_width > 0:
        reach = float(np.hypot(*shape)) + radius
        angle = np.radians(arm_angle_deg)
        end = (center[0] + reach * np.sin(angle), center[1] + reach * np.cos(angle))
        out |= line(shape, center, end, arm_width)
    return out


def q_range(q_map, q_min: float | None = None, q_max: float | None = None) -> np.ndarray:
    """True where ``q_min <= q < q_max`` (either bound may be left open with None)."""
    q_map = np.asarray(q_map)
    inside = np.ones(q_map.shape, bool)
    if q_min is not None:
        inside &= q_map >= q_min
    if q_max is not None:
        inside &= q_map < q_max
    return inside


def phi_range(phi_map, start: float, stop: float) -> np.ndarray:
    """True where the azimuth lies in ``[start, stop)`` degrees; ``start > stop`` wraps through ±180."""
    phi_map = np.asarray(phi_map)
    if start <= stop:
        return (phi_map >= start) & (phi_map < stop)
    return (phi_map >= start) | (phi_map < stop)
