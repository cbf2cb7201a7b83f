"""Apply a recipe: each layer's region, the layers in order, the ROIs.

Layer regions are cached by what they depend on (the layer's parameters, the run's images, the
geometry), so that after an edit only the edited layer is computed again; that keeps a preview of an
Eiger 4M mask well under half a second.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from math import ceil

import numpy as np

from ..analysis import masks as shapes_basic
from ..analysis import shapes, thresholds
from ..analysis.geometry import Geometry, energy_to_wavelength, geometry_from_start_doc, phi_map, q_map
from ..analysis.partitions import Partition, bin_index, dynamic_static, grid_index, presort
from ..analysis.poni import PoniCalibration, read_poni
from ..errors import BadRequest
from .images import RunImages
from .recipe import GEOMETRY_LAYERS, IMAGE_LAYERS, GeometrySpec, Layer, Recipe

#: Bytes of cached layer regions and maps kept at most.
CACHE_BYTES = 512 * 2**20


def _around(shape: tuple[int, int], layer, radius: float, draw) -> np.ndarray:
    """A round shape centred on ``(layer.row, layer.col)``, drawn only in its ``radius`` box:
    ``draw(window_shape, center)`` with the centre in the window's coordinates."""
    row, col = layer.row, layer.col
    return shapes.within_box(
        shape,
        (row - radius, row + radius),
        (col - radius, col + radius),
        lambda s, dr, dc: draw(s, (row - dr, col - dc)),
    )


@dataclass(frozen=True)
class ResolvedGeometry:
    """The geometry a recipe uses, where it came from, and a key naming it for caches."""

    geometry: Geometry
    source: str
    key: str
    calibration: PoniCalibration | None = None

    def maps(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        if self.calibration is not None:
            return self.calibration.maps(shape)
        return q_map(shape, self.geometry), phi_map(shape, self.geometry)


def resolve_geometry(spec: GeometrySpec, start: dict | None, detector: str | None) -> ResolvedGeometry:
    """The geometry a spec describes.

    Raises
    ------
    BadRequest
        Naming what is missing (the start-document keys tried) or why a PONI file was refused.
    """
    o = spec.overrides
    if spec.source == "poni":
        try:
            calibration = read_poni(spec.poni)
        except ValueError as exc:
            raise BadRequest("Invalid PONI file", str(exc)) from None
        key = "poni-" + hashlib.sha256(spec.poni.encode()).hexdigest()[:16]
        return ResolvedGeometry(calibration.geometry, "poni", key, calibration)
    fields: dict = {}
    if o.distance_m is not None:
        fields["distance_m"] = o.distance_m
    if o.wavelength_A is not None:
        fields["wavelength_A"] = o.wavelength_A
    elif o.energy_keV is not None:
        fields["wavelength_A"] = energy_to_wavelength(o.energy_keV)
    if o.pixel_size_m is not None:
        fields["pixel_size_m"] = o.pixel_size_m
    both = o.beam_center_row is not None and o.beam_center_col is not None
    if both:
        fields["beam_center"] = (o.beam_center_row, o.beam_center_col)
    try:
        if spec.source == "manual":
            missing = [
                k for k in ("beam_center", "distance_m", "wavelength_A", "pixel_size_m") if k not in fields
            ]
            if missing:
                raise ValueError(f"a manual geometry needs {', '.join(missing)}")
            geometry = Geometry(**fields)
        else:
            if start is None:
                raise ValueError("there is no run to read the geometry from")
            geometry = geometry_from_start_doc(start, detector=detector, **fields)
    except ValueError as exc:
        raise BadRequest(
            "Geometry incomplete", f"{exc}; enter the missing values or load a PONI file."
        ) from None
    if not both and (o.beam_center_row is not None or o.beam_center_col is not None):
        row, col = geometry.beam_center
        geometry = geometry.with_(
            beam_center=(
                row if o.beam_center_row is None else o.beam_center_row,
                col if o.beam_center_col is None else o.beam_center_col,
            )
        )
    key = "flat-" + hashlib.sha256(json.dumps(geometry.to_dict(), sort_keys=True).encode()).hexdigest()[:16]
    return ResolvedGeometry(geometry, spec.source, key)


@dataclass
class Inputs:
    """What a recipe's layers read, each fetched only when a layer needs it.

    ``images`` gives the run's images; ``geometry`` the resolved geometry (or raises why there is
    none); ``array`` the bool array of a library or upload layer, True = the file's non-zero pixels
    (upload) or the used pixels (library).
    """

    shape: tuple[int, int]
    images: Callable[[], RunImages]
    geometry: Callable[[], ResolvedGeometry]
    array: Callable[[Layer], np.ndarray]


@dataclass
class LayerEffect:
    id: str
    kind: str
    pixels: int
    masked_after: int


@dataclass
class Composition:
    mask: np.ndarray
    layers: list[LayerEffect]
    partitions: tuple[Partition, Partition] | None = None


class _Cache:
    """A least-recently-used map of arrays, bounded by their total size in bytes."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, object] = OrderedDict()
        self._sizes: dict[str, int] = {}
        self._lock = threading.Lock()

    def get_or_make(self, key: str, make: Callable[[], object]):
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        size = sum(a.nbytes for a in (value if isinstance(value, tuple) else (value,)))
        with self._lock:
            self._items[key] = value
            self._sizes[key] = size
            while sum(self._sizes.values()) > self.max_bytes and len(self._items) > 1:
                old, _ = self._items.popitem(last=False)
                self._sizes.pop(old)
        return value


class Composer:
    """Applies recipes, keeping layer regions, q/phi maps and slow intermediate images cached."""

    def __init__(self, cache_bytes: int = CACHE_BYTES):
        self._cache = _Cache(cache_bytes)

    def maps(self, geometry: ResolvedGeometry, shape) -> tuple[np.ndarray, np.ndarray]:
        key = f"maps|{geometry.key}|{tuple(shape)}"
        return self._cache.get_or_make(key, lambda: geometry.maps(tuple(shape)))

    def polar(self, geometry: ResolvedGeometry, shape, step: int = 1):
        """Distance from the beam centre and sine and cosine of the direction of every ``step``-th
        pixel in each direction (flattened), for placing labels."""

        def make():
            row0, col0 = geometry.geometry.beam_center
            rows = np.arange(0, shape[0], step, dtype=np.float64)[:, None] - row0
            cols = np.arange(0, shape[1], step, dtype=np.float64)[None, :] - col0
            dr, dc = np.broadcast_arrays(rows, cols)
            dr, dc = dr.ravel(), dc.ravel()
            radius = np.hypot(dr, dc)
            with np.errstate(invalid="ignore", divide="ignore"):
                return radius, np.nan_to_num(dr / radius), np.nan_to_num(dc / radius)

        return self._cache.get_or_make(f"polar|{geometry.key}|{tuple(shape)}|{step}", make)

    def _hot_scores(self, images: RunImages, window: int):
        key = f"hot-scores|{images.catalog}|{images.uid}|{images.key}|{window}"

        def make():
            z, spread, local = shapes_basic.hot_scores(images.mean, images.frames_read, window=window)
            return z, np.float64(spread), local

        return self._cache.get_or_make(key, make)

    def _indexer(self, geometry: ResolvedGeometry, q: np.ndarray, phi: np.ndarray):
        """:func:`~jupyterlab_raydata.analysis.partitions.grid_index` of this geometry's maps,
        remembered (a mask edit that keeps the q range keeps the grid), as are the q and phi bins
        it is made of (a new q range keeps the phi bins)."""

        def binned(values, edges):
            which = "q" if values is q else "phi"
            base = f"{geometry.key}|{which}|{values.shape}"
            # Sorted once per geometry, a map is binned for any new edges in a single pass.
            presorted = self._cache.get_or_make(f"sorted|{base}", lambda: presort(values))
            key = f"bins|{base}|{np.asarray(edges).tobytes().hex()}"
            return self._cache.get_or_make(key, lambda: bin_index(values, edges, presorted=presorted))

        def index(q_edges, phi_edges):
            key = (
                f"grid|{geometry.key}|{q.shape}|{np.asarray(q_edges).tobytes().hex()}"
                f"|{np.asarray(phi_edges).tobytes().hex()}"
            )
            return self._cache.get_or_make(key, lambda: grid_index(q, phi, q_edges, phi_edges, binner=binned))

        return index

    def region(self, layer: Layer, inputs: Inputs) -> np.ndarray:
        """The pixels a layer is about (see :mod:`.recipe`), cached by what they depend on.

        Array layers are not cached: a library mask of the same name may change (or be a saved
        mask's own copy), and reading one is as quick as looking it up.
        """
        if layer.kind in ("library", "upload"):
            return self._make_region(layer, inputs)
        params = layer.model_dump(exclude={"id", "mode", "enabled", "note"})
        parts = [json.dumps(params, sort_keys=True), str(tuple(inputs.shape))]
        if layer.kind in IMAGE_LAYERS:
            images = inputs.images()
            parts.append(f"{images.catalog}|{images.uid}|{images.key}")
        if layer.kind in GEOMETRY_LAYERS or (layer.kind == "beamstop" and layer.row is None):
            parts.append(inputs.geometry().key)
        return self._cache.get_or_make("region|" + "|".join(parts), lambda: self._make_region(layer, inputs))

    def _make_region(self, layer: Layer, inputs: Inputs) -> np.ndarray:
        shape = tuple(inputs.shape)
        kind = layer.kind
        if kind == "circle":
            return _around(
                shape, layer, layer.radius, lambda s, center: shapes_basic.circle(s, center, layer.radius)
            )
        if kind == "annulus":
            return _around(
                shape,
                layer,
                layer.r_outer,
                lambda s, center: shapes_basic.annulus(s, center, layer.r_inner, layer.r_outer),
            )
        if kind == "rectangle":
            # Pixel centres r with lo <= r < hi are exactly the integers ceil(lo) .. ceil(hi) - 1.
            rows = sorted((layer.row0, layer.row1))
            cols = sorted((layer.col0, layer.col1))
            return shapes_basic.rectangle(
                shape, (ceil(rows[0]), ceil(cols[0])), (ceil(rows[1]), ceil(cols[1]))
            )
        if kind == "polygon":
            vertices = np.asarray(layer.vertices, dtype=np.float64)
            return shapes.within_box(
                shape,
                (vertices[:, 0].min(), vertices[:, 0].max()),
                (vertices[:, 1].min(), vertices[:, 1].max()),
                lambda s, dr, dc: shapes_basic.polygon(s, vertices - (dr, dc)),
            )
        if kind == "line":
            return shapes.line(shape, (layer.row0, layer.col0), (layer.row1, layer.col1), layer.width)
        if kind == "beamstop":
            if layer.row is None or layer.col is None:
                center = inputs.geometry().geometry.beam_center
                center = (
                    center[0] if layer.row is None else layer.row,
                    center[1] if layer.col is None else layer.col,
                )
            else:
                center = (layer.row, layer.col)
            return shapes.beamstop(shape, center, layer.radius, layer.arm_angle, layer.arm_width)
        if kind == "q_range":
            q, _ = self.maps(inputs.geometry(), shape)
            return shapes.q_range(q, layer.q_min, layer.q_max)
        if kind == "phi_range":
            _, phi = self.maps(inputs.geometry(), shape)
            return shapes.phi_range(phi, layer.start, layer.stop)
        if kind in ("hot_pixels", "dead_pixels"):
            images = inputs.images()
            hot = kind == "hot_pixels"
            good = shapes_basic.hot_dead_from_mean(
                images.mean,
                images.frames_read,
                hot_sigma=layer.sigma if hot else np.inf,
                dead_fraction=-np.inf if hot else layer.fraction,
                window=layer.window,
                scores=self._hot_scores(images, layer.window),
            )
            return ~good
        if kind == "never_counted":
            return thresholds.never_counted(inputs.images().max)
        if kind == "value_range":
            return thresholds.outside_range(inputs.images().mean, layer.vmin, layer.vmax)
        if kind == "ring_outliers":
            q, _ = self.maps(inputs.geometry(), shape)
            return thresholds.ring_outliers(inputs.images().mean, q, layer.n_rings, layer.sigma)
        if kind == "library":
            return ~inputs.array(layer)
        if kind == "upload":
            nonzero = inputs.array(layer)
            return ~nonzero if layer.polarity == "used" else nonzero.copy()
        raise BadRequest("Unknown layer", f"Layers of kind '{kind}' are not known.")

    def compose(self, recipe: Recipe, inputs: Inputs) -> Composition:
        """The mask a recipe makes (True = used), each layer's effect, and its ROIs.

        Raises
        ------
        BadRequest
            When a layer needs what is missing (a run, a geometry) or an array has another shape.
        """
        used = np.ones(inputs.shape, bool)
        effects = []
        for layer in recipe.layers:
            if not layer.enabled:
                effects.append(LayerEffect(layer.id, layer.kind, 0, int(used.size - used.sum())))
                continue
            region = self.region(layer, inputs)
            if layer.mode == "exclude":
                used &= ~region
            else:
                used |= region
            effects.append(LayerEffect(layer.id, layer.kind, int(region.sum()), int(used.size - used.sum())))
        if recipe.invert:
            used = ~used
        composition = Composition(used, effects)
        if recipe.rois is not None:
            composition.partitions = self.partitions(recipe, used, inputs)
        return composition

    def partitions(self, recipe: Recipe, used: np.ndarray, inputs: Inputs) -> tuple[Partition, Partition]:
        spec = recipe.rois
        geometry = inputs.geometry()
        q, phi = self.maps(geometry, inputs.shape)
        q_range = None
        if spec.q_min is not None or spec.q_max is not None:
            values = q[used]
            if values.size == 0:
                raise BadRequest("No pixels", "The mask leaves no pixels for the ROIs.")
            q_range = (
                float(values.min()) if spec.q_min is None else spec.q_min,
                float(values.max()) if spec.q_max is None else spec.q_max,
            )
        try:
            return dynamic_static(
                q,
                phi,
                used,
                dynamic=(spec.dynamic.q, spec.dynamic.phi),
                static=(spec.static.q, spec.static.phi),
                q_range=q_range,
                phi_range=(spec.phi_min, spec.phi_max),
                spacing=spec.spacing,
                indexer=self._indexer(geometry, q, phi),
            )
        except ValueError as exc:
            raise BadRequest("Invalid ROIs", str(exc)) from None
