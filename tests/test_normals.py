"""normals/xyz: the bounds of the issue, conventions, invalid codes, kernels against references."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import image_shapes, rgb_arrays, unit_vectors

import rgbtask
from rgbtask.codecs.normals import CONVENTIONS, MAX_NORM_DEVIATION, NormalsXYZ
from rgbtask.core import normals as kernels
from rgbtask.metrics import angular_error_deg, normal_metrics
from rgbtask.testing import check_codec

#: The encode kernel works branch-free on blocks of pixels (core/normals.py BLOCK): an invalid
#: vector computes 0/0 before it is replaced, which compiled code does silently (error_model
#: "numpy") and plain Python raises on. Its comparisons with the reference need the JIT; the
#: decode kernels run as plain Python too.
needs_jit = pytest.mark.skipif(
    os.environ.get("NUMBA_DISABLE_JIT") == "1",
    reason="the branch-free encode kernel divides 0/0 for invalid vectors: compiled code only",
)

BOUND_8 = math.degrees(math.asin(math.sqrt(3) / 255))  # 0.389 deg
BOUND_16 = math.degrees(math.asin(math.sqrt(3) / 65535))


def sphere(n: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, 1, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_bounds_of_the_issue_8_bit():
    codec = rgbtask.get_codec("normals/xyz")
    n = sphere(200_000)
    err = angular_error_deg(n, codec.decode(codec.encode(n)))
    assert codec.max_error_deg == pytest.approx(0.389, abs=5e-4)
    assert err.max() <= BOUND_8
    # The mean over the sphere: about 0.17 deg (a uniform error model gives 0.16-0.18).
    assert 0.16 <= err.mean() <= 0.18  # measured: 0.170


def test_bound_16_bit_far_below_a_hundredth_of_a_degree():
    codec = rgbtask.get_codec("normals/xyz", bits=16)
    n = sphere(100_000, seed=1)
    rgb = codec.encode(n)
    assert rgb.dtype == np.uint16
    err = angular_error_deg(n, codec.decode(rgb))
    assert err.max() <= BOUND_16 < 0.01


def test_rounds_to_nearest_never_truncates():
    codec = NormalsXYZ()
    # x = 2 * 0.6 / 255 - 1 + tiny maps to code 0.6 + tiny -> rounds to 1 (truncation would give 0).
    x = 2 * 0.6 / 255 - 1
    n = np.array([[[x, math.sqrt(1 - x * x), 0.0]]])
    assert codec.encode(n)[0, 0, 0] == 1
    # Exact half-steps round up, as floor(v + 0.5) says.
    n = np.array([[[0.0, 1.0, 0.0]]])  # (0 + 1) / 2 * 255 = 127.5
    assert codec.encode(n)[0, 0].tolist() == [128, 255, 128]


def test_axes_colours_opengl():
    codec = NormalsXYZ()
    n = np.array([[[1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [-1.0, 0, 0]]])
    assert codec.encode(n)[0].tolist() == [
        [255, 128, 128],
        [128, 255, 128],
        [128, 128, 255],
        [0, 128, 128],
    ]


def test_opencv_convention_flips_y_and_z():
    gl, cv = NormalsXYZ(), NormalsXYZ(convention="opencv")
    n = sphere(1000, seed=4)
    n_cv = n * np.array(CONVENTIONS["opencv"])
    assert np.array_equal(gl.encode(n), cv.encode(n_cv))
    back = cv.decode(cv.encode(n_cv))
    assert angular_error_deg(back, n_cv).max() <= BOUND_8
    # A surface facing an OpenCV camera has n = (0, 0, -1): blue in the image.
    assert cv.encode(np.array([[[0.0, 0.0, -1.0]]]))[0, 0].tolist() == [128, 128, 255]


def test_explicit_flips_and_preset_normalisation():
    assert NormalsXYZ(convention=(1, -1, -1)) == NormalsXYZ(convention="opencv")
    assert NormalsXYZ(convention=[1, -1, -1]).get_config()["convention"] == "opencv"
    assert NormalsXYZ(convention=(-1, 1, 1)).get_config()["convention"] == "dsine"
    odd = NormalsXYZ(convention=(1, 1, -1))
    assert odd.get_config()["convention"] == [1, 1, -1]
    assert rgbtask.get_codec(odd.get_config()) == odd
    assert odd.encode(np.array([[[0, 0, 1.0]]]))[0, 0].tolist() == [128, 128, 0]


def test_dsine_convention_x_left():
    # DSINE's output: a surface facing left (toward -x in the image) has R high (x left, y up).
    codec = NormalsXYZ(convention="dsine")
    assert codec.encode(np.array([[[1.0, 0, 0]]]))[0, 0].tolist() == [0, 128, 128]
    assert codec.encode(np.array([[[0, 0, 1.0]]]))[0, 0].tolist() == [128, 128, 255]


@pytest.mark.parametrize(
    "bad",
    ["directx", (1, 1), (1, 0, 1), (1, 2, 1), (1.5, 1, 1), None, (True, 1, 1), ("1", 1, 1), 3],
)
def test_bad_convention(bad):
    with pytest.raises(rgbtask.ConfigError, match="expected convention"):
        NormalsXYZ(convention=bad)


@pytest.mark.parametrize("bits", [0, 7, 12, 32, True, "8", 8.5, None, [8]])
def test_bad_bits(bits):
    with pytest.raises(rgbtask.ConfigError, match="expected bits"):
        NormalsXYZ(bits=bits)


def test_parameters_are_stored_as_given():
    assert NormalsXYZ(bits=np.int64(16)).get_config() == {
        "name": "normals/xyz",
        "bits": 16,
        "convention": "opengl",
        "image_convention": "opengl",
        "quantization": "round",
    }
    assert NormalsXYZ(convention=[1.0, -1, -1]).convention == "opencv"
    assert NormalsXYZ(convention=np.array([1, 1, -1])).convention == (1, 1, -1)


def test_confidence_slack_is_the_inputs_bit_depth():
    """A 16-bit image decoded by the 8-bit codec: the slack is sqrt(3) / 65535 (the input's
    quantization), not sqrt(3) / 255; float input falls back to the codec's."""
    z = np.linspace(0.98, 0.9995, 50)  # deviations either side of 8-bit slack sqrt(3) / 255
    codes16 = np.stack([np.full_like(z, 32768), np.full_like(z, 32768), (z + 1) / 2 * 65535], -1)
    rgb16 = np.round(codes16).astype(np.uint16)[None]
    v = rgb16.astype(np.float64) / 65535 * 2 - 1
    dev = np.abs(np.linalg.norm(v, axis=-1) - 1)
    for codec in (NormalsXYZ(), NormalsXYZ(bits=16)):
        _, conf, _ = codec.decode_with_confidence(rgb16)
        slack = math.sqrt(3) / 65535
        want = np.clip(1 - (dev - slack) / (MAX_NORM_DEVIATION - slack), 0, 1)
        np.testing.assert_allclose(conf, want, rtol=0, atol=1e-6)
    _, conf, _ = NormalsXYZ().decode_with_confidence(rgb16 / 65535.0)
    slack = math.sqrt(3) / 255
    want = np.clip(1 - (dev - slack) / (MAX_NORM_DEVIATION - slack), 0, 1)
    np.testing.assert_allclose(conf, want, rtol=0, atol=1e-6)


def test_named_wrappers_match_the_references():
    n = sphere(64, seed=2).reshape(8, 8, 3)
    signs = np.array([1.0, -1.0, -1.0])
    codes = kernels.encode(n, signs=signs, scale=255.0, dtype=np.dtype(np.uint8))
    assert np.array_equal(codes, kernels.encode_reference(n, signs, 255.0, np.uint8))
    got = kernels.decode(codes, scale=255.0, signs=signs, slack=0.01, max_dev=MAX_NORM_DEVIATION)
    want = kernels.decode_reference(codes, 255.0, signs, 0.01, MAX_NORM_DEVIATION, np.float32)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_invalid_normals_get_the_reserved_code_and_decode_invalid():
    codec = NormalsXYZ()
    n = np.array([[[0.0, 0, 0], [np.nan, 0, 1], [np.inf, 0, 0], [0, 0, 1]]])
    rgb = codec.encode(n)
    assert rgb[0, :3].tolist() == [[0, 0, 0]] * 3
    value, confidence, valid = codec.decode_with_confidence(rgb)
    assert valid.tolist() == [[False, False, False, True]]
    assert np.isnan(value[0, :3]).all() and confidence[0, :3].tolist() == [0, 0, 0]
    assert confidence[0, 3] == 1.0


def test_no_unit_vector_encodes_to_the_reserved_code():
    # The closest a unit vector gets to (0, 0, 0) is (-1, -1, -1) / sqrt(3): code 54 per channel.
    n = -np.ones((1, 1, 3)) / math.sqrt(3)
    assert NormalsXYZ().encode(n)[0, 0].tolist() == [54, 54, 54]


def test_non_unit_and_extreme_vectors_are_normalised():
    codec = NormalsXYZ()
    n = np.array([[[0, 0, 5.0], [0, 0, 1e-300], [0, 0, 1e300], [3.0, 4.0, 0]]])
    assert codec.encode(n)[0].tolist() == [[128, 128, 255]] * 3 + [[204, 230, 128]]


def test_confidence_falls_with_distance_from_the_sphere():
    codec = NormalsXYZ()
    # Along the +z axis: v = (0, 0, z); |v| - 1 = z - 1.
    z = np.array([1.0, 0.9, 0.75, 0.6, 0.5, 0.2])
    rgb = np.stack([np.full_like(z, 0.5), np.full_like(z, 0.5), (z + 1) / 2], axis=-1)[None]
    _, conf, valid = codec.decode_with_confidence(rgb)
    slack = math.sqrt(3) / 255
    expected = np.clip(1 - (np.abs(z - 1) - slack) / (MAX_NORM_DEVIATION - slack), 0, 1)
    assert np.allclose(
        conf[0], np.where(np.abs(z - 1) < MAX_NORM_DEVIATION, expected, 0), atol=1e-6
    )
    assert valid[0].tolist() == [True, True, True, True, False, False]
    assert np.all(np.diff(conf[0]) <= 0)


def test_exact_codes_have_full_confidence():
    codec = NormalsXYZ()
    n = sphere(50_000, seed=7)
    _, conf, valid = codec.decode_with_confidence(codec.encode(n))
    assert valid.all() and (conf == 1.0).all()


def test_decode_accepts_uint8_and_uint16_whatever_the_bits():
    n = sphere(2000, seed=2)
    rgb8 = NormalsXYZ().encode(n)
    rgb16 = NormalsXYZ(bits=16).encode(n)
    for codec in (NormalsXYZ(), NormalsXYZ(bits=16)):
        assert angular_error_deg(codec.decode(rgb8), n).max() <= BOUND_8
        assert angular_error_deg(codec.decode(rgb16), n).max() <= BOUND_16


def test_float_input_is_not_rounded_to_8_bits():
    codec = NormalsXYZ()
    n = sphere(5000, seed=3)
    exact = (n + 1) / 2  # what a perfect model would output, in float
    assert angular_error_deg(codec.decode(exact), n).max() < 1e-4


def test_threads_give_the_same_answer(monkeypatch):
    from rgbtask.core import _jit

    n = sphere(3 * _jit.MIN_ROWS_PER_THREAD + 17, seed=9)
    codec = NormalsXYZ()
    threaded = codec.encode(n), codec.decode_with_confidence(codec.encode(n))
    monkeypatch.setattr(_jit, "_num_threads", 1)
    single = codec.encode(n), codec.decode_with_confidence(codec.encode(n))
    assert np.array_equal(threaded[0], single[0])
    for a, b in zip(threaded[1], single[1]):
        assert np.array_equal(a, b, equal_nan=True)


def test_metrics_helper():
    gt = np.array([[[0, 0, 1.0]] * 4])
    angles = np.radians([0.0, 10.0, 20.0, 40.0])
    pred = np.stack([np.sin(angles), np.zeros(4), np.cos(angles)], axis=-1)[None]
    m = normal_metrics(pred, gt)
    assert m["mean"] == pytest.approx(17.5)
    assert m["median"] == pytest.approx(15.0)
    assert (m["within_11.25"], m["within_22.5"], m["within_30"]) == (50.0, 75.0, 75.0)
    assert m["count"] == 4
    assert normal_metrics(pred, gt, valid=np.array([[True, False, False, False]]))["mean"] == 0


# ---------------------------------------------------------------- properties


@given(unit_vectors(), st.sampled_from([8, 16]), st.sampled_from(["opengl", "opencv", (-1, 1, -1)]))
def test_roundtrip_within_bound(n, bits, convention):
    codec = NormalsXYZ(bits=bits, convention=convention)
    rgb = codec.encode(n)
    assert rgb.shape == n.shape and rgb.dtype == codec.dtype and rgb.flags.c_contiguous
    back = codec.decode(rgb)
    assert back.shape == n.shape and back.dtype == np.float32
    assert np.all(codec.roundtrip_error(n, back) <= codec.max_error_deg * (1 + 1e-6))


@given(unit_vectors(shape=(3, 4, 5)))
def test_batch_equals_loop(n):
    codec = NormalsXYZ()
    assert np.array_equal(codec.encode(n), np.stack([codec.encode(x) for x in n]))
    rgb = codec.encode(n)
    assert np.array_equal(codec.decode(rgb), np.stack([codec.decode(x) for x in rgb]))


@given(unit_vectors(dtype=np.float32))
def test_float32_input_encodes_like_float64(n):
    codec = NormalsXYZ()
    assert np.array_equal(codec.encode(n), codec.encode(n.astype(np.float64)))


# ---------------------------------------------------------------- kernels == references


@needs_jit
@given(
    st.integers(0, 2**32 - 1),
    image_shapes(),
    st.sampled_from([255.0, 65535.0]),
    st.sampled_from([np.float32, np.float64]),
    st.sampled_from([0.5, 0.0]),
)
def test_encode_kernel_matches_reference(seed, shape, scale, dtype, offset):
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(*shape, 3)) * rng.choice([1e-30, 1.0, 1e30], size=(*shape, 1))
    n[rng.random(shape) < 0.1] = 0.0
    n[rng.random(shape) < 0.1, 0] = np.nan
    n[rng.random(shape) < 0.05, 1] = -np.inf
    n = n.astype(dtype).reshape(-1, 3)
    signs = np.array([1.0, -1.0, -1.0])
    out_dtype = np.uint8 if scale == 255.0 else np.uint16
    out = np.empty(n.shape, dtype=out_dtype)
    kernels.encode_kernel(n, out, signs, scale, offset)
    assert np.array_equal(out, kernels.encode_reference(n, signs, scale, out_dtype, offset))


@given(
    rgb_arrays(dtype=np.uint8) | rgb_arrays(dtype=np.uint16) | rgb_arrays(dtype=np.float64),
    st.sampled_from([0.0, 0.5]),
)
def test_decode_kernel_matches_reference(rgb, offset):
    flat = np.ascontiguousarray(rgb.reshape(-1, 3))
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(rgb.dtype.type, 1.0)
    signs = np.array([1.0, 1.0, -1.0])
    out = np.empty(flat.shape, np.float32)
    conf = np.empty(flat.shape[0], np.float32)
    valid = np.empty(flat.shape[0], bool)
    kernels.decode_kernel(flat, out, conf, valid, scale, signs, 0.01, MAX_NORM_DEVIATION, offset)
    ref = kernels.decode_reference(flat, scale, signs, 0.01, MAX_NORM_DEVIATION, np.float32, offset)
    assert np.array_equal(out, ref[0], equal_nan=True)
    assert np.array_equal(conf, ref[1])
    assert np.array_equal(valid, ref[2])
    values = np.empty(flat.shape, np.float32)
    kernels.decode_values_kernel(flat, values, scale, signs, MAX_NORM_DEVIATION, offset)
    assert np.array_equal(values, ref[0], equal_nan=True)


@needs_jit
@pytest.mark.parametrize("offset", [0.5, 0.0])
@pytest.mark.parametrize("n", [255, 256, 257, 1000])
def test_blocked_kernels_match_the_references_across_blocks(n, offset):
    """The kernels work in blocks of BLOCK pixels: sizes around and across a block, with invalid
    vectors and off-sphere codes in every block; decode() is decode_with_confidence().value."""
    rng = np.random.default_rng(n)
    v = rng.normal(size=(n, 3)) * rng.choice([1e-30, 1.0, 1e30], size=(n, 1))
    v[rng.random(n) < 0.05] = 0.0
    v[rng.random(n) < 0.05, 2] = np.nan
    v[rng.random(n) < 0.05, 0] = np.inf
    signs = np.array([-1.0, 1.0, 1.0])
    for dtype, scale in ((np.uint8, 255.0), (np.uint16, 65535.0)):
        out = np.empty((n, 3), dtype)
        kernels.encode_kernel(v, out, signs, scale, offset)
        assert np.array_equal(out, kernels.encode_reference(v, signs, scale, dtype, offset))
        out[rng.random(n) < 0.2] = rng.integers(0, int(scale) + 1, 3)  # off the sphere
        dec = 0.5 - offset  # floor-encoded codes decode from the centre of their cell
        got = kernels.decode(out, scale=scale, signs=signs, slack=0.01, max_dev=0.5, offset=dec)
        ref = kernels.decode_reference(out, scale, signs, 0.01, 0.5, np.float32, dec)
        assert all(np.array_equal(g, r, equal_nan=True) for g, r in zip(got, ref))
        values = kernels.decode_values(out, scale=scale, signs=signs, max_dev=0.5, offset=dec)
        assert np.array_equal(values, ref[0], equal_nan=True)
    quantization = "round" if offset == 0.5 else "floor"
    codec = rgbtask.get_codec("normals/xyz", convention="opencv", quantization=quantization)
    rgb = rng.integers(0, 256, (7, n, 3)).astype(np.uint8)
    assert np.array_equal(
        codec.decode(rgb), codec.decode_with_confidence(rgb).value, equal_nan=True
    )


def test_conformance_all_variants(scene):
    for codec in (NormalsXYZ(), NormalsXYZ(bits=16), NormalsXYZ(convention=(-1, -1, 1))):
        check_codec(codec, [scene.normals, scene.normals[:5, :7]])
