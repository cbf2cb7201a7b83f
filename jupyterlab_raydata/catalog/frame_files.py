"""Where a run's detector frames are stored: the HDF5 files its own record names.

A detector writes its frames to files (Eiger and area-detector HDF5 writers, on the beamline's shared
filesystem) and a bluesky run only points at them: a resource document (``root`` + ``resource_path``,
``spec``) and a datum per event. tiled's SQL catalog keeps the same pointers as a node's data sources
(assets with file URIs, the dataset's path among the parameters). Reading the files directly, where
the reader can see them, is far faster than receiving dense frames through tiled: a job's frames go
straight from the compressed chunks to photon events.

This module only reads the record (no file is opened): :class:`FrameFiles` says which datasets hold
which frames, in order; the reader checks them when it opens the files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlparse

from pydantic import BaseModel, Field

#: The resource specs whose frames are one HDF5 dataset per file (area detector's HDF5 plugin).
HDF5_SPECS = {"AD_HDF5": "/entry/data/data", "AD_HDF5_SWMR": "/entry/data/data"}
_HDF5_MIMETYPES = ("application/x-hdf5", "application/x-hdf5;")


class NotLocated(Exception):
    """The run's record does not say where its frames are in a form that can be read directly."""


class FileSegment(BaseModel):
    """Frames ``first .. first+count-1`` of one HDF5 dataset."""

    path: str = Field(description="Absolute path of the HDF5 file.")
    dataset: str = Field(description="Path of the frames' dataset inside the file.")
    first: int = Field(0, ge=0, description="First frame taken from the dataset.")
    count: int | None = Field(None, ge=0, description="Frames taken; None: to the dataset's end.")


class FrameFiles(BaseModel):
    """A run's frames as HDF5 datasets, in frame order."""

    segments: list[FileSegment]
    count: int = Field(ge=0, description="Frames in the series.")
    frame_shape: tuple[int, int]
    dtype: str
    found_by: str = Field(description="Which record named the files, e.g. 'tiled data source'.")

    def describe(self) -> str:
        files = sorted({s.path for s in self.segments})
        where = files[0] if len(files) == 1 else f"{len(files)} files in {os.path.dirname(files[0])}"
        return f"{where} (from the {self.found_by})"


def _file_path(uri: str) -> str:
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        raise NotLocated(f"its frames are at {uri}, not in a file")
    return unquote(parsed.path)


def from_data_sources(array: Any) -> FrameFiles:
    """The files behind a tiled array node (tiled's SQL catalog keeps them as its data sources).

    Raises
    ------
    NotLocated
        When the node is not one HDF5 data source of whole datasets, one per file.
    """
    sources = array.data_sources() or []
    if len(sources) != 1:
        raise NotLocated(f"tiled lists {len(sources)} data sources for it, not one")
    source = sources[0]
    if not str(source.mimetype or "").startswith(_HDF5_MIMETYPES):
        raise NotLocated(f"its data source is {source.mimetype}, not HDF5")
    parameters = source.parameters or {}
    if parameters.get("slice"):
        raise NotLocated("its data source takes a slice of the dataset")
    dataset = parameters.get("dataset") or parameters.get("path")
    if not dataset:
        raise NotLocated("its data source does not name the dataset")
    if isinstance(dataset, list | tuple):
        dataset = "/".join(dataset)
    assets = sorted((a for a in source.assets if not a.is_directory), key=lambda a: a.num or 0)
    if not assets:
        raise NotLocated("its data source lists no files")
    shape = tuple(array.shape)
    return FrameFiles(
        segments=[FileSegment(path=_file_path(a.data_uri), dataset=str(dataset)) for a in assets],
        count=math.prod(shape[:-2]),
        frame_shape=shape[-2:],
        dtype=str(array.dtype),
        found_by="tiled data source",
    )


def from_documents(documents: Iterable[tuple[str, dict]], stream: str, key: str, shape, dtype) -> FrameFiles:
    """The files a run's resource and datum documents name for ``key`` in ``stream``.

    Parameters
    ----------
    documents : iterable of (name, doc)
        The run's documents, unfilled (event pages carry datum ids).
    stream, key : str
        The stream and the image data key.
    shape, dtype
        The data key's array shape ``(events, [frames per event,] rows, cols)`` and dtype.

    Raises
    ------
    NotLocated
        For a resource spec that is not one HDF5 dataset per file, or events without datums.
    """
    descriptors, resources, datums, points = set(), {}, {}, []
    for name, doc in documents:
        if name == "descriptor" and doc.get("name") == stream:
            descriptors.add(doc["uid"])
        elif name == "resource":
            resources[doc["uid"]] = doc
        elif name == "datum":
            datums[doc["datum_id"]] = (doc["resource"], doc["datum_kwargs"])
        elif name == "datum_page":
            for i, datum_id in enumerate(doc["datum_id"]):
                kwargs = {k: v[i] for k, v in doc["datum_kwargs"].items()}
                datums[datum_id] = (doc["resource"], kwargs)
        elif name == "event" and doc["descriptor"] in descriptors:
            points.append(doc["data"].get(key))
        elif name == "event_page" and doc["descriptor"] in descriptors:
            points.extend(doc["data"].get(key) or [])
    if not points or any(not isinstance(p, str) or p not in datums for p in points):
        raise NotLocated(f"the events of '{key}' do not point at datums this run's documents hold")
    segments: list[FileSegment] = []
    for datum_id in points:
        resource_uid, kwargs = datums[datum_id]
        resource = resources.get(resource_uid)
        if resource is None:
            raise NotLocated(f"datum {datum_id} names a resource the run does not hold")
        spec = resource.get("spec")
        if spec not in HDF5_SPECS:
            raise NotLocated(f"its resource spec is {spec}, which is not read directly")
        per_point = int((resource.get("resource_kwargs") or {}).get("frame_per_point", 1))
        path = os.path.join(resource.get("root") or "/", resource["resource_path"])
        first = int(kwargs.get("point_number", 0)) * per_point
        last = segments[-1] if segments else None
        if last is not None and last.path == path and last.first + last.count == first:
            last.count += per_point
        else:
            segments.append(FileSegment(path=path, dataset=HDF5_SPECS[spec], first=first, count=per_point))
    shape = tuple(shape)
    return FrameFiles(
        segments=segments,
        count=math.prod(shape[:-2]),
        frame_shape=shape[-2:],
        dtype=str(dtype),
        found_by="resource documents",
    )
