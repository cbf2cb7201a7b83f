"""The run detail panels: which start-document keys the metadata view groups, and under what label."""

from __future__ import annotations

from typing import Any

from .documents import lookup
from .models import Panel, PanelField

#: (panel name, title, [(start-document key, label)]); real CHX keys, spaces included.
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "general",
        "General",
        [
            ("beamline_id", "Beamline"),
            ("cycle", "Cycle"),
            ("data path", "Data path"),
            ("owner", "Owner"),
            ("time", "Start time"),
            ("uid", "UID"),
        ],
    ),
    (
        "plan",
        "Plan",
        [
            ("plan_args", "Plan arguments"),
            ("plan_name", "Plan name"),
            ("plan_type", "Plan type"),
            ("scan_id", "Scan ID"),
            ("sequence id", "Sequence ID"),
        ],
    ),
    (
        "analysis",
        "Analysis",
        [
            ("analysis", "Analysis"),
            ("auto_pipeline", "Auto pipeline"),
            ("detectors", "Detectors"),
            ("number of images", "Number of images"),
            ("exposure time", "Exposure time (s)"),
            ("acquire period", "Acquire period (s)"),
        ],
    ),
]


def build_panels(start: dict[str, Any]) -> list[Panel]:
    """The three panels of a run; a key the run lacks is listed with a null value."""
    return [
        Panel(
            name=name,
            title=title,
            fields=[PanelField(key=key, label=label, value=lookup(start, key)) for key, label in fields],
        )
        for name, title, fields in PANELS
    ]
