"""What ``c.Raydata.catalogs`` may say about one catalog: a pydantic model per ``kind``.

Examples, in ``jupyter_server_config.py``::

    c.Raydata.catalogs = {
        "chx": {"kind": "tiled", "uri": "https://tiled.nsls2.bnl.gov", "path": "chx/raw",
                "api_key_env": "TILED_API_KEY"},
        "csx": {"kind": "profile", "profile": "csx"},
        "local": {"kind": "sqlite", "path": "/data/catalog.db"},
        "legacy": {"kind": "databroker", "uri": "mongodb://localhost:27017/metadatastore",
                   "asset_registry_uri": "mongodb://localhost:27017/assets"},
    }
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, TypeAdapter, ValidationError

from ..errors import RaydataError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    refresh_seconds: float = Field(
        10.0, ge=0, description="How old the search index may get before a request starts a refresh."
    )

    def identity(self) -> str:
        """A stable fingerprint of where the runs come from; the index is rebuilt when it changes."""
        how = {"refresh_seconds", "api_key", "api_key_env", "timeout", "runs"}  # not where from
        fields = self.model_dump(exclude=how, mode="json")
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


class TiledSpec(_Spec):
    """A tiled server, e.g. NSLS-II's, with an API key or the user's saved tiled login."""

    kind: Literal["tiled"]
    uri: str = Field(
        description="Server address, e.g. https://tiled.nsls2.bnl.gov (a full /api/v1/... works)."
    )
    path: str = Field("", description="Path of the catalog of runs on the server, e.g. 'chx/raw'.")
    api_key: SecretStr | None = None
    api_key_env: str | None = Field(None, description="Name of an environment variable holding the API key.")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for the server.")


class ProfileSpec(_Spec):
    """A tiled profile (``tiled profile list``), optionally with a path inside it."""

    kind: Literal["profile"]
    profile: str
    path: str = ""


class SQLiteSpec(_Spec):
    """A tiled SQL catalog in a local SQLite file, served inside the Jupyter server."""

    kind: Literal["sqlite"]
    path: str = Field(description="The catalog's SQLite file.")
    container: str = Field("raw", description="The container of runs inside the catalog ('' for its root).")
    readable_storage: list[str] = Field(
        default_factory=list, description="Folders the data files may live in; default the file's folder."
    )


class DatabrokerSpec(_Spec):
    """A MongoDB-backed databroker catalog, served inside the Jupyter server."""

    kind: Literal["databroker"]
    uri: str = Field(description="mongodb:// address of the metadata store.")
    asset_registry_uri: str | None = Field(None, description="mongodb:// address of the asset registry.")


class DemoSpec(_Spec):
    """The embedded demo catalog, built under ``data_dir`` on first use."""

    kind: Literal["demo"]
    runs: int = Field(30, ge=1, le=10_000, description="How many runs to build.")


CatalogSpec = Annotated[
    TiledSpec | ProfileSpec | SQLiteSpec | DatabrokerSpec | DemoSpec, Field(discriminator="kind")
]
_ADAPTER = TypeAdapter(CatalogSpec)
KINDS = ("tiled", "profile", "sqlite", "databroker", "demo")


class InvalidSpec(RaydataError):
    """A catalog's configuration does not validate; the message names the catalog."""

    status = 503


def parse_spec(name: str, raw: object) -> CatalogSpec:
    """Validate one entry of ``c.Raydata.catalogs``.

    Parameters
    ----------
    name : str
        The catalog's name, used in the error.
    raw : dict
        Its configuration.

    Raises
    ------
    InvalidSpec
        Naming the catalog and every invalid field.
    """
    if not isinstance(raw, dict) or raw.get("kind") not in KINDS:
        kind = raw.get("kind") if isinstance(raw, dict) else None
        raise InvalidSpec(
            "Invalid catalog configuration",
            f"c.Raydata.catalogs['{name}'] needs a 'kind' of {', '.join(KINDS)} (got {kind!r}).",
        )
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'value'}: {e['msg']}" for e in exc.errors()
        )
        raise InvalidSpec(
            "Invalid catalog configuration", f"c.Raydata.catalogs['{name}']: {problems}."
        ) from None
