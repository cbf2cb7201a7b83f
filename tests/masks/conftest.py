"""A mask service over the shared demo catalog, and one of its XPCS runs."""

import pytest

from jupyterlab_raydata.catalog.demo import ensure_demo_catalog
from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.masks.library import MaskLibrary
from jupyterlab_raydata.masks.service import MaskService

# The same folder and size as the catalog tests' fixture, so a full test run builds it once.
DEMO_RUNS = 9


def pytest_configure(config):
    config.addinivalue_line("filterwarnings", "ignore:Using `httpx` with `starlette.testclient`")


@pytest.fixture(scope="session")
def demo_catalog(tmp_path_factory):
    path, _ = ensure_demo_catalog(tmp_path_factory.getbasetemp() / "shared-demo", DEMO_RUNS)
    return path


@pytest.fixture(scope="session")
def registry(demo_catalog, tmp_path_factory):
    return CatalogRegistry(
        {"demo": {"kind": "sqlite", "path": str(demo_catalog)}}, tmp_path_factory.mktemp("data")
    )


@pytest.fixture(scope="session")
def xpcs_uid(registry):
    """The newest run with detector images."""
    catalog = registry.get("demo")
    for row in catalog.runs([], limit=DEMO_RUNS).runs:
        if catalog.run(row.uid).image_keys:
            return row.uid
    raise AssertionError("the demo catalog has no XPCS run")


@pytest.fixture
def service(registry, tmp_path):
    return MaskService(
        MaskLibrary(tmp_path / "masks"), registry, tmp_path / "data", 1 << 20, root_dir=tmp_path
    )
