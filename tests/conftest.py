import time

import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)

#: Runs in the session's shared demo catalog.
DEMO_RUNS = 9


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory):
    """The session's demo catalog (tiled SQLite, TiledWriter, HDF5 frames), built once and shared by
    every test directory: its ``catalog.db`` path."""
    from jupyterlab_raydata.catalog.demo import ensure_demo_catalog

    path, _ = ensure_demo_catalog(tmp_path_factory.getbasetemp() / "shared-demo", DEMO_RUNS)
    return path


@pytest.fixture(scope="session")
def demo_runs(demo_catalog) -> int:
    """How many runs :func:`demo_catalog` holds."""
    return DEMO_RUNS


@pytest.fixture
def raydata_config(tmp_path):
    """Settings for the ``Raydata`` section; tests extend this dict before the server starts."""
    return {"data_dir": str(tmp_path / "raydata-data")}


@pytest.fixture
def jp_server_config(raydata_config):
    return {
        "ServerApp": {"jpserver_extensions": {"jupyterlab_raydata": True}},
        "Raydata": raydata_config,
    }


@pytest.fixture
def new_york(monkeypatch):
    """Run the test in the facility's time zone, whatever the machine's (CI runs in UTC, where local
    time and UTC cannot be told apart)."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
