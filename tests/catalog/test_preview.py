"""Preview rendering checked on its pixels: scale, averaging, frame choice, size and the cache key."""

import io
import threading

import numpy as np
import pytest
from PIL import Image

from jupyterlab_raydata.catalog.preview import PreviewParams, _lut, render_png, select_image
from jupyterlab_raydata.catalog.sources import FrameSeries
from jupyterlab_raydata.errors import NotFound


def pixels(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGB"
    return np.asarray(image)


def levels(png: bytes) -> np.ndarray:
    """Back from colours to the 0..255 level of the colour map each pixel was drawn with."""
    rgb = pixels(png).astype(int)
    lut = _lut().astype(int)
    distance = ((rgb[..., None, :] - lut[None, None, :, :]) ** 2).sum(axis=-1)
    return distance.argmin(axis=-1)


@pytest.fixture
def ramp():
    """Counts 0..255 rising along the columns, the same in every row."""
    return np.tile(np.arange(256, dtype=np.float64), (32, 1))


def test_linear_maps_counts_in_proportion_and_log_lifts_the_low_ones(ramp):
    linear = levels(render_png(ramp, scale="linear"))
    log = levels(render_png(ramp, scale="log"))
    assert (linear == linear[0]).all() and (log == log[0]).all()  # rows are alike
    assert np.all(np.diff(linear[0]) >= 0) and np.all(np.diff(log[0]) >= 0)  # brighter to the right
    assert len(set(linear[0])) > 200  # not one flat colour
    # 15 counts of 255 (limits at the 1st and 99.5th percentiles): about 5 % of the way up in linear,
    # about 36 % in log10(1 + counts).
    assert 10 <= linear[0, 15] <= 16
    assert 85 <= log[0, 15] <= 105


def test_max_size_scales_the_longer_side_and_keeps_small_images(ramp):
    big = np.tile(np.arange(300, dtype=np.float64), (200, 1))
    assert Image.open(io.BytesIO(render_png(big, max_size=64))).size == (64, 43)
    assert Image.open(io.BytesIO(render_png(ramp, max_size=512))).size == (256, 32)


def test_frame_and_average_pick_their_images():
    frames = np.zeros((1, 4, 8, 8), np.uint16)  # one event of four frames
    for i in range(4):
        frames[0, i, i, i] = 100 * (i + 1)  # frame i lights pixel (i, i)
    series = FrameSeries(frames, threading.RLock())
    assert series.count == 4
    third = select_image(series, PreviewParams(key="k", kind="frame", index=2))
    np.testing.assert_array_equal(third, frames[0, 2])
    average = select_image(series, PreviewParams(key="k", kind="average"))
    np.testing.assert_array_equal(average, frames[0].mean(axis=0))
    with pytest.raises(NotFound, match="out of range"):
        select_image(series, PreviewParams(key="k", kind="frame", index=4))


def test_every_choice_is_in_the_cache_key_and_nothing_else():
    base = PreviewParams(key="eiger", kind="frame", index=5)
    name = base.cache_name("catalog-a", "uid-1")
    variants = [
        PreviewParams(key="eiger", kind="frame", index=6),
        PreviewParams(key="eiger", kind="average", index=5),
        PreviewParams(key="eiger", kind="frame", index=5, scale="linear"),
        PreviewParams(key="eiger", kind="frame", index=5, max_size=256),
        PreviewParams(key="eiger2", kind="frame", index=5),
    ]
    names = {v.cache_name("catalog-a", "uid-1") for v in variants}
    assert len(names) == len(variants) and name not in names
    assert base.cache_name("catalog-b", "uid-1") != name and base.cache_name("catalog-a", "uid-2") != name
    # An average does not depend on the frame index.
    averages = {PreviewParams(key="eiger", kind="average", index=i).cache_name("c", "u") for i in range(3)}
    assert len(averages) == 1
