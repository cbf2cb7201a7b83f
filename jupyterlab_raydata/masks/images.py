"""The images a mask is drawn on: a run's average and per-pixel maximum over its frames, cached on disk.

The average is what the composer shows and thresholds on; the maximum tells pixels that never count.
Both are read once per run and image key, frame by frame (a 2167x2070 Eiger 4M frame is 18 MB), and
kept as ``.npy`` files so that the browser gets the average as the very bytes on disk.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..catalog.catalog import choose_image
from ..catalog.preview import AVERAGE_FRAMES
from ..errors import NotFound

#: Bump when what is cached changes, so files of older versions are not read.
CACHE_VERSION = 1
#: Frames are read in requests of about this many bytes.
BLOCK_BYTES = 64 * 2**20


@dataclass(frozen=True)
class RunImages:
    """A run's average and maximum images and where they came from."""

    catalog: str
    uid: str
    key: str
    mean: np.ndarray
    max: np.ndarray
    frames_read: int
    frames_total: int
    start: dict
    mean_path: Path

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.mean.shape)

    @property
    def detector(self) -> str:
        return self.key.removesuffix("_image")


def _sampled_blocks(series, step: int):
    """Frames ``0, step, 2·step, …`` in blocks: small frames come in few large requests (the skipped
    frames cost less than a request each), detector-sized ones one request per frame."""
    frame_bytes = int(np.prod(series.frame_shape)) * np.dtype(series.dtype).itemsize
    if frame_bytes * step <= BLOCK_BYTES // 4:
        per_block = max(step, BLOCK_BYTES // frame_bytes // step * step)
        for start in range(0, series.count, per_block):
            yield series.read(start, min(start + per_block, series.count))[::step]
    else:
        for index in range(0, series.count, step):
            yield series.frame(index)[None]


def reduce_frames(series, max_frames: int = AVERAGE_FRAMES) -> tuple[np.ndarray, np.ndarray, int]:
    """Mean (float32) and maximum (float32) over up to ``max_frames`` frames evenly spread over a frame
    series (frames ``0, step, 2·step, …``): a :class:`~jupyterlab_raydata.catalog.sources.FrameSeries`,
    or a run's frames (:class:`~jupyterlab_raydata.analysis.frames.SeriesArray`)."""
    step = max(1, -(-series.count // max_frames))
    total = maximum = None
    n = 0
    for block in _sampled_blocks(series, step):
        block_sum = block.sum(axis=0, dtype=np.float64)
        block_max = block.max(axis=0).astype(np.float64)
        if total is None:
            total, maximum = block_sum, block_max
        else:
            total += block_sum
            np.maximum(maximum, block_max, out=maximum)
        n += len(block)
    if total is None:
        raise NotFound("No frames", "The run's image series holds no frames.")
    return (total / n).astype(np.float32), maximum.astype(np.float32), n


def _atomic_save(path: Path, array: np.ndarray) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunImageStore:
    """Average and maximum images per (catalog, run, key), on disk under ``root`` and the last few
    in memory.

    Parameters
    ----------
    root : path
        Cache folder (under Raydata's ``data_dir``).
    registry : CatalogRegistry
        Where runs are read from.
    keep : int
        Runs kept in memory.
    """

    def __init__(self, root: str | Path, registry, keep: int = 2):
        self.root = Path(root)
        self.registry = registry
        self._keep = keep
        self._memory: OrderedDict[tuple, RunImages] = OrderedDict()
        self._lock = threading.Lock()
        self._building: dict[tuple, threading.Lock] = {}
        # (catalog, uid as asked, key as asked) -> (catalog, uid, key): repeated asks skip the catalog.
        self._aliases: dict[tuple, tuple] = {}

    def _paths(self, catalog: str, uid: str, key: str) -> tuple[Path, Path, Path]:
        text = "|".join(map(str, (CACHE_VERSION, AVERAGE_FRAMES, catalog, uid, key)))
        stem = hashlib.sha256(text.encode()).hexdigest()[:32]
        return self.root / f"{stem}-mean.npy", self.root / f"{stem}-max.npy", self.root / f"{stem}.json"

    def get(self, catalog: str, uid: str, key: str | None = None) -> RunImages:
        """The images of a run (computed on first use, which reads the frames).

        Raises
        ------
        NotFound
            For an unknown catalog or run, a run without images or an unknown key.
        """
        asked = (catalog, uid, key)
        with self._lock:
            ident = self._aliases.get(asked)
            if ident in self._memory:
                self._memory.move_to_end(ident)
                return self._memory[ident]
        cat = self.registry.get(catalog)
        detail = cat.run(uid)
        key, stream = choose_image(detail.streams, key, run=f"Run '{uid}'", purpose=" to draw a mask on")
        ident = (catalog, str(detail.start.get("uid", uid)), key)
        with self._lock:
            self._aliases[asked] = ident
            images = self._memory.get(ident)
            building = self._building.setdefault(ident, threading.Lock())
        if images is None:
            # One reader per run; others asking for the same run wait for it rather than read it again.
            with building:
                images = self._load(ident, detail.start) or self._build(ident, cat, stream, detail.start)
        with self._lock:
            self._memory[ident] = images
            self._memory.move_to_end(ident)
            while len(self._memory) > self._keep:
                self._memory.popitem(last=False)
            self._building.pop(ident, None)
        return images

    def _load(self, ident: tuple, start: dict) -> RunImages | None:
        mean_path, max_path, info_path = self._paths(*ident)
        try:
            info = json.loads(info_path.read_text())
            mean = np.load(mean_path, allow_pickle=False)
            maximum = np.load(max_path, allow_pickle=False)
        except (FileNotFoundError, ValueError):
            return None
        return RunImages(*ident, mean, maximum, info["frames_read"], info["frames_total"], start, mean_path)

    def _build(self, ident: tuple, cat, stream: str, start: dict) -> RunImages:
        catalog, uid, key = ident
        series = cat.source().frames(uid, stream, key)
        mean, maximum, n = reduce_frames(series)
        mean_path, max_path, info_path = self._paths(*ident)
        self.root.mkdir(parents=True, exist_ok=True)
        _atomic_save(mean_path, mean)
        _atomic_save(max_path, maximum)
        info_path.write_text(json.dumps({"frames_read": n, "frames_total": series.count}))
        return RunImages(catalog, uid, key, mean, maximum, n, series.count, start, mean_path)
