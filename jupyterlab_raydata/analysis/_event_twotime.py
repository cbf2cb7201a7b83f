"""Two-time correlation from photon events (internal; imports numba).

``C(t1, t2)`` of an ROI is ``Σ_p x[t1, p] · x[t2, p]`` over its pixels, normalised
by the frames' mean intensities. Only pixels with a photon at both times add to
the sum, so it is taken over pairs of photons at the same pixel: for each photon
at ``t1``, every earlier (or simultaneous) photon of its pixel adds its product
to row ``t1``. Photons are listed pixel by pixel in time order once
(:func:`column_lists`); a row of the map is accumulated in a float64 buffer that
stays in cache, then normalised. The work is the number of photon pairs,
``Σ_p n_p²/2``, against ``T² · pixels`` for the matrix product of the dense path.
Threads take whole ROIs, so they never write the same row.

For integer counts all sums are exact, so the map equals the dense path's bit for
bit; with ``norm`` it agrees to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def column_lists(indptr, pixels, values, scale_of, col_of, col_label, n_cols, n_labels):
    """Photons pixel by pixel, ``(colptr, times, vals)`` in time order, and per-ROI frame sums.

    ``values`` are counts as recorded (any dtype), multiplied by ``scale_of[p]``
    (``1/norm``) unless it is empty. ``col_of[p]`` is a pixel's column (-1: in no
    ROI), ``col_label[c]`` its ROI.
    """
    scaled = scale_of.size > 0
    n_frames = indptr.size - 1
    colptr = np.zeros(n_cols + 1, np.int64)
    for e in range(indptr[-1]):
        c = col_of[pixels[e]]
        if c >= 0:
            colptr[c + 1] += 1
    for c in range(n_cols):
        colptr[c + 1] += colptr[c]
    fill = colptr[:-1].copy()
    times = np.empty(colptr[-1], np.int32)
    vals = np.empty(colptr[-1])
    sums = np.zeros((n_labels, n_frames))
    for t in range(n_frames):
        for e in range(indptr[t], indptr[t + 1]):
            c = col_of[pixels[e]]
            if c < 0:
                continue
            x = np.float64(values[e])
            if scaled:
                x *= scale_of[pixels[e]]
            times[fill[c]] = t
            vals[fill[c]] = x
            fill[c] += 1
            sums[col_label[c], t] += x
    return colptr, times, vals, sums


@njit(nogil=True, cache=True, error_model="numpy")
def two_time_rows(indptr, pixels, col_of, col_label, mine, colptr, times, vals, n_pix, sums, out):
    """Fill the lower triangle ``out[l, t1, t2 <= t1]`` for the ROIs ``l`` where ``mine[l]``.

    Normalised as the dense path does it, ``(gram / n_pix) / (mean[t1] * mean[t2])``
    with ``mean = sums / n_pix`` (0/0 gives NaN, as there).
    """
    n_frames = indptr.size - 1
    n_labels = mine.size
    local = np.full(n_labels, -1, np.int64)
    n_mine = 0
    for lb in range(n_labels):
        if mine[lb]:
            local[lb] = n_mine
            n_mine += 1
    acc = np.zeros((n_mine, n_frames))
    seen = np.zeros(colptr.size - 1, np.int64)  # photons of each pixel up to this row
    for t1 in range(n_frames):
        for e in range(indptr[t1], indptr[t1 + 1]):
            c = col_of[pixels[e]]
            if c < 0 or not mine[col_label[c]]:
                continue
            row = acc[local[col_label[c]]]
            start = colptr[c]
            own = start + seen[c]  # the photon itself, its pixel's latest so far
            v = vals[own]
            for j in range(start, own + 1):
                row[times[j]] += v * vals[j]
            seen[c] += 1
        for lb in range(n_labels):
            if not mine[lb]:
                continue
            row = acc[local[lb]]
            m1 = sums[lb, t1] / n_pix[lb]
            for t2 in range(t1 + 1):
                out[lb, t1, t2] = row[t2] / n_pix[lb] / (m1 * (sums[lb, t2] / n_pix[lb]))
                row[t2] = 0.0


@njit(nogil=True, cache=True)
def mirror(out, mine):
    """Copy each map's lower triangle to its upper one, in blocks that stay in cache."""
    n = out.shape[1]
    block = 64
    for lb in range(out.shape[0]):
        if not mine[lb]:
            continue
        m = out[lb]
        for i0 in range(0, n, block):
            for j0 in range(0, i0 + 1, block):
                for i in range(i0, min(i0 + block, n)):
                    for j in range(j0, min(j0 + block, i)):
                        m[j, i] = m[i, j]


@njit(nogil=True, cache=True)
def fill_columns(indptr, pixels, values, column, c0, c1, p_lo, p_hi, out):
    """Counts of columns ``c0 .. c1 - 1`` in every frame, from its photons, for the dense path.

    ``column[p]`` is pixel ``p``'s column (-1: in no ROI); the columns' pixels lie
    in ``p_lo .. p_hi``, so a frame's photons there are found by bisection.
    ``out[t, c - c0]`` receives frame ``t``'s count at column ``c`` (zeroed by the
    caller).
    """
    width = c1 - c0
    for t in range(indptr.size - 1):
        a, b = indptr[t], indptr[t + 1]
        e = a + np.searchsorted(pixels[a:b], p_lo)
        while e < b and pixels[e] <= p_hi:
            c = column[pixels[e]] - c0
            if 0 <= c < width:
                out[t, c] = values[e]
            e += 1
