"""Detector preview images: one frame or an average, scaled, colour-mapped, PNG-encoded, cached on disk."""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from .sources import FrameSeries

#: Bump when the rendering changes, so cached files from older versions are not served.
RENDER_VERSION = 1
#: An average reads at most this many frames, evenly spread, so a 10,000-frame series stays quick.
AVERAGE_FRAMES = 64
COLORMAP = "viridis"


@dataclass(frozen=True)
class PreviewParams:
    """What a preview shows; every field is part of the cache key."""

    key: str
    kind: Literal["average", "frame"] = "average"
    index: int = 0
    scale: Literal["log", "linear"] = "log"
    max_size: int = 512

    def cache_name(self, catalog_id: str, uid: str) -> str:
        index = self.index if self.kind == "frame" else 0
        text = "|".join(
            map(str, (RENDER_VERSION, catalog_id, uid, self.key, self.kind, index, self.scale, self.max_size))
        )
        return hashlib.sha256(text.encode()).hexdigest()[:32] + ".png"


def _lut() -> np.ndarray:
    from matplotlib import colormaps

    return (colormaps[COLORMAP](np.linspace(0.0, 1.0, 256))[:, :3] * 255).round().astype(np.uint8)


def select_image(series: FrameSeries, params: PreviewParams) -> np.ndarray:
    """The 2-D image a preview shows: one frame, or the mean of up to :data:`AVERAGE_FRAMES` frames."""
    if params.kind == "frame":
        return series.frame(params.index).astype(np.float64)
    return series.sample(AVERAGE_FRAMES).astype(np.float64).mean(axis=0)


def render_png(image: np.ndarray, scale: str = "log", max_size: int = 512) -> bytes:
    """Colour-map a 2-D image into PNG bytes.

    Parameters
    ----------
    image : ndarray, shape (rows, cols)
        Counts (any real dtype); non-finite pixels are drawn as the lowest colour.
    scale : {"log", "linear"}
        ``log`` maps ``log10(1 + counts)``, which suits scattering's many decades.
    max_size : int
        The longer side of the output in pixels; larger images are box-averaged down, smaller ones
        are left as they are.

    Returns
    -------
    bytes
    """
    from PIL import Image

    values = np.nan_to_num(np.asarray(image, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    values = np.clip(values, 0.0, None)
    if scale == "log":
        values = np.log10(1.0 + values)
    rows, cols = values.shape
    factor = max_size / max(rows, cols)
    if factor < 1:
        size = (max(1, round(cols * factor)), max(1, round(rows * factor)))
        values = np.asarray(Image.fromarray(values, mode="F").resize(size, Image.Resampling.BOX))
    # Percentile limits keep a few hot pixels from washing the image out.
    lo, hi = np.percentile(values, [1.0, 99.5])
    if hi <= lo:
        hi = lo + 1.0
    levels = np.clip((values - lo) / (hi - lo) * 255.0, 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(_lut()[levels], mode="RGB").save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


class PreviewCache:
    """PNG files under one folder, written atomically so a reader never sees half a file."""

    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, name: str) -> Path:
        return self.root / name

    def get(self, name: str) -> bytes | None:
        try:
            return self.path(name).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, name: str, data: bytes) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".part")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, self.path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
