"""The OpenAPI document of the REST API, built from the route table and the handlers' pydantic models.

``python -m jupyterlab_raydata.handlers.openapi`` prints it; ``docs/openapi.json`` is that output, and
a test checks the file against the live routes so the two never drift apart.
"""

import json
import re
from dataclasses import dataclass

from pydantic import BaseModel

from .. import __version__
from .base import ErrorResponse

PREFIX = "/raydata/api/"


@dataclass(frozen=True)
class Endpoint:
    """What one verb of one route takes and answers, for the OpenAPI document."""

    summary: str
    response: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    media_type: str = "application/json"
    errors: tuple[int, ...] = ()
    status: int = 200


def openapi_path(pattern: str) -> str:
    """``catalogs/(?P<name>[^/]+)/runs`` → ``/raydata/api/catalogs/{name}/runs``."""
    return PREFIX + re.sub(r"\(\?P<(\w+)>[^)]*\)", r"{\1}", pattern)


def _schema_ref(model: type[BaseModel], schemas: dict) -> dict:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        schemas[name] = sub
    schemas[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_schema(model: type[BaseModel], name: str) -> dict:
    """The JSON schema of one query parameter: the field's own (types, bounds, enums), as a query
    string carries it (never null; a field that also takes a list is written as one string)."""
    schema = dict(model.model_json_schema()["properties"][name])
    for said_elsewhere in ("title", "description"):
        schema.pop(said_elsewhere, None)
    options = [o for o in schema.pop("anyOf", []) if o.get("type") not in ("null", "array")]
    if options:
        schema.update(options[0])
    if schema.get("default") is None:
        schema.pop("default", None)
    return schema


def _operation(endpoint: Endpoint, path_params: dict[str, str], schemas: dict) -> dict:
    op: dict = {"summary": endpoint.summary, "parameters": [], "responses": {}}
    for name, regex in path_params.items():
        schema = {"type": "string", "minLength": 1, "pattern": f"^{regex}$"}
        op["parameters"].append({"name": name, "in": "path", "required": True, "schema": schema})
    if endpoint.query is not None:
        for name, field in endpoint.query.model_fields.items():
            op["parameters"].append(
                {
                    "name": field.alias or name,
                    "in": "query",
                    "required": field.is_required(),
                    "description": field.description or "",
                    "schema": _query_schema(endpoint.query, name),
                }
            )
    if endpoint.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(endpoint.body, schemas)}},
        }
    if endpoint.response is not None:
        content = {endpoint.media_type: {"schema": _schema_ref(endpoint.response, schemas)}}
    else:
        content = {endpoint.media_type: {"schema": {"type": "string", "format": "binary"}}}
    op["responses"][str(endpoint.status)] = {"description": "OK", "content": content}
    error_ref = _schema_ref(ErrorResponse, schemas)
    for status in sorted({403, *endpoint.errors}):
        op["responses"][str(status)] = {
            "description": "Error",
            "content": {"application/json": {"schema": error_ref}},
        }
    return op


def build_openapi(routes: list[tuple[str, type]]) -> dict:
    """The OpenAPI 3.1 document for ``routes`` (pattern relative to the prefix, handler class)."""
    paths: dict = {}
    schemas: dict = {}
    for pattern, handler in routes:
        params = dict(re.findall(r"\(\?P<(\w+)>([^)]*)\)", pattern))
        ops = {verb: _operation(ep, params, schemas) for verb, ep in handler.api.items()}
        if ops:
            paths[openapi_path(pattern)] = ops
    return {
        "openapi": "3.1.0",
        "info": {"title": "jupyterlab_raydata REST API", "version": __version__.split("+")[0]},
        "paths": paths,
        "components": {"schemas": dict(sorted(schemas.items()))},
    }


def main() -> None:
    from . import ROUTES  # the table imports this module, so import it late

    print(json.dumps(build_openapi(ROUTES), indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
