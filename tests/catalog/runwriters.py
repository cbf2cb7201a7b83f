"""Write small bluesky runs into a catalog, document by document, for the catalog tests."""

import time
from pathlib import Path

from event_model import compose_run

from jupyterlab_raydata.catalog.demo import image_data_key, write_frames_resource


def write_run(writer, *, time_: float | None = None, stop: bool = True, **metadata):
    """Write a metadata-only run (one scalar event); return its ``compose_run`` bundle."""
    bundle = compose_run(metadata=metadata, time=time_ or time.time())
    writer("start", bundle.start_doc)
    desc = bundle.compose_descriptor(
        name="primary", data_keys={"x": {"source": "sim", "dtype": "number", "shape": []}}
    )
    writer("descriptor", desc.descriptor_doc)
    t = bundle.start_doc["time"] + 1
    writer("event", desc.compose_event(data={"x": 1.0}, timestamps={"x": t}, time=t))
    if stop:
        writer("stop", bundle.compose_stop(time=t + 1))
    return bundle


def write_image_run(writer, data_dir: Path, frames, *, time_: float, key: str = "eiger1m_single_image", **md):
    """Write a run whose one event holds a frame series in an HDF5 file registered as AD_HDF5."""
    bundle = compose_run(metadata={"detectors": [key.removesuffix("_image")], **md}, time=time_)
    writer("start", bundle.start_doc)
    resource = write_frames_resource(writer, bundle, frames, data_dir)
    desc = bundle.compose_descriptor(
        name="primary",
        data_keys={key: image_data_key(frames, "sim")},
    )
    writer("descriptor", desc.descriptor_doc)
    datum = resource.compose_datum(datum_kwargs={"point_number": 0})
    writer("datum", datum)
    writer(
        "event",
        desc.compose_event(
            data={key: datum["datum_id"]}, timestamps={key: time_ + 1}, filled={key: False}, time=time_ + 1
        ),
    )
    writer("stop", bundle.compose_stop(time=time_ + 2))
    return bundle
