"""Multi-tau correlation from photon events: cost follows the photons (internal; imports numba).

Public entry points live in :mod:`jupyterlab_raydata.analysis.correlation`.
:class:`EventShare` (one thread's pixels) computes the first levels from photon
pairs (:mod:`._event_pairs`) and hands the rows of the next level to the engine
above: :class:`UnionShare` (event levels from re-binned rows, described here)
when further levels are sparse enough, else the dense levels of :mod:`._dense_levels`.

Re-binned event levels (:class:`UnionShare`). A
multi-tau level ``k`` holds rows (sums of ``2^k`` frames) and accumulates, for
each lag ``i``, ``Σ_rows Σ_pixels x[r, p] · x[r - i, p]``. Only pixels with a
count in row ``r`` contribute, so the sum is taken over the row's events: each
event reads its pixel's last ``num_bufs`` rows from a ring buffer laid out pixel
by pixel (one cache line per event). A pixel's ring is brought up to date when it
gets its next photon (the rows it skipped are zeroed then), so no row is ever
cleared as a whole. A pair of consecutive rows becomes one row of the next level
as the union of their events (pixels present in either). The work per level is
proportional to its events, in place of its pixels.

Summed over ``2^k`` frames, rows fill up with photons: a coarse level is cheaper
dense. The correlator therefore runs event levels ``0 .. K-1`` and hands the rows
of level ``K`` (dense, label after label) to the dense levels of
:mod:`._dense_levels`, where ``K`` is the first level whose measured occupancy passes
:data:`~jupyterlab_raydata.analysis.correlation.EVENT_OCCUPANCY_LIMIT`, or, for a
level summed over photon pairs, whose measured pairs pass
:data:`~jupyterlab_raydata.analysis.correlation.DENSE_PAIR_LIMIT`
(:func:`plan_event_levels`). Bright, slow speckle (the inner rings under a steep
I(q)) holds many times the pairs that independent photons at the same occupancy
would, so occupancy alone would keep such levels on pairs long after they cost more
than dense.

Columns follow the detector's pixel order (not label order), and a thread owns a
contiguous range of them, cut into tiles of :data:`TILE` columns: all frames of a
chunk pass through one tile before the next, so the tile's rings stay in cache.
A frame's events are sorted by pixel, so a tile's share of them is found by
bisection.

Exactness: rows, products and sums are float64; for integer counts every value
is an integer below 2**53, so the sums are exact and equal the dense engine's
bit for bit. With ``norm`` they agree to rounding (~1e-16 relative).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ._dense_levels import DenseLevels
from ._level_rows import level_arrays, normalise, row_plan

# Columns per tile: a tile's ring buffers at every event level stay in a core's
# L2 cache while all frames of a chunk pass through it.
TILE = 2048


@njit(nogil=True, cache=True, inline="always")
def _put(ring, last, G, k, c, lb, r, slots, x, nb, lo):
    """Store ``x`` as column ``c``'s value in row ``r`` and add its lag products.

    Rows the column skipped since its last photon are zeroed first (so the ring
    never needs clearing row by row); a column with no photon in the last
    ``nb - 1`` rows has no partner, only its lag-0 product. ``slots[i]`` is
    ``(r - i) % nb``: slots advance without ``%`` here, as an integer division
    costs more than everything else done per event.
    """
    line = ring[k, c]
    gap = r - last[k, c]
    last[k, c] = r
    if gap >= nb:
        for s in range(nb):
            line[s] = 0.0
        line[slots[0]] = x
        if lo == 0:
            G[k, lb, 0] += x * x
        return
    s = slots[0] - gap
    if s < 0:
        s += nb
    for _ in range(gap - 1):
        s += 1
        if s == nb:
            s = 0
        line[s] = 0.0
    line[slots[0]] = x
    for i in range(lo, nb):
        G[k, lb, i] += x * line[slots[i]]


@njit(nogil=True, cache=True, inline="always")
def _fill_slots(slots, r, nb):
    """``slots[i] = (r - i) % nb``."""
    s = r % nb
    for i in range(nb):
        slots[i] = s
        s = s - 1 if s else nb - 1


@njit(nogil=True, cache=True)
def feed_events(
    indptr,
    pixels,
    values,
    frame_valid,
    tile_pixels,
    tile_cols,
    col_of,
    col0,
    lab,
    nb,
    n_levels,
    pair_top,
    ring,
    last,
    pend_cols,
    pend_n,
    n_rows,
    row_valid,
    rowsum,
    G,
    past,
    future,
    count,
    out,
    out_valid,
    perm,
):
    """Correlate a chunk of frames' events at every event level, tile by tile.

    Parameters
    ----------
    indptr, pixels, values
        Events of the chunk's frames (CSR; flat pixel indices strictly ascending
        within a frame; values float64, divided by ``norm`` if any).
    frame_valid : bool array
        False for bad frames (their events are ignored, their pairs excluded).
    tile_pixels, tile_cols : int arrays, ``(n_tiles + 1,)``
        First pixel and first column of each tile of this share (then the ends).
    col_of, col0
        ``col_of[p] - col0`` is pixel ``p``'s column here (``col_of[p] < 0``: in no ROI).
    lab : int array
        Label (index into this share's labels) of each column.
    nb : int
        ``num_bufs``.
    n_levels : int
        Event levels in the state arrays.
    pair_top : bool
        Whether pairs of the top event level's rows become dense rows in ``out``
        (the next level is dense); otherwise they are dropped (no further level).
    ring, last, pend_cols, pend_n, n_rows, row_valid, rowsum, G, past, future, count
        State per level (see :class:`EventShare`).
    out, out_valid, perm
        Dense rows for the next level (zeroed by the caller), their validity, and
        each column's position in them.

    Returns
    -------
    int
        Dense rows written, or -1 if a frame's pixels were not strictly ascending.
    """
    n_frames = indptr.size - 1
    n_tiles = tile_pixels.size - 1
    for f in range(n_frames):
        for e in range(indptr[f] + 1, indptr[f + 1]):
            if pixels[e] <= pixels[e - 1]:
                return -1
    n_plan = n_levels + (1 if pair_top else 0)
    counts, plan_valid = row_plan(n_frames, frame_valid, nb, n_plan, n_rows, row_valid)
    n_lab = G.shape[1]
    half = nb // 2
    sums0 = np.zeros((max(n_frames, 1), n_lab))
    # Per level: the current row's columns in this tile, and its ring slots.
    cur = np.empty((n_levels + 1, TILE), np.int64)
    cur_n = np.zeros(n_levels + 1, np.int64)
    slots = np.empty((n_levels + 1, nb), np.int64)
    local = np.zeros(n_plan, np.int64)
    for t in range(n_tiles):
        tc0 = tile_cols[t]
        local[:] = 0
        for f in range(n_frames):
            a = indptr[f]
            b = indptr[f + 1]
            lo_e = a + np.searchsorted(pixels[a:b], tile_pixels[t])
            # Level 0 row: this frame's events in the tile.
            r = n_rows[0] + f
            _fill_slots(slots[0], r, nb)
            n = 0
            if frame_valid[f]:
                for e in range(lo_e, b):
                    p = pixels[e]
                    if p >= tile_pixels[t + 1]:
                        break
                    c = col_of[p]
                    x = values[e]
                    if c < 0 or x == 0.0:
                        continue
                    c -= col0
                    lb = lab[c]
                    _put(ring, last, G, 0, c, lb, r, slots[0], x, nb, half)
                    cur[0, n] = c
                    n += 1
                    sums0[f, lb] += x
            cur_n[0] = n
            k = 0
            while True:
                local[k] += 1
                if r % 2 == 0:
                    # Wait for the pair's second row: remember this row's columns.
                    for q in range(cur_n[k]):
                        pend_cols[k, tc0 + q] = cur[k, q]
                    pend_n[k, t] = cur_n[k]
                    break
                if k + 1 >= n_plan:
                    break
                up_valid = plan_valid[k + 1, local[k + 1]]
                r_up = (r - 1) // 2
                s0, s1 = slots[k, 1], slots[k, 0]
                if k + 1 < n_levels:
                    _fill_slots(slots[k + 1], r_up, nb)
                n = 0
                if up_valid:
                    # Union of the pair's columns: the first row's, then new ones of the second.
                    for q in range(pend_n[k, t]):
                        c = pend_cols[k, tc0 + q]
                        x = ring[k, c, s0] + (ring[k, c, s1] if last[k, c] == r else 0.0)
                        if k + 1 < n_levels:
                            _put(ring, last, G, k + 1, c, lab[c], r_up, slots[k + 1], x, nb, half)
                            cur[k + 1, n] = c
                            n += 1
                        else:
                            out[local[k + 1], perm[c]] = x
                    for q in range(cur_n[k]):
                        c = cur[k, q]
                        if ring[k, c, s0] == 0.0:
                            x = ring[k, c, s1]
                            if k + 1 < n_levels:
                                _put(ring, last, G, k + 1, c, lab[c], r_up, slots[k + 1], x, nb, half)
                                cur[k + 1, n] = c
                                n += 1
                            else:
                                out[local[k + 1], perm[c]] = x
                if k + 1 == n_levels:  # a dense row, handed over
                    out_valid[local[k + 1]] = up_valid
                    local[k + 1] += 1
                    break
                cur_n[k + 1] = n
                k += 1
                r = r_up
    state = n_rows, row_valid, rowsum, past, future, count
    normalise(counts, plan_valid, sums0, nb, n_levels, *state, half)
    return counts[n_levels] if pair_top else 0


@njit(nogil=True, cache=True)
def block_occupancy(indptr, pixels, col_of, n_cols, max_level, max_blocks, width, row_step):
    """Occupancy and photon pairs of sums of ``2^k`` frames, ``k = 0 .. max_level``.

    Level ``k`` is measured on its first ``max(2, max_blocks >> k)`` sums (the first
    ``max_blocks`` frames while that is more than two sums), and on the ROI pixels of
    every ``row_step``-th detector row (frames of ``width`` columns), which
    ``col_of`` numbers ``0 .. n_cols - 1`` (-1 elsewhere): the photons of the other
    rows are skipped, not read, so the cost grows neither with the series nor with
    the detector. Levels the frames do not reach are NaN.

    Returns
    -------
    occupancy : float64 array
        Fraction of ROI pixels with a photon in a sum.
    pairs : float64 array
        Pairs of photons at one pixel within one sum (``n (n - 1)`` for ``n``
        photons there, each pair counted from both ends), per pixel and frame:
        the partners the pair kernel walks through, whatever the speckle's
        brightness and persistence.
    """
    n_frames = indptr.size - 1
    occupancy = np.full(max_level + 1, np.nan)
    pairs = np.full(max_level + 1, np.nan)
    stamp = np.empty(n_cols, np.int32)
    count = np.zeros(n_cols, np.int64)
    for k in range(max_level + 1):
        size = 1 << k
        n_blocks = min(n_frames // size, max(2, max_blocks >> k))
        if n_blocks == 0:
            break
        stamp[:] = -1
        seen = 0
        paired = 0
        for blk in range(n_blocks):
            for t in range(blk * size, (blk + 1) * size):
                e, end = indptr[t], indptr[t + 1]
                while e < end:
                    row = pixels[e] // width
                    if row % row_step:  # photons ascend: on to the next sampled row's first
                        after = (row // row_step + 1) * row_step * width
                        stop_at = min(e + 8, end)
                        while e < stop_at and pixels[e] < after:  # a few photons: stepped over
                            e += 1
                        if e == stop_at and e < end and pixels[e] < after:  # many: jumped over
                            e += np.searchsorted(pixels[e:end], after)
                        continue
                    c = col_of[pixels[e]]
                    if c >= 0:
                        if stamp[c] != blk:
                            stamp[c] = blk
                            count[c] = 0
                            seen += 1
                        paired += 2 * count[c]
                        count[c] += 1
                    e += 1
        occupancy[k] = seen / (n_blocks * n_cols)
        pairs[k] = paired / (n_blocks * size * n_cols)
    return occupancy, pairs


def plan_event_levels(occupancy, pairs, n_pair: int, window: int, limit: float, pair_limit: float) -> int:
    """The first level to correlate dense.

    A level goes dense where its rows' occupancy passes ``limit``, or, for one of the
    ``n_pair`` levels summed over photon pairs, where its pairs (those within
    ``2^window`` sums of it, ``pairs[k + window]``) pass ``pair_limit`` per pixel and
    frame: its pair walk then costs more than a dense level's products. Levels beyond
    the measured ones are extrapolated as if photons were independent between frames
    (occupancy ``1 - (1 - p)^2`` and twice the pairs per doubling), which overestimates
    the filling of correlated speckle, so it errs towards dense.
    """
    level, p, q = 0, 0.0, 0.0
    while True:
        if level < occupancy.size and np.isfinite(occupancy[level]):
            p = float(occupancy[level])
        elif level:
            p = 1 - (1 - p) ** 2
        at = level + window
        if at < pairs.size and np.isfinite(pairs[at]):
            q = float(pairs[at])
        else:
            q *= 2
        if p > limit or (level < n_pair and q > pair_limit) or level >= 62:
            return level
        level += 1


class UnionShare:
    """Event levels from re-binned rows: one thread's share of the pixels (a contiguous range).

    :class:`EventShare` uses it for event levels above its pair levels, fed with
    the rows of the first of them as events. Never the correlator's first level:
    every level's lags start at ``num_bufs/2``. Levels above ``event_levels`` go
    to :class:`~._dense_levels.DenseLevels`.

    Parameters
    ----------
    pixels : ndarray of int
        The share's pixel indices, ascending (its columns, in this order).
    col0 : int
        Column of ``pixels[0]`` in the correlator's pixel-order columns.
    label_index : ndarray of int
        Result column (label index) of each of the share's pixels.
    num_bufs, num_levels
        As for the correlator.
    event_levels : int or None
        Levels done from events (then dense); ``None`` = every level.
    """

    def __init__(self, pixels, col0, label_index, num_bufs, num_levels, event_levels):
        self.col0 = col0
        self.n_cols = pixels.size
        self.tile_cols = np.append(np.arange(0, self.n_cols, TILE), self.n_cols)
        self.tile_pixels = np.append(pixels[self.tile_cols[:-1]], pixels[-1] + 1).astype(np.int64)
        self.n_tiles = self.tile_cols.size - 1
        self.labels, self.lab = np.unique(label_index, return_inverse=True)
        self.lab = self.lab.astype(np.int64)
        self.nb, self.num_levels, self.event_levels = num_bufs, num_levels, event_levels
        # Dense rows list label after label: a column's place there.
        order = np.argsort(self.lab, kind="stable")
        self.perm = np.empty(self.n_cols, np.int64)
        self.perm[order] = np.arange(self.n_cols)
        self.dense = None
        if event_levels is not None and (num_levels is None or event_levels < num_levels):
            rest = None if num_levels is None else num_levels - event_levels
            # Its rows list label after label, cut into tiles of TILE columns.
            self.dense = DenseLevels(self.lab[order], self.tile_cols, num_bufs, rest)
        self.frames_seen = 0
        self.state = self._allocate(0)

    def _allocate(self, n_levels: int) -> tuple:
        nb, n_lab = self.nb, self.labels.size
        return (
            np.zeros((n_levels, self.n_cols, nb)),  # ring: a column's last nb rows, row r in slot r % nb
            np.full((n_levels, self.n_cols), -1, np.int32),  # last: row a column was last written in
            np.zeros((n_levels, self.n_cols), np.int32),  # pend_cols: a row waiting for its pair, per tile
            np.zeros((n_levels, self.n_tiles), np.int64),  # pend_n
            *level_arrays(n_levels, nb, n_lab),
        )

    def _levels_for(self, n_frames: int) -> int:
        """Event levels that ``n_frames`` frames can reach (level ``k`` needs ``2^k`` frames)."""
        reach = int(n_frames).bit_length()  # floor(log2(n)) + 1
        for cap in (self.num_levels, self.event_levels):
            if cap is not None:
                reach = min(reach, cap)
        return reach

    def _grow(self, n_levels: int) -> None:
        old = self.state
        if n_levels <= old[0].shape[0]:
            return
        new = self._allocate(n_levels)
        for a, b in zip(old, new, strict=True):
            b[: a.shape[0]] = a
        self.state = new

    def feed(self, indptr, pixels, values, valid, col_of, integer: bool) -> None:
        """Correlate a chunk of frames' events (see :func:`feed_events`)."""
        n_frames = indptr.size - 1
        self.frames_seen += n_frames
        self._grow(self._levels_for(self.frames_seen))
        n_levels = self.state[0].shape[0]
        pair_top = self.dense is not None and n_levels == self.event_levels
        if pair_top:
            rows = (self.frames_seen >> n_levels) - ((self.frames_seen - n_frames) >> n_levels)
            top = float(values.max(initial=0)) * 2**n_levels
            dtype = np.int32 if integer and top < 2**31 else np.int64 if integer else np.float64
            out = np.zeros((rows, self.n_cols), dtype)
        else:
            out = np.zeros((0, self.n_cols))
        out_valid = np.zeros(out.shape[0], np.bool_)
        n_out = feed_events(
            indptr, pixels, values, valid, self.tile_pixels, self.tile_cols, col_of, self.col0, self.lab,
            self.nb, n_levels, pair_top, *self.state, out, out_valid, self.perm,
        )  # fmt: skip
        if n_out < 0:
            raise ValueError("photon events must have strictly ascending pixel indices within a frame")
        if n_out:
            self.dense.update(out[:n_out], out_valid[:n_out])

    def accumulators(self):
        """Yield ``(lags in frames, G, past, future, count)`` per level, arrays ``(lags, labels)``."""
        G, past, future, count = self.state[-4:]
        half = self.nb // 2
        for k in range(G.shape[0]):
            lags = np.arange(half, self.nb) * 2**k
            yield lags, G[k, :, half:].T, past[k, :, half:].T, future[k, :, half:].T, count[k, half:]
        if self.dense is not None:
            for lags, *sums in self.dense.accumulators():
                yield lags * 2**self.event_levels, *sums


#: Most rows of the level above the pair levels completed per call of the pair
#: kernel (a chunk of frames is cut to fit): the kernel holds them for a tile of
#: pixels in cache, or for all the pixels when event levels come next.
UP_ROWS = 32


class EventShare:
    """One thread's share of the pixels (a contiguous range of them) for event multi-tau.

    Levels ``0 .. pair_levels-1`` come from photon pairs (:mod:`._event_pairs`);
    rows of the next level go to the engine above: :class:`UnionShare` for
    further event levels, else :class:`~._dense_levels.DenseLevels`. Between
    calls the share keeps the photons its pairs still reach back to.

    Parameters
    ----------
    pixels, col0, label_index, num_bufs, num_levels, event_levels
        As for :class:`UnionShare`.
    pair_levels : int
        Levels (``>= 1``) done from photon pairs, at most ``event_levels``.
    """

    def __init__(self, pixels, col0, label_index, num_bufs, num_levels, event_levels, pair_levels):
        from ._event_pairs import TILE as PAIR_TILE

        self.col0 = col0
        self.n_cols = pixels.size
        tile_cols = np.append(np.arange(0, self.n_cols, PAIR_TILE), self.n_cols)
        self.tile_cols = tile_cols.astype(np.int64)
        self.tile_pixels = np.append(pixels[tile_cols[:-1]], pixels[-1] + 1).astype(np.int64)
        self.labels, self.lab = np.unique(label_index, return_inverse=True)
        self.lab = self.lab.astype(np.int64)
        self.nb = num_bufs
        n_pair = max(1, pair_levels)
        for cap in (num_levels, event_levels):
            if cap is not None:
                n_pair = min(n_pair, cap)
        self.n_pair = n_pair
        n_lab, nb = self.labels.size, num_bufs
        levels = level_arrays(n_pair, nb, n_lab)
        self.n_rows, self.row_valid, self.rowsum, self.G, self.past, self.future, self.count = levels
        # Photons the pairs of the next call reach back to (see pair_feed), none
        # yet, and buffers for those the next call keeps: calls alternate them.
        self.kept = (
            np.zeros(0, np.int64),
            np.zeros(0),
            np.zeros(0, np.int32),
            np.zeros(tile_cols.size, np.int64),
        )
        self.spare = self.kept[:3]
        # Rows of level n_pair for the engine above list each tile's columns label
        # after label: a column's place there (the pair kernel hands them over tile by tile).
        order = np.lexsort((self.lab, np.repeat(np.arange(tile_cols.size - 1), np.diff(tile_cols))))
        self.up_col = np.empty(self.n_cols, np.int64)
        self.up_col[order] = np.arange(self.n_cols)
        self.upper = None
        self.upper_events = False
        if num_levels is None or num_levels > n_pair:
            rest = None if num_levels is None else num_levels - n_pair
            if event_levels is None or event_levels > n_pair:
                up = None if event_levels is None else event_levels - n_pair
                self.upper = UnionShare(np.arange(self.n_cols), 0, self.lab[order], nb, rest, up)
                self.upper_events = True
                self.upper_col_of = np.arange(self.n_cols, dtype=np.int32)
            else:
                self.upper = DenseLevels(self.lab[order], self.tile_cols, nb, rest)

    def feed(self, indptr, pixels, values, cs, ce, bad_cum, col_of, scale_of, integer: bool) -> None:
        """Correlate frames ``[cs, ce)`` (events as for ``pair_feed``).

        Frames go in pieces that complete at most :data:`UP_ROWS` rows for the
        engine above, so its rows stay small.
        """
        step = UP_ROWS << self.n_pair if self.upper is not None else ce - cs
        for s0 in range(cs, ce, max(step, 1)):
            s1 = min(s0 + step, ce)
            part = indptr[s0 - cs : s1 - cs + 1]
            self._feed(part, pixels, values, s0, s1, bad_cum, col_of, scale_of, integer)

    def _feed(self, indptr, pixels, values, cs, ce, bad_cum, col_of, scale_of, integer) -> None:
        from ._event_pairs import pair_feed

        nb, n_pair = self.nb, self.n_pair
        up_level = n_pair if self.upper is not None else -1
        rows = (ce >> n_pair) - (cs >> n_pair) if self.upper is not None else 0
        frame_valid = bad_cum[cs + 1 : ce + 1] == bad_cum[cs:ce]
        n_plan = n_pair + (1 if self.upper is not None else 0)
        counts, plan_valid = row_plan(ce - cs, frame_valid, nb, n_plan, self.n_rows, self.row_valid)
        up_valid = plan_valid[n_pair, :rows].copy() if rows else None
        # Rows above go tile by tile to the dense levels, or whole to the event levels.
        fused = rows > 0 and not self.upper_events
        dense = self.upper.begin(up_valid) if fused else None
        up = np.empty((0 if fused else rows, self.n_cols))
        sums0 = np.zeros((ce - cs, self.labels.size))
        previous = self.kept
        self.kept = pair_feed(
            indptr, pixels, values, cs, bad_cum, bool(bad_cum[ce] > 0), self.tile_pixels, self.tile_cols,
            col_of, scale_of, self.col0, self.lab, nb, n_pair, up_level, self.G, sums0, up, self.up_col,
            dense, *previous, *self.spare,
        )  # fmt: skip
        self.spare = previous[:3]
        normalise(
            counts, plan_valid, sums0, nb, n_pair, self.n_rows, self.row_valid, self.rowsum,
            self.past, self.future, self.count, 0,
        )  # fmt: skip
        if fused:
            self.upper.end()
        elif rows:
            r, c = np.nonzero(up)
            indptr_up = np.zeros(rows + 1, np.int64)
            np.cumsum(np.bincount(r, minlength=rows), out=indptr_up[1:])
            self.upper.feed(indptr_up, c.astype(np.int32), up[r, c], up_valid, self.upper_col_of, integer)

    def flush(self) -> None:
        """Nothing waits here: every row is correlated as it completes."""

    def accumulators(self):
        """Yield ``(lags in frames, G, past, future, count)`` per level, arrays ``(lags, labels)``."""
        half = self.nb // 2
        for k in range(self.n_pair):
            lo = 0 if k == 0 else half
            lags = np.arange(lo, self.nb) * 2**k
            yield (
                lags,
                self.G[k, :, lo:].T,
                self.past[k, :, lo:].T,
                self.future[k, :, lo:].T,
                self.count[k, lo:],
            )
        if self.upper is not None:
            for lags, *sums in self.upper.accumulators():
                yield lags * 2**self.n_pair, *sums
