"""sRGB <-> CIELAB / OKLab: published reference values, kernels vs references, inverses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from strategies import rgb_arrays

from rgbtask import ConfigError
from rgbtask.colorspace import convert, lab_to_srgb, oklab_to_srgb, srgb_to_lab, srgb_to_oklab
from rgbtask.core import masks as kernels


def test_reference_values():
    # White is L=100, a=b=0 in CIELAB (D65) and L=1 in OKLab.
    assert np.allclose(srgb_to_lab(np.array([255, 255, 255], np.uint8)), [100, 0, 0], atol=1e-3)
    assert np.allclose(srgb_to_oklab(np.array([1.0, 1.0, 1.0])), [1, 0, 0], atol=1e-4)
    # sRGB red: CIELAB (53.24, 80.09, 67.20); OKLab (0.6279, 0.2249, 0.1258) (Ottosson's post).
    assert np.allclose(
        srgb_to_lab(np.array([255, 0, 0], np.uint8)), [53.24, 80.09, 67.20], atol=0.02
    )
    assert np.allclose(
        srgb_to_oklab(np.array([255, 0, 0], np.uint8)), [0.6279, 0.2249, 0.1258], atol=2e-4
    )
    assert np.array_equal(convert(np.array([[1, 2, 3]], np.uint8), "rgb"), [[1.0, 2.0, 3.0]])


@given(rgb_arrays(dtype=np.uint8) | rgb_arrays(dtype=np.uint16) | rgb_arrays(dtype=np.float64))
def test_kernel_matches_reference(rgb):
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(rgb.dtype.type, 1.0)
    for space, sid in kernels.SPACE_IDS.items():
        got = convert(rgb, space)
        want = kernels.convert_reference(rgb, scale, sid)
        assert got.shape == rgb.shape
        assert np.allclose(got, want, rtol=0, atol=1e-9)


@pytest.mark.parametrize("space,inverse", [("lab", lab_to_srgb), ("oklab", oklab_to_srgb)])
def test_inverse_round_trip(space, inverse):
    rgb = np.random.default_rng(0).random((1000, 3))
    assert np.allclose(inverse(convert(rgb, space)), rgb, atol=1e-6)


def test_bad_space():
    with pytest.raises(ConfigError, match="expected space"):
        convert(np.zeros((1, 3), np.uint8), "hsv")
