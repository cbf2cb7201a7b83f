"""ipywidgets for notebooks: the run browser (more to come: mask editor, g2 viewer)."""

from .run_browser import RunBrowser

__all__ = ["RunBrowser"]
