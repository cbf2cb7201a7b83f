"""Multi-tau levels from photon pairs at the same pixel (internal; imports numba).

A multi-tau level ``k`` row is the sum of ``2^k`` consecutive frames, and its
lag-``i`` product at a pixel is ``Σ x[b] · x[b - i]`` over rows ``b``. Written out
in photons, that is the sum over pairs of photons at the same pixel, at frames
``t1 >= t2``, whose rows are ``i`` apart: ``(t1 >> k) - (t2 >> k) == i``. Level
``k`` needs lags ``nb/2 .. nb-1`` (``0 .. nb-1`` at level 0), so only pairs less
than ``nb · 2^k`` frames apart count. At occupancy ``p`` a photon has about
``p · (nb/2 + 1) · 2^k`` partners at level ``k``: far fewer than the ``nb``
ring slots a photon of a re-binned row touches, until rows fill up (then the
dense engine takes over; see :func:`pair_levels`). This is the event
correlator of Chushkin, Caronna & Madsen (J. Appl. Cryst. 45, 2012) carried to
every multi-tau level at once.

Per call (a piece of frames), every thread walks its own contiguous range of
pixels in tiles of :data:`TILE` columns. A tile's photons, those it kept from
the frames its pairs still reach back to (``nb · 2^(P-1)`` frames, ``P``
the pair levels) and then the piece's, are sorted by column (a counting sort),
so each pixel's photons lie together in time order. Each photon walks back
through its pixel's earlier photons within the reach of the coarsest level due
and adds each product to a histogram by gap. Which level and lag a gap falls at
depends only on the levels due for the photon's frame and on the frame's phase
in a row of the top pair level, so frames alike in both share a histogram row
(a class), and the histogram goes to the lag products once per call. Near a bad
frame the rows' validity matters too: there a pair goes to its levels at once.

A pair counts at level ``k`` in the call where row ``t1 >> k`` becomes complete,
so a row with a bad frame is known to be bad before any of its pairs count, and
every pair counts once. The same pass adds the photons of level ``P``'s complete
rows into the rows handed to the engine above, and the per-frame label sums.

Exactness: products and sums are float64 (integer counts: exact, and equal to
the dense engine's sums bit for bit).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._dense_levels import feed_tile

# Columns per tile: a tile's photons over the frames of a piece stay in a core's L2 cache.
TILE = 1024

#: Most frames a pair may span (``num_bufs · 2^(P-1)`` for ``P`` pair levels): it
#: bounds the histogram of products by gap; further levels go to the engine above.
MAX_PAIR_GAP = 512

# Class of a frame none of whose levels is due in a call, and of one near a bad frame.
_NONE = -1
_OWN = -2


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
def _frame_plan(t_base, cs, ce, bad_cum, has_bad, nb, n_pair, up_level):
    """Per frame ``t_base .. ce - 1``: validity, levels due, row above, and class.

    Levels ``kmin .. kmax`` of a frame are those whose row of it completes in
    ``[cs, ce)`` (none if ``kmax < kmin``). ``up_row`` is the frame's row of level
    ``up_level`` among those completed here (``-1``: none, or a bad row). Frames
    whose pairs map to the same levels and lags for every gap share a class
    (``rep``: one frame of each); frames near a bad frame are ``_OWN``.
    """
    n_frames = ce - t_base
    top = n_pair - 1
    fvalid = np.empty(n_frames, np.bool_)
    kmin = np.empty(n_frames, np.int64)
    kmax = np.empty(n_frames, np.int64)
    up_row = np.full(n_frames, -1, np.int64)
    cls_of = np.full(n_frames, _NONE, np.int64)
    rep = np.empty(n_frames, np.int64)
    key_of = np.full((top + 1) * (top + 1) << top, -1, np.int64)
    up_first = cs >> up_level if up_level >= 0 else 0
    n_cls = 0
    for f in range(n_frames):
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
        if not fvalid[f] or kmax[f] < kmin[f]:
            continue
        if has_bad:
            # Every row a pair of this frame touches, at every level due, lies in [lo, hi).
            lo = max(((t >> top) - nb) << top, 0)
            hi = min(((t >> top) + 1) << top, ce)
            if bad_cum[hi] > bad_cum[lo]:
                cls_of[f] = _OWN
                continue
        key = ((kmin[f] * (top + 1) + kmax[f]) << top) | (t & ((1 << top) - 1))
        if key_of[key] < 0:
            key_of[key] = n_cls
            rep[n_cls] = f
            n_cls += 1
        cls_of[f] = key_of[key]
    return fvalid, kmin, kmax, up_row, cls_of, rep[:n_cls]


@njit(nogil=True, cache=True, inline="always")
def _add_pair(G, lb, prod, t1, t2, k0, k1, nb, bad_cum, has_bad):
    """Add ``prod`` (photons at frames ``t1 >= t2``) at each level ``k0 .. k1`` it counts at."""
    half = nb // 2
    gap = t1 - t2
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
            if has_bad and not (_row_ok(bad_cum, k, t1 >> k) and _row_ok(bad_cum, k, t2 >> k)):
                continue
        G[k, lb, d] += prod


@njit(nogil=True, cache=True)
def _sizes(indptr, pixels, cursor, tile_pixels, kept_off, keep_from):
    """Most photons a tile holds in a call, and at most how many it keeps (frames ``>= keep_from``)."""
    at = cursor.copy()
    largest = 1
    keep = kept_off[-1]
    for tile in range(tile_pixels.size - 1):
        end_pixel = tile_pixels[tile + 1]
        n = kept_off[tile + 1] - kept_off[tile]
        for f in range(at.size):
            e = at[f]
            b = indptr[f + 1]
            while e < b and pixels[e] < end_pixel:
                e += 1
            n += e - at[f]
            if f >= keep_from:
                keep += e - at[f]
            at[f] = e
        largest = max(largest, n)
    return largest, keep


@njit(nogil=True, cache=True)
def pair_feed(
    indptr,
    pixels,
    values,
    cs,
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
    up,
    up_col,
    dense,
    kept_t,
    kept_x,
    kept_c,
    kept_off,
    out_t,
    out_x,
    out_c,
):
    """Lag products of pair levels ``0 .. n_pair-1`` for the rows completed by frames ``[cs, ce)``.

    Parameters
    ----------
    indptr, pixels, values
        Events of frames ``cs .. ce - 1`` (CSR, ``indptr`` indexing ``pixels`` and
        ``values`` directly; pixel indices strictly ascending within a frame;
        values as recorded, any dtype).
    cs : int
        The first frame (absolute index).
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
        ``n_pair`` if the rows of level ``n_pair`` go to ``up``, else -1.
    G : float64 array ``(n_pair, labels, nb)``
        Lag products, added to.
    sums0 : float64 array ``(ce - cs, labels)``
        Per label, the counts of each new frame (bad frames: zero), added to.
    up : float64 array ``((ce >> up) - (cs >> up), columns)``
        Level ``up_level``'s rows completed in this call, written tile by tile
        (bad rows are zero) unless ``dense`` takes them; column ``c`` of the share
        is ``up_col[c]``, a column of the same tile.
    dense : tuple or None
        The arguments of :func:`~._dense_levels.feed_tile` after its rows: each
        tile's rows of level ``up_level`` go to the dense levels from the cache.
    kept_t, kept_x, kept_c, kept_off
        Photons kept by the previous call (frame, scaled value, column in its
        tile), tile after tile (``kept_off``), each tile's sorted by column.
    out_t, out_x, out_c
        Buffers for the photons this call keeps, used if large enough (memory
        not touched before costs more than the writes themselves).

    Returns
    -------
    tuple
        The photons to keep for the next call, as ``kept_t, kept_x, kept_c,
        kept_off``: the buffers ``out_*`` (or larger ones) and their offsets.
    """
    n_new = indptr.size - 1
    ce = cs + n_new
    n_tiles = tile_pixels.size - 1
    top = n_pair - 1
    reach = nb << top
    t_base = max(cs - reach, 0)
    keep_from = max(ce - reach, 0) - t_base
    new0 = cs - t_base
    scaled = scale_of.size > 0
    plan = _frame_plan(t_base, cs, ce, bad_cum, has_bad, nb, n_pair, up_level)
    fvalid, kmin, kmax, up_row, cls_of, rep = plan
    H = np.zeros((G.shape[1], max(rep.size, 1), reach))  # products by class and gap
    cursor = np.empty(n_new, np.int64)
    for f in range(n_new):
        a = indptr[f]
        cursor[f] = a + np.searchsorted(pixels[a : indptr[f + 1]], tile_pixels[0])
    # Buffers for the largest tile (sized first: growing them in the loop would
    # cost more than the loop).
    cap, keep_cap = _sizes(indptr, pixels, cursor, tile_pixels, kept_off, max(keep_from - new0, 0))
    g_f = np.empty(cap, np.int64)
    g_c = np.empty(cap, np.int64)
    g_x = np.empty(cap)
    s_f = np.empty(cap, np.int64)
    s_x = np.empty(cap)
    start = np.empty(np.max(np.diff(tile_cols)) + 1, np.int64)
    # The tile's rows of level up_level, summed where the tile's photons are.
    up_tile = np.empty(((ce >> up_level) - (cs >> up_level) if up_level >= 0 else 0, start.size))
    if out_t.size < keep_cap:
        grown = keep_cap + keep_cap // 4
        out_t = np.empty(grown, np.int64)
        out_x = np.empty(grown)
        out_c = np.empty(grown, np.int32)
    out_off = np.zeros(n_tiles + 1, np.int64)
    n_keep = 0
    for tile in range(n_tiles):
        tc0 = tile_cols[tile]
        width = tile_cols[tile + 1] - tc0
        base = col0 + tc0
        start[: width + 1] = 0
        up_tile[:, :width] = 0.0
        # The tile's photons: those kept (older), then the piece's, frame by frame.
        n = 0
        for i in range(kept_off[tile], kept_off[tile + 1]):
            c = kept_c[i]
            g_f[n] = kept_t[i] - t_base
            g_c[n] = c
            g_x[n] = kept_x[i]
            start[c + 1] += 1
            n += 1
        end_pixel = tile_pixels[tile + 1]
        for f in range(n_new):
            e = cursor[f]
            b = indptr[f + 1]
            if not fvalid[new0 + f]:
                while e < b and pixels[e] < end_pixel:
                    e += 1
                cursor[f] = e
                continue
            while e < b:
                p = pixels[e]
                if p >= end_pixel:
                    break
                c = col_of[p]
                x = np.float64(values[e])
                e += 1
                if c < 0 or x == 0.0:
                    continue
                if scaled:
                    x *= scale_of[p]
                c -= base
                g_f[n] = new0 + f
                g_c[n] = c
                g_x[n] = x
                start[c + 1] += 1
                n += 1
            cursor[f] = e
        # Counting sort by column (stable: each column's photons stay in time order).
        for c in range(width):
            start[c + 1] += start[c]
        for i in range(n):
            c = g_c[i]
            s = start[c]
            s_f[s] = g_f[i]
            s_x[s] = g_x[i]
            start[c] = s + 1
        # Now start[c] is where column c ends and column c + 1 begins.
        a = 0
        for c in range(width):
            z = start[c]
            col = tc0 + c
            lb = lab[col]
            uc = up_col[col] - tc0
            squares = 0.0  # lag 0 at level 0, of the new frames (a photon's pair with itself)
            for i in range(a, z):
                f1 = s_f[i]
                x1 = s_x[i]
                if f1 >= new0:
                    sums0[f1 - new0, lb] += x1
                    squares += x1 * x1
                row = up_row[f1]
                if row >= 0:
                    up_tile[row, uc] += x1
                if f1 >= keep_from:
                    out_t[n_keep] = t_base + f1
                    out_x[n_keep] = x1
                    out_c[n_keep] = c
                    n_keep += 1
                cl = cls_of[f1]
                if cl == _NONE:
                    continue
                window = nb << kmax[f1]
                j = i - 1
                if cl == _OWN:
                    t1 = t_base + f1
                    k0, k1 = kmin[f1], kmax[f1]
                    while j >= a and f1 - s_f[j] < window:
                        _add_pair(G, lb, x1 * s_x[j], t1, t_base + s_f[j], k0, k1, nb, bad_cum, True)
                        j -= 1
                    continue
                while j >= a:
                    gap = f1 - s_f[j]
                    if gap >= window:
                        break
                    H[lb, cl, gap] += x1 * s_x[j]
                    j -= 1
            G[0, lb, 0] += squares
            a = z
        out_off[tile + 1] = n_keep
        if dense is None:
            up[:, tc0 : tc0 + width] = up_tile[:, :width]
        else:
            feed_tile(tile, up_tile, tc0, *dense)
    # Each class's products by gap, to their levels and lags.
    for cl in range(rep.size):
        f1 = rep[cl]
        t1 = t_base + f1
        for gap in range(nb << kmax[f1]):
            for lb in range(H.shape[0]):
                if H[lb, cl, gap] != 0.0:
                    _add_pair(G, lb, H[lb, cl, gap], t1, t1 - gap, kmin[f1], kmax[f1], nb, bad_cum, False)
    return out_t, out_x, out_c, out_off


def pair_levels(occupancy: float, num_bufs: int, limit: float) -> int:
    """Levels worth correlating from photon pairs: while a photon's partners stay few.

    ``occupancy`` is the fraction of labelled pixels with a photon in a frame; at
    level ``k`` a photon has about ``occupancy · (num_bufs/2 + 1) · 2^k`` partners.
    Returns the first level where that passes ``limit``, or whose pairs would span
    more than :data:`MAX_PAIR_GAP` frames.
    """
    level = 0
    while (num_bufs << level) <= MAX_PAIR_GAP and occupancy * (num_bufs // 2 + 1) * 2**level <= limit:
        level += 1
    return level
