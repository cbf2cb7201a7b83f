"""The shipped templates executed by papermill in a real python3 kernel on runs of the demo catalog."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import h5py
import nbformat
import numpy as np
import papermill
import pypdf
import pytest
from PIL import Image

from jupyterlab_raydata import context
from jupyterlab_raydata.jobs.templates import TemplateRegistry, validate_parameters
from jupyterlab_raydata.masks.library import MaskLibrary

XPCS_SUMMARY_KEYS = {
    "template",
    "catalog",
    "uid",
    "scan_id",
    "n_frames",
    "acquire_period_s",
    "mask",
    "n_good_pixels",
    "bad_frames",
    "occupancy",
    "mean_counts",
    "q_A",
    "gamma_per_s",
    "gamma_err_per_s",
    "beta",
    "rings_used_for_D",
    "D_A2_per_s",
    "D_err_A2_per_s",
    "D_note",
    "D_true_A2_per_s",
    "D_relative_error",
    "two_time",
    "xsvs",
}


def execute(name: str, uid: str, out, *, mask: str | None = None, **parameters) -> nbformat.NotebookNode:
    """Run a shipped template on a demo run as a job would: checked parameters plus the injected ones."""
    info = TemplateRegistry([]).get(name)
    values = validate_parameters(info, parameters, mask=mask)
    values.update(catalog="demo", uid=uid, output_dir=str(out))
    out.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(info.path),
        str(out / "notebook.ipynb"),
        parameters=values,
        kernel_name=info.kernel,
        cwd=str(out),
        progress_bar=False,
    )
    return nbformat.read(out / "notebook.ipynb", as_version=4)


def images(nb) -> list[str]:
    """Ids of the cells that show a figure, one entry per figure."""
    return [
        cell.id
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]


def assert_report_holds_the_notebooks_figures(path, nb) -> None:
    """The report is a summary page, then each figure as the notebook showed it, pixel for pixel."""
    shown = [
        base64.b64decode(output["data"]["image/png"])
        for cell in nb.cells
        for output in cell.get("outputs", [])
        if "image/png" in output.get("data", {})
    ]
    pages = pypdf.PdfReader(path).pages
    assert len(pages) == len(shown) + 1
    for page, png in zip(pages[1:], shown, strict=True):
        np.testing.assert_array_equal(
            np.asarray(page.images[0].image), np.asarray(Image.open(io.BytesIO(png)))
        )


def test_quick_look_on_a_demo_run(demo_kernel_env, demo_xpcs_runs, tmp_path):
    run = demo_xpcs_runs[0]
    nb = execute("quick_look", run.uid, tmp_path / "job")
    summary = json.loads((tmp_path / "job" / "summary.json").read_text())
    assert set(summary) == {
        "template",
        "catalog",
        "uid",
        "scan_id",
        "image_key",
        "n_frames",
        "frame_shape",
        "acquire_period_s",
        "mask",
        "frame_sums",
        "bad_frames",
        "mean_counts_per_pixel",
        "geometry",
        "iq",
    }
    frames = np.asarray(context.load_run("demo", run.uid).frames)
    assert (summary["uid"], summary["scan_id"], summary["n_frames"]) == (run.uid, run.scan_id, run.n_frames)
    assert summary["frame_shape"] == list(frames.shape[1:])
    assert len(summary["frame_sums"]) == run.n_frames
    np.testing.assert_array_equal(summary["frame_sums"], frames.sum(axis=(1, 2), dtype=np.float64))
    assert summary["bad_frames"] == []
    assert summary["mean_counts_per_pixel"] == pytest.approx(frames.mean(), rel=1e-12)
    assert summary["geometry"]["beam_center"] == run.truth["geometry"]["beam_center"]
    iq = summary["iq"]
    assert len(iq["q_A"]) == len(iq["intensity"]) == len(iq["n_pixels"]) > 50
    assert sum(iq["n_pixels"]) == frames.shape[1] * frames.shape[2]
    assert images(nb) == ["frame-stats", "average-image", "iq"]


def test_quick_look_reads_a_saved_mask_and_the_first_frames(demo_kernel_env, demo_xpcs_runs, tmp_path):
    run = demo_xpcs_runs[0]
    frames = np.asarray(context.load_run("demo", run.uid).frames[:40])
    good = np.ones(frames.shape[1:], bool)
    good[:30, :50] = False
    MaskLibrary(Path(demo_kernel_env.masks_dir)).save("no-corner", good, {}, overwrite=True)
    nb = execute("quick_look", run.uid, tmp_path / "job", mask="no-corner", max_frames=40)
    summary = json.loads((tmp_path / "job" / "summary.json").read_text())
    assert (summary["mask"], summary["n_frames"], len(summary["frame_sums"])) == ("no-corner", 40, 40)
    np.testing.assert_array_equal(summary["frame_sums"], frames[:, good].sum(axis=1, dtype=np.float64))
    assert summary["mean_counts_per_pixel"] == pytest.approx(frames[:, good].mean(), rel=1e-12)
    assert sum(summary["iq"]["n_pixels"]) == int(good.sum())
    assert images(nb) == ["frame-stats", "average-image", "iq"]


def test_xpcs_saxs_recovers_the_diffusion_coefficient(demo_kernel_env, demo_xpcs_runs, tmp_path):
    run = demo_xpcs_runs[0]
    out = tmp_path / "job"
    nb = execute("xpcs_saxs", run.uid, out)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == XPCS_SUMMARY_KEYS
    assert (summary["uid"], summary["scan_id"], summary["n_frames"]) == (run.uid, run.scan_id, run.n_frames)
    true_d = run.truth["diffusion_A2_per_s"]
    assert summary["D_true_A2_per_s"] == true_d
    assert summary["D_relative_error"] == pytest.approx(summary["D_A2_per_s"] / true_d - 1, rel=1e-12)
    assert abs(summary["D_relative_error"]) < 0.05
    assert 0 < summary["D_err_A2_per_s"] < 0.05 * true_d
    assert summary["D_note"] == ""
    assert len(summary["rings_used_for_D"]) >= 3
    assert (summary["two_time"], summary["xsvs"]) == (True, True)

    n_rings = len(summary["q_A"])
    assert n_rings == 16
    with h5py.File(out / "results.h5", "r") as f:
        assert f.attrs["uid"] == run.uid
        lags = f["lags"][()]
        assert f["g2"].shape == (lags.size, n_rings)
        np.testing.assert_allclose(f["lag_s"][()], lags * summary["acquire_period_s"])
        np.testing.assert_array_equal(f["q"][()], summary["q_A"])
        np.testing.assert_array_equal(f["fits/gamma"][()], summary["gamma_per_s"])
        assert f["diffusion"].attrs["D_A2_per_s"] == summary["D_A2_per_s"]
        np.testing.assert_array_equal(
            np.flatnonzero(f["diffusion/rings_used"][()]) + 1, summary["rings_used_for_D"]
        )
        assert f["two_time"].shape == (n_rings, run.n_frames, run.n_frames)
        assert f["xsvs/contrast"].shape == (4, n_rings)
        assert f["frame_sums"].shape == (run.n_frames,)
        assert f["mask"].shape == f["roi_labels"].shape == f["mean_image"].shape
        # Fitted contrast at one frame agrees with the simulated beta on the rings used for D.
        used = np.flatnonzero(f["diffusion/rings_used"][()])
        assert np.median(f["fits/beta"][()][used]) == pytest.approx(run.truth["beta"], rel=0.1)
        assert np.median(f["xsvs/contrast"][0, used]) == pytest.approx(run.truth["beta"], rel=0.1)

    figures = images(nb)
    assert figures == ["bad-frames", "rings", "iq", "g2", "diffusion", "two-time", "two-time", "xsvs"]
    assert_report_holds_the_notebooks_figures(out / "report.pdf", nb)


def test_xpcs_saxs_says_when_a_run_cannot_measure_d(demo_kernel_env, demo_xpcs_runs, tmp_path):
    """The slowest run (no decay resolved) with two-time and XSVS switched off by parameters."""
    run = demo_xpcs_runs[-1]
    assert run.resolved_pixels == 0
    out = tmp_path / "job"
    nb = execute("xpcs_saxs", run.uid, out, run_two_time=False, run_xsvs=False, num_rings=8)
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary) == XPCS_SUMMARY_KEYS
    assert (summary["D_A2_per_s"], summary["D_err_A2_per_s"], summary["D_relative_error"]) == (
        None,
        None,
        None,
    )
    assert summary["D_true_A2_per_s"] == run.truth["diffusion_A2_per_s"]
    assert len(summary["rings_used_for_D"]) < 3
    assert summary["D_note"] == (
        f"only {len(summary['rings_used_for_D'])} ring(s) resolve the decay (need 3): "
        "the dynamics are too slow or too fast for this run's frame rate and length"
    )
    assert (summary["two_time"], summary["xsvs"], len(summary["q_A"])) == (False, False, 8)
    with h5py.File(out / "results.h5", "r") as f:
        assert "two_time" not in f and "xsvs" not in f
        assert "D_A2_per_s" not in f["diffusion"].attrs
        assert f["g2"].shape[1] == 8
    figures = images(nb)
    assert figures == ["bad-frames", "rings", "iq", "g2", "diffusion"]
    assert_report_holds_the_notebooks_figures(out / "report.pdf", nb)
