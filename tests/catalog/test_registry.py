import socket

import pytest

from jupyterlab_raydata.catalog.registry import CatalogRegistry
from jupyterlab_raydata.catalog.search import query_help
from jupyterlab_raydata.catalog.specs import InvalidSpec, SQLiteSpec, TiledSpec, parse_spec
from jupyterlab_raydata.errors import NotFound, Unavailable


def test_specs_are_discriminated_on_kind():
    assert isinstance(parse_spec("a", {"kind": "sqlite", "path": "/x.db"}), SQLiteSpec)
    spec = parse_spec(
        "chx", {"kind": "tiled", "uri": "https://tiled.example", "path": "chx/raw", "api_key": "s3cret"}
    )
    assert isinstance(spec, TiledSpec) and "s3cret" not in repr(spec)


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"kind": "mongo"}, "needs a 'kind'"),
        ("sqlite:///x", "needs a 'kind'"),
        ({"kind": "sqlite"}, "path: Field required"),
        ({"kind": "tiled", "uri": "http://x", "colour": 1}, "colour: Extra inputs"),
        ({"kind": "demo", "runs": 0}, "runs:"),
    ],
)
def test_bad_specs_name_the_catalog(raw, words):
    with pytest.raises(InvalidSpec) as info:
        parse_spec("chx", raw)
    assert "c.Raydata.catalogs['chx']" in info.value.detail and words in info.value.detail


def test_no_configuration_means_the_demo_catalog(tmp_path):
    registry = CatalogRegistry({}, tmp_path)
    assert registry.names == ["demo"]
    (info,) = registry.infos()
    assert info.kind == "demo" and info.reachable  # built on first listing, not by asking


def test_unknown_invalid_and_unreachable_catalogs(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    registry = CatalogRegistry(
        {
            "bad": {"kind": "sqlite"},
            "down": {"kind": "tiled", "uri": f"http://127.0.0.1:{port}", "timeout": 1},
            "gone": {"kind": "sqlite", "path": str(tmp_path / "missing.db")},
        },
        tmp_path,
    )
    assert registry.names == ["bad", "down", "gone"]
    with pytest.raises(NotFound, match="configured: bad, down, gone"):
        registry.get("nope")
    with pytest.raises(InvalidSpec):
        registry.get("bad")
    with pytest.raises(Unavailable, match="Catalog 'down' cannot be reached") as info:
        registry.get("down").runs([])
    assert "127.0.0.1" in info.value.detail
    with pytest.raises(Unavailable, match="There is no SQLite catalog"):
        registry.get("gone").source()
    reasons = {i.name: (i.reachable, i.reason) for i in registry.infos()}
    assert all(not ok and reason for ok, reason in reasons.values())


def test_query_help_bundles_every_help_text():
    help_ = query_help()
    assert (
        "owner=alice" in help_.query
        and help_.examples
        and "-time" in help_.sort
        and "ISO 8601" in help_.dates
    )


def test_a_failed_opening_is_remembered_for_the_retry_window(tmp_path, monkeypatch):
    from jupyterlab_raydata.catalog import catalog as catalog_module
    from jupyterlab_raydata.catalog.demo import create_sqlite_catalog

    monkeypatch.setattr(catalog_module, "RETRY_AFTER_S", 3600.0)
    registry = CatalogRegistry(
        {"late": {"kind": "sqlite", "path": str(tmp_path / "late" / "catalog.db")}}, tmp_path
    )
    late = registry.get("late")
    with pytest.raises(Unavailable, match="There is no SQLite catalog") as first:
        late.source()
    create_sqlite_catalog(tmp_path / "late")  # the catalog appears
    with pytest.raises(Unavailable) as again:
        late.source()
    assert again.value is first.value  # within the window: the remembered failure, nothing retried
    monkeypatch.setattr(catalog_module, "RETRY_AFTER_S", 0.0)
    assert late.source().shape.name == "sql" and late.info().reachable


def test_a_missing_api_key_variable_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("RAYDATA_TEST_TILED_KEY", raising=False)
    registry = CatalogRegistry(
        {
            "chx": {
                "kind": "tiled",
                "uri": "http://127.0.0.1:9",
                "api_key_env": "RAYDATA_TEST_TILED_KEY",
                "timeout": 1,
            }
        },
        tmp_path,
    )
    with pytest.raises(Unavailable) as info:
        registry.get("chx").source()
    assert info.value.detail == (
        "The environment variable RAYDATA_TEST_TILED_KEY holding the API key is not set."
    )


def test_a_tiled_profile_opens_its_catalog(demo_catalog, demo_runs, tmp_path, monkeypatch):
    import tiled.profiles

    profiles = tmp_path / "profiles"
    profiles.mkdir()
    (profiles / "beamline.yml").write_text(
        "raydata-test-beamline:\n"
        "  direct:\n"
        "    trees:\n"
        "      - path: /\n"
        "        tree: catalog\n"
        "        args:\n"
        f"          uri: sqlite:///{demo_catalog}\n"
        f"          readable_storage: [{demo_catalog.parent}]\n"
    )
    monkeypatch.setattr(tiled.profiles, "paths", [*tiled.profiles.paths, profiles])
    tiled.profiles.load_profiles.cache_clear()
    try:
        registry = CatalogRegistry(
            {
                "beamline": {"kind": "profile", "profile": "raydata-test-beamline", "path": "raw"},
                "nope": {"kind": "profile", "profile": "raydata-no-such-profile"},
            },
            tmp_path / "state",
        )
        page = registry.get("beamline").runs([], limit=100)
        assert page.total == demo_runs
        with pytest.raises(Unavailable, match="raydata-no-such-profile"):
            registry.get("nope").source()
    finally:
        tiled.profiles.load_profiles.cache_clear()


def test_an_unreachable_databroker_is_unavailable_with_its_reason(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"mongodb://127.0.0.1:{port}/metadatastore?serverSelectionTimeoutMS=300&connectTimeoutMS=300"
    registry = CatalogRegistry({"legacy": {"kind": "databroker", "uri": uri}}, tmp_path)
    with pytest.raises(Unavailable, match="Catalog 'legacy' cannot be reached") as info:
        registry.get("legacy").source()
    assert "ServerSelectionTimeoutError" in info.value.detail and f"127.0.0.1:{port}" in info.value.detail


def test_a_job_kernel_leaves_the_indexes_to_the_server(tmp_path, monkeypatch):
    from jupyterlab_raydata import context

    settings = context.KernelSettings(data_dir=str(tmp_path / "data"), masks_dir=str(tmp_path / "masks"))
    monkeypatch.setenv(context.SETTINGS_ENV, settings.to_env())
    monkeypatch.delenv(context.JOB_ID_ENV, raising=False)
    assert context.open_catalog("demo").follow is True  # a notebook's run browser keeps its index fresh
    monkeypatch.setenv(context.JOB_ID_ENV, "7")
    assert context.open_catalog("demo").follow is False
