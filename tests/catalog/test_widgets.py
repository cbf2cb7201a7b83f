import pytest

from jupyterlab_raydata.catalog.registry import CatalogRegistry


@pytest.fixture(scope="module")
def catalog(demo_catalog, tmp_path_factory):
    registry = CatalogRegistry(
        {"demo": {"kind": "sqlite", "path": str(demo_catalog)}}, tmp_path_factory.mktemp("w")
    )
    return registry.get("demo")


def test_run_browser_searches_with_the_same_language(catalog, demo_runs):
    from jupyterlab_raydata.widgets import RunBrowser

    browser = RunBrowser(catalog=catalog, columns=["sequence id", "plan_args"])
    assert browser.status.value.startswith(f"{demo_runs} of {demo_runs} runs")
    assert len(browser.grid.grid_data_in) == demo_runs
    first = browser.grid.grid_data_in[0]
    assert isinstance(first["c1"], str) and first["c0"] is not None  # nested values shown as JSON

    browser.query.value = "plan_name=count"
    browser.refresh()
    counts = browser.grid.grid_data_in
    assert 0 < len(counts) < demo_runs and all(r["plan_name"] == "count" for r in counts)

    browser.query.value = 'owner="unclosed'
    browser.refresh()
    assert "Unclosed quote" in browser.status.value and browser.grid.grid_data_in == counts


def test_selected_reads_the_grid_selection(catalog):
    from jupyterlab_raydata.widgets import RunBrowser

    browser = RunBrowser(catalog=catalog, columns=[])
    assert browser.selected == []
    uids = [r["uid"] for r in browser.grid.grid_data_in[:2]]
    # What the grid's front end sends when rows are selected (export_mode="auto").
    browser.grid._grid_data_up = {
        "rows": {
            "index_rows": {"names": [], "values": []},
            "index_columns": [["uid"], ["scan_id"]],
            "data": [[uid, 1] for uid in uids],
        }
    }
    assert browser.selected == uids
