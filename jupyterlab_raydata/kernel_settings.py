"""The part of the server's settings a kernel needs, passed to it in one environment variable.

Kept apart from :mod:`jupyterlab_raydata.context` (which opens catalogs) so that the job runner, which
only passes these settings on, starts without importing the catalog layer.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

#: The environment variable holding the server's settings as JSON.
SETTINGS_ENV = "RAYDATA_SETTINGS"
#: Set in a job's kernel (to the job's id) by the job runner.
JOB_ID_ENV = "RAYDATA_JOB_ID"
#: Set in a job's kernel by the job runner: the job's run as the server resolved it (JSON of
#: :class:`~jupyterlab_raydata.catalog.record.RunRecord`).
RUN_RECORD_ENV = "RAYDATA_RUN_RECORD"


class KernelSettings(BaseModel):
    """The catalogs, Raydata's state folder and the saved-mask library, with absolute paths."""

    catalogs: dict[str, Any] = {}
    data_dir: str
    masks_dir: str

    def to_env(self) -> str:
        return self.model_dump_json()
