"""A run as an analysis needs it, resolved once: its documents, its detector image and where its frames are.

The server resolves a job's run before the job starts (it has the catalog open) and hands the record to
the job's kernel (:data:`~jupyterlab_raydata.kernel_settings.RUN_RECORD_ENV`), which then opens the
frame files without connecting to the catalog at all.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from .frame_files import FrameFiles


class RunRecord(BaseModel):
    """One run of a catalog and the frames of its detector image."""

    catalog: str
    uid: str
    start: dict[str, Any]
    stop: dict[str, Any] | None = None
    stream: str
    image_key: str
    files: FrameFiles | None = Field(None, description="Where the frames are stored, when the record says.")
    files_unknown: str | None = Field(None, description="Why the files are not known (files is None).")
