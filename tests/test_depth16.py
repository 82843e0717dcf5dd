"""16-bit depth (issue 15): ``bits=16`` for every depth codec. Levels, exact decoding of every
16-bit code, the derived lossless bound, kernels against their NumPy references, 8-bit behaviour
unchanged, 16-bit PNGs through the CLI, golden files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask import io as rio
from rgbtask.core import depth as kernels
from rgbtask.testing import check_roundtrip

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"
PTS = [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]]

#: One 16-bit config per curve (these are also the golden cases).
CODECS16 = {
    "cubewalk16": {"name": "depth/cubewalk", "bits": 16},
    "cubewalk16_linear": {
        "name": "depth/cubewalk",
        "transform": "linear",
        "near": 0.5,
        "far": 80.0,
        "bits": 16,
    },
    "hue16": {"name": "depth/hue", "near": 0.5, "far": 80.0, "bits": 16},
    "hue16_nowrap_log": {
        "name": "depth/hue",
        "variant": "nowrap",
        "transform": "log",
        "near": 0.5,
        "far": 80.0,
        "bits": 16,
    },
    "gray16_inverse": {
        "name": "depth/gray",
        "transform": "inverse",
        "near": 0.5,
        "far": 80.0,
        "bits": 16,
    },
    "turbo16": {"name": "depth/colormap", "near": 0.5, "far": 80.0, "bits": 16},
    "curve16": {"name": "depth/curve", "curve": PTS, "near": 0.5, "far": 80.0, "bits": 16},
}
GOLDEN16 = ["cubewalk16", "hue16", "gray16_inverse", "turbo16", "curve16"]


def codec_of(case):
    return rgbtask.get_codec(CODECS16[case])


# ---------------------------------------------------------------- levels and codes
def test_levels_are_the_documented_counts():
    levels = {
        "cubewalk16": 7 * 65535 + 1,
        "hue16": 1529 * 257 + 1,
        "hue16_nowrap_log": 5 * 65535 + 1,
        "gray16_inverse": 65536,
    }
    for case, n in levels.items():
        codec = codec_of(case)
        assert codec.levels == n
        assert codec.dtype == np.uint16
        assert codec.curve_obj().codes.dtype == np.uint16
    # 8 bits is the default and unchanged
    assert rgbtask.get_codec("depth/cubewalk").levels == 1786
    assert rgbtask.get_codec("depth/gray", near=1, far=2).levels == 256
    assert rgbtask.get_codec("depth/cubewalk").dtype == np.uint8
    assert rgbtask.get_codec("depth/cubewalk").bits == 8


@pytest.mark.parametrize("case", ["cubewalk16", "hue16", "hue16_nowrap_log", "gray16_inverse"])
def test_polyline_codes_are_the_8bit_codes_times_257_walked_one_code_at_a_time(case):
    c16 = codec_of(case).curve_obj()
    c8 = rgbtask.get_codec({**CODECS16[case], "bits": 8}).curve_obj()
    codes = c16.codes.astype(np.int64)
    steps = np.abs(np.diff(codes, axis=0))
    assert np.all(steps.max(axis=1) == 1)  # every channel moves by 0 or 1 code per level
    np.testing.assert_array_equal(codes[::257], c8.codes.astype(np.int64) * 257)
    assert c16.reserved == tuple(v * 257 for v in c8.reserved)


@pytest.mark.parametrize("case", ["turbo16", "curve16"])
def test_palette_curves_at_16_bits_are_injective_polylines(case):
    curve = codec_of(case).curve_obj()
    assert curve.kind == "polyline" and curve.bits == 16
    codes = curve.codes.astype(np.int64)
    assert len(np.unique(codes, axis=0)) == len(codes)
    # consecutive levels: the largest channel moves by exactly one code
    assert np.all(np.abs(np.diff(codes, axis=0)).max(axis=1) == 1)
    assert curve.levels > 100 * rgbtask.get_codec({**CODECS16[case], "bits": 8}).levels


# ---------------------------------------------------------------- exact decode
@pytest.mark.parametrize("case", sorted(CODECS16))
def test_every_16bit_code_decodes_to_its_level_and_re_encodes_to_itself(case):
    codec = codec_of(case)
    curve, tr = codec.curve_obj(), codec.transform_obj
    codes = curve.codes[None]  # (1, levels, 3): every code of the curve
    dec = codec.decode_with_confidence(codes)
    assert dec.valid.all()
    f = np.arange(curve.levels) / (curve.levels - 1)
    want = kernels.inverse_reference(f, tr.params)
    if tr.params[0] == kernels.KIND_POWER:
        want = np.where(f >= 1.0, np.inf, want)
    want = (np.clip(want, *tr.decoded_range) + 0.0).astype(np.float32)
    np.testing.assert_array_equal(dec.value[0], want)
    if case == "cubewalk16":  # power: level 0 is depth 0 (invalid), the last one infinitely far
        codes, dec = codes[:, 1:-1], dec.value[:, 1:-1]
    else:
        dec = dec.value
    np.testing.assert_array_equal(codec.encode(dec.astype(np.float64)), codes)


@pytest.mark.parametrize("case", sorted(CODECS16))
def test_u16_decode_kernel_equals_numpy_reference(case):
    codec = codec_of(case)
    curve, tr = codec.curve_obj(), codec.transform_obj
    rng = np.random.default_rng(5)
    codes = curve.codes.astype(np.int64)
    base = codes[rng.integers(0, len(codes), 20000)]
    noise = rng.integers(-3, 4, base.shape) * (rng.random((len(base), 1)) < 0.5)
    far = rng.integers(0, 65536, (2000, 3))
    rgb = np.clip(np.concatenate([base + noise, far, codes[:500]]), 0, 65535).astype(np.uint16)
    got = kernels.decode_u16(rgb, curve, tr.params, *tr.decoded_range)
    want = kernels.decode_u16_reference(rgb, curve, tr.params, *tr.decoded_range)
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_allclose(got[1], want[1], atol=1e-6)
    # float32 RGB (codes / 65535, and noise): the same kernel at scale 1
    x = (rgb / 65535.0).astype(np.float32)
    x[::7] += np.float32(3e-5)
    got = kernels.decode_u16(x, curve, tr.params, *tr.decoded_range, scale=1.0)
    want = kernels.decode_u16_reference(x, curve, tr.params, *tr.decoded_range, scale=1.0)
    np.testing.assert_array_equal(got[2], want[2])
    np.testing.assert_array_equal(got[0], want[0])


@pytest.mark.parametrize("case", sorted(CODECS16))
def test_u16_encode_kernel_equals_numpy_reference(case):
    codec = codec_of(case)
    tr = codec.transform_obj
    rng = np.random.default_rng(9)
    d = np.exp(rng.uniform(np.log(1e-3), np.log(500.0), (300, 300)))
    d.flat[:5] = [0.0, -1.0, np.nan, np.inf, 1e30]
    want = kernels.encode_reference(d, codec.curve_obj(), tr.params, tr.zero_ok)
    np.testing.assert_array_equal(codec.encode(d), want)


# ---------------------------------------------------------------- the bound
@settings(max_examples=40, deadline=None)
@given(
    case=st.sampled_from(sorted(CODECS16)),
    depth=st.lists(
        st.floats(0.05, 200.0, allow_nan=False) | st.sampled_from([0.0, -1.0, np.nan, np.inf]),
        min_size=1,
        max_size=40,
    ),
)
def test_roundtrip_within_half_a_16bit_step(case, depth):
    codec = codec_of(case)
    d = np.asarray(depth, dtype=np.float64)[None]
    rgb = codec.encode(d)
    assert rgb.dtype == np.uint16 and rgb.shape == d.shape + (3,)
    check_roundtrip(codec, d, rgb)  # error <= roundtrip_bound (half a step, derived)


@settings(max_examples=40, deadline=None)
@given(depth=st.lists(st.floats(0.5, 80.0, allow_nan=False), min_size=1, max_size=40))
def test_linear_16bit_bound_is_half_of_range_over_levels_minus_one(depth):
    """The derived bound, written out: linear near..far over N levels loses at most
    (far - near) / (2 (N - 1)) plus half a float32 ulp; 257 times finer than 8 bits."""
    codec = codec_of("cubewalk16_linear")
    d = np.asarray(depth, dtype=np.float64)[None]
    err = np.abs(codec.decode(codec.encode(d)).astype(np.float64) - d)
    half = (80.0 - 0.5) / (2 * (codec.levels - 1))
    assert np.all(err <= half + 80.0 * 2.0**-24)
    np.testing.assert_allclose(codec.roundtrip_bound(d), half, rtol=1e-5, atol=80.0 * 2.0**-24)
    assert half < (80.0 - 0.5) / (2 * 1785) / 250


@settings(max_examples=15, deadline=None)
@given(
    case=st.sampled_from(sorted(CODECS16)),
    batch=st.integers(1, 3),
    h=st.integers(1, 5),
    w=st.integers(1, 5),
    seed=st.integers(0, 2**16),
)
def test_16bit_batch_is_a_loop_of_singles(case, batch, h, w, seed):
    codec = codec_of(case)
    d = np.random.default_rng(seed).uniform(0.3, 90.0, (batch, h, w))
    rgb = codec.encode(d)
    singles = np.stack([codec.encode(x) for x in d])
    np.testing.assert_array_equal(rgb, singles)
    dec = codec.decode(rgb)
    np.testing.assert_array_equal(dec, np.stack([codec.decode(x) for x in rgb]))
    assert dec.dtype == np.float32 and dec.shape == d.shape


# ---------------------------------------------------------------- other inputs
def test_8bit_codec_decodes_uint16_as_float_as_before():
    codec = rgbtask.get_codec("depth/cubewalk")
    rng = np.random.default_rng(2)
    rgb = rng.integers(0, 65536, (20, 30, 3)).astype(np.uint16)
    a = codec.decode_with_confidence(rgb)
    b = codec.decode_with_confidence(rgb / 65535.0)
    np.testing.assert_array_equal(a.value, b.value)
    np.testing.assert_array_equal(a.valid, b.valid)


@pytest.mark.parametrize("case", ["cubewalk16", "turbo16"])
def test_16bit_codec_decodes_uint8_and_float_by_projection(case):
    codec = codec_of(case)
    rng = np.random.default_rng(4)
    rgb8 = rng.integers(0, 256, (10, 20, 3)).astype(np.uint8)
    np.testing.assert_array_equal(codec.decode(rgb8), codec.decode(rgb8 / 255.0))
    # float input of exact codes: not snapped to the level, but within half a step of it
    d = np.linspace(0.6, 70.0, 200)[None]
    codes = codec.encode(d)
    err = np.abs(codec.decode(codes / 65535.0) - codec.decode(codes).astype(np.float64))
    assert np.all(err <= 0.5 * codec.step_at(d) + 1e-5 * d)


def test_invalid_depth_gets_the_reserved_16bit_code():
    codec = codec_of("hue16")
    rgb = codec.encode(np.array([[0.0, np.nan, -2.0, 3.0]]))
    assert np.all(rgb[0, :3] == 0)
    assert not codec.decode_with_confidence(rgb).valid[0, :3].any()


def test_bad_bits_is_a_config_error():
    from rgbtask.errors import ConfigError

    with pytest.raises(ConfigError, match="bits"):
        rgbtask.get_codec("depth/cubewalk", bits=12)


# ---------------------------------------------------------------- files
def test_cli_encode_writes_a_16bit_png(tmp_path):
    from rgbtask.cli import main

    d = np.linspace(0.6, 9.0, 12 * 16).reshape(12, 16).astype(np.float32)
    np.save(tmp_path / "d.npy", d)
    out = tmp_path / "d.png"
    args = ["encode", str(tmp_path / "d.npy"), str(out), "--codec", "depth/gray"]
    assert main([*args, "--param", "bits=16", "--param", "near=0.5", "--param", "far=10"]) == 0
    img = rio.read_image(out)
    codec = rgbtask.get_codec("depth/gray", bits=16, near=0.5, far=10.0)
    assert img.dtype == np.uint16
    np.testing.assert_array_equal(img, codec.encode(d))
    check_roundtrip(codec, d, img)


def test_cli_convert_writes_16bit_pngs_and_decodes_them(tmp_path, monkeypatch):
    from rgbtask.cli import main

    monkeypatch.chdir(tmp_path)
    d = np.linspace(0.6, 9.0, 12 * 16).reshape(12, 16).astype(np.float32)
    np.save("a.npy", d)
    assert main(["convert", "a.npy", "--out", "enc", "--codec", "depth/cubewalk"]
                + ["--param", "bits=16"]) == 0  # fmt: skip
    img = rio.read_image(tmp_path / "enc" / "a.png")
    codec = rgbtask.get_codec("depth/cubewalk", bits=16)
    assert img.dtype == np.uint16
    np.testing.assert_array_equal(img, codec.encode(d))
    args = ["decode", "enc/a.png", "b.npy", "--manifest", "enc/manifest.json"]
    assert main(args) == 0
    np.testing.assert_array_equal(np.load("b.npy"), codec.decode(img))


REAL = {"nyu_demo": 1000.0, "kitti_demo": 256.0}


@pytest.mark.parametrize("dataset", sorted(REAL))
def test_real_frames_16bit_lossless_within_half_step(data_dir, dataset):
    codec = codec_of("cubewalk16_linear")
    frames = sorted((data_dir / "depth" / dataset / "depth").glob("*.png"))
    assert frames
    for frame in frames[:2]:
        d = rio.read_depth(frame, depth_scale=REAL[dataset])
        rgb = codec.encode(d)
        check_roundtrip(codec, d, rgb)
        assert np.array_equal(codec.decode_with_confidence(rgb).valid, np.isfinite(d))


@pytest.mark.parametrize("case", GOLDEN16)
def test_golden_16bit(case):
    codec = codec_of(case)
    d = np.load(GOLDEN / "depth_input.npy")  # shared with tests/test_depth.py
    path = GOLDEN / f"depth_{case}.png"
    if REGEN and not path.exists():
        rio.write_png(path, codec.encode(d))
    golden = rio.read_image(path)
    assert golden.dtype == np.uint16
    assert np.array_equal(codec.encode(d), golden), "the encoding changed: a format break"
    check_roundtrip(codec, d, golden)
    assert not codec.decode_with_confidence(golden).valid[0, :4].any()


def test_torch_wrapper_takes_the_host_path_for_16bit(monkeypatch):
    torch = pytest.importorskip("torch")
    import rgbtask.torch as rt
    from rgbtask.torch import TensorCodec

    monkeypatch.setattr(rt, "CPU_BACKEND", "torch")  # the device code paths, on the CPU
    codec = codec_of("cubewalk16")
    tc = TensorCodec(codec, layout="NHWC")
    assert not tc.fill_table("cpu")  # no 8-bit table for a 16-bit codec
    d = torch.rand(2, 4, 5, dtype=torch.float64) * 10 + 0.5
    ref = codec.encode(d.numpy())
    np.testing.assert_array_equal(tc.encode(d).numpy() * 65535.0, ref)
    x = torch.from_numpy(ref / 65535.0)
    np.testing.assert_array_equal(tc.decode(x).numpy(), codec.decode(ref))
