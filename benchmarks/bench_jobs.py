"""Job runner speed: submit to first cell done on a warm local cluster (its workers' standby kernels up),
and xpcs_saxs end to end on demo runs against their acquisition time.

Everything is real: a dask LocalCluster (the default executor), papermill in a kernel per job (started
ahead of the job by the worker), the shipped xpcs_saxs template reading a demo run from its files, as
the server resolves it from a tiled SQLite catalog.

Usage::

    python benchmarks/bench_jobs.py                 # 10 latency samples, xpcs_saxs on 3 demo runs
    python benchmarks/bench_jobs.py --latency 20 --runs 5

Goals: submit to first cell done p95 under 1 s; xpcs_saxs on a demo run p50 under 6 s, and faster than
the experiment it analyses (the seed paper's CHX analysis ran about 100 times slower than the
acquisition).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from jupyterlab_raydata.catalog.demo import ensure_demo_catalog
from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.catalog.search import RunSearch
from jupyterlab_raydata.context import KernelSettings
from jupyterlab_raydata.jobs.executors import DaskExecutor
from jupyterlab_raydata.jobs.folder import JobFolder, JobSpec
from jupyterlab_raydata.jobs.submission import check_submission, job_spec
from jupyterlab_raydata.jobs.templates import TemplateRegistry

TRIVIAL_CELLS = ["catalog = 'demo'\nuid = ''\nmask = ''\noutput_dir = '.'", "x = 1"]
#: Seconds between latency samples: a worker's next standby kernel starts once a job ends.
WARM_S = 6.0


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def first_cell_done(notebook: Path) -> float:
    """When papermill finished the notebook's first code cell (from the executed notebook itself)."""
    nb = nbformat.read(notebook, as_version=4)
    cell = next(c for c in nb.cells if c.cell_type == "code")
    return datetime.fromisoformat(cell.metadata.papermill["end_time"]).timestamp()


def sections(notebook: Path) -> list[tuple[str, float]]:
    """Seconds spent under each markdown heading of an executed notebook (papermill's cell timings)."""
    nb = nbformat.read(notebook, as_version=4)
    totals: dict[str, float] = {}
    heading = "(before the first heading)"
    for cell in nb.cells:
        if cell.cell_type == "markdown" and cell.source.lstrip().startswith("#"):
            heading = cell.source.lstrip().splitlines()[0].lstrip("# ").strip()
        elif cell.cell_type == "code":
            totals[heading] = totals.get(heading, 0.0) + (cell.metadata.papermill.get("duration") or 0.0)
    return list(totals.items())


def notebook_template(folder: Path, name: str, second_cell: str) -> Path:
    """A two-cell template: the parameters, then ``second_cell``."""
    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(src) for src in (TRIVIAL_CELLS[0], second_cell)],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
    )
    nb.cells[0].metadata["tags"] = ["parameters"]
    path = folder / f"{name}.ipynb"
    nbformat.write(nb, path)
    return path


def prepared(work: Path, settings: KernelSettings, template: Path, job_id: str) -> JobFolder:
    """A job folder for ``template`` (which opens no catalog)."""
    spec = JobSpec(
        job_id=job_id,
        template=template.stem,
        template_path=str(template),
        catalog="demo",
        uid="0" * 32,
        settings=settings,
        folder=str(work / job_id),
    )
    folder = JobFolder(spec.folder)
    folder.create(spec)
    return folder


def latency(executor: DaskExecutor, work: Path, settings: KernelSettings, samples: int) -> list[float]:
    template = notebook_template(work, "trivial", TRIVIAL_CELLS[1])
    out = []
    for i in range(samples + 1):  # the first warms the cluster and is not counted
        # Jobs as users submit them, not back to back: each worker's standby kernel is up again.
        time.sleep(WARM_S)
        folder = prepared(work, settings, template, f"latency-{i}")
        submitted = time.time()
        status = executor.submit(folder).result(timeout=300)
        assert status["state"] == "completed", status
        if i:
            out.append(first_cell_done(folder.notebook) - submitted)
    return out


def cancel_latency(executor: DaskExecutor, work: Path, settings: KernelSettings, samples: int) -> list[float]:
    """Seconds from a cancel request to the job's runner reporting every process gone."""
    template = notebook_template(work, "sleeps", "import time\ntime.sleep(600)")
    out = []
    for i in range(samples):
        folder = prepared(work, settings, template, f"cancel-{i}")
        future = executor.submit(folder)
        # Running its last cell, the sleep (the parameters cells may finish between two looks).
        while not (
            (status := folder.status()) and status.cells_total and status.cells_done == status.cells_total - 1
        ):
            time.sleep(0.05)
        asked = time.time()
        executor.cancel(folder)  # a running job: its runner stops it and reports
        assert future.result(timeout=60)["state"] == "cancelled"
        out.append(time.time() - asked)
    return out


def xpcs(executor: DaskExecutor, work: Path, settings: KernelSettings, runs: int) -> list[dict]:
    registry = CatalogRegistry(settings.catalogs, settings.data_dir)
    page = registry.get("demo").search(RunSearch(q="plan_name=count", sort="scan_id", limit=runs))
    rows = []
    for run in page.runs:
        submission = check_submission(
            TemplateRegistry([]), registry, settings, template="xpcs_saxs", catalog="demo", uids=[run.uid]
        )
        spec = job_spec(
            submission,
            submission.runs[0],
            job_id=f"x{run.scan_id}",
            settings=settings,
            results_dir=work,
            record=registry.get("demo").record(run.uid),
        )
        folder = JobFolder(spec.folder)
        folder.create(spec)
        start_doc = registry.get("demo").run(run.uid).start
        acquisition = start_doc["number of images"] * start_doc["acquire period"]
        began = time.time()
        status = executor.submit(folder).result(timeout=1800)
        elapsed = time.time() - began
        summary = (
            json.loads((folder.path / "summary.json").read_text()) if status["state"] == "completed" else {}
        )
        rows.append(
            {
                "scan_id": run.scan_id,
                "frames": start_doc["number of images"],
                "acquisition_s": acquisition,
                "analysis_s": elapsed,
                "state": status["state"],
                "summary": summary,
                "notebook": str(folder.notebook),
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency", type=int, default=10, help="Latency samples (after one warm-up job).")
    parser.add_argument("--runs", type=int, default=3, help="Demo runs analysed with xpcs_saxs.")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="raydata-bench-jobs-"))
    catalog, _ = ensure_demo_catalog(work / "demo", 30)
    settings = KernelSettings(
        catalogs={"demo": {"kind": "sqlite", "path": str(catalog)}},
        data_dir=str(work / "state"),
        masks_dir=str(work / "masks"),
    )
    executor = DaskExecutor({})  # the default: LocalCluster of 2 one-thread workers
    try:
        samples = latency(executor, work, settings, args.latency)
        print(
            f"Submit to first cell done on a warm {executor.describe()}, "
            f"{len(samples)} jobs {WARM_S:.0f} s apart:"
        )
        print(
            f"  p50 {percentile(samples, 50):.2f} s   p95 {percentile(samples, 95):.2f} s   "
            f"max {max(samples):.2f} s   (goal: p95 under 1 s)"
        )
        stops = cancel_latency(executor, work, settings, 3)
        print(f"  cancel of a running job until its processes end: max {max(stops):.2f} s (goal: under 5 s)")
        print()
        print("xpcs_saxs end to end on demo runs (128x128 frames), against the acquisition time:")
        print(
            f"{'scan':>6} {'frames':>6} {'acquired s':>10} {'analysis s':>10} "
            f"{'analysis/acquisition':>20}  D error"
        )
        for row in xpcs(executor, work, settings, args.runs):
            ratio = row["analysis_s"] / row["acquisition_s"]
            error = row["summary"].get("D_relative_error")
            error_text = (
                f"{100 * error:.1f} %"
                if isinstance(error, (int, float))
                else row["summary"].get("D_note", row["state"])
            )
            print(
                f"{row['scan_id']:>6} {row['frames']:>6} {row['acquisition_s']:>10.2f} "
                f"{row['analysis_s']:>10.1f} {ratio:>19.1f}x  {error_text}"
            )
            for heading, seconds in sections(Path(row["notebook"])):
                print(f"{'':>6} {seconds:>38.1f} s  {heading}")
        print(f"\nmedian latency {statistics.median(samples):.2f} s; work folder {work}")
    finally:
        executor.close()


if __name__ == "__main__":
    main()
