"""Load every compiled kernel of the analysis layer before the first real call.

The photon-event readers and correlators are numba functions cached on disk: the first call in a process
loads them (and compiles them once after an install), seconds that would otherwise fall on the first job's
first figure. :func:`warm_up` calls each kernel once on a tiny series of the types real runs have (16-bit
Eiger counts, Bitshuffle-LZ4 HDF5 chunks), so that a process started ahead of demand (a job runner's
standby kernel) has them ready.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["warm_up"]


def warm_up() -> float:
    """Run every compiled kernel once on a tiny series; returns the seconds it took.

    Examples
    --------
    >>> from jupyterlab_raydata.analysis.warmup import warm_up
    >>> seconds = warm_up()  # doctest: +SKIP
    """
    import h5py
    import hdf5plugin

    from . import compress, correlation, preprocess, xsvs
    from .hdf5 import HDF5Frames

    began = time.perf_counter()
    rng = np.random.default_rng(0)
    shape = (24, 24)
    frames = (rng.random((96, *shape)) < 0.02).astype(np.uint16)  # sparse: the photon-event engines
    frames[:, :4, :4] = rng.poisson(3.0, (96, 4, 4))  # a dense corner
    labels = np.zeros(shape, np.int64)
    labels[4:12, 4:20], labels[12:20, 4:20] = 1, 2
    norm = np.ones(shape)
    with tempfile.TemporaryDirectory(prefix="raydata-warm-up-") as folder:
        path = Path(folder) / "frames.h5"
        with h5py.File(path, "w") as f:
            options = hdf5plugin.Bitshuffle(cname="lz4")
            f.create_dataset("entry/data/data", data=frames, chunks=(1, *shape), **options)
        with HDF5Frames(path) as stored:
            events = compress.read_events(stored)
    compress.dense_events(frames)
    preprocess.frame_stats(events, mask=labels > 0)
    for method in ("events", "dense"):
        correlation.multi_tau(events, labels, num_bufs=8, norm=norm, method=method)
        correlation.two_time(events, labels, norm=norm, method=method)
    # Event levels under dense ones, as "auto" runs a sparse series: the dense levels' typed lists
    # are compiled in each process (numba keeps no cache of them).
    correlation.multi_tau(events, labels, num_bufs=8, method="auto")
    xsvs.photon_histograms(events, labels, n_bins=3, method="events")
    return time.perf_counter() - began
