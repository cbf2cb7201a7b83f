"""The server extension: the one ``Raydata`` configuration section, and the services built from it.

:class:`Raydata` is a Jupyter Server ``ExtensionApp``: its traits are ``c.Raydata.…`` in
``jupyter_server_config.py``; :meth:`Raydata.initialize_settings` builds the services once (catalogs,
templates, the job store, the executor, the dispatcher, the catalog watcher), handlers reach them
through the ``raydata`` web-app setting, and :meth:`Raydata.stop_extension` stops them on shutdown.
"""

import getpass
import hashlib
import os
import socket
from pathlib import Path

from jupyter_core.paths import jupyter_data_dir
from jupyter_server.extension.application import ExtensionApp
from traitlets import Dict, Float, Int, List, Set, TraitError, Unicode, default, validate

from . import __version__
from .handlers import route_table


class Raydata(ExtensionApp):
    """Settings read from ``c.Raydata.…`` in ``jupyter_server_config.py``, and the running services."""

    name = "raydata"
    load_other_extensions = True

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

    mask_upload_max_mb = Float(
        100.0,
        help="Largest mask upload accepted, in MB; a ZIP may inflate to 8 times this.",
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

    owner = Unicode(
        help=(
            "The user this server belongs to: it runs only this user's jobs. Default: $JUPYTERHUB_USER "
            "under JupyterHub, else the operating-system user."
        ),
    ).tag(config=True)

    admin_users = Set(
        Unicode(), help="Users who may cancel, move or re-run anyone's jobs (others only their own)."
    ).tag(config=True)

    job_store_url = Unicode(
        "",
        help=(
            "SQLAlchemy URL of the job store. Default: a SQLite file in data_dir. Point every user's "
            "server at one PostgreSQL database (postgresql+psycopg://…) to share one queue and its limits."
        ),
    ).tag(config=True)

    max_running_jobs = Int(2, help="Jobs running at once, across every server on the job store.").tag(
        config=True
    )

    max_running_jobs_per_user = Int(2, help="Jobs one user may have running at once.").tag(config=True)

    auto_pipelines = Dict(
        Unicode(),
        help=(
            "Automatic analysis: start-document auto_pipeline value (or shell pattern) -> template name. "
            "Templates also declare the pipelines they serve; this mapping wins."
        ),
    ).tag(config=True)

    sync_interval = Float(
        5.0,
        help=(
            "Seconds between the server's own syncs of the catalogs browsed recently, so new runs are "
            "noticed with nobody looking."
        ),
    ).tag(config=True)

    auto_sync_interval = Float(
        0.5,
        help=(
            "Seconds between looks at a catalog with automatic analysis on: a run's stop document becomes "
            "a queued job within about this time. A look that finds nothing new costs two small requests."
        ),
    ).tag(config=True)

    @default("owner")
    def _default_owner(self):
        return os.environ.get("JUPYTERHUB_USER") or getpass.getuser()

    @validate("max_running_jobs", "max_running_jobs_per_user")
    def _check_limit(self, proposal):
        if proposal["value"] < 1:
            raise TraitError(f"c.Raydata.{proposal['trait'].name} must be at least 1")
        return proposal["value"]

    @validate("sync_interval", "auto_sync_interval")
    def _check_interval(self, proposal):
        if not proposal["value"] > 0:
            raise TraitError(f"c.Raydata.{proposal['trait'].name} must be a number of seconds above 0")
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

    # -- the running server ---------------------------------------------------------------------------

    def initialize_settings(self):
        from .kernel_settings import SETTINGS_ENV
        from .services import Services

        root_dir = self.serverapp.root_dir
        # Kernels started from JupyterLab inherit this, so notebooks see the server's catalogs and masks.
        os.environ[SETTINGS_ENV] = self.kernel_settings(root_dir).to_env()
        self.services = Services.start(self, self.serverapp)
        self.log.info(
            "jupyterlab_raydata %s: routes under /raydata/api/, jobs of %s on %s",
            __version__,
            self.owner,
            self.executor,
        )

    def initialize_handlers(self):
        self.handlers.extend(route_table())

    async def stop_extension(self):
        services = getattr(self, "services", None)
        if services is not None:
            services.stop()

    @property
    def queue(self):
        return self.services.queue

    def requester(self, user) -> str:
        """Who is asking, for ownership of jobs.

        jupyter_server's own identity providers (token, password) know no user names: every token user
        gets a new anonymous name, so on a plain server every request is the server's owner. Under
        JupyterHub (or any other identity provider) the names are real.
        """
        if type(self.serverapp.identity_provider).__module__ == "jupyter_server.auth.identity":
            return self.owner
        return user.username

    @property
    def server_key(self) -> str:
        """The same for every start of this server, different for other servers on a shared store."""
        text = f"{socket.gethostname()}|{self.owner}|{Path(self.data_dir).expanduser().resolve()}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def kernel_settings(self, root_dir: str | Path):
        """What a notebook kernel needs of these settings, with paths made absolute."""
        from .kernel_settings import KernelSettings

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
