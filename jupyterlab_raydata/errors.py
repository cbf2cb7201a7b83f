"""Errors that the layers below the handlers raise and the handlers turn into JSON answers.

Each error carries its HTTP status so that ``catalog/``, ``jobs/`` and the handlers agree on one
mapping without ``catalog/`` or ``jobs/`` importing tornado.
"""


class RaydataError(Exception):
    """An error a user can act on: a short ``error`` title and a ``detail`` sentence.

    Parameters
    ----------
    error : str
        A short title, e.g. ``"Unknown catalog"``.
    detail : str
        What went wrong and, where possible, what to do about it.
    """

    status = 500

    def __init__(self, error: str, detail: str = ""):
        super().__init__(f"{error}: {detail}" if detail else error)
        self.error = error
        self.detail = detail


class BadRequest(RaydataError, ValueError):
    """The request is malformed: a bad date, sort key, query or limit (HTTP 400)."""

    status = 400


class Forbidden(RaydataError, PermissionError):
    """The user may not do this, e.g. cancel another user's job without being an admin (HTTP 403)."""

    status = 403


class NotFound(RaydataError, LookupError):
    """The named catalog, run, mask or job does not exist (HTTP 404)."""

    status = 404


class Conflict(RaydataError):
    """The request clashes with the current state, e.g. cancelling a finished job (HTTP 409)."""

    status = 409


class Unavailable(RaydataError):
    """A backend (catalog server, cluster) cannot be reached right now (HTTP 503)."""

    status = 503
