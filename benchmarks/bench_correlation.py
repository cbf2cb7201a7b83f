"""Correlation speed, side by side: ours against scikit-beam, pyCHX and boost_corr.

All methods run in this process on the same synthetic speckle (known dynamics),
one after the other; the table gives wall time, frames per second, peak memory
(tracemalloc: Python and numpy allocations during the call), how many times
faster ours is, and the largest difference of each result from ours. A last
section writes a long series to HDF5 chunk by chunk and processes it streaming
in a fresh subprocess whose peak resident memory (``ru_maxrss``) is reported.

Usage::

    python benchmarks/bench_correlation.py            # full: 1000 x 256², 5000 x 512² streaming
    python benchmarks/bench_correlation.py --quick    # small, about a minute
    python benchmarks/bench_correlation.py --no-stream --frames 500

Targets on a 2-core machine: multi-tau >= 30x and two-time >= 20x scikit-beam;
streaming 5000 frames of 512² (2.6 GB) with peak RSS below 1.5 GB.
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

from jupyterlab_raydata.analysis import compress, correlation, geometry, preprocess, rois, synthetic
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
    parser.add_argument("--stream-worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.stream_worker:
        stream_worker(args.stream_worker, args.rings)
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
