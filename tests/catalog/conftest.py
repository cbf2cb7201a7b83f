"""Catalogs for the catalog tests (the shared demo catalog is in ``tests/conftest.py``)."""

import pytest

from jupyterlab_raydata.catalog.demo import create_sqlite_catalog


def pytest_configure(config):
    # tiled's in-process client uses starlette's TestClient, which warns about httpx on every import.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture
def sqlite_catalog(tmp_path):
    """An empty SQLite tiled catalog: ``(catalog file, TiledWriter, writable client of its runs)``."""
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

    client = create_sqlite_catalog(tmp_path / "cat")
    return tmp_path / "cat" / "catalog.db", TiledWriter(client), client
