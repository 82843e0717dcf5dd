"""rgbtask.torch: TensorCodec against the NumPy codecs (exactness), inputs, configs, device tables,
soft_decode gradients, and the docs' training examples.

Runs on every device torch reports (CPU always, CUDA where present); never needs a GPU. Skipped
when torch is missing, except under CI (env ``CI`` set), where a missing torch is a failure.
"""

from __future__ import annotations

import contextlib
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

if os.environ.get("CI"):
    import torch
else:
    torch = pytest.importorskip("torch")

import rgbtask
from rgbtask import torch as rt
from rgbtask.errors import ConfigError, InputError
from rgbtask.registry import get_codec_class, list_codecs
from rgbtask.samples import make_scene
from rgbtask.torch import TensorCodec, _base, _tables, available_devices

ROOT = Path(__file__).resolve().parents[1]
DEVICES = available_devices()
#: (device, CPU backend): on CPU both the NumPy kernels (the default) and the torch
#: implementations (what runs on a GPU) are checked.
TARGETS = [("cpu", "numpy"), ("cpu", "torch")] + [(str(d), "torch") for d in DEVICES[1:]]
FLOATS = [torch.bfloat16, torch.float16, torch.float32, torch.float64]
RANGES = [(0.0, 1.0), (-1.0, 1.0)]


def _examples():
    scene = make_scene(height=12, width=16, seed=5)
    out = []
    for name in list_codecs():
        for codec, values in get_codec_class(name).examples(scene):
            for value in values:
                out.append((codec, np.ascontiguousarray(value)))
    return out


EXAMPLES = _examples()


@contextlib.contextmanager
def _target(target):
    """Run on ``target = (device, CPU backend)``; yields the device."""
    device, backend = target
    saved = rt.CPU_BACKEND
    rt.CPU_BACKEND = backend
    try:
        yield torch.device(device)
    finally:
        rt.CPU_BACKEND = saved


def _hwc(image: torch.Tensor, layout: str) -> torch.Tensor:
    return image.movedim(-3, -1) if layout == "NCHW" else image


def _layout(rgb: torch.Tensor, layout: str) -> torch.Tensor:
    return rgb.movedim(-1, -3) if layout == "NCHW" else rgb


def _unit(image: torch.Tensor, layout: str, value_range) -> np.ndarray:
    """What NumPy's decoder gets for a float image: (x - lo) / (hi - lo) in float64."""
    lo, hi = value_range
    x = _hwc(image, layout).detach().cpu().to(torch.float64)
    return ((x - lo) / (hi - lo)).numpy() if (lo, hi) != (0.0, 1.0) else x.numpy()


def _same(tensor: torch.Tensor, array: np.ndarray, what: str, rtol=0.0, atol=0.0) -> None:
    got = tensor.cpu().numpy()
    assert got.dtype == array.dtype, f"{what}: dtype {got.dtype} != NumPy's {array.dtype}"
    assert got.shape == array.shape, f"{what}: shape {got.shape} != NumPy's {array.shape}"
    if (rtol == 0.0 and atol == 0.0) or got.dtype.kind != "f":
        np.testing.assert_array_equal(got, array, err_msg=what)
    else:
        np.testing.assert_allclose(got, array, rtol=rtol, atol=atol, err_msg=what)


def _check_decoded(tc, dec, ref, exact: bool) -> None:
    name = tc.codec.name
    on_device = tc.native and _base._on_device(dec.value.device)
    formula = tc.codec.name in ("normals/xyz", "mask/binary", "mask/panoptic")
    logs = tc.codec.task == "keypoints"  # refinement: torch's log, not libm's (any device)
    if exact and on_device and (logs or (formula and dec.value.device.type != "cpu")):
        # formulas on a GPU (fused multiply-adds, its own log): within one float32 ulp
        _same(dec.valid, ref.valid, f"{name} valid")
        _same(dec.value, ref.value, f"{name} value", atol=2.0**-23)
        _same(dec.confidence, ref.confidence, f"{name} confidence", atol=2.0**-23)
        return
    if exact or not on_device:
        for field, a, b in zip(("value", "confidence", "valid"), dec, ref):
            _same(a, np.asarray(b), f"{name} {field}")
        return
    # float input through a native path: depth within 2e-6 relative, normals 1e-6 absolute,
    # labels and validity identical
    rtol, atol = (2e-6, 0.0) if tc.codec.task == "depth" else (0.0, 1e-6)
    _same(dec.valid, ref.valid, f"{name} valid")
    _same(dec.value, ref.value, f"{name} value", rtol=rtol, atol=atol)
    _same(dec.confidence, ref.confidence, f"{name} confidence", atol=2e-6)


# ---------------------------------------------------------------- conformance


@settings(max_examples=40)
@given(
    index=st.integers(0, len(EXAMPLES) - 1),
    layout=st.sampled_from(["NCHW", "NHWC"]),
    value_range=st.sampled_from(RANGES),
    dtype=st.sampled_from(FLOATS),
    batch=st.sampled_from([(), (2,), (1, 2)]),
    target=st.sampled_from(TARGETS),
)
def test_codes_and_decode_equal_numpy(index, layout, value_range, dtype, batch, target):
    with _target(target) as device:
        _codes_and_decode_equal_numpy(index, layout, value_range, dtype, batch, device)


def _codes_and_decode_equal_numpy(index, layout, value_range, dtype, batch, device):
    codec, value = EXAMPLES[index]
    tc = TensorCodec(codec, layout=layout, value_range=value_range)
    value = np.broadcast_to(value, batch + value.shape).copy()
    tvalue = torch.from_numpy(value).to(device)
    codes = codec.encode(value)
    scale = float(np.iinfo(codes.dtype).max)
    lo, hi = value_range

    image = tc.encode(tvalue, dtype=dtype)
    assert image.device == tvalue.device and image.dtype == dtype
    expected = codes.astype(np.float64) / scale * (hi - lo) + lo
    assert torch.equal(_hwc(image, layout).cpu(), torch.from_numpy(expected).to(dtype))
    if codes.dtype == np.uint8:
        as_u8 = tc.encode(tvalue, as_uint8=True)
        _same(_hwc(as_u8, layout), codes, f"{codec.name} codes")
        dec = tc.decode_with_confidence(as_u8)
        assert all(t.device == as_u8.device for t in dec)
        _check_decoded(tc, dec, codec.decode_with_confidence(codes), exact=True)

    dec = tc.decode_with_confidence(image)
    assert all(t.device == image.device for t in dec)
    _check_decoded(tc, dec, codec.decode_with_confidence(_unit(image, layout, value_range)), False)


@pytest.mark.parametrize("backend", ["numpy", "torch"])
@pytest.mark.parametrize("index", range(len(EXAMPLES)))
def test_every_conformance_example_on_cpu(index, backend):
    """Every codec example of the conformance suite, both CPU implementations: NumPy's codes,
    NumPy's 8-bit decode, NumPy's float decode (bfloat16 image in [-1, 1], NCHW)."""
    with _target(("cpu", backend)):
        _codes_and_decode_equal_numpy(index, "NCHW", (-1.0, 1.0), torch.bfloat16, (), "cpu")


@settings(max_examples=40)
@given(
    index=st.integers(0, len(EXAMPLES) - 1),
    value_range=st.sampled_from(RANGES),
    dtype=st.sampled_from([torch.uint8, *FLOATS]),
    seed=st.integers(0, 2**16),
    target=st.sampled_from(TARGETS),
)
def test_arbitrary_images_decode_as_numpy(index, value_range, dtype, seed, target):
    """Noise (colours off every code) decodes as NumPy decodes it: tables fill with exactly
    NumPy's answer for unseen colours, float projections agree within the stated tolerance."""
    with _target(target) as device:
        _arbitrary_images_decode_as_numpy(index, value_range, dtype, seed, device)


def _arbitrary_images_decode_as_numpy(index, value_range, dtype, seed, device):
    codec, value = EXAMPLES[index]
    tc = TensorCodec(codec, layout="NHWC", value_range=value_range)
    shape = codec.encode(value).shape
    gen = torch.Generator().manual_seed(seed)
    if dtype == torch.uint8:
        image = torch.randint(0, 256, shape, generator=gen, dtype=torch.uint8)
        ref = codec.decode_with_confidence(image.numpy())
    else:
        lo, hi = value_range
        image = (torch.rand(shape, generator=gen, dtype=torch.float64) * (hi - lo) + lo).to(dtype)
        ref = codec.decode_with_confidence(_unit(image, "NHWC", value_range))
    dec = tc.decode_with_confidence(image.to(device))
    _check_decoded(tc, dec, ref, exact=dtype == torch.uint8)


@pytest.mark.parametrize(
    "config",
    [
        {"name": "depth/cubewalk"},
        {"name": "depth/hue", "near": 0.5, "far": 20.0, "transform": "log"},
        {"name": "depth/gray", "near": 0.5, "far": 20.0, "transform": "inverse"},
        {"name": "depth/colormap", "near": 0.5, "far": 20.0},
        {"name": "depth/curve", "curve": [[0, 0, 0], [1, 0, 0], [1, 1, 0]], "near": 1, "far": 9},
    ],
)
@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_depth_codes_at_level_boundaries_equal_numpy(config, target):
    """Depths exactly on the boundaries between levels (where an ulp of pow/log decides) and
    invalid depths encode to NumPy's codes."""
    codec = rgbtask.get_codec(config)
    n = codec.levels
    t = (np.arange(n - 1) + 0.5) / (n - 1)
    boundaries = codec.transform_obj.inverse(t)
    rng = np.random.default_rng(0)
    depth = np.concatenate(
        [
            boundaries,
            np.nextafter(boundaries, 0),
            np.exp(rng.uniform(-3, 4, 500)),
            [0.0, -1.0, np.nan, np.inf, 1e-300, 1e300],
        ]
    ).reshape(1, -1)
    with _target(target) as device:
        tc = TensorCodec(codec, layout="NHWC")
        for dtype in (np.float64, np.float32):
            with np.errstate(over="ignore"):  # 1e300 -> inf in float32
                value = depth.astype(dtype)
            got = tc.encode(torch.from_numpy(value).to(device), as_uint8=True)
            _same(got, codec.encode(value), f"{config['name']} {dtype.__name__}")


@pytest.mark.parametrize("name", list_codecs())
def test_every_registered_codec_has_examples_here(name):
    assert any(codec.name == name for codec, _ in EXAMPLES)


# ---------------------------------------------------------------- inputs


@pytest.fixture(scope="module")
def depth_case():
    scene = make_scene(height=10, width=12, seed=1)
    codec = rgbtask.get_codec("depth/cubewalk")
    return codec, np.stack([scene.depth, scene.depth[::-1]])


@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_non_contiguous_channels_last_and_grad_inputs(depth_case, target):
    with _target(target) as device:
        _non_contiguous_channels_last_and_grad_inputs(depth_case, device)


def _non_contiguous_channels_last_and_grad_inputs(depth_case, device):
    codec, depth = depth_case
    tc = TensorCodec(codec, layout="NCHW", value_range=(-1.0, 1.0))
    image = tc.encode(torch.from_numpy(depth).to(device))
    ref = tc.decode_with_confidence(image)
    wide = torch.zeros(*image.shape[:-1], image.shape[-1] * 2, device=device)
    wide[..., ::2] = image
    variants = {
        "channels_last": image.contiguous(memory_format=torch.channels_last),
        "requires_grad": image.clone().requires_grad_(True),
        "non_contiguous": wide[..., ::2],
        "bfloat16 grad": image.to(torch.bfloat16).requires_grad_(True),
    }
    assert not variants["non_contiguous"].is_contiguous()
    for what, img in variants.items():
        dec = tc.decode_with_confidence(img)
        assert not dec.value.requires_grad, what
        if what != "bfloat16 grad":
            for a, b in zip(dec, ref):
                assert torch.equal(a.nan_to_num(-7.0), b.nan_to_num(-7.0)), what
    nhwc = TensorCodec(codec, layout="NHWC", value_range=(-1.0, 1.0))
    dec = nhwc.decode(image.movedim(1, -1))
    assert torch.equal(dec.nan_to_num(-7.0), ref.value.nan_to_num(-7.0))
    # an encode of a value that requires grad needs no detach either
    grad_depth = torch.from_numpy(depth).to(device).requires_grad_(True)
    assert torch.equal(tc.encode(grad_depth), image)


@pytest.mark.parametrize("value_range", RANGES)
def test_out_of_range_and_bad_images_are_input_errors(depth_case, value_range):
    codec, depth = depth_case
    tc = TensorCodec(codec, value_range=value_range)
    image = tc.encode(torch.from_numpy(depth))
    lo, hi = value_range
    over = image.clone()
    over[0, 0, 0, 0] = hi + 0.02  # out of range in bfloat16 too
    under = image.clone()
    under[0, 1, 2, 3] = lo - 1e-3
    nan = image.clone()
    nan[0, 2, 1, 1] = float("nan")
    for bad in (over, under, nan, over.to(torch.bfloat16)):
        with pytest.raises(InputError):
            tc.decode(bad)
    with pytest.raises(InputError, match="never clips"):
        tc.decode(over)
    for bad in (image.to(torch.int32), image.movedim(1, -1), image[:, :2], image.numpy()):
        with pytest.raises(InputError):
            tc.decode(bad)
    with pytest.raises(InputError):
        tc.decode(image[:, :, :0])
    assert issubclass(InputError, ValueError)


def test_encode_errors_follow_numpy():
    with pytest.raises(InputError):
        TensorCodec("mask/palette").encode(torch.full((4, 4), 999, dtype=torch.int64))
    with pytest.raises(InputError):
        TensorCodec("mask/palette").encode(torch.zeros(4, 4))  # float labels
    with pytest.raises(InputError):
        TensorCodec("normals/xyz").encode(torch.zeros(4, 4, 2))
    with pytest.raises(ConfigError):
        TensorCodec("normals/xyz", value_range=(0, 1)).encode(
            torch.zeros(4, 4, 3), dtype=torch.int32
        )
    with pytest.raises(ConfigError):
        TensorCodec({"name": "normals/xyz", "bits": 16}).encode(torch.zeros(4, 4, 3), as_uint8=True)


def test_keypoints_take_visible_and_decode_on_the_host_path():
    scene = make_scene(height=24, width=20, seed=2)
    k = scene.keypoints.shape[1]
    codec = rgbtask.get_codec("keypoints/heatmap", size=scene.shape, num_keypoints=k)
    tc = TensorCodec(codec)
    kp = torch.from_numpy(scene.keypoints.astype(np.float64))
    vis = torch.from_numpy(scene.visible)
    image = tc.encode(kp, visible=vis, as_uint8=True)
    expected = codec.encode(scene.keypoints, visible=scene.visible)
    _same(image.movedim(-3, -1), expected, "keypoint codes")
    for a, b in zip(tc.decode_with_confidence(image), codec.decode_with_confidence(expected)):
        _same(a, np.asarray(b), "keypoints decode")


@pytest.mark.parametrize("name", ["depth/cubewalk", "depth/gray", "depth/hue"])
@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_affine_depth_encode_equals_numpy(name, target, monkeypatch):
    """``affine`` (per-image normalisation) encodes on the device: NumPy's codes for images with
    invalid pixels (NaN, inf, 0, negative), a constant image, an image with no valid pixel, one
    valid pixel, batch dimensions and float32 depth; the host codec is never called."""
    codec = rgbtask.get_codec(name, transform="affine")
    original = type(codec).encode
    rng = np.random.default_rng(3)
    depth = rng.uniform(0.3, 40.0, (2, 3, 9, 11))
    depth[0, 0, 1, :4] = [np.nan, np.inf, 0.0, -1.0]
    depth[0, 1] = 2.5
    depth[1, 0] = np.nan
    depth[1, 1] = -np.inf
    depth[1, 1, 4, 4] = 7.0
    depth[1, 2] = np.round(depth[1, 2])  # ties at the extremes
    with _target(target) as device:
        tc = TensorCodec(codec, layout="NHWC")
        for value in (depth, depth.astype(np.float32), depth[0, 0]):
            expected = codec.encode(value)
            if _base._on_device(device):
                monkeypatch.setattr(type(codec), "encode", lambda *a, **k: pytest.fail("host"))
            got = tc.encode(torch.from_numpy(value).to(device), as_uint8=True)
            monkeypatch.setattr(type(codec), "encode", original)
            _same(got, expected, f"{name} affine {value.dtype} {value.shape}")


@pytest.mark.parametrize("layout", ["painter", "grid", "palette", "stacked"])
@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_keypoint_render_equals_numpy(layout, target, monkeypatch):
    """Random, integer (ties between blobs) and coincident keypoints, with visibility and
    off-canvas ones: NumPy's codes; the host re-renders only images with a near-tie."""
    codec = rgbtask.get_codec(
        "keypoints/heatmap", size=(30, 36), num_keypoints=5, layout=layout, max_instances=6
    )
    calls = []
    original = type(codec).encode
    monkeypatch.setattr(
        type(codec), "encode", lambda self, *a, **k: calls.append(1) or original(self, *a, **k)
    )
    rng = np.random.default_rng(1)
    with _target(target) as device:
        tc = TensorCodec(codec, layout="NCHW")
        for trial in range(3):
            kp = rng.uniform(-3.0, 38.0, (2, 6, 5, 2))
            if trial == 1:
                kp = np.round(kp)
            if trial == 2:
                kp[:, 1] = kp[:, 0]
            kp[0, 0, 0] = np.nan
            vis = rng.random((2, 6, 5)) > 0.2
            got = tc.encode(
                torch.from_numpy(kp).to(device), visible=torch.from_numpy(vis), as_uint8=True
            )
            calls.clear()
            _same(got.movedim(1, -1), original(codec, kp, visible=vis), f"{layout} {trial}")
        if _base._on_device(device) and layout not in ("stacked", "painter"):
            # random positions: rendered on the device (no host call; Painter's own images are
            # rendered by the NumPy codec)
            calls.clear()
            tc.encode(torch.from_numpy(rng.uniform(0.0, 30.0, (1, 6, 5, 2))).to(device))
            assert not calls


@pytest.mark.parametrize("refine", ["gaussian_fit", "dark", "newton1d", "quarter", "none"])
@pytest.mark.parametrize("layout", ["painter", "grid", "palette", "stacked"])
@pytest.mark.parametrize("target", TARGETS, ids=str)
def test_keypoint_decode_equals_numpy(layout, refine, target, monkeypatch):
    """Peaks, refinement and grouping: NumPy's keypoints, scores and found flags (within one
    float32 ulp on the device path, whose log is torch's, not libm's), for clean 8-bit codes,
    noisy codes and float images. On the device path the peaks and their refinement never run the
    NumPy kernel."""
    from rgbtask.core import keypoints as kernels

    find_peaks = kernels.find_peaks

    def decode(tc, image):
        if _base._on_device(image.device):
            monkeypatch.setattr(kernels, "find_peaks", lambda *a, **k: pytest.fail("host"))
        try:
            return tc.decode_with_confidence(image)
        finally:
            monkeypatch.setattr(kernels, "find_peaks", find_peaks)

    rng = np.random.default_rng(2)
    for m in (1, 3):
        codec = rgbtask.get_codec(
            "keypoints/heatmap", size=(30, 36), num_keypoints=5, layout=layout, refine=refine,
            max_instances=m,
        )  # fmt: skip
        kp = rng.uniform(2.0, 28.0, (2, m, 5, 2))
        codes = codec.encode(kp)
        noisy = np.clip(codes + rng.normal(0, 4, codes.shape), 0, 255).astype(np.uint8)
        with _target(target) as device:
            tc = TensorCodec(codec, layout="NHWC", value_range=(-1.0, 1.0))
            for image in (codes, noisy):
                dec = decode(tc, torch.from_numpy(image).to(device))
                _check_decoded(tc, dec, codec.decode_with_confidence(image), exact=True)
                floats = torch.from_numpy(image / 127.5 - 1.0).to(device)
                dec = decode(tc, floats)
                ref = codec.decode_with_confidence(_unit(floats, "NHWC", (-1.0, 1.0)))
                _check_decoded(tc, dec, ref, exact=False)


def test_chunked_searches_agree_with_one_chunk(monkeypatch):
    """Palette and curve searches, the soft projection and keypoint rendering split into many
    chunks give what NumPy gives."""
    monkeypatch.setattr(rt, "CPU_BACKEND", "torch")
    monkeypatch.setattr(_base, "_CHUNK_VALUES", {"cpu": 4096})
    rng = np.random.default_rng(3)
    image = torch.from_numpy(rng.random((2, 30, 40, 3)))
    for config in (
        {"name": "mask/palette", "space": "lab", "reject_distance": 20.0},
        {"name": "depth/colormap", "near": 1.0, "far": 9.0},
        {"name": "depth/cubewalk"},
    ):
        tc = TensorCodec(config, layout="NHWC")
        ref = tc.codec.decode_with_confidence(image.numpy())
        _check_decoded(tc, tc.decode_with_confidence(image), ref, exact=False)
    tc = TensorCodec("depth/cubewalk", layout="NHWC")
    soft = tc.soft_decode(tc.encode(torch.full((2, 30, 40), 4.0), dtype=torch.float64))
    torch.testing.assert_close(
        soft, torch.full((2, 30, 40), 4.0, dtype=torch.float64), rtol=0.02, atol=0
    )
    codec = rgbtask.get_codec("keypoints/heatmap", size=(30, 40), num_keypoints=4, max_instances=5)
    kp = rng.uniform(0.0, 29.0, (2, 5, 4, 2))
    got = TensorCodec(codec, layout="NHWC").encode(torch.from_numpy(kp), as_uint8=True)
    _same(got, codec.encode(kp), "chunked render")


# ---------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "spec",
    [
        ("depth/cubewalk", "NCHW", (-1.0, 1.0)),
        ({"name": "depth/hue", "near": 0.5, "far": 10.0}, "NHWC", (0.0, 1.0)),
        ("mask/palette", "NCHW", (0, 255)),
        ("normals/xyz", "NHWC", (-2.5, 3.0)),
    ],
)
def test_config_round_trip_and_equality(spec):
    codec, layout, value_range = spec
    tc = TensorCodec(codec, layout=layout, value_range=value_range)
    config = tc.get_config()
    import json

    assert json.loads(json.dumps(config)) == config
    back = TensorCodec.from_config(config)
    assert back == tc and hash(back) == hash(tc)
    assert pickle.loads(pickle.dumps(tc)) == tc
    assert TensorCodec(tc.codec, layout=layout, value_range=value_range) == tc
    other = "NHWC" if layout == "NCHW" else "NCHW"
    assert TensorCodec(codec, layout=other, value_range=value_range) != tc
    assert TensorCodec(codec, layout=layout, value_range=(-9.0, 9.0)) != tc
    assert "TensorCodec(" in repr(tc)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"layout": "CHW"},
        {"value_range": (1.0, 0.0)},
        {"value_range": (0.0, float("inf"))},
        {"value_range": (0.0,)},
        {"value_range": "01"},
        {"value_range": (False, True)},
    ],
)
def test_bad_configs_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        TensorCodec("normals/xyz", **kwargs)


def test_bad_codec_and_config_dict():
    with pytest.raises(rgbtask.UnknownCodecError):
        TensorCodec("depth/nope")
    with pytest.raises(ConfigError):
        TensorCodec.from_config({"codec": "normals/xyz", "colour": 3})


# ---------------------------------------------------------------- native vs host path


@pytest.mark.parametrize("name", list_codecs())
def test_every_builtin_codec_has_a_torch_path(name):
    """Every built-in codec class declares its torch implementation (``torch_impl``; else it
    would fall silently to the host path)."""
    from rgbtask.codecs import BUILTIN_MODULES
    from rgbtask.registry import get_codec_class

    if get_codec_class(name).__module__ not in BUILTIN_MODULES.values():
        pytest.skip(f"{name} is a plugin")
    codec = next(c for c, _ in EXAMPLES if c.name == name)
    if name in HOST_PATH_BUILTINS:
        assert not TensorCodec(codec).native, f"{name} has a torch path now: drop it from the list"
        return
    assert TensorCodec(codec).native, name


#: Built-ins that take the host path on purpose: codecs added since the torch port (issue 15),
#: which leave ``torch_impl`` None as docs/codecs.md asks of new codecs.
HOST_PATH_BUILTINS = {"flow/uv", "flow/wheel"}


def test_plugin_codec_takes_the_host_path():
    from dataclasses import dataclass
    from typing import ClassVar

    from rgbtask.codecs.normals import NormalsXYZ

    @dataclass(frozen=True, eq=False, repr=False)
    class Plugin(NormalsXYZ):
        name: ClassVar[str] = "test/plugin-normals"

    codec = Plugin()
    tc = TensorCodec(codec, value_range=(-1.0, 1.0))
    assert not tc.native and TensorCodec("normals/xyz").native
    normals = torch.nn.functional.normalize(torch.randn(2, 5, 6, 3, dtype=torch.float64), dim=-1)
    image = tc.encode(normals, dtype=torch.float16)
    ref = codec.decode_with_confidence(_unit(image, "NCHW", (-1.0, 1.0)))
    for a, b in zip(tc.decode_with_confidence(image), ref):
        _same(a, np.asarray(b), "plugin")
    with pytest.raises(ConfigError, match="soft_decode"):
        tc.soft_decode(image.float())


def test_plugin_codec_declares_its_torch_path():
    """A plugin names its own torch implementation in ``torch_impl`` (a class attribute, read
    from the class itself: a subclass does not inherit its parent's); a bad one is a ConfigError."""
    from dataclasses import dataclass
    from typing import ClassVar

    from rgbtask.codecs.normals import NormalsXYZ
    from rgbtask.torch._native import _native_of
    from rgbtask.torch._normals import _NormalsNative

    @dataclass(frozen=True, eq=False, repr=False)
    class Plugin(NormalsXYZ):
        name: ClassVar[str] = "test/plugin-normals-native"
        torch_impl: ClassVar[str | None] = "rgbtask.torch._normals:_NormalsNative"

    @dataclass(frozen=True, eq=False, repr=False)
    class Broken(NormalsXYZ):
        name: ClassVar[str] = "test/plugin-normals-broken"
        torch_impl: ClassVar[str | None] = "rgbtask.torch._normals:Nope"

    assert rgbtask.Codec.torch_impl is None
    tc = TensorCodec(Plugin(), value_range=(-1.0, 1.0))
    assert tc.native and isinstance(_native_of(Plugin()), _NormalsNative)
    assert _native_of(Plugin()) is _native_of(NormalsXYZ())  # one shared instance
    with pytest.raises(ConfigError, match="torch_impl"):
        TensorCodec(Broken())


def test_device_tables_are_per_config_and_bounded():

    a = rgbtask.get_codec("depth/gray", near=1.0, far=5.0)
    b = rgbtask.get_codec("depth/gray", near=1.0, far=6.0)
    codes = torch.full((1, 1, 3), 100, dtype=torch.uint8)
    da = TensorCodec(a, layout="NHWC").decode(codes)
    db = TensorCodec(b, layout="NHWC").decode(codes)
    assert float(da) != float(db)
    ta = _tables._colour_table(a, torch.device("cpu"))
    assert ta is _tables._colour_table(rgbtask.get_codec("depth/gray", near=1.0, far=5.0), "cpu")
    assert ta is not _tables._colour_table(b, torch.device("cpu"))
    for i in range(6):
        _tables._colour_table(rgbtask.get_codec("depth/gray", near=1.0, far=7.0 + i), "cpu")
    assert len(_tables._DEVICE_TABLES._entries) <= _tables._DEVICE_TABLES.max_entries == 4
    rgbtask.clear_tables()
    assert len(_tables._DEVICE_TABLES._entries) == 0


def test_fill_table_makes_every_colour_known(monkeypatch):
    monkeypatch.setattr(rt, "CPU_BACKEND", "torch")
    codec = rgbtask.get_codec("depth/gray", near=1.0, far=3.0)
    tc = TensorCodec(codec, layout="NHWC")
    assert tc.fill_table("cpu")
    table = _tables._colour_table(codec, torch.device("cpu"))
    assert bool((table.conf >= 0).all())
    monkeypatch.setattr(table, "_fill", lambda keys: pytest.fail("left the device"))
    codes = torch.randint(0, 256, (2, 9, 7, 3), dtype=torch.uint8)
    for a, b in zip(tc.decode_with_confidence(codes), codec.decode_with_confidence(codes.numpy())):
        _same(a, np.asarray(b), "filled table")
    assert not TensorCodec("normals/xyz").fill_table("cpu")


# ---------------------------------------------------------------- import policy


def test_import_rgbtask_never_imports_torch():
    code = (
        "import sys, numpy as np, rgbtask\n"
        "c = rgbtask.get_codec('normals/xyz'); c.decode(c.encode(np.ones((2, 2, 3))))\n"
        "assert 'torch' not in sys.modules, 'rgbtask imported torch'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_rgbtask_torch_without_torch_says_how_to_install():
    code = (
        "import sys\n"
        "sys.modules['torch'] = None\n"
        "try:\n"
        "    import rgbtask.torch\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, capture_output=True, text=True
    ).stdout
    assert "TorchMissingError" in out and 'pip install "rgbtask[torch]"' in out


# ---------------------------------------------------------------- soft_decode


def _gradcheck(fn, x):
    assert torch.autograd.gradcheck(fn, (x,), eps=1e-6, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "config",
    [
        {"name": "depth/cubewalk"},
        {"name": "depth/hue", "near": 0.5, "far": 20.0, "transform": "log"},
        {"name": "depth/gray", "near": 0.5, "far": 20.0, "transform": "inverse"},
        {"name": "depth/colormap", "near": 0.5, "far": 20.0},
    ],
)
def test_soft_decode_depth_gradcheck_and_agrees_with_decode(config):
    torch.manual_seed(0)
    tc = TensorCodec(config, layout="NHWC", value_range=(-1.0, 1.0))
    depth = torch.linspace(0.7, 15.0, 12, dtype=torch.float64).reshape(1, 3, 4)
    image = tc.encode(depth, dtype=torch.float64)
    soft = tc.soft_decode(image)
    hard = tc.decode(image).to(torch.float64)
    if tc.codec.curve_obj().kind == "polyline":  # the same projection
        torch.testing.assert_close(soft, hard, rtol=1e-5, atol=0.0)
    else:  # palette curves: the polyline through the palette vs the nearest palette colour
        torch.testing.assert_close(soft, hard, rtol=0.05, atol=0.0)
    # off the vertices, gradients flow along the curve
    x = (image + 0.01 * torch.randn_like(image)).clamp(-0.99, 0.99).requires_grad_(True)
    _gradcheck(tc.soft_decode, x)


def test_soft_decode_depth_gradient_is_along_the_curve():
    tc = TensorCodec("depth/cubewalk", layout="NHWC")
    # a point near the middle of the red -> yellow edge (r = 1, b = 0, g free)
    x = torch.tensor([[[[0.9, 0.4, 0.1]]]], dtype=torch.float64, requires_grad=True)
    tc.soft_decode(x).sum().backward()
    g = x.grad.reshape(3)
    assert g[1] > 0 and g[0] == 0 and g[2] == 0


def test_soft_decode_depth_vertex_cone_gets_the_adjacent_segments_gradient():
    """Beyond the red vertex (between black -> red and red -> yellow), the projection is flat
    (f stays at the vertex); the gradient is the two segments' sum (straight-through), so an
    optimizer is not stuck there."""
    tc = TensorCodec("depth/cubewalk", layout="NHWC")
    x = torch.tensor([[[[1.0, -0.05, 0.0]]]], dtype=torch.float64, requires_grad=True)
    f = tc.soft_decode(x)
    vertex = tc.soft_decode(torch.tensor([[[[1.0, 0.0, 0.0]]]], dtype=torch.float64))
    torch.testing.assert_close(f.detach(), vertex)
    f.sum().backward()
    g = x.grad.reshape(3)
    assert g[0] > 0 and g[1] > 0 and g[2] == 0


def test_soft_decode_normals():
    torch.manual_seed(0)
    tc = TensorCodec("normals/xyz", layout="NCHW", value_range=(-1.0, 1.0))
    normals = torch.nn.functional.normalize(torch.randn(2, 3, 4, 3, dtype=torch.float64), dim=-1)
    image = tc.encode(normals, dtype=torch.float64)
    soft = tc.soft_decode(image)
    torch.testing.assert_close(soft, tc.decode(image).to(torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(soft.norm(dim=-1), torch.ones(2, 3, 4, dtype=torch.float64))
    x = (image + 0.01 * torch.randn_like(image)).requires_grad_(True)
    _gradcheck(tc.soft_decode, x)
    opencv = TensorCodec({"name": "normals/xyz", "convention": "opencv"}, value_range=(-1, 1))
    flip = torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)
    torch.testing.assert_close(opencv.soft_decode(image), soft * flip)


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_soft_decode_palette(space):
    torch.manual_seed(0)
    # soft_decode relaxes the per-pixel decoder: its argmax is decoder="pixel"'s answer
    config = {
        "name": "mask/palette", "palette": "voc", "num_classes": 21, "space": space,
        "decoder": "pixel",
    }  # fmt: skip
    tc = TensorCodec(config, layout="NCHW")
    labels = torch.arange(12).reshape(1, 3, 4) % 21
    image = tc.encode(labels, dtype=torch.float64)
    probs = tc.soft_decode(image)
    assert probs.shape == (1, 21, 3, 4)
    torch.testing.assert_close(probs.sum(1), torch.ones(1, 3, 4, dtype=torch.float64))
    assert torch.equal(probs.argmax(1), tc.decode(image).to(torch.int64))
    noisy = (image + 0.05 * torch.randn_like(image)).clamp(0.0, 1.0)
    hard = tc.decode(noisy).to(torch.int64)
    assert torch.equal(tc.soft_decode(noisy, tau=1e-3).argmax(1), hard)
    logp = tc.soft_decode(image, log=True)
    torch.testing.assert_close(logp.exp(), probs)
    x = noisy.clamp(0.05, 0.95).requires_grad_(True)
    _gradcheck(lambda t: tc.soft_decode(t, tau=5.0 if space != "oklab" else 0.05), x)
    with pytest.raises(ConfigError):
        tc.soft_decode(image, tau=0.0)
    with pytest.raises(ConfigError):
        tc.soft_decode(image, temperature=1.0)


def test_soft_decode_instances_and_half_precision():
    tc = TensorCodec({"name": "mask/instance", "max_instances": 6}, layout="NHWC")
    ids = torch.arange(12).reshape(3, 4) % 7
    image = tc.encode(ids, dtype=torch.bfloat16)
    probs = tc.soft_decode(image)
    assert probs.shape == (7, 3, 4) and probs.dtype == torch.float32
    assert torch.equal(probs.argmax(0), tc.decode(image).to(torch.int64))
    depth = TensorCodec("depth/cubewalk", layout="NCHW", value_range=(-1.0, 1.0))
    x = depth.encode(torch.full((1, 4, 5), 2.5), dtype=torch.float16).requires_grad_(True)
    metres = depth.soft_decode(x)
    assert metres.dtype == torch.float32
    metres.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.float16 and torch.isfinite(x.grad).all()
    with pytest.raises(InputError):
        depth.soft_decode(x.detach().to(torch.uint8))


@pytest.mark.parametrize("layout", ["painter", "grid", "palette", "stacked"])
def test_soft_decode_keypoints(layout):
    torch.manual_seed(0)
    k = 4
    codec = rgbtask.get_codec(
        "keypoints/heatmap", size=(16, 20), num_keypoints=k, layout=layout, max_instances=1
    )
    tc = TensorCodec(codec, layout="NHWC", value_range=(-1.0, 1.0))
    kp = torch.tensor([[[3.2, 4.1], [12.6, 3.3], [6.4, 11.7], [15.1, 9.8]]], dtype=torch.float64)
    image = tc.encode(kp, dtype=torch.float64)
    soft = tc.soft_decode(image, tau=0.02)
    assert soft.shape == (k, 2)
    # painter rounds the centres to whole pixels (Painter's render): up to half a pixel more
    torch.testing.assert_close(soft, kp[0], atol=0.85 if layout == "painter" else 0.35, rtol=0)
    small = rgbtask.get_codec(
        "keypoints/heatmap", size=(5, 6), num_keypoints=2, layout=layout, max_instances=1
    )
    stc = TensorCodec(small, layout="NHWC")
    x = torch.rand(1, 5, 6 * small.pages, 3, dtype=torch.float64, requires_grad=True)
    _gradcheck(lambda t: stc.soft_decode(t, tau=0.5), x)


# ---------------------------------------------------------------- docs: the training examples


def _doc_blocks() -> list[str]:
    text = (ROOT / "docs" / "torch.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_docs_training_examples_hold():
    """Runs every ``python`` block of docs/torch.md that trains (each asserts its loss falls
    at least 10x in 50 steps, the numbers the docs quote)."""
    blocks = [b for b in _doc_blocks() if "optimizer" in b]
    assert len(blocks) >= 3
    for block in blocks:
        namespace: dict = {}
        exec(compile(block, "docs/torch.md", "exec"), namespace)
        assert namespace["final"] * 10 <= namespace["initial"], block[:60]


def test_docs_pipeline_example_runs():
    blocks = [b for b in _doc_blocks() if "class FakePipeline" in b]
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/torch.md", "exec"), {})
