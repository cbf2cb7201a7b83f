import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


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
