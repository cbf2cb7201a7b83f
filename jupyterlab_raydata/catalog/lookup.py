"""A run named by a uid prefix, as people type them (``1a2b3c4d``): the full uid, or why not."""

from __future__ import annotations

import re

from ..errors import BadRequest, NotFound
from .catalog import Catalog
from .search import RunSearch

#: Shortest prefix taken; a full uid is 36 characters.
MIN_PREFIX = 8
_HEX = re.compile(r"^[0-9a-fA-F-]+$")


def full_uid(catalog: Catalog, uid: str) -> str:
    """The full uid of the one run of ``catalog`` whose uid is ``uid`` or starts with it.

    Raises
    ------
    NotFound
        No run has that uid or prefix.
    BadRequest
        A prefix shorter than :data:`MIN_PREFIX` characters, or one that several runs share.
    """
    if len(uid) >= 36 or not _HEX.match(uid):
        return uid
    if len(uid) < MIN_PREFIX:
        raise BadRequest(
            "Ambiguous run",
            f"'{uid}' is too short to name a run: give at least {MIN_PREFIX} characters of its uid.",
        )
    rows = catalog.search(RunSearch(q=uid.lower(), limit=50)).runs
    found = [row.uid for row in rows if row.uid.startswith(uid.lower())]
    if not found:
        raise NotFound("Unknown run", f"No run with uid '{uid}' in catalog '{catalog.name}'.")
    if len(found) > 1:
        raise BadRequest("Ambiguous run", f"'{uid}' starts the uids of several runs: {', '.join(found[:5])}.")
    return found[0]
