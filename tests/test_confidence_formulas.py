"""Confidence values against the formula their docstring states, not only their range.

``normals/xyz`` (module docstring of ``rgbtask.codecs.normals``)::

    v    = rgb / (2**b - 1) * 2 - 1          b: the bit depth of the INPUT image (8 or 16)
    dev  = | |v| - 1 |                       valid iff dev < 0.5
    slack = sqrt(3) / (2**b - 1)
    confidence = clip(1 - (dev - slack) / (0.5 - slack), 0, 1)   (0 where invalid)

The input's bit depth, not the codec's: a 16-bit image decoded by an 8-bit codec (and the reverse)
must use the slack of the image it was given. Float input has no bit depth of its own; it gets the
codec's (pinned here as today's behaviour).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import rgbtask

MAX_DEV = 0.5


def expected_normals_confidence(rgb: np.ndarray, bits: int) -> np.ndarray:
    """The docstring's formula in float64, for codes ``rgb`` read at ``bits`` bits."""
    scale = float(2**bits - 1)
    v = np.asarray(rgb, dtype=np.float64) / scale * 2.0 - 1.0
    dev = np.abs(np.sqrt(np.sum(v * v, axis=-1)) - 1.0)
    slack = math.sqrt(3.0) / scale
    conf = np.clip(1.0 - (dev - slack) / (MAX_DEV - slack), 0.0, 1.0)
    return np.where(dev < MAX_DEV, conf, 0.0)


def codes_off_the_sphere(bits: int) -> np.ndarray:
    """Codes ``(1, P, 3)`` of vectors whose norm is off 1 by a range of amounts: 0 (exact codes),
    inside either bit depth's quantization slack, between the two slacks, beyond both, and past
    the validity limit; plus the reserved invalid code (0, 0, 0)."""
    rng = np.random.default_rng(12)
    directions = rng.normal(size=(12, 3))
    directions /= np.linalg.norm(directions, axis=-1, keepdims=True)
    devs = [0.0, 1e-5, 2e-3, 4e-3, 6e-3, 0.01, 0.05, 0.2, 0.45, 0.6]
    scale = 2**bits - 1
    vectors = np.concatenate([directions * (1.0 + d) for d in devs] + [-directions * 0.5])
    codes = np.floor((np.clip(vectors, -1, 1) + 1.0) / 2.0 * scale + 0.5)
    codes = np.concatenate([codes, np.zeros((1, 3))])
    return codes.astype(np.uint8 if bits == 8 else np.uint16)[None]


@pytest.mark.parametrize("codec_bits", [8, 16])
@pytest.mark.parametrize("input_bits", [8, 16])
def test_normals_confidence_uses_the_inputs_bit_depth(codec_bits, input_bits):
    codec = rgbtask.get_codec("normals/xyz", bits=codec_bits)
    rgb = codes_off_the_sphere(input_bits)
    decoded = codec.decode_with_confidence(rgb)
    want = expected_normals_confidence(rgb, input_bits)
    np.testing.assert_allclose(np.asarray(decoded.confidence, dtype=np.float64), want, atol=2e-6)
    dev_ok = want > 0
    assert np.array_equal(np.asarray(decoded.valid)[dev_ok], np.ones(int(dev_ok.sum()), bool))


def test_the_two_slacks_give_different_confidences():
    # the case that tells the input's slack from the codec's: a norm off by 4e-3 is within
    # 8-bit quantization (sqrt(3)/255 = 6.8e-3) but far outside 16-bit (sqrt(3)/65535 = 2.6e-5)
    off = np.floor((np.array([0.0, 0.0, 1.0]) * 0.996 + 1) / 2 * 65535 + 0.5)[None, None]
    off16 = off.astype(np.uint16)
    conf_8bit_codec = rgbtask.get_codec("normals/xyz", bits=8).decode_with_confidence(off16)
    conf_16bit_codec = rgbtask.get_codec("normals/xyz", bits=16).decode_with_confidence(off16)
    want = expected_normals_confidence(off16, 16)
    assert float(want[0, 0]) < 0.995
    np.testing.assert_allclose(conf_8bit_codec.confidence, want, atol=2e-6)
    np.testing.assert_allclose(conf_16bit_codec.confidence, want, atol=2e-6)

    off8 = np.floor((np.array([0.0, 0.0, 1.0]) * 0.996 + 1) / 2 * 255 + 0.5)[None, None]
    off8 = off8.astype(np.uint8)
    want8 = expected_normals_confidence(off8, 8)
    conf = rgbtask.get_codec("normals/xyz", bits=16).decode_with_confidence(off8)
    np.testing.assert_allclose(conf.confidence, want8, atol=2e-6)


@pytest.mark.parametrize("codec_bits", [8, 16])
def test_normals_confidence_of_float_input_uses_the_codecs_bits(codec_bits):
    codes = codes_off_the_sphere(16)
    rgb = codes.astype(np.float64) / 65535.0  # the same colours as float in [0, 1]
    decoded = rgbtask.get_codec("normals/xyz", bits=codec_bits).decode_with_confidence(rgb)
    scale = float(2**codec_bits - 1)
    # the float is read as codes at the codec's bit depth: v = rgb * 2 - 1 either way
    want = expected_normals_confidence(rgb * scale, codec_bits)
    np.testing.assert_allclose(np.asarray(decoded.confidence, dtype=np.float64), want, atol=2e-6)


# ---------------------------------------------------------------- depth, 8-bit input
#
# rgbtask.core.depth: confidence = clip(1 - dist / threshold) with ``dist`` the colour's distance
# to the curve. 8-bit input reads it from the shared lookup table, which stores it as a byte
# ``round(255 * confidence)``: the decoded confidence is that byte / 255, within half a byte of the
# exact (float-input) confidence, and exactly 1 on the curve's own codes.


def _depth_colors(codec, rng) -> np.ndarray:
    depth = np.linspace(0.6, 9.5, 64).reshape(1, 64)
    codes = np.asarray(codec.encode(depth)).astype(np.int64)
    nudged = codes + rng.integers(-6, 7, size=codes.shape)
    return np.clip(np.concatenate([codes, nudged], axis=1), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", ["depth/gray", "depth/cubewalk", "depth/hue"])
def test_depth_8bit_confidence_is_a_byte_over_255(name):
    codec = rgbtask.get_codec(name, transform="linear", near=0.5, far=10.0)
    rgb = _depth_colors(codec, np.random.default_rng(3))
    d8 = codec.decode_with_confidence(rgb)
    exact = codec.decode_with_confidence(rgb.astype(np.float64) / 255.0)
    conf8 = np.asarray(d8.confidence, dtype=np.float64)
    conf = np.asarray(exact.confidence, dtype=np.float64)
    assert np.array_equal(np.asarray(d8.valid), np.asarray(exact.valid))
    # on the curve's own codes: exactly 1 (a byte of 255, over 255)
    assert np.all(conf8[:, :64] == 1.0)
    # elsewhere: an integer byte over 255, within half a byte of the exact confidence
    byte = conf8 * 255.0
    np.testing.assert_allclose(byte, np.round(byte), atol=1e-4)
    np.testing.assert_allclose(conf8, conf, atol=0.5 / 255 + 1e-6)
    assert np.any((conf8 > 0) & (conf8 < 1)), "no pixel exercises a fractional confidence"
