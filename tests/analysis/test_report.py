import numpy as np
import pytest
from matplotlib.figure import Figure

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
    path = report.write_report(tmp_path / "r.pdf", pages, title="Run 42", fields={"uid": "abc", "D": 1.0})
    content = path.read_bytes()
    assert content.startswith(b"%PDF")
    assert content.count(b"/Type /Page\n") + content.count(b"/Type /Page ") == 3
    assert _no_pyplot_figures()


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
