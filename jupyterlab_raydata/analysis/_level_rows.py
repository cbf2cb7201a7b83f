"""Rows of multi-tau levels: which complete and are valid, their pair counts and means (internal).

Shared by the engines of :mod:`._event_multitau` and :mod:`._dense_levels`: the
lag products are theirs, the bookkeeping of rows per level is the same for all.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def row_plan(n_frames, frame_valid, nb, n_plan, n_rows, row_valid):
    """Which rows every level gets from this chunk, and whether each is valid.

    Level 0 gets one row per frame; a row of level ``k + 1`` forms whenever level
    ``k`` completes a pair (at an odd row index), valid if both rows are. Returns
    ``(rows per level, validity (levels, n_frames))``; level ``n_plan - 1`` may be
    the dense level above the event levels.
    """
    counts = np.zeros(n_plan, np.int64)
    valid = np.zeros((n_plan, max(n_frames, 1)), np.bool_)
    total = np.zeros(n_plan, np.int64)
    latest = np.zeros(n_plan, np.bool_)  # validity of each level's latest row
    for k in range(n_rows.size):
        total[k] = n_rows[k]
        if n_rows[k] > 0:
            latest[k] = row_valid[k, (n_rows[k] - 1) % nb]
    for f in range(n_frames):
        v = frame_valid[f]
        k = 0
        while True:
            r = total[k]
            valid[k, counts[k]] = v
            counts[k] += 1
            total[k] += 1
            before = latest[k]
            latest[k] = v
            if r % 2 == 0 or k + 1 >= n_plan:
                break
            v = before and v
            k += 1
    return counts, valid


@njit(nogil=True, cache=True)
def normalise(counts, plan_valid, sums0, nb, n_levels, n_rows, row_valid, rowsum, past, future, count, lo0):
    """Pair counts and mean-intensity sums of the chunk's rows, level by level.

    A row's per-label sum is its events' sum at level 0 and, above, the sum of
    its pair's sums (as the dense engine adds them); lag ``i`` pairs row ``r``
    with row ``r - i`` when both are valid. The first level's lags start at
    ``lo0`` (0 for the correlator's level 0), the others' at ``nb/2``.
    """
    n_lab = rowsum.shape[2]
    sums = sums0
    for k in range(n_levels):
        lo = lo0 if k == 0 else nb // 2
        up = np.zeros((max(counts[k] // 2 + 1, 1), n_lab))
        n_up = 0
        for j in range(counts[k]):
            r = n_rows[k] + j
            s = r % nb
            v = plan_valid[k, j]
            row_valid[k, s] = v
            for lb in range(n_lab):
                rowsum[k, s, lb] = sums[j, lb] if v else 0.0
            if v:
                for i in range(lo, min(nb, r + 1)):
                    sp = (r - i) % nb
                    if row_valid[k, sp]:
                        count[k, i] += 1
                        for lb in range(n_lab):
                            past[k, lb, i] += rowsum[k, sp, lb]
                            future[k, lb, i] += rowsum[k, s, lb]
            if r % 2 == 1:
                sp = (r - 1) % nb
                for lb in range(n_lab):
                    up[n_up, lb] = rowsum[k, sp, lb] + rowsum[k, s, lb]
                n_up += 1
        n_rows[k] += counts[k]
        sums = up


def level_arrays(n_levels: int, nb: int, n_labels: int) -> tuple:
    """Zeroed state of ``n_levels`` levels for :func:`row_plan` and :func:`normalise`, and their lag products.

    Returns ``(n_rows, row_valid, rowsum, G, past, future, count)``: rows each level
    has had, validity and per-label sums of its last ``nb`` rows (row ``r`` in slot
    ``r % nb``), then per level, label and lag the lag products, the sums of the
    earlier and of the later rows' means, and (per lag) the valid pairs.
    """
    return (
        np.zeros(n_levels, np.int64),
        np.zeros((n_levels, nb), np.bool_),
        np.zeros((n_levels, nb, n_labels)),
        np.zeros((n_levels, n_labels, nb)),
        np.zeros((n_levels, n_labels, nb)),
        np.zeros((n_levels, n_labels, nb)),
        np.zeros((n_levels, nb), np.int64),
    )
