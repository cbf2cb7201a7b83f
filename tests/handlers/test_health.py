import getpass
import json
import os

import pytest

import jupyterlab_raydata


async def test_health_reports_version_catalogs_and_executor(jp_fetch):
    response = await jp_fetch("raydata", "api", "health")
    assert response.code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    body = json.loads(response.body)
    assert body == {
        "version": jupyterlab_raydata.__version__,
        "catalogs": ["demo"],
        "executor": "LocalCluster",
        "user": os.environ.get("JUPYTERHUB_USER") or getpass.getuser(),
    }


class TestConfigured:
    @pytest.fixture
    def raydata_config(self, tmp_path):
        return {
            "data_dir": str(tmp_path / "raydata-data"),
            "cluster": {"module": "dask_jobqueue", "class": "SLURMCluster", "adapt": {"maximum": 3}},
            "catalogs": {"chx": {"kind": "sqlite", "path": str(tmp_path / "chx.db")}},
        }

    async def test_health_reflects_configuration(self, jp_fetch):
        body = json.loads((await jp_fetch("raydata", "api", "health")).body)
        assert body["executor"] == "SLURMCluster (adaptive 0 to 3 jobs)"
        assert body["catalogs"] == ["chx"]
