"""JupyterLab for the Galata tests: no token, a throw-away root and Raydata data directory."""

import tempfile
from pathlib import Path

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter passes in)

c.ServerApp.allow_root = True  # noqa: F821
c.Raydata.data_dir = str(Path(tempfile.mkdtemp(prefix="raydata-ui-")) / "data")  # noqa: F821
c.ServerApp.log_level = "ERROR"  # noqa: F821 (keeps the test output to the failures that matter)
