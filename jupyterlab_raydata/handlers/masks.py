"""``masks/…``: the mask library, uploads, previews of a recipe, and the images masks are drawn on.

Thin: validate, call :class:`~jupyterlab_raydata.masks.service.MaskService` in a worker thread (it
reads catalogs and works on detector-sized arrays), answer its models.
"""

from __future__ import annotations

import asyncio
import threading

from jupyter_server.auth.decorator import authorized
from tornado import httputil, web

from ..errors import BadRequest
from ..masks.library import MaskLibrary, check_name
from ..masks.models import (
    BeamCenter,
    BeamCenterRequest,
    ExportQuery,
    GeometryInfo,
    ImageQuery,
    MaskDetail,
    MaskList,
    MaskSummary,
    NameRequest,
    PoniRequest,
    Preview,
    PreviewRequest,
    RunImageInfo,
    SaveRequest,
    ThumbnailQuery,
    UploadList,
    UploadQuery,
)
from ..masks.service import MaskService, library_root
from .base import RaydataHandler
from .openapi import Endpoint

_SERVICE_KEY = "raydata_masks"
_service_lock = threading.Lock()
# Room for the multipart framing around the files themselves.
_MULTIPART_SLACK = 64 * 1024


def mask_service(handler: RaydataHandler) -> MaskService:
    """The server's one :class:`MaskService`, made on first use."""
    settings = handler.settings
    with _service_lock:
        service = settings.get(_SERVICE_KEY)
        if service is None:
            raydata = handler.raydata
            root_dir = settings.get("server_root_dir") or "."
            service = MaskService(
                MaskLibrary(library_root(raydata.masks_dir, root_dir)),
                raydata.registry,
                raydata.data_dir,
                int(raydata.mask_upload_max_mb * 2**20),
                root_dir=root_dir,
            )
            settings[_SERVICE_KEY] = service
    return service


class _MaskHandler(RaydataHandler):
    @property
    def service(self) -> MaskService:
        return mask_service(self)

    async def _to_new_name(self, name: str, call) -> None:
        """Rename or copy the mask ``name`` to the body's ``to``, both names checked."""
        check_name(name)
        to = check_name(self.body_model(NameRequest).to)
        await self.reply_with(call, name, to)


class MasksHandler(_MaskHandler):
    api = {"get": Endpoint("Saved masks in the library", response=MaskList)}

    @web.authenticated
    @authorized
    async def get(self):
        await self.reply_with(self.service.list)


class MaskHandler(_MaskHandler):
    api = {
        "get": Endpoint(
            "A saved mask with its recipe, ready to edit", response=MaskDetail, errors=(400, 404)
        ),
        "put": Endpoint(
            "Compose a recipe and save it under this name",
            response=MaskSummary,
            body=SaveRequest,
            errors=(400, 404, 409, 503),
        ),
        "delete": Endpoint("Delete a saved mask", response=MaskSummary, errors=(400, 404)),
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        check_name(name)
        await self.reply_with(self.service.detail, name)

    @web.authenticated
    @authorized
    async def put(self, name):
        check_name(name)
        body = self.body_model(SaveRequest)
        await self.reply_with(self.service.save, name, body.recipe, body.overwrite)

    @web.authenticated
    @authorized
    async def delete(self, name):
        check_name(name)
        summary = await asyncio.to_thread(self.service.summary, name)
        await asyncio.to_thread(self.service.delete, name)
        self.reply(summary)


class RenameHandler(_MaskHandler):
    api = {
        "post": Endpoint(
            "Rename a saved mask", response=MaskSummary, body=NameRequest, errors=(400, 404, 409)
        )
    }

    @web.authenticated
    @authorized
    async def post(self, name):
        await self._to_new_name(name, self.service.rename)


class DuplicateHandler(_MaskHandler):
    api = {
        "post": Endpoint(
            "Copy a saved mask under a new name",
            response=MaskSummary,
            body=NameRequest,
            errors=(400, 404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def post(self, name):
        await self._to_new_name(name, self.service.duplicate)


class ExportHandler(_MaskHandler):
    api = {
        "get": Endpoint(
            "A saved mask as pyCHX .npy, APS /qmap HDF5 or pyFAI EDF",
            query=ExportQuery,
            media_type="application/octet-stream",
            errors=(400, 404, 409),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        check_name(name)
        args = self.query_model(ExportQuery)
        filename, data, media_type = await asyncio.to_thread(self.service.export, name, args.format)
        self.reply_bytes(data, media_type, {"Content-Disposition": f'attachment; filename="{filename}"'})


class ThumbnailHandler(_MaskHandler):
    api = {
        "get": Endpoint(
            "A small PNG of a saved mask (white = used)",
            query=ThumbnailQuery,
            media_type="image/png",
            errors=(400, 404),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, name):
        check_name(name)
        args = self.query_model(ThumbnailQuery)
        png = await asyncio.to_thread(self.service.thumbnail, name, args.max_size)
        self.reply_bytes(png, "image/png", {"Cache-Control": "no-cache"})


class PreviewHandler(_MaskHandler):
    api = {
        "post": Endpoint(
            "Compose a recipe without saving it: counts, layer effects, ROIs and the mask's bits",
            response=Preview,
            body=PreviewRequest,
            errors=(400, 404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def post(self):
        body = self.body_model(PreviewRequest)
        await self.reply_with(self.service.preview, body.recipe, body.outline)


class BeamCenterHandler(_MaskHandler):
    api = {
        "post": Endpoint(
            "Find the beam centre from the symmetry of the run's average image",
            response=BeamCenter,
            body=BeamCenterRequest,
            errors=(400, 404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def post(self):
        body = self.body_model(BeamCenterRequest)
        await self.reply_with(self.service.beam_center, body.recipe, body.guess, body.max_radius)


class PoniHandler(_MaskHandler):
    api = {
        "post": Endpoint(
            "Read a pyFAI PONI calibration into a geometry",
            response=GeometryInfo,
            body=PoniRequest,
            errors=(400,),
        )
    }

    @web.authenticated
    @authorized
    async def post(self):
        body = self.body_model(PoniRequest)
        await self.reply_with(self.service.poni, body.text, body.shape)


class RunImageInfoHandler(_MaskHandler):
    api = {
        "get": Endpoint(
            "The run a mask is drawn on: image shape, frames averaged, geometry from its metadata",
            response=RunImageInfo,
            query=ImageQuery,
            errors=(404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, catalog, uid):
        args = self.query_model(ImageQuery)
        await self.reply_with(self.service.run_info, catalog, uid, args.key)


class RunImageHandler(_MaskHandler):
    api = {
        "get": Endpoint(
            "The run's average image as a float32 .npy file, for drawing in the browser",
            query=ImageQuery,
            media_type="application/octet-stream",
            errors=(404, 503),
        )
    }

    @web.authenticated
    @authorized
    async def get(self, catalog, uid):
        args = self.query_model(ImageQuery)
        path = await asyncio.to_thread(self.service.run_image_path, catalog, uid, args.key)
        await self.reply_file(path, "application/octet-stream", {"Cache-Control": "private, max-age=3600"})


@web.stream_request_body
class UploadHandler(_MaskHandler):
    """Multipart upload of mask files, capped while it streams in: an upload over the limit is never
    held in memory in full."""

    api = {
        "post": Endpoint(
            "Upload mask files (.npy, .tif, .edf, .h5 or a ZIP of them); nothing is kept unless all pass",
            response=UploadList,
            query=UploadQuery,
            errors=(400, 404, 503),
        )
    }

    async def prepare(self):
        await super().prepare()
        self._body = bytearray()
        self._too_big = False
        self._cap = self.service.limits.max_bytes + _MULTIPART_SLACK
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > self._cap and self.current_user:
            raise BadRequest(
                "Upload refused",
                f"the upload has {length} bytes, over the {self.service.limits.max_bytes} allowed "
                "(c.Raydata.mask_upload_max_mb)",
            )

    def data_received(self, chunk: bytes) -> None:
        if self._too_big or len(self._body) + len(chunk) > self._cap:
            self._too_big = True
            self._body = bytearray()
            return
        self._body.extend(chunk)

    @web.authenticated
    @authorized
    async def post(self):
        if self._too_big:
            raise BadRequest(
                "Upload refused",
                f"the upload is over the {self.service.limits.max_bytes} bytes allowed "
                "(c.Raydata.mask_upload_max_mb)",
            )
        args = self.query_model(UploadQuery)
        content_type = self.request.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            raise BadRequest("Not a file upload", "Send the files as multipart/form-data.")
        fields: dict = {}
        files: dict = {}
        try:
            httputil.parse_body_arguments(content_type, bytes(self._body), fields, files)
        except httputil.HTTPInputError as exc:
            raise BadRequest("Not a file upload", f"The multipart body cannot be read: {exc}.") from None
        uploaded = [(f.filename, f.body) for parts in files.values() for f in parts]
        shape = None
        if args.catalog and args.uid:
            shape = await asyncio.to_thread(self.service.detector_shape, args.catalog, args.uid, args.key)
        await self.reply_with(self.service.upload, uploaded, shape=shape, dataset=args.dataset)


_NAME = "masks/(?P<name>[^/]+)"
_RUN = "masks/runs/(?P<catalog>[^/]+)/(?P<uid>[^/]+)"
# The fixed words come before ``masks/{name}`` (tornado takes the first match); no mask may be named so.
routes = [
    ("masks", MasksHandler),
    ("masks/upload", UploadHandler),
    ("masks/preview", PreviewHandler),
    ("masks/beam-center", BeamCenterHandler),
    ("masks/poni", PoniHandler),
    (_RUN, RunImageInfoHandler),
    (_RUN + "/image", RunImageHandler),
    (_NAME, MaskHandler),
    (_NAME + "/rename", RenameHandler),
    (_NAME + "/duplicate", DuplicateHandler),
    (_NAME + "/export", ExportHandler),
    (_NAME + "/image", ThumbnailHandler),
]
