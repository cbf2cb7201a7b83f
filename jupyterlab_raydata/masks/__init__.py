"""The mask library and composer: saved masks as files, uploads, recipes, previews and exports.

Other parts read saved masks through :class:`~.library.MaskLibrary`::

    from jupyterlab_raydata.masks import MaskLibrary

    mask = MaskLibrary(masks_dir).load("sample-A")  # 2-D bool, True = pixel used
"""

from .library import MaskLibrary, check_name

__all__ = ["MaskLibrary", "check_name"]
