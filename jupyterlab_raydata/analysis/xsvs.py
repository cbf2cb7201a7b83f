"""X-ray speckle visibility spectroscopy: photon-count statistics per ROI and time bin.

For exposure time ``2^k · dt`` (sums of ``2^k`` consecutive frames) the probability
``P(K)`` of counting ``K`` photons in a pixel of an ROI is accumulated, streaming.
Partially coherent speckle gives a negative-binomial distribution

    P(K) = Γ(K + M) / (Γ(K + 1) Γ(M)) · (M / (M + K̄))^M · (K̄ / (M + K̄))^K

with ``M = 1/β`` modes, β the speckle contrast at that exposure; fully incoherent
light gives Poisson. :func:`fit_contrast` fits both.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special, stats

from .frames import PixelSelection, valid_frames

__all__ = [
    "EVENT_OCCUPANCY_LIMIT",
    "ContrastFit",
    "PhotonHistograms",
    "fit_contrast",
    "moment_contrast",
    "negative_binomial_pmf",
    "photon_histograms",
]


@dataclass(frozen=True)
class PhotonHistograms:
    """Photon-count histograms.

    Attributes
    ----------
    bin_frames : ndarray of int, shape ``(n_bins,)``
        Frames summed per exposure (1, 2, 4, ...).
    labels : ndarray of int
        ROI label values, one per column.
    counts : ndarray of int64, shape ``(n_bins, n_labels, K_max + 1)``
        Number of (pixel, exposure) samples with ``K`` photons.
    """

    bin_frames: np.ndarray
    labels: np.ndarray
    counts: np.ndarray

    @property
    def n_samples(self) -> np.ndarray:
        """Samples per time bin and ROI."""
        return self.counts.sum(axis=2)

    @property
    def probability(self) -> np.ndarray:
        """``P(K)``: counts normalised per time bin and ROI."""
        with np.errstate(invalid="ignore"):
            return self.counts / self.n_samples[..., None]

    @property
    def mean(self) -> np.ndarray:
        """Mean count ``K̄`` per time bin and ROI."""
        k = np.arange(self.counts.shape[2])
        with np.errstate(invalid="ignore"):
            return (self.counts * k).sum(axis=2) / self.n_samples


#: ``method`` values of :func:`photon_histograms`.
METHODS = ("auto", "events", "dense")

#: Largest occupancy of the labelled pixels (photons per pixel and frame) at which
#: :func:`photon_histograms` works from photon events rather than pixel matrices.
EVENT_OCCUPANCY_LIMIT = 0.3


def photon_histograms(
    frames,
    labels,
    *,
    n_bins: int = 6,
    mask=None,
    bad_frames=None,
    chunk_size: int | None = None,
    method: str = "auto",
) -> PhotonHistograms:
    """Histogram photon counts per ROI for exposures of 1, 2, 4, … ``2^(n_bins-1)`` frames.

    Parameters
    ----------
    frames : array-like or iterable
        ``(T, H, W)`` integer counts, streamed.
    labels : array_like of int, shape ``(H, W)``
        ROI labels, 0 = not used.
    n_bins : int
        Number of exposure doublings.
    mask : array_like of bool, optional
        True = good pixel.
    bad_frames : optional
        Frames to skip; an exposure containing a bad frame is left out.
    chunk_size : int, optional
        Frames read at a time.
    method : {"auto", "events", "dense"}
        Count from photon events (pixels without a photon are counted per ROI
        in one step) or from pixel matrices; ``"auto"`` picks events when the
        labelled pixels' occupancy in the first chunk is at most
        :data:`EVENT_OCCUPANCY_LIMIT`. The result is the same.

    Returns
    -------
    PhotonHistograms
    """
    from .compress import dense_events, iter_frames_or_events

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    selection = PixelSelection.from_labels(labels, mask)
    chunks = iter_frames_or_events(frames, chunk_size)
    counter = None
    for t0, dense, events in chunks:
        if counter is None:
            use_events = method == "events"
            if method == "auto":
                events = events if events is not None else dense_events(dense)
                flags = np.zeros(selection.shape[0] * selection.shape[1], bool)
                flags[selection.index] = True
                n_in = np.count_nonzero(flags[events.indices])
                use_events = n_in <= EVENT_OCCUPANCY_LIMIT * len(events) * selection.index.size
            counter = _EventCounter(selection, n_bins) if use_events else _DenseCounter(selection, n_bins)
        if isinstance(counter, _EventCounter):
            counter.add(events if events is not None else dense_events(dense), t0, bad_frames)
        else:
            counter.add(dense if dense is not None else events[:], t0, bad_frames)
    if counter is None:
        counter = _DenseCounter(selection, n_bins)
    return counter.result()


class _DenseCounter:
    """Histograms from pixel matrices: every pixel's count, zeros included."""

    def __init__(self, selection, n_bins):
        self.selection, self.n_bins = selection, n_bins
        self.column_label = np.repeat(np.arange(selection.n_labels), selection.n_pixels)
        self.hist = [np.zeros((selection.n_labels, 1), np.int64) for _ in range(n_bins)]
        self.carry = [None] * n_bins  # a summed row waiting for its partner, per level

    def add(self, chunk, t0, bad_frames):
        x = self.selection.gather(chunk).astype(np.int64)
        valid = valid_frames(bad_frames, t0, t0 + x.shape[0])
        n_labels = self.selection.n_labels
        for level in range(self.n_bins):
            if x.shape[0]:
                self.hist[level] = _add_counts(self.hist[level], x[valid], self.column_label, n_labels)
            if level + 1 < self.n_bins:
                x, valid, self.carry[level] = _pair_sum(x, valid, self.carry[level])

    def result(self) -> PhotonHistograms:
        width = max(h.shape[1] for h in self.hist)
        counts = np.zeros((self.n_bins, self.selection.n_labels, width), np.int64)
        for level, h in enumerate(self.hist):
            counts[level, :, : h.shape[1]] = h
        return PhotonHistograms(2 ** np.arange(self.n_bins), self.selection.labels, counts)


class _EventCounter:
    """Histograms from photon events; pixels without a photon are counted per ROI at once.

    The ROI pixels go in tiles (:mod:`._event_xsvs`), shared out among the thread budget's
    threads in contiguous groups, each group with its own histograms.
    """

    def __init__(self, selection, n_bins):
        from . import _event_xsvs
        from .threads import thread_budget

        self.selection, self.n_bins = selection, n_bins
        n_labels = selection.n_labels
        self.col_of = selection.columns()
        self.col_label = np.repeat(np.arange(n_labels), selection.n_pixels)
        in_order = np.sort(selection.index)  # the ROI pixels in detector order
        tile = _event_xsvs.TILE
        starts = np.arange(0, in_order.size, tile)
        self.tile_pixels = np.append(in_order[starts], in_order[-1] + 1 if in_order.size else 0)
        n_tiles = starts.size
        tile_of = np.arange(in_order.size) // tile
        lab = self.col_label[self.col_of[in_order]]
        self.n_pix = np.bincount(tile_of * n_labels + lab, minlength=n_tiles * n_labels).reshape(n_tiles, -1)
        self.held = np.zeros((n_bins, selection.index.size), np.int64)
        self.held_cols = np.zeros((n_tiles, n_bins, min(tile, max(in_order.size, 1))), np.int64)
        self.held_n = np.zeros((n_tiles, n_bins), np.int64)
        self.held_state = np.zeros((n_tiles, n_bins), np.int64)
        cuts = np.linspace(0, n_tiles, min(thread_budget(), n_tiles) + 1).round().astype(np.int64)
        self.groups = list(itertools.pairwise(cuts))
        self.hist = np.zeros((len(self.groups), n_bins, n_labels, 1), np.int64)
        self.zeros = np.zeros((len(self.groups), n_bins, n_labels), np.int64)
        self.largest = 0  # largest count of a pixel in a frame so far

    def add(self, events, t0, bad_frames):
        from ._event_pairs import check_ascending
        from ._event_xsvs import feed_histograms

        if events.values.size and events.values.min() < 0:
            raise ValueError("photon counts must be non-negative integers")
        if not check_ascending(events.indptr, events.indices):
            raise ValueError("photon events must have strictly ascending pixel indices within a frame")
        values = events.values.astype(np.int64)
        # A row sums at most 2^(n_bins - 1) frames: room for the largest count it can hold.
        self.largest = max(self.largest, int(values.max(initial=0)))
        width = self.largest * 2 ** (self.n_bins - 1) + 1
        if width > self.hist.shape[3]:
            grown = np.zeros((*self.hist.shape[:3], width), np.int64)
            grown[..., : self.hist.shape[3]] = self.hist
            self.hist = grown
        valid = valid_frames(bad_frames, t0, t0 + len(events))

        def feed(group):
            first, end = self.groups[group]
            feed_histograms(
                events.indptr, events.indices, values, valid, self.tile_pixels, first, end, self.col_of,
                self.col_label, self.n_pix, self.held, self.held_cols, self.held_n, self.held_state,
                self.hist[group], self.zeros[group],
            )  # fmt: skip

        if len(self.groups) <= 1:
            for group in range(len(self.groups)):
                feed(group)
            return
        with ThreadPoolExecutor(len(self.groups)) as pool:
            for future in [pool.submit(feed, group) for group in range(len(self.groups))]:
                future.result()

    def result(self) -> PhotonHistograms:
        counts = self.hist.sum(axis=0)
        counts[:, :, 0] = self.zeros.sum(axis=0)
        used = np.flatnonzero(counts.any(axis=(0, 1)))
        counts = counts[:, :, : (used[-1] + 1 if used.size else 1)]
        return PhotonHistograms(2 ** np.arange(self.n_bins), self.selection.labels, counts)


def _add_counts(hist, x, column_label, n_labels):
    if x.size == 0:
        return hist
    if x.min() < 0:
        raise ValueError("photon counts must be non-negative integers")
    codes = (x * n_labels + column_label).ravel()
    n_k = int(x.max()) + 1
    new = np.bincount(codes, minlength=n_k * n_labels).reshape(n_k, n_labels).T
    width = max(hist.shape[1], new.shape[1])
    out = np.zeros((n_labels, width), np.int64)
    out[:, : hist.shape[1]] += hist
    out[:, : new.shape[1]] += new
    return out


def _pair_sum(x, valid, carry):
    """Sums of consecutive rows (bad if either is bad); an odd last row is carried."""
    if carry is not None:
        x = np.concatenate([carry[0][None], x])
        valid = np.concatenate([[carry[1]], valid])
    n = x.shape[0] // 2 * 2
    new_carry = (x[n], bool(valid[n])) if x.shape[0] > n else None
    return x[0:n:2] + x[1:n:2], valid[0:n:2] & valid[1:n:2], new_carry


def negative_binomial_pmf(k, mean, m):
    """Negative-binomial ``P(K)`` with mean ``K̄`` and ``M`` modes (contrast ``1/M``)."""
    k = np.asarray(k, dtype=np.float64)
    log_p = (
        special.gammaln(k + m)
        - special.gammaln(k + 1)
        - special.gammaln(m)
        + m * np.log(m / (m + mean))
        + k * np.log(mean / (m + mean))
    )
    return np.exp(log_p)


def moment_contrast(hist: PhotonHistograms) -> np.ndarray:
    """Contrast from moments, ``β = Var(K)/K̄² - 1/K̄``, per time bin and ROI."""
    k = np.arange(hist.counts.shape[2])
    p = hist.probability
    mean = (p * k).sum(axis=2)
    var = (p * k**2).sum(axis=2) - mean**2
    with np.errstate(invalid="ignore", divide="ignore"):
        return var / mean**2 - 1 / mean


@dataclass(frozen=True)
class ContrastFit:
    """Fits of one histogram.

    Attributes
    ----------
    mean : float
        Measured mean count ``K̄`` (held fixed in the fits).
    beta, beta_err : float
        Contrast ``1/M`` of the negative-binomial fit and its standard error.
    chi2_nb, chi2_poisson : float
        Reduced chi-square of the negative-binomial and Poisson models
        (Poisson errors on the counts).
    """

    mean: float
    beta: float
    beta_err: float
    chi2_nb: float
    chi2_poisson: float


def fit_contrast(hist: PhotonHistograms, *, k_max: int | None = None) -> list[list[ContrastFit]]:
    """Fit negative-binomial and Poisson distributions to every histogram.

    The mean is the measured ``K̄``; the negative binomial has ``M`` free, fitted
    by weighted least squares to the counts (weights from Poisson errors), from a
    start at the moment estimate.

    Parameters
    ----------
    hist : PhotonHistograms
    k_max : int, optional
        Largest ``K`` included.

    Returns
    -------
    list (time bins) of list (ROIs) of ContrastFit
    """
    counts = hist.counts if k_max is None else hist.counts[..., : k_max + 1]
    k = np.arange(counts.shape[2])
    guess = moment_contrast(hist)
    out = []
    for b in range(counts.shape[0]):
        row = []
        for j in range(counts.shape[1]):
            row.append(_fit_one(k, counts[b, j], guess[b, j]))
        out.append(row)
    return out


def _fit_one(k, counts, beta_guess) -> ContrastFit:
    n = counts.sum()
    nan = float("nan")
    if n == 0:
        return ContrastFit(nan, nan, nan, nan, nan)
    p = counts / n
    mean = float((p * k).sum())
    sigma = np.sqrt(np.maximum(counts, 1)) / n
    use = counts > 0
    dof = max(int(use.sum()) - 1, 1)
    poisson = stats.poisson.pmf(k, mean)
    chi2_poisson = float((((p - poisson) / sigma)[use] ** 2).sum() / dof)
    if mean <= 0 or use.sum() < 2:
        return ContrastFit(mean, nan, nan, nan, chi2_poisson)
    start = float(np.clip(beta_guess, 1e-3, 10)) if np.isfinite(beta_guess) else 0.1

    def model(kk, log_beta):
        return negative_binomial_pmf(kk, mean, 1 / np.exp(log_beta))

    try:
        popt, pcov = optimize.curve_fit(
            model, k[use], p[use], p0=[np.log(start)], sigma=sigma[use], absolute_sigma=True
        )
    except (RuntimeError, ValueError):
        return ContrastFit(mean, nan, nan, nan, chi2_poisson)
    beta = float(np.exp(popt[0]))
    residual = (p - model(k, popt[0])) / sigma
    return ContrastFit(
        mean,
        beta,
        float(beta * np.sqrt(pcov[0, 0])),
        float((residual[use] ** 2).sum() / dof),
        chi2_poisson,
    )
