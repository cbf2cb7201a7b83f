"""The shapes the catalog layer answers with; the REST API and the notebook widget share them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class CatalogInfo(BaseModel):
    """One configured catalog and whether it can be used right now."""

    name: str
    kind: str
    reachable: bool
    reason: str = Field("", description="Why the catalog cannot be reached, when it cannot.")
    indexed_runs: int | None = Field(None, description="Runs in the local search index, if it exists.")


class CatalogList(BaseModel):
    catalogs: list[CatalogInfo]


class RunRow(BaseModel):
    """One row of the run table: the usual identifying fields plus the requested columns."""

    uid: str
    scan_id: int | None = None
    time: float = Field(description="Run start, epoch seconds.")
    plan_name: str | None = None
    owner: str | None = None
    exit_status: str | None = Field(None, description="From the stop document; null while running.")
    columns: dict[str, Any] = Field(default_factory=dict, description="Requested start-document keys.")


class RunPage(BaseModel):
    runs: list[RunRow]
    total: int = Field(description="Runs matching the search, over all pages (of the indexed runs).")
    offset: int
    partial: bool = Field(
        False,
        description=(
            "True while the catalog is still being indexed: runs not indexed yet may also match, so "
            "the rows and the total cover only the indexed_runs of catalog_runs."
        ),
    )
    indexed_runs: int = Field(description="Runs in the search index.")
    catalog_runs: int | None = Field(None, description="Runs in the catalog at its last check.")
    stale: bool = Field(False, description="True when the catalog could not be reached for new runs.")


class ColumnInfo(BaseModel):
    key: str
    count: int = Field(description="Runs whose start document has this key.")


class ColumnList(BaseModel):
    columns: list[ColumnInfo]
    total_runs: int


class QueryExample(BaseModel):
    query: str
    meaning: str


class QueryHelp(BaseModel):
    """Help text for the search box, the sort parameter and the date boxes."""

    query: str
    examples: list[QueryExample]
    sort: str
    dates: str


class PanelField(BaseModel):
    key: str = Field(description="The start-document key.")
    label: str
    value: Any = None


class Panel(BaseModel):
    name: str
    title: str
    fields: list[PanelField]


class DataKeyInfo(BaseModel):
    key: str
    shape: list[int] = Field(description="Per-event shape; an image series is (frames, rows, cols).")
    dtype: str
    source: str = ""
    external: bool = False
    image: bool = Field(False, description="Usable for the preview image.")


class StreamInfo(BaseModel):
    name: str
    events: int | None = None
    data_keys: list[DataKeyInfo]


class RunDetail(BaseModel):
    uid: str
    panels: list[Panel]
    start: dict[str, Any]
    stop: dict[str, Any] | None = None
    streams: list[StreamInfo]
    image_keys: list[str] = Field(default_factory=list, description="Data keys a preview can be made of.")
