"""A mask recipe: everything needed to make a mask again, as JSON.

Composition starts from every pixel used; each enabled layer, in order, then *excludes* its region
(those pixels become masked) or *includes* it (they become used again); ``invert`` swaps the result.
A layer's region is:

* a shape (circle, annulus, rectangle, polygon, line of given width, beam stop): the pixels inside;
* a q or phi range: the pixels whose q (Å⁻¹) or azimuth (degrees) is in range;
* a threshold on the chosen run: the pixels it flags (hot, dead, never counting, out of a value
  range, outliers within their q ring);
* a mask array (one from the library, or an uploaded file): the pixels *that mask* leaves unused.
  Uploaded files carry their polarity: ``used`` when non-zero means a used pixel (pyCHX, APS),
  ``masked`` when non-zero means a masked pixel (silx, pyFAI, EDF ``masked_value``).

Coordinates are ``(row, col)`` pixels with pixel centres on integers; azimuths follow
:func:`~jupyterlab_raydata.analysis.geometry.phi_map` (degrees from +col towards +row).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, model_validator

RECIPE_VERSION = 1
MAX_LAYERS = 200
MAX_VERTICES = 10_000
MAX_SIDE = 20_000
#: What a saved ``mask.npy`` holds, written into every saved recipe so the file explains itself.
CONVENTION = "mask.npy: True (1) = pixel used, False (0) = masked (the pyCHX / APS convention)"

Mode = Literal["include", "exclude"]
Polarity = Literal["used", "masked"]


def _json_number(value: object) -> object:
    # JSON numbers only: true, false and "3" are not numbers here (pydantic would take them).
    if isinstance(value, (bool, str)):
        raise ValueError("a number is needed")
    return value


Number = Annotated[float, Strict()]
Whole = Annotated[int, BeforeValidator(_json_number)]
Flag = Annotated[bool, Strict()]
Coordinate = Annotated[Number, Field(ge=-1e6, le=1e6)]
Sigma = Annotated[Number, Field(gt=0, le=1e6)]
Window = Annotated[int, Field(ge=3, le=15), BeforeValidator(_json_number)]


def _check_exceeds(names: tuple[str, str], high: float, low: float) -> None:
    """Refuse a range whose upper end ``high`` does not exceed its lower end ``low``."""
    if high <= low:
        raise ValueError(f"{names[0]} ({high}) must exceed {names[1]} ({low})")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _kind_required(schema: dict) -> None:
    # Each layer's kind has a default for Python callers, but in JSON it is what picks the layer type.
    schema.setdefault("required", []).append("kind")


class _Layer(_Model):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_kind_required)

    id: str = Field("", max_length=64, description="The client's handle for the layer; any string.")
    mode: Mode = "exclude"
    enabled: Flag = True
    note: str = Field("", max_length=200, description="A free label shown in the layer list.")


class _Centred(_Layer):
    """A shape around ``(row, col)``; a subclass's ``kind`` keeps its place before them."""

    kind: str
    row: Coordinate
    col: Coordinate


class _TwoPoints(_Layer):
    """A shape between ``(row0, col0)`` and ``(row1, col1)``."""

    kind: str
    row0: Coordinate
    col0: Coordinate
    row1: Coordinate
    col1: Coordinate


class Circle(_Centred):
    kind: Literal["circle"] = "circle"
    radius: Number = Field(gt=0, le=1e6)


class Annulus(_Centred):
    kind: Literal["annulus"] = "annulus"
    r_inner: Number = Field(ge=0, le=1e6)
    r_outer: Number = Field(gt=0, le=1e6)

    @model_validator(mode="after")
    def _radii(self):
        _check_exceeds(("r_outer", "r_inner"), self.r_outer, self.r_inner)
        return self


class Rectangle(_TwoPoints):
    """Pixel centres with ``min(row0, row1) <= row < max(row0, row1)`` (and the same for columns)."""

    kind: Literal["rectangle"] = "rectangle"


class Polygon(_Layer):
    kind: Literal["polygon"] = "polygon"
    vertices: list[tuple[Coordinate, Coordinate]] = Field(min_length=3, max_length=MAX_VERTICES)


class Line(_TwoPoints):
    kind: Literal["line"] = "line"
    width: Number = Field(gt=0, le=1e5)


class Beamstop(_Layer):
    """A disc and, optionally, its arm to the detector edge; centred on the beam unless placed."""

    kind: Literal["beamstop"] = "beamstop"
    row: Coordinate | None = Field(None, description="Centre row; null = the beam centre of the geometry.")
    col: Coordinate | None = None
    radius: Number = Field(gt=0, le=1e6)
    arm_angle: Number | None = Field(
        None, ge=-360, le=360, description="Arm direction, degrees; null = none."
    )
    arm_width: Number = Field(0.0, ge=0, le=1e5)


class QRange(_Layer):
    kind: Literal["q_range"] = "q_range"
    q_min: Number | None = Field(None, ge=0, description="Å⁻¹; null = no lower bound.")
    q_max: Number | None = Field(None, gt=0, description="Å⁻¹; null = no upper bound.")


class PhiRange(_Layer):
    kind: Literal["phi_range"] = "phi_range"
    start: Number = Field(ge=-180, le=180)
    stop: Number = Field(ge=-180, le=180)


class HotPixels(_Layer):
    """Pixels far above the median of their neighbourhood (Poisson z-score, robust spread)."""

    kind: Literal["hot_pixels"] = "hot_pixels"
    sigma: Sigma = 8.0
    window: Window = 3


class DeadPixels(_Layer):
    """Pixels at or below ``fraction`` of the median of their neighbourhood."""

    kind: Literal["dead_pixels"] = "dead_pixels"
    fraction: Number = Field(0.0, ge=0, le=1)
    window: Window = 3


class NeverCounted(_Layer):
    """Pixels that stay at zero (or are not a number) in every frame read."""

    kind: Literal["never_counted"] = "never_counted"


class ValueRange(_Layer):
    """Pixels of the average image below ``vmin`` or above ``vmax`` (or not finite)."""

    kind: Literal["value_range"] = "value_range"
    vmin: Number | None = None
    vmax: Number | None = None


class RingOutliers(_Layer):
    """Pixels more than ``sigma`` robust deviations from the median of their q ring."""

    kind: Literal["ring_outliers"] = "ring_outliers"
    n_rings: Whole = Field(100, ge=1, le=5000)
    sigma: Sigma = 5.0


class LibraryMask(_Layer):
    kind: Literal["library"] = "library"
    name: str = Field(max_length=128)


class UploadedMask(_Layer):
    kind: Literal["upload"] = "upload"
    upload: str = Field(pattern=r"^[0-9a-f]{8,64}$", description="The id the upload answered with.")
    source: str = Field("", max_length=300, description="Where it came from (file, ZIP member, dataset).")
    polarity: Polarity = "used"


Layer = Annotated[
    Circle
    | Annulus
    | Rectangle
    | Polygon
    | Line
    | Beamstop
    | QRange
    | PhiRange
    | HotPixels
    | DeadPixels
    | NeverCounted
    | ValueRange
    | RingOutliers
    | LibraryMask
    | UploadedMask,
    Field(discriminator="kind"),
]

#: Layers whose region depends on the run's images.
IMAGE_LAYERS = ("hot_pixels", "dead_pixels", "never_counted", "value_range", "ring_outliers")
#: Layers whose region depends on the geometry.
GEOMETRY_LAYERS = ("q_range", "phi_range", "ring_outliers")


class RunRef(_Model):
    catalog: str = Field(max_length=200)
    uid: str = Field(max_length=200)
    key: str | None = Field(None, max_length=200, description="Detector image key; default the first.")


class GeometryOverrides(_Model):
    beam_center_row: Number | None = Field(None, ge=-1e6, le=1e6)
    beam_center_col: Number | None = Field(None, ge=-1e6, le=1e6)
    distance_m: Number | None = Field(None, gt=0, le=1e4)
    wavelength_A: Number | None = Field(None, gt=0, le=1e3)
    energy_keV: Number | None = Field(None, gt=0, le=1e4)
    pixel_size_m: Number | None = Field(None, gt=0, le=1)


class GeometrySpec(_Model):
    """Where the geometry comes from: the run's start document with overrides, the overrides alone
    (``manual``), or a pyFAI calibration (``poni``, the file's text)."""

    source: Literal["metadata", "manual", "poni"] = "metadata"
    overrides: GeometryOverrides = GeometryOverrides()
    poni: str | None = Field(None, max_length=65_536)

    @model_validator(mode="after")
    def _poni_text(self):
        if self.source == "poni" and not self.poni:
            raise ValueError("a 'poni' geometry needs the PONI file's text in 'poni'")
        return self


class Bins(_Model):
    q: Whole = Field(ge=1, le=2000)
    phi: Whole = Field(1, ge=1, le=3600)


class RoiSpec(_Model):
    """q rings (``phi`` bins of 1) or q-phi partitions, dynamic and static as the APS tools use them."""

    kind: Literal["rings", "qphi"] = "rings"
    dynamic: Bins = Bins(q=10)
    static: Bins = Bins(q=100)
    q_min: Number | None = Field(None, ge=0, description="Å⁻¹; null = smallest q of the used pixels.")
    q_max: Number | None = Field(None, gt=0, description="Å⁻¹; null = largest q of the used pixels.")
    spacing: Literal["linear", "log"] = "linear"
    phi_min: Number = Field(-180.0, ge=-180, le=180)
    phi_max: Number = Field(180.0, ge=-180, le=180)

    @model_validator(mode="after")
    def _consistent(self):
        if self.kind == "rings" and (self.dynamic.phi != 1 or self.static.phi != 1):
            raise ValueError("q rings have one phi bin; use kind 'qphi' for sectors")
        if self.static.q % self.dynamic.q or self.static.phi % self.dynamic.phi:
            raise ValueError(
                f"static bins ({self.static.q}, {self.static.phi}) must be multiples of the dynamic "
                f"bins ({self.dynamic.q}, {self.dynamic.phi})"
            )
        if self.q_min is not None and self.q_max is not None:
            _check_exceeds(("q_max", "q_min"), self.q_max, self.q_min)
        _check_exceeds(("phi_max", "phi_min"), self.phi_max, self.phi_min)
        return self


class Recipe(_Model):
    """How a mask is made; ``mask.npy`` is this recipe applied to ``run``'s images."""

    version: Literal[1] = RECIPE_VERSION
    shape: tuple[Annotated[int, Field(ge=1, le=MAX_SIDE)], Annotated[int, Field(ge=1, le=MAX_SIDE)]]
    run: RunRef | None = None
    layers: list[Layer] = Field(default_factory=list, max_length=MAX_LAYERS)
    invert: Flag = False
    geometry: GeometrySpec | None = Field(None, description="Null = the run's metadata, when there is a run.")
    rois: RoiSpec | None = None

    def geometry_spec(self) -> GeometrySpec | None:
        """The geometry to use: the explicit one, else the run's metadata, else none."""
        if self.geometry is not None:
            return self.geometry
        return GeometrySpec() if self.run is not None else None
