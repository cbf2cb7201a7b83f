"""Shared catalogs for the catalog tests: built once per session, in pytest's temporary folder."""

from pathlib import Path

import pytest

from jupyterlab_raydata.catalog.demo import create_sqlite_catalog, ensure_demo_catalog

DEMO_RUNS = 9


def pytest_configure(config):
    # tiled's in-process client uses starlette's TestClient, which warns about httpx on every import.
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory) -> Path:
    """A small demo catalog (SQLite, TiledWriter, HDF5 frames), shared by every test of the session."""
    path, _ = ensure_demo_catalog(tmp_path_factory.getbasetemp() / "shared-demo", DEMO_RUNS)
    return path


@pytest.fixture
def sqlite_catalog(tmp_path):
    """An empty SQLite tiled catalog: ``(catalog file, TiledWriter, writable client of its runs)``."""
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter

    client = create_sqlite_catalog(tmp_path / "cat")
    return tmp_path / "cat" / "catalog.db", TiledWriter(client), client
