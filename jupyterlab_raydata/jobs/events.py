"""The events Raydata pushes to browsers on the Jupyter Server event bus.

Browsers subscribe on the server's authenticated ``/api/events/subscribe`` websocket (JupyterLab:
``app.serviceManager.events.stream``) and receive ``{"schema_id": …, **data}`` for every event; they
filter on ``schema_id``. The bus adds no timestamp, so every event carries ``time`` (epoch seconds).
Schemas must be registered before a browser connects, hence :func:`register` at load.

:class:`Emitter` may be called from any thread (the dispatcher runs in one of its own): it hops to the
server's event loop, where the bus delivers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

_BASE = "https://jupyterlab-raydata.readthedocs.io/events"
JOB = f"{_BASE}/job"
FIGURE = f"{_BASE}/job-figure"
RUNS_CHANGED = f"{_BASE}/runs-changed"

_TIME = {"type": "number", "description": "When it happened, in epoch seconds."}

SCHEMAS: list[dict[str, Any]] = [
    {
        "$id": JOB,
        "version": "1",
        "title": "A job changed",
        "description": "A job was queued, moved, started, made progress, finished, failed or was cancelled.",
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "owner": {"type": "string"},
            "catalog": {"type": "string"},
            "uid": {"type": "string"},
            "template": {"type": "string"},
            "state": {"enum": ["queued", "running", "completed", "failed", "cancelled"]},
            "reason": {
                "enum": ["queued", "moved", "started", "progress", "finished", "cancel-requested"],
                "description": "What changed.",
            },
            "cells_done": {"type": "integer"},
            "cells_total": {"type": "integer"},
            "heading": {"type": "string"},
            "failure": {"type": ["string", "null"]},
            "written": {
                "type": "number",
                "description": "For progress: when the runner wrote it, in epoch seconds (its host's clock).",
            },
            "time": _TIME,
        },
        "required": ["id", "owner", "state", "reason", "time"],
    },
    {
        "$id": FIGURE,
        "version": "1",
        "title": "A job produced a figure",
        "description": "A new image file in a job's figures/ folder (its name, not the image).",
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "owner": {"type": "string"},
            "file": {"type": "string"},
            "cell": {"type": "integer"},
            "heading": {"type": "string"},
            "time": _TIME,
        },
        "required": ["id", "owner", "file", "time"],
    },
    {
        "$id": RUNS_CHANGED,
        "version": "1",
        "title": "A catalog's runs changed",
        "description": "A catalog sync added runs or saw runs finish.",
        "type": "object",
        "properties": {
            "catalog": {"type": "string"},
            "added": {"type": "integer"},
            "finished": {"type": "integer"},
            "time": _TIME,
        },
        "required": ["catalog", "time"],
    },
]


def register(event_logger) -> None:
    """Register every Raydata schema with the server's event bus (once per server)."""
    for schema in SCHEMAS:
        event_logger.register_event_schema(schema)


class Emitter:
    """Emit Raydata events from any thread.

    Parameters
    ----------
    event_logger : jupyter_events.EventLogger
        The server's ``serverapp.event_logger``.
    loop : tornado.ioloop.IOLoop
        The server's event loop.
    """

    def __init__(self, event_logger, loop):
        self._logger = event_logger
        self._loop = loop

    def __call__(self, schema_id: str, data: dict[str, Any]) -> None:
        payload = {**data, "time": time.time()}
        self._loop.add_callback(self._emit, schema_id, payload)

    def _emit(self, schema_id: str, payload: dict[str, Any]) -> None:
        try:
            self._logger.emit(schema_id=schema_id, data=payload)
        except Exception:
            log.warning("Could not emit %s", schema_id, exc_info=True)


def job_event(record, reason: str) -> dict[str, Any]:
    """The ``job`` event's data for a store record."""
    return {
        "id": record.id,
        "owner": record.owner,
        "catalog": record.catalog,
        "uid": record.uid,
        "template": record.template,
        "state": record.state,
        "reason": reason,
        "cells_done": record.cells_done,
        "cells_total": record.cells_total,
        "heading": record.heading,
        "failure": record.failure,
    }


#: What the dispatcher and the queue call to emit: ``emit(schema_id, data)``.
Emit = Callable[[str, dict[str, Any]], None]
