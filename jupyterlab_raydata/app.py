"""The server extension: the one ``Raydata`` configuration section, and the wiring of its parts."""

import os
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from traitlets import Dict, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

from . import __version__
from .handlers import setup_handlers


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

    masks_dir = Unicode(
        "raydata-masks",
        help="Folder, relative to the server's root directory, of the saved-mask library.",
    ).tag(config=True)

    cluster = Dict(
        help=(
            "Where analysis jobs run, in dask-labextension's factory shape: {'module', 'class', 'args', "
            "'kwargs', 'adapt'} of a cluster class (default a dask LocalCluster of 2 one-thread workers; "
            "e.g. {'module': 'dask_jobqueue', 'class': 'SLURMCluster', 'adapt': {'maximum': 4}}, whose "
            "queue settings come from dask's jobqueue.yaml), or {'address': 'tcp://…'} of a running "
            "scheduler."
        ),
    ).tag(config=True)

    @validate("cluster")
    def _check_cluster(self, proposal):
        from .jobs.executors import ClusterConfig

        try:
            ClusterConfig.parse(proposal["value"])
        except ValueError as exc:
            raise TraitError(str(exc)) from None
        return proposal["value"]

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

    @property
    def executor(self) -> str:
        """Where jobs run, in words (e.g. ``LocalCluster``)."""
        from .jobs.executors import ClusterConfig

        return ClusterConfig.parse(self.cluster).describe()

    def kernel_settings(self, root_dir: str | Path):
        """What a notebook kernel needs of these settings, with paths made absolute."""
        from .context import KernelSettings

        root = Path(root_dir).expanduser()
        return KernelSettings(
            catalogs=self.catalogs,
            data_dir=str(Path(self.data_dir).expanduser().resolve()),
            masks_dir=str((root / self.masks_dir).resolve()),
        )


def from_config_files() -> tuple[Raydata, str]:
    """The ``Raydata`` settings and the server's root directory as the Jupyter server's configuration
    files give them: for the command line and kernels, which run without a server."""
    from jupyter_server.serverapp import ServerApp

    app = ServerApp()
    app.load_config_file()
    return Raydata(config=app.config), app.root_dir


def load(serverapp) -> Raydata:
    """Read the configuration and register the HTTP routes on the running server."""
    from .context import SETTINGS_ENV

    raydata = Raydata(parent=serverapp)
    # Kernels started from JupyterLab inherit this, so notebooks see the server's catalogs and masks.
    os.environ[SETTINGS_ENV] = raydata.kernel_settings(serverapp.root_dir).to_env()
    setup_handlers(serverapp.web_app, raydata)
    serverapp.log.info(
        "jupyterlab_raydata %s: routes under /raydata/api/, executor %s", __version__, raydata.executor
    )
    return raydata
