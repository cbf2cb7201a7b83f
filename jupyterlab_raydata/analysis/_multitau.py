"""Engine of the streaming multi-tau correlator for one group of labels (internal).

Public entry points live in :mod:`jupyterlab_raydata.analysis.correlation`, whose
module docstring explains the method. Here: a level keeps one buffer of rows
(frames at level 0, sums of ``2^k`` consecutive frames at level ``k``) whose
columns are the group's pixels, label after label, and whose first
``depth = num_bufs - 1`` rows are the already-correlated past. Once enough rows
wait, the products for all lags come from small matrix products of groups of
rows with the rows they reach back to (one batched BLAS call per label, on views
of the buffer), and the rows are summed in pairs into the next level. Everything
else is one numpy call per level for all labels at once: Python overhead holds
the GIL, so fewer calls also let threads run in parallel.

Float32 exactness: for integer data every product is a dot product over the
pixels of one ROI, exact in float32 while its partial sums stay below 2**24.
Each row's sum of squares bounds them (Cauchy-Schwarz). At level 0 it is measured
(the zero-lag products); a pair sum at the next level has at most 4 times the
larger bound of its two rows. A level whose bound passes 2**23 for some label
switches to float64 for good.
"""

from __future__ import annotations

import numpy as np

# Rows correlated per call at level 0: long BLAS calls, buffers that stay in cache.
BLOCK_ROWS = 64
# Fewest rows a coarse level correlates at once (fewer, longer calls).
MIN_ROWS = 16
# Bytes of float64 rows a level waits for at most: wide groups of pixels correlate
# fewer rows per call (their calls are long anyway), so a level's buffer stays small.
LEVEL_BYTES = 16 * 2**20
# Rows per small matrix product in the lag sums (see _lag_products).
SUB_ROWS = 4
# Largest sum of squares of a row for which float32 products of integers are exact.
EXACT_F32 = float(2**23)


def work_dtype(x: np.ndarray, scaled: bool) -> np.dtype:
    """float32 for integer counts that float32 holds exactly, float64 otherwise.

    Whether products stay exact is checked later, from the data (see the module
    docstring); this only guards the conversion itself.
    """
    if scaled or x.dtype.kind not in "uib":
        return np.dtype(np.float64)
    if x.dtype.itemsize >= 4 and x.size:
        largest = max(int(x.max()), -int(x.min()))
        if largest >= 2**24:
            return np.dtype(np.float64)
    return np.dtype(np.float32)


class _Level:
    """One level: a row buffer, float32 exactness bounds, float64 accumulators.

    Buffer rows ``[0, depth)`` are the last rows already correlated; rows
    ``[depth, depth + pending)`` wait until ``threshold`` of them are there.
    """

    def __init__(self, k, lags, n_pixels, n_labels, depth, threshold, capacity, dtype):
        self.k, self.lags, self.depth, self.threshold = k, lags, depth, threshold
        self.capacity = capacity
        # Waiting rows are always written before they are read: no need to zero them.
        self.buf = np.empty((depth + capacity, n_pixels), dtype)
        self.buf[:depth] = 0
        self.square_bound = np.zeros(n_labels)
        self.valid = np.zeros(depth + capacity, bool)
        self.sums = np.zeros((depth + capacity, n_labels))
        self.pending = 0
        # A row waiting for its pair partner: (row, valid, label sums).
        self.carry = None
        shape = (lags.size, n_labels)
        self.G, self.past, self.future = np.zeros(shape), np.zeros(shape), np.zeros(shape)
        self.count = np.zeros(lags.size, np.int64)

    def widen(self, dtype) -> None:
        """Make the buffer at least as wide as ``dtype``, copying only the rows in use."""
        if np.dtype(dtype).itemsize > self.buf.dtype.itemsize:
            live = self.depth + self.pending
            wide = np.empty(self.buf.shape, dtype)
            wide[:live] = self.buf[:live]
            self.buf = wide


class GroupCorrelator:
    """Multi-tau state for a group of labels whose pixels arrive as one matrix.

    Parameters
    ----------
    widths : list of int
        Pixels per label; input columns are label after label.
    num_bufs, num_levels
        As for :class:`~jupyterlab_raydata.analysis.correlation.MultiTauCorrelator`.
    scale : ndarray, optional
        Factors multiplied into the pixels (``1/norm``), one per input column.
    """

    def __init__(self, widths, num_bufs, num_levels, scale=None):
        self.widths = [int(w) for w in widths]
        self.starts = np.concatenate([[0], np.cumsum(self.widths)[:-1]]).astype(np.intp)
        self.n_pixels = int(sum(self.widths))
        self.num_bufs, self.num_levels = num_bufs, num_levels
        self.scale = scale
        self.levels: list[_Level] = []
        self._ones_cache: dict = {}
        self.block = int(np.clip(LEVEL_BYTES // (8 * max(self.n_pixels, 1)), SUB_ROWS, BLOCK_ROWS))

    def update(self, x: np.ndarray, valid: np.ndarray) -> None:
        """Add frames: ``x`` is ``(c, sum(widths))``, ``valid`` flags the good ones."""
        dtype = work_dtype(x, self.scale is not None)
        if not self.levels:
            self.levels.append(self._new_level(0, dtype, None))
        level = self.levels[0]
        level.widen(dtype)
        r0 = 0
        while r0 < x.shape[0]:
            n = min(x.shape[0] - r0, level.threshold - level.pending)
            rows = slice(level.depth + level.pending, level.depth + level.pending + n)
            ok = valid[r0 : r0 + n]
            target = level.buf[rows]
            if self.scale is None:
                target[...] = x[r0 : r0 + n]
            else:
                np.multiply(x[r0 : r0 + n], self.scale, out=target)
            if not ok.all():
                target[~ok] = 0
            level.valid[rows] = ok
            level.pending += n
            r0 += n
            if level.pending == level.threshold:
                self._process(0)

    def flush(self) -> None:
        """Correlate every waiting row (more rows may still be added afterwards)."""
        if self.levels:
            self._process(0, flush=True)

    def accumulators(self):
        """Yield ``(lags in frames, G, past, future, count)`` per level, after :meth:`flush`."""
        for s in self.levels:
            yield s.lags * 2**s.k, s.G, s.past, s.future, s.count

    def _ones(self, n: int, dtype) -> np.ndarray:
        key = (n, np.dtype(dtype))
        if key not in self._ones_cache:
            self._ones_cache[key] = np.ones(n, dtype)
        return self._ones_cache[key]

    def _new_level(self, k: int, dtype, below: _Level | None) -> _Level:
        half = self.num_bufs // 2
        lags = np.arange(self.num_bufs) if k == 0 else np.arange(half, self.num_bufs)
        threshold = max(self.block >> k, min(MIN_ROWS, self.block))
        if below is None:
            capacity = threshold  # level 0 is filled exactly to its threshold
        else:
            # Fewer than `threshold` rows wait when the level below passes up at most
            # half of its capacity, plus a carried row.
            capacity = threshold - 1 + (below.capacity + 1) // 2 + 1
        depth = self.num_bufs - 1
        return _Level(k, lags, self.n_pixels, len(self.widths), depth, threshold, capacity, dtype)

    def _process(self, k: int, flush: bool = False) -> None:
        """Correlate the waiting rows of level ``k`` and pass their pair sums up a level."""
        s = self.levels[k]
        n, depth = s.pending, s.depth
        if n:
            end = depth + n
            s.G += self._lag_products(s, end)
            if k == 0:
                # A matrix-vector product per label is the fastest row sum; exact in
                # float32 too, as |x| <= x² for integers.
                for j, (start, n_pix) in enumerate(zip(self.starts, self.widths, strict=True)):
                    s.sums[depth:end, j] = s.buf[depth:end, start : start + n_pix] @ self._ones(
                        n_pix, s.buf.dtype
                    )
            # Lag i pairs row t with row t - lag_i: index all lags at once.
            earlier = depth - s.lags[:, None] + np.arange(n)[None, :]
            pair = s.valid[depth:end][None, :] & s.valid[earlier]
            s.count += pair.sum(axis=1)
            s.past += np.einsum("ln,lnk->lk", pair, s.sums[earlier])
            s.future += pair @ s.sums[depth:end]
            if self.num_levels is None or k + 1 < self.num_levels:
                self._pair_up(s)
            s.buf[:depth] = s.buf[n:end]
            s.valid[:depth] = s.valid[n:end]
            s.sums[:depth] = s.sums[n:end]
            s.pending = 0
        if k + 1 < len(self.levels):
            up = self.levels[k + 1]
            if flush or up.pending >= up.threshold:
                self._process(k + 1, flush)

    def _lag_products(self, s: _Level, end: int) -> np.ndarray:
        """``Σ_rows Σ_pixels new·lagged`` per lag and label, shape ``(lags, labels)``, float64.

        Rows go in groups of ``SUB_ROWS``: one small matrix product per group against
        the rows its lags reach (a batch of groups per BLAS call) yields every lag at
        once, reading each row once instead of once per lag; leftover rows form one
        smaller group. If a float32 result could have rounded, the level is widened
        to float64 and the products recomputed.
        """
        lo, hi = int(s.lags[0]), int(s.lags[-1])
        if s.buf.dtype == np.float32 and s.square_bound.max() > EXACT_F32:
            s.widen(np.float64)
        while True:
            start = s.depth + (end - s.depth) // SUB_ROWS * SUB_ROWS
            out, zero_lag = self._grouped_products(s.buf, s.depth, start, SUB_ROWS, lo, hi)
            if start < end:
                rest, rest_zero = self._grouped_products(s.buf, start, end, end - start, lo, hi)
                out += rest
                zero_lag = np.maximum(zero_lag, rest_zero)
            if lo == 0:
                np.maximum(s.square_bound, zero_lag, out=s.square_bound)
            if s.buf.dtype != np.float32 or s.square_bound.max() <= EXACT_F32:
                return out.T
            s.widen(np.float64)

    def _grouped_products(self, buf, first, stop, sub, lo, hi):
        """Lag sums over rows ``buf[first:stop]`` taken ``sub`` at a time, per label.

        Returns the sums, shape ``(labels, lags)``, and each label's largest zero-lag
        product (a row's sum of squares) when ``lo == 0``, else zeros.
        """
        n_labels = len(self.widths)
        n_groups = (stop - first) // sub
        if n_groups == 0:
            return np.zeros((n_labels, hi - lo + 1)), np.zeros(n_labels)
        width = sub + hi - lo
        row, item = buf.strides[0], buf.itemsize
        products = np.empty((n_labels, n_groups, sub, width), buf.dtype)
        for j, (start, n_pix) in enumerate(zip(self.starts, self.widths, strict=True)):
            # Views of the buffer (the ndarray constructor is much cheaper than
            # as_strided): the label's columns of each group, and of the overlapping
            # windows of rows the group's lags reach.
            new = np.ndarray(
                (n_groups, sub, n_pix), buf.dtype, buf, first * row + start * item, (sub * row, row, item)
            )
            window = np.ndarray(
                (n_groups, n_pix, width),
                buf.dtype,
                buf,
                (first - hi) * row + start * item,
                (sub * row, item, row),
            )
            np.matmul(new, window, out=products[j])
        # products[j, g, a, c] pairs row a of group g with window row c: lag a + hi - c.
        key = (sub, lo, hi)
        if key not in _INDEX_CACHE:
            a = np.arange(sub)
            _INDEX_CACHE[key] = a[None, :] * width + a[None, :] + hi - np.arange(lo, hi + 1)[:, None]
        index = _INDEX_CACHE[key]
        flat = products.reshape(n_labels, n_groups, sub * width)
        sums = flat[:, :, index].sum(axis=(1, 3), dtype=np.float64)
        zero_lag = flat[:, :, index[0]].max(axis=(1, 2)) if lo == 0 else np.zeros(n_labels)
        return sums, zero_lag

    def _pair_up(self, s: _Level) -> None:
        """Append sums of consecutive waiting rows of ``s`` to the next level.

        Rows pair in order; a row left over waits in ``s.carry`` for the first row
        of the next call. A pair containing a bad row is bad (zero, excluded).
        """
        if len(self.levels) == s.k + 1:
            # Start in float64 where pair sums will certainly need it.
            wide = 4 * s.square_bound.max() > EXACT_F32
            self.levels.append(self._new_level(s.k + 1, np.float64 if wide else s.buf.dtype, s))
        up = self.levels[s.k + 1]
        up.widen(s.buf.dtype)
        # (x + y)² <= 2x² + 2y²: a pair's sum of squares is at most 4 times the larger.
        np.maximum(up.square_bound, 4 * s.square_bound, out=up.square_bound)
        start, end = s.depth, s.depth + s.pending
        dst = up.depth + up.pending
        if s.carry is not None:
            c_row, c_valid, c_sums = s.carry
            ok = c_valid and bool(s.valid[start])
            np.add(c_row, s.buf[start], out=up.buf[dst])
            if not ok:
                up.buf[dst] = 0
            up.valid[dst] = ok
            up.sums[dst] = c_sums + s.sums[start] if ok else 0
            s.carry, start, dst = None, start + 1, dst + 1
        stop = start + (end - start) // 2 * 2
        if stop < end:
            s.carry = (s.buf[stop].copy(), bool(s.valid[stop]), s.sums[stop].copy())
        out = slice(dst, dst + (stop - start) // 2)
        np.add(s.buf[start:stop:2], s.buf[start + 1 : stop : 2], out=up.buf[out])
        np.add(s.sums[start:stop:2], s.sums[start + 1 : stop : 2], out=up.sums[out])
        bad = ~(s.valid[start:stop:2] & s.valid[start + 1 : stop : 2])
        up.valid[out] = ~bad
        if bad.any():
            up.buf[out][bad] = 0
            up.sums[out][bad] = 0
        up.pending = out.stop - up.depth


_INDEX_CACHE: dict = {}
