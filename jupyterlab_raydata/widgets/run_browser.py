"""``RunBrowser``: the sidebar's run table in a notebook, an ipyaggrid grid over the same search index."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import ipywidgets as widgets

from ..catalog.catalog import Catalog
from ..catalog.params import parse_columns
from ..catalog.query import QUERY_HELP
from ..catalog.search import RunSearch
from ..context import load_registry
from ..errors import RaydataError

DEFAULT_COLUMNS = ("sample", "sequence id", "cycle")
_FIXED = ("uid", "scan_id", "time", "plan_name", "owner", "exit_status")


def _progress(page) -> str:
    return f"{page.indexed_runs:,} of {page.catalog_runs:,} runs" if page.catalog_runs else "partial"


def _cell(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else json.dumps(value)


class RunBrowser(widgets.VBox):
    """Search a catalog's runs and pick some, in a notebook.

    Parameters
    ----------
    catalog : str or Catalog
        A catalog name from the server configuration (default ``"demo"``), or a catalog object.
    columns : sequence of str
        Start-document keys shown after the fixed columns (keys with spaces are fine).
    limit : int
        Rows shown per search (newest first).

    Examples
    --------
    >>> browser = RunBrowser(catalog="chx")   # doctest: +SKIP
    >>> browser                               # doctest: +SKIP
    >>> browser.selected                      # uids of the selected rows  # doctest: +SKIP
    """

    def __init__(self, catalog: str | Catalog = "demo", *, columns=DEFAULT_COLUMNS, limit: int = 200):
        from ipyaggrid import Grid

        self.catalog = catalog if isinstance(catalog, Catalog) else load_registry().get(catalog)
        self.columns = parse_columns(list(columns))
        self.limit = limit
        self.query = widgets.Text(placeholder="owner=alice silica \u2026", description="Search")
        self.since = widgets.Text(placeholder="2024-03-01", description="From")
        self.until = widgets.Text(placeholder="2024-03-31", description="To")
        self.button = widgets.Button(description="Search", icon="search")
        self.status = widgets.Label()
        self.help = widgets.Accordion(children=[widgets.Textarea(QUERY_HELP, layout={"height": "18em"})])
        self.help.set_title(0, "Search syntax")
        self.help.selected_index = None
        fields = [*_FIXED, *(f"c{i}" for i in range(len(self.columns)))]
        headers = [*_FIXED, *self.columns]
        self.grid = Grid(
            grid_data=[],
            grid_options={
                "columnDefs": [
                    {"field": f, "headerName": h, "sortable": True}
                    for f, h in zip(fields, headers, strict=True)
                ],
                "rowSelection": "multiple",
                "enableSorting": True,
            },
            export_mode="auto",
            theme="ag-theme-balham",
            height=400,
        )
        self.button.on_click(lambda _: self.refresh())
        self.query.continuous_update = False
        self.query.observe(lambda _: self.refresh(), "value")
        super().__init__(
            [
                widgets.HBox([self.query, self.since, self.until, self.button]),
                self.status,
                self.grid,
                self.help,
            ]
        )
        self.refresh()

    def rows(self) -> list[dict]:
        """Run the current search and return the grid rows."""
        page = self.catalog.search(
            RunSearch(
                q=self.query.value,
                since=self.since.value.strip() or None,
                until=self.until.value.strip() or None,
                limit=self.limit,
                columns=self.columns,
            )
        )
        progress = "" if not page.partial else f" (still indexing: {_progress(page)})"
        self.status.value = f"{len(page.runs)} of {page.total} runs{progress}"
        out = []
        for run in page.runs:
            row = {key: getattr(run, key) for key in _FIXED}
            row["time"] = datetime.fromtimestamp(run.time).isoformat(sep=" ", timespec="seconds")
            row.update({f"c{i}": _cell(run.columns.get(key)) for i, key in enumerate(self.columns)})
            out.append(row)
        return out

    def refresh(self) -> None:
        """Search again with what the boxes say; a malformed search is reported in the status line."""
        try:
            rows = self.rows()
        except RaydataError as exc:
            self.status.value = f"{exc.error}: {exc.detail}"
            return
        self.grid.update_grid_data(rows)

    @property
    def selected(self) -> list[str]:
        """Uids of the rows selected in the grid, in grid order."""
        rows = self.grid.grid_data_out.get("rows")
        if rows is None or len(rows) == 0:
            return []
        return [str(uid) for uid in rows["uid"]]
