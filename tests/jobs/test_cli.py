"""``jupyter raydata templates`` and ``jupyter raydata run``: the runner from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from notebooks import write_template

from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.catalog.search import RunSearch
from jupyterlab_raydata.cli import parse_param


@pytest.fixture
def configured(tmp_path, jobs_demo_catalog):
    """A Jupyter configuration folder naming the demo catalog and a folder of test templates."""
    templates = tmp_path / "templates"
    templates.mkdir()
    write_template(templates, "fails", ["# Load", "x = 1", "# Fit", "raise RuntimeError('no rings left')"])
    (templates / "broken.ipynb").write_text("[]")
    config = tmp_path / "jupyter-config"
    config.mkdir()
    raydata = {
        "catalogs": {"demo": {"kind": "sqlite", "path": str(jobs_demo_catalog)}},
        "data_dir": str(tmp_path / "data"),
        "template_paths": [str(templates)],
    }
    (config / "jupyter_server_config.json").write_text(json.dumps({"Raydata": raydata}))
    return {**os.environ, "JUPYTER_CONFIG_DIR": str(config)}


def raydata(env, *args, cwd=None) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "jupyterlab_raydata.cli", *args]
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def run(env, template: str, uid: str, out: Path, *options: str) -> subprocess.CompletedProcess:
    """``raydata run`` of ``template`` on a run of the demo catalog, writing under ``out``."""
    return raydata(env, "run", template, "--catalog", "demo", "--uid", uid, *options, "--out", str(out))


def xpcs_uid(catalog_path, tmp_path) -> str:
    registry = CatalogRegistry({"demo": {"kind": "sqlite", "path": str(catalog_path)}}, tmp_path / "state")
    return registry.get("demo").search(RunSearch(q="plan_name=count", sort="scan_id", limit=1)).runs[0].uid


def test_parameters_are_json_where_they_can_be():
    assert parse_param("num_rings=8") == ("num_rings", 8)
    assert parse_param("run_two_time=false") == ("run_two_time", False)
    assert parse_param("q_max=0.0016") == ("q_max", 0.0016)
    assert parse_param("g2_model=stretched") == ("g2_model", "stretched")
    assert parse_param("beam_center=[64, 60.5]") == ("beam_center", [64, 60.5])


def test_templates_lists_broken_ones_with_their_error(configured):
    listed = raydata(configured, "templates")
    assert listed.returncode == 0
    lines = {line.split()[0]: line for line in listed.stdout.splitlines()}
    assert set(lines) == {"broken", "fails", "quick_look", "xpcs_saxs"}
    assert "BROKEN: not a notebook" in lines["broken"]
    assert lines["quick_look"].startswith("quick_look       Quick look: average image, frame sums, I(q)")
    assert raydata(configured, "templates", "--strict").returncode == 1


def test_run_executes_a_template_with_a_progress_bar(configured, jobs_demo_catalog, tmp_path):
    uid = xpcs_uid(jobs_demo_catalog, tmp_path)
    out = tmp_path / "results"
    done = run(configured, "quick_look", uid[:8], out, "--param", "iq_bins=50")  # a prefix names the run
    assert done.returncode == 0, done.stderr
    notebook = done.stdout.strip().removeprefix("Completed: ")
    assert notebook.startswith(str(out / "demo")) and notebook.endswith("/notebook.ipynb")
    status = json.loads((Path(notebook).parent / "status.json").read_text())
    total = status["cells_total"]
    assert status["state"] == "completed" and status["cells_done"] == total
    assert f"{total}/{total} [" in done.stderr  # the progress bar, at its end
    nb = nbformat.read(notebook, as_version=4)
    injected = next(c for c in nb.cells if "injected-parameters" in c.metadata.get("tags", []))
    assert "iq_bins = 50" in injected.source and f'uid = "{uid}"' in injected.source
    # The kernel read the frames from the file the run's record names, resolved before the job started.
    spec = json.loads((Path(notebook).parent / "job.json").read_text())
    [segment] = spec["run"]["files"]["segments"]
    assert segment["path"] == str(jobs_demo_catalog.parent / "data" / f"{uid}.h5")
    log = (Path(notebook).parent / "log.txt").read_text()
    assert f"frames read from {segment['path']} (from the tiled data source)" in log


def test_run_refuses_bad_parameters_before_running(configured, jobs_demo_catalog, tmp_path):
    uid = xpcs_uid(jobs_demo_catalog, tmp_path)
    refused = run(configured, "quick_look", uid, tmp_path / "r", "--param", "iq_bins=-5")
    assert refused.returncode == 2
    assert refused.stderr.startswith("Invalid parameter: iq_bins: -5 is less than the minimum of ")
    assert not (tmp_path / "r").exists()


def test_a_failing_template_exits_non_zero_with_the_summary(configured, jobs_demo_catalog, tmp_path):
    uid = xpcs_uid(jobs_demo_catalog, tmp_path)
    failed = run(configured, "fails", uid, tmp_path / "r", "--quiet")
    assert failed.returncode == 1
    assert "Failed: Cell [4] (Fit): RuntimeError: no rings left" in failed.stderr
    assert "Partial notebook: " in failed.stderr
