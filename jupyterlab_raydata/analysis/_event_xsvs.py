"""Photon-count histograms from photon events (internal; imports numba).

For exposures of ``2^k`` frames, rows are sums of consecutive pairs of rows one
level down (as :func:`jupyterlab_raydata.analysis.xsvs.photon_histograms` forms
them); a row's pixels with a count are its photons, and the pixels without one
are counted as zeros in one step per ROI. A level keeps the first row of a pair
(dense, with the list of its pixels) until the second arrives.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def _histogram_row(k, cols, vals, n, valid, col_label, n_pix, hist, zeros):
    if not valid:
        return
    for lb in range(n_pix.size):
        zeros[k, lb] += n_pix[lb]
    for q in range(n):
        v = vals[q]
        if v == 0:
            continue
        lb = col_label[cols[q]]
        hist[k, lb, v] += 1
        zeros[k, lb] -= 1


@njit(nogil=True, cache=True)
def feed_histograms(
    indptr, pixels, values, frame_valid, col_of, col_label, n_pix,
    held, held_cols, held_n, held_state, hist, zeros,
):  # fmt: skip
    """Add a chunk of frames (events, integer values) to the histograms of every level.

    ``held[k]`` is level ``k``'s waiting row (dense over columns), ``held_cols[k,
    :held_n[k]]`` its pixels, ``held_state[k]`` 0 (none), 1 (valid) or 2 (bad).
    ``hist[k, l, K]`` counts samples with ``K > 0`` photons; ``zeros[k, l]``
    those with none.
    """
    n_levels = hist.shape[0]
    n_cols = held.shape[1]
    cols = np.empty((n_levels, n_cols), np.int64)
    vals = np.empty((n_levels, n_cols), np.int64)
    for f in range(indptr.size - 1):
        n = 0
        valid = frame_valid[f]
        if valid:
            for e in range(indptr[f], indptr[f + 1]):
                c = col_of[pixels[e]]
                if c >= 0 and values[e] != 0:
                    cols[0, n] = c
                    vals[0, n] = values[e]
                    n += 1
        k = 0
        while True:
            _histogram_row(k, cols[k], vals[k], n, valid, col_label, n_pix, hist, zeros)
            if k + 1 >= n_levels:
                break
            if held_state[k] == 0:
                # First of a pair: hold it.
                for q in range(n):
                    held[k, cols[k, q]] = vals[k, q]
                    held_cols[k, q] = cols[k, q]
                held_n[k] = n
                held_state[k] = 1 if valid else 2
                break
            # Second of a pair: their sum is the next level's row.
            up_valid = valid and held_state[k] == 1
            m = 0
            if up_valid:
                for q in range(held_n[k]):
                    c = held_cols[k, q]
                    cols[k + 1, m] = c
                    m += 1
                for q in range(n):
                    c = cols[k, q]
                    if held[k, c] == 0:
                        cols[k + 1, m] = c
                        m += 1
                    held[k, c] += vals[k, q]
                for q in range(m):
                    vals[k + 1, q] = held[k, cols[k + 1, q]]
            for q in range(held_n[k]):
                held[k, held_cols[k, q]] = 0
            for q in range(n):
                held[k, cols[k, q]] = 0
            held_n[k] = 0
            held_state[k] = 0
            n = m
            valid = up_valid
            k += 1
