"""JupyterLab extension and server for X-ray light-source analysis (stage, mask, analyze, report)."""

try:
    from ._version import __version__
except ImportError:  # running from a source tree that was never built
    __version__ = "0.0.0+unknown"


def _jupyter_labextension_paths():
    return [{"src": "labextension", "dest": "jupyterlab-raydata"}]


def _jupyter_server_extension_points():
    from .app import Raydata

    return [{"module": "jupyterlab_raydata", "app": Raydata}]
