"""Depth codecs: Vision Banana compatibility, bounds that can fail, every colour decodes sanely,
batches, real NYU / KITTI frames, golden files."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask import io as rio
from rgbtask.errors import ConfigError, InputError
from rgbtask.testing import check_roundtrip

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"

CODECS = {
    "cubewalk": {"name": "depth/cubewalk"},
    "cubewalk_linear": {"name": "depth/cubewalk", "transform": "linear", "near": 0.5, "far": 80.0},
    "hue": {"name": "depth/hue", "near": 0.5, "far": 80.0},
    "hue_nowrap_log": {
        "name": "depth/hue",
        "variant": "nowrap",
        "transform": "log",
        "near": 0.5,
        "far": 80.0,
    },
    "gray_inverse": {"name": "depth/gray", "transform": "inverse", "near": 0.5, "far": 80.0},
    "turbo": {"name": "depth/colormap", "cmap": "turbo", "near": 0.5, "far": 80.0},
    "curve": {
        "name": "depth/curve",
        "curve": [[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2], [1, 0, 0.2]],
        "near": 0.5,
        "far": 80.0,
    },
}


def depth_sample(seed=0, shape=(24, 32)):
    rng = np.random.default_rng(seed)
    d = np.exp(rng.uniform(np.log(0.3), np.log(120.0), shape))
    d.flat[:5] = [0.0, -1.0, np.nan, np.inf, 1e-9]
    return d


# ---------------------------------------------------------------- Vision Banana / hilbertmap
def test_default_cubewalk_is_vision_banana():
    codec = rgbtask.get_codec("depth/cubewalk")
    assert (codec.transform, codec.lam, codec.c, codec.near, codec.far) == (
        "power",
        -3.0,
        10.0 / 3.0,
        None,
        None,
    )
    assert codec.levels == 1786


def test_cubewalk_agrees_with_hilbertmap():
    hm = pytest.importorskip("hilbertmap")
    codec = rgbtask.get_codec("depth/cubewalk")
    rng = np.random.default_rng(1)
    rgb = rng.integers(0, 256, (256, 256, 3), dtype=np.uint8)
    rgb[0, :] = codec.curve_obj().codes[::7][:256]  # on-curve codes too
    dec = codec.decode_with_confidence(rgb)
    want = hm.rgb_to_depth(rgb / 255)
    # identical on every valid 8-bit colour (float32 output of the same float64 value)
    np.testing.assert_array_equal(dec.value[dec.valid], want[dec.valid].astype(np.float32))
    # float colours: exact float64 projection, within 1e-6 relative depth
    f = rng.random((64, 64, 3))
    dec = codec.decode_with_confidence(f)
    want = hm.rgb_to_depth(f)
    ok = dec.valid & np.isfinite(want)
    np.testing.assert_allclose(dec.value[ok], want[ok], rtol=1e-6)
    # encode: the 8-bit rounding of hilbertmap's continuous colour
    d = np.geomspace(0.05, 300, 4000).reshape(40, 100)
    want = np.floor(hm.depth_to_rgb(d) * 255 + 0.5)
    assert np.max(np.abs(codec.encode(d).astype(int) - want)) <= 1  # ties only
    assert np.mean(np.all(codec.encode(d) == want, axis=-1)) > 0.999


# ---------------------------------------------------------------- bounds and precision
@pytest.mark.parametrize("case", sorted(CODECS))
def test_roundtrip_within_half_step_and_bound_is_tight(case):
    codec = rgbtask.get_codec(CODECS[case])
    d = depth_sample()
    err = check_roundtrip(codec, d)
    bound = np.asarray(codec.roundtrip_bound(d))
    inside = np.isfinite(d) & (d >= 0.5) & (d <= 80.0)
    # a dense sweep reaches the bound: it is not loose
    sweep = np.linspace(1.0, 60.0, 200001)[None]
    e = codec.roundtrip_error(sweep, codec.decode(codec.encode(sweep)))
    assert np.max(e / codec.roundtrip_bound(sweep)) > 0.99
    assert np.all(err[inside] <= bound[inside] * (1 + 1e-6))


def test_step_at_answers_what_is_lost_at_2m_and_40m():
    codec = rgbtask.get_codec("depth/cubewalk")
    s2, s40 = codec.step_at(2.0), codec.step_at(40.0)
    assert 0 < s2 < 0.02 < s40 < 2.0
    lin = rgbtask.get_codec("depth/hue", near=0.5, far=80.0)
    assert lin.step_at(2.0) == pytest.approx(79.5 / 1529, rel=1e-9)
    assert np.isnan(codec.step_at(np.array([0.0, np.nan]))).all()


@pytest.mark.parametrize("case", sorted(CODECS))
def test_every_colour_decodes_in_range_or_nan(case):
    codec = rgbtask.get_codec(CODECS[case])
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)
    dec = codec.decode_with_confidence(rgb)
    v = dec.value[dec.valid]
    lo, hi = (0.0, np.inf) if codec.transform == "power" else (codec.near, codec.far)
    assert np.all((v >= lo * (1 - 1e-6)) & (v <= hi * (1 + 1e-6)))
    assert np.all(np.isnan(dec.value[~dec.valid]))
    fdec = codec.decode(rng.random((64, 64, 3)))
    fv = fdec[~np.isnan(fdec)]
    assert np.all((fv >= lo * (1 - 1e-6)) & (fv <= hi * (1 + 1e-6)))


def test_unbounded_inf_only_at_white_and_invalid_gets_reserved_code():
    codec = rgbtask.get_codec("depth/cubewalk")
    assert codec.decode(np.full((1, 1, 3), 255, np.uint8))[0, 0] == np.inf
    assert codec.decode(np.full((1, 1, 3), 254, np.uint8))[0, 0] < np.inf
    assert codec.decode(np.zeros((1, 1, 3), np.uint8))[0, 0] == 0.0
    d = np.array([[0.0, -2.0, np.nan, np.inf]])
    rgb = codec.encode(d)
    assert np.all(rgb == 128)
    assert not codec.decode_with_confidence(rgb).valid.any()


@settings(max_examples=20, deadline=None)
@given(
    st.sampled_from(sorted(CODECS)),
    st.lists(st.integers(1, 3), max_size=2),
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(0, 2**32 - 1),
)
def test_batch_is_a_loop_of_singles(case, batch, h, w, seed):
    codec = rgbtask.get_codec(CODECS[case])
    d = depth_sample(seed, (*batch, h, w))
    rgb = codec.encode(d)
    assert rgb.shape == (*batch, h, w, 3) and rgb.dtype == np.uint8
    flat_d, flat_rgb = d.reshape(-1, h, w), rgb.reshape(-1, h, w, 3)
    for i in range(flat_d.shape[0]):
        assert np.array_equal(codec.encode(flat_d[i]), flat_rgb[i])
    dec = codec.decode_with_confidence(rgb)
    assert dec.value.dtype == np.float32 and dec.value.shape == (*batch, h, w)
    for i in range(flat_d.shape[0]):
        single = codec.decode(flat_rgb[i])
        np.testing.assert_array_equal(dec.value.reshape(-1, h, w)[i], single)
    check_roundtrip(codec, d, rgb)


def test_affine_returns_scale_and_shift():
    codec = rgbtask.get_codec("depth/cubewalk", transform="affine")
    d = np.tile(np.linspace(2.0, 10.0, 32), (24, 1))
    d[0, 0] = np.nan
    scale, shift = codec.affine_params(d)
    rel = codec.decode(codec.encode(d))
    np.testing.assert_allclose(rel * scale + shift, d, atol=8.0 / 1785)


def test_affine_params_are_floats_for_one_image_arrays_for_a_batch():
    """Issue 16: one image gives Python floats (not 0-d arrays); a batch gives one per image."""
    codec = rgbtask.get_codec("depth/cubewalk", transform="affine")
    d = np.tile(np.linspace(2.0, 10.0, 8), (4, 1))
    scale, shift = codec.affine_params(d)
    assert type(scale) is float and type(shift) is float
    assert (scale, shift) == (8.0, 2.0)
    scales, shifts = codec.affine_params(np.stack([d, d * 2]))
    assert scales.shape == shifts.shape == (2,)
    assert scales.tolist() == [8.0, 16.0] and shifts.tolist() == [2.0, 4.0]


def test_config_errors_and_small_pickle():
    with pytest.raises(ConfigError, match="near and far"):
        rgbtask.get_codec("depth/hue")
    with pytest.raises(ConfigError, match="variant"):
        rgbtask.get_codec("depth/hue", near=1, far=2, variant="spiral")
    with pytest.raises(ConfigError, match="duplicate"):
        rgbtask.get_codec("depth/colormap", cmap="viridis", near=1, far=2)
    with pytest.raises(ConfigError, match="curve"):
        rgbtask.get_codec("depth/curve", near=1, far=2)
    with pytest.raises(InputError, match="expected"):
        rgbtask.get_codec("depth/cubewalk").encode(np.zeros(4))
    codec = rgbtask.get_codec(CODECS["turbo"])
    codec.decode(np.zeros((2, 2, 3), np.uint8))  # tables built: they must not travel
    assert len(pickle.dumps(codec)) < 2000
    assert pickle.loads(pickle.dumps(codec)) == codec


def test_import_does_not_pull_matplotlib_or_numba():
    code = "import sys, rgbtask; print('matplotlib' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
    code = (
        "import sys, rgbtask; rgbtask.get_codec('depth/hue', near=1, far=2)"
        ".encode([[1.5]]); print('matplotlib' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# ---------------------------------------------------------------- real data
REAL = {"nyu_demo": 1000.0, "kitti_demo": 256.0}


@pytest.mark.parametrize("dataset", sorted(REAL))
@pytest.mark.parametrize("case", sorted(CODECS))
def test_real_frames_lossless_within_half_step(data_dir, dataset, case):
    codec = rgbtask.get_codec(CODECS[case])
    frames = sorted((data_dir / "depth" / dataset / "depth").glob("*.png"))
    assert frames
    for frame in frames:
        d = rio.read_depth(frame, depth_scale=REAL[dataset])
        rgb = codec.encode(d)
        check_roundtrip(codec, d, rgb)  # max error <= half a step on every valid pixel
        dec = codec.decode_with_confidence(rgb)
        assert not np.any(dec.valid & np.isnan(d)), "an invalid pixel decoded as valid"
        assert np.array_equal(dec.valid, np.isfinite(d))


# ---------------------------------------------------------------- golden files
def golden_input() -> np.ndarray:
    path = GOLDEN / "depth_input.npy"
    if REGEN:
        from rgbtask.samples import make_scene

        d = make_scene(12, 16, seed=7).depth.astype(np.float32)
        d[0, :4] = [0.0, -1.0, np.inf, np.nan]
        d[1, :3] = [0.3, 85.0, 500.0]
        np.save(path, d)
    return np.load(path)


@pytest.mark.parametrize("case", sorted(CODECS))
def test_golden(case):
    codec = rgbtask.get_codec(CODECS[case])
    d = golden_input()
    path = GOLDEN / f"depth_{case}.png"
    if REGEN:
        rio.write_png(path, codec.encode(d))
    golden = rio.read_image(path)
    assert np.array_equal(codec.encode(d), golden), "the encoding changed: a format break"
    check_roundtrip(codec, d, golden)
    assert not codec.decode_with_confidence(golden)[2][0, :4].any()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["cubewalk", "hue_nowrap_log", "gray_inverse", "turbo"])
def test_fast_encode_path_equals_reference(case, dtype):
    from rgbtask.core import depth as kernels

    codec = rgbtask.get_codec(CODECS[case])
    rng = np.random.default_rng(11)
    d = np.exp(rng.uniform(np.log(1e-4), np.log(2000.0), (256, 300))).astype(dtype)
    d.flat[:6] = [0.0, -1.0, np.nan, np.inf, 5e-7, 1e30]
    assert d.size >= 1 << 16  # the bucket-table path
    tr = codec.transform_obj
    want = kernels.encode_reference(d, codec.curve_obj(), tr.params, tr.zero_ok)
    np.testing.assert_array_equal(codec.encode(d), want)


# ---------------------------------------------------------------- confidence, caches, configs
def _near_curve_colours(codec, seed=3, n=20000):
    """8-bit colours on and around the curve: every confidence byte from 0 to 255 occurs."""
    rng = np.random.default_rng(seed)
    codes = codec.curve_obj().codes.astype(np.int64)
    base = codes[rng.integers(0, len(codes), n)]
    spread = rng.integers(0, 90, (n, 1))
    noise = np.round(rng.normal(size=(n, 3)) * spread / 2).astype(np.int64)
    return np.clip(base + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("case", ["cubewalk", "hue", "turbo"])
def test_u8_confidence_is_the_rounded_byte_over_255(case):
    from rgbtask.core import depth as kernels

    codec = rgbtask.get_codec(CODECS[case])
    curve = codec.curve_obj()
    rgb = _near_curve_colours(codec)
    dec = codec.decode_with_confidence(rgb[None])
    _, dist = kernels.project_reference(rgb / 255.0, curve)
    valid = dist < curve.threshold
    raw = (1.0 - dist / curve.threshold) * 255.0
    byte = np.floor(raw + 0.5)
    clear = valid & (np.abs(raw - np.floor(raw) - 0.5) > 1e-6)  # no rounding ties
    assert clear.sum() > 0.5 * valid.sum() and len(np.unique(byte[clear])) > 200
    np.testing.assert_array_equal(dec.valid[0], valid)
    want = (byte / 255.0).astype(np.float32)
    np.testing.assert_array_equal(dec.confidence[0][clear], want[clear])
    assert np.all(dec.confidence[0][~valid] == 0.0)
    # float input: the unrounded formula
    fdec = codec.decode_with_confidence(rgb[None] / 255.0)
    conf = np.clip(1.0 - dist / curve.threshold, 0.0, 1.0).astype(np.float32)
    np.testing.assert_allclose(fdec.confidence[0][valid], conf[valid], atol=1e-6)


@pytest.mark.parametrize(
    "a,b",
    [
        ({"near": 0.5, "far": 80.0}, {"near": 1.0, "far": 80.0}),
        ({"near": 0.5, "far": 80.0}, {"near": 0.5, "far": 60.0}),
        ({"near": 0.5, "far": 80.0}, {"near": 0.5, "far": 80.0, "transform": "log"}),
        ({"near": 0.5, "far": 80.0}, {"near": 0.5, "far": 80.0, "transform": "inverse"}),
        ({"transform": "power"}, {"transform": "power", "lam": -4.0}),
        ({"transform": "power"}, {"transform": "power", "c": 2.0}),
        ({"transform": "normalized"}, {"transform": "power"}),
    ],
)
def test_depth_table_cache_key_holds_every_parameter(a, b):
    """Two configs that differ in one parameter get different tables (decode and encode)."""
    from rgbtask.codecs import depth as depth_mod

    ca = rgbtask.get_codec("depth/gray", **a)
    cb = rgbtask.get_codec("depth/gray", **b)
    curve = ca.curve_obj()
    assert curve is cb.curve_obj()
    ta = depth_mod._depth_table(curve, ca.transform_obj)
    tb = depth_mod._depth_table(curve, cb.transform_obj)
    assert ta is not tb and not np.array_equal(ta, tb)
    np.testing.assert_array_equal(tb, depth_mod._build_depth_table(curve, cb.transform_obj))
    # through decode: the second codec decodes with its own table (compare the float path)
    rgb = curve.codes[::5][None]
    for codec in (ca, cb):
        exact = codec.decode(rgb.astype(np.float64) / 255.0)
        np.testing.assert_allclose(codec.decode(rgb), exact, rtol=1e-6)
    for dtype in (np.float32, np.float64):
        ea = depth_mod._encode_table(curve, ca.transform_obj, dtype)
        eb = depth_mod._encode_table(curve, cb.transform_obj, dtype)
        assert ea is not eb


def test_transform_and_curve_are_built_once_and_never_pickled():
    codec = rgbtask.get_codec(CODECS["hue_nowrap_log"])
    assert codec.transform_obj is codec.transform_obj
    assert codec.curve_obj() is codec.curve_obj()
    assert codec.transform_obj.name == "log" and codec.transform_obj.near == 0.5
    state = pickle.dumps(codec)
    assert b"_transform" not in state and b"_curve" not in state
    again = pickle.loads(state)
    assert again == codec and again.transform_obj == codec.transform_obj


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("depth/hue", {"near": "0.5", "far": 80.0}, "expected near"),
        ("depth/hue", {"near": 0.5, "far": True}, "expected far"),
        ("depth/hue", {"near": 0.5, "far": float("nan")}, "expected far"),
        ("depth/hue", {"near": 0.5, "far": [80.0]}, "expected far"),
        ("depth/hue", {"near": 2.0, "far": 1.0}, "near < far"),
        ("depth/hue", {"near": -1.0, "far": 1.0}, "near < far"),
        ("depth/hue", {"near": 0.0, "far": 1.0, "transform": "log"}, "0 < near"),
        ("depth/hue", {"near": 0.5, "far": 80.0, "transform": None}, "transform"),
        ("depth/hue", {"near": 0.5, "far": 80.0, "transform": "sqrt"}, "transform"),
        ("depth/hue", {"near": 0.5, "far": 80.0, "variant": None}, "variant"),
        ("depth/hue", {"near": 0.5, "far": 80.0, "variant": 1}, "variant"),
        ("depth/cubewalk", {"lam": "x"}, "expected lam"),
        ("depth/cubewalk", {"c": None}, "c"),
        ("depth/cubewalk", {"lam": -0.5}, "lam"),
        ("depth/cubewalk", {"near": 1.0}, "no near/far"),
        ("depth/colormap", {"cmap": None, "near": 1.0, "far": 2.0}, "cmap"),
        ("depth/colormap", {"cmap": 3, "near": 1.0, "far": 2.0}, "cmap"),
        ("depth/colormap", {"cmap": "nope", "near": 1.0, "far": 2.0}, "colormap"),
        ("depth/curve", {"curve": [[0, 0, 0], ["1", 0, 0]], "near": 1, "far": 2}, "curve"),
        ("depth/curve", {"curve": [[0, 0, 0], [True, 0, 0]], "near": 1, "far": 2}, "curve"),
        ("depth/curve", {"curve": [[0, 0, 0], [2, 0, 0]], "near": 1, "far": 2}, "curve"),
        ("depth/curve", {"curve": [[0, 0, 0]], "near": 1, "far": 2}, "curve"),
        ("depth/curve", {"curve": "abc", "near": 1, "far": 2}, "curve"),
    ],
)
def test_bad_parameters_raise_config_error(name, params, match):
    with pytest.raises(ConfigError, match=match):
        rgbtask.get_codec(name, **params)


def test_parameters_are_kept_as_given():
    codec = rgbtask.get_codec("depth/hue", near=np.float32(0.5), far=80, variant="nowrap")
    config = codec.get_config()
    assert config["near"] == 0.5 and config["far"] == 80 and config["variant"] == "nowrap"
    assert type(config["far"]) is float
    pts = np.array([[0, 0, 0.2], [0, 1, 0.2], [1, 1, 0.2]])
    curve = rgbtask.get_codec("depth/curve", curve=pts, near=1, far=2)
    assert curve.get_config()["curve"] == pts.tolist()
    assert rgbtask.get_codec(curve.get_config()) == curve


def test_a_subclass_that_overrides_curve_obj_still_works():
    from dataclasses import dataclass

    from rgbtask import curves
    from rgbtask.codecs.depth import DepthCodec

    @dataclass(frozen=True, eq=False, repr=False)
    class OldStyle(DepthCodec):
        name = "depth/oldstyle-test"

        def curve_obj(self):
            return curves.gray()

    codec = OldStyle(near=0.5, far=80.0)
    assert codec.levels == 256 and codec.range_text().startswith("depth in [near, far]")
    d = depth_sample()
    check_roundtrip(codec, d)


@pytest.mark.parametrize("case", sorted(CODECS))
def test_rebuilt_from_config_decodes_the_same(case):
    codec = rgbtask.get_codec(CODECS[case])
    again = type(codec).from_config(json_round_trip(codec.get_config()))
    assert again == codec and again is not codec
    d = depth_sample(4)
    rgb = codec.encode(d)
    np.testing.assert_array_equal(again.encode(d), rgb)
    for image in (rgb, rgb / 255.0):
        a, b = codec.decode_with_confidence(image), again.decode_with_confidence(image)
        np.testing.assert_array_equal(a.value, b.value)
        np.testing.assert_array_equal(a.confidence, b.confidence)


def json_round_trip(config):
    import json

    return json.loads(json.dumps(config))


# ---------------------------------------------------------------- integer depth (issue 16)
_SCALE_HINT = r"value / scale = metres, e.g. 1000 for millimetres, 256 for KITTI"


@pytest.mark.parametrize("dtype", [np.uint16, np.uint8, np.int32, np.int64])
def test_integer_depth_is_refused_by_encode_with_the_png_paths_hint(dtype):
    """Issue 16: encode(uint16 millimetres) gave a two-colour image decoding to inf, silently."""
    codec = rgbtask.get_codec("depth/cubewalk")
    depth_mm = (np.arange(12, dtype=dtype).reshape(3, 4) + 1) * 100
    with pytest.raises(InputError, match=_SCALE_HINT) as info:
        codec.encode(depth_mm)
    assert "depth / 1000.0" in str(info.value)
    with pytest.raises(InputError, match=_SCALE_HINT):
        codec.encode(depth_mm[None])  # batches too
    with pytest.raises(InputError, match=_SCALE_HINT):
        codec.encode(depth_mm.tolist())  # nested lists of ints are integers too
    # converted to metres it encodes (0 stays invalid)
    assert codec.encode(depth_mm / 1000.0).shape == (3, 4, 3)


def test_integer_depth_npy_needs_depth_scale(tmp_path):
    """Issue 16: the .npy reader (CLI encode, convert) read millimetres as metres."""
    from rgbtask.cli import main

    depth_mm = (np.arange(12, dtype=np.uint16).reshape(3, 4) + 1) * 100
    np.save(tmp_path / "d.npy", depth_mm)
    with pytest.raises(InputError, match=_SCALE_HINT):
        rio.read_depth(tmp_path / "d.npy")
    np.testing.assert_allclose(rio.read_depth(tmp_path / "d.npy", 1000), depth_mm / 1000)
    argv = ["encode", str(tmp_path / "d.npy"), str(tmp_path / "d.png"), "--codec", "depth/cubewalk"]
    assert main(argv) == 2
    assert not (tmp_path / "d.png").exists()
    assert main([*argv, "--depth-scale", "1000"]) == 0
    # a float .npy is metres already
    np.save(tmp_path / "f.npy", depth_mm / 1000.0)
    np.testing.assert_allclose(rio.read_depth(tmp_path / "f.npy"), depth_mm / 1000)


def test_fidelity_evaluate_refuses_integer_depth():
    """Issue 16: evaluate returned abs_rel nan without a word."""
    from rgbtask.fidelity import evaluate

    depth_mm = (np.arange(12, dtype=np.uint16).reshape(3, 4) + 1) * 100
    with pytest.raises(InputError, match=_SCALE_HINT):
        evaluate("depth/cubewalk", [depth_mm], ["none"])
    records = evaluate("depth/cubewalk", [depth_mm / 1000.0], ["none"])
    assert records[0]["abs_rel"] < 0.01


# ---------------------------------------------------------------- relative depth (Marigold-style)
QUANTILE_NAMES = ["depth/gray", "depth/cubewalk", "depth/hue"]


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(QUANTILE_NAMES),
    st.lists(st.integers(1, 3), max_size=2),
    st.integers(1, 7),
    st.integers(1, 7),
    st.sampled_from([(0.02, 0.98), (0.0, 1.0), (0.1, 0.6)]),
    st.integers(0, 2**32 - 1),
)
def test_quantile_roundtrip_within_bound_and_batch_is_a_loop(name, batch, h, w, q, seed):
    """The derived bound: half a quantisation step of the curve parameter times the image's
    ``d_hi - d_lo``, plus the distance clipped off outside ``[d_lo, d_hi]``, plus float32
    rounding; and the metric reconstruction ``d_lo + decoded (d_hi - d_lo)``."""
    codec = rgbtask.get_codec(name, transform="quantile", low=q[0], high=q[1])
    d = depth_sample(seed, (*batch, h, w))
    rgb = codec.encode(d)
    assert rgb.shape == (*batch, h, w, 3) and rgb.dtype == np.uint8
    err = check_roundtrip(codec, d, rgb)
    dec = codec.decode(rgb)
    assert dec.dtype == np.float32 and dec.shape == d.shape
    d_lo, d_hi = codec.quantile_params(d)
    d_lo, d_hi = np.asarray(d_lo)[..., None, None], np.asarray(d_hi)[..., None, None]
    metric = d_lo + dec * (d_hi - d_lo)
    ok = np.isfinite(d) & (d > 0)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(np.abs(metric - d)[ok], err[ok], rtol=1e-9, atol=1e-9)
        # the bound, derived: levels - 1 steps over [d_lo, d_hi]
        half = 0.5 / (codec.levels - 1) * (d_hi - d_lo) * np.ones_like(d)
        clipped = np.maximum(d_lo - d, 0.0) + np.maximum(d - d_hi, 0.0)
        assert np.all(err[ok] <= (half + clipped + np.abs(d) * 2.0**-23 + 1e-12)[ok])
    flat_d, flat_rgb = d.reshape(-1, h, w), rgb.reshape(-1, h, w, 3)
    for i in range(flat_d.shape[0]):
        assert np.array_equal(codec.encode(flat_d[i]), flat_rgb[i])
        np.testing.assert_array_equal(codec.decode(flat_rgb[i]), dec.reshape(-1, h, w)[i])


def test_quantile_clips_outside_the_quantiles_and_the_bound_is_tight():
    codec = rgbtask.get_codec("depth/gray", transform="quantile")
    d = np.linspace(1.0, 51.0, 5001).reshape(1, -1)  # quantiles 2 m and 50 m
    d_lo, d_hi = codec.quantile_params(d)
    assert (d_lo, d_hi) == pytest.approx((2.0, 50.0))
    assert type(d_lo) is float and type(d_hi) is float
    rgb = codec.encode(d)
    assert np.all(rgb[d < d_lo] == 0) and np.all(rgb[d > d_hi] == 255)
    rel = codec.decode(rgb)
    assert np.all(rel[d < d_lo] == 0.0) and np.all(rel[d > d_hi] == 1.0)
    err = codec.roundtrip_error(d, rel)
    bound = codec.roundtrip_bound(d)
    inside = (d >= d_lo) & (d <= d_hi)
    assert np.max(err[inside] / bound[inside]) > 0.99  # half a step of 48 m / 255: reached
    clipped = np.where(d < d_lo, d_lo - d, d - d_hi)[~inside]
    np.testing.assert_allclose(err[~inside], clipped, rtol=1e-6)  # the end levels are exact
    assert np.all(err <= bound)
    scales = codec.quantile_params(np.stack([d, 2 * d]))
    np.testing.assert_allclose(np.stack(scales), [[2.0, 4.0], [50.0, 100.0]])
    # the metric depth of a round trip: AbsRel of a half step at most (inside the quantiles)
    m = codec.metrics(d[inside][None], rel[inside][None])
    assert m["abs_rel"] < 0.5 * 48.0 / 255 / 2.0


def test_quantile_config():
    codec = rgbtask.get_codec("depth/gray", transform="quantile", low=0.05, high=0.95)
    assert codec.get_config()["low"] == 0.05 and codec.get_config()["high"] == 0.95
    assert rgbtask.get_codec(codec.get_config()) == codec
    assert codec != rgbtask.get_codec("depth/gray", transform="quantile")
    assert pickle.loads(pickle.dumps(codec)) == codec
    with pytest.raises(ConfigError, match="low/high only with transform='quantile'"):
        rgbtask.get_codec("depth/gray", transform="affine", high=0.9)
    with pytest.raises(ConfigError, match="low < high"):
        rgbtask.get_codec("depth/gray", transform="quantile", low=0.9, high=0.1)
    with pytest.raises(ConfigError, match="expected low"):
        rgbtask.get_codec("depth/gray", transform="quantile", low=-0.1)
    with pytest.raises(ConfigError, match="no near/far"):
        rgbtask.get_codec("depth/gray", transform="quantile", near=1.0, far=2.0)
    # quantile_params works for any depth codec (its low/high): the depths Marigold would use
    lin = rgbtask.get_codec("depth/gray", near=0.5, far=10.0)
    assert lin.quantile_params(np.linspace(1.0, 51.0, 5001)[None]) == pytest.approx((2.0, 50.0))


def test_quantile_golden():
    """depth/gray quantile (Marigold's ground-truth encoding) on the shared golden input."""
    codec = rgbtask.get_codec("depth/gray", transform="quantile")
    d = np.load(GOLDEN / "depth_input.npy")
    path = GOLDEN / "depth_gray_quantile.png"
    if REGEN and not path.exists():
        rio.write_png(path, codec.encode(d))
    golden = rio.read_image(path)
    assert np.array_equal(codec.encode(d), golden), "the encoding changed: a format break"
    check_roundtrip(codec, d, golden)
    assert not codec.decode_with_confidence(golden).valid[0, :4].any()


def gray_mean_reference(rgb: np.ndarray):
    """The specification of depth/gray's decode, in NumPy: the channel mean, and confidence
    ``1 - distance from the gray diagonal / threshold`` (threshold 1/sqrt(6), invalid beyond)."""
    c = rgb.astype(np.float64) / 255.0
    mean = c.mean(axis=-1)
    dist = np.linalg.norm(c - mean[..., None], axis=-1)
    threshold = 1.0 / np.sqrt(6.0)
    return mean, 1.0 - dist / threshold, dist <= threshold


def test_gray_decodes_disagreeing_channels_by_their_mean():
    codec = rgbtask.get_codec("depth/gray", transform="normalized")
    rng = np.random.default_rng(8)
    base = rng.integers(0, 256, (256, 256, 1))
    rgb = np.clip(base + rng.integers(-70, 71, (256, 256, 3)), 0, 255).astype(np.uint8)
    mean, conf, valid = gray_mean_reference(rgb)
    for value in (rgb, rgb / 255.0):  # the 8-bit table and the float projection
        dec = codec.decode_with_confidence(value)
        sure = np.abs(conf) > 2e-3  # away from the threshold (table resolution)
        np.testing.assert_array_equal(dec.valid[sure], valid[sure])
        v = dec.valid & valid
        assert 0.5 < v.mean() < 1.0  # both kinds of pixel were met
        np.testing.assert_allclose(dec.value[v], mean[v], rtol=0, atol=2e-7)  # float32 of it
        np.testing.assert_allclose(dec.confidence[v], conf[v], atol=3e-3)
        assert np.all(np.isnan(dec.value[~dec.valid]))
    # rms deviation of the channels in code units: confidence = 1 - 3 sqrt(2) rms / 255
    rms = rgb.astype(np.float64).std(axis=-1)
    dec = codec.decode_with_confidence(rgb)
    v = dec.valid
    np.testing.assert_allclose(dec.confidence[v], 1 - 3 * np.sqrt(2) * rms[v] / 255, atol=3e-3)
    # with a metric transform the mean goes through the inverse transform
    lin = rgbtask.get_codec("depth/gray", near=1.0, far=11.0)
    d = lin.decode(np.array([[[100, 110, 120]]], np.uint8))
    assert d[0, 0] == pytest.approx(1.0 + 10.0 * 110 / 255, rel=1e-6)


def test_gray_exact_codes_decode_as_before():
    codec = rgbtask.get_codec("depth/gray", transform="normalized")
    codes = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)[None]
    dec = codec.decode_with_confidence(codes)
    np.testing.assert_array_equal(dec.value[0], (np.arange(256) / 255).astype(np.float32))
    assert np.all(dec.confidence == 1.0) and dec.valid.all()
    assert not codec.decode_with_confidence(np.array([[[255, 0, 0]]], np.uint8)).valid.any()


def test_marigold_style_prediction_to_metric_depth():
    """Ground truth encoded as Marigold does (quantile -> 3-channel gray), a 'prediction' that is
    an affine map of it with per-channel noise: decoded by the channel mean and aligned by least
    squares, it is metric depth again."""
    from rgbtask.metrics import depth_metrics

    rng = np.random.default_rng(4)
    d = np.exp(rng.uniform(np.log(1.0), np.log(10.0), (48, 64)))
    codec = rgbtask.get_codec("depth/gray", transform="quantile")
    gt_rgb = codec.encode(d).astype(np.float64)
    pred_rgb = np.clip(0.8 * gt_rgb + 20.0 + rng.normal(0.0, 3.0, gt_rgb.shape), 0, 255)
    rel = codec.decode(pred_rgb.round().astype(np.uint8))
    assert np.all(np.isfinite(rel))
    plain = depth_metrics(rel, d)
    aligned = depth_metrics(rel, d, align="scale_shift")
    assert plain["abs_rel"] > 0.5 and aligned["abs_rel"] < 0.05
    assert aligned["delta1"] > 95.0


def test_quantile_through_torch_equals_numpy():
    """torch's encode takes the host path for ``quantile`` (NumPy's quantiles): the same codes."""
    torch = pytest.importorskip("torch")
    from rgbtask.torch import TensorCodec

    codec = rgbtask.get_codec("depth/cubewalk", transform="quantile")
    d = depth_sample(2, (2, 9, 11))
    tc = TensorCodec(codec, layout="NHWC")
    got = tc.encode(torch.from_numpy(d), as_uint8=True)
    np.testing.assert_array_equal(np.asarray(got), codec.encode(d))


def test_readme_marigold_example_runs(capsys):
    """README's relative-depth block runs as written and gives metric depth after alignment."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    (block,) = [b for b in blocks if "align_scale_shift" in b]
    scope: dict = {}
    exec(compile(block, "README.md", "exec", dont_inherit=True), scope)
    out = capsys.readouterr().out
    assert "abs_rel" in out
    depth, metric = scope["depth"], scope["metric"]
    ok = np.isfinite(depth) & np.isfinite(metric)
    assert ok.mean() > 0.5
    assert np.mean(np.abs(metric[ok] - depth[ok]) / depth[ok]) < 0.05
    assert scope["d_lo"] < scope["d_hi"]


@pytest.mark.parametrize("dataset", sorted(REAL))
def test_real_frames_quantile_within_bound_and_alignable(data_dir, dataset):
    """Marigold's encoding of real NYU / KITTI ground truth: within the derived bound (clipping
    included), the quantiles those of np.quantile over the valid pixels, and the relative depth
    aligned by least squares close to the metric truth (clipping is all it loses)."""
    from rgbtask.metrics import depth_metrics

    codec = rgbtask.get_codec("depth/gray", transform="quantile")
    frames = sorted((data_dir / "depth" / dataset / "depth").glob("*.png"))
    assert frames
    for frame in frames:
        d = rio.read_depth(frame, depth_scale=REAL[dataset])
        rgb = codec.encode(d)
        check_roundtrip(codec, d, rgb)
        ok = np.isfinite(d)
        d_lo, d_hi = codec.quantile_params(d)
        assert (d_lo, d_hi) == pytest.approx(tuple(np.quantile(d[ok], [0.02, 0.98])), rel=1e-12)
        dec = codec.decode_with_confidence(rgb)
        assert np.array_equal(dec.valid, ok)
        inside = ok & (d >= d_lo) & (d <= d_hi)
        m = depth_metrics(dec.value, d, align="scale_shift", valid=inside)
        assert m["abs_rel"] < 0.5 * (d_hi - d_lo) / 255 / d_lo + 1e-6
