"""Photon-sparse XPCS at Eiger-1M size: reading, compression, g2 and two-time from photon events.

Side by side on the same photons: a Bitshuffle-LZ4 HDF5 file of Eiger-1M-sized
frames (1065 x 1030, one frame per chunk, as Eiger writes them) is read with
plain h5py frame by frame and with ours (parallel, dense or straight to photon
events); ``compress_frames`` runs on frames in memory; multi-tau g2 runs from
the events (``method="auto"``, the default, and ``"events"``), densely, through
pyCHX ``cal_g2c`` (the FD adapter over the same events) and scikit-beam
``multi_tau_auto_corr``; two-time from events and densely. Every step runs in a
fresh subprocess, so its peak resident memory (``ru_maxrss``, imports included)
is its own; times exclude start-up and loading the compiled kernels. References
that are too slow for the whole series run on its first frames, as each row
says; frames/s compares them fairly. The chain read -> events -> g2 is timed in
one streaming pass against a 3 kHz acquisition. A last section scans occupancy
to find where photon events stop paying off (the limits in ``correlation``).

Usage::

    python benchmarks/bench_sparse.py                     # 10,000 frames at 0.5, 2 and 10 % occupancy
    python benchmarks/bench_sparse.py --quick             # 1,000 frames at 2 %
    python benchmarks/bench_sparse.py --occupancy 2 --frames 3000 --no-scan

Goals: g2 from photon events >= 200x pyCHX ``cal_g2c`` at 2 % occupancy; reading
>= 2x plain h5py frame by frame; the read -> g2 chain against 3 kHz; peak RSS
under 2 GB.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SHAPE = (1065, 1030)
NUM_BUFS = 8
ACQUISITION_HZ = 3000


def ring_labels(n_rings: int, shape=SHAPE) -> np.ndarray:
    """``n_rings`` rings of equal width between 40 and 420 pixels around (500, 520)."""
    rows, cols = np.indices(shape)
    r = np.hypot(rows - 500, cols - 520)
    labels = np.digitize(r, np.linspace(40, 420, n_rings + 1))
    labels[(r < 40) | (r >= 420)] = 0
    return labels


# -- data -----------------------------------------------------------------------------


def _photon_source(occupancy: float, seed: int, shape=SHAPE, n_patterns=16, tau=20):
    """Frames of photons, as events, from speckle that decorrelates over ``tau`` frames.

    The intensity moves linearly from one fully developed speckle pattern (times a
    smooth ~q^-2 profile) to the next every ``tau`` frames; photons are Poisson.
    Drawn as the pixels hit by a Poisson number of photons (cheap, exact): about
    ``occupancy`` of the pixels see one in a frame.
    """
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(shape)
    profile = (1 + (np.hypot(rows - 500, cols - 520) / 150) ** 2).ravel() ** -1.0
    cdfs = [np.cumsum(rng.exponential(1.0, profile.size) * profile) for _ in range(n_patterns)]
    mean_photons = -np.log1p(-occupancy) * profile.size
    t = 0
    while True:
        a = (t // tau) % n_patterns
        w = (t % tau) / tau
        hits = [
            np.searchsorted(cdf, rng.random(rng.poisson(mean_photons * weight)) * cdf[-1])
            for cdf, weight in ((cdfs[a], 1 - w), (cdfs[(a + 1) % n_patterns], w))
        ]
        pixels, counts = np.unique(np.concatenate(hits), return_counts=True)
        yield pixels, counts
        t += 1


def cached_eiger_file(path: Path, params: str, n_frames: int, blocks, shape=SHAPE, progress=None) -> Path:
    """``path`` holding the frames ``blocks`` yields, as Eiger writes them (uint16, one Bitshuffle-LZ4
    chunk a frame); written once and kept while its ``params`` attribute is the one given.

    ``progress(frames written)`` follows the writing, if given.
    """
    import h5py
    import hdf5plugin

    if path.exists():
        with h5py.File(path, "r") as f:
            if f.attrs.get("params") == params:
                return path
    path.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tmp = path.with_suffix(".part")
    with h5py.File(tmp, "w") as f:
        dset = f.create_dataset(
            "entry/data/data",
            (n_frames, *shape),
            np.uint16,
            chunks=(1, *shape),
            **hdf5plugin.Bitshuffle(cname="lz4"),
        )
        t = 0
        for block in blocks:
            dset[t : t + len(block)] = block
            t += len(block)
            if progress is not None:
                progress(t)
        f.attrs["params"] = params
    tmp.rename(path)
    print(f"\r  wrote {path} ({path.stat().st_size / 1e6:,.0f} MB) in {time.perf_counter() - t0:.0f} s")
    return path


def data_file(data_dir: Path, n_frames: int, occupancy: float, seed: int = 1) -> Path:
    """The benchmark's Bitshuffle-LZ4 file (written once, then reused)."""
    path = data_dir / f"eiger1m_{n_frames}_{occupancy:g}pct.h5"
    params = json.dumps({"n_frames": n_frames, "occupancy": occupancy, "seed": seed, "shape": SHAPE})

    def blocks(block=32):
        source = _photon_source(occupancy / 100, seed)
        for start in range(0, n_frames, block):
            frames = np.zeros((min(block, n_frames - start), SHAPE[0] * SHAPE[1]), np.uint16)
            for frame in frames:
                pixels, counts = next(source)
                frame[pixels] = counts
            yield frames.reshape(-1, *SHAPE)

    return cached_eiger_file(path, params, n_frames, blocks())


# -- steps (each runs in its own subprocess) ---------------------------------------


@contextlib.contextmanager
def quiet():
    """Silence the reference libraries' progress bars and prints."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


# Photons in the ROIs held in memory by the steps that start from events (about 0.6 GB).
EVENT_BUDGET = 100_000_000


def _events_path(path: Path, part: str) -> Path:
    return path.with_suffix(f".events-{part}.npy")


def _events(path: Path, n: int):
    """The first ``n`` frames' photons kept by the ``keep-events`` step (memory-mapped, then read)."""
    from jupyterlab_raydata.analysis import compress

    indptr = np.load(_events_path(path, "indptr"))[: n + 1]
    end = indptr[-1]
    indices, values = (
        np.load(_events_path(path, part), mmap_mode="r")[:end] for part in ("indices", "values")
    )
    return compress.CompressedFrames(indptr, np.array(indices), np.array(values), SHAPE)


def _warm_up(labels):
    """Load (or compile) the kernels on a tiny input, so that timings exclude it."""
    from jupyterlab_raydata.analysis import compress, correlation, xsvs

    small = (np.random.default_rng(0).random((40, 64, 64)) < 0.05).astype(np.uint16)
    lab = labels[:64, :64] if labels[:64, :64].any() else np.ones((64, 64), int)
    events = compress.compress_frames(small).frames
    for method in ("events", "auto"):
        correlation.multi_tau(events, lab, NUM_BUFS, method=method)
    correlation.two_time(events, lab, method="events")
    xsvs.photon_histograms(events, lab, method="events")


def step(name: str, path: Path, n: int, n_rings: int) -> dict:
    """Run one measured step; returns what it measured."""
    import h5py
    import hdf5plugin  # noqa: F401  (the filters plain h5py reads need)

    from jupyterlab_raydata.analysis import compress, correlation, hdf5
    from jupyterlab_raydata.analysis.pychx_interop import PyChxFrames

    labels = ring_labels(n_rings)
    _warm_up(labels)
    out = {}
    t0 = time.perf_counter()
    if name == "read-h5py":
        with h5py.File(path) as f:
            dset = f["entry/data/data"]
            for t in range(n):
                dset[t]
    elif name == "read-dense":
        with hdf5.HDF5Frames(path) as frames:
            for _ in frames.iter_frame_chunks(32, stop=n):
                pass
    elif name == "read-events":
        photons = 0
        with hdf5.HDF5Frames(path) as frames:
            for _, events in frames.iter_event_chunks(stop=n):
                photons += events.values.size
        out["occupancy"] = photons / (n * SHAPE[0] * SHAPE[1])
    elif name == "keep-events":  # not timed: the input of the steps below
        pieces, kept = [], 0
        with hdf5.HDF5Frames(path) as frames:
            for _, piece in frames.iter_event_chunks(stop=n, mask=labels > 0):
                if kept + piece.indices.size > EVENT_BUDGET:  # the frames that fit
                    piece = piece.select(
                        0, int(np.searchsorted(piece.indptr, EVENT_BUDGET - kept, "right")) - 1
                    )
                pieces.append(piece)
                kept += piece.indices.size
                if kept >= EVENT_BUDGET or len(piece) == 0:
                    break
        events = compress.CompressedFrames.concatenate(pieces, SHAPE)
        out["kept_frames"] = len(events)
        for part in ("indptr", "indices", "values"):
            np.save(_events_path(path, part), getattr(events, part))
    elif name in ("compress-memory", "compress-numpy"):
        with h5py.File(path) as f:
            dense = f["entry/data/data"][:n]
        t0 = time.perf_counter()
        if name == "compress-memory":
            compress.compress_frames(dense)
        else:  # the numpy reference path, as compress_frames worked before the kernel
            for c0 in range(0, n, 32):
                chunk = dense[c0 : c0 + 32]
                compress._dense_events_numpy(chunk.reshape(len(chunk), -1), None, 0, SHAPE)
    elif name.startswith("g2-"):
        method = name.removeprefix("g2-")
        events = _events(path, n)
        t0 = time.perf_counter()
        if method in ("auto", "events", "dense"):
            corr = correlation.MultiTauCorrelator(labels, NUM_BUFS, method=method)
            corr.update(events)
            lags, g2 = corr.result()
            out["path"], out["event_levels"] = corr.path, corr.event_levels
            out["pair_levels"] = corr.pair_levels
        elif method == "pychx":
            from pyCHX.chx_correlationc import cal_g2c

            np.in1d = getattr(np, "in1d", np.isin)  # pyCHX 4.4.2 calls np.in1d, gone in numpy 2.4
            with quiet():
                g2, lags = cal_g2c(PyChxFrames(events), labels, num_buf=NUM_BUFS)
        else:  # scikit-beam, frame by frame from the same events
            from skbeam.core.correlation import multi_tau_auto_corr

            levels = int(np.log2(n)) + 1
            g2, lags = multi_tau_auto_corr(levels, NUM_BUFS, labels, (events.frame(t) for t in range(n)))
        out["seconds"] = time.perf_counter() - t0
        np.savez(path.with_name(f"{path.stem}.{name}.{n}.npz"), lags=lags, g2=g2)
    elif name.startswith("two-time-"):
        events = _events(path, n)
        t0 = time.perf_counter()
        c2 = correlation.two_time(events, labels, method=name.removeprefix("two-time-"))
        out["seconds"] = time.perf_counter() - t0
        np.save(path.with_name(f"{path.stem}.{name}.{n}.npy"), c2[:, :100, :100])
    elif name == "chain":
        with hdf5.HDF5Frames(path) as frames:
            corr = correlation.MultiTauCorrelator(labels, NUM_BUFS)
            corr.update(frames)
            corr.result()
            out["path"], out["event_levels"] = corr.path, corr.event_levels
            out["pair_levels"] = corr.pair_levels
    else:
        raise ValueError(name)
    out.setdefault("seconds", time.perf_counter() - t0)
    out["frames"] = n
    out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_step(name: str, path: Path, n: int, n_rings: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--step",
        name,
        "--file",
        str(path),
        "--frames",
        str(n),
        "--rings",
        str(n_rings),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


# -- report -----------------------------------------------------------------------------


def _max_diff(path: Path, name: str, reference: str, n: int) -> str:
    a = np.load(path.with_name(f"{path.stem}.{name}.{n}.npz"))
    b = np.load(path.with_name(f"{path.stem}.{reference}.{n}.npz"))
    if not np.array_equal(a["lags"], b["lags"]):
        return "lags differ"
    return f"{np.nanmax(np.abs(a['g2'] - b['g2'])):.0e}"


def _row(label, result, baseline=None, note=""):
    if "error" in result:
        print(f"  {label:<44} failed: {result['error']}")
        return None
    fps = result["frames"] / result["seconds"]
    ratio = f"{fps / baseline:,.2g}x" if baseline else ""
    numbers = f"{result['frames']:>7,}{result['seconds']:>9.2f}{fps:>10,.0f}{result['rss_mb']:>9,.0f}"
    print(f"  {label:<44}{numbers}{ratio:>10}  {note}")
    return fps


def _header(title):
    print(f"\n{title}")
    print(f"  {'':<44}{'frames':>7}{'s':>9}{'frames/s':>10}{'RSS MB':>9}{'ratio':>10}")


def bench_occupancy(occupancy, args):
    path = data_file(args.data_dir, args.frames, occupancy)
    n, rings = args.frames, args.rings
    n_ref = min(n, args.ref_frames)  # (not more than the events kept, see below)
    print(
        f"\n=== {occupancy:g} % occupancy: {n:,} frames of {SHAPE[0]}x{SHAPE[1]} uint16, Bitshuffle-LZ4 ==="
    )

    _header("reading (ratio: against h5py frame by frame)")
    h5 = _row("h5py, frame by frame (one thread)", run_step("read-h5py", path, n, rings))
    _row("ours, dense frames (parallel)", run_step("read-dense", path, n, rings), h5)
    events = run_step("read-events", path, n, rings)
    _row(
        "ours, straight to photon events (parallel)",
        events,
        h5,
        f"occupancy {events.get('occupancy', 0):.2%}",
    )

    n_ev = run_step("keep-events", path, n, rings).get("kept_frames", n)

    _header("compress_frames from frames in memory")
    n_mem = min(n, args.memory_frames)
    numpy_fps = _row("numpy reference (before the kernel)", run_step("compress-numpy", path, n_mem, rings))
    _row("ours (compiled kernel, parallel)", run_step("compress-memory", path, n_mem, rings), numpy_fps)

    _header(
        f"multi-tau g2 from photon events in memory, {rings} rings, {(ring_labels(rings) > 0).sum():,} pixels"
    )
    auto = run_step("g2-auto", path, n_ev, rings)
    levels = (
        f"{auto.get('path')}, {auto.get('event_levels')} event levels ({auto.get('pair_levels')} from pairs)"
    )
    fps_auto = _row("ours, method=auto (default)", auto, note=levels)
    _row("ours, method=events (all levels)", run_step("g2-events", path, n_ev, rings))
    n_dense = min(n, args.dense_frames)
    dense = run_step("g2-dense", path, n_dense, rings)
    dense_fps = _row("ours, method=dense", dense, note=f"first {n_dense} frames")
    ref_auto = run_step("g2-auto", path, n_ref, rings)
    chx = run_step("g2-pychx", path, n_ref, rings)
    sk = run_step("g2-skbeam", path, n_ref, rings)
    chx_fps = _row("pyCHX cal_g2c (FD adapter, same events)", chx, note=f"first {n_ref} frames")
    sk_fps = _row("scikit-beam multi_tau_auto_corr", sk, note=f"first {n_ref} frames")
    if fps_auto:
        for name, fps in (("dense", dense_fps), ("pyCHX", chx_fps), ("scikit-beam", sk_fps)):
            if fps:
                print(f"  ours auto is {fps_auto / fps:,.1f}x {name}")
    if "error" not in ref_auto:
        for ref in ("g2-pychx", "g2-skbeam"):
            with contextlib.suppress(OSError):
                diff = _max_diff(path, "g2-auto", ref, n_ref)
                print(f"  max |g2 ours - {ref[3:]}| on the first {n_ref} frames: {diff}")

    n_two = min(n_ev, args.two_time_frames)
    _header(f"two-time, {rings} rings (result {rings * n_two**2 * 4 / 2**20:,.0f} MB)")
    # method=auto: photon pairs up to correlation.TWO_TIME_EVENT_LIMIT (their memory, ~40 bytes
    # a photon, and work grow fast with occupancy), the matrix product above.
    two_events = _row("ours, method=auto (default)", run_step("two-time-auto", path, n_two, rings))
    n_two_dense = min(n_two, args.two_time_dense_frames)
    two_dense = _row(
        "ours, method=dense",
        run_step("two-time-dense", path, n_two_dense, rings),
        note=f"first {n_two_dense} frames",
    )
    if two_events and two_dense:
        ratio = two_events / two_dense
        print(f"  auto: {ratio:,.1f}x the frames/s of dense (dense work grows with T², so more at equal T)")

    _header(f"chain: HDF5 -> photon events -> g2, one streaming pass (ratio: against {ACQUISITION_HZ} Hz)")
    chain = run_step("chain", path, n, rings)
    _row("ours", chain, ACQUISITION_HZ, f"{chain.get('path')}, {chain.get('event_levels')} event levels")


def bench_scan(args):
    """Event and dense costs against occupancy: one multi-tau level, and two-time."""
    from jupyterlab_raydata.analysis import compress, correlation

    shape, n_frames = (512, 512), 256
    rows, cols = np.indices(shape)
    labels = np.digitize(np.hypot(rows - 256, cols - 256), np.linspace(20, 250, 5))
    labels[labels == 5] = 0
    print(
        f"\n=== crossover scan: {n_frames} frames of {shape[0]}x{shape[1]}, {(labels > 0).sum():,} pixels ==="
    )
    columns = f"{'g2 level 0: events':>20}{'dense':>10}{'two-time: events':>19}{'dense':>10}"
    print(f"  {'occupancy':>10}{columns}  (frames/s)")
    rng = np.random.default_rng(2)
    for occ in (0.005, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5):
        frames = ((rng.random((n_frames, *shape)) < occ) * rng.integers(1, 3, (n_frames, *shape))).astype(
            np.uint16
        )
        events = compress.compress_frames(frames).frames
        fps = []
        for fn, extra in ((correlation.multi_tau, (NUM_BUFS, 1)), (correlation.two_time, ())):
            for method in ("events", "dense"):
                fn(events, labels, *extra, method=method)
                t0 = time.perf_counter()
                fn(events, labels, *extra, method=method)
                fps.append(n_frames / (time.perf_counter() - t0))
        print(f"  {occ:>10.1%}{fps[0]:>20,.0f}{fps[1]:>10,.0f}{fps[2]:>19,.0f}{fps[3]:>10,.0f}")
    print(
        f"  limits in use: correlation.EVENT_OCCUPANCY_LIMIT = {correlation.EVENT_OCCUPANCY_LIMIT}, "
        f"TWO_TIME_EVENT_LIMIT = {correlation.TWO_TIME_EVENT_LIMIT}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 frames at 2 %% occupancy")
    parser.add_argument("--frames", type=int, help="frames streamed (default 10,000; quick 1,000)")
    parser.add_argument("--occupancy", type=float, nargs="+", help="percent (default 0.5 2 10; quick 2)")
    parser.add_argument("--rings", type=int, default=8)
    parser.add_argument("--ref-frames", type=int, default=200, help="frames for pyCHX and scikit-beam")
    parser.add_argument("--dense-frames", type=int, default=1000, help="frames for our dense g2")
    parser.add_argument("--memory-frames", type=int, default=400, help="frames compressed in memory")
    parser.add_argument("--two-time-frames", type=int, default=3000)
    parser.add_argument("--two-time-dense-frames", type=int, default=500)
    parser.add_argument("--no-scan", action="store_true", help="skip the crossover scan")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "raydata-bench-sparse")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step, args.file, args.frames, args.rings)))
        return
    args.frames = args.frames or (1000 if args.quick else 10_000)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"{os.cpu_count()} CPUs, numpy {np.__version__}, load average {os.getloadavg()[0]:.2f} "
        "(other processes share the CPUs: numbers are noisy)"
    )
    for occupancy in args.occupancy or ([2.0] if args.quick else [0.5, 2.0, 10.0]):
        bench_occupancy(occupancy, args)
    if not args.no_scan:
        bench_scan(args)
    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
