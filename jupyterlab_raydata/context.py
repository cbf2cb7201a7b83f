"""What a notebook kernel knows of the Raydata server: its catalogs, their runs and the saved masks.

An analysis template (or any notebook) opens a run with ``context.load_run(catalog, uid)`` and a saved
mask with ``context.load_mask(name)``, the same catalogs and mask library the server uses. The
server's settings reach a kernel in the environment variable :data:`SETTINGS_ENV` (JSON of
:class:`KernelSettings`): the job runner sets it for every job, and the server extension sets it in its
own environment so that kernels started from JupyterLab inherit it. Without it (a kernel outside any
Raydata server), the Jupyter server configuration files are read instead.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import ValidationError

from .analysis.frames import SeriesArray
from .analysis.hdf5_series import HDF5Series
from .catalog.lookup import full_uid
from .catalog.record import RunRecord
from .catalog.registry import Catalog, CatalogRegistry
from .catalog.sources import FrameSeries
from .kernel_settings import JOB_ID_ENV, RUN_RECORD_ENV, SETTINGS_ENV, KernelSettings

log = logging.getLogger(__name__)

# tiled's in-process client imports starlette's TestClient, which would print this into every notebook.
warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")


def settings() -> KernelSettings:
    """The settings of the Raydata server this kernel belongs to.

    Raises
    ------
    ValueError
        When :data:`SETTINGS_ENV` holds something that is not valid settings JSON.
    """
    raw = os.environ.get(SETTINGS_ENV)
    if raw:
        try:
            return KernelSettings.model_validate_json(raw)
        except ValidationError as exc:
            raise ValueError(f"{SETTINGS_ENV} does not hold valid Raydata settings: {exc}") from None
    return _settings_from_config_files()


def _settings_from_config_files() -> KernelSettings:
    from .app import from_config_files

    raydata, root_dir = from_config_files()
    return raydata.kernel_settings(root_dir)


@functools.cache
def _registry(settings_json: str, follow: bool) -> CatalogRegistry:
    config = KernelSettings.model_validate_json(settings_json)
    return CatalogRegistry(config.catalogs, config.data_dir, follow=follow)


def load_registry() -> CatalogRegistry:
    """The configured catalogs (one registry per distinct settings, shared by every caller).

    In a job's kernel they leave the indexes to the server, which keeps them up to date: a job copying
    from the catalog beside it, while its notebook reads frames, would only compete with both.
    """
    return _registry(settings().to_env(), JOB_ID_ENV not in os.environ)


def open_catalog(name: str) -> Catalog:
    """The catalog called ``name`` in the server's configuration (``"demo"`` when none is configured)."""
    return load_registry().get(name)


class FrameArray(SeriesArray):
    """A run's detector frames read through tiled, as a lazy ``(T, H, W)`` array."""

    def __init__(self, series: FrameSeries):
        self._series = series
        self.count = series.count
        self.frame_shape = tuple(series.frame_shape)
        self.dtype = np.dtype(series.dtype)

    def read(self, start: int, stop: int) -> np.ndarray:
        return self._series.read(start, stop)

    def frame(self, index: int) -> np.ndarray:
        return self._series.frame(index)


@dataclass
class RunData:
    """One run of a catalog, as an analysis notebook uses it.

    Attributes
    ----------
    catalog : str
        The catalog's name.
    uid : str
        The run's full uid.
    start, stop : dict
        Its start document, and its stop document (``None`` while it runs).
    image_key : str
        The detector image data key read into :attr:`frames`.
    frames : HDF5Series or FrameArray
        The detector frames, ``(T, H, W)``, read lazily: from their files, or through tiled.
    frames_from : str
        Where the frames are read from, and why not from their files if they are read through tiled.
    """

    catalog: str
    uid: str
    start: dict
    stop: dict | None
    image_key: str
    frames: HDF5Series | FrameArray
    frames_from: str = ""

    @property
    def scan_id(self) -> int | None:
        return self.start.get("scan_id")

    @property
    def n_frames(self) -> int:
        return self.frames.shape[0]

    @property
    def frame_shape(self) -> tuple[int, int]:
        return self.frames.shape[1:]

    @property
    def acquire_period(self) -> float | None:
        """Seconds between frames (CHX's ``"acquire period"``, else the exposure time)."""
        value = self.start.get("acquire period", self.start.get("exposure time"))
        return None if value is None else float(value)

    @property
    def exposure_time(self) -> float | None:
        value = self.start.get("exposure time")
        return None if value is None else float(value)

    @property
    def truth(self) -> dict | None:
        """The simulation's ground truth for synthetic (demo) runs, else ``None``."""
        return self.start.get("synthetic_truth")

    @property
    def detector(self) -> str:
        return self.image_key.removesuffix("_image")

    def geometry(self, **overrides):
        """The scattering geometry from the start document; keyword arguments override its values."""
        from .analysis.geometry import geometry_from_start_doc

        return geometry_from_start_doc(self.start, detector=self.detector, **overrides)


def load_run(catalog: str, uid: str, *, image_key: str | None = None) -> RunData:
    """Open one run of a configured catalog for analysis.

    The frames are read from the files the run's record names (its resource documents, or tiled's data
    sources), straight from their compressed chunks, wherever this kernel can see those files (a
    beamline's shared file system); otherwise through the catalog's tiled server.
    :attr:`RunData.frames_from` says which. In a job's kernel the server has already resolved the run,
    so the catalog is not opened at all when the files can be read.

    Parameters
    ----------
    catalog : str
        A catalog name from the server's configuration.
    uid : str
        The run's uid, or a prefix of it that no other run shares (8 characters or more).
    image_key : str, optional
        Which detector image to read; by default the run's first (primary stream, ``*_image`` first).

    Raises
    ------
    NotFound
        For an unknown catalog or run, or a run without detector images.
    """
    record = _job_record(catalog, uid, image_key)
    if record is None:
        cat = open_catalog(catalog)
        record = cat.record(full_uid(cat, uid), image_key)
    frames, frames_from = _frames(record)
    log.info("Run %s of '%s': frames %s", record.uid[:8], catalog, frames_from)
    return RunData(catalog, record.uid, record.start, record.stop, record.image_key, frames, frames_from)


def _job_record(catalog: str, uid: str, image_key: str | None) -> RunRecord | None:
    """The record of this job's run, when the runner passed one and it is the run asked for."""
    raw = os.environ.get(RUN_RECORD_ENV)
    if not raw:
        return None
    record = RunRecord.model_validate_json(raw)
    same = record.catalog == catalog and record.uid.startswith(uid) and image_key in (None, record.image_key)
    return record if same else None


def _frames(record: RunRecord):
    """The run's frames from their files where they can be read here, else through tiled; and which."""
    files = record.files
    if files is None:
        why = record.files_unknown or "the run's record names no files"
    else:
        try:
            series = HDF5Series(
                [(s.path, s.dataset, s.first, s.count) for s in files.segments],
                frame_shape=files.frame_shape,
                count=files.count,
            )
            return series, f"read from {files.describe()}"
        except (OSError, ValueError) as exc:
            why = f"its files cannot be read here: {exc}"
    series = open_catalog(record.catalog).source().frames(record.uid, record.stream, record.image_key)
    return FrameArray(series), f"read through tiled ({why})"


def load_mask(name: str, *, shape: tuple[int, int] | None = None) -> np.ndarray:
    """A saved mask from the mask library, as a bool array (True = pixel used).

    Parameters
    ----------
    name : str
        The saved mask's name.
    shape : (int, int), optional
        The detector shape it must have (a mismatch raises ``ValueError`` naming both shapes).
    """
    from .analysis.masks import check_shape
    from .masks.library import MaskLibrary

    mask = MaskLibrary(Path(settings().masks_dir)).load(name)
    if shape is not None:
        check_shape(mask, shape, what=f"mask '{name}'", reference="the run's detector")
    return mask
