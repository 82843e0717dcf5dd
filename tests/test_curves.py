"""Curves: levels, codes, reserved codes, kernel projection == NumPy reference, lazy 8-bit table."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgbtask import curves
from rgbtask.core import depth as kernels
from rgbtask.errors import ConfigError

CURVES = {
    "cubewalk": curves.cubewalk,
    "hue": lambda: curves.hue("wrap"),
    "hue_nowrap": lambda: curves.hue("nowrap"),
    "gray": curves.gray,
    "turbo": lambda: curves.colormap_curve("turbo"),
    "points": lambda: curves.curve_from_points([[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2]]),
}
LEVELS = {"cubewalk": 1786, "hue": 1530, "hue_nowrap": 1276, "gray": 256, "turbo": 256}


@pytest.mark.parametrize("name", sorted(LEVELS))
def test_levels_are_distinct_and_counted(name):
    curve = CURVES[name]()
    assert curve.levels == LEVELS[name]
    assert len(np.unique(curve.codes, axis=0)) == curve.levels


def test_cubewalk_corners_and_hue_off_by_one_corners():
    cw = curves.cubewalk().codes
    assert tuple(cw[0]) == (0, 0, 0) and tuple(cw[255]) == (255, 0, 0)
    assert tuple(cw[-1]) == (255, 255, 255) and tuple(cw[1530]) == (255, 0, 255)
    hue = curves.hue().codes
    assert tuple(hue[0]) == (255, 0, 0) and tuple(hue[1275]) == (255, 0, 255)
    assert tuple(hue[-1]) == (255, 0, 1)  # one step short of red: red is level 0 only
    assert tuple(curves.hue("nowrap").codes[-1]) == (255, 0, 255)


def test_realsense_largest_channel_formula_agrees_on_every_hue_code():
    # Intel's white paper decodes by the largest channel; our projection must agree on its codes.
    c = curves.hue().codes.astype(np.int64)
    r, g, b = c[:, 0], c[:, 1], c[:, 2]
    d = np.where(
        (r >= g) & (r >= b),
        np.where(g >= b, g - b, g - b + 1530),
        np.where(g >= b, b - r + 510, r - g + 1020),
    )
    assert np.array_equal(d, np.arange(1530))
    f, dist = kernels.project_reference(c / 255.0, curves.hue())
    assert np.array_equal(np.floor(f * 1529 + 0.5), np.arange(1530)) and np.all(dist < 1e-12)


@pytest.mark.parametrize("name", sorted(CURVES))
def test_reserved_code_is_off_curve(name):
    curve = CURVES[name]()
    _, dist = kernels.project_reference(np.asarray([curve.reserved]) / 255.0, curve)
    assert dist[0] >= 2 * curve.threshold * (1 - 1e-12)
    _, dist = kernels.project_reference(curve.codes / 255.0, curve)
    assert np.all(dist < 1e-9)


def test_non_injective_colormap_is_reported():
    with pytest.raises(ConfigError, match="duplicate"):
        curves.colormap_curve("viridis")  # two entries round to the same 8-bit colour
    with pytest.raises(ConfigError, match="colormap"):
        curves.colormap_curve("no-such-map")


def test_bad_control_points():
    for pts in ([[0, 0, 0]], [[0, 0, 0], [2, 0, 0]], "abc", [[0, 0], [1, 1]]):
        with pytest.raises(ConfigError):
            curves.curve_from_points(pts)
    with pytest.raises(ConfigError, match="duplicate"):
        curves.curve_from_points([[0, 0, 0], [1, 0, 0], [0, 0, 0]])  # retraces itself


@settings(max_examples=25, deadline=None)
@given(st.sampled_from(sorted(CURVES)), st.integers(0, 2**32 - 1))
def test_projection_kernel_matches_reference(name, seed):
    curve = CURVES[name]()
    rng = np.random.default_rng(seed)
    rgb = rng.random((200, 3))
    tp = np.array([4, 0, 1, -3, 10 / 3])
    ref = kernels.decode_float_reference(rgb, curve, tp, 0.0, 1.0)
    got = kernels.decode_float(np.ascontiguousarray(rgb), 1.0, curve, tp, 0.0, 1.0)
    np.testing.assert_array_equal(got[2], ref[2])
    np.testing.assert_allclose(got[0], ref[0], rtol=1e-6)
    np.testing.assert_allclose(got[1], ref[1], atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(st.sampled_from(sorted(CURVES)), st.integers(0, 2**32 - 1))
def test_lazy_table_is_the_exact_projection_of_8bit_colours(name, seed):
    curve = CURVES[name]()
    rgb = np.random.default_rng(seed).integers(0, 256, (500, 3), dtype=np.uint8)
    rgb[:3] = curve.codes[[0, curve.levels // 2, -1]]
    lut, fine_f = curves.decode_lut(curve)
    table = np.arange(curve.n_fine, dtype=np.float32)  # identity: read back the fine index
    q, _, valid = kernels.decode_u8(rgb, curve, table, lut)
    f, dist = kernels.project_reference(rgb / 255.0, curve)
    assert np.array_equal(valid, dist < curve.threshold)
    qq = q[valid].astype(np.int64)
    assert np.array_equal(qq, np.floor(f[valid] * (curve.n_fine - 1) + 0.5))
    if curve.kind == "palette" or name != "gray":
        np.testing.assert_array_equal(fine_f[qq], f[valid])  # bit for bit at levels
