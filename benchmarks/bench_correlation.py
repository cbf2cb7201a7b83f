"""Correlation speed, side by side: ours against scikit-beam, pyCHX and boost_corr.

All methods run in this process on the same synthetic speckle (known dynamics),
one after the other; the table gives wall time, frames per second, peak memory
(tracemalloc: Python and numpy allocations during the call), how many times
faster ours is, and the largest difference of each result from ours. A last
section writes a long series to HDF5 chunk by chunk and processes it streaming
in a fresh subprocess whose peak resident memory (``ru_maxrss``) is reported.

A separate section (``--matrix``) times ``multi_tau`` with ``method="auto"``
against both engines forced, on a matrix of detector sizes (128² to Eiger 4M),
occupancies (0.5 to 60 %) and series lengths (300 to 10,000 frames), with the
input a job gives it (photon events) and, where the series fits in memory, dense
frames; it prints auto's time over the faster engine's for every case.

Usage::

    python benchmarks/bench_correlation.py            # full: 1000 x 256², 5000 x 512² streaming
    python benchmarks/bench_correlation.py --quick    # small, about a minute
    python benchmarks/bench_correlation.py --no-stream --frames 500
    python benchmarks/bench_correlation.py --matrix   # the engine choice (about 25 minutes)

Targets on a 2-core machine: multi-tau >= 40x and two-time >= 20x scikit-beam;
streaming 5000 frames of 512² (2.6 GB) with peak RSS below 1.5 GB; ``auto``
within 10 % of the faster engine on every case of the matrix.
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
import tracemalloc
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyterlab_raydata.analysis import compress, correlation, geometry, preprocess, rois, synthetic, warmup
from jupyterlab_raydata.analysis.pychx_interop import PyChxFrames

NUM_BUFS = 8


def ring_labels(shape, n_rings, geom) -> np.ndarray:
    """``n_rings`` equal q rings from 10 pixels to 43 % of the detector size around the beam."""
    q = geometry.q_map(shape, geom)
    step = geometry.q_map((1, 2), geom.with_(beam_center=(0, 0)))[0, 1]
    edges = rois.ring_edges(10 * step, 0.43 * min(shape) * step, n_rings)
    return rois.q_rings(q, edges).labels


def measure(fn, repeat: int = 1):
    """Best wall time of ``repeat`` runs, the result, and the peak memory of one more run (MB)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    fn()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return best, result, peak


@contextlib.contextmanager
def quiet():
    """Silence the reference libraries' progress bars and prints."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def table(title, rows, n_frames):
    print(f"\n{title}")
    header = (
        f"{'method':<40}{'time (s)':>10}{'frames/s':>11}{'peak MB':>10}{'ours faster':>13}{'max |diff|':>12}"
    )
    print(header)
    print("-" * len(header))
    ours = rows[0][1]
    for name, seconds, peak, diff in rows:
        if seconds is None:
            print(f"{name:<40}{diff}")
            continue
        ratio = "-" if name.startswith("ours") else f"{seconds / ours:.1f}x"
        diff_text = "-" if diff is None else f"{diff:.1e}"
        print(
            f"{name:<40}{seconds:>10.3f}{n_frames / seconds:>11,.0f}{peak:>10.1f}{ratio:>13}{diff_text:>12}"
        )


def boost_corr_row():
    try:
        import boost_corr  # noqa: F401
    except ImportError:
        reason = (
            "skipped: boost_corr is not installed (its PyPI releases need Python >= 3.12 "
            f"and PyTorch; this is Python {sys.version_info.major}.{sys.version_info.minor})"
        )
        return ("boost_corr (CPU)", None, None, reason)
    return (
        "boost_corr (CPU)",
        None,
        None,
        "skipped: installed, but its API is not wired into this benchmark",
    )


def bench_multi_tau(frames, labels, repeat, ref_repeat):
    n_levels = None
    rows = []
    t, (lags, g2), peak = measure(lambda: correlation.multi_tau(frames, labels, NUM_BUFS, n_levels), repeat)
    rows.append((f"ours multi_tau ({os.cpu_count()} threads)", t, peak, None))
    t1, (_, g2_1), peak1 = measure(lambda: correlation.multi_tau(frames, labels, NUM_BUFS, workers=1), repeat)
    rows.append(("ours multi_tau (1 thread)", t1, peak1, float(np.abs(g2_1 - g2).max())))
    compressed, _ = compress.compress_frames(frames)
    tc, (_, g2_c), peakc = measure(lambda: correlation.multi_tau(compressed, labels, NUM_BUFS), repeat)
    rows.append(("ours multi_tau (compressed input)", tc, peakc, float(np.abs(g2_c - g2).max())))

    from skbeam.core.correlation import multi_tau_auto_corr

    levels = int(np.log2(len(frames))) + 1
    ts, (g2_s, lags_s), peaks = measure(
        lambda: multi_tau_auto_corr(levels, NUM_BUFS, labels, frames), ref_repeat
    )
    assert np.array_equal(lags_s, lags), "lags differ from scikit-beam's"
    rows.append(("scikit-beam multi_tau_auto_corr", ts, peaks, float(np.abs(g2_s - g2).max())))
    try:
        from pyCHX.chx_correlationc import cal_g2c
    except ImportError as err:
        rows.append(("pyCHX cal_g2c (adapter)", None, None, f"skipped: {err}"))
    else:
        with quiet():
            tp, (g2_p, _), peakp = measure(
                lambda: cal_g2c(PyChxFrames(compressed), labels, num_buf=NUM_BUFS), ref_repeat
            )
        rows.append(("pyCHX cal_g2c (adapter)", tp, peakp, float(np.abs(g2_p - g2).max())))
    rows.append(boost_corr_row())
    return rows


def bench_two_time(frames, labels, repeat):
    rows = []
    t, c2, peak = measure(lambda: correlation.two_time(frames, labels), repeat)
    rows.append(("ours two_time", t, peak, None))

    from skbeam.core.correlation import two_time_corr

    n = len(frames)
    ts, res, peaks = measure(lambda: two_time_corr(labels, frames, n, n, 1))
    rows.append(("scikit-beam two_time_corr", ts, peaks, float(np.nanmax(np.abs(res.g2 - c2)))))
    try:
        from pyCHX.chx_correlationc import Get_Pixel_Arrayc, auto_two_Arrayc
    except ImportError as err:
        rows.append(("pyCHX auto_two_Arrayc (adapter)", None, None, f"skipped: {err}"))
    else:
        fd = PyChxFrames(frames)
        pixels = np.flatnonzero(labels.ravel() > 0)

        def pychx_two_time():
            return auto_two_Arrayc(Get_Pixel_Arrayc(fd, pixels).get_data(), labels)

        with quiet():
            tp, g12, peakp = measure(pychx_two_time)
        diff = float(np.nanmax(np.abs(np.moveaxis(g12, 2, 0) - c2)))
        rows.append(("pyCHX auto_two_Arrayc (adapter)", tp, peakp, diff))
    rows.append(boost_corr_row())
    return rows


def write_series(path: Path, shape, n_frames, chunk) -> dict:
    """Simulate a series straight into an HDF5 file, chunk by chunk; reuse a matching file."""
    import h5py

    params = {"shape": list(shape), "n_frames": n_frames, "diffusion": 1e6, "seed": 11}
    if path.exists():
        with h5py.File(path, "r") as f:
            if json.loads(f.attrs.get("params", "{}")) == params:
                return json.loads(f.attrs["truth"])
    truth = synthetic.SpeckleParameters(tuple(shape), n_frames, diffusion=1e6, seed=11).truth()
    with h5py.File(path, "w") as f:
        data = f.create_dataset("entry/data/data", (n_frames, *shape), np.uint16, chunks=(chunk, *shape))
        for start, frames in zip(
            range(0, n_frames, chunk),
            synthetic.iter_speckle_chunks(shape, n_frames, diffusion=1e6, seed=11, chunk=chunk),
            strict=True,
        ):
            data[start : start + len(frames)] = frames
        f.attrs["params"] = json.dumps(params)
        f.attrs["truth"] = json.dumps(truth)
    return truth


def stream_worker(path: str, n_rings: int) -> None:
    """Subprocess: one streaming pass (frame sums, mean image, multi-tau) over the HDF5 file."""
    import h5py

    from jupyterlab_raydata.analysis.frames import iter_chunks

    t0 = time.perf_counter()
    with h5py.File(path, "r") as f:
        data = f["entry/data/data"]
        truth = json.loads(f.attrs["truth"])
        geom = geometry.Geometry(**truth["geometry"])
        labels = ring_labels(data.shape[1:], n_rings, geom)
        corr = correlation.MultiTauCorrelator(labels, NUM_BUFS)
        sums, total = [], np.zeros(data.shape[1:])
        for _, chunk in iter_chunks(data):
            sums.append(chunk.sum(axis=(1, 2), dtype=np.float64))
            total += chunk.sum(axis=0, dtype=np.float64)
            corr.update(chunk)
        lags, g2 = corr.result()
        n = data.shape[0]
    seconds = time.perf_counter() - t0
    bad = preprocess.find_bad_frames(np.concatenate(sums))
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "frames": n,
        "seconds": seconds,
        "rss_mb": rss_mb,
        "pixels": int((labels > 0).sum()),
        "lags": len(lags),
        "bad_frames": len(bad),
        "finite": bool(np.isfinite(g2).all()),
    }
    print(json.dumps(out))


def bench_stream(shape, n_frames, n_rings, data_dir: Path):
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"bench_corr_{n_frames}x{shape[0]}x{shape[1]}.h5"
    t0 = time.perf_counter()
    write_series(path, shape, n_frames, chunk=64)
    print(
        f"\nstreaming: {n_frames} frames of {shape[0]}x{shape[1]} uint16 "
        f"({n_frames * shape[0] * shape[1] * 2 / 1e9:.2f} GB) in {path} "
        f"(written chunk-wise in {time.perf_counter() - t0:.0f} s, or reused)"
    )
    cmd = [sys.executable, __file__, "--stream-worker", str(path), "--rings", str(n_rings)]
    done = subprocess.run(cmd, check=True, capture_output=True, text=True)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"one pass (frame sums, mean image, multi-tau on {n_rings} rings, {result['pixels']:,} pixels): "
        f"{result['seconds']:.1f} s, {result['frames'] / result['seconds']:,.0f} frames/s, "
        f"peak RSS {result['rss_mb']:,.0f} MB (target < 1536 MB)"
    )
    print(f"{result['lags']} lags, all finite: {result['finite']}, {result['bad_frames']} bad frames found")
    return result


# -- the engine choice ---------------------------------------------------------------

#: Detector sizes of the matrix.
MATRIX_SHAPES = {"128²": (128, 128), "512²": (512, 512), "Eiger 1M": (1065, 1030), "Eiger 4M": (2167, 2070)}
#: Occupancies of the matrix: the fraction of ring pixels with a photon in a frame, in %.
MATRIX_OCCUPANCY = (0.5, 2, 10, 30, 60)
MATRIX_FRAMES = (300, 1000, 10000)
#: A case runs if its series holds at most this many photons and ring pixel-frames
#: (larger ones take minutes a case, or more memory than the machine has).
PHOTON_BUDGET = 3e8
PIXEL_FRAME_BUDGET = 7e9
#: Dense frames are passed too where the series takes at most this many bytes.
DENSE_INPUT_BYTES = 1.2e9
#: Distinct frames a case's series cycles through (speckle decorrelates over
#: ``POOL_TAU`` frames, so frames a pool apart are unrelated, as in a real series).
POOL_FRAMES = 128
POOL_TAU = 20


def matrix_labels(shape) -> np.ndarray:
    """8 equal rings from 4 % to 45 % of the detector's size around its centre."""
    rows, cols = np.indices(shape)
    r = np.hypot(rows - shape[0] / 2, cols - shape[1] / 2)
    labels = np.digitize(r, np.linspace(0.04, 0.45, 9) * min(shape))
    labels[labels > 8] = 0
    return labels


def speckle_pool(shape, labels, occupancy: float, seed: int = 5) -> np.ndarray:
    """``POOL_FRAMES`` frames of Poisson photons from speckle under a ~q⁻² profile that
    decorrelates over ``POOL_TAU`` frames, scaled so that ``occupancy`` of the ring pixels
    hold a photon."""
    rng = np.random.default_rng(seed)
    rows, cols = np.indices(shape)
    r = np.hypot(rows - shape[0] / 2, cols - shape[1] / 2)
    profile = 1 / (1 + (r / (0.1 * min(shape))) ** 2)
    patterns = [rng.exponential(1.0, shape) * profile for _ in range(POOL_FRAMES // POOL_TAU + 2)]
    ring = patterns[0][labels > 0]
    lo, hi = 0.0, 1.0
    while np.mean(-np.expm1(-hi * ring)) < occupancy:
        hi *= 2
    for _ in range(40):  # the scale at which the expected ring occupancy is the one asked for
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if np.mean(-np.expm1(-mid * ring)) < occupancy else (lo, mid)
    pool = np.empty((POOL_FRAMES, *shape), np.uint16)
    for t in range(POOL_FRAMES):
        w = (t % POOL_TAU) / POOL_TAU
        a = t // POOL_TAU
        pool[t] = rng.poisson(hi * ((1 - w) * patterns[a] + w * patterns[a + 1]))
    return pool


def cycled_events(pool_events, n_frames: int):
    """``n_frames`` frames of photon events that cycle through the pool's frames."""
    pieces = [pool_events.sparse_frame(t % len(pool_events)) for t in range(n_frames)]
    counts = np.array([p.indices.size for p in pieces])
    return compress.CompressedFrames(
        np.concatenate([[0], np.cumsum(counts)]),
        np.concatenate([p.indices for p in pieces]),
        np.concatenate([p.values for p in pieces]),
        pool_events.frame_shape,
    )


#: Short cases run until this long has been spent on each method, so that their best time is
#: not one of the timer's or the scheduler's millisecond jitters.
MIN_TIMED_S = 1.0
MATRIX_METHODS = ("auto", "events", "dense")


def matrix_case(series, labels, repeat: int) -> dict:
    """Best times of ``auto`` and both engines on one series, and what ``auto`` chose.

    The methods take turns, round after round, so that a slow spell of the machine
    falls on all of them.
    """
    times = dict.fromkeys(MATRIX_METHODS, float("inf"))
    spent = dict.fromkeys(MATRIX_METHODS, 0.0)
    g2s, rounds = {}, 0
    while rounds < repeat or min(spent.values()) < MIN_TIMED_S:
        for method in MATRIX_METHODS:
            t0 = time.perf_counter()
            corr = _correlate(series, labels, method)
            seconds = time.perf_counter() - t0
            times[method], spent[method] = min(times[method], seconds), spent[method] + seconds
            g2s[method] = corr.result().g2
            if method == "auto":
                chose = corr.path if corr.event_levels is None else f"events ({corr.event_levels} levels)"
        rounds += 1
    faster = min(("events", "dense"), key=times.get)
    return {
        **times,
        "faster": faster,
        "ratio": times["auto"] / times[faster],
        "chose": chose,
        "diff": max(float(np.nanmax(np.abs(g2s[m] - g2s["auto"]))) for m in ("events", "dense")),
    }


def _correlate(series, labels, method):
    """``multi_tau`` as a job calls it, keeping the correlator to tell what ``auto`` chose."""
    corr = correlation.MultiTauCorrelator(labels, NUM_BUFS, method=method, length=len(series))
    corr.update(series)
    corr.result()
    return corr


def bench_matrix(repeat: int, shapes=None, occupancies=None, frame_counts=None) -> list[dict]:
    """Every case of the matrix within the budgets, printed as it is measured."""
    header = (
        f"{'detector':<10}{'occ %':>6}{'frames':>8}{'input':>8}{'auto s':>9}{'events s':>10}"
        f"{'dense s':>9}{'auto/faster':>13}  {'auto chose':<20}{'frames/s':>10}{'max |diff|':>12}"
    )
    print(f"\nmulti-tau engine choice: method='auto' against both engines forced, best of {repeat}")
    print(header)
    print("-" * len(header))
    rows = []
    for name in shapes or MATRIX_SHAPES:
        shape = MATRIX_SHAPES[name]
        labels = matrix_labels(shape)
        ring_pixels = int((labels > 0).sum())
        for occupancy in occupancies or MATRIX_OCCUPANCY:
            pool = speckle_pool(shape, labels, occupancy / 100)
            pool_events, _ = compress.compress_frames(pool)
            photons_per_frame = pool_events.indices.size / len(pool_events)
            for n in frame_counts or MATRIX_FRAMES:
                if n * photons_per_frame > PHOTON_BUDGET or n * ring_pixels > PIXEL_FRAME_BUDGET:
                    print(f"{name:<10}{occupancy:>6g}{n:>8}   beyond the matrix's budget, not run")
                    continue
                inputs = {"events": cycled_events(pool_events, n)}
                if n * pool[0].nbytes <= DENSE_INPUT_BYTES:
                    inputs["dense"] = pool[np.arange(n) % POOL_FRAMES]
                for kind, series in inputs.items():
                    case = matrix_case(series, labels, repeat)
                    where = {"detector": name, "occupancy": occupancy, "frames": n, "input": kind}
                    rows.append({**where, **case})
                    print(
                        f"{name:<10}{occupancy:>6g}{n:>8}{kind:>8}{case['auto']:>9.3f}{case['events']:>10.3f}"
                        f"{case['dense']:>9.3f}{case['ratio']:>12.2f}x  {case['chose']:<20}"
                        f"{n / case['auto']:>10,.0f}{case['diff']:>12.1e}",
                        flush=True,
                    )
                del inputs
    worst = max(rows, key=lambda row: row["ratio"])
    losing = [row for row in rows if row["ratio"] > 1.10]
    print(
        f"\n{len(rows)} cases; auto within 10 % of the faster engine in {len(rows) - len(losing)}; "
        f"worst {worst['ratio']:.2f}x ({worst['detector']}, {worst['occupancy']:g} %, "
        f"{worst['frames']} frames, {worst['input']} input)"
    )
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--frames", type=int, help="frames for multi-tau (default 1000; quick 300)")
    parser.add_argument("--size", type=int, help="detector is size x size (default 256; quick 128)")
    parser.add_argument("--rings", type=int, default=8, help="q rings (default 8)")
    parser.add_argument("--two-time-frames", type=int, help="frames for two-time (default 300; quick 100)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of ours, best time kept")
    parser.add_argument("--ref-repeat", type=int, default=2, help="runs of multi-tau references, best kept")
    parser.add_argument("--no-stream", action="store_true", help="skip the streaming/RSS section")
    parser.add_argument(
        "--stream-frames", type=int, help="frames of the streamed run (default 5000; quick 500)"
    )
    parser.add_argument("--stream-size", type=int, help="streamed detector size (default 512; quick 256)")
    parser.add_argument("--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "raydata-bench-corr")
    parser.add_argument("--matrix", action="store_true", help="only the engine-choice matrix")
    parser.add_argument("--matrix-shapes", nargs="+", choices=list(MATRIX_SHAPES), help="matrix sizes")
    parser.add_argument("--matrix-occupancy", nargs="+", type=float, help="matrix occupancies (%%)")
    parser.add_argument("--matrix-frames", nargs="+", type=int, help="matrix series lengths")
    parser.add_argument("--stream-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_worker:
        stream_worker(args.stream_worker, args.rings)
        return
    if args.matrix:
        warmup.warm_up()
        bench_matrix(args.repeat, args.matrix_shapes, args.matrix_occupancy, args.matrix_frames)
        return

    quick = args.quick
    n_frames = args.frames or (300 if quick else 1000)
    size = args.size or (128 if quick else 256)
    n_two = args.two_time_frames or (100 if quick else 300)
    t0 = time.perf_counter()
    series = synthetic.simulate_speckle((size, size), max(n_frames, n_two), seed=3)
    labels = ring_labels((size, size), args.rings, series.geometry)
    print(
        f"data: {len(series.frames)} frames of {size}x{size} uint16 synthetic speckle "
        f"(simulated in {time.perf_counter() - t0:.1f} s); {args.rings} rings, "
        f"{(labels > 0).sum():,} pixels; {os.cpu_count()} CPUs; numpy {np.__version__}; "
        f"load average {os.getloadavg()[0]:.2f} (other processes share the CPUs)"
    )
    frames = series.frames[:n_frames]
    table(
        f"multi-tau g2: {n_frames} frames, num_bufs={NUM_BUFS}, all levels",
        bench_multi_tau(frames, labels, args.repeat, args.ref_repeat),
        n_frames,
    )
    table(
        f"two-time C(t1, t2): {n_two} frames",
        bench_two_time(series.frames[:n_two], labels, args.repeat),
        n_two,
    )
    print(f"\nload average after the in-process comparisons: {os.getloadavg()[0]:.2f}")
    if not args.no_stream:
        stream_size = args.stream_size or (256 if quick else 512)
        bench_stream(
            (stream_size, stream_size),
            args.stream_frames or (500 if quick else 5000),
            args.rings,
            args.data_dir,
        )


if __name__ == "__main__":
    main()
