"""The base every Raydata handler uses: authentication, input validation, JSON answers and errors."""

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from jupyter_server.base.handlers import APIHandler
from pydantic import BaseModel, ValidationError
from tornado import web

from ..errors import BadRequest, RaydataError

ModelT = TypeVar("ModelT", bound=BaseModel)

AUTH_RESOURCE = "raydata"


class ErrorResponse(BaseModel):
    """Every error answer: a short title and a sentence a scientist can act on."""

    error: str
    detail: str = ""


def describe_validation_error(exc: ValidationError) -> str:
    """One readable sentence per invalid field, e.g. ``limit: Input should be less than or equal to 1000``."""
    parts = []
    for item in exc.errors():
        where = ".".join(str(p) for p in item["loc"]) or "request"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


class RaydataHandler(APIHandler):
    """Base handler: subclasses decorate each verb with ``@web.authenticated`` and ``@authorized``.

    Anything raised below the handler becomes a JSON ``{"error", "detail"}`` answer with the status
    the error carries; an unexpected exception becomes a 500 whose body names no internals (the
    traceback goes to the server log only).
    """

    auth_resource = AUTH_RESOURCE
    # Endpoint descriptions for the OpenAPI document, keyed by HTTP verb (see handlers.openapi).
    api: ClassVar[dict[str, Any]] = {}

    @property
    def raydata(self):
        return self.settings["raydata"]

    def query_model(self, model: type[ModelT]) -> ModelT:
        """Validate the query string into ``model``; repeated arguments become lists."""
        raw: dict[str, Any] = {}
        for key, values in self.request.query_arguments.items():
            decoded = [v.decode("utf-8", "replace") for v in values]
            raw[key] = decoded if len(decoded) > 1 else decoded[0]
        return self._validate(model, raw)

    def body_model(self, model: type[ModelT]) -> ModelT:
        """Validate the JSON body into ``model``."""
        try:
            raw = json.loads(self.request.body or b"{}")
        except json.JSONDecodeError as exc:
            raise BadRequest("Request body is not valid JSON", str(exc)) from None
        return self._validate(model, raw)

    @staticmethod
    def _validate(model: type[ModelT], raw: Any) -> ModelT:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise BadRequest("Invalid request", describe_validation_error(exc)) from None

    def reply(self, model: BaseModel, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(model.model_dump_json())

    async def reply_with(
        self, call: Callable[..., BaseModel], *args: Any, status: int = 200, **kwargs: Any
    ) -> None:
        """Answer with the model ``call(*args, **kwargs)`` returns, called in a worker thread (it may
        block on the catalogs, the job store or detector-sized arrays)."""
        self.reply(await asyncio.to_thread(call, *args, **kwargs), status)

    def reply_bytes(self, data: bytes, media_type: str, headers: dict[str, str] | None = None) -> None:
        """Answer with raw bytes (a file, an image) of ``media_type``, with extra ``headers``."""
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.finish(data, set_content_type=media_type)

    async def reply_file(self, path: Path, media_type: str, headers: dict[str, str] | None = None) -> None:
        """Answer with a file's bytes, read in a worker thread."""
        self.reply_bytes(await asyncio.to_thread(path.read_bytes), media_type, headers)

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RaydataError):
            status_code = exc.status
        elif isinstance(exc, ValueError):
            # The analysis layer says what is wrong with its input as a plain ValueError.
            status_code = 400
        super().send_error(status_code, **kwargs)

    def log_exception(self, typ, value, tb) -> None:
        if isinstance(value, RaydataError):
            self.log.warning("%s %s -> %s %s", self.request.method, self.request.path, value.status, value)
            return
        if isinstance(value, ValueError):
            self.log.warning("%s %s -> 400 %s", self.request.method, self.request.path, value)
            return
        super().log_exception(typ, value, tb)

    @classmethod
    def allowed_methods(cls) -> list[str]:
        """The HTTP verbs this handler answers (those it defines rather than inherits from tornado)."""
        return [
            verb
            for verb in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
            if getattr(cls, verb.lower()) is not getattr(web.RequestHandler, verb.lower())
        ]

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code == 405:
            # RFC 9110: a 405 names the methods the resource does support.
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, RaydataError):
            body = ErrorResponse(error=exc.error, detail=exc.detail)
        elif isinstance(exc, web.HTTPError):
            body = ErrorResponse(error=exc.reason or self._reason, detail=exc.log_message or "")
        elif isinstance(exc, ValueError):
            body = ErrorResponse(error="Invalid input", detail=str(exc))
        elif status_code >= 500:
            body = ErrorResponse(
                error="Internal server error",
                detail="The Raydata server hit an unexpected problem; the server log has the details.",
            )
        else:
            body = ErrorResponse(error=self._reason)
        self.set_header("Content-Type", "application/json; charset=UTF-8")
        self.finish(body.model_dump_json())
