"""The projection grid (issue 17): float and 16-bit decoding measure only the candidate segments of
the colour's cell, and must give the brute force's answer bit for bit (depth, confidence, valid),
which is the NumPy reference's (``kernels.project_reference``): the same expressions in the same
order."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask import curves
from rgbtask.core import depth as kernels

CURVES = {
    "cubewalk": curves.cubewalk,
    "hue": lambda: curves.hue("wrap"),
    "hue_nowrap": lambda: curves.hue("nowrap"),
    "gray": curves.gray,
    "turbo": lambda: curves.colormap_curve("turbo"),
    "points": lambda: curves.curve_from_points(
        [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]
    ),
    "cubewalk16": lambda: curves.cubewalk(16),
    "hue16": lambda: curves.hue("wrap", 16),
    "turbo16": lambda: curves.colormap_curve("turbo", 16),
    "points16": lambda: curves.curve_from_points([[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.6]], 16),
}
#: The normalized transform: the decoded depth is f itself (float32), so f is compared too.
NORMALIZED = np.array([kernels.KIND_NORMALIZED, 0.0, 1.0, -3.0, 10.0 / 3.0])
POWER = np.array([kernels.KIND_POWER, 0.0, 1.0, -3.0, 10.0 / 3.0])
#: Colours per kind in :func:`_colours`: fewer as plain Python (``NUMBA_DISABLE_JIT=1``), where the
#: kernels' bodies run for coverage and the grid is one cell.
PER_KIND = 100 if os.environ.get("NUMBA_DISABLE_JIT") == "1" else 3000


def _colours(curve, seed: int, n: int = PER_KIND) -> np.ndarray:
    """Float64 colours in [0, 1] where a projection can go wrong: uniform in the cube, near the
    curve (codes and vertices plus small noise), on and next to the grid's cell boundaries
    (k / GRID_SIZE and one ulp either side), on the cube's faces, and halfway between two
    vertices or two codes (equidistant from two parts of the curve)."""
    rng = np.random.default_rng(seed)
    full = 65535.0 if curve.bits == 16 else 255.0
    codes = curve.codes / full
    parts = [rng.random((n, 3))]
    near = codes[rng.integers(0, len(codes), n)]
    parts.append(near + rng.normal(0.0, 1.0, (n, 1)) * 10.0 ** rng.uniform(-6, -1, (n, 1)))
    verts = curve.vertices[rng.integers(0, len(curve.vertices), n)]
    parts.append(verts + rng.normal(0.0, 0.05, (n, 3)))
    g = kernels.GRID_SIZE
    edge = rng.integers(0, g + 1, (n, 3)) / g
    edge = np.nextafter(edge, rng.choice([-1.0, 2.0], (n, 3))) * (rng.random((n, 3)) < 0.5) + (
        edge * (rng.random((n, 3)) >= 0.5)
    )
    mix = rng.random((n, 3))
    pick = rng.random((n, 3)) < 0.4
    parts.append(np.where(pick, edge, mix))
    a = curve.vertices[rng.integers(0, len(curve.vertices), n)]
    b = curve.vertices[rng.integers(0, len(curve.vertices), n)]
    parts.append((a + b) / 2)
    i = rng.integers(0, len(codes) - 1, n)
    parts.append((codes[i] + codes[i + 1]) / 2)
    x = np.concatenate(parts)
    x[rng.random(x.shape) < 0.05] = 0.0
    x[rng.random(x.shape) < 0.05] = 1.0
    return np.clip(x, 0.0, 1.0)


def _both(x: np.ndarray, curve, tp=NORMALIZED):
    grid = curves.projection_grid(curve)
    brute = kernels.decode_float(x, 1.0, curve, tp, 0.0, np.inf)
    fast = kernels.decode_float(x, 1.0, curve, tp, 0.0, np.inf, grid=grid)
    return brute, fast


@pytest.mark.parametrize("name", sorted(CURVES))
def test_grid_projection_is_the_brute_force_bit_for_bit(name):
    curve = CURVES[name]()
    x = _colours(curve, seed=sorted(CURVES).index(name))
    for tp in (NORMALIZED, POWER):
        brute, fast = _both(x, curve, tp)
        for got, want in zip(fast, brute):
            np.testing.assert_array_equal(got, want)
    # and the NumPy reference: f (the normalized depth) and the distance, exactly
    _, fast = _both(x, curve, NORMALIZED)
    f, dist = kernels.project_reference(x, curve)
    valid = dist < curve.threshold
    np.testing.assert_array_equal(fast[2], valid)
    np.testing.assert_array_equal(fast[0][valid], np.clip(f[valid], 0, 1).astype(np.float32))
    want_conf = np.clip(1.0 - dist / curve.threshold, 0.0, 1.0).astype(np.float32)
    np.testing.assert_array_equal(fast[1][valid], want_conf[valid])
    assert 0 < valid.sum() < len(x)  # both sides of the rejection distance were exercised


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(sorted(CURVES)),
    st.lists(st.tuples(*[st.floats(0.0, 1.0, allow_nan=False)] * 3), min_size=1, max_size=40),
)
def test_grid_projection_of_any_float_colour(name, colours):
    curve = CURVES[name]()
    x = np.asarray(colours, dtype=np.float64)
    brute, fast = _both(x, curve, POWER)
    for got, want in zip(fast, brute):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("name", ["cubewalk", "turbo", "hue16"])
def test_float32_and_uint16_input_through_the_grid(name):
    curve = CURVES[name]()
    grid = curves.projection_grid(curve)
    rng = np.random.default_rng(3)
    x32 = rng.random((PER_KIND, 3)).astype(np.float32)
    u16 = rng.integers(0, 65536, (PER_KIND, 3)).astype(np.uint16)
    for x, scale in ((x32, 1.0), (u16, 65535.0)):
        want = kernels.decode_float(x, scale, curve, POWER, 0.0, np.inf)
        got = kernels.decode_float(x, scale, curve, POWER, 0.0, np.inf, grid=grid)
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", ["cubewalk", "hue_nowrap", "turbo", "points"])
def test_every_nearest_segment_is_a_candidate_of_its_cell(name):
    """The grid's claim itself: for colours within the threshold, the brute-force nearest segment
    (palette: colour) is listed in the colour's cell."""
    curve = CURVES[name]()
    start, cand, g = curves.projection_grid(curve)
    x = _colours(curve, seed=7)
    f, dist = kernels.project_reference(x, curve)
    ok = dist < curve.threshold
    cells = np.minimum(g - 1, (x * g).astype(np.int64))
    cell = (cells[:, 0] * g + cells[:, 1]) * g + cells[:, 2]
    if curve.kind == "palette":
        nearest = np.rint(f * (curve.levels - 1)).astype(np.int64)
    else:
        nseg = len(curve.vertices) - 1
        nearest = np.minimum(nseg - 1, np.floor(f * nseg + 1e-12).astype(np.int64))
        on_vertex = np.abs(f * nseg - np.rint(f * nseg)) < 1e-9  # either segment may be nearest
        ok &= ~on_vertex
    for c, k in zip(cell[ok], nearest[ok]):
        assert k in cand[start[c] : start[c + 1]]
    # the candidate lists are in increasing order (ties go to the lowest index, as brute force)
    for c in range(0, g**3, 97):
        lst = cand[start[c] : start[c + 1]]
        assert np.all(np.diff(lst) > 0)


def test_grid_is_cached_per_curve_and_differs_between_curves():
    a = curves.projection_grid(curves.hue("wrap"))
    assert curves.projection_grid(curves.hue("wrap")) is a
    b = curves.projection_grid(curves.hue("nowrap"))  # one parameter apart
    assert not (len(a[1]) == len(b[1]) and np.array_equal(a[1], b[1]))
    c16 = curves.projection_grid(curves.hue("wrap", 16))
    assert c16 is not a


@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "depth/cubewalk"},
        {"name": "depth/hue", "near": 0.5, "far": 20.0},
        {"name": "depth/colormap", "near": 0.5, "far": 20.0},
        {"name": "depth/gray", "transform": "log", "near": 0.5, "far": 20.0},
    ],
)
def test_codec_float_decode_equals_the_brute_force(cfg):
    codec = rgbtask.get_codec(cfg)
    curve, tr = codec.curve_obj(), codec.transform_obj
    rng = np.random.default_rng(11)
    d = rng.uniform(0.3, 25.0, (40, 50)).astype(np.float32)
    x = np.clip(codec.encode(d) / 255.0 + rng.normal(0, 0.01, (40, 50, 3)), 0, 1).astype(np.float32)
    dec = codec.decode_with_confidence(x)
    want = kernels.decode_float(x.reshape(-1, 3), 1.0, curve, tr.params, *tr.decoded_range)
    np.testing.assert_array_equal(dec.value.reshape(-1), want[0])
    np.testing.assert_array_equal(dec.confidence.reshape(-1), want[1])
    np.testing.assert_array_equal(dec.valid.reshape(-1), want[2])


@pytest.mark.parametrize(
    "cfg",
    [
        {"name": "depth/gray", "transform": "log", "near": 0.5, "far": 20.0},
        {"name": "depth/gray", "transform": "power"},
        {"name": "depth/cubewalk"},
        {"name": "depth/colormap", "near": 0.5, "far": 20.0},
    ],
)
def test_8bit_shortcuts_give_the_table_answer(cfg):
    """The gray codes read from their 256-entry table, and decode() without the confidence, give
    what the 2^24 table gives (kernels.decode_u8 without the shortcut), bit for bit."""
    codec = rgbtask.get_codec(cfg)
    curve = codec.curve_obj()
    rng = np.random.default_rng(13)
    v = np.arange(256, dtype=np.uint8)
    rgb = np.concatenate(
        [np.stack([v, v, v], -1), rng.integers(0, 256, (PER_KIND, 3)).astype(np.uint8), curve.codes]
    )
    rgb[rng.random(len(rgb)) < 0.3] = rgb[0]  # runs and repeats
    lut, _ = curves.decode_lut(curve)
    table = codec_depth_table(codec)
    want = kernels.decode_u8(rgb, curve, table, lut)
    dec = codec.decode_with_confidence(rgb[None])
    for got, w in zip(dec, want):
        np.testing.assert_array_equal(got[0], w)
    np.testing.assert_array_equal(codec.decode(rgb[None])[0], want[0])


def codec_depth_table(codec):
    from rgbtask.codecs import depth as depth_codecs

    return depth_codecs._depth_table(codec.curve_obj(), codec.transform_obj)


# ---------------------------------------------------------------- the codecs' fused float path
FUSED = [
    {"name": "depth/cubewalk"},
    {"name": "depth/hue", "variant": "nowrap", "transform": "inverse", "near": 0.5, "far": 20.0},
    {"name": "depth/gray", "transform": "log", "near": 0.5, "far": 20.0},
    {"name": "depth/colormap", "near": 0.5, "far": 20.0},
]


def _float32_colours(draw_floats, boundary_picks) -> np.ndarray:
    """float32 colours: hypothesis' floats, some replaced by a coarse or fine grid boundary
    ``k / 32`` or one float32 ulp either side (the cell a colour falls in is decided there)."""
    x = np.asarray(draw_floats, dtype=np.float32).reshape(-1, 3)
    for row, ch, k, side in boundary_picks:
        if row < len(x):
            b = np.float32(k / kernels.GRID_SIZE)
            x[row, ch] = np.nextafter(b, np.float32(2.0 * side)) if side != 0.5 else b
    return np.clip(x, np.float32(0.0), np.float32(1.0))


@settings(max_examples=25, deadline=None)
@given(
    st.sampled_from(range(len(FUSED))),
    st.lists(st.floats(0.0, 1.0, width=32), min_size=3, max_size=120),
    st.lists(
        st.tuples(
            st.integers(0, 39), st.integers(0, 2), st.integers(0, 32), st.sampled_from([0, 0.5, 1])
        ),
        max_size=20,
    ),
)
def test_codec_float32_decode_equals_the_numpy_reference(which, floats, picks):
    """float32 RGB (a model's output) through the codec, with and without the confidence, gives
    the NumPy specification's answer (``decode_float_reference``) bit for bit: depth, confidence
    and valid; ``decode()`` the same depth."""
    codec = rgbtask.get_codec(FUSED[which])
    curve, tr = codec.curve_obj(), codec.transform_obj
    x = _float32_colours(floats[: len(floats) // 3 * 3], picks)
    want = kernels.decode_float_reference(x.astype(np.float64), curve, tr.params, *tr.decoded_range)
    got = codec.decode_with_confidence(x[None])
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a[0], b)
    np.testing.assert_array_equal(codec.decode(x[None])[0], want[0])


@pytest.mark.parametrize("cfg", FUSED)
@pytest.mark.parametrize(
    "bad, hint",
    [
        (np.nan, "NaN/inf"),
        (np.inf, "NaN/inf"),
        (-0.5, r"\(rgb \+ 1\) / 2"),
        (200.0, "rgb / 255"),
        (float(np.nextafter(np.float32(1.0), np.float32(2.0))), r"max 1\.0000001"),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_range_check_raises_the_input_check_error(cfg, bad, hint, dtype):
    """The 8-bit codecs check float input for [0, 1] inside the decode kernel (one pass): a value
    outside (or NaN) raises check_rgb's own error, from decode() and decode_with_confidence()
    alike, wherever in the image it is."""
    codec = rgbtask.get_codec(cfg)
    rgb = np.full((3, 70, 3), 0.5, dtype=dtype)
    rgb[2, 69, 1] = bad
    for call in (codec.decode, codec.decode_with_confidence):
        with pytest.raises(rgbtask.InputError, match=hint):
            call(rgb)


@pytest.mark.parametrize("name", ["cubewalk", "gray", "turbo", "points"])
def test_float_kernels_without_confidence_give_the_same_depth(name):
    """``confidence=False`` (decode()) skips the confidence and, away from the threshold, the
    square root: the same depth, grid or brute force; ``outside`` stays False for colours in
    [0, 1] and turns True for one outside."""
    curve = CURVES[name]()
    x = _colours(curve, seed=5)[::4]
    grid = curves.projection_grid(curve)
    for g in (None, grid):
        full = kernels.decode_float(x, 1.0, curve, POWER, 0.0, np.inf, grid=g)
        flag = np.zeros(1, dtype=np.bool_)
        depth, _, _ = kernels.decode_float(
            x, 1.0, curve, POWER, 0.0, np.inf, grid=g, confidence=False, outside=flag
        )
        np.testing.assert_array_equal(depth, full[0])
        assert not flag[0]
        y = x.copy()
        y[len(y) // 2, 0] = np.nan
        kernels.decode_float(y, 1.0, curve, POWER, 0.0, np.inf, grid=g, outside=flag)
        assert flag[0]


@pytest.mark.parametrize("lam", [-3.0, -2.5])
def test_power_depth_by_rsqrt_equals_the_reference_pow(lam):
    """The power transform with exponent -0.5 (``lam=-3``) takes ``1 / sqrt`` for ``pow`` where the
    float32 output cannot differ (``kernels._depth_of``): the depths of colours along the whole cube
    walk, crowded towards both ends (where ``1 - p`` cancels and where the depth diverges), equal
    the NumPy reference's (``pow``) bit for bit; ``lam=-2.5`` takes ``pow`` throughout."""
    curve = curves.cubewalk()
    n = 2000 if os.environ.get("NUMBA_DISABLE_JIT") == "1" else 100_000
    rng = np.random.default_rng(int(-lam * 10))
    f = np.concatenate([rng.random(n), rng.random(n // 4) ** 8, 1.0 - rng.random(n // 4) ** 8])
    x = np.clip(curve.colors(f) + rng.normal(0.0, 1e-4, (len(f), 3)), 0.0, 1.0)
    tp = np.array([kernels.KIND_POWER, 0.0, 1.0, lam, 10.0 / 3.0])
    for lo, hi in ((0.0, np.inf), (0.0, 30.0)):
        want = kernels.decode_float_reference(x, curve, tp, lo, hi)
        got = kernels.decode_float(x, 1.0, curve, tp, lo, hi, grid=curves.projection_grid(curve))
        for a, b in zip(got, want):
            np.testing.assert_array_equal(a, b)
