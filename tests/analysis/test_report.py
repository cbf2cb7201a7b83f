import io

import numpy as np
import pypdf
import pytest
from matplotlib.figure import Figure
from PIL import Image

from jupyterlab_raydata.analysis import fits, report


@pytest.fixture
def data(rng):
    image = rng.gamma(2.0, 1.0, (40, 50))
    labels = np.zeros((40, 50), int)
    labels[5:10, 5:20] = 1
    labels[20:30, 10:15] = 2
    mask = np.ones((40, 50), bool)
    mask[0] = False
    lag_s = np.concatenate([[0], np.geomspace(0.01, 10, 30)])
    g2 = np.column_stack([fits.g2_model(lag_s, 0.2, g) for g in (1.0, 3.0)])
    return image, labels, mask, lag_s, g2


def _no_pyplot_figures():
    import sys

    pyplot = sys.modules.get("matplotlib.pyplot")
    return pyplot is None or not pyplot.get_fignums()


def test_each_standard_figure(data):
    image, labels, mask, lag_s, g2 = data
    fitted = fits.fit_g2(lag_s, g2)
    q = np.array([1e-3, 2e-3])
    diffusion = fits.fit_diffusion(q, [f.gamma for f in fitted])
    figures = [
        report.plot_average_image(image, mask=mask, labels=labels),
        report.plot_iq(q, [10.0, 2.0]),
        report.plot_frame_sums(np.arange(100.0), bad_frames=[3, 50], dt=0.01),
        report.plot_g2(lag_s, g2, q=q, fits=fitted),
        report.plot_gamma_q2(q, [f.gamma for f in fitted], diffusion=diffusion),
        report.plot_two_time(np.eye(20) + 1, dt=0.1),
    ]
    for fig in figures:
        assert isinstance(fig, Figure) and fig.axes
        fig.canvas.draw()  # renders without error on Agg
    g2_fig = figures[3]
    assert len([ax for ax in g2_fig.axes if ax.get_visible() and ax.lines]) == 2
    legend = [t.get_text() for t in figures[4].axes[0].get_legend().get_texts()]
    assert any(text.startswith("D = ") for text in legend)
    assert figures[2].axes[0].get_legend().get_texts()[-1].get_text() == "bad frames (2)"
    assert _no_pyplot_figures()


def test_draws_into_given_axes():
    fig, axes = report.new_figure(1, 2)
    assert report.plot_iq([1e-3, 2e-3], [3.0, 1.0], ax=axes[0, 1]) is fig
    assert axes[0, 1].lines and not axes[0, 0].lines


def test_multipage_pdf(tmp_path, data):
    image, _labels, _mask, lag_s, g2 = data
    pages = [report.plot_average_image(image), report.plot_g2(lag_s, g2)]
    title = "Run 42: D (Å²/s) ± β"  # any character, in the document's information too
    path = report.write_report(tmp_path / "r.pdf", pages, title=title, fields={"uid": "abc", "D": 1.0})
    pdf = pypdf.PdfReader(path)
    assert len(pdf.pages) == 3
    assert (pdf.metadata.title, pdf.metadata.creator) == (title, "jupyterlab_raydata")
    sizes = [float(x) for page in pdf.pages for x in page.mediabox[2:]]
    inches = [8.27, 11.69, *pages[0].get_size_inches(), *pages[1].get_size_inches()]  # A4 first
    assert sizes == pytest.approx([72 * x for x in inches], abs=1e-3)
    assert not list(tmp_path.glob(".*"))  # written whole, then moved into place
    assert _no_pyplot_figures()


def test_a_report_of_shown_figures_draws_none_of_them_again(tmp_path, data, monkeypatch):
    image, _labels, _mask, lag_s, g2 = data
    drawn = []
    draw = Figure.draw
    monkeypatch.setattr(Figure, "draw", lambda fig, renderer: (drawn.append(fig), draw(fig, renderer))[1])
    figures = report.Pages()
    figures.show(report.plot_average_image(image))
    figures.show(report.plot_g2(lag_s, g2), dpi=80)
    assert len(drawn) == 2
    path = report.write_report(tmp_path / "r.pdf", figures, title="Run 42", fields={"uid": "abc"})
    assert len(drawn) == 3  # the summary page only
    pdf = pypdf.PdfReader(path)
    assert len(pdf.pages) == 3
    for page, shown in zip(pdf.pages[1:], figures, strict=True):
        # The page is the drawing the notebook showed, pixel for pixel, at the figure's size.
        pixels = np.asarray(Image.open(io.BytesIO(shown.png)))
        np.testing.assert_array_equal(np.asarray(page.images[0].image), pixels)
        assert pixels.shape[:2] == (round(shown.size[1] * shown.dpi), round(shown.size[0] * shown.dpi))
        assert [float(x) for x in page.mediabox[2:]] == pytest.approx([72 * x for x in shown.size], abs=1e-3)


def test_a_shown_figure_displays_at_screen_size(data):
    image, *_ = data
    shown = report.Pages().show(report.plot_average_image(image))
    png, size = shown._repr_png_()
    assert png == shown.png and png.startswith(b"\x89PNG")
    assert size == {"width": round(shown.size[0] * 100), "height": round(shown.size[1] * 100)}
    assert Image.open(io.BytesIO(png)).mode == "RGB"


@pytest.mark.parametrize("panels", [1, 3, 4, 5, 16])
def test_g2_panels_fit_their_page_without_overlapping(panels):
    lag_s = np.concatenate([[0], np.geomspace(0.005, 0.9, 40)])
    g2 = np.column_stack([fits.g2_model(lag_s, 0.2, g) for g in np.linspace(1, 30, panels)])
    q = np.linspace(1e-3, 9e-3, panels)
    fig = report.plot_g2(lag_s, g2, q=q, fits=fits.fit_g2(lag_s, g2), title="g2, scan 90001")
    renderer = fig.canvas.get_renderer()
    fig.canvas.draw()
    page = fig.bbox
    boxes = [ax.get_tightbbox(renderer) for ax in fig.axes if ax.get_visible()]
    title = fig._suptitle.get_window_extent(renderer)
    assert len(boxes) == panels
    for i, box in enumerate(boxes):
        assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
        assert not box.overlaps(title)
        assert not any(box.overlaps(other) for other in boxes[i + 1 :])
