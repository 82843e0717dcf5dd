"""Images written by other tools (issue 14): truncating writers (``quantization="floor"``),
matplotlib's and OpenCV's colour tables (``quantization="matplotlib"`` / ``"opencv"``), the
stored image's frame of normals (``image_convention``) and hilbertmap's decode of every colour
(``max_distance=None``).

The writers are reproduced here from their sources (cited at each helper); matplotlib and OpenCV
are called themselves."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask import curves
from rgbtask.codecs.normals import CONVENTIONS
from rgbtask.core.depth import forward_reference
from rgbtask.errors import ConfigError

# ---------------------------------------------------------------- hilbertmap, reimplemented
# massimilianoviola/hilbertmap @2e77a2479ea89f097ba47911333a6dca54406cd0 src/hilbertmap/cubewalk.py
# (walk, project, rgb_to_depth) and @e0ba9a037266254c518d1c13c9c15367569a6bb4
# src/hilbertmap/transform.py (the power transform); its examples write PNGs with
# (rgb * 255).astype(np.uint8) and read them back as png / 255.
HM_VERTICES = np.array(
    [[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 1], [0, 0, 1], [1, 0, 1], [1, 1, 1]],
    dtype=np.float64,
)


def hm_walk(f: np.ndarray) -> np.ndarray:
    s = np.clip(f, 0.0, 1.0) * 7
    k = np.minimum(np.floor(s).astype(np.int64), 6)
    t = s - k
    v0, v1 = HM_VERTICES[k], HM_VERTICES[k + 1]
    return v0 + t[..., None] * (v1 - v0)


def hm_rgb_to_depth(rgb: np.ndarray, lam: float = -3.0, c: float = 10.0 / 3.0) -> np.ndarray:
    starts, ends = HM_VERTICES[:-1], HM_VERTICES[1:]
    edges = ends - starts
    edge_sq = np.sum(edges * edges, axis=-1)
    p = rgb[..., None, :]
    t = np.clip(np.sum((p - starts) * edges, axis=-1) / edge_sq, 0.0, 1.0)
    proj = starts + t[..., None] * edges
    k = np.argmin(np.sum((p - proj) ** 2, axis=-1), axis=-1)
    f = (k + np.take_along_axis(t, k[..., None], axis=-1)[..., 0]) / 7
    with np.errstate(divide="ignore"):
        return lam * c * (1.0 - (1.0 - f) ** (1.0 / (lam + 1.0)))


def hm_truncated_png(depth: np.ndarray, codec) -> np.ndarray:
    """What hilbertmap's example writes: the continuous walk colour, truncated to 8 bits."""
    f = forward_reference(depth, codec.transform_obj.params)
    return (hm_walk(f) * 255).astype(np.uint8)


def _within(codec, reference, decoded) -> np.ndarray:
    err = codec.roundtrip_error(reference, decoded)
    return err <= codec.roundtrip_bound(reference) * (1 + 1e-6) + 1e-12


# ---------------------------------------------------------------- quantization="floor": depth
def test_cubewalk_floor_decodes_hilbertmap_pngs_within_the_bound_without_bias():
    rng = np.random.default_rng(0)
    depth = rng.uniform(0.3, 60.0, (256, 256))
    floor = rgbtask.get_codec("depth/cubewalk", quantization="floor")
    png = hm_truncated_png(depth, floor)
    assert np.array_equal(floor.encode(depth), png)  # our floor encode is hilbertmap's file
    dec = floor.decode(png)
    assert np.all(_within(floor, depth, dec))
    step = floor.step_at(depth)
    assert abs(np.mean((dec - depth) / step)) < 0.01  # no bias (levels units)
    # the default decode of the same file: a bias of half a level, and over the bound
    rounded = rgbtask.get_codec("depth/cubewalk")
    dec0 = rounded.decode(png)
    assert np.mean((dec0 - depth) / step) < -0.4
    assert not np.all(_within(rounded, depth, dec0))


def test_floor_table_covers_every_level_in_order():
    table = curves.floor_table(curves.cubewalk())
    assert table.f_lo[0] == 0.0 and table.f_hi[-1] == 1.0
    assert np.all(table.f_lo[1:] >= table.f_hi[:-1] - 1e-15)  # in order, no overlap
    assert np.all(np.abs(table.f_lo[1:] - table.f_hi[:-1]) < 1e-12)  # and no gap
    width = (table.f_hi - table.f_lo) * (curves.cubewalk().levels - 1)
    assert width.max() <= 2.0 + 1e-9  # two levels where a falling channel reaches 0
    # every colour painted at a level's midpoint is in the table at that interval
    f = (np.arange(1785) + 0.5) / 1785
    col = np.floor(hm_walk(f) * 255).astype(np.uint8)
    j = table.levels_of(f)
    assert np.array_equal(table.curve.codes[j], col)


@settings(max_examples=25, deadline=None)
@given(
    name=st.sampled_from(["depth/cubewalk", "depth/hue", "depth/gray"]),
    transform=st.sampled_from(["linear", "log", "inverse"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_floor_round_trips_within_the_bound(name, transform, seed):
    codec = rgbtask.get_codec(name, transform=transform, near=0.5, far=20.0, quantization="floor")
    rng = np.random.default_rng(seed)
    depth = rng.uniform(0.3, 25.0, (16, 20))
    depth[0, :3] = [np.nan, 0.0, -1.0]
    dec = codec.decode(codec.encode(depth))
    assert np.all(_within(codec, depth, dec))
    assert np.all(np.isnan(dec[0, :3]))


def test_floor_needs_an_8_bit_polyline():
    with pytest.raises(ConfigError, match="expected quantization 'round'"):
        rgbtask.get_codec("depth/cubewalk", quantization="floor", bits=16)
    with pytest.raises(ConfigError, match="quantization='matplotlib'"):
        rgbtask.get_codec("depth/colormap", quantization="floor", near=1.0, far=9.0)


def test_quantization_keys_the_tables():
    a = rgbtask.get_codec("depth/cubewalk")
    b = rgbtask.get_codec("depth/cubewalk", quantization="floor")
    rgb = np.array([[[254, 0, 255], [0, 255, 0]]], dtype=np.uint8)
    assert not np.array_equal(a.decode(rgb), b.decode(rgb))
    assert a.decode(rgb)[0, 0] == a.decode(rgb)[0, 0]  # the shared table still answers as before


# ---------------------------------------------------------------- matplotlib and OpenCV tables
def _matplotlib_png(f, cmap):
    import matplotlib

    return matplotlib.colormaps[cmap](f, bytes=True)[..., :3]


def _opencv_png(f, cmap):
    cv2 = pytest.importorskip("cv2")
    flag = getattr(cv2, "COLORMAP_" + cmap.upper())
    return cv2.applyColorMap((f * 255).astype(np.uint8), flag)[..., ::-1]


@pytest.mark.parametrize(
    "source, cmap",
    [("matplotlib", "turbo"), ("matplotlib", "viridis"), ("matplotlib", "jet")]
    + [("opencv", "turbo"), ("opencv", "jet"), ("opencv", "viridis"), ("opencv", "inferno")],
)
def test_tool_colormaps_decode_to_the_centre_of_each_bin(source, cmap):
    write = _matplotlib_png if source == "matplotlib" else _opencv_png
    rng = np.random.default_rng(1)
    f = np.concatenate([rng.random(200_000), [0.0, 1.0]]).reshape(1, -1)
    png = write(f, cmap)
    codec = rgbtask.get_codec(
        "depth/colormap", cmap=cmap, transform="normalized", quantization=source
    )
    assert np.array_equal(codec.encode(f), png)  # our encode is the tool's
    dec = codec.decode(png).astype(np.float64)
    table = codec._table
    half = 0.5 * (table.f_hi - table.f_lo)[table.levels_of(f)]
    assert np.all(np.abs(dec - f) <= half + 1e-7)  # float32 output
    assert np.all(_within(codec, f, dec))
    n = 256 if source == "matplotlib" else 255
    single = table.f_hi - table.f_lo <= 1.0 / n + 1e-12  # bins of one table entry
    assert np.all(np.abs(dec - f)[single[table.levels_of(f)]] <= 0.5 / n + 1e-7)
    assert abs(np.mean(dec - f)) < 0.01 / n  # no bias
    # the default decode of the same file is biased by up to half a level
    if source == "matplotlib" and cmap == "turbo":
        default = rgbtask.get_codec("depth/colormap", cmap=cmap, transform="normalized")
        assert np.mean(np.any(default.encode(f) != png, axis=-1)) > 0.5
        assert abs(np.mean(default.decode(png) - f)) > 10 * abs(np.mean(dec - f))


@pytest.mark.parametrize("source", ["matplotlib", "opencv"])
@pytest.mark.parametrize("cmap", ["turbo", "viridis", "plasma", "jet", "magma"])
def test_tool_tables_hold_every_entry_of_the_source(source, cmap):
    if source == "matplotlib":
        import matplotlib

        rgb = matplotlib.colormaps[cmap](np.arange(256), bytes=True)[:, :3]
        index = np.arange(256)
    else:
        cv2 = pytest.importorskip("cv2")
        flag = getattr(cv2, "COLORMAP_" + cmap.upper())
        rgb = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], flag)[:, 0, ::-1]
        index = np.arange(256)
    table = curves.source_table(cmap, source)
    assert np.array_equal(table.curve.codes[table.level_of_index[index]], rgb)
    assert table.curve.key == ("colormap", cmap, source)  # its own decode table


def test_tool_tables_refuse_16_bits_and_unknown_names():
    with pytest.raises(ConfigError, match="expected bits=8"):
        rgbtask.get_codec("depth/colormap", quantization="matplotlib", bits=16, near=1, far=9)
    pytest.importorskip("cv2")
    with pytest.raises(ConfigError, match="expected an OpenCV colormap name"):
        rgbtask.get_codec(
            "depth/colormap", cmap="plasma_r", quantization="opencv", near=1.0, far=9.0
        )


# ---------------------------------------------------------------- max_distance
def test_max_distance_default_rejects_half_the_cube():
    v = np.arange(0, 256, 3, dtype=np.uint8)
    cube = np.stack(np.meshgrid(v, v, v, indexing="ij"), -1).reshape(1, -1, 3)
    dec = rgbtask.get_codec("depth/cubewalk").decode_with_confidence(cube)
    assert 0.47 < np.mean(~dec.valid) < 0.51
    wide = rgbtask.get_codec("depth/cubewalk", max_distance=None).decode_with_confidence(cube)
    assert wide.valid.all()
    # confidence stays the default's: 0 where the default rejects
    assert np.array_equal(wide.confidence[~dec.valid], np.zeros(np.sum(~dec.valid), np.float32))
    ok = dec.valid
    np.testing.assert_allclose(wide.confidence[ok], dec.confidence[ok], atol=2.0 / 255)
    mid = rgbtask.get_codec("depth/cubewalk", max_distance=0.5).decode_with_confidence(cube)
    assert np.mean(~dec.valid) > np.mean(~mid.valid) > 0.0


def _cube_slab(r0: int, r1: int) -> np.ndarray:
    v = np.arange(256, dtype=np.uint8)
    r = np.arange(r0, r1, dtype=np.uint8)
    return np.stack(np.meshgrid(r, v, v, indexing="ij"), -1).reshape(1, -1, 3)


def _equal_to_hilbertmap(rgb: np.ndarray) -> None:
    codec = rgbtask.get_codec("depth/cubewalk", max_distance=None)
    ours = codec.decode(rgb)
    theirs = hm_rgb_to_depth(rgb.astype(np.float64) / 255.0).astype(np.float32)
    assert np.array_equal(ours, theirs)


def test_max_distance_none_equals_hilbertmap_on_a_slab():
    _equal_to_hilbertmap(_cube_slab(124, 132))


def test_max_distance_none_equals_hilbertmap_on_every_colour():
    # one red value at a time: hilbertmap's projection makes (pixels, 7, 3) float64 temporaries,
    # which for 2^21 colours at a time took 1.1 GB and three times the time of 2^16 (cache misses)
    for r0 in range(256):
        _equal_to_hilbertmap(_cube_slab(r0, r0 + 1))


def test_max_distance_is_validated():
    for bad in (0, -1.0, "none", float("nan"), True):
        with pytest.raises(ConfigError, match="expected max_distance"):
            rgbtask.get_codec("depth/hue", near=1.0, far=10.0, max_distance=bad)
    codec = rgbtask.get_codec("depth/hue", near=1.0, far=10.0, max_distance=None)
    assert rgbtask.get_codec(codec.get_config()) == codec


# ---------------------------------------------------------------- normals
def _unit_normals(seed: int, n: int = 100_000) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(1, n, 3))
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def test_normals_floor_decodes_truncated_pngs_within_the_bound():
    n = _unit_normals(2)
    png = ((n + 1.0) * 0.5 * 255).astype(np.uint8)  # DSINE's and most repositories' writer
    floor = rgbtask.get_codec("normals/xyz", quantization="floor")
    assert np.array_equal(floor.encode(n), png)
    err = floor.roundtrip_error(n, floor.decode(png))
    assert err.max() <= floor.max_error_deg
    default = rgbtask.get_codec("normals/xyz")
    err0 = default.roundtrip_error(n, default.decode(png))
    assert err0.max() > floor.max_error_deg  # the default read is off by half a step
    assert err.mean() < 0.6 * err0.mean()
    bias = np.mean(floor.decode(png) - n, axis=(0, 1))
    assert np.all(np.abs(bias) < 1e-4)


@pytest.mark.parametrize("bits", [8, 16])
def test_normals_floor_round_trips_in_every_input_type(bits):
    n = _unit_normals(3, 5000)
    codec = rgbtask.get_codec("normals/xyz", bits=bits, quantization="floor")
    codes = codec.encode(n)
    for rgb in (codes, codes / float(2**bits - 1)):
        assert codec.roundtrip_error(n, codec.decode(rgb)).max() <= codec.max_error_deg


#: Omnidata's demo output (omnidata_tools/torch demo images, docs/normals.md): floor, left wall.
OMNIDATA_FLOOR = (110, 9, 98)
OMNIDATA_LEFT_WALL = (254, 127, 122)


def test_omnidata_png_with_image_convention_opencv_has_floors_pointing_up():
    rgb = np.array([[OMNIDATA_FLOOR, OMNIDATA_LEFT_WALL]], dtype=np.uint8)
    cv = rgbtask.get_codec("normals/xyz", convention="opencv", image_convention="opencv")
    gl = rgbtask.get_codec("normals/xyz", convention="opengl", image_convention="opencv")
    floor_cv, wall_cv = cv.decode(rgb)[0]
    floor_gl, wall_gl = gl.decode(rgb)[0]
    assert floor_cv[1] < -0.9 and floor_gl[1] > 0.9  # up: -y in OpenCV, +y in OpenGL
    assert wall_cv[0] > 0.9 and wall_gl[0] > 0.9  # a left wall faces right
    # the old reading (image taken as OpenGL) turns the floor down
    old = rgbtask.get_codec("normals/xyz", convention="opencv").decode(rgb)[0, 0]
    assert old[1] > 0.9


@pytest.mark.parametrize("image", ["opengl", "opencv", "dsine", (1, 1, -1)])
@pytest.mark.parametrize("user", ["opengl", "opencv", "dsine"])
def test_image_convention_is_the_frame_of_the_stored_image(user, image):
    n = _unit_normals(4, 2000)
    codec = rgbtask.get_codec("normals/xyz", convention=user, image_convention=image)
    codes = codec.encode(n)
    user_signs = np.asarray(CONVENTIONS[user], dtype=np.float64)
    image_signs = np.asarray(CONVENTIONS.get(image, image), dtype=np.float64)
    # the image holds the vector in the image's frame: user -> OpenGL -> image
    plain = rgbtask.get_codec("normals/xyz")
    assert np.array_equal(codes, plain.encode(n * user_signs * image_signs))
    assert codec.roundtrip_error(n, codec.decode(codes)).max() <= codec.max_error_deg


def test_torch_follows_floor_and_image_convention(monkeypatch):
    torch = pytest.importorskip("torch")
    import rgbtask.torch as rt
    from rgbtask.torch import TensorCodec

    monkeypatch.setattr(rt, "CPU_BACKEND", "torch")
    n = _unit_normals(5, 3000).reshape(1, 50, 60, 3)
    config = {"name": "normals/xyz", "quantization": "floor", "image_convention": "dsine"}
    codec = rgbtask.get_codec(config)
    tc = TensorCodec(config, layout="NHWC")
    assert tc.native
    codes = tc.encode(torch.from_numpy(n), as_uint8=True)
    assert np.array_equal(codes.numpy(), codec.encode(n))
    got = tc.decode(codes).numpy()
    assert np.array_equal(got, codec.decode(codec.encode(n)))
    # depth: the device table is NumPy's decode under the new parameters
    depth = np.random.default_rng(6).uniform(0.5, 30.0, (1, 40, 50))
    dconfig = {"name": "depth/cubewalk", "quantization": "floor", "max_distance": 0.5}
    dcodec = rgbtask.get_codec(dconfig)
    dtc = TensorCodec(dconfig, layout="NHWC")
    dcodes = dtc.encode(torch.from_numpy(depth), as_uint8=True)
    assert np.array_equal(dcodes.numpy(), dcodec.encode(depth))
    assert np.array_equal(dtc.decode(dcodes).numpy(), dcodec.decode(dcodec.encode(depth)))


# ---------------------------------------------------------------- real frames
REAL = {"nyu_demo": 1000.0, "kitti_demo": 256.0}


@pytest.mark.parametrize("dataset", sorted(REAL))
def test_real_frames_written_by_hilbertmap_decode_within_the_bound(data_dir, dataset):
    from rgbtask import io as rio

    floor = rgbtask.get_codec("depth/cubewalk", quantization="floor")
    frames = sorted((data_dir / "depth" / dataset / "depth").glob("*.png"))
    assert frames
    for frame in frames:
        d = rio.read_depth(frame, depth_scale=REAL[dataset])
        ok = np.isfinite(d) & (d > 0)
        png = hm_truncated_png(np.where(ok, d, 1.0), floor)
        dec = floor.decode(png)
        assert np.all(_within(floor, d[ok], dec[ok]))


def test_torch_soft_decode_of_a_tool_table_agrees_with_decode():
    torch = pytest.importorskip("torch")
    from rgbtask.torch import TensorCodec

    config = {"name": "depth/colormap", "transform": "normalized", "quantization": "matplotlib"}
    codec = rgbtask.get_codec(config)
    f = np.random.default_rng(7).random((1, 8, 9))
    png = codec.encode(f)
    tc = TensorCodec(config, layout="NHWC", value_range=(0.0, 1.0))
    x = torch.from_numpy(png.astype(np.float64) / 255.0).requires_grad_(True)
    soft = tc.soft_decode(x)
    np.testing.assert_allclose(soft.detach().numpy(), codec.decode(png), atol=1e-6)
    soft.sum().backward()
    assert torch.isfinite(x.grad).all()


def test_torch_soft_decode_of_floor_normals_agrees_with_decode():
    torch = pytest.importorskip("torch")
    from rgbtask.torch import TensorCodec

    config = {"name": "normals/xyz", "quantization": "floor", "image_convention": "opencv"}
    codec = rgbtask.get_codec(config)
    png = codec.encode(_unit_normals(8, 500).reshape(1, 20, 25, 3))
    tc = TensorCodec(config, layout="NHWC", value_range=(0.0, 1.0))
    soft = tc.soft_decode(torch.from_numpy(png.astype(np.float64) / 255.0))
    np.testing.assert_allclose(soft.numpy(), codec.decode(png), atol=1e-6)


# ---------------------------------------------------------------- golden files
# An encoding is a file format (tests/test_golden.py): the truncating encoders too. Regenerate
# only on purpose, with RGBTASK_REGEN_GOLDEN=1.
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"

GOLDEN_CASES = {
    "depth_cubewalk_floor": {"name": "depth/cubewalk", "quantization": "floor"},
    "depth_hue_floor": {"name": "depth/hue", "near": 0.5, "far": 20.0, "quantization": "floor"},
    "depth_turbo_matplotlib": {
        "name": "depth/colormap",
        "near": 0.5,
        "far": 20.0,
        "quantization": "matplotlib",
    },
    "normals_xyz_floor_dsine": {
        "name": "normals/xyz",
        "quantization": "floor",
        "image_convention": "dsine",
    },
}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_truncating_encoders(case):
    from rgbtask import io as rio
    from rgbtask.testing import check_roundtrip

    codec = rgbtask.get_codec(GOLDEN_CASES[case])
    what = "normals" if case.startswith("normals") else "depth"
    value = np.load(GOLDEN / f"{what}_input.npy")
    path = GOLDEN / f"{case}.png"
    if REGEN:
        rio.write_png(path, codec.encode(value))
    golden = rio.read_image(path)
    assert np.array_equal(codec.encode(value), golden), "the encoding changed: a format break"
    check_roundtrip(codec, value, golden)
