"""Fixtures shared by the job tests."""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The SQLAlchemy URL of the throwaway PostgreSQL that scripts/postgres.sh starts (left running)."""
    script = str(ROOT / "scripts" / "postgres.sh")
    started = subprocess.run([script, "start"], capture_output=True, text=True)
    assert started.returncode == 0, started.stderr
    return subprocess.run([script, "url"], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def postgres_url(postgres_server):
    """The SQLAlchemy URL of a new, empty schema on that server for one test (dropped afterwards).

    A schema (through the connection's ``search_path``) rather than a database: creating a database takes
    half a second, a schema a millisecond. Any process that connects with the URL sees only this schema.
    """
    name = f"raydata_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
    url = make_url(postgres_server).update_query_dict({"options": f"-csearch_path={name}"})
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql("SET lock_timeout = '30s'")
        connection.exec_driver_sql(f'DROP SCHEMA "{name}" CASCADE')
    admin.dispose()


@pytest.fixture(scope="session")
def jobs_demo_catalog(tmp_path_factory) -> Path:
    """The session's small demo catalog (the catalog tests build the same folder: it is built once)."""
    from jupyterlab_raydata.catalog.demo import ensure_demo_catalog

    path, _ = ensure_demo_catalog(tmp_path_factory.getbasetemp() / "shared-demo", 9)
    return path


@dataclass(frozen=True)
class DemoRun:
    """An XPCS run of the demo catalog and the truth it was simulated with."""

    uid: str
    scan_id: int
    n_frames: int
    truth: dict
    resolved_pixels: int


@pytest.fixture(scope="session")
def demo_kernel_settings(tmp_path_factory):
    """Kernel settings with no catalog configured, so a kernel opens the embedded demo catalog (30 runs),
    built here once for the session under its own data folder."""
    from jupyterlab_raydata import context

    root = tmp_path_factory.mktemp("template-demo")
    settings = context.KernelSettings(catalogs={}, data_dir=str(root / "data"), masks_dir=str(root / "masks"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(context.SETTINGS_ENV, settings.to_env())
        context.open_catalog("demo").source()
    return settings


@pytest.fixture
def demo_kernel_env(demo_kernel_settings, monkeypatch):
    """The demo settings in this process's environment, which kernels started by the test inherit."""
    from jupyterlab_raydata import context

    monkeypatch.setenv(context.SETTINGS_ENV, demo_kernel_settings.to_env())
    return demo_kernel_settings


@pytest.fixture(scope="session")
def demo_xpcs_runs(demo_kernel_settings) -> list[DemoRun]:
    """The demo catalog's XPCS runs, best resolved first: ranked by how many detector pixels have a true
    relaxation time 1/(2Dq²) between one frame and a tenth of the run, the window in which a run of
    this length measures a decay."""
    import numpy as np

    from jupyterlab_raydata import context
    from jupyterlab_raydata.analysis import geometry

    runs = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(context.SETTINGS_ENV, demo_kernel_settings.to_env())
        catalog = context.open_catalog("demo")
        for row in catalog.runs([], limit=1000).runs:
            start = catalog.source().fetch(row.uid).start
            truth = start.get("synthetic_truth")
            if truth is None:
                continue
            q = geometry.q_map(tuple(truth["shape"]), geometry.geometry_from_start_doc(start))
            with np.errstate(divide="ignore"):
                tau = 1 / (2 * truth["diffusion_A2_per_s"] * q**2)
            dt, n_frames = start["acquire period"], start["number of images"]
            resolved = int(((tau >= dt) & (tau <= 0.1 * n_frames * dt)).sum())
            runs.append(DemoRun(start["uid"], start["scan_id"], n_frames, truth, resolved))
    return sorted(runs, key=lambda r: (-r.resolved_pixels, r.scan_id))
