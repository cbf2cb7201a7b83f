"""Take a run with a real bluesky RunEngine and ophyd's simulated detector into a tiled SQLite catalog.

    python write_run.py CATALOG_DIR SAMPLE

The UI tests call it while JupyterLab is open, to check that new runs show up by themselves.
"""

import sys
from pathlib import Path

from bluesky import RunEngine
from bluesky.plans import count
from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
from ophyd.sim import det

from jupyterlab_raydata.catalog.demo import create_sqlite_catalog


def main(directory: str, sample: str) -> None:
    engine = RunEngine({})
    engine.subscribe(TiledWriter(create_sqlite_catalog(Path(directory))))
    (uid,) = engine(count([det], num=2), sample=sample, owner="uitest", **{"sequence id": 1})
    print(uid)


if __name__ == "__main__":
    main(*sys.argv[1:3])
