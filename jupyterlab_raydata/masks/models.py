"""The shapes the mask layer answers with (the REST API's request and response bodies)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from .recipe import Recipe, RunRef


class MaskSummary(BaseModel):
    """One saved mask, as the library lists it."""

    name: str
    shape: list[int]
    used: int = Field(description="Pixels used (True in mask.npy).")
    masked: int
    modified: float = Field(description="Last saved, epoch seconds.")
    run: RunRef | None = None
    layers: int = Field(0, description="Layers in its recipe.")
    rois: int = Field(0, description="Dynamic ROIs, 0 without ROIs.")
    files: list[str] = Field(default_factory=list, description="Files in the mask's folder.")


class MaskList(BaseModel):
    masks: list[MaskSummary]
    folder: str = Field(description="The library folder, relative to the server's root when inside it.")


class MaskDetail(MaskSummary):
    recipe: Recipe


class SaveRequest(BaseModel):
    recipe: Recipe
    overwrite: bool = Field(False, strict=True, description="Replace a saved mask of the same name.")


class NameRequest(BaseModel):
    to: str = Field(
        description="The new name: letters, digits, '-', '_' and '.', not starting with '.'.",
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}$",
    )


class LayerEffect(BaseModel):
    id: str
    kind: str
    pixels: int = Field(description="Pixels in the layer's region (0 when disabled).")
    masked_after: int = Field(description="Masked pixels once this layer is applied.")


class GeometryInfo(BaseModel):
    source: Literal["metadata", "manual", "poni"]
    beam_center_row: float
    beam_center_col: float
    distance_m: float
    wavelength_A: float
    energy_keV: float
    pixel_size_m: float = Field(description="Column pitch (the APS files' pixel_size).")
    pixel_size_row_m: float
    tilt_deg: float | None = Field(None, description="Detector tilt of a PONI calibration.")


class PartitionSummary(BaseModel):
    num_pts: list[int] = Field(description="[q bins, phi bins].")
    n: int = Field(description="Non-empty bins: the ROIs, numbered 1..n.")
    q_range: list[float] = Field(description="[q_min, q_max] of the bins, Å⁻¹.")
    n_pixels_min: int
    n_pixels_max: int


class DynamicRois(PartitionSummary):
    q: list[float] = Field(default_factory=list, description="Ring centre of each ROI, Å⁻¹.")
    phi: list[float] = Field(default_factory=list, description="Sector centre of each ROI, degrees.")
    n_pixels: list[int] = Field(default_factory=list)
    anchors: list[list[float]] = Field(default_factory=list, description="[row, col] to label each ROI at.")


class Preview(BaseModel):
    """A composed mask, not saved: counts, each layer's effect, ROIs, and the mask itself."""

    shape: list[int]
    total: int
    used: int
    masked: int
    layers: list[LayerEffect]
    geometry: GeometryInfo | None = None
    geometry_error: str = Field("", description="Why there is no geometry, when there is none.")
    dynamic: DynamicRois | None = None
    static: PartitionSummary | None = None
    mask: str = Field(description="Base64 of the mask's bits (numpy packbits, row-major, 1 = used).")
    outline: str | None = Field(None, description="Base64 of packed bits marking ROI boundary pixels.")
    warnings: list[str] = Field(default_factory=list)


class PreviewRequest(BaseModel):
    recipe: Recipe
    outline: Literal["dynamic", "static", "none"] = "dynamic"


class RunImageInfo(BaseModel):
    """The run a mask is drawn on; GET …/image gives its average image as ``.npy`` bytes."""

    catalog: str
    uid: str
    key: str
    image_keys: list[str]
    shape: list[int]
    frames_read: int = Field(description="Frames averaged (evenly spread over the series).")
    frames_total: int
    scan_id: int | None = None
    geometry: GeometryInfo | None = None
    geometry_error: str = ""


class UploadInfo(BaseModel):
    id: str = Field(description="Use as an upload layer's 'upload'.")
    source: str = Field(description="File name, ZIP member and HDF5 dataset it came from.")
    shape: list[int]
    nonzero: int = Field(description="Pixels with a non-zero value in the file.")
    suggested_polarity: Literal["used", "masked"] = Field(
        description="'masked' for formats whose non-zero values usually mark masked pixels (EDF)."
    )


class UploadList(BaseModel):
    uploads: list[UploadInfo]


class UploadQuery(BaseModel):
    catalog: str | None = Field(None, description="With uid: check every array against this run's detector.")
    uid: str | None = None
    key: str | None = Field(None, description="The run's image key; default its first.")
    dataset: str | None = Field(None, description="HDF5 dataset path holding the mask.")


class BeamCenterRequest(BaseModel):
    recipe: Recipe = Field(description="Its run's average image and its mask are used.")
    guess: tuple[float, float] | None = Field(None, description="[row, col] to start from.")
    max_radius: int = Field(256, ge=16, le=2048)


class BeamCenter(BaseModel):
    row: float
    col: float


class PoniRequest(BaseModel):
    text: str = Field(max_length=65_536, description="The PONI file's content.")
    shape: tuple[int, int] | None = Field(None, description="The image's shape, to check the detector's.")


class ExportQuery(BaseModel):
    format: Literal["npy", "qmap", "edf"] = Field(
        "npy",
        description="npy: pyCHX (bool, True = used); qmap: APS /qmap HDF5 (needs ROIs); "
        "edf: pyFAI/silx (uint8, 1 = masked).",
    )


class ImageQuery(BaseModel):
    key: str | None = None


class ThumbnailQuery(BaseModel):
    max_size: int = Field(192, ge=16, le=1024)
