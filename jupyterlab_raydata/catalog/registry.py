"""The catalogs named in the server's configuration (``c.Raydata.catalogs``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import NotFound
from .catalog import Catalog
from .models import CatalogInfo
from .specs import InvalidSpec, parse_spec

log = logging.getLogger(__name__)


class CatalogRegistry:
    """The catalogs named in ``c.Raydata.catalogs``, or the demo catalog when none are.

    Parameters
    ----------
    specs : mapping
        ``{name: configuration dict}``; an invalid entry is kept and reported (the other catalogs
        still work).
    data_dir : path
        Raydata's state folder.
    follow : bool
        Whether the catalogs keep their indexes up to date in the background (see :class:`Catalog`).
    """

    def __init__(self, specs: Mapping[str, Any], data_dir: str | Path, *, follow: bool = True):
        self.data_dir = Path(data_dir)
        self._catalogs: dict[str, Catalog] = {}
        self._invalid: dict[str, InvalidSpec] = {}
        for name, raw in (specs or {"demo": {"kind": "demo"}}).items():
            try:
                self._catalogs[name] = Catalog(name, parse_spec(name, raw), self.data_dir, follow=follow)
            except InvalidSpec as exc:
                log.error("%s", exc)
                self._invalid[name] = exc

    @property
    def names(self) -> list[str]:
        return sorted([*self._catalogs, *self._invalid])

    def get(self, name: str) -> Catalog:
        """The catalog called ``name``.

        Raises
        ------
        NotFound
            For a name that is not configured.
        InvalidSpec
            For a catalog whose configuration does not validate (HTTP 503).
        """
        if name in self._invalid:
            raise self._invalid[name]
        try:
            return self._catalogs[name]
        except KeyError:
            known = ", ".join(self.names) or "none"
            raise NotFound(
                "Unknown catalog", f"There is no catalog '{name}' (configured: {known})."
            ) from None

    def infos(self) -> list[CatalogInfo]:
        """Every catalog's name, kind and reachability, in name order."""
        out = []
        for name in self.names:
            if name in self._invalid:
                exc = self._invalid[name]
                out.append(CatalogInfo(name=name, kind="invalid", reachable=False, reason=exc.detail))
            else:
                out.append(self._catalogs[name].info())
        return out
