"""pyCHX interoperability: our compressed frames as pyCHX's "FD" (compressed multifile).

``pyCHX.chx_correlationc.cal_g2c(FD, ring_mask, ...)`` and ``cal_c12c`` read frames
through an object with ``beg``, ``end``, ``md['ncols']``, ``md['nrows']`` and
``rdrawframe(i) -> (flat pixel indices, values)``. pyCHX's multifile images have
shape ``(md['ncols'], md['nrows'])`` (its "ncols" is the number of rows), and the
flat indices are row-major, the same as :class:`CompressedFrames`. So::

    from pyCHX.chx_correlationc import cal_g2c
    g2, lags = cal_g2c(PyChxFrames(compressed), labels, num_buf=8)

runs pyCHX's correlator on exactly the data ours sees, as a cross-check. Only
``pyCHX.chx_correlationc`` imports outside the CHX beamline (other pyCHX modules
connect to its databroker at import time); this module itself does not import pyCHX.
"""

from __future__ import annotations

import numpy as np

from .compress import CompressedFrames, compress_frames

__all__ = ["PyChxFrames"]


class PyChxFrames:
    """Present a frame series as pyCHX's compressed-file handler ("FD").

    Parameters
    ----------
    frames : CompressedFrames or frames
        Compressed frames, or any frame input (compressed losslessly on creation).
    beg, end : int, optional
        Frame range pyCHX will iterate, ``[beg, end)``; default all frames.

    Attributes
    ----------
    beg, end : int
        As pyCHX expects (``cal_g2c`` may raise ``beg`` to its ``good_start``).
    md : dict
        ``ncols`` (image rows), ``nrows`` (image columns), and the row/column
        ranges pyCHX's multifile header carries.
    """

    def __init__(self, frames, beg: int = 0, end: int | None = None):
        self.frames = frames if isinstance(frames, CompressedFrames) else compress_frames(frames)[0]
        h, w = self.frames.frame_shape
        self.beg = beg
        self.end = len(self.frames) if end is None else end
        self.md = {
            "ncols": h,
            "nrows": w,
            "rows_begin": 0,
            "rows_end": h,
            "cols_begin": 0,
            "cols_end": w,
        }

    def rdrawframe(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Flat pixel indices (int32) and values of frame ``i``, as pyCHX reads them."""
        p, v = self.frames.sparse_frame(i)
        return np.array(p, dtype=np.int32), np.array(v)

    def rdframe(self, i: int) -> np.ndarray:
        """Dense frame ``i``."""
        return self.frames.frame(i).astype(np.float64)
