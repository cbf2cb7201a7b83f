"""Standard XPCS figures and a multi-page PDF report.

Figures are built with matplotlib's object API on the Agg canvas: no pyplot, so
no global figure state leaks into (or out of) a notebook or a worker process. In
a notebook a returned :class:`~matplotlib.figure.Figure` displays itself.
Every plotting function draws into ``ax`` when given one, else into a new figure.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.ticker import LogLocator

__all__ = [
    "DrawnFigure",
    "Pages",
    "draw",
    "new_figure",
    "plot_average_image",
    "plot_frame_sums",
    "plot_g2",
    "plot_gamma_q2",
    "plot_iq",
    "plot_two_time",
    "summary_page",
    "write_report",
]


def new_figure(nrows: int = 1, ncols: int = 1, *, figsize=(6.4, 4.8), layout="constrained", **kwargs):
    """A figure on an Agg canvas and its axes (like ``plt.subplots``, without pyplot)."""
    fig = Figure(figsize=figsize, layout=layout)
    FigureCanvasAgg(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def _panel_grid(nrows: int, ncols: int, panel=(3.2, 2.6), **kwargs):
    """A grid of equal panels with margins fixed in inches (room for tick labels, axis labels, panel
    titles and a figure title), shared x axes.

    A layout engine measures every tick label of every panel at each drawing, which for a page of
    16 log-scale panels costs more than drawing them; equal panels need no measuring.
    """
    left, right, bottom, top, between_x, between_y = 0.7, 0.15, 0.55, 0.8, 0.55, 0.4
    width = left + right + ncols * panel[0]
    height = bottom + top + nrows * panel[1]
    fig, axes = new_figure(nrows, ncols, figsize=(width, height), layout=None, sharex=True, **kwargs)
    axes_w = (ncols * panel[0] - (ncols - 1) * between_x) / ncols
    axes_h = (nrows * panel[1] - (nrows - 1) * between_y) / nrows
    fig.subplots_adjust(
        left=left / width,
        right=1 - right / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=between_x / axes_w,
        hspace=between_y / axes_h,
    )
    return fig, axes


def _axes(ax, **kwargs):
    if ax is not None:
        return ax.figure, ax
    fig, axes = new_figure(**kwargs)
    return fig, axes[0, 0]


def plot_average_image(image, *, mask=None, labels=None, ax=None, title="Average image") -> Figure:
    """Average image on a log colour scale with masked pixels and ROI outlines.

    Parameters
    ----------
    image : ndarray, shape ``(H, W)``
    mask : array_like of bool, optional
        True = good; masked pixels are shaded grey.
    labels : ndarray of int, optional
        ROI labels; their outlines are drawn, one colour per ROI.
    ax : matplotlib Axes, optional
    title : str
    """
    fig, ax = _axes(ax, figsize=(6, 5.5))
    image = np.asarray(image, dtype=np.float64)
    positive = image[image > 0]
    norm = LogNorm(vmin=max(positive.min(), 1e-3), vmax=positive.max()) if positive.size else None
    shown = ax.imshow(np.where(image > 0, image, np.nan), norm=norm, cmap="viridis", origin="upper")
    fig.colorbar(shown, ax=ax, label="counts / frame")
    if mask is not None:
        bad = ~np.asarray(mask, dtype=bool)
        ax.imshow(np.ma.masked_where(~bad, bad.astype(float)), cmap="Greys", vmin=0, vmax=1.5, alpha=0.6)
    if labels is not None:
        labels = np.asarray(labels)
        n = int(labels.max())
        if n:
            ax.contour(labels > 0, levels=[0.5], colors="white", linewidths=0.6)
            edges = np.zeros(labels.shape, bool)
            edges[:-1] |= labels[:-1] != labels[1:]
            edges[:, :-1] |= labels[:, :-1] != labels[:, 1:]
            ax.imshow(
                np.ma.masked_where(~edges | (labels == 0), labels), cmap="tab20", interpolation="nearest"
            )
    ax.set_title(title)
    ax.set_xlabel("column (pixel)")
    ax.set_ylabel("row (pixel)")
    return fig


def plot_iq(q, intensity, *, ax=None, title="Circular average") -> Figure:
    """I(q) on log-log axes."""
    fig, ax = _axes(ax)
    q, intensity = np.asarray(q), np.asarray(intensity)
    ok = np.isfinite(q) & np.isfinite(intensity) & (intensity > 0) & (q > 0)
    ax.loglog(q[ok], intensity[ok], ".-", ms=3)
    ax.set_xlabel("q (1/Å)")
    ax.set_ylabel("I(q) (counts / pixel / frame)")
    ax.set_title(title)
    return fig


def plot_frame_sums(sums, *, bad_frames=None, dt: float | None = None, ax=None, title="Frame sums") -> Figure:
    """Total counts per frame, with bad frames marked."""
    fig, ax = _axes(ax, figsize=(7, 3.5))
    sums = np.asarray(sums)
    t = np.arange(sums.size) * (dt or 1)
    ax.plot(t, sums, lw=0.7, label="frame sum")
    if bad_frames is not None and len(bad_frames):
        bad = np.asarray(bad_frames, dtype=int)
        ax.plot(t[bad], sums[bad], "rx", label=f"bad frames ({bad.size})")
        ax.legend(loc="best")
    ax.set_xlabel("time (s)" if dt else "frame")
    ax.set_ylabel("counts")
    ax.set_title(title)
    return fig


def plot_g2(lag_s, g2, *, q=None, fits=None, ncols: int = 4, title="g2") -> Figure:
    """One panel per ROI: g2 against lag (log scale), with fitted curves if given.

    Parameters
    ----------
    lag_s : array_like, shape ``(L,)``
        Lags in seconds (lag 0 is not drawn).
    g2 : array_like, shape ``(L, n)``
    q : array_like, shape ``(n,)``, optional
        For panel titles.
    fits : list of G2Fit, optional
        From :func:`~jupyterlab_raydata.analysis.fits.fit_g2`.
    ncols : int
        Panels per row.
    """
    lag_s, g2 = np.asarray(lag_s, dtype=np.float64), np.asarray(g2, dtype=np.float64)
    g2 = g2[:, None] if g2.ndim == 1 else g2
    n = g2.shape[1]
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = _panel_grid(nrows, ncols)
    use = lag_s > 0
    dense = np.geomspace(lag_s[use].min(), lag_s[use].max(), 200) if use.any() else None
    for j, ax in enumerate(axes.ravel()):
        if j >= n:
            ax.set_visible(False)
            continue
        ax.semilogx(lag_s[use], g2[use, j], "o", ms=3)
        ax.xaxis.set_minor_locator(LogLocator(subs=(2.0, 5.0)))
        if fits is not None and fits[j].success and dense is not None:
            fit = fits[j]
            ax.semilogx(dense, fit(dense), "-", lw=1, label=f"Γ={fit.gamma:.3g}/s")
            ax.legend(loc="upper right", fontsize="small")
        ax.set_title(f"q = {q[j]:.4g} 1/Å" if q is not None else f"ROI {j + 1}", fontsize="medium")
    for ax in axes[-1]:
        ax.set_xlabel("lag (s)")
    for ax in axes[:, 0]:
        ax.set_ylabel("g2")
    fig.suptitle(title)
    return fig


def plot_gamma_q2(q, gamma, *, gamma_err=None, diffusion=None, ax=None, title="Relaxation rate") -> Figure:
    """Γ against q², with the fitted line ``Γ = D·q²`` if given."""
    fig, ax = _axes(ax)
    q2 = np.asarray(q, dtype=np.float64) ** 2
    ax.errorbar(q2, gamma, yerr=gamma_err, fmt="o", ms=4, capsize=2, label="fits")
    if diffusion is not None:
        line = np.linspace(0, q2.max() * 1.05, 50)
        ax.plot(
            line, diffusion(np.sqrt(line)), "-", label=f"D = {diffusion.D:.4g} ± {diffusion.D_err:.2g} Å²/s"
        )
        ax.legend(loc="best")
    ax.set_xlabel("q² (1/Å²)")
    ax.set_ylabel("Γ (1/s)")
    ax.set_title(title)
    return fig


def plot_two_time(
    c2, *, dt: float | None = None, ax=None, title="Two-time correlation", vmin=None, vmax=None
):
    """Two-time map ``C(t1, t2)`` of one ROI (a 2-D array)."""
    fig, ax = _axes(ax, figsize=(5.5, 5))
    c2 = np.asarray(c2, dtype=np.float64)
    extent = None if dt is None else (0, c2.shape[1] * dt, c2.shape[0] * dt, 0)
    finite = c2[np.isfinite(c2)]
    if finite.size and (vmin is None or vmax is None):
        lo, hi = np.percentile(finite, [1, 99])
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    shown = ax.imshow(c2, origin="upper", extent=extent, vmin=vmin, vmax=vmax, cmap="inferno")
    fig.colorbar(shown, ax=ax, label="C(t1, t2)")
    unit = "s" if dt else "frame"
    ax.set_xlabel(f"t2 ({unit})")
    ax.set_ylabel(f"t1 ({unit})")
    ax.set_title(title)
    return fig


def summary_page(title: str, fields: dict) -> Figure:
    """A text page: a title and ``key: value`` lines (run metadata, fit results)."""
    fig = Figure(figsize=(8.27, 11.69))
    FigureCanvasAgg(fig)
    fig.text(0.08, 0.95, title, fontsize=16, weight="bold", va="top")
    lines = [f"{key}: {value}" for key, value in fields.items()]
    fig.text(0.08, 0.9, "\n".join(lines), fontsize=9, va="top", family="monospace", wrap=True)
    return fig


#: Pixels per inch of a figure on screen; figures are drawn at :data:`REPORT_DPI` for the report.
SCREEN_DPI = 100
REPORT_DPI = 150


@dataclass(frozen=True)
class DrawnFigure:
    """A figure drawn once, as an RGB PNG: shown in a notebook as that PNG, and a page of the report.

    Attributes
    ----------
    png : bytes
        The drawing.
    size : (float, float)
        The figure's width and height in inches.
    dpi : float
        Pixels per inch of the drawing.
    """

    png: bytes
    size: tuple[float, float]
    dpi: float

    def _repr_png_(self):
        # Shown at the figure's size on screen, drawn sharper for the report.
        return self.png, {
            "width": round(self.size[0] * SCREEN_DPI),
            "height": round(self.size[1] * SCREEN_DPI),
        }


def draw(fig: Figure, *, dpi: float = REPORT_DPI) -> DrawnFigure:
    """Draw ``fig`` once, into an RGB PNG (figures are opaque: no alpha channel)."""
    from PIL import Image

    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    size = tuple(float(x) for x in fig.get_size_inches())
    shown_dpi = fig.dpi
    fig.dpi = dpi
    try:
        canvas.draw()
        pixels = np.asarray(canvas.buffer_rgba())[..., :3]
    finally:
        fig.dpi = shown_dpi
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(pixels)).save(buffer, format="png")
    return DrawnFigure(buffer.getvalue(), size, float(dpi))


class Pages(list):
    """The figures of a report, each drawn once, in order (a list of :class:`DrawnFigure`).

    A notebook shows each figure as the PNG :meth:`show` drew, and :func:`write_report` places those
    same drawings as the pages of the PDF: no figure is drawn twice.

    Examples
    --------
    >>> figures = Pages()
    >>> figures.show(plot_iq(q, intensity))  # doctest: +SKIP
    """

    def show(self, fig: Figure, *, dpi: float = REPORT_DPI) -> DrawnFigure:
        """Draw ``fig``, keep the drawing as the next page and return it (a notebook displays it)."""
        drawn = draw(fig, dpi=dpi)
        self.append(drawn)
        return drawn


def write_report(path, figures, *, title: str | None = None, fields: dict | None = None) -> Path:
    """Write figures to a multi-page PDF, optionally after a summary page.

    Parameters
    ----------
    path : str or Path
        Output ``.pdf``, written whole and then moved into place.
    figures : iterable of DrawnFigure or Figure
        One page each, at its own size: a :class:`DrawnFigure` (e.g. the :class:`Pages` a notebook
        showed) as it was drawn, a :class:`~matplotlib.figure.Figure` drawn now.
    title : str, optional
        Title of a first summary page (with ``fields``).
    fields : dict, optional
        ``key: value`` lines for the summary page.

    Returns
    -------
    Path
    """
    from ._pdf import rgb_png, write_png_pdf

    path = Path(path)
    pages = [] if title is None else [draw(summary_page(title, fields or {}))]
    pages += [f if isinstance(f, DrawnFigure) else draw(f) for f in figures]
    return write_png_pdf(
        path,
        [(rgb_png(p.png), p.size) for p in pages],
        title=title or path.stem,
        creator="jupyterlab_raydata",
    )
