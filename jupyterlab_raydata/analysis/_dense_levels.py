"""Dense multi-tau levels above the event levels: a ring of rows per pixel (internal; imports numba).

Summed over ``2^k`` frames, multi-tau rows fill up with photons, so the levels
above the event levels (:mod:`._event_pairs`, :mod:`._event_multitau`) are
correlated dense. Each level keeps every column's last ``num_bufs`` rows (row
``r`` in slot ``r % num_bufs``, slot after slot). Rows pass through all levels a
tile of :data:`TILE` columns at a time: the tile's rings at every level stay in a
core's cache while the rows pass, so a row is read from memory once for all its
lags, its label sums and its half of the next level's row. (The BLAS engine of
:mod:`._multitau`, made for whole frames, reads every row about ten times.)

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

from ._level_rows import normalise, row_plan

# Columns per tile: the tile's rings at every level (levels · num_bufs · TILE
# float64) stay in a core's L2 cache while a call's rows pass through them.
TILE = 1024


@njit(nogil=True, cache=True, fastmath={"reassoc", "nsz"})
def feed_rows(rows, plan_valid, cuts, seg_lab, tile_seg, nb, n_levels, n_rows, ring, G, sums0):
    """Put rows of the first level through every level, tile by tile, adding their lag products.

    Parameters
    ----------
    rows : array ``(n, columns)``
        The first level's new rows, columns label after label (any dtype).
    plan_valid : bool array ``(n_levels, n)``
        Validity of each level's new rows (from :func:`~._level_rows.row_plan`); invalid rows are
        stored as zeros.
    cuts, seg_lab, tile_seg : int arrays
        Column segments of one label within one tile: segment ``g`` is columns
        ``cuts[g] .. cuts[g + 1] - 1`` of label ``seg_lab[g]``; tile ``t`` holds
        segments ``tile_seg[t] .. tile_seg[t + 1] - 1``.
    nb : int
        ``num_bufs``.
    n_levels : int
        Levels in use (rows of the top level do not pair up further).
    n_rows : int array
        Rows each level held before this call.
    ring : list of float64 arrays ``(nb, columns)``
        Each level's last ``nb`` rows.
    G : float64 array ``(levels, labels, nb)``
        Lag products, added to.
    sums0 : float64 array ``(n, labels)``
        Label sums of the new first-level rows, added to.
    """
    half = nb // 2
    local = np.zeros(n_levels, np.int64)  # rows of each level done in this tile
    for t in range(tile_seg.size - 1):
        local[:] = 0
        for j in range(rows.shape[0]):
            k = 0
            r = n_rows[0] + j
            while True:
                valid = plan_valid[k, local[k]]
                local[k] += 1
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
                        src = rows[j, a:b]
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


def _segments(widths: np.ndarray, n_cols: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cut columns (label after label, ``widths`` per label) at label and tile edges."""
    label_edges = np.concatenate([[0], np.cumsum(widths)])
    cuts = np.union1d(label_edges, np.arange(0, n_cols + 1, TILE)).astype(np.int64)
    cuts = np.append(cuts[cuts < n_cols], n_cols)
    seg_lab = (np.searchsorted(label_edges, cuts[:-1], side="right") - 1).astype(np.int64)
    tile_edges = np.append(np.arange(0, n_cols, TILE), n_cols)
    tile_seg = np.searchsorted(cuts, tile_edges).astype(np.int64)
    return cuts, seg_lab, tile_seg


class DenseLevels:
    """Multi-tau levels fed with whole rows of a level above the first, one thread's columns.

    Parameters
    ----------
    widths : array of int
        Columns per label; rows list their columns label after label.
    num_bufs : int
        As for the correlator.
    num_levels : int or None
        Levels here (``None``: as many as the rows reach).
    """

    def __init__(self, widths, num_bufs: int, num_levels: int | None):
        widths = np.asarray(widths, np.int64)
        self.n_cols = int(widths.sum())
        self.n_labels = widths.size
        self.nb, self.num_levels = num_bufs, num_levels
        self.cuts, self.seg_lab, self.tile_seg = _segments(widths, self.n_cols)
        self.rows_seen = 0
        # Each level's last nb rows (row r in slot r % nb): one array per level,
        # so a new level neither copies nor touches the memory of the others.
        self.ring = List.empty_list(types.float64[:, ::1])
        self.state = self._allocate(0)

    def _allocate(self, n_levels: int) -> tuple:
        nb, n_lab = self.nb, self.n_labels
        return (
            np.zeros(n_levels, np.int64),  # n_rows
            np.zeros((n_levels, nb), np.bool_),  # row_valid: of the last nb rows
            np.zeros((n_levels, nb, n_lab)),  # rowsum: of the last nb rows, per label
            np.zeros((n_levels, n_lab, nb)),  # G
            np.zeros((n_levels, n_lab, nb)),  # past
            np.zeros((n_levels, n_lab, nb)),  # future
            np.zeros((n_levels, nb), np.int64),  # count
        )

    def _grow(self) -> None:
        """Add the levels the rows seen reach (level ``k`` needs ``2^k`` rows)."""
        n_levels = self.rows_seen.bit_length()
        if self.num_levels is not None:
            n_levels = min(n_levels, self.num_levels)
        while len(self.ring) < n_levels:
            self.ring.append(np.zeros((self.nb, self.n_cols)))
        old = self.state
        if n_levels > old[0].shape[0]:
            new = self._allocate(n_levels)
            for a, b in zip(old, new, strict=True):
                b[: a.shape[0]] = a
            self.state = new

    def update(self, rows: np.ndarray, valid: np.ndarray) -> None:
        """Correlate the next rows of the first level (``(n, columns)``; ``valid`` flags the good ones)."""
        n = rows.shape[0]
        if n == 0:
            return
        self.rows_seen += n
        self._grow()
        n_rows, row_valid, rowsum, G, past, future, count = self.state
        n_levels = n_rows.size
        counts, plan_valid = row_plan(n, valid, self.nb, n_levels, n_rows, row_valid)
        sums0 = np.zeros((n, self.n_labels))
        segments = self.cuts, self.seg_lab, self.tile_seg
        feed_rows(rows, plan_valid, *segments, self.nb, n_levels, n_rows, self.ring, G, sums0)
        normalise(
            counts, plan_valid, sums0, self.nb, n_levels, n_rows, row_valid, rowsum, past, future, count,
            self.nb // 2,
        )  # fmt: skip

    def accumulators(self):
        """Yield ``(lags in rows, G, past, future, count)`` per level, arrays ``(lags, labels)``."""
        _, _, _, G, past, future, count = self.state
        half = self.nb // 2
        for k in range(G.shape[0]):
            lags = np.arange(half, self.nb) * 2**k
            yield lags, G[k, :, half:].T, past[k, :, half:].T, future[k, :, half:].T, count[k, half:]
