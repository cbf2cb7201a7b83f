"""XPCS/XSVS science: importable in a plain notebook, with no server running.

Modules (each loads on first use, so importing the package stays cheap):

* :mod:`.frames` — stream any frame input in chunks; gather ROI pixels;
* :mod:`.masks` — load/save, compose, draw shapes, hot/dead pixels;
* :mod:`.shapes` — a line of given width, a beam stop with its arm, q and phi ranges;
* :mod:`.thresholds` — never-counting pixels, value ranges, outliers within a q ring;
* :mod:`.partitions` — dynamic and static q-phi partitions in the APS ``/qmap`` layout;
* :mod:`.beam_center` — the beam centre from the pattern's 180° symmetry;
* :mod:`.poni` — geometry and q/phi maps from a pyFAI PONI calibration;
* :mod:`.geometry` — q and phi maps (SAXS, GISAXS), geometry from run metadata;
* :mod:`.rois` — q rings, q-phi segments, boxes as label arrays;
* :mod:`.preprocess` — frame sums, average image, bad frames, I(q), background;
* :mod:`.compress` — photon events: sparse compression and occupancy statistics;
* :mod:`.hdf5` — HDF5 (Eiger) frames decoded in parallel, dense or straight to events;
* :mod:`.correlation` — multi-tau g2, two-time maps;
* :mod:`.xsvs` — photon-count histograms and contrast fits;
* :mod:`.fits` — g2 fits and Γ(q²) → D;
* :mod:`.report` — standard figures and the PDF report;
* :mod:`.synthetic` — simulated speckle with known dynamics;
* :mod:`.pychx_interop` — our frames as pyCHX's "FD" object;
* :mod:`.threads` — the thread budget every pool in this package honours.
"""

import importlib

_MODULES = (
    "beam_center",
    "compress",
    "correlation",
    "fits",
    "frames",
    "geometry",
    "hdf5",
    "masks",
    "partitions",
    "poni",
    "preprocess",
    "pychx_interop",
    "report",
    "rois",
    "shapes",
    "synthetic",
    "threads",
    "thresholds",
    "xsvs",
)

# The functions most notebooks call, available from the package itself.
_SHORTCUTS = {
    "multi_tau": "correlation",
    "two_time": "correlation",
    "one_time_from_two_time": "correlation",
    "MultiTauCorrelator": "correlation",
    "Geometry": "geometry",
    "q_map": "geometry",
    "geometry_from_start_doc": "geometry",
    "q_rings": "rois",
    "ring_edges": "rois",
    "load_mask": "masks",
    "frame_stats": "preprocess",
    "find_bad_frames": "preprocess",
    "circular_average": "preprocess",
    "smooth_iq_map": "preprocess",
    "compress_frames": "compress",
    "HDF5Frames": "hdf5",
    "fit_g2": "fits",
    "fit_diffusion": "fits",
    "simulate_speckle": "synthetic",
    "thread_budget": "threads",
    "limit_threads": "threads",
}

__all__ = [*_MODULES, *_SHORTCUTS]


def __getattr__(name):
    if name in _MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _SHORTCUTS:
        return getattr(importlib.import_module(f"{__name__}.{_SHORTCUTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
