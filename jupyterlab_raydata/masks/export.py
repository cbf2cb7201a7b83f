"""Masks in the files other tools read: the APS ``/qmap`` HDF5 layout, pyCHX's ``.npy``, pyFAI's EDF.

``/qmap`` is what APS pySimpleMask writes and boost_corr reads: ``mask`` (1 = used), the dynamic and
static ROI maps (0 = unused, 1..n), the q-phi grid of each (``*_num_pts``, ``*_v_list_dim0/1``,
``*_index_mapping``), and the geometry (``beam_center_x`` = column, ``beam_center_y`` = row, in
pixels; ``pixel_size`` and ``detector_distance`` in m; ``energy`` in keV).
"""

from __future__ import annotations

import hashlib
import io
import tempfile
from pathlib import Path

import numpy as np

from .. import __version__
from ..analysis.geometry import Geometry
from ..analysis.partitions import Partition

QMAP_GROUP = "qmap"
MAP_NAMES = ("q", "phi")
MAP_UNITS = ("Å⁻¹", "deg")


def qmap_fields(mask: np.ndarray, dynamic: Partition, static: Partition, geometry: Geometry) -> dict:
    """The datasets of a ``/qmap`` group, by name."""
    fields = {
        "mask": np.asarray(mask, dtype=np.uint8),
        "beam_center_x": np.float64(geometry.beam_center[1]),
        "beam_center_y": np.float64(geometry.beam_center[0]),
        "pixel_size": np.float64(geometry.pixel_sizes[1]),
        "energy": np.float64(geometry.energy_keV),
        "detector_distance": np.float64(geometry.distance_m),
        "map_names": list(MAP_NAMES),
        "map_units": list(MAP_UNITS),
    }
    for prefix, part in (("dynamic", dynamic), ("static", static)):
        fields[f"{prefix}_roi_map"] = part.roi_map.astype(np.uint32)
        fields[f"{prefix}_num_pts"] = np.asarray(part.num_pts, dtype=np.int64)
        fields[f"{prefix}_v_list_dim0"] = part.v_list_dim0.astype(np.float64)
        fields[f"{prefix}_v_list_dim1"] = part.v_list_dim1.astype(np.float64)
        fields[f"{prefix}_index_mapping"] = part.index_mapping.astype(np.int64)
    return fields


def _digest(fields: dict) -> str:
    digest = hashlib.sha256()
    for name in sorted(fields):
        digest.update(name.encode())
        value = fields[name]
        digest.update(
            repr(value).encode() if isinstance(value, list) else np.ascontiguousarray(value).tobytes()
        )
    return digest.hexdigest()


def write_qmap(path: str | Path, mask, dynamic: Partition, static: Partition, geometry: Geometry) -> None:
    """Write an HDF5 file with a ``/qmap`` group (see the module docstring)."""
    import h5py

    fields = qmap_fields(mask, dynamic, static, geometry)
    with h5py.File(path, "w") as f:
        group = f.create_group(QMAP_GROUP)
        for name, value in fields.items():
            if isinstance(value, list):
                group.create_dataset(name, data=value, dtype=h5py.string_dtype())
                continue
            big = isinstance(value, np.ndarray) and value.size > 1024
            dset = group.create_dataset(name, data=value, compression="gzip" if big else None)
            if "_v_list_dim" in name:
                dim = int(name[-1])
                dset.attrs["name"] = MAP_NAMES[dim]
                dset.attrs["unit"] = MAP_UNITS[dim]
                dset.attrs["size"] = value.size
        group.attrs["hash"] = _digest(fields)
        group.attrs["version"] = f"jupyterlab_raydata {__version__}"
        group.attrs["phi_convention"] = "degrees from the +x (column) axis towards +y (row)"


def npy_bytes(mask: np.ndarray) -> bytes:
    """pyCHX's mask file: ``np.load`` gives a 2-D bool array, True = pixel used."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(mask, dtype=bool))
    return buffer.getvalue()


def edf_bytes(mask: np.ndarray) -> bytes:
    """A pyFAI / silx mask: uint8 EDF where **1 = masked** (the opposite of ours)."""
    import fabio.edfimage

    image = fabio.edfimage.EdfImage(data=(~np.asarray(mask, dtype=bool)).astype(np.uint8))
    # fabio closes what it writes to, so it writes a file of its own.
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mask.edf"
        image.write(str(path))
        return path.read_bytes()
