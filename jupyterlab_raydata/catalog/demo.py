"""The embedded demo catalog: CHX-like runs in a real tiled SQLite catalog, written by ``TiledWriter``.

Runs carry the start-document keys CHX writes (``"data path"``, ``"sequence id"``, ``"number of
images"``, ``"exposure time"``, ``"acquire period"``, ``auto_pipeline``, ``cycle``, ``owner`` …) and the
detector geometry (CHX's ``beam_center_x``/``_y`` in pixels, ``detector_distance`` in m,
``incident_wavelength`` in Å, ``x_pixel_size``/``y_pixel_size`` in m). XPCS runs hold a series of
synthetic speckle frames (:func:`~jupyterlab_raydata.analysis.synthetic.simulate_speckle`) in an HDF5
file registered as ``AD_HDF5``; the simulation's ground truth is in the start document under
``synthetic_truth``. Alignment scans hold scalar readings only. Everything is seeded: the same
``runs`` always gives the same catalog.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

IMAGE_KEY = "eiger4m_single_image"
DETECTOR = "eiger4m_single"
FRAME_SHAPE = (128, 128)
SEED = 20240117
READY = "READY"
OWNERS = ("alice", "bob", "chen", "dana")
SAMPLES = ("silica_100nm", "PS_latex_80nm", "gold_nanorods", "PMMA_film", "lysozyme_gel")
TEMPERATURES = (25.0, 40.0, 60.0, 80.0)
# Jan to Oct 2024: three NSLS-II cycles.
FIRST_START = datetime(2024, 1, 15, tzinfo=timezone.utc).timestamp()
LAST_START = datetime(2024, 10, 31, tzinfo=timezone.utc).timestamp()
_UIDS = uuid.UUID("5f1d2c3a-8e4b-4c7d-9a61-0b2e3f4a5d6c")

log = logging.getLogger(__name__)


def run_uid(i: int) -> str:
    """The uid of the demo's ``i``-th run, oldest first: every build of a demo catalog has the same uids."""
    return str(uuid.uuid5(_UIDS, f"raydata-demo-run-{i}"))


def cycle_of(t: float) -> str:
    """NSLS-II cycle name of an epoch time: three cycles a year, January, May and September."""
    day = datetime.fromtimestamp(t, timezone.utc)
    return f"{day.year}-{(day.month - 1) // 4 + 1}"


def create_sqlite_catalog(directory: Path) -> Any:
    """Create an empty tiled SQLite catalog in ``directory`` and return a writable client of its ``raw``
    container (spec ``CatalogOfBlueskyRuns`` 3.0), served in this process.

    The catalog file is ``directory/catalog.db``; event tables go to ``directory/storage.db`` and
    external files may live anywhere under ``directory``.
    """
    from tiled.catalog import from_uri
    from tiled.structures.core import Spec

    from .sources import _serve_in_process

    directory = Path(directory)
    (directory / "data").mkdir(parents=True, exist_ok=True)
    tree = from_uri(
        f"sqlite:///{directory / 'catalog.db'}",
        writable_storage=[str(directory / "data"), f"sqlite:///{directory / 'storage.db'}"],
        readable_storage=[str(directory)],
        init_if_not_exists=True,
    )
    client = _serve_in_process(tree)
    if "raw" not in client:
        client.create_container("raw", specs=[Spec("CatalogOfBlueskyRuns", version="3.0")])
    return client["raw"]


def plan_runs(rng: np.random.Generator, n: int) -> list[dict]:
    """Start-document metadata (no uid) of ``n`` runs in time order, grouped into sample sequences of four."""
    times = np.sort(rng.uniform(FIRST_START, LAST_START, n))
    plans: list[dict] = []
    sequence = 0
    sample = owner = ""
    for i, t in enumerate(times):
        if i % 4 == 0:
            sequence += 1
            sample = SAMPLES[int(rng.integers(len(SAMPLES)))]
            owner = OWNERS[int(rng.integers(len(OWNERS)))]
        xpcs = i % 3 != 2
        day = datetime.fromtimestamp(t, timezone.utc)
        md: dict[str, Any] = {
            "time": float(t),
            "scan_id": 90001 + i,
            "sequence id": sequence,
            "owner": owner,
            "user": owner,
            "beamline_id": "CHX",
            "cycle": cycle_of(t),
            "proposal_id": f"pass-{310000 + sequence % 3}",
            "sample": sample,
            "temperature": TEMPERATURES[i % len(TEMPERATURES)],
            "data path": f"/nsls2/data/chx/legacy/data/{day:%Y/%m/%d}/",
        }
        if xpcs:
            n_frames = int(rng.integers(100, 201))
            exposure = float(rng.choice([0.00134, 0.005, 0.01]))
            md.update(
                plan_name="count",
                plan_type="generator",
                plan_args={"detectors": [DETECTOR], "num": 1},
                detectors=[DETECTOR],
                analysis="xpcs",
                auto_pipeline="XPCS_SAXS_2way_pipeline",
                **{"number of images": n_frames, "exposure time": exposure, "acquire period": exposure},
            )
        else:
            md.update(
                plan_name="rel_scan",
                plan_type="generator",
                plan_args={
                    "detectors": ["xray_eye3"],
                    "motor": "diff_yh",
                    "start": -0.5,
                    "stop": 0.5,
                    "num": 21,
                },
                detectors=["xray_eye3"],
                analysis="alignment",
                auto_pipeline="none",
                motors=["diff_yh"],
            )
        plans.append(md)
    return plans


def _simulate(md: dict, rng: np.random.Generator):
    """The speckle series of one XPCS run, and the start-document keys describing its geometry."""
    from ..analysis.synthetic import simulate_speckle

    beam_center = (
        FRAME_SHAPE[0] * float(rng.uniform(0.4, 0.6)),
        FRAME_SHAPE[1] * float(rng.uniform(0.4, 0.6)),
    )
    series = simulate_speckle(
        FRAME_SHAPE,
        md["number of images"],
        beam_center=beam_center,
        distance_m=float(rng.choice([4.0, 5.0, 16.0])),
        wavelength_A=1.285,
        pixel_size_m=75e-6,
        diffusion=float(10 ** rng.uniform(4.5, 6.0)),
        dt=md["acquire period"],
        beta=float(rng.uniform(0.1, 0.3)),
        mean_counts=float(rng.uniform(0.3, 1.5)),
        seed=int(md["scan_id"]),
    )
    return series, truth_keys(series.truth)


def truth_keys(truth: dict) -> dict:
    """The start-document keys of a simulated series: its geometry as CHX writes it, and the truth."""
    geometry = truth["geometry"]
    return {
        "beam_center_x": geometry["beam_center"][1],
        "beam_center_y": geometry["beam_center"][0],
        "detector_distance": geometry["distance_m"],
        "incident_wavelength": geometry["wavelength_A"],
        "x_pixel_size": geometry["pixel_size_m"],
        "y_pixel_size": geometry["pixel_size_m"],
        "synthetic_truth": truth,
    }


def image_data_key(frames: np.ndarray, source: str) -> dict:
    """The descriptor's data key for a frame series stored by :func:`write_frames_resource`."""
    return {
        "source": source,
        "dtype": "array",
        "dtype_numpy": np.dtype(frames.dtype).str,
        "shape": list(frames.shape),
        "external": "FILESTORE:",
    }


def write_frames_resource(writer, bundle, frames: np.ndarray, data_dir: Path, **dataset_options):
    """Store a frame series as ``<run uid>.h5`` in ``data_dir`` the way Area Detector does, and emit
    the ``AD_HDF5`` resource document that points at it; returns the resource bundle (for datums).

    ``dataset_options`` go to ``h5py.Group.create_dataset`` (chunks, compression).
    """
    import h5py

    filename = f"{bundle.start_doc['uid']}.h5"
    with h5py.File(data_dir / filename, "w") as f:
        f.create_dataset("entry/data/data", data=frames, **dataset_options)
    resource = bundle.compose_resource(
        spec="AD_HDF5",
        root=str(data_dir),
        resource_path=filename,
        resource_kwargs={"frame_per_point": frames.shape[0]},
    )
    writer("resource", resource.resource_doc)
    return resource


def _write_xpcs(writer, bundle, md: dict, series, data_dir: Path) -> None:
    t0 = md["time"]
    resource = write_frames_resource(
        writer, bundle, series.frames, data_dir, chunks=(1, *FRAME_SHAPE), compression="lzf"
    )
    descriptor = bundle.compose_descriptor(
        name="primary",
        data_keys={
            IMAGE_KEY: image_data_key(series.frames, "PV:XF:11IDB-ES{Det:Eig4M}"),
            "temperature_readback": {"source": "PV:XF:11IDB-ES{Env:01}T-I", "dtype": "number", "shape": []},
        },
        object_keys={DETECTOR: [IMAGE_KEY], "temperature": ["temperature_readback"]},
    )
    writer("descriptor", descriptor.descriptor_doc)
    datum = resource.compose_datum(datum_kwargs={"point_number": 0})
    writer("datum", datum)
    t1 = t0 + md["number of images"] * md["acquire period"]
    writer(
        "event",
        descriptor.compose_event(
            data={IMAGE_KEY: datum["datum_id"], "temperature_readback": md["temperature"] + 0.02},
            timestamps={IMAGE_KEY: t1, "temperature_readback": t1},
            filled={IMAGE_KEY: False},
            time=t1,
        ),
    )
    writer("stop", bundle.compose_stop(exit_status="success", time=t1 + 1.0))


def _write_alignment(writer, bundle, md: dict, rng: np.random.Generator) -> None:
    descriptor = bundle.compose_descriptor(
        name="primary",
        data_keys={
            "diff_yh": {"source": "PV:XF:11IDB-ES{Dif-Ax:YH}Mtr", "dtype": "number", "shape": []},
            "xray_eye3_stats1_total": {
                "source": "PV:XF:11IDB-BI{Cam:10}Stats1",
                "dtype": "number",
                "shape": [],
            },
        },
        object_keys={"diff_yh": ["diff_yh"], "xray_eye3": ["xray_eye3_stats1_total"]},
    )
    writer("descriptor", descriptor.descriptor_doc)
    centre = float(rng.normal(0.0, 0.1))
    positions = np.linspace(-0.5, 0.5, 21)
    aborted = md["scan_id"] % 10 == 7
    shown = positions[:9] if aborted else positions
    t = md["time"]
    for i, x in enumerate(shown):
        t += 0.5
        total = 1e5 * np.exp(-(((x - centre) / 0.15) ** 2)) + float(rng.poisson(50))
        writer(
            "event",
            descriptor.compose_event(
                data={"diff_yh": float(x), "xray_eye3_stats1_total": float(total)},
                timestamps={"diff_yh": t, "xray_eye3_stats1_total": t},
                seq_num=i + 1,
                time=t,
            ),
        )
    if aborted:
        writer("stop", bundle.compose_stop(exit_status="abort", reason="Stopped by the user", time=t + 0.5))
    else:
        writer("stop", bundle.compose_stop(exit_status="success", time=t + 0.5))


def build_catalog(directory: Path, runs: int = 30) -> Path:
    """Write ``runs`` demo runs into a new SQLite catalog in ``directory`` (created; must not hold one).

    Returns
    -------
    Path
        The catalog file, ``directory/catalog.db``.
    """
    from bluesky_tiled_plugins.writing.tiled_writer import TiledWriter
    from event_model import compose_run

    directory = Path(directory)
    if (directory / "catalog.db").exists():
        raise FileExistsError(f"{directory} already holds a catalog")
    writer = TiledWriter(create_sqlite_catalog(directory))
    data_dir = directory / "data"
    rng = np.random.default_rng(SEED)
    log.info("Building a demo catalog of %d runs in %s", runs, directory)
    for i, md in enumerate(plan_runs(rng, runs)):
        metadata = {k: v for k, v in md.items() if k != "time"}
        series = None
        if md["analysis"] == "xpcs":
            series, keys = _simulate(md, rng)
            metadata.update(keys)
        bundle = compose_run(uid=run_uid(i), metadata=metadata, time=md["time"])
        writer("start", bundle.start_doc)
        if series is not None:
            _write_xpcs(writer, bundle, md, series, data_dir)
        else:
            _write_alignment(writer, bundle, md, rng)
    return directory / "catalog.db"


def ensure_demo_catalog(directory: Path, runs: int = 30) -> tuple[Path, str]:
    """Build the demo catalog in ``directory`` unless a complete one is there; safe against races.

    A file lock serialises builders (other processes and threads alike); a ``READY`` marker written
    last tells a complete catalog from one whose build died half way, which is wiped and rebuilt.

    Returns
    -------
    (Path, str)
        The catalog file and the build's id (new for every build, so indexes of an older build are
        not mistaken for this one).
    """
    from filelock import FileLock

    directory = Path(directory)
    marker = directory / READY
    if not marker.exists():
        directory.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(str(directory) + ".lock"):
            if not marker.exists():
                if directory.exists():
                    shutil.rmtree(directory)
                build_catalog(directory, runs)
                marker.write_text(json.dumps({"runs": runs, "build": secrets.token_hex(8)}))
    return directory / "catalog.db", json.loads(marker.read_text())["build"]
