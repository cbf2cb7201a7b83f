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
