"""sRGB <-> CIELAB / OKLab: published reference values, kernels vs references, inverses."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from strategies import rgb_arrays

from rgbtask import ConfigError
from rgbtask.colorspace import convert, lab_to_srgb, oklab_to_srgb, srgb_to_lab, srgb_to_oklab
from rgbtask.core import color
from rgbtask.core import color as kernels


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


def test_constants_against_their_sources():
    """The named constants of rgbtask.core.color, checked against what their sources state."""
    xyz = np.asarray(color.XYZ_FROM_LINEAR_SRGB)
    # IEC 61966-2-1: linear white (1, 1, 1) is the D65 white point (CIE 15: Xn, Zn for Yn = 1)
    assert np.allclose(xyz.sum(axis=1), color.WHITE_D65, atol=1e-4)
    assert color.WHITE_D65 == (0.95047, 1.0, 1.08883)
    # the sRGB curve is continuous at its switch: 0.04045 / 12.92 == ((0.04045 + 0.055) / 1.055)^2.4
    t = color.SRGB_ENCODED_THRESHOLD
    below = t / color.SRGB_SLOPE
    above = ((t + color.SRGB_OFFSET) / color.SRGB_SCALE) ** color.SRGB_GAMMA
    assert abs(below - above) < 1e-7 and abs(below - color.SRGB_LINEAR_THRESHOLD) < 1e-6
    # CIE 15: delta = 6/29, f continuous at delta^3
    d = color.LAB_DELTA
    assert d == 6 / 29 and abs(d**3 * color.LAB_LINEAR_SLOPE + color.LAB_OFFSET - d) < 1e-15
    # Ottosson: M1 maps linear white to LMS (1, 1, 1); M2 maps it to L = 1, a = b = 0
    assert np.allclose(np.asarray(color.OKLAB_M1).sum(axis=1), 1.0, atol=1e-9)
    assert np.allclose(np.asarray(color.OKLAB_M2).sum(axis=1), [1.0, 0.0, 0.0], atol=1e-7)


def test_colorspace_reads_no_kernel_privates():
    """The NumPy colour code and the kernels share one definition (rgbtask.core.color)."""
    import inspect

    import rgbtask.colorspace as colorspace
    from rgbtask.core import masks

    assert "kernels._" not in inspect.getsource(colorspace)
    assert masks.to_space is color.to_space and masks.SPACE_IDS is color.SPACE_IDS
