"""Detector geometry from a pyFAI calibration (a PONI file, as pyFAI-calib2 writes at the beamline).

pyFAI reads the file and computes q and the azimuth of every pixel, tilts included; this module
turns its units and conventions into ours (:mod:`.geometry`): q in Å⁻¹, azimuth in degrees from the
+col axis towards +row, the beam centre as ``(row, col)`` with pixel centres on integers.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .geometry import Geometry

__all__ = ["PoniCalibration", "read_poni"]


@dataclass(frozen=True)
class PoniCalibration:
    """A pyFAI calibration.

    Attributes
    ----------
    text : str
        The PONI file's content, kept so that the calibration can be stored and read again.
    """

    text: str

    @cached_property
    def integrator(self):
        """pyFAI's ``AzimuthalIntegrator`` for this calibration."""
        from pyFAI.integrator.azimuthal import AzimuthalIntegrator

        # A dict, never the text itself: pyFAI would take a string naming an existing file as a path.
        return AzimuthalIntegrator.sload(_parse(self.text))

    @property
    def shape(self) -> tuple[int, int] | None:
        """The detector shape the calibration names, if it names one."""
        shape = self.integrator.detector.max_shape
        return None if shape is None else (int(shape[0]), int(shape[1]))

    @property
    def tilt_deg(self) -> float:
        """Tilt of the detector plane from perpendicular to the beam, in degrees."""
        return float(self.integrator.getFit2D()["tilt"])

    @property
    def geometry(self) -> Geometry:
        """The calibration as a flat, perpendicular :class:`~.geometry.Geometry` (beam centre where the
        direct beam meets the detector; a tilt is left out here but kept by :meth:`maps`)."""
        ai = self.integrator
        fit2d = ai.getFit2D()
        return Geometry(
            # pyFAI counts from pixel edges; our pixel centres sit on integers.
            beam_center=(fit2d["centerY"] - 0.5, fit2d["centerX"] - 0.5),
            distance_m=fit2d["directDist"] / 1000.0,
            wavelength_A=ai.wavelength * 1e10,
            pixel_size_m=(float(ai.detector.pixel1), float(ai.detector.pixel2)),
        )

    def maps(self, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """q (Å⁻¹) and azimuth (degrees, in ``(-180, 180]``) of every pixel centre, from pyFAI.

        Raises
        ------
        ValueError
            When the calibration names a detector of another shape.
        """
        shape = (int(shape[0]), int(shape[1]))
        if self.shape is not None and self.shape != shape:
            raise ValueError(
                f"the PONI file describes a detector of shape {self.shape}, the image has {shape}"
            )
        ai = self.integrator
        q = ai.center_array(shape, unit="q_A^-1", scale=True)
        chi = ai.center_array(shape, unit="chi_deg", scale=True)
        return np.asarray(q, dtype=np.float64), np.asarray(chi, dtype=np.float64)


def _parse(text: str) -> dict:
    """``key: value`` lines, as pyFAI's own reader takes them; comment lines are skipped."""
    data = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#") or ":" not in line:
            continue
        key, value = line.split(":", 1)
        data[key.strip().lower()] = value.strip()
    return data


def read_poni(source) -> PoniCalibration:
    """Read a PONI file (a path) or its content (a string with a newline).

    Raises
    ------
    ValueError
        When pyFAI cannot make a geometry of it (missing distance, PONI or wavelength, bad detector).
    """
    text = source if isinstance(source, str) and "\n" in source else Path(source).read_text()
    calibration = PoniCalibration(text)
    fields = _parse(text)
    missing = [k for k in ("distance", "poni1", "poni2", "wavelength") if k not in fields]
    if missing:
        raise ValueError(f"the PONI file lacks {', '.join(missing)}")
    try:
        calibration.geometry  # noqa: B018 - parse now so a bad file fails here, not later
    except Exception as exc:
        raise ValueError(f"pyFAI cannot read this PONI file: {exc}") from None
    return calibration
