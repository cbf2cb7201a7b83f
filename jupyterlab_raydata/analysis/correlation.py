"""Intensity time correlation: multi-tau one-time g2 and two-time C(t1, t2).

Design. The pixels of every ROI are gathered once per block of frames into a
matrix (frames by pixels, ROI after ROI), so all further work is a few long BLAS
calls per ROI instead of scikit-beam's Python loop over frames, lags and levels:

* **multi-tau**: the sum a multi-tau correlator accumulates for lag ``i``,
  ``Σ_t Σ_p x[t,p]·x[t-i,p]``, is a diagonal of the Gram matrix of the rows. Small
  matrix products of groups of rows with the rows they reach back to give all
  lags at once (see :mod:`._multitau`). Coarser levels hold sums of consecutive
  pairs of rows and are correlated the same way. Everything streams: a level
  keeps only its last ``num_bufs - 1`` rows. The pixels are split into equal
  shares, one per thread (numpy releases the GIL); an ROI cut between two shares
  is recombined exactly, as every accumulated quantity is a sum over pixels. BLAS
  itself is kept single-threaded meanwhile, so the many short calls do not
  oversubscribe the cores.
* **two-time**: ``X_l·X_lᵀ`` per ROI (one matrix product, multi-threaded BLAS),
  normalised by the outer product of the per-frame mean intensities.

Photon events. XPCS frames are mostly empty, and a pixel without a photon adds
nothing to any product. The event paths work on photons (per frame: pixel index
and count, :mod:`.compress`), so their cost follows the photons, not the pixels:

* **multi-tau** (:mod:`._event_pairs`, :mod:`._event_multitau`): a level's lag
  products are sums over pairs of photons at the same pixel whose rows are the
  lag apart, so the first levels are summed over photon pairs, all at once, from
  the photons of each pixel within the reach of the coarsest of them
  (:data:`PAIR_LIMIT`). Summing ``2^k`` frames fills rows up: further event
  levels re-bin rows (each photon reads its pixel's last ``num_bufs`` rows from a
  ring buffer), and levels go dense where their measured occupancy passes
  :data:`EVENT_OCCUPANCY_LIMIT` (:mod:`._dense_levels`: every pixel's last rows
  per level, a tile of pixels through all levels at a time, fed tile by tile
  from the pair kernel's cache).
* **two-time** (:mod:`._event_twotime`): sums of products of photon pairs at the
  same pixel; the work grows with the square of the occupancy, so the dense
  product wins sooner (:data:`TWO_TIME_EVENT_LIMIT`).

``method="auto"`` (the default everywhere) measures the occupancy of the first
chunk of frames and chooses; ``"events"`` and ``"dense"`` force either. Both give
the same numbers: exactly for integer counts, to rounding with ``norm``.

Exactness. Photon counts are integers, and integer products and sums are exact in
float32 while every partial sum stays below 2²⁴. A row's sum of squares bounds
the partial sums of its products (Cauchy-Schwarz), so these bounds are tracked
and a level (or a two-time map) falls back to float64 when they could exceed 2²³,
and for non-integer data. Accumulators are float64, so the results equal a
float64 computation to rounding (~1e-15 relative), the basis for comparing with
scikit-beam and pyCHX.

Normalisation. ``g2(τ) = <I(t)·I(t+τ)> / (<I(t)>·<I(t+τ)>)`` with the symmetric
normalisation of Lumma et al. (Rev. Sci. Instrum. 71, 3274, 2000): numerator and
both mean intensities are averaged over the same pixels and the same valid frame
pairs. By default (``norm=None``) pixels are used as recorded, exactly as
scikit-beam's ``multi_tau_auto_corr`` and pyCHX's ``cal_g2c`` without ``norm``.
That is the default because it needs no model of the intensity and reproduces
the reference libraries. If the mean intensity varies across an ROI (a steep
I(q) across a wide ring), the baseline then rises above 1 by ``<μ²>/<μ>²`` over
the ROI's pixels; pass ``norm``, a smooth model of the mean intensity at each
pixel (e.g. :func:`jupyterlab_raydata.analysis.preprocess.smooth_iq_map`), and
each pixel is divided by it before correlating, as pyCHX does with its ``norm``.

Bad frames are skipped, never zero-filled: a pair involving a bad frame is left
out of every average, and at coarser multi-tau levels a pair containing a bad
frame is itself bad (as in scikit-beam and pyCHX, where bad frames are NaN). In
the two-time map their rows and columns are NaN.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._multitau import BLOCK_ROWS, EXACT_F32, GroupCorrelator, work_dtype
from .compress import CompressedFrames, dense_events, iter_frames_or_events
from .frames import PixelSelection, valid_frames
from .threads import limit_blas, thread_budget

__all__ = [
    "MultiTauCorrelator",
    "MultiTauResult",
    "OneTimeResult",
    "multi_tau",
    "multi_tau_lags",
    "one_time_from_two_time",
    "two_time",
]


class MultiTauResult(NamedTuple):
    """Multi-tau g2; unpacks as ``lags, g2`` (scikit-beam returns ``g2, lags``: use the names)."""

    #: Lag steps in frames (multiply by the frame period for seconds).
    lags: np.ndarray
    #: ``(len(lags), n_labels)``: one column per distinct non-zero label, ascending.
    g2: np.ndarray


class OneTimeResult(NamedTuple):
    """One-time g2 from a two-time map; unpacks as ``lags, g2``."""

    #: ``0 .. max_lag`` in frames.
    lags: np.ndarray
    #: ``(len(lags), n_labels)``, the layout of :attr:`MultiTauResult.g2`.
    g2: np.ndarray


#: ``method`` values of the correlators.
METHODS = ("auto", "events", "dense")

#: Largest occupancy of the labelled pixels (photons per pixel and frame) at which
#: :func:`two_time` sums photon pairs rather than multiplying pixel matrices.
#: Measured with ``benchmarks/bench_sparse.py`` (see the README).
TWO_TIME_EVENT_LIMIT = 0.03

#: Largest occupancy (fraction of labelled pixels with a photon, in one row of a
#: multi-tau level) at which that level is correlated from photon events; denser
#: levels go dense. Measured with ``benchmarks/bench_sparse.py`` (Eiger-1M
#: frames, 8 rings, levels from photon pairs): at 2 % occupancy 0.25 (four
#: levels from pairs) and 0.4 (five) run at one speed, 0.12 (three) is slower;
#: at 10 % 0.4 is no faster, and 0.12 (all dense) is 3-4x slower.
EVENT_OCCUPANCY_LIMIT = 0.25

#: Most photon pairs per pixel and frame (photons at one pixel within the frames a
#: level's lags reach, each pair counted from both ends, measured on the first
#: frames) at which a level is summed over photon pairs; above it the level and
#: those above go dense. Measured: on the real-size Eiger-1M run of
#: ``benchmarks/bench_realtime.py`` (2 % occupancy under a steep I(q), 16 rings over
#: the detector) dense is faster at a level with 0.47 pairs, pairs at 0.23; on the
#: matrix's 10 % Eiger-1M speckle (``bench_correlation.py --matrix``) pairs are
#: faster at 0.34.
DENSE_PAIR_LIMIT = 0.4

#: Rows, in buffers' worth (``num_bufs`` rows), that a series must bring to its first
#: level full enough for the dense engine before ``method="auto"`` runs that level
#: and those above dense: in fewer, setting up every pixel's buffers costs more
#: than correlating the level's photons (``benchmarks/bench_correlation.py --matrix``).
DENSE_LEVEL_ROWS = 2

#: Frames on which :class:`MultiTauCorrelator` with ``method="auto"`` measures the
#: occupancy of each level (their sums, at coarser levels, and at least two sums):
#: enough pixels for a fraction to a few per mille, at a cost that does not grow
#: with the series.
OCCUPANCY_PROBE_FRAMES = 16

#: ROI pixels on which that occupancy is measured (those of every few detector rows, an
#: even sample of the detector): a fraction's error stays under a few per mille.
OCCUPANCY_SAMPLE_PIXELS = 65536

#: Columns (pixels of one ROI) that dense :func:`two_time` turns into floats and
#: multiplies at a time; the block's products add up to the ROI's, so a wide ROI
#: never needs a float copy of all its pixels over all frames.
GRAM_COLUMNS = 16384

#: Most photon partners (photons at the same pixel that a multi-tau level pairs it
#: with, on average) for which a level's lag products are summed over photon
#: pairs; the event levels above are correlated from re-binned rows. Measured
#: with ``benchmarks/bench_sparse.py``.
PAIR_LIMIT = 4.0


def multi_tau_lags(num_bufs: int, num_levels: int) -> np.ndarray:
    """Lag steps (in frames) of a multi-tau correlator, as in scikit-beam.

    Level 0 has lags ``0 .. num_bufs-1``; level ``k >= 1`` has
    ``(num_bufs/2 .. num_bufs-1) * 2**k``.

    Parameters
    ----------
    num_bufs : int
        Buffers per level, even.
    num_levels : int
        Number of levels.
    """
    _check_bufs(num_bufs)
    lags = [np.arange(num_bufs)]
    for k in range(1, num_levels):
        lags.append(np.arange(num_bufs // 2, num_bufs) * 2**k)
    return np.concatenate(lags)


def _check_bufs(num_bufs):
    if num_bufs < 2 or num_bufs % 2:
        raise ValueError(f"num_bufs must be an even number >= 2, got {num_bufs}")


def _pixel_scale(norm, selection: PixelSelection) -> np.ndarray | None:
    """Factors ``1/norm`` for the selected pixels (in selection order), or None."""
    if norm is None:
        return None
    norm = np.asarray(norm, dtype=np.float64)
    if norm.shape != selection.shape:
        raise ValueError(f"norm shape {norm.shape} does not match labels shape {selection.shape}")
    values = norm.ravel()[selection.index]
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError("norm must be finite and positive on every labelled pixel")
    return 1.0 / values


@dataclass
class _Share:
    """A thread's share of the selected pixels: whole ROIs or parts of them.

    Products and sums are sums over pixels, so an ROI split between shares is
    recombined exactly by adding the shares' accumulators.
    """

    cols: slice
    index: np.ndarray
    labels: np.ndarray  # result column of each (part of an) ROI in this share
    engine: GroupCorrelator
    # Reused gather buffer: a fresh one per block would cost page faults each time.
    scratch: np.ndarray | None = None

    def feed_frames(self, flat: np.ndarray, valid: np.ndarray) -> None:
        """Gather this share's pixels from raw frames block by block and correlate them."""
        if self.scratch is None or self.scratch.dtype != flat.dtype:
            self.scratch = np.empty((BLOCK_ROWS, self.index.size), flat.dtype)
        for r0 in range(0, flat.shape[0], BLOCK_ROWS):
            block = flat[r0 : r0 + BLOCK_ROWS]
            x = self.scratch[: block.shape[0]]
            # mode="clip" skips per-element bounds checks; indices are valid by construction.
            np.take(block, self.index, axis=1, mode="clip", out=x)
            self.engine.update(x, valid[r0 : r0 + BLOCK_ROWS])

    def flush(self) -> None:
        self.engine.flush()

    def accumulators(self):
        return self.engine.accumulators()


def _shares(selection: PixelSelection, n: int, num_bufs, num_levels, scale) -> list[_Share]:
    """Split the selected pixels (label by label) into ``n`` equal contiguous shares."""
    total = int(selection.bounds[-1])
    cuts = np.unique(np.linspace(0, total, max(1, min(n, total)) + 1).round().astype(np.intp))
    shares = []
    for a, b in itertools.pairwise(cuts):
        first = np.searchsorted(selection.bounds, a, side="right") - 1
        last = np.searchsorted(selection.bounds, b, side="left")
        labels = np.arange(first, last)
        edges = np.clip(selection.bounds[first : last + 1], a, b)
        engine = GroupCorrelator(np.diff(edges), num_bufs, num_levels, None if scale is None else scale[a:b])
        shares.append(_Share(slice(int(a), int(b)), selection.index[a:b], labels, engine))
    return shares


class _PixelOrder:
    """The selected pixels in detector order, for the event engines.

    Attributes
    ----------
    pixels : ndarray of intp
        Selected pixels, ascending.
    label_index : ndarray of intp
        Result column (label index) of each.
    col_of : ndarray of int32, shape ``(H * W,)``
        Position of a pixel in ``pixels``, -1 if not selected.
    scale_of : ndarray of float64, shape ``(H * W,)``, or empty
        ``1/norm`` of each selected pixel (0 elsewhere); empty without ``norm``.
    """

    def __init__(self, selection: PixelSelection, scale):
        order = np.argsort(selection.index, kind="stable")
        self.pixels = selection.index[order]
        self.label_index = np.repeat(np.arange(selection.n_labels), selection.n_pixels)[order]
        size = selection.shape[0] * selection.shape[1]
        self.col_of = np.full(size, -1, np.int32)
        self.col_of[self.pixels] = np.arange(self.pixels.size, dtype=np.int32)
        self.scale_of = np.zeros(0 if scale is None else size)
        if scale is not None:
            self.scale_of[self.pixels] = scale[order]
        self.width = selection.shape[1]

    @functools.cached_property
    def sampled_rows(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The selected pixels of every ``step``-th detector row, :data:`OCCUPANCY_SAMPLE_PIXELS` or
        more of them.

        Returns ``(pixels, col_of, step)``: ``col_of`` numbers those ``pixels``
        ``0, 1, …`` (-1 elsewhere); ``step`` is 1 (all of them, and ``col_of`` this
        order's) when there are no more than that in all, or too few in every
        spread of rows.
        """
        target = OCCUPANCY_SAMPLE_PIXELS
        rows = self.pixels // self.width
        step = max(1, self.pixels.size // target)
        while step > 1 and np.count_nonzero(rows % step == 0) < target // 2:
            step //= 2
        if step == 1:
            return self.pixels, self.col_of, 1
        sampled = self.pixels[rows % step == 0]
        col_of = np.full(self.col_of.size, -1, np.int32)
        col_of[sampled] = np.arange(sampled.size, dtype=np.int32)
        return sampled, col_of, step


def _kernel_values(values: np.ndarray) -> np.ndarray:
    """Event values as recorded where the compiled kernels take their dtype, else float64."""
    kind, size = values.dtype.kind, values.dtype.itemsize
    if kind not in "uif" or size not in (1, 2, 4, 8) or values.dtype == np.float16:
        return values.astype(np.float64)
    return values


class MultiTauCorrelator:
    """Streaming multi-tau correlator: feed consecutive frames, read g2 at any time.

    Parameters
    ----------
    labels : array_like of int, shape ``(H, W)``
        ROI labels, 0 = not used. Results have one column per distinct non-zero
        label, in ascending label order.
    num_bufs : int
        Buffers per level (even); level 0 has lags ``0 .. num_bufs-1``.
    num_levels : int, optional
        Number of levels; ``None`` adds levels as long as the data reach them.
    norm : array_like, shape ``(H, W)``, optional
        Per-pixel normalisation (see the module docstring); ``None`` = none.
    mask : array_like of bool, shape ``(H, W)``, optional
        True for good pixels; masked pixels are excluded from every label.
    workers : int, optional
        Threads, each correlating an equal share of the pixels; default
        :func:`~jupyterlab_raydata.analysis.threads.thread_budget`.
    method : {"auto", "events", "dense"}
        ``"events"`` correlates photon events (cost follows the photons),
        ``"dense"`` pixel matrices (cost follows the pixels); ``"auto"`` measures
        the occupancy of the first frames it is given and runs the levels sparse
        enough from events and the rest dense (see :data:`EVENT_OCCUPANCY_LIMIT`
        and :data:`DENSE_PAIR_LIMIT`).
        All three give the same result (to rounding).
    length : int, optional
        Frames the whole series will have, if known (:func:`multi_tau` passes it):
        with ``method="auto"``, a series too short to fill the dense levels'
        buffers (:data:`DENSE_LEVEL_ROWS`) runs from photon events throughout.

    Attributes
    ----------
    path : {"events", "dense"} or None
        The engine in use, once the first frames are in.
    event_levels : int or None
        With ``path == "events"``: levels computed from events before the dense
        engine takes over (``None``: all of them).
    occupancy : ndarray or None
        With ``method="auto"``: the measured fraction of labelled pixels with a
        photon in sums of 1, 2, 4, … frames, each from the first sums of the
        first chunk (NaN where it was too short to tell; only the first, from
        :data:`OCCUPANCY_PROBE_FRAMES` frames, when dense frames are too full
        for events already there).
    pairs : ndarray or None
        With ``method="auto"`` on photon events: the measured pairs of photons at
        one pixel within those sums, per pixel and frame (see
        :data:`DENSE_PAIR_LIMIT`).

    Notes
    -----
    :func:`multi_tau` wraps this class for a whole series. Use it directly to show
    partial results while data arrive::

        corr = MultiTauCorrelator(labels)
        for t0, chunk in iter_chunks(frames):
            corr.update(chunk, bad_frames=bad)
            lags, g2 = corr.result()
    """

    def __init__(
        self,
        labels,
        num_bufs: int = 8,
        num_levels: int | None = None,
        norm=None,
        mask=None,
        workers: int | None = None,
        *,
        method: str = "auto",
        length: int | None = None,
    ):
        _check_bufs(num_bufs)
        if num_levels is not None and num_levels < 1:
            raise ValueError(f"num_levels must be >= 1, got {num_levels}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.selection = PixelSelection.from_labels(labels, mask)
        self.workers = max(1, workers or thread_budget())
        self.num_bufs, self.num_levels, self.method = num_bufs, num_levels, method
        self.length = length
        self._scale = _pixel_scale(norm, self.selection)
        self._order: _PixelOrder | None = None
        self._shares: list | None = None
        self.path: str | None = None
        self.event_levels: int | None = None
        self.pair_levels: int | None = None
        # The running count of bad frames (entry t: bad frames before frame t;
        # entries past the frames seen are unused).
        self._bad_cum = np.zeros(1, np.int64)
        self.occupancy: np.ndarray | None = None
        self.pairs: np.ndarray | None = None
        self.frames_seen = 0
        if method == "dense":
            self._use_dense()

    @property
    def labels(self) -> np.ndarray:
        """Label values, one per result column."""
        return self.selection.labels

    def update(self, frames, *, bad_frames=None, chunk_size: int | None = None) -> None:
        """Correlate the next frames of the series.

        Parameters
        ----------
        frames : ndarray ``(c, H, W)`` or any input of :func:`multi_tau`
            Frames following those already seen.
        bad_frames : optional
            Bad frames of the whole series (indices counted from the first frame
            ever passed), as for :func:`multi_tau`.
        chunk_size : int, optional
            Frames read at a time.
        """
        with _thread_pool(self.workers) as pool:
            for dense, events in self._chunks(frames, chunk_size):
                if self.path is None:
                    if events is None and self._dense_from_first_frames(dense, pool):
                        self._use_dense()
                    else:
                        events = events if events is not None else self._events_of(dense, pool)
                        self._choose_path(events)
                if self.path == "events":
                    events = events if events is not None else self._events_of(dense, pool)
                    self._feed_events(events, bad_frames, pool)
                elif events is not None:
                    for _, x in events.gather_pixels(self.selection):
                        self._feed_pixels(x, bad_frames, pool)
                else:
                    flat = dense.reshape(dense.shape[0], -1)
                    valid = self._next_valid(flat.shape[0], bad_frames)
                    self._run(lambda share, flat=flat, valid=valid: share.feed_frames(flat, valid), pool)

    def update_pixels(self, x: np.ndarray, *, bad_frames=None) -> None:
        """Like :meth:`update`, for pixels gathered with ``self.selection`` (``(c, n_pixels)``)."""
        with _thread_pool(self.workers) as pool:
            if self.path is None:
                self._choose_path(self._events_of_pixels(x))
            self._feed_pixels(x, bad_frames, pool)

    def result(self) -> MultiTauResult:
        """Normalised correlation of the frames seen so far.

        Waiting rows are correlated first, so this may be called at any time.

        Returns
        -------
        MultiTauResult
            ``lags`` in frames (lags with no valid frame pair are left out) and
            ``g2``, shape ``(len(lags), n_labels)``, NaN where an ROI received no
            photons.
        """
        n_labels = self.selection.n_labels
        if self._shares is None:
            return MultiTauResult(np.zeros(0, int), np.zeros((0, n_labels)))
        self._run(lambda share: share.flush())
        lags, g2 = [], []
        for level in zip(*(share.accumulators() for share in self._shares), strict=True):
            level_lags, count = level[0][0], level[0][4]
            totals = [np.zeros((count.size, n_labels)) for _ in range(3)]
            for share, (_, *parts, _) in zip(self._shares, level, strict=True):
                for total, part in zip(totals, parts, strict=True):
                    total[:, share.labels] += part
            G, past, future = totals
            keep = count > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                g = G[keep] * count[keep, None] * self.selection.n_pixels / (past[keep] * future[keep])
            g2.append(np.where(np.isfinite(g), g, np.nan))
            lags.append(level_lags[keep])
        if not lags:
            return MultiTauResult(np.zeros(0, int), np.zeros((0, n_labels)))
        return MultiTauResult(np.concatenate(lags), np.concatenate(g2))

    # -- engines ---------------------------------------------------------------------

    def _use_dense(self) -> None:
        self.path = "dense"
        self._shares = _shares(self.selection, self.workers, self.num_bufs, self.num_levels, self._scale)

    def _use_events(self, event_levels: int | None, pair_levels: int) -> None:
        from ._event_multitau import EventShare

        self.path, self.event_levels = "events", event_levels
        order = self._pixel_order()
        n = order.pixels.size
        cuts = np.unique(np.linspace(0, n, max(1, min(self.workers, n)) + 1).round().astype(np.intp))
        self._shares = [
            EventShare(
                order.pixels[a:b],
                int(a),
                order.label_index[a:b],
                self.num_bufs,
                self.num_levels,
                event_levels,
                pair_levels,
            )
            for a, b in itertools.pairwise(cuts)
        ]
        self.pair_levels = self._shares[0].n_pair

    def _pixel_order(self) -> _PixelOrder:
        if self._order is None:
            self._order = _PixelOrder(self.selection, self._scale)
        return self._order

    def _choose_path(self, events) -> None:
        """Pick the engine from the first events (``method="auto"``) or as asked."""
        from ._event_multitau import block_occupancy, plan_event_levels
        from ._event_pairs import pair_levels

        order = self._pixel_order()
        # Levels measured: those the series reaches with rows enough for the dense engine,
        # and the sums of frames a pair level's photons reach back over.
        rows = max(
            len(events) if self.length is None else self.length // (DENSE_LEVEL_ROWS * self.num_bufs), 1
        )
        window = (self.num_bufs - 1).bit_length()  # a pair level k pairs photons up to nb·2^k frames apart
        max_level = 0 if self.method == "events" else rows.bit_length() - 1 + window
        sampled, col_of, row_step = order.sampled_rows
        self.occupancy, self.pairs = block_occupancy(
            events.indptr,
            events.indices,
            col_of,
            sampled.size,
            max_level,
            OCCUPANCY_PROBE_FRAMES,
            self.selection.shape[1],
            row_step,
        )
        occupancy0 = float(self.occupancy[0]) if np.isfinite(self.occupancy[0]) else 0.0
        n_pair = pair_levels(occupancy0, self.num_bufs, PAIR_LIMIT)
        if self.method == "events":
            self._use_events(None, n_pair)
            return
        first_dense = plan_event_levels(
            self.occupancy, self.pairs, n_pair, window, EVENT_OCCUPANCY_LIMIT, DENSE_PAIR_LIMIT
        )
        if self.num_levels is not None and first_dense >= self.num_levels:
            first_dense = None  # every level the correlator has is sparse enough
        elif (
            first_dense
            and self.length is not None
            and self.length >> first_dense < DENSE_LEVEL_ROWS * self.num_bufs
        ):
            first_dense = None  # too few rows there to pay for every pixel's buffers
        if first_dense == 0:
            self._use_dense()
        else:
            self._use_events(first_dense, n_pair)

    def _dense_from_first_frames(self, dense, pool) -> bool:
        """Whether dense frames are too full for photon events already in their first frames.

        Then the frames need not be turned into events only to be told so.
        """
        if self.method != "auto":
            return False
        first = dense[:OCCUPANCY_PROBE_FRAMES].reshape(min(len(dense), OCCUPANCY_PROBE_FRAMES), -1)
        pixels = first[:, self._pixel_order().sampled_rows[0]]
        self.occupancy = np.array([np.count_nonzero(pixels) / max(pixels.size, 1)])
        return bool(self.occupancy[0] > EVENT_OCCUPANCY_LIMIT)

    def _chunks(self, frames, chunk_size):
        """``(dense, None)`` or ``(None, events)`` per chunk of frames, whichever the input holds."""
        for _, dense, events in iter_frames_or_events(frames, chunk_size, workers=self.workers):
            shape = events.frame_shape if dense is None else dense.shape[1:]
            if tuple(shape) != self.selection.shape:
                raise ValueError(f"frame shape {tuple(shape)} does not match labels {self.selection.shape}")
            yield dense, events

    def _events_of(self, dense, pool):
        return dense_events(dense, pool=pool, threads=self.workers)

    def _events_of_pixels(self, x: np.ndarray):
        """Gathered pixels ``(c, n_selected)`` (selection order) as photon events."""
        rows, cols = np.nonzero(x)
        pixels = self.selection.index[cols]
        order = np.lexsort((pixels, rows))
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=x.shape[0]))])
        return CompressedFrames(indptr, pixels[order], x[rows, cols][order], self.selection.shape)

    def _feed_events(self, events, bad_frames, pool) -> None:
        from ._event_pairs import check_ascending

        cs = self.frames_seen
        valid = self._next_valid(len(events), bad_frames)
        ce = self.frames_seen
        # Checked before any share changes, each thread a range of the frames.
        cuts = np.linspace(0, len(events), self.workers + 1).round().astype(np.intp)
        ranges = [events.indptr[a : b + 1] for a, b in itertools.pairwise(cuts)]
        check = functools.partial(check_ascending, pixels=events.indices)
        if not all(pool.map(check, ranges) if pool is not None else map(check, ranges)):
            raise ValueError("photon events must have strictly ascending pixel indices within a frame")
        order = self._pixel_order()
        # Values as recorded (the kernel multiplies 1/norm in); photons outside the
        # ROIs are skipped by the one thread whose pixel range they fall in.
        values = _kernel_values(events.values)
        integer = events.values.dtype.kind in "uib" and self._scale is None
        if self._bad_cum.size < ce + 1:  # grown by doubling: a long series is not copied per chunk
            grown = np.zeros(max(ce + 1, 2 * self._bad_cum.size), np.int64)
            grown[: cs + 1] = self._bad_cum[: cs + 1]
            self._bad_cum = grown
        self._bad_cum[cs + 1 : ce + 1] = self._bad_cum[cs] + np.cumsum(~valid)
        bad_cum = self._bad_cum
        self._run(
            lambda share: share.feed(
                events.indptr, events.indices, values, cs, ce, bad_cum, order.col_of, order.scale_of, integer
            ),
            pool,
        )

    def _feed_pixels(self, x: np.ndarray, bad_frames, pool) -> None:
        if self.path == "events":
            self._feed_events(self._events_of_pixels(x), bad_frames, pool)
            return
        valid = self._next_valid(x.shape[0], bad_frames)
        self._run(lambda share: share.engine.update(x[:, share.cols], valid), pool)

    def _next_valid(self, n: int, bad_frames) -> np.ndarray:
        valid = valid_frames(bad_frames, self.frames_seen, self.frames_seen + n)
        self.frames_seen += n
        return valid

    def _run(self, task, pool=None) -> None:
        """Apply ``task`` to every share, one thread each, BLAS limited to one thread."""
        with limit_blas(1):
            if len(self._shares) == 1:
                task(self._shares[0])
                return
            with (
                contextlib.nullcontext(pool)
                if pool is not None
                else ThreadPoolExecutor(len(self._shares)) as p
            ):
                for future in [p.submit(task, share) for share in self._shares]:
                    future.result()


def _thread_pool(workers: int):
    """A pool of ``workers`` threads, or nothing to enter for one."""
    return ThreadPoolExecutor(workers) if workers > 1 else contextlib.nullcontext()


def multi_tau(
    frames,
    labels,
    num_bufs: int = 8,
    num_levels: int | None = None,
    bad_frames=None,
    norm=None,
    *,
    mask=None,
    chunk_size: int | None = None,
    workers: int | None = None,
    method: str = "auto",
) -> MultiTauResult:
    """Multi-tau one-time intensity autocorrelation g2 per ROI.

    Same lags and normalisation as scikit-beam's
    ``skbeam.core.correlation.multi_tau_auto_corr(num_levels, num_bufs, labels, images)``
    (and pyCHX's ``cal_g2c``), so results agree on identical input; see the module
    docstring for the method and the normalisation.

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` frames, any input of :mod:`~jupyterlab_raydata.analysis.frames`;
        streamed in chunks.
    labels : array_like of int, shape ``(H, W)``
        ROI labels, 0 = not used (e.g. from :mod:`~jupyterlab_raydata.analysis.rois`).
    num_bufs : int
        Buffers per level (even).
    num_levels : int, optional
        Number of levels. ``None`` uses every level the data reach, i.e. up to lags
        of about ``T``.
    bad_frames : sequence of int or boolean array, optional
        Frames to skip (see :func:`~jupyterlab_raydata.analysis.frames.valid_frames`).
    norm : array_like, shape ``(H, W)``, optional
        Per-pixel normalisation, e.g. a smooth I(q) map; default ``None`` (plain
        symmetric normalisation, identical to scikit-beam).
    mask : array_like of bool, optional
        True for good pixels; masked pixels are excluded.
    chunk_size : int, optional
        Frames read from ``frames`` at a time.
    workers : int, optional
        Threads; default :func:`~jupyterlab_raydata.analysis.threads.thread_budget`.
    method : {"auto", "events", "dense"}
        Correlate photon events or pixel matrices; ``"auto"`` (default) chooses
        from the measured occupancy, level by level (see
        :class:`MultiTauCorrelator`). The result is the same.

    Returns
    -------
    MultiTauResult
        ``lags`` in frames (multiply by the frame period for seconds) and ``g2``,
        shape ``(len(lags), n_labels)``, one column per distinct non-zero label,
        ascending. Unpacks as ``lags, g2``.
    """
    corr = MultiTauCorrelator(
        labels,
        num_bufs,
        num_levels,
        norm=norm,
        mask=mask,
        workers=workers,
        method=method,
        length=len(frames) if hasattr(frames, "__len__") else None,
    )
    corr.update(frames, bad_frames=bad_frames, chunk_size=chunk_size)
    return corr.result()


def two_time(
    frames,
    labels,
    bad_frames=None,
    norm=None,
    *,
    mask=None,
    chunk_size: int | None = None,
    workers: int | None = None,
    method: str = "auto",
    dtype=np.float32,
) -> np.ndarray:
    """Two-time correlation ``C(t1, t2) = <I(t1)·I(t2)> / (<I(t1)>·<I(t2)>)`` per ROI.

    Averages ``<…>`` run over the pixels of each ROI. Same definition as
    scikit-beam's ``two_time_corr`` with ``num_bufs = T`` and one level.

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` frames; streamed in chunks.
    labels : array_like of int, shape ``(H, W)``
        ROI labels, 0 = not used.
    bad_frames : sequence of int or boolean array, optional
        Frames whose rows and columns are NaN in the result.
    norm : array_like, shape ``(H, W)``, optional
        Per-pixel normalisation, as for :func:`multi_tau`.
    mask : array_like of bool, optional
        True for good pixels.
    chunk_size : int, optional
        Frames read at a time.
    workers : int, optional
        Threads; default :func:`~jupyterlab_raydata.analysis.threads.thread_budget`.
    method : {"auto", "events", "dense"}
        ``"events"`` sums products of photon pairs at the same pixel (cost grows
        with the square of the occupancy), ``"dense"`` multiplies pixel matrices
        (cost grows with the pixels); ``"auto"`` picks events when the labelled
        pixels' occupancy in the first chunk is at most
        :data:`TWO_TIME_EVENT_LIMIT`. The result is the same.
    dtype : numpy dtype
        Of the result; float32 keeps 7 significant digits, far more than the
        statistical precision of any two-time map, at half the memory.

    Returns
    -------
    ndarray, shape ``(n_labels, T, T)``
        Symmetric.

    Notes
    -----
    Memory: the result (``itemsize * n_labels * T**2`` bytes), plus the labelled
    pixels of all frames in their native dtype (dense path from frames) or their
    photons (events, and the dense path from events, which expands a block of
    :data:`GRAM_COLUMNS` columns at a time); full frames are never all in memory.
    The dense path computes each map block by block as matrix products, in
    float32 where that is exact.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    selection = PixelSelection.from_labels(labels, mask)
    scale = _pixel_scale(norm, selection)
    threads = max(1, workers or thread_budget())
    chunks = iter_frames_or_events(frames, chunk_size, workers=threads)
    first = next(chunks, None)
    if first is None:
        return np.zeros((selection.n_labels, 0, 0), dtype)
    _, dense, events = first
    shape = dense.shape[1:] if dense is not None else events.frame_shape
    if tuple(shape) != selection.shape:
        raise ValueError(f"frame shape {tuple(shape)} does not match labels {selection.shape}")
    use_events = method == "events"
    if method == "auto":
        if events is None:
            events = dense_events(dense)
        occupied = np.count_nonzero(_selected_flags(selection)[events.indices])
        use_events = occupied <= TWO_TIME_EVENT_LIMIT * len(events) * selection.index.size
    stream = itertools.chain([(0, dense, events)], chunks)
    if use_events:
        out = _two_time_events(stream, selection, scale, bad_frames, threads, dtype)
    else:
        out = _two_time_dense(stream, selection, scale, bad_frames, threads, dtype)
    return out


def _selected_flags(selection: PixelSelection) -> np.ndarray:
    """Flat boolean mask of the selected pixels."""
    flags = np.zeros(selection.shape[0] * selection.shape[1], bool)
    flags[selection.index] = True
    return flags


def _two_time_dense(stream, selection, scale, bad_frames, threads, dtype) -> np.ndarray:
    # Frames are held as they come, ROI pixels of dense input or photons of events:
    # events are expanded only a block of columns at a time, so memory follows the photons.
    pieces, n_t = [], 0
    for _, dense, events in stream:
        piece = selection.gather(dense) if dense is not None else events
        pieces.append((n_t, piece))
        n_t += len(piece)
    scaled = scale is not None
    work = np.result_type(
        np.float32, *(work_dtype(p if isinstance(p, np.ndarray) else p.values, scaled) for _, p in pieces)
    )
    column = selection.columns()
    valid = valid_frames(bad_frames, 0, n_t)
    out = np.empty((selection.n_labels, n_t, n_t), dtype)
    for j, (cols, n_pix) in enumerate(zip(selection.label_slices(), selection.n_pixels, strict=True)):
        gram, sums = np.zeros((n_t, n_t)), np.zeros(n_t)
        # An ROI's columns a block at a time: only a block is ever in float.
        for c0 in range(cols.start, cols.stop, GRAM_COLUMNS):
            part = slice(c0, min(c0 + GRAM_COLUMNS, cols.stop))
            x = _roi_columns(pieces, selection, column, part, n_t, work)
            if scaled:
                x *= scale[part]
            x[~valid] = 0
            with limit_blas(threads):
                gram += _gram(x)
            sums += x.sum(axis=1, dtype=np.float64)
        mean = sums / n_pix
        with np.errstate(divide="ignore", invalid="ignore"):
            c = gram / n_pix / np.outer(mean, mean)
        c[~valid] = np.nan
        c[:, ~valid] = np.nan
        out[j] = c
    return out


def _roi_columns(pieces, selection, column, part: slice, n_t: int, dtype) -> np.ndarray:
    """Columns ``part`` of the selected pixels over all frames, ``(n_t, width)`` in ``dtype``."""
    from ._event_twotime import fill_columns

    x = np.empty((n_t, part.stop - part.start), dtype)
    pixels = selection.index[part]  # ascending within a label
    for t0, piece in pieces:
        rows = x[t0 : t0 + len(piece)]
        if isinstance(piece, np.ndarray):
            rows[...] = piece[:, part]
        else:
            rows[...] = 0
            fill_columns(
                piece.indptr, piece.indices, _kernel_values(piece.values), column, part.start, part.stop,
                int(pixels[0]), int(pixels[-1]), rows,
            )  # fmt: skip
    return x


def _two_time_events(stream, selection, scale, bad_frames, threads, dtype) -> np.ndarray:
    from ._event_twotime import column_lists, mirror, two_time_rows

    order = _PixelOrder(selection, scale)
    pieces = []
    for _, dense, events in stream:
        events = events if events is not None else dense_events(dense)
        in_roi = order.col_of[events.indices] >= 0
        pieces.append(events if in_roi.all() else events.keep(in_roi))
    events = CompressedFrames.concatenate(pieces, selection.shape)
    del pieces  # the series is held once, not twice, from here on
    n_t = len(events)
    valid = valid_frames(bad_frames, 0, n_t)
    if not valid.all():  # bad frames' photons take no part
        events = events.keep(np.repeat(valid, np.diff(events.indptr)))
    n_cols, n_labels = order.pixels.size, selection.n_labels
    label_of = order.label_index.astype(np.int64)
    colptr, times, vals, sums = column_lists(
        events.indptr, events.indices, _kernel_values(events.values), order.scale_of,
        order.col_of, label_of, n_cols, n_labels,
    )  # fmt: skip
    out = np.empty((n_labels, n_t, n_t), dtype)
    n_pix = selection.n_pixels.astype(np.float64)
    # Threads take whole ROIs, balanced by their photon pairs.
    per_pixel = np.diff(colptr).astype(np.float64)
    pairs = np.bincount(label_of, per_pixel * (per_pixel + 1), minlength=n_labels)
    owner = np.zeros(n_labels, np.int64)
    load = np.zeros(max(1, min(threads, n_labels)))
    for lb in np.argsort(-pairs, kind="stable"):
        owner[lb] = np.argmin(load)
        load[owner[lb]] += pairs[lb]

    def run(thread):
        mine = owner == thread
        two_time_rows(
            events.indptr, events.indices, order.col_of, label_of, mine,
            colptr, times, vals, n_pix, sums, out,
        )  # fmt: skip
        mirror(out, mine)

    if load.size == 1:
        run(0)
    else:
        with ThreadPoolExecutor(load.size) as pool:
            list(pool.map(run, range(load.size)))
    out[:, ~valid] = np.nan
    out[:, :, ~valid] = np.nan
    return out


def _gram(x: np.ndarray) -> np.ndarray:
    """``x @ x.T`` in float64, via float32 BLAS where that is exact."""
    if x.dtype == np.float32:
        gram = x @ x.T
        if not gram.size or np.diagonal(gram).max() <= EXACT_F32:
            return gram.astype(np.float64)
        x = x.astype(np.float64)
    return x @ x.T


def one_time_from_two_time(c2: np.ndarray, max_lag: int | None = None) -> OneTimeResult:
    """Average a two-time map along its diagonals into a one-time g2.

    Parameters
    ----------
    c2 : ndarray, shape ``(n_labels, T, T)`` or ``(T, T)``
        From :func:`two_time`; NaN entries (bad frames) are skipped.
    max_lag : int, optional
        Largest lag to return (default ``T - 1``).

    Returns
    -------
    OneTimeResult
        ``lags`` ``0 .. max_lag`` in frames and ``g2``, shape ``(len(lags),
        n_labels)``: the mean of each diagonal ``C(t, t + lag)``, NaN where a
        diagonal has no valid entry (the layout of :func:`multi_tau`).
    """
    c2 = np.asarray(c2)
    if c2.ndim == 2:
        c2 = c2[None]
    if c2.ndim != 3 or c2.shape[1] != c2.shape[2]:
        raise ValueError(f"c2 must have shape (n_labels, T, T), got {c2.shape}")
    n_t = c2.shape[1]
    max_lag = n_t - 1 if max_lag is None else min(max_lag, n_t - 1)
    lags = np.arange(max_lag + 1)
    g2 = np.full((lags.size, c2.shape[0]), np.nan)
    for lag in lags:
        diag = np.diagonal(c2, offset=lag, axis1=1, axis2=2)
        good = np.isfinite(diag)
        with np.errstate(invalid="ignore", divide="ignore"):
            g2[lag] = np.where(good, diag, 0).sum(axis=1, dtype=np.float64) / good.sum(axis=1)
    return OneTimeResult(lags, g2)
