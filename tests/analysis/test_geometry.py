import numpy as np
import pytest

from jupyterlab_raydata.analysis import geometry
from jupyterlab_raydata.analysis.geometry import Geometry


def test_q_map_matches_a_hand_computed_pixel():
    g = Geometry(beam_center=(10.0, 20.0), distance_m=5.0, wavelength_A=1.285, pixel_size_m=75e-6)
    q = geometry.q_map((40, 60), g)
    # Pixel (13, 24): 3 rows down, 4 columns right -> 5 pixels = 375 µm from the beam.
    two_theta = np.arctan(375e-6 / 5.0)
    expected = 4 * np.pi / 1.285 * np.sin(two_theta / 2)
    assert q[13, 24] == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(3.6673e-4, rel=1e-4)
    assert q[10, 20] == 0.0


def test_rectangular_pixels_and_phi():
    g = Geometry((0.0, 0.0), 2.0, 1.0, pixel_size_m=(100e-6, 50e-6))
    q = geometry.q_map((3, 3), g)
    assert q[1, 0] == pytest.approx(q[0, 2])  # one 100 µm row = two 50 µm columns
    phi = geometry.phi_map((3, 3), g)
    assert phi[0, 2] == 0.0
    assert phi[2, 0] == pytest.approx(90.0)
    assert phi[1, 2] == pytest.approx(45.0)


def test_energy_wavelength_round_trip():
    assert geometry.energy_to_wavelength(12.398419843320026) == pytest.approx(1.0)
    assert geometry.wavelength_to_energy(geometry.energy_to_wavelength(9.65)) == pytest.approx(9.65)
    with pytest.raises(ValueError):
        geometry.energy_to_wavelength(0)


def test_gisaxs_direct_beam_and_specular_plane():
    g = Geometry((50.0, 50.0), 4.0, 1.0, 75e-6, incidence_deg=0.2)
    maps = geometry.gisaxs_q_maps((100, 100), g)
    qr, qz = maps
    assert maps.qr is qr and maps.qz is qz
    assert qz[50, 50] == pytest.approx(0.0, abs=1e-12)
    assert qr[50, 50] == pytest.approx(0.0, abs=1e-12)
    # Above the direct beam qz grows; left and right of the plane qr changes sign.
    assert qz[10, 50] > qz[40, 50] > 0
    assert qr[30, 80] > 0 > qr[30, 20]
    assert qr[30, 80] == pytest.approx(-qr[30, 20])
    with pytest.raises(ValueError, match="incidence"):
        geometry.gisaxs_q_maps((4, 4), g.with_(incidence_deg=None))


def test_invalid_geometry():
    with pytest.raises(ValueError, match="distance"):
        Geometry((0, 0), 0.0, 1.0)
    with pytest.raises(ValueError, match="beam_center"):
        Geometry((0, 0, 0), 1.0, 1.0)


CHX_START = {
    "beam_center_x": 1143.0,
    "beam_center_y": 1230.5,
    "det_distance": 16.03,
    "incident_wavelength": 1.2848,
    "x_pixel_size": 75e-6,
    "y_pixel_size": 75e-6,
    "sequence id": 7,
}


def test_geometry_from_chx_start_document():
    g = geometry.geometry_from_start_doc(CHX_START)
    assert g.beam_center == (1230.5, 1143.0)
    assert g.distance_m == 16.03
    assert g.wavelength_A == 1.2848
    assert g.pixel_size_m == 75e-6
    assert g.incidence_deg is None


def test_start_document_units_prefixes_and_overrides():
    doc = {
        "eiger4m_single_beam_center_x": 10,
        "eiger4m_single_beam_center_y": 20,
        "beam_center_x": 999,
        "beam_center_y": 999,
        "detector_distance": 5000.0,  # millimetres
        "photon_energy": 9650.0,  # eV
        "pixel_size": 75e-6,
        "incident_angle": 0.15,
    }
    g = geometry.geometry_from_start_doc(doc, detector="eiger4m_single")
    assert g.beam_center == (20.0, 10.0)
    assert g.distance_m == 5.0
    assert g.wavelength_A == pytest.approx(12.398419843320026 / 9.65)
    assert g.incidence_deg == 0.15
    g2 = geometry.geometry_from_start_doc(doc, distance_m=3.0)
    assert g2.distance_m == 3.0 and g2.beam_center == (999.0, 999.0)


def test_missing_start_document_keys_are_named():
    with pytest.raises(ValueError) as err:
        geometry.geometry_from_start_doc({"beam_center_x": 1, "beam_center_y": 2, "pixel_size": 1e-4})
    message = str(err.value)
    assert "distance" in message and "detector_distance" in message
    assert "wavelength or energy" in message
    assert "beam center" not in message
