"""The mask composer behind the REST API: runs' images, uploads, previews, saving, export.

Everything here may block (catalog reads, numpy on detector-sized arrays, files); the handlers call
it from a worker thread.
"""

from __future__ import annotations

import base64
import functools
import io
import os
from functools import partial
from pathlib import Path

import numpy as np

from ..analysis.beam_center import find_beam_center
from ..analysis.poni import read_poni
from ..catalog.catalog import choose_image
from ..errors import BadRequest, Conflict, NotFound
from .compose import Composer, Composition, Inputs, ResolvedGeometry, resolve_geometry
from .export import edf_bytes, npy_bytes, write_qmap
from .images import RunImages, RunImageStore
from .library import MASK_FILE, QMAP_FILE, MaskLibrary, check_name
from .models import (
    BeamCenter,
    DynamicRois,
    GeometryInfo,
    LayerEffect,
    MaskDetail,
    MaskList,
    MaskSummary,
    PartitionSummary,
    Preview,
    RunImageInfo,
    UploadInfo,
    UploadList,
)
from .recipe import CONVENTION, Recipe
from .uploads import Limits, UploadStore, parse_upload

#: ROI lists (q, phi, pixels, label positions) are sent for at most this many dynamic ROIs.
MAX_LISTED_ROIS = 5000


def _bits(array: np.ndarray) -> str:
    return base64.b64encode(np.packbits(array, axis=None).tobytes()).decode("ascii")


def _outline(labels: np.ndarray) -> np.ndarray:
    """Labelled pixels with a differently labelled 4-neighbour: the ROI boundaries."""
    edge = np.zeros(labels.shape, bool)
    horizontal = labels[:, 1:] != labels[:, :-1]
    vertical = labels[1:, :] != labels[:-1, :]
    edge[:, 1:] |= horizontal
    edge[:, :-1] |= horizontal
    edge[1:, :] |= vertical
    edge[:-1, :] |= vertical
    return edge & (labels > 0)


def geometry_info(resolved: ResolvedGeometry) -> GeometryInfo:
    g = resolved.geometry
    return GeometryInfo(
        source=resolved.source,
        beam_center_row=g.beam_center[0],
        beam_center_col=g.beam_center[1],
        distance_m=g.distance_m,
        wavelength_A=g.wavelength_A,
        energy_keV=g.energy_keV,
        pixel_size_m=g.pixel_sizes[1],
        pixel_size_row_m=g.pixel_sizes[0],
        tilt_deg=None if resolved.calibration is None else resolved.calibration.tilt_deg,
    )


class MaskService:
    """The mask library plus the composer's state: image and upload caches, cached layer regions.

    Parameters
    ----------
    library : MaskLibrary
        Where masks are saved.
    registry : CatalogRegistry
        The catalogs runs are read from.
    data_dir : path
        Raydata's state folder: run images and uploads are kept under it.
    max_upload_bytes : int
        Size limit of one upload request.
    root_dir : path, optional
        The server's root, to show the library folder relative to it.
    """

    def __init__(self, library: MaskLibrary, registry, data_dir, max_upload_bytes: int, root_dir=None):
        self.library = library
        self.registry = registry
        self.images = RunImageStore(Path(data_dir) / "mask-images", registry)
        self.uploads = UploadStore(Path(data_dir) / "mask-uploads")
        self.composer = Composer()
        self.limits = Limits(max_upload_bytes)
        self.root_dir = Path(root_dir) if root_dir is not None else None

    # -- inputs of a recipe -------------------------------------------------------------------------

    def _run_images(self, recipe: Recipe) -> RunImages:
        if recipe.run is None:
            raise BadRequest("No run", "This layer works on a run's images: choose a run first.")
        images = self.images.get(recipe.run.catalog, recipe.run.uid, recipe.run.key)
        if images.shape != tuple(recipe.shape):
            raise BadRequest(
                "Shape mismatch",
                f"The recipe's shape {tuple(recipe.shape)} differs from the run's detector image "
                f"{images.shape}.",
            )
        return images

    def _geometry(self, recipe: Recipe) -> ResolvedGeometry:
        spec = recipe.geometry_spec()
        if spec is None:
            raise BadRequest(
                "No geometry", "This needs the detector geometry: choose a run or enter it by hand."
            )
        start = detector = None
        if spec.source == "metadata":
            images = self._run_images(recipe)
            start, detector = images.start, images.detector
        return resolve_geometry(spec, start, detector)

    def _array(self, recipe: Recipe, layer, sources_of: str | None = None) -> np.ndarray:
        if layer.kind == "library":
            if sources_of is not None:
                array = self.library.source(sources_of, f"library/{layer.name}.npy")
            else:
                array = self.library.load(check_name(layer.name))
            what = f"library mask '{layer.name}'"
        else:
            if sources_of is not None:
                array = self.library.source(sources_of, f"upload/{layer.upload}.npy")
            else:
                array = self.uploads.get(layer.upload)
            what = f"uploaded mask '{layer.source or layer.upload}'"
        if array.shape != tuple(recipe.shape):
            raise BadRequest(
                "Shape mismatch", f"The {what} has shape {array.shape}, the image {tuple(recipe.shape)}."
            )
        return array.astype(bool, copy=False)

    def inputs(self, recipe: Recipe, sources_of: str | None = None) -> Inputs:
        """What composing ``recipe`` reads; ``sources_of`` names a saved mask whose own copies of the
        library and upload arrays are used (to reproduce it exactly)."""
        # Each is looked up once per composition, however many layers ask.
        return Inputs(
            shape=tuple(recipe.shape),
            images=functools.cache(partial(self._run_images, recipe)),
            geometry=functools.cache(partial(self._geometry, recipe)),
            array=partial(self._array, recipe, sources_of=sources_of),
        )

    def compose(
        self, recipe: Recipe, sources_of: str | None = None, inputs: Inputs | None = None
    ) -> Composition:
        return self.composer.compose(recipe, inputs or self.inputs(recipe, sources_of))

    # -- the composer's answers ---------------------------------------------------------------------

    def run_info(self, catalog: str, uid: str, key: str | None) -> RunImageInfo:
        images = self.images.get(catalog, uid, key)
        detail = self.registry.get(catalog).run(uid)
        recipe = Recipe(shape=images.shape, run={"catalog": catalog, "uid": images.uid, "key": images.key})
        geometry, error = None, ""
        try:
            geometry = geometry_info(self._geometry(recipe))
        except BadRequest as exc:
            error = exc.detail
        return RunImageInfo(
            catalog=catalog,
            uid=images.uid,
            key=images.key,
            image_keys=detail.image_keys,
            shape=list(images.shape),
            frames_read=images.frames_read,
            frames_total=images.frames_total,
            scan_id=images.start.get("scan_id"),
            geometry=geometry,
            geometry_error=error,
        )

    def run_image_path(self, catalog: str, uid: str, key: str | None) -> Path:
        """The run's average image as a float32 ``.npy`` file."""
        return self.images.get(catalog, uid, key).mean_path

    def preview(self, recipe: Recipe, outline: str = "dynamic") -> Preview:
        inputs = self.inputs(recipe)
        composition = self.compose(recipe, inputs=inputs)
        mask = composition.mask
        geometry, error, warnings = None, "", []
        resolved = None
        if recipe.geometry_spec() is not None:
            try:
                resolved = inputs.geometry()
                geometry = geometry_info(resolved)
            except BadRequest as exc:
                error = exc.detail
        used = int(mask.sum())
        preview = Preview(
            shape=list(mask.shape),
            total=int(mask.size),
            used=used,
            masked=int(mask.size) - used,
            layers=[LayerEffect(**vars(e)) for e in composition.layers],
            geometry=geometry,
            geometry_error=error,
            mask=_bits(mask),
            warnings=warnings,
        )
        if composition.partitions is not None:
            dynamic, static = composition.partitions
            preview.dynamic = self._dynamic_summary(dynamic, resolved, recipe, warnings)
            preview.static = _summary(static, PartitionSummary)
            if outline != "none":
                preview.outline = _bits(_outline((dynamic if outline == "dynamic" else static).roi_map))
        return preview

    def _dynamic_summary(self, part, resolved: ResolvedGeometry, recipe: Recipe, warnings) -> DynamicRois:
        summary = _summary(part, DynamicRois)
        if part.n > MAX_LISTED_ROIS:
            warnings.append(f"{part.n} dynamic ROIs: their list is left out of the preview.")
            return summary
        summary.q = part.q.tolist()
        summary.phi = part.phi.tolist()
        summary.n_pixels = part.n_pixels.tolist()
        summary.anchors = self._anchors(part, resolved, recipe).tolist()
        return summary

    def _anchors(self, part, resolved: ResolvedGeometry, recipe: Recipe) -> np.ndarray:
        """Where to write each ROI's number: at its mean distance from the beam, in its mean
        direction (for a whole ring, the mean direction of all used pixels). Taken on a grid of
        about 250,000 pixels, which is plenty for a label; a ROI too thin to be on it is labelled at
        its first pixel."""
        shape = tuple(recipe.shape)
        step = max(1, int(np.sqrt(shape[0] * shape[1] / 250_000)))
        labels = part.roi_map[::step, ::step].ravel()
        row0, col0 = resolved.geometry.beam_center
        radius, sin, cos = self.composer.polar(resolved, shape, step)
        size = part.n + 1
        counts = np.bincount(labels, minlength=size)[1:]
        n = np.maximum(counts, 1)
        mean_r = np.bincount(labels, radius, size)[1:] / n
        s, c = np.bincount(labels, sin, size)[1:], np.bincount(labels, cos, size)[1:]
        inside = labels > 0
        all_s, all_c = sin[inside].sum(), cos[inside].sum()
        fallback = np.arctan2(all_s, all_c) if np.hypot(all_s, all_c) > 0.3 * inside.sum() else -np.pi / 4
        angle = np.where(np.hypot(s, c) > 0.3 * n, np.arctan2(s, c), fallback)
        anchors = np.column_stack([row0 + mean_r * np.sin(angle), col0 + mean_r * np.cos(angle)])
        for label in np.flatnonzero(counts == 0) + 1:
            anchors[label - 1] = np.unravel_index(np.argmax(part.roi_map == label), shape)
        return anchors.round(1)

    def beam_center(self, recipe: Recipe, guess, max_radius: int) -> BeamCenter:
        images = self._run_images(recipe)
        mask = self.compose(recipe).mask
        if guess is None:
            try:
                guess = self._geometry(recipe).geometry.beam_center
            except BadRequest:
                guess = None
        try:
            row, col = find_beam_center(images.mean, mask, guess=guess, max_radius=max_radius)
        except ValueError as exc:
            raise BadRequest("Beam centre not found", str(exc)) from None
        return BeamCenter(row=row, col=col)

    def poni(self, text: str, shape) -> GeometryInfo:
        try:
            calibration = read_poni(text if "\n" in text else text + "\n")
        except ValueError as exc:
            raise BadRequest("Invalid PONI file", str(exc)) from None
        if shape is not None and calibration.shape is not None and calibration.shape != tuple(shape):
            raise BadRequest(
                "Shape mismatch",
                f"The PONI file describes a detector of shape {calibration.shape}, "
                f"the image has {tuple(shape)}.",
            )
        return geometry_info(ResolvedGeometry(calibration.geometry, "poni", "", calibration))

    # -- uploads ------------------------------------------------------------------------------------

    def detector_shape(self, catalog: str, uid: str, key: str | None) -> tuple[int, int]:
        """A run's detector image shape, from its data keys (no frames are read)."""
        detail = self.registry.get(catalog).run(uid)
        key, stream = choose_image(detail.streams, key, run=f"Run '{uid}'")
        data_keys = next(s.data_keys for s in detail.streams if s.name == stream)
        return tuple(next(k.shape[-2:] for k in data_keys if k.key == key))

    def upload(self, files: list[tuple[str, bytes]], *, shape=None, dataset: str | None = None) -> UploadList:
        """Read every file, and keep the arrays only when all of them pass (see :mod:`.uploads`)."""
        if not files:
            raise BadRequest("No file", "The upload holds no file: send one or more as multipart form data.")
        total = sum(len(data) for _, data in files)
        if total > self.limits.max_bytes:
            raise BadRequest(
                "Upload refused",
                f"the upload has {total} bytes, over the {self.limits.max_bytes} bytes allowed",
            )
        parsed = [
            item
            for filename, data in files
            for item in parse_upload(
                filename, data, limits=self.limits, expected_shape=shape, dataset=dataset
            )
        ]
        return UploadList(
            uploads=[
                UploadInfo(
                    id=self.uploads.put(item),
                    source=item.source,
                    shape=list(item.nonzero.shape),
                    nonzero=int(item.nonzero.sum()),
                    suggested_polarity=item.suggested_polarity,
                )
                for item in parsed
            ]
        )

    # -- the library --------------------------------------------------------------------------------

    def _folder_label(self) -> str:
        root = self.library.root.resolve()
        if self.root_dir is not None and root.is_relative_to(self.root_dir.resolve()):
            return str(root.relative_to(self.root_dir.resolve()))
        return str(root)

    def summary(self, name: str) -> MaskSummary:
        folder = self.library.folder(name)
        mask = np.load(folder / MASK_FILE, mmap_mode="r", allow_pickle=False)
        used = int(np.count_nonzero(mask))
        recipe = self.library.recipe(name)
        return MaskSummary(
            name=name,
            shape=list(mask.shape),
            used=used,
            masked=int(mask.size) - used,
            modified=self.library.modified(name),
            run=recipe.get("run"),
            layers=len(recipe.get("layers") or []),
            rois=int(recipe.get("counts", {}).get("dynamic_rois", 0)),
            files=sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()),
        )

    def list(self) -> MaskList:
        masks = []
        for name in self.library.names():
            try:
                masks.append(self.summary(name))
            except (OSError, ValueError, NotFound, BadRequest):
                continue  # removed meanwhile, or not ours to read: the list shows what it can
        return MaskList(masks=masks, folder=self._folder_label())

    def detail(self, name: str) -> MaskDetail:
        """A saved mask with its recipe, ready to edit: the arrays of its upload layers are made
        available to the composer again from the mask's own copies."""
        summary = self.summary(name)
        raw = self.library.recipe(name)
        try:
            recipe = Recipe.model_validate(
                {k: v for k, v in raw.items() if k not in ("counts", "convention")}
            )
        except ValueError as exc:
            raise BadRequest(
                "Unreadable recipe", f"Mask '{name}' has a recipe this version cannot read: {exc}"
            ) from None
        for layer in recipe.layers:
            if layer.kind == "upload":
                self.uploads.add_array(self.library.source(name, f"upload/{layer.upload}.npy"), layer.source)
        return MaskDetail(**summary.model_dump(), recipe=recipe)

    def save(self, name: str, recipe: Recipe, overwrite: bool = False) -> MaskSummary:
        """Compose ``recipe`` and save it as ``name``, with copies of the arrays it used."""
        check_name(name)
        if self.library.exists(name) and not overwrite:
            raise Conflict(
                "Mask exists", f"A mask named '{name}' is already in the library; pick another name."
            )
        composition = self.compose(recipe)
        sources = {}
        for layer in recipe.layers:
            if layer.kind == "upload":
                sources[f"upload/{layer.upload}.npy"] = self.uploads.get(layer.upload).astype(bool)
            elif layer.kind == "library":
                sources[f"library/{layer.name}.npy"] = self.library.load(layer.name)
        document = recipe.model_dump(mode="json")
        document["convention"] = CONVENTION
        counts = {"used": int(composition.mask.sum()), "total": int(composition.mask.size)}
        writers = {}
        if composition.partitions is not None:
            dynamic, static = composition.partitions
            geometry = self._geometry(recipe).geometry
            counts.update(dynamic_rois=dynamic.n, static_rois=static.n)
            writers[QMAP_FILE] = partial(
                write_qmap, mask=composition.mask, dynamic=dynamic, static=static, geometry=geometry
            )
        document["counts"] = counts
        self.library.save(
            name, composition.mask, document, sources=sources, writers=writers, overwrite=overwrite
        )
        return self.summary(name)

    def reproduce(self, name: str) -> np.ndarray:
        """The mask a saved recipe makes now, from the run and the mask's own source copies."""
        return self.compose(self.detail(name).recipe, sources_of=name).mask

    def export(self, name: str, fmt: str) -> tuple[str, bytes, str]:
        """``(file name, bytes, media type)`` of a saved mask in another tool's format."""
        mask = self.library.load(name)
        if fmt == "npy":
            return f"{name}.npy", npy_bytes(mask), "application/octet-stream"
        if fmt == "edf":
            return f"{name}_pyfai.edf", edf_bytes(mask), "application/octet-stream"
        path = self.library.path(name) / QMAP_FILE
        if not path.is_file():
            raise Conflict(
                "No ROIs",
                f"Mask '{name}' has no ROIs, which the /qmap file needs: add q rings or a q-phi partition "
                "and save it again.",
            )
        return f"{name}_qmap.h5", path.read_bytes(), "application/x-hdf5"

    def thumbnail(self, name: str, max_size: int) -> bytes:
        """A small grey PNG of a saved mask: white = used, black = masked."""
        from PIL import Image

        mask = self.library.load(name).astype(np.float32)
        rows, cols = mask.shape
        factor = max_size / max(rows, cols)
        image = Image.fromarray(mask * 255.0, mode="F")
        if factor < 1:
            size = (max(1, round(cols * factor)), max(1, round(rows * factor)))
            image = image.resize(size, Image.Resampling.BOX)
        buffer = io.BytesIO()
        image.convert("L").save(buffer, format="PNG")
        return buffer.getvalue()

    def rename(self, name: str, new_name: str) -> MaskSummary:
        self.library.rename(name, new_name)
        return self.summary(new_name)

    def duplicate(self, name: str, new_name: str) -> MaskSummary:
        self.library.duplicate(name, new_name)
        return self.summary(new_name)

    def delete(self, name: str) -> None:
        self.library.delete(name)


def _summary(part, model):
    counts = part.n_pixels
    lo, hi = (float(part.q_edges[0, 0]), float(part.q_edges[-1, 1]))
    return model(
        num_pts=list(part.num_pts),
        n=part.n,
        q_range=[lo, hi],
        n_pixels_min=int(counts.min()) if counts.size else 0,
        n_pixels_max=int(counts.max()) if counts.size else 0,
    )


def library_root(masks_dir: str, root_dir: str | os.PathLike) -> Path:
    """The library folder: ``masks_dir`` itself when absolute, else under the server's root."""
    path = Path(masks_dir).expanduser()
    return path if path.is_absolute() else Path(root_dir).expanduser() / path
