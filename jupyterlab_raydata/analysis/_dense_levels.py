"""Dense multi-tau levels above the event levels: a ring of rows per pixel (internal; imports numba).

Summed over ``2^k`` frames, multi-tau rows fill up with photons, so the levels
above the event levels (:mod:`._event_pairs`, :mod:`._event_multitau`) are
correlated dense. Each level keeps every column's last ``num_bufs`` rows (row
``r`` in slot ``r % num_bufs``, slot after slot). Rows pass through all levels a
tile of columns at a time: the tile's rings at every level stay in a core's
cache while the rows pass, so a row is read from memory once for all its lags,
its label sums and its half of the next level's row. (The BLAS engine of
:mod:`._multitau`, made for whole frames, reads every row about ten times.) The
pair kernel hands over each tile's rows as it completes them, from its cache.

These levels are never the first: each computes lags ``num_bufs/2 .. num_bufs-1``,
the shorter ones being the level below's.

Exactness: rows, products and sums are float64. For integer counts every value
is an integer below 2**53, so the sums are exact in any order (the lag sums are
vectorised, which reorders them) and equal the other engines' bit for bit. With
``norm`` they agree to rounding.
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import List

from ._level_rows import level_arrays, normalise, row_plan


@njit(nogil=True, cache=True, fastmath={"reassoc", "nsz"})
def feed_tile(t, rows, offset, plan_valid, cuts, seg_lab, tile_seg, nb, n_rows, ring, G, sums0):
    """Put tile ``t``'s part of the first level's new rows through every level, adding lag products.

    Parameters
    ----------
    t : int
        The tile.
    rows : array ``(n, width)``
        The first level's new rows (any dtype): column ``c`` is ``rows[:, c - offset]``.
    offset : int
        Column of ``rows[:, 0]``.
    plan_valid : bool array ``(levels, n)``
        Validity of each level's new rows (from :func:`~._level_rows.row_plan`);
        invalid rows are stored as zeros.
    cuts, seg_lab, tile_seg : int arrays
        Column segments of one label within one tile: segment ``g`` is columns
        ``cuts[g] .. cuts[g + 1] - 1`` of label ``seg_lab[g]``; tile ``t`` holds
        segments ``tile_seg[t] .. tile_seg[t + 1] - 1``.
    nb : int
        ``num_bufs``.
    n_rows : int array
        Rows each level held before this call; its size is the levels in use
        (rows of the top level do not pair up further).
    ring : list of float64 arrays ``(nb, columns)``
        Each level's last ``nb`` rows.
    G : float64 array ``(levels, labels, nb)``
        Lag products, added to.
    sums0 : float64 array ``(n, labels)``
        Label sums of the new first-level rows, added to.
    """
    half = nb // 2
    n_levels = n_rows.size
    done = np.zeros(n_levels, np.int64)  # new rows of each level done
    for j in range(rows.shape[0]):
        k = 0
        r = n_rows[0] + j
        while True:
            valid = plan_valid[k, done[k]]
            done[k] += 1
            level = ring[k]
            row = level[r % nb]
            if k:
                # Level k's row r sums level k - 1's rows 2r and 2r + 1.
                below = ring[k - 1]
                first, second = below[(2 * r) % nb], below[(2 * r + 1) % nb]
            else:
                first = second = row
            for g in range(tile_seg[t], tile_seg[t + 1]):
                # Loops run over views from 0: with no index that could be
                # negative, numba adds no wraparound check and the loops vectorise.
                a, b = cuts[g], cuts[g + 1]
                x = row[a:b]
                if not valid:
                    x[:] = 0.0
                    continue
                if k == 0:
                    src = rows[j, a - offset : b - offset]
                    total = 0.0
                    for c in range(b - a):
                        x[c] = src[c]
                        total += x[c]
                    sums0[j, seg_lab[g]] += total
                else:
                    u, v = first[a:b], second[a:b]
                    for c in range(b - a):
                        x[c] = u[c] + v[c]
                for i in range(half, nb):
                    y = level[(r - i) % nb, a:b]
                    acc = 0.0
                    for c in range(b - a):
                        acc += x[c] * y[c]
                    G[k, seg_lab[g], i] += acc
            if r % 2 == 0 or k + 1 >= n_levels:
                break
            k += 1
            r //= 2


@njit(nogil=True, cache=True)
def feed_rows(rows, plan_valid, cuts, seg_lab, tile_seg, nb, n_rows, ring, G, sums0):
    """:func:`feed_tile` for every tile, with whole rows."""
    for t in range(tile_seg.size - 1):
        feed_tile(t, rows, 0, plan_valid, cuts, seg_lab, tile_seg, nb, n_rows, ring, G, sums0)


def _segments(col_labels: np.ndarray, tile_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut columns where their label changes and at tile edges."""
    n_cols = col_labels.size
    changes = np.flatnonzero(np.diff(col_labels)) + 1
    cuts = np.union1d(np.union1d(changes, tile_edges), [0, n_cols]).astype(np.int64)
    seg_lab = col_labels[cuts[:-1]].astype(np.int64)
    tile_seg = np.searchsorted(cuts, tile_edges).astype(np.int64)
    return cuts, seg_lab, tile_seg


class DenseLevels:
    """Multi-tau levels fed with whole rows of a level above the first, one thread's columns.

    Rows go in whole (:meth:`update`), or tile by tile from a kernel that makes
    them: :meth:`begin` returns the arguments of :func:`feed_tile` after the
    kernel's rows and columns, and :meth:`end` completes the call.

    Parameters
    ----------
    col_labels : array of int
        Label (index into the labels) of each column, in the order of the rows'
        columns. Each run of one label within a tile is a segment of the lag
        sums, so labels listed together within a tile make the longest loops.
    tile_edges : array of int
        First column of each tile, then the number of columns.
    num_bufs : int
        As for the correlator.
    num_levels : int or None
        Levels here (``None``: as many as the rows reach).
    """

    def __init__(self, col_labels, tile_edges, num_bufs: int, num_levels: int | None):
        col_labels = np.asarray(col_labels, np.int64)
        self.n_cols = col_labels.size
        self.n_labels = int(col_labels.max(initial=-1)) + 1
        self.nb, self.num_levels = num_bufs, num_levels
        self.cuts, self.seg_lab, self.tile_seg = _segments(col_labels, np.asarray(tile_edges, np.int64))
        self.rows_seen = 0
        # Each level's last nb rows (row r in slot r % nb): one array per level,
        # so a new level neither copies nor touches the memory of the others.
        self.ring = List.empty_list(types.float64[:, ::1])
        self.state = level_arrays(0, num_bufs, self.n_labels)
        self._call = None  # a call's row counts, validity and label sums, from begin to end

    def _grow(self) -> None:
        """Add the levels the rows seen reach (level ``k`` needs ``2^k`` rows)."""
        n_levels = self.rows_seen.bit_length()
        if self.num_levels is not None:
            n_levels = min(n_levels, self.num_levels)
        while len(self.ring) < n_levels:
            self.ring.append(np.zeros((self.nb, self.n_cols)))
        old = self.state
        if n_levels > old[0].shape[0]:
            new = level_arrays(n_levels, self.nb, self.n_labels)
            for a, b in zip(old, new, strict=True):
                b[: a.shape[0]] = a
            self.state = new

    def begin(self, valid: np.ndarray) -> tuple:
        """Plan ``valid.size`` new rows of the first level (``valid`` flags the good ones).

        Returns the arguments of :func:`feed_tile` that follow ``t, rows, offset``.
        """
        n = valid.size
        self.rows_seen += n
        self._grow()
        n_rows, row_valid, _, G, _, _, _ = self.state
        counts, plan_valid = row_plan(n, valid, self.nb, n_rows.size, n_rows, row_valid)
        sums0 = np.zeros((n, self.n_labels))
        self._call = counts, plan_valid, sums0
        return plan_valid, self.cuts, self.seg_lab, self.tile_seg, self.nb, n_rows, self.ring, G, sums0

    def end(self) -> None:
        """Complete the rows planned by :meth:`begin`: their pair counts and mean intensities."""
        counts, plan_valid, sums0 = self._call
        self._call = None
        n_rows, row_valid, rowsum, _, past, future, count = self.state
        normalise(
            counts, plan_valid, sums0, self.nb, n_rows.size, n_rows, row_valid, rowsum, past, future, count,
            self.nb // 2,
        )  # fmt: skip

    def update(self, rows: np.ndarray, valid: np.ndarray) -> None:
        """Correlate the next rows of the first level (``(n, columns)``; ``valid`` flags the good ones)."""
        if rows.shape[0]:
            feed_rows(rows, *self.begin(valid))
            self.end()

    def accumulators(self):
        """Yield ``(lags in rows, G, past, future, count)`` per level, arrays ``(lags, labels)``."""
        _, _, _, G, past, future, count = self.state
        half = self.nb // 2
        for k in range(G.shape[0]):
            lags = np.arange(half, self.nb) * 2**k
            yield lags, G[k, :, half:].T, past[k, :, half:].T, future[k, :, half:].T, count[k, half:]
