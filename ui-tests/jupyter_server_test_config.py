"""JupyterLab for the Galata tests: no token, a throw-away root, Raydata state and catalogs.

Two catalogs: the embedded demo, and "beamline", an empty tiled SQLite catalog that the tests fill
with a real RunEngine (``write_run.py``) while the page is open. Its folder is shared with the tests
through ``RAYDATA_UI_ROOT`` (set by ``playwright.config.js``).
"""

import os
import shutil
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

from jupyterlab_raydata.catalog.demo import create_sqlite_catalog

configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter passes in)

root = Path(os.environ["RAYDATA_UI_ROOT"])
shutil.rmtree(root, ignore_errors=True)
create_sqlite_catalog(root / "beamline")

c.ServerApp.allow_root = True  # noqa: F821
c.ServerApp.log_level = "ERROR"  # noqa: F821 (keeps the test output to the failures that matter)
c.Raydata.data_dir = str(root / "data")  # noqa: F821
# Jobs: a template that draws, then waits on a file the tests create (a job caught running with a
# figure), and syncs often enough that a new run is pushed within a couple of seconds.
c.Raydata.template_paths = [str(Path(__file__).parent / "templates")]  # noqa: F821
c.Raydata.sync_interval = 1.0  # noqa: F821
c.Raydata.catalogs = {  # noqa: F821
    "demo": {"kind": "demo"},
    "beamline": {"kind": "sqlite", "path": str(root / "beamline" / "catalog.db"), "refresh_seconds": 2},
}
