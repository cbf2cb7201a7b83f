"""Fits of correlation functions: g2 per q, and the relaxation rate against q².

Models (τ in seconds):

* ``"single"``: ``g2(τ) = baseline + beta · exp(-2 · gamma · τ)``;
* ``"stretched"``: ``g2(τ) = baseline + beta · exp(-2 · (gamma · τ)^alpha)``.

``gamma`` is the relaxation rate Γ of the field correlation g1 (in 1/s); for
Brownian diffusion ``Γ = D·q²`` (:func:`fit_diffusion`). Fits use lmfit
(Levenberg-Marquardt) and report standard errors from the covariance matrix,
scaled by the reduced chi-square when no uncertainties of g2 are given.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

__all__ = ["DiffusionFit", "G2Fit", "fit_diffusion", "fit_g2", "g2_model"]

MODELS = ("single", "stretched")


def g2_model(tau, beta, gamma, baseline=1.0, alpha=1.0):
    """``baseline + beta · exp(-2 · (gamma · tau)^alpha)``."""
    return baseline + beta * np.exp(-2 * (gamma * np.asarray(tau, dtype=np.float64)) ** alpha)


@dataclass(frozen=True)
class G2Fit:
    """Result of fitting one g2 curve.

    Attributes
    ----------
    model : str
        ``"single"`` or ``"stretched"``.
    beta, gamma, baseline, alpha : float
        Best-fit parameters (``alpha`` is 1 for the single exponential).
    beta_err, gamma_err, baseline_err, alpha_err : float
        Standard errors (0 for fixed parameters, NaN if not estimable).
    redchi : float
        Reduced chi-square.
    success : bool
        Whether the minimiser converged with finite uncertainties.
    """

    model: str
    beta: float
    gamma: float
    baseline: float
    alpha: float
    beta_err: float
    gamma_err: float
    baseline_err: float
    alpha_err: float
    redchi: float
    success: bool

    def __call__(self, tau) -> np.ndarray:
        """The fitted curve at ``tau`` (s)."""
        return g2_model(tau, self.beta, self.gamma, self.baseline, self.alpha)

    def to_dict(self) -> dict:
        """JSON-serialisable parameters."""
        return {k: (v if isinstance(v, str | bool) else float(v)) for k, v in asdict(self).items()}


def fit_g2(
    lag_s,
    g2,
    *,
    model: str = "single",
    g2_err=None,
    fit_range: tuple[float, float] | None = None,
    fix_baseline: float | None = None,
    initial: dict | None = None,
) -> list[G2Fit]:
    """Fit every column of ``g2`` (one per q) with a simple or stretched exponential.

    Parameters
    ----------
    lag_s : array_like, shape ``(L,)``
        Lag times in seconds; lags ``<= 0`` are ignored (lag 0 holds shot noise).
    g2 : array_like, shape ``(L,)`` or ``(L, n_q)``
        Correlation functions, as returned by the correlators.
    model : {"single", "stretched"}
        See the module docstring.
    g2_err : array_like, optional
        Standard errors of ``g2`` (same shape), used as weights.
    fit_range : tuple of float, optional
        ``(tau_min, tau_max)`` in seconds.
    fix_baseline : float, optional
        Hold the baseline at this value (e.g. 1.0) instead of fitting it.
    initial : dict, optional
        Starting values for ``beta``, ``gamma``, ``baseline``, ``alpha``.

    Returns
    -------
    list of G2Fit
        One per column.
    """
    import lmfit

    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    tau = np.asarray(lag_s, dtype=np.float64)
    g2 = np.asarray(g2, dtype=np.float64)
    if g2.ndim == 1:
        g2 = g2[:, None]
    if g2.shape[0] != tau.size:
        raise ValueError(f"g2 has {g2.shape[0]} lags but lag_s has {tau.size}")
    err = (
        None
        if g2_err is None
        else np.broadcast_to(np.asarray(g2_err, np.float64).reshape(g2.shape[0], -1), g2.shape)
    )
    use = tau > 0
    if fit_range is not None:
        use &= (tau >= fit_range[0]) & (tau <= fit_range[1])
    lm_model = lmfit.Model(g2_model, independent_vars=["tau"])
    results = []
    for j in range(g2.shape[1]):
        y = g2[:, j]
        ok = use & np.isfinite(y)
        weights = None
        if err is not None:
            ok &= np.isfinite(err[:, j]) & (err[:, j] > 0)
            weights = 1 / err[ok, j]
        params = _initial_params(lm_model, tau[ok], y[ok], model, fix_baseline, initial or {})
        if ok.sum() <= sum(p.vary for p in params.values()):
            results.append(_failed(model, params))
            continue
        fit = lm_model.fit(y[ok], params, tau=tau[ok], weights=weights, scale_covar=err is None)
        results.append(_to_result(model, fit))
    return results


def _initial_params(lm_model, tau, y, model, fix_baseline, initial):
    baseline = (
        fix_baseline if fix_baseline is not None else (np.median(y[-max(len(y) // 10, 1) :]) if len(y) else 1)
    )
    beta = max((y[0] if len(y) else 1) - baseline, 1e-3)
    # Γ guess: where g2 - baseline has fallen to beta/e (i.e. 2Γτ = 1).
    below = np.flatnonzero(y - baseline < beta / np.e) if len(y) else []
    gamma = 1 / (2 * tau[below[0]]) if len(below) else 1 / (2 * tau[-1] if len(tau) else 1)
    params = lm_model.make_params(
        beta=initial.get("beta", beta),
        gamma=initial.get("gamma", gamma),
        baseline=initial.get("baseline", baseline),
        alpha=initial.get("alpha", 1.0),
    )
    params["beta"].set(min=0)
    params["gamma"].set(min=0)
    params["baseline"].set(vary=fix_baseline is None)
    params["alpha"].set(vary=model == "stretched", min=0.1, max=3.0)
    return params


def _err(param) -> float:
    if not param.vary:
        return 0.0
    return float(param.stderr) if param.stderr is not None else float("nan")


def _to_result(model, fit) -> G2Fit:
    p = fit.params
    errs = [_err(p[name]) for name in ("beta", "gamma", "baseline", "alpha")]
    return G2Fit(
        model,
        float(p["beta"].value),
        float(p["gamma"].value),
        float(p["baseline"].value),
        float(p["alpha"].value),
        *errs,
        redchi=float(fit.redchi),
        success=bool(fit.success) and all(np.isfinite(e) for e in errs),
    )


def _failed(model, params) -> G2Fit:
    nan = float("nan")
    return G2Fit(model, nan, nan, nan, nan, nan, nan, nan, nan, nan, False)


@dataclass(frozen=True)
class DiffusionFit:
    """``Γ = D·q² (+ offset)`` fitted to relaxation rates.

    Attributes
    ----------
    D, D_err : float
        Diffusion coefficient and its standard error, in Å²/s when q is in Å⁻¹ and
        Γ in 1/s (1 µm²/s = 1e8 Å²/s).
    offset, offset_err : float
        Intercept (0 unless fitted).
    """

    D: float
    D_err: float
    offset: float
    offset_err: float

    def __call__(self, q) -> np.ndarray:
        """Fitted Γ at ``q``."""
        return self.D * np.asarray(q, dtype=np.float64) ** 2 + self.offset


def fit_diffusion(q, gamma, gamma_err=None, *, with_offset: bool = False) -> DiffusionFit:
    """Weighted linear least squares of Γ against q².

    Parameters
    ----------
    q : array_like
        Scattering vectors (Å⁻¹).
    gamma : array_like
        Relaxation rates (1/s), e.g. ``[f.gamma for f in fit_g2(...)]``.
    gamma_err : array_like, optional
        Their standard errors, used as weights; without them errors come from the
        scatter of the residuals.
    with_offset : bool
        Also fit an intercept (non-diffusive relaxation).

    Returns
    -------
    DiffusionFit
    """
    q2 = np.asarray(q, dtype=np.float64) ** 2
    y = np.asarray(gamma, dtype=np.float64)
    ok = np.isfinite(q2) & np.isfinite(y)
    w = np.ones_like(y)
    if gamma_err is not None:
        e = np.asarray(gamma_err, dtype=np.float64)
        ok &= np.isfinite(e) & (e > 0)
        w = 1 / np.where(ok, e, 1)
    n_par = 2 if with_offset else 1
    if ok.sum() < n_par:
        raise ValueError(f"need at least {n_par} finite rates, got {int(ok.sum())}")
    design = np.column_stack([q2, np.ones_like(q2)])[:, :n_par][ok] * w[ok, None]
    coef, *_ = np.linalg.lstsq(design, y[ok] * w[ok], rcond=None)
    cov = np.linalg.inv(design.T @ design)
    dof = ok.sum() - n_par
    if gamma_err is None:
        residual = y[ok] * w[ok] - design @ coef
        cov = cov * (residual @ residual / dof if dof > 0 else np.nan)
    errs = np.sqrt(np.diag(cov))
    return DiffusionFit(
        float(coef[0]),
        float(errs[0]),
        float(coef[1]) if with_offset else 0.0,
        float(errs[1]) if with_offset else 0.0,
    )
