"""Synthetic XPCS speckle with known dynamics, for tests, demos and benchmarks.

Model (per pixel, independently): ``M`` complex Gaussian modes, each an AR(1)
process ``E[t+1] = a·E[t] + sqrt(1-a²)·ξ[t]`` with ``a = exp(-Γ·dt)`` and
``Γ = D·q²`` (Brownian diffusion), so the field correlation is
``g1(τ) = exp(-D·q²·τ)``. The speckle intensity is a weighted mean of the mode
intensities, whose weights fix the contrast β (``β = 1/M`` for equal weights).
Photon counts are Poisson with mean ``μ(q)·I``, where ``μ(q)`` is a smooth
``q⁻ⁿ``-like profile. The intensity autocorrelation is then, for τ > 0,

    g2(q, τ) = 1 + β·exp(-2·D·q²·τ)

which :func:`expected_g2` evaluates from :attr:`SyntheticSeries.truth`.
Frames are generated one at a time from random streams derived from ``seed``
only, so a run is the same whatever the chunk size or the machine, and
:func:`iter_speckle_chunks` never holds more than one chunk.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .geometry import Geometry, q_map
from .threads import thread_budget

__all__ = [
    "SpeckleParameters",
    "SyntheticSeries",
    "expected_g2",
    "intensity_profile",
    "iter_speckle_chunks",
    "simulate_speckle",
]

#: Default diffusion coefficient in Å²/s: with the default geometry and 10 ms
#: frames, relaxation times range from ~1 frame at the detector edge to ~1 s near
#: the beam, so a 1000-frame series samples full decays on most rings.
DEFAULT_DIFFUSION_A2_S = 3.0e5


@dataclass(frozen=True)
class SyntheticSeries:
    """A simulated frame series and the parameters that produced it.

    Attributes
    ----------
    frames : ndarray, shape (T, H, W)
        Photon counts per pixel and frame (unsigned integers).
    truth : dict
        JSON-serialisable ground truth: ``diffusion_A2_per_s`` (D, in Å²/s),
        ``beta``, ``dt_s``, ``n_frames``, ``shape``, ``seed``, ``geometry``
        (``beam_center`` as ``(row, col)`` pixels, ``distance_m``, ``wavelength_A``,
        ``pixel_size_m``), ``intensity`` (parameters of :func:`intensity_profile`)
        and ``model`` (the g2 formula). Pass it to :func:`expected_g2`.
    """

    frames: np.ndarray
    truth: dict

    @property
    def geometry(self) -> Geometry:
        """The detector geometry the frames were simulated with."""
        return Geometry(**self.truth["geometry"])


def intensity_profile(q: np.ndarray, peak_counts: float, q_corner: float, exponent: float):
    """Smooth mean-count profile ``μ(q) = peak / (1 + (q/q_c)²)^(n/2)``.

    It is flat below ``q_corner`` and falls as ``q⁻ⁿ`` above it (a Lorentzian-like
    form factor), which avoids a divergence at the beam centre.

    Parameters
    ----------
    q : array_like
        Scattering vector in Å⁻¹.
    peak_counts : float
        Mean photons per pixel per frame at ``q = 0``.
    q_corner : float
        Crossover in Å⁻¹.
    exponent : float
        High-q power-law exponent ``n``.
    """
    q = np.asarray(q, dtype=np.float64)
    return peak_counts / (1.0 + (q / q_corner) ** 2) ** (exponent / 2)


def expected_g2(truth: dict, q, lag_s) -> np.ndarray:
    """Exact ``g2(q, τ) = 1 + β·exp(-2·D·q²·τ)`` for a simulated series.

    Parameters
    ----------
    truth : dict
        :attr:`SyntheticSeries.truth`.
    q : array_like
        Scattering vectors in Å⁻¹.
    lag_s : array_like
        Lag times in seconds (``lags_in_frames * truth["dt_s"]``), τ > 0.

    Returns
    -------
    ndarray, shape ``(len(lag_s), len(q))``
        Same layout as the ``g2`` returned by the correlators.
    """
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    tau = np.atleast_1d(np.asarray(lag_s, dtype=np.float64))
    rate = 2 * truth["diffusion_A2_per_s"] * q[None, :] ** 2
    return 1.0 + truth["beta"] * np.exp(-rate * tau[:, None])


def _mode_weights(beta: float) -> np.ndarray:
    """Weights of intensity modes whose weighted mean has speckle contrast ``beta``.

    With weights ``w`` the contrast is ``Σw² / (Σw)²``. ``M = ceil(1/β)`` modes are
    used, ``M-1`` of weight 1 and one of weight ``x ∈ (0, 1]`` solving that equation
    (the contrast decreases monotonically from ``1/(M-1)`` to ``1/M`` as ``x`` goes
    from 0 to 1), so any β in (0, 1] is reproduced exactly.
    """
    if not 0 < beta <= 1:
        raise ValueError(f"beta must be in (0, 1], got {beta}")
    m = math.ceil(1 / beta - 1e-9)
    if m == 1:
        return np.ones(1)
    k = m - 1
    # Root in [0, 1] of beta·(k + x)² = k + x²; the discriminant k·(beta·m - 1) >= 0.
    x = (beta * k - math.sqrt(max(k * (beta * m - 1), 0.0))) / (1 - beta)
    return np.concatenate([np.ones(k), [min(max(x, 0.0), 1.0)]])


@dataclass(frozen=True)
class SpeckleParameters:
    """Every input of a simulation; see :func:`simulate_speckle` for their meaning."""

    shape: tuple[int, int] = (256, 256)
    n_frames: int = 1000
    beam_center: tuple[float, float] | None = None
    distance_m: float = 5.0
    wavelength_A: float = 1.285
    pixel_size_m: float = 75e-6
    diffusion: float = DEFAULT_DIFFUSION_A2_S
    dt: float = 0.01
    beta: float = 0.2
    mean_counts: float = 0.5
    q_corner: float = 2e-3
    intensity_exponent: float = 3.0
    seed: int = 0
    dtype: object = np.uint16

    def __post_init__(self):
        shape = tuple(int(s) for s in self.shape)
        if len(shape) != 2 or min(shape) < 1:
            raise ValueError(f"shape must be (rows, cols) with positive sizes, got {self.shape!r}")
        object.__setattr__(self, "shape", shape)
        if self.n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {self.n_frames}")
        if np.dtype(self.dtype).kind != "u":
            raise ValueError(f"dtype must be an unsigned integer type, got {np.dtype(self.dtype)}")
        if self.diffusion < 0 or self.dt <= 0 or self.mean_counts <= 0:
            raise ValueError("diffusion must be >= 0, dt and mean_counts > 0")

    @property
    def geometry(self) -> Geometry:
        """Detector geometry (beam centre defaults to the detector centre)."""
        center = self.beam_center
        if center is None:
            center = (self.shape[0] / 2, self.shape[1] / 2)
        return Geometry(tuple(center), self.distance_m, self.wavelength_A, self.pixel_size_m)

    def truth(self) -> dict:
        """JSON-serialisable ground truth (see :attr:`SyntheticSeries.truth`)."""
        return {
            "model": "g2(q, tau) = 1 + beta * exp(-2 * D * q**2 * tau), tau > 0",
            "diffusion_A2_per_s": float(self.diffusion),
            "beta": float(self.beta),
            "dt_s": float(self.dt),
            "n_frames": int(self.n_frames),
            "shape": list(self.shape),
            "seed": int(self.seed),
            "geometry": self.geometry.to_dict(),
            "intensity": {
                "mean_counts": float(self.mean_counts),
                "q_corner_A": float(self.q_corner),
                "exponent": float(self.intensity_exponent),
            },
        }


class _SpeckleModel:
    """State of the per-pixel AR(1) fields; produces frames one by one.

    The field components are split over a fixed number of random streams, each
    advanced by its own thread within the thread budget (numpy releases the GIL for
    these kernels), so the frames depend on the seed only, never on the machine's
    core count or the budget.
    """

    n_streams = 2

    def __init__(self, p: SpeckleParameters):
        q = q_map(p.shape, p.geometry)
        a = np.exp(-p.diffusion * q**2 * p.dt)
        self.a = a.astype(np.float32)
        self.b = np.sqrt(1.0 - a**2).astype(np.float32)
        weights = _mode_weights(p.beta)
        # Each complex mode is two real components of variance 1/2, so |E|² has mean 1.
        component_weights = np.repeat(weights, 2) / (2 * weights.sum())
        profile = intensity_profile(q, 1.0, p.q_corner, p.intensity_exponent)
        self.mu = p.mean_counts * profile / profile.mean()
        seeds = np.random.SeedSequence(p.seed).spawn(self.n_streams + 1)
        self.poisson_rng = np.random.default_rng(seeds[0])
        self.blocks = []
        for seed, w in zip(seeds[1:], np.array_split(component_weights, self.n_streams), strict=True):
            if w.size:
                rng = np.random.default_rng(seed)
                field = rng.standard_normal((w.size, *p.shape), np.float32)
                self.blocks.append((rng, w.astype(np.float32), field))
        threads = min(len(self.blocks), thread_budget())
        self.pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def _advance(self, block) -> np.ndarray:
        rng, weights, field = block
        noise = rng.standard_normal(field.shape, np.float32)
        noise *= self.b
        field *= self.a
        field += noise
        np.multiply(field, field, out=noise)
        return np.tensordot(weights, noise, axes=1)

    def next_frame(self) -> np.ndarray:
        advance = map if self.pool is None else self.pool.map
        intensity = sum(advance(self._advance, self.blocks))
        return self.poisson_rng.poisson(self.mu * intensity)

    def close(self):
        if self.pool is not None:
            self.pool.shutdown()


def iter_speckle_chunks(shape=(256, 256), n_frames=1000, *, chunk=100, **parameters) -> Iterator[np.ndarray]:
    """Generate a synthetic speckle series chunk by chunk, in constant memory.

    Parameters
    ----------
    shape, n_frames
        As for :func:`simulate_speckle`.
    chunk : int
        Frames per yielded array.
    **parameters
        Any keyword of :func:`simulate_speckle`.

    Yields
    ------
    ndarray, shape ``(<= chunk, H, W)``
        Consecutive frames; their concatenation equals ``simulate_speckle(...).frames``
        for the same arguments, whatever ``chunk`` is.
    """
    if chunk < 1:
        raise ValueError(f"chunk must be >= 1, got {chunk}")
    p = SpeckleParameters(shape, n_frames, **parameters)
    model = _SpeckleModel(p)
    dtype = np.dtype(p.dtype)
    limit = np.iinfo(dtype).max
    try:
        for start in range(0, p.n_frames, chunk):
            out = np.empty((min(chunk, p.n_frames - start), *p.shape), dtype)
            for i in range(out.shape[0]):
                counts = model.next_frame()
                if counts.max() > limit:
                    raise ValueError(f"photon counts exceed the range of {dtype}; pass a wider dtype")
                out[i] = counts
            yield out
    finally:
        model.close()


def simulate_speckle(
    shape=(256, 256),
    n_frames=1000,
    *,
    beam_center=None,
    distance_m=5.0,
    wavelength_A=1.285,
    pixel_size_m=75e-6,
    diffusion=DEFAULT_DIFFUSION_A2_S,
    dt=0.01,
    beta=0.2,
    mean_counts=0.5,
    q_corner=2e-3,
    intensity_exponent=3.0,
    seed=0,
    dtype=np.uint16,
) -> SyntheticSeries:
    """Simulate an XPCS frame series of Brownian-diffusion speckle with a known g2.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    n_frames : int
        Number of frames ``T``.
    beam_center : tuple of float, optional
        Direct beam ``(row, col)`` in pixels; default the detector centre.
    distance_m, wavelength_A, pixel_size_m : float
        Sample-detector distance (m), wavelength (Å) and pixel pitch (m); the
        defaults (5 m, 1.285 Å = 9.65 keV, 75 µm Eiger pixels) resemble CHX.
    diffusion : float
        Diffusion coefficient D in Å²/s (1 µm²/s = 1e8 Å²/s); ``Γ = D·q²``.
    dt : float
        Time between frames in seconds.
    beta : float
        Speckle contrast in (0, 1]; ``1/beta`` need not be an integer.
    mean_counts : float
        Mean photons per pixel per frame over the whole detector; XPCS data are
        photon-sparse, so values well below 1 are typical.
    q_corner, intensity_exponent : float
        Shape of the mean-intensity profile (see :func:`intensity_profile`).
    seed : int
        Seed of the random stream; equal seeds give identical frames.
    dtype : numpy dtype
        Unsigned integer type of the counts; a ``ValueError`` is raised if a count
        overflows it.

    Returns
    -------
    SyntheticSeries
        ``frames`` of shape ``(n_frames, *shape)`` and the ground ``truth``.

    See Also
    --------
    iter_speckle_chunks : the same series, generated chunk by chunk.
    expected_g2 : the exact g2 for given q and lag times.
    """
    p = SpeckleParameters(
        shape,
        n_frames,
        beam_center=beam_center,
        distance_m=distance_m,
        wavelength_A=wavelength_A,
        pixel_size_m=pixel_size_m,
        diffusion=diffusion,
        dt=dt,
        beta=beta,
        mean_counts=mean_counts,
        q_corner=q_corner,
        intensity_exponent=intensity_exponent,
        seed=seed,
        dtype=dtype,
    )
    chunks = list(iter_speckle_chunks(**vars(p), chunk=max(p.n_frames, 1)))
    frames = np.concatenate(chunks) if chunks else np.empty((0, *p.shape), p.dtype)
    return SyntheticSeries(frames=frames, truth=p.truth())
