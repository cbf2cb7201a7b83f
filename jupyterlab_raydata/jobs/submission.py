"""Checking a request to analyse runs, before anything is queued or written.

A submission names a template, its parameters, a catalog, runs and optionally a saved mask. Every part
is checked first (the template is usable, the parameters fit its schema, each run exists and has
detector images, the mask exists and fits the detector), so that a bad request is refused as a whole
with a message naming what is wrong, and a job that starts has what it needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..catalog.lookup import full_uid
from ..catalog.record import RunRecord
from ..catalog.registry import CatalogRegistry
from ..errors import BadRequest
from ..kernel_settings import KernelSettings
from .folder import JobSpec, job_folder
from .templates import TemplateInfo, TemplateRegistry, validate_parameters


@dataclass(frozen=True)
class CheckedRun:
    """One run of a checked submission: the full uid, its scan id and its detector shape."""

    uid: str
    scan_id: int | None
    frame_shape: tuple[int, ...]


@dataclass(frozen=True)
class Submission:
    """A submission that passed every check: one job per run."""

    template: TemplateInfo
    parameters: dict[str, Any]
    catalog: str
    runs: tuple[CheckedRun, ...]
    mask: str | None


def _frame_shape(detail) -> tuple[int, ...]:
    key = detail.image_keys[0]
    for stream in detail.streams:
        for data_key in stream.data_keys:
            if data_key.key == key:
                return tuple(data_key.shape[-2:])
    return ()


def check_submission(
    templates: TemplateRegistry,
    catalogs: CatalogRegistry,
    settings: KernelSettings,
    *,
    template: str,
    catalog: str,
    uids: list[str],
    parameters: dict[str, Any] | None = None,
    mask: str | None = None,
) -> Submission:
    """Check everything a set of jobs needs; nothing is written.

    Raises
    ------
    NotFound
        Unknown template, catalog, run or mask.
    BadRequest
        A broken template, a parameter its schema refuses, no runs, a run without detector images,
        or a mask whose shape differs from a run's detector.
    """
    info = templates.get(template)
    values = validate_parameters(info, parameters or {}, mask=mask)
    values.pop("mask", None)
    if not uids:
        raise BadRequest("No runs", "Select at least one run to analyse.")
    cat = catalogs.get(catalog)
    runs = []
    for uid in dict.fromkeys(uids):
        detail = cat.run(full_uid(cat, uid))
        if not detail.image_keys:
            raise BadRequest(
                "Run without images",
                f"Run {detail.start.get('scan_id')} ({uid[:8]}) has no detector images to analyse.",
            )
        runs.append(CheckedRun(detail.start["uid"], detail.start.get("scan_id"), _frame_shape(detail)))
    if mask:
        from ..masks.library import MaskLibrary

        array = MaskLibrary(Path(settings.masks_dir)).load(mask)
        for run in runs:
            if run.frame_shape and tuple(array.shape) != run.frame_shape:
                raise BadRequest(
                    "Mask does not fit",
                    f"Mask '{mask}' is {array.shape[0]}x{array.shape[1]} but run {run.scan_id} "
                    f"({run.uid[:8]}) has {run.frame_shape[0]}x{run.frame_shape[1]} detector frames.",
                )
    return Submission(info, values, catalog, tuple(runs), mask or None)


def job_spec(
    submission: Submission,
    run: CheckedRun,
    *,
    job_id: str,
    settings: KernelSettings,
    results_dir: Path,
    record: RunRecord | None = None,
) -> JobSpec:
    """The spec of the job that analyses ``run``, with its folder under ``results_dir``; ``record`` is
    the run resolved for the job's kernel (:meth:`Catalog.record`), which then need not open the catalog."""
    folder = job_folder(
        results_dir, submission.catalog, run.scan_id, run.uid, submission.template.name, job_id
    )
    return JobSpec(
        job_id=job_id,
        template=submission.template.name,
        template_path=str(submission.template.path),
        kernel=submission.template.kernel,
        catalog=submission.catalog,
        uid=run.uid,
        scan_id=run.scan_id,
        parameters=submission.parameters,
        mask=submission.mask,
        settings=settings,
        folder=str(Path(folder).resolve()),
        run=record,
    )
