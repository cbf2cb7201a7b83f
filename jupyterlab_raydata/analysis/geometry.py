"""Detector geometry: pixel positions to scattering vector (transmission SAXS and GISAXS).

Conventions used throughout :mod:`jupyterlab_raydata.analysis`:

* images are indexed ``image[row, col]``; the beam centre is ``(row, col)`` in pixels
  (fractional values allowed, pixel centres sit on integers);
* lengths are in metres, wavelengths in ångström, energies in keV, and every
  scattering vector is in inverse ångström (Å⁻¹);
* the azimuth ``phi`` is measured in degrees from the +col axis towards +row,
  in ``(-180, 180]``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import NamedTuple

import numpy as np

#: h·c in keV·Å, so that ``wavelength_A = HC_KEV_A / energy_keV``.
HC_KEV_A = 12.398419843320026

__all__ = [
    "HC_KEV_A",
    "Geometry",
    "GisaxsQMaps",
    "energy_to_wavelength",
    "geometry_from_start_doc",
    "gisaxs_q_maps",
    "phi_map",
    "q_map",
    "two_theta_map",
    "wavelength_to_energy",
]


def energy_to_wavelength(energy_keV: float) -> float:
    """Convert a photon energy in keV to a wavelength in Å."""
    if energy_keV <= 0:
        raise ValueError(f"energy must be positive, got {energy_keV} keV")
    return HC_KEV_A / energy_keV


def wavelength_to_energy(wavelength_A: float) -> float:
    """Convert a wavelength in Å to a photon energy in keV."""
    if wavelength_A <= 0:
        raise ValueError(f"wavelength must be positive, got {wavelength_A} Å")
    return HC_KEV_A / wavelength_A


@dataclass(frozen=True)
class Geometry:
    """Flat-detector scattering geometry, perpendicular to the direct beam.

    Parameters
    ----------
    beam_center : tuple of float
        Direct-beam position ``(row, col)`` in pixels.
    distance_m : float
        Sample-detector distance in metres.
    wavelength_A : float
        X-ray wavelength in Å (see :func:`energy_to_wavelength`).
    pixel_size_m : float or tuple of float
        Pixel pitch in metres; a pair means ``(row pitch, col pitch)``.
    incidence_deg : float, optional
        Grazing incidence angle in degrees, used only by :func:`gisaxs_q_maps`.
    """

    beam_center: tuple[float, float]
    distance_m: float
    wavelength_A: float
    pixel_size_m: float | tuple[float, float] = 75e-6
    incidence_deg: float | None = None

    def __post_init__(self):
        if len(self.beam_center) != 2:
            raise ValueError(f"beam_center must be (row, col), got {self.beam_center!r}")
        object.__setattr__(self, "beam_center", tuple(float(v) for v in self.beam_center))
        for name in ("distance_m", "wavelength_A"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)!r}")
        if min(self.pixel_sizes) <= 0:
            raise ValueError(f"pixel_size_m must be positive, got {self.pixel_size_m!r}")

    @property
    def pixel_sizes(self) -> tuple[float, float]:
        """Pixel pitch as ``(row, col)`` in metres."""
        p = self.pixel_size_m
        return (float(p), float(p)) if np.isscalar(p) else (float(p[0]), float(p[1]))

    @property
    def energy_keV(self) -> float:
        """Photon energy in keV."""
        return wavelength_to_energy(self.wavelength_A)

    @property
    def k(self) -> float:
        """Wavenumber 2π/λ in Å⁻¹."""
        return 2 * np.pi / self.wavelength_A

    def to_dict(self) -> dict:
        """JSON-serialisable dictionary (inverse of ``Geometry(**d)``)."""
        d = asdict(self)
        d["beam_center"] = list(self.beam_center)
        if not np.isscalar(self.pixel_size_m):
            d["pixel_size_m"] = list(self.pixel_size_m)
        return d

    def with_(self, **changes) -> Geometry:
        """Return a copy with some fields replaced."""
        return replace(self, **changes)


def _offsets_m(shape: tuple[int, int], geometry: Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of each pixel centre from the beam, in metres (broadcastable)."""
    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols), got {shape!r}")
    py, px = geometry.pixel_sizes
    rows = (np.arange(shape[0], dtype=np.float64) - geometry.beam_center[0]) * py
    cols = (np.arange(shape[1], dtype=np.float64) - geometry.beam_center[1]) * px
    return rows[:, None], cols[None, :]


def two_theta_map(shape: tuple[int, int], geometry: Geometry) -> np.ndarray:
    """Scattering angle 2θ of every pixel, in radians.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    geometry : Geometry
        Beam centre, distance and pixel size.

    Returns
    -------
    ndarray of float64, shape ``shape``
    """
    dy, dx = _offsets_m(shape, geometry)
    return np.arctan2(np.hypot(dy, dx), geometry.distance_m)


def q_map(shape: tuple[int, int], geometry: Geometry) -> np.ndarray:
    """Magnitude of the scattering vector, ``q = 4π/λ · sin(2θ/2)``, for transmission SAXS.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    geometry : Geometry
        Beam centre, distance, wavelength and pixel size.

    Returns
    -------
    ndarray of float64, shape ``shape``
        ``q`` in Å⁻¹ at every pixel centre.

    Examples
    --------
    A pixel 100 pixels right of the beam, 75 µm pixels, 5 m, 1.285 Å:
    ``4π/1.285 · sin(atan(7.5e-3 / 5) / 2) = 7.3339e-3`` Å⁻¹.
    """
    return 2 * geometry.k * np.sin(two_theta_map(shape, geometry) / 2)


def phi_map(shape: tuple[int, int], geometry: Geometry) -> np.ndarray:
    """Azimuthal angle of every pixel around the beam centre, in degrees.

    Measured from the +col axis towards +row, in ``(-180, 180]``.
    """
    dy, dx = _offsets_m(shape, geometry)
    dy, dx = np.broadcast_arrays(dy, dx)
    return np.degrees(np.arctan2(dy, dx))


class GisaxsQMaps(NamedTuple):
    """The two GISAXS scattering-vector maps; unpacks as ``qr, qz``."""

    #: In-plane component, signed by the side of the specular plane (Å⁻¹).
    qr: np.ndarray
    #: Component along the surface normal (Å⁻¹).
    qz: np.ndarray


def gisaxs_q_maps(
    shape: tuple[int, int], geometry: Geometry, incidence_deg: float | None = None
) -> GisaxsQMaps:
    """In-plane and out-of-plane scattering vectors for grazing incidence (GISAXS).

    The sample surface is horizontal; detector rows increase downwards, so the exit
    angle grows towards smaller row indices. ``geometry.beam_center`` is the
    position of the direct beam, which passes ``incidence_deg`` below the surface.

    Parameters
    ----------
    shape : tuple of int
        Detector shape ``(rows, cols)``.
    geometry : Geometry
        Detector geometry with the direct-beam centre.
    incidence_deg : float, optional
        Incidence angle in degrees; defaults to ``geometry.incidence_deg``.

    Returns
    -------
    GisaxsQMaps
        ``qr``, ``qz`` (float64): ``qr = sign(qy)·sqrt(qx² + qy²)`` in the surface plane (signed, so the
        two sides of the specular plane stay apart) and ``qz`` along the surface
        normal, both in inverse ångström.
    """
    alpha_i_deg = geometry.incidence_deg if incidence_deg is None else incidence_deg
    if alpha_i_deg is None:
        raise ValueError("GISAXS needs an incidence angle: pass incidence_deg or set it on Geometry")
    alpha_i = np.radians(alpha_i_deg)
    dy, dx = _offsets_m(shape, geometry)
    # Exit angle from the surface: the direct beam lies alpha_i below it.
    alpha_f = np.arctan2(-dy, geometry.distance_m) - alpha_i
    in_plane = np.arctan2(dx, np.hypot(geometry.distance_m, dy))
    k = geometry.k
    qx = k * (np.cos(alpha_f) * np.cos(in_plane) - np.cos(alpha_i))
    qy = k * np.cos(alpha_f) * np.sin(in_plane)
    qz = k * (np.sin(alpha_f) + np.sin(alpha_i))
    qx, qy, qz = np.broadcast_arrays(qx, qy, qz)
    return GisaxsQMaps(np.copysign(np.hypot(qx, qy), qy), np.array(qz))


#: Start-document keys read by :func:`geometry_from_start_doc`, first match wins.
START_DOC_KEYS = {
    "beam_center_col": ("beam_center_x",),
    "beam_center_row": ("beam_center_y",),
    "distance": ("detector_distance", "det_distance", "sample_detector_distance"),
    "wavelength": ("incident_wavelength", "wavelength"),
    "energy": ("photon_energy", "incident_energy", "energy"),
    "pixel_col": ("x_pixel_size", "pixel_size"),
    "pixel_row": ("y_pixel_size", "pixel_size"),
    "incidence": ("incident_angle", "alpha_i"),
}


def _lookup(doc: dict, quantity: str, detector: str | None):
    """First present key for ``quantity``; detector-prefixed keys (``eiger4m_single_<key>``) win."""
    names = START_DOC_KEYS[quantity]
    prefixes = ([f"{detector}_"] if detector else []) + [""]
    for prefix in prefixes:
        for name in names:
            value = doc.get(prefix + name)
            if value is not None:
                return prefix + name, float(value)
    return None, None


def _wavelength(doc: dict, detector: str | None) -> float | None:
    _, wavelength = _lookup(doc, "wavelength", detector)
    if wavelength is not None:
        return wavelength
    _, energy = _lookup(doc, "energy", detector)
    if energy is None:
        return None
    return energy_to_wavelength(energy / 1000 if energy > 100 else energy)


def geometry_from_start_doc(doc: dict, *, detector: str | None = None, **overrides) -> Geometry:
    """Geometry from a bluesky start document with CHX-style keys.

    Keys read (first present wins; with ``detector="eiger4m_single"`` the same keys
    prefixed ``eiger4m_single_`` are tried first):

    * beam centre: ``beam_center_x`` (column) and ``beam_center_y`` (row), pixels;
    * distance: ``detector_distance``, ``det_distance`` or ``sample_detector_distance``
      in metres (values above 50 are taken as millimetres, as CHX sometimes stores);
    * wavelength: ``incident_wavelength`` or ``wavelength`` in Å, else an energy:
      ``photon_energy`` / ``incident_energy`` / ``energy`` (values above 100 are eV,
      otherwise keV);
    * pixel size: ``x_pixel_size`` (column pitch) and ``y_pixel_size`` (row pitch), or
      ``pixel_size``, in metres;
    * optional incidence angle for GISAXS: ``incident_angle`` or ``alpha_i``, degrees.

    Parameters
    ----------
    doc : dict
        The start document (or any metadata mapping).
    detector : str, optional
        Detector name whose prefixed keys take precedence.
    **overrides
        Any :class:`Geometry` field, used instead of (or in the absence of) metadata,
        e.g. ``pixel_size_m=75e-6``.

    Returns
    -------
    Geometry

    Raises
    ------
    ValueError
        Naming each missing quantity and the keys that were tried.
    """
    fields = {}
    missing = []

    def need(quantity: str):
        key, value = _lookup(doc, quantity, detector)
        if key is None:
            missing.append(
                f"{quantity.replace('_', ' ')} (keys tried: {', '.join(START_DOC_KEYS[quantity])})"
            )
        return value

    if "beam_center" not in overrides:
        fields["beam_center"] = (need("beam_center_row"), need("beam_center_col"))
    if "distance_m" not in overrides:
        distance = need("distance")
        fields["distance_m"] = distance / 1000 if distance is not None and distance > 50 else distance
    if "wavelength_A" not in overrides:
        fields["wavelength_A"] = _wavelength(doc, detector)
        if fields["wavelength_A"] is None:
            tried = ", ".join(START_DOC_KEYS["wavelength"] + START_DOC_KEYS["energy"])
            missing.append(f"wavelength or energy (keys tried: {tried})")
    if "pixel_size_m" not in overrides:
        fields["pixel_size_m"] = (need("pixel_row"), need("pixel_col"))
    if "incidence_deg" not in overrides:
        fields["incidence_deg"] = _lookup(doc, "incidence", detector)[1]
    if missing:
        raise ValueError("start document lacks " + "; ".join(missing))
    fields.update(overrides)
    if not np.isscalar(fields["pixel_size_m"]) and fields["pixel_size_m"][0] == fields["pixel_size_m"][1]:
        fields["pixel_size_m"] = fields["pixel_size_m"][0]
    return Geometry(**fields)
