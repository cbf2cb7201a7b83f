"""Multi-tau levels from photon pairs at the same pixel (internal; imports numba).

A multi-tau level ``k`` row is the sum of ``2^k`` consecutive frames, and its
lag-``i`` product at a pixel is ``Σ x[b] · x[b - i]`` over rows ``b``. Written out
in photons, that is the sum over pairs of photons at the same pixel, at frames
``t1 > t2``, whose rows are ``i`` apart: ``(t1 >> k) - (t2 >> k) == i``. Level
``k`` needs lags ``nb/2 .. nb-1`` (``0 .. nb-1`` at level 0), so only pairs less
than ``nb · 2^k`` frames apart count. At occupancy ``p`` a photon has about
``p · (nb/2 + 1) · 2^k`` partners at level ``k``: far fewer than the ``nb``
ring slots a photon of a re-binned row touches, until rows fill up (then the
dense engine takes over; see :func:`pair_levels`). This is the event
correlator of Chushkin, Caronna & Madsen (J. Appl. Cryst. 45, 2012) carried to
every multi-tau level at once.

Per chunk, every thread walks its own contiguous range of pixels in tiles of
:data:`TILE` pixels: a tile's photons of a window of frames (the chunk and the
``(nb + 1) · 2^(P-1)`` frames before it, ``P`` the pair levels) are taken
frame by frame (one cursor per frame, as a frame's pixels ascend), each linked
to its pixel's previous photon, and each walks back along these links through
its pixel's earlier photons (all in cache). A pair counts at level ``k`` in the chunk where row
``t1 >> k`` becomes complete, so a row with a bad frame is known to be bad
before any of its pairs count, and every pair counts once. The same pass adds
the photons of level ``P``'s complete rows into dense rows for the engine above.

Exactness: products and sums are float64 (integer counts: exact, and equal to
the dense engine's sums bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

# Columns per tile: a tile's photons over a window of frames stay in a core's L2 cache.
TILE = 1024


@njit(nogil=True, cache=True)
def check_ascending(indptr, pixels):
    """Whether pixel indices ascend strictly within every frame."""
    for f in range(indptr.size - 1):
        for e in range(indptr[f] + 1, indptr[f + 1]):
            if pixels[e] <= pixels[e - 1]:
                return False
    return True


@njit(nogil=True, cache=True, inline="always")
def _row_ok(bad_cum, k, b):
    """Row ``b`` of level ``k`` holds no bad frame (``bad_cum[t]``: bad frames before ``t``)."""
    return bad_cum[(b + 1) << k] == bad_cum[b << k]


@njit(nogil=True, cache=True)
def pair_feed(
    indptr,
    pixels,
    values,
    t_base,
    cs,
    ce,
    bad_cum,
    has_bad,
    tile_pixels,
    tile_cols,
    col_of,
    scale_of,
    col0,
    lab,
    nb,
    n_pair,
    up_level,
    G,
    sums0,
    out,
):
    """Lag products of pair levels ``0 .. n_pair-1`` for the rows completed by frames ``[cs, ce)``.

    Parameters
    ----------
    indptr, pixels, values
        Events of the window of frames ``t_base .. ce - 1`` (CSR, ``indptr``
        indexing ``pixels`` and ``values`` directly; pixel indices strictly
        ascending within a frame; values as recorded, any dtype). The window
        must reach ``(nb + 1) << (n_pair - 1)`` frames before ``cs`` (or frame 0).
    cs, ce : int
        The chunk's frames (absolute indices): the rows completed by them are done.
    bad_cum : int64 array
        Bad frames before frame ``t`` (``t = 0 .. ce``).
    has_bad : bool
        Whether any frame so far is bad (else rows are not checked).
    tile_pixels, tile_cols : int arrays, ``(n_tiles + 1,)``
        First pixel and first column of each tile of this share (then the ends).
    col_of, col0
        ``col_of[p] - col0`` is pixel ``p``'s column here (``col_of[p] < 0``: in no ROI).
    scale_of : float64 array
        ``1/norm`` of every pixel, multiplied into its values; empty: no ``norm``.
    lab : int array
        Label (index into this share's labels) of each column.
    nb : int
        ``num_bufs``.
    n_pair : int
        Pair levels.
    up_level : int
        ``n_pair`` if the rows of level ``n_pair`` go to ``out``, else -1.
    G : float64 array ``(n_pair, labels, nb)``
        Lag products, added to.
    sums0 : float64 array ``(ce - cs, labels)``
        Per label, the counts of each new frame (bad frames: zero).
    out : float64 array ``((ce >> up) - (cs >> up), columns)``
        Level ``up_level``'s rows completed in this chunk (zeroed by the caller;
        bad rows stay zero), in this share's column order.
    """
    n_frames = indptr.size - 1
    n_tiles = tile_pixels.size - 1
    half = nb // 2
    top = n_pair - 1
    scaled = scale_of.size > 0
    up_first = cs >> up_level if up_level >= 0 else 0
    # Per frame of the window: where the share's pixels start, whether the frame
    # is good, the levels whose row of it this chunk completes, and whether its
    # row of the level above is completed here.
    cursor = np.empty(n_frames, np.int64)
    fvalid = np.empty(n_frames, np.bool_)
    kmin = np.empty(n_frames, np.int64)
    kmax = np.empty(n_frames, np.int64)
    up_row = np.full(n_frames, -1, np.int64)
    for f in range(n_frames):
        a = indptr[f]
        cursor[f] = a + np.searchsorted(pixels[a : indptr[f + 1]], tile_pixels[0])
        t = t_base + f
        fvalid[f] = bad_cum[t + 1] == bad_cum[t]
        k = 0
        while k <= top and (((t >> k) + 1) << k) <= cs:
            k += 1
        kmin[f] = k
        k -= 1
        while k < top and (((t >> (k + 1)) + 1) << (k + 1)) <= ce:
            k += 1
        kmax[f] = k
        if up_level >= 0:
            r = t >> up_level
            if (r + 1) << up_level <= ce and r >= up_first and (not has_bad or _row_ok(bad_cum, up_level, r)):
                up_row[f] = r - up_first
    # A tile's photons in time order, each linked to its pixel's previous photon;
    # buffers for the largest tile (sized first: growing them in the loop would
    # cost more than the loop).
    cap = _largest_tile(indptr, pixels, cursor, tile_pixels)
    p_t = np.empty(cap, np.int64)
    p_x = np.empty(cap)
    prev = np.empty(cap, np.int64)
    last = np.empty(TILE, np.int64)
    for tile in range(n_tiles):
        tc0 = tile_cols[tile]
        base = col0 + tc0
        last[: tile_cols[tile + 1] - tc0] = -1
        end_pixel = tile_pixels[tile + 1]
        n = 0
        for f in range(n_frames):
            e = cursor[f]
            b = indptr[f + 1]
            if not fvalid[f]:
                while e < b and pixels[e] < end_pixel:
                    e += 1
                cursor[f] = e
                continue
            t1 = t_base + f
            k0 = kmin[f]
            k1 = kmax[f]
            new = t1 >= cs
            row = up_row[f]
            window = nb << k1 if k1 >= k0 else 0  # 0: no pairs are due
            while e < b:
                p = pixels[e]
                if p >= end_pixel:
                    break
                c = col_of[p]
                x1 = np.float64(values[e])
                e += 1
                if c < 0 or x1 == 0.0:
                    continue
                if scaled:
                    x1 *= scale_of[p]
                col = c - col0
                c -= base
                p_t[n] = t1
                p_x[n] = x1
                j = last[c]
                prev[n] = j
                last[c] = n
                n += 1
                lb = lab[col]
                if new:
                    sums0[t1 - cs, lb] += x1
                    G[0, lb, 0] += x1 * x1
                if row >= 0:
                    out[row, col] += x1
                # Pairs with the pixel's earlier photons, at the levels due.
                while j >= 0:
                    t2 = p_t[j]
                    gap = t1 - t2
                    if gap >= window:
                        break
                    prod = x1 * p_x[j]
                    first = k0
                    while (gap >> first) >= nb:  # rows nb or more apart at that level
                        first += 1
                    for k in range(first, k1 + 1):
                        d = (t1 >> k) - (t2 >> k)
                        if d >= nb:
                            continue
                        if k > 0:
                            if d < half:
                                break  # coarser levels are closer still
                            if has_bad and not (
                                _row_ok(bad_cum, k, t1 >> k) and _row_ok(bad_cum, k, t2 >> k)
                            ):
                                continue
                        G[k, lb, d] += prod
                    j = prev[j]
            cursor[f] = e


@njit(nogil=True, cache=True)
def _largest_tile(indptr, pixels, cursor, tile_pixels):
    """Most photons any tile has in the window (``cursor``: where each frame's share starts)."""
    at = cursor.copy()
    largest = 1
    for tile in range(tile_pixels.size - 1):
        end_pixel = tile_pixels[tile + 1]
        n = 0
        for f in range(at.size):
            e = at[f]
            b = indptr[f + 1]
            while e < b and pixels[e] < end_pixel:
                e += 1
            n += e - at[f]
            at[f] = e
        largest = max(largest, n)
    return largest


@njit(nogil=True, cache=True)
def permute_columns(src, order, dst):
    """``dst[:, j] = src[:, order[j]]``, cast to ``dst``'s dtype."""
    for r in range(src.shape[0]):
        for j in range(order.size):
            dst[r, j] = src[r, order[j]]


def pair_levels(occupancy: float, num_bufs: int, limit: float) -> int:
    """Levels worth correlating from photon pairs: while a photon's partners stay few.

    ``occupancy`` is the fraction of labelled pixels with a photon in a frame; at
    level ``k`` a photon has about ``occupancy · (num_bufs/2 + 1) · 2^k`` partners.
    Returns the first level where that passes ``limit``.
    """
    level = 0
    while level < 40 and occupancy * (num_bufs // 2 + 1) * 2**level <= limit:
        level += 1
    return level


def window_frames(num_bufs: int, n_pair: int) -> int:
    """Frames before a chunk that its pairs reach back to (see :func:`pair_feed`)."""
    return 0 if n_pair == 0 else (num_bufs + 1) << (n_pair - 1)
