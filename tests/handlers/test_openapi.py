"""``docs/openapi.json`` describes exactly the routes the live server registers, with their models."""

import json
from pathlib import Path

from jupyterlab_raydata.handlers import ROUTES
from jupyterlab_raydata.handlers.openapi import PREFIX, build_openapi, openapi_path

SPEC_FILE = Path(__file__).parents[2] / "docs" / "openapi.json"


def _live_patterns(router, base_url: str) -> set[str]:
    """Route patterns (relative to the API prefix) of every Raydata rule in the tornado router tree."""
    found = set()
    for rule in router.rules:
        target = rule.target
        if hasattr(target, "rules"):
            found |= _live_patterns(target, base_url)
            continue
        pattern = rule.matcher.regex.pattern.rstrip("$")
        head = base_url + PREFIX.lstrip("/")
        if pattern.startswith(head) and not pattern.endswith("(?P<path>.*)"):
            found.add(pattern[len(head) :])
    return found


def test_committed_spec_is_current():
    committed = json.loads(SPEC_FILE.read_text())
    assert committed == json.loads(json.dumps(build_openapi(ROUTES))), (
        "docs/openapi.json is stale: regenerate it with "
        "`python -m jupyterlab_raydata.handlers.openapi > docs/openapi.json`"
    )


def test_spec_paths_are_the_live_routes(jp_web_app, jp_base_url):
    live = _live_patterns(jp_web_app.default_router, jp_base_url)
    assert live == {pattern for pattern, _ in ROUTES}
    spec = json.loads(SPEC_FILE.read_text())
    assert set(spec["paths"]) == {openapi_path(pattern) for pattern in live}


def test_every_operation_documents_its_answer_and_403():
    spec = json.loads(SPEC_FILE.read_text())
    for path, operations in spec["paths"].items():
        for verb, operation in operations.items():
            assert operation["summary"], f"{verb} {path} has no summary"
            codes = set(operation["responses"])
            assert "403" in codes and any(c.startswith("2") for c in codes), f"{verb} {path}"
