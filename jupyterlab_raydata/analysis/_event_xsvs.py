"""Photon-count histograms from photon events (internal; imports numba).

For exposures of ``2^k`` frames, rows are sums of consecutive pairs of rows one
level down (as :func:`jupyterlab_raydata.analysis.xsvs.photon_histograms` forms
them); a row's pixels with a count are its photons, and the pixels without one
are counted as zeros in one step per ROI. A level keeps the first row of a pair
(dense, with the list of its pixels) until the second arrives.

The ROI pixels are cut, in detector order, into tiles of :data:`TILE` pixels, and all
frames of a chunk pass through one tile before the next, so the rows a tile holds stay
in a core's cache (a row held for the whole detector does not); the tiles are shared
out among threads, each with its own histograms. Which rows pair up depends only on
the frames, so every tile runs the same sequence of pairs.
"""

from __future__ import annotations

import numpy as np
from numba import njit

# ROI pixels per tile: the rows a tile holds at every level stay in a core's L2 cache.
TILE = 8192


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
    indptr, pixels, values, frame_valid, tile_pixels, first_tile, end_tile, col_of, col_label, n_pix,
    held, held_cols, held_n, held_state, hist, zeros,
):  # fmt: skip
    """Add a chunk of frames (events, integer values) to the histograms of every level, for the
    tiles ``first_tile .. end_tile - 1``.

    Tile ``t`` holds the ROI pixels ``tile_pixels[t] <= p < tile_pixels[t + 1]`` (a frame's
    pixel indices ascend, so its share of a frame is found by bisection) and ``n_pix[t, l]``
    of ROI ``l``. ``held[k]`` is level ``k``'s waiting row (dense over columns; tiles hold
    disjoint columns), ``held_cols[t, k, :held_n[t, k]]`` the tile's pixels in it,
    ``held_state[t, k]`` 0 (none), 1 (valid) or 2 (bad). ``hist[k, l, K]`` counts samples
    with ``K > 0`` photons; ``zeros[k, l]`` those with none.
    """
    n_levels = hist.shape[0]
    cap = held_cols.shape[2]
    cols = np.empty((n_levels, cap), np.int64)
    vals = np.empty((n_levels, cap), np.int64)
    for t in range(first_tile, end_tile):
        lo, hi = tile_pixels[t], tile_pixels[t + 1]
        pix = n_pix[t]
        for f in range(indptr.size - 1):
            n = 0
            valid = frame_valid[f]
            if valid:
                a, b = indptr[f], indptr[f + 1]
                e = a + np.searchsorted(pixels[a:b], lo)
                while e < b and pixels[e] < hi:
                    c = col_of[pixels[e]]
                    if c >= 0 and values[e] != 0:
                        cols[0, n] = c
                        vals[0, n] = values[e]
                        n += 1
                    e += 1
            k = 0
            while True:
                _histogram_row(k, cols[k], vals[k], n, valid, col_label, pix, hist, zeros)
                if k + 1 >= n_levels:
                    break
                if held_state[t, k] == 0:
                    # First of a pair: hold it.
                    for q in range(n):
                        held[k, cols[k, q]] = vals[k, q]
                        held_cols[t, k, q] = cols[k, q]
                    held_n[t, k] = n
                    held_state[t, k] = 1 if valid else 2
                    break
                # Second of a pair: their sum is the next level's row.
                up_valid = valid and held_state[t, k] == 1
                m = 0
                if up_valid:
                    for q in range(held_n[t, k]):
                        cols[k + 1, m] = held_cols[t, k, q]
                        m += 1
                    for q in range(n):
                        c = cols[k, q]
                        if held[k, c] == 0:
                            cols[k + 1, m] = c
                            m += 1
                        held[k, c] += vals[k, q]
                    for q in range(m):
                        vals[k + 1, q] = held[k, cols[k + 1, q]]
                for q in range(held_n[t, k]):
                    held[k, held_cols[t, k, q]] = 0
                for q in range(n):
                    held[k, cols[k, q]] = 0
                held_n[t, k] = 0
                held_state[t, k] = 0
                n = m
                valid = up_valid
                k += 1
