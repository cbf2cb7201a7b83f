"""ipywidgets for notebooks: the run browser and the mask editor."""

from .mask_editor import MaskEditor
from .run_browser import RunBrowser

__all__ = ["MaskEditor", "RunBrowser"]
