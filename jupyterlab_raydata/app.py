"""The server extension: the one ``Raydata`` configuration section, and the wiring of its parts."""

from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import Dict, Enum, List, Unicode, default
from traitlets.config import Configurable

from . import __version__
from .handlers import setup_handlers

EXECUTORS = ("local", "slurm", "pbs")


class Raydata(Configurable):
    """Settings read from ``c.Raydata.…`` in ``jupyter_server_config.py``."""

    catalogs = Dict(
        help=(
            "Named run catalogs, e.g. {'chx': {'kind': 'tiled', 'uri': 'https://…/api', "
            "'path': 'chx/raw'}}. With none configured, an embedded demo catalog is used."
        ),
    ).tag(config=True)

    data_dir = Unicode(
        help="Where Raydata keeps its own state: the demo catalog, indexes, preview caches, the job store.",
    ).tag(config=True)

    results_dir = Unicode(
        "raydata-results",
        help="Folder, relative to the server's root directory, where executed notebooks and reports land.",
    ).tag(config=True)

    template_paths = List(
        Unicode(),
        help="Extra folders searched for analysis notebook templates, before the shipped ones.",
    ).tag(config=True)

    executor = Enum(
        EXECUTORS,
        default_value="local",
        help="Where analysis jobs run: 'local' (a dask LocalCluster) or a batch queue through dask-jobqueue.",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self):
        return str(Path(jupyter_data_dir()) / "raydata")

    @property
    def version(self) -> str:
        return __version__

    @property
    def registry(self):
        """The named catalogs (:class:`~jupyterlab_raydata.catalog.registry.CatalogRegistry`), made on
        first use so that a server that never lists runs never imports tiled."""
        if self._registry is None:
            from .catalog.registry import CatalogRegistry

            self._registry = CatalogRegistry(self.catalogs, self.data_dir)
        return self._registry

    _registry = None

    @property
    def catalog_names(self) -> list[str]:
        return self.registry.names


def load(serverapp) -> Raydata:
    """Read the configuration and register the HTTP routes on the running server."""
    raydata = Raydata(parent=serverapp)
    setup_handlers(serverapp.web_app, raydata)
    serverapp.log.info(
        "jupyterlab_raydata %s: routes under /raydata/api/, executor %s", __version__, raydata.executor
    )
    return raydata
