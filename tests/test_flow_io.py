"""Optical flow files: Middlebury ``.flo``, KITTI 16-bit flow PNG, ``.npy`` (and FlyingThings3D
``.pfm`` in), read and written through ``rgbtask.io`` and ``FLOW_IO``; bad files are InputErrors
that name the file; ``convert`` and ``rgbtask decode --format flo`` go through the hooks."""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import flow_fields_with_unknown
from test_files import NPY_CASES

import rgbtask
from rgbtask import InputError
from rgbtask import io as rio
from rgbtask.cli import main
from rgbtask.codec import Codec, Decoded, check_value, rgb_scale
from rgbtask.convert import convert, decode_files
from rgbtask.io.formats import FLO_TAG
from rgbtask.params import number, param
from rgbtask.registry import unregister_codec

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "flow"
REAL_FLO = sorted(DATA.glob("*/*.flo")) if DATA.is_dir() else []
needs_data = pytest.mark.skipif(not REAL_FLO, reason=f"no .flo files under {DATA}")

#: KITTI stores 1/64 px steps: rounding moves each component by at most half of one.
KITTI_BOUND = 0.5 / 64


def _flo_bytes(flow: np.ndarray, tag: float = FLO_TAG) -> bytes:
    """A .flo file written here by hand, from the format's definition (not by rgbtask)."""
    h, w = flow.shape[:2]
    return struct.pack("<fii", tag, w, h) + np.asarray(flow, "<f4").tobytes()


def _rejected(path: Path, match: str, reader=rio.read_flow) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        reader(path)
    assert str(path) in str(info.value)  # the message names the file
    return info.value


def _same_nan(a: np.ndarray, b: np.ndarray) -> bool:
    return np.array_equal(np.isnan(a), np.isnan(b))


# --------------------------------------------------------------------------- real files
@needs_data
@pytest.mark.parametrize("path", REAL_FLO, ids=lambda p: p.name)
def test_real_flo_files_read_and_write_back_byte_for_byte(path, tmp_path):
    flow = rio.read_flow(path)
    raw = path.read_bytes()
    w, h = struct.unpack("<ii", raw[4:12])
    assert flow.shape == (h, w, 2) and flow.dtype == np.float32 and flow.flags.c_contiguous
    expected = np.frombuffer(raw, "<f4", offset=12).reshape(h, w, 2)
    known = np.all(np.abs(expected) <= 1e9, axis=-1)
    assert np.array_equal(flow[known], expected[known]) and np.isnan(flow[~known]).all()
    rio.write_flow(tmp_path / "back.flo", flow)
    if known.all():  # an unknown vector is written as Middlebury's 1e10, whatever it held
        assert (tmp_path / "back.flo").read_bytes() == raw
    rio.write_flow(tmp_path / "k.png", flow)
    kitti = rio.read_flow(tmp_path / "k.png")
    assert _same_nan(kitti, flow) and np.nanmax(np.abs(kitti - flow)) <= KITTI_BOUND


@needs_data
def test_sintel_frame_is_the_size_sintel_ships():
    sintel = sorted((DATA / "sintel").glob("*.flo"))
    if not sintel:
        pytest.skip("no Sintel frames")
    flow = rio.read_flow(sintel[0])
    assert flow.shape == (436, 1024, 2) and np.isfinite(flow).all()
    assert 1.0 < np.abs(flow).max() < 1000.0  # pixels, not normalised units


# --------------------------------------------------------------------------- .flo
def test_flo_reads_what_the_format_defines(tmp_path):
    flow = np.arange(24, dtype=np.float32).reshape(3, 4, 2) - 11.5
    (tmp_path / "a.flo").write_bytes(_flo_bytes(flow))
    assert np.array_equal(rio.read_flo(tmp_path / "a.flo"), flow)
    assert np.array_equal(rio.FLOW_IO.read(tmp_path / "a.flo"), flow)
    assert (tmp_path / "a.flo").read_bytes()[:4] == b"PIEH"


def test_flo_unknown_above_1e9_is_nan_in_both_components(tmp_path):
    flow = np.zeros((2, 3, 2), np.float32)
    flow[0, 0] = (1e10, 0.5)  # Middlebury's UNKNOWN_FLOW in u only
    flow[0, 1] = (0.5, -2e9)  # beyond the threshold in v
    flow[0, 2] = (1e9, -1e9)  # at the threshold: still known ("greater than 1e9" is unknown)
    flow[1, 0] = (np.nan, 1.0)
    flow[1, 1] = (np.inf, 1.0)
    (tmp_path / "u.flo").write_bytes(_flo_bytes(flow))
    read = rio.read_flow(tmp_path / "u.flo")
    unknown = np.array([[1, 1, 0], [1, 1, 0]], bool)
    assert np.isnan(read[unknown]).all() and np.isfinite(read[~unknown]).all()
    assert tuple(read[0, 2]) == (1e9, -1e9)


def test_flo_writes_nan_as_middlebury_unknown(tmp_path):
    flow = np.array([[[1.25, np.nan], [np.inf, 0.0], [-3.0, 4.0]]])
    rio.write_flo(tmp_path / "n.flo", flow)
    raw = np.frombuffer((tmp_path / "n.flo").read_bytes(), "<f4", offset=12).reshape(1, 3, 2)
    assert np.all(raw[0, :2] == np.float32(1e10)) and tuple(raw[0, 2]) == (-3.0, 4.0)
    read = rio.read_flo(tmp_path / "n.flo")
    assert np.isnan(read[0, :2]).all() and tuple(read[0, 2]) == (-3.0, 4.0)


@settings(max_examples=60, deadline=None)
@given(flow=flow_fields_with_unknown())
def test_flo_and_npy_round_trip_exactly_kitti_within_half_a_step(work, flow):
    nan_both = np.where(np.isnan(flow).any(-1, keepdims=True), np.nan, flow)
    rio.write_flow(work / "r.flo", flow)
    back = rio.read_flow(work / "r.flo")
    assert back.shape == flow.shape and back.dtype == np.float32
    assert _same_nan(back, nan_both)
    assert np.array_equal(back, flow.astype(np.float32), equal_nan=True)
    rio.write_flow(work / "r.npy", flow)
    assert np.array_equal(rio.read_flow(work / "r.npy"), flow, equal_nan=True)
    if np.nanmax(np.abs(flow), initial=0) <= 511:
        rio.write_flow(work / "r.png", flow)
        kitti = rio.read_flow(work / "r.png")
        assert kitti.dtype == np.float32 and _same_nan(kitti, nan_both)
        assert np.nanmax(np.abs(kitti - flow), initial=0) <= KITTI_BOUND


_FLOW = np.random.default_rng(2).uniform(-20, 20, (5, 6, 2)).astype(np.float32)
FLO_CASES = {  # name: (bytes, what the message must say)
    "empty": (b"", "empty"),
    "cut_tag": (b"PI", "truncated"),
    "cut_header": (_flo_bytes(_FLOW)[:9], "truncated"),
    "big_endian": (struct.pack(">fii", FLO_TAG, 6, 5) + _FLOW.astype(">f4").tobytes(), "tag"),
    "wrong_tag": (_flo_bytes(_FLOW, tag=202021.0), "tag 'PIEH'"),
    "text": (b"u v\n1 2\n", "a text file"),
    "png": (b"\x89PNG\r\n\x1a\n" + bytes(40), "tag"),
    "zero_width": (struct.pack("<fii", FLO_TAG, 0, 5), "1..99999"),
    "negative_height": (struct.pack("<fii", FLO_TAG, 6, -5) + _FLOW.tobytes(), "1..99999"),
    "absurd_size": (struct.pack("<fii", FLO_TAG, 2**31 - 1, 2**31 - 1), "1..99999"),
    "huge_but_plausible": (struct.pack("<fii", FLO_TAG, 99999, 99999) + bytes(64), "truncated"),
    "cut_data": (_flo_bytes(_FLOW)[:-3], "truncated"),
    "one_vector_short": (_flo_bytes(_FLOW)[:-8], "truncated"),
    "extra_data": (_flo_bytes(_FLOW) + bytes(8), "extra bytes"),
}


@pytest.mark.parametrize("case", sorted(FLO_CASES))
def test_bad_flo_is_an_input_error_naming_the_file(tmp_path, case):
    data, match = FLO_CASES[case]
    (tmp_path / "bad.flo").write_bytes(data)
    _rejected(tmp_path / "bad.flo", match)
    _rejected(tmp_path / "bad.flo", match, rio.read_flo)


def test_missing_flo_and_folder_are_input_errors(tmp_path):
    _rejected(tmp_path / "none.flo", "existing file")
    (tmp_path / "d.flo").mkdir()
    _rejected(tmp_path / "d.flo", "directory")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder the hypothesis tests rewrite their files in (function fixtures do not mix)."""
    return tmp_path_factory.mktemp("flow")


def test_flo_truncated_at_every_cut_point_is_refused(work):
    data = _flo_bytes(_FLOW[:3, :4])
    path = work / "cut.flo"
    for cut in range(len(data)):  # every one of them, exhaustively
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match="empty|truncated"):
            rio.read_flow(path)


@given(changes=st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1))
def test_flo_with_damaged_bytes_is_refused_or_read_never_crashes(work, changes):
    data = bytearray(_flo_bytes(_FLOW))
    for pos, value in changes:
        data[pos % len(data)] = value
    path = work / "damaged.flo"
    path.write_bytes(bytes(data))
    try:
        flow = rio.read_flow(path)
    except InputError as exc:
        assert str(path) in str(exc)
    else:  # a damaged value is still a float: the header survived
        assert flow.shape == (5, 6, 2) and flow.dtype == np.float32
        assert _same_nan(flow[..., 0], flow[..., 1])


# --------------------------------------------------------------------------- KITTI PNG
def _kitti_png(path: Path, r, g, b) -> Path:
    image = np.stack([np.asarray(c, np.uint16) for c in (r, g, b)], axis=-1)
    return rio.write_png(path, image)


def test_kitti_png_reads_by_the_devkit_formula(tmp_path):
    r = [[32768, 32768 + 64 * 3 + 16, 0, 65535]]
    g = [[32768, 32768 - 64 * 2, 0, 0]]
    b = [[1, 1, 0, 7]]  # valid is any non-zero blue
    flow = rio.read_flow(_kitti_png(tmp_path / "k.png", r, g, b))
    assert flow.dtype == np.float32 and flow.shape == (1, 4, 2)
    assert np.array_equal(flow[0, [0, 1, 3]], [[0.0, 0.0], [3.25, -2.0], [32767 / 64, -512.0]])
    assert np.isnan(flow[0, 2]).all()


def test_kitti_png_writes_the_devkit_codes(tmp_path):
    flow = np.array([[[0.0, 0.0], [3.25, -2.0], [np.nan, 1.0], [-512.0, 511.984375]]])
    rio.write_kitti_flow(tmp_path / "w.png", flow)
    codes = rio.read_rgb(tmp_path / "w.png")
    assert codes.dtype == np.uint16
    expected = [[32768, 32768, 1], [32976, 32640, 1], [0, 0, 0], [0, 65535, 1]]
    assert codes[0].tolist() == expected


@pytest.mark.parametrize("bad", [512.0, -512.01, 1e6])
def test_kitti_png_refuses_flow_it_cannot_hold(tmp_path, bad):
    with pytest.raises(InputError, match=r"write \.flo or \.npy"):
        rio.write_flow(tmp_path / "o.png", np.full((2, 2, 2), bad))
    assert not (tmp_path / "o.png").exists()


def test_kitti_reader_refuses_images_that_are_not_flow(tmp_path):
    rio.write_png(tmp_path / "rgb8.png", np.zeros((3, 4, 3), np.uint8))
    _rejected(tmp_path / "rgb8.png", "flow picture, not flow")
    rio.write_png(tmp_path / "gray16.png", np.zeros((3, 4), np.uint16))
    _rejected(tmp_path / "gray16.png", "16-bit RGB")
    data = _kitti_png(tmp_path / "ok.png", [[1, 2]], [[3, 4]], [[1, 1]]).read_bytes()
    for cut in range(len(data)):
        (tmp_path / "cut.png").write_bytes(data[:cut])
        _rejected(tmp_path / "cut.png", "empty|truncated")


# --------------------------------------------------------------------------- .npy, .pfm, others
@pytest.mark.parametrize(
    ("array", "match"),
    [
        (np.zeros((3, 4, 3)), r"\(H, W, 2\)"),
        (np.zeros((3, 4)), r"\(H, W, 2\)"),
        (np.zeros((3, 4, 2), np.int16), "floats"),
        (np.zeros((3, 4, 2), complex), "complex"),
    ],
)
def test_npy_that_is_not_one_flow_field_is_refused(tmp_path, array, match):
    np.save(tmp_path / "f.npy", array)
    _rejected(tmp_path / "f.npy", match)


@pytest.mark.parametrize("case", sorted(NPY_CASES))
def test_bad_npy_is_an_input_error_for_flow_too(tmp_path, case):
    """The hostile .npy files every task reader is checked against (tests/test_files.py)."""
    data, match = NPY_CASES[case]
    (tmp_path / f"{case}.npy").write_bytes(data)
    _rejected(tmp_path / f"{case}.npy", match)


def test_npy_non_finite_is_unknown_in_both_components(tmp_path):
    flow = np.array([[[np.inf, 1.0], [2.0, np.nan], [3.0, 4.0]]], np.float16)
    np.save(tmp_path / "f.npy", flow)
    read = rio.read_flow(tmp_path / "f.npy")
    assert read.dtype == np.float32 and np.isnan(read[0, :2]).all()
    assert tuple(read[0, 2]) == (3.0, 4.0)


def test_flyingthings_pfm_drops_its_third_channel(tmp_path):
    flow = np.random.default_rng(3).normal(size=(4, 5, 2)).astype(np.float32)
    rio.write_pfm(tmp_path / "f.pfm", np.dstack([flow, np.zeros((4, 5), np.float32)]))
    assert np.array_equal(rio.read_flow(tmp_path / "f.pfm"), flow)


def test_unknown_suffixes_are_refused_naming_the_formats(tmp_path):
    (tmp_path / "f.exr").write_bytes(b"x")
    _rejected(tmp_path / "f.exr", r"\.flo, \.png \(KITTI 16-bit\), \.npy")
    with pytest.raises(InputError, match=r"\.flo, \.png \(KITTI 16-bit\) or \.npy"):
        rio.write_flow(tmp_path / "f.pfm", np.zeros((2, 2, 2)))
    with pytest.raises(InputError, match=r"\(H, W, 2\)"):
        rio.write_flow(tmp_path / "f.flo", np.zeros((2, 2, 2, 2)))


# --------------------------------------------------------------------------- FLOW_IO, CLI, convert
def test_flow_io_declares_its_formats():
    assert rio.FLOW_IO.decode_formats == ("npy", "flo", "png")
    assert isinstance(rio.FLOW_IO, rio.TaskIO) and rio.READERS["flow"] is rio.read_flow
    assert [rio.FLOW_IO.batch_suffix(f) for f in ("npy", "flo", "png")] == [".npy", ".flo", ".png"]
    with pytest.raises(InputError, match=r"expected an output ending in \.npy, \.flo, \.png"):
        rio.FLOW_IO.write("x.pfm", np.zeros((2, 2, 2)))


@dataclass(frozen=True, eq=False, repr=False)
class _PlainFlow(Codec):
    """u and v in red and green, 16 bits over [-max_flow, max_flow], blue = known (a test codec
    standing in for ``flow/uv``: what is tested here is the file plumbing)."""

    name: ClassVar[str] = "flowiotest/rg16"
    error_unit: ClassVar[str] = "px"
    task_io: ClassVar[Any] = rio.FLOW_IO
    max_flow: float = param(64.0, number(0.0, None, lo_open=True))

    def validate_value(self, value: Any) -> np.ndarray:
        return check_value(value, "flow", "(..., H, W, 2)", kinds="f", min_ndim=3)

    def _encode(self, value: np.ndarray) -> np.ndarray:
        known = np.all(np.isfinite(value), axis=-1, keepdims=True)
        unit = np.clip(np.nan_to_num(value), -self.max_flow, self.max_flow) / (2 * self.max_flow)
        codes = np.rint((unit + 0.5) * 65535).astype(np.uint16)
        return np.concatenate([codes, known.astype(np.uint16) * 65535], axis=-1)

    def _decode(self, rgb: np.ndarray) -> Decoded:
        unit = rgb.astype(np.float64) / rgb_scale(rgb)
        known = unit[..., 2] > 0.5
        flow = np.where(known[..., None], (unit[..., :2] - 0.5) * 2 * self.max_flow, np.nan)
        return Decoded(flow, known.astype(np.float32), known)

    def roundtrip_error(self, reference: Any, decoded: Any) -> np.ndarray:
        return np.linalg.norm(np.asarray(decoded) - np.asarray(reference), axis=-1)

    def roundtrip_bound(self, reference: Any) -> float:
        return float(np.sqrt(2) * self.max_flow / 65535 * 1.000001)


@pytest.fixture
def plain_flow():
    rgbtask.register_codec(_PlainFlow)
    try:
        yield rgbtask.get_codec("flowiotest/rg16")
    finally:
        unregister_codec("flowiotest/rg16")


def _flows():
    rng = np.random.default_rng(7)
    flows = [rng.uniform(-30, 30, (9, 11, 2)).astype(np.float32) for _ in range(3)]
    flows[1][2:4, 3:6] = np.nan
    return flows


def _codecs_for_files():
    """The test codec, and the built-in flow codecs once they are registered."""
    names = ["flowiotest/rg16"]
    names += [n for n in ("flow/uv",) if n in rgbtask.list_codecs()]
    return names


@pytest.mark.parametrize("fmt", ["npy", "flo", "png"])
def test_convert_flo_files_and_decode_them_back_in_every_format(plain_flow, tmp_path, fmt):
    flows = _flows()
    for i, flow in enumerate(flows):
        rio.write_flow(tmp_path / f"in/seq/f{i}.flo", flow)
    (tmp_path / "in/seq/bad.flo").write_bytes(b"PIEH" + bytes(3))
    for name in _codecs_for_files():
        out = tmp_path / name.replace("/", "_")
        result = convert([str(tmp_path / "in/**/*.flo")], out / "enc", name, workers=1)
        assert sorted(Path(p).name for p in result.converted) == ["f0.png", "f1.png", "f2.png"]
        assert "truncated" in result.failed[str(tmp_path / "in/seq/bad.flo")]
        back = decode_files(
            [str(out / "enc/**/*.png")],
            out / "dec",
            manifest=out / "enc/manifest.json",
            fmt=fmt,
            workers=1,
        )
        assert not back.failed
        codec = rgbtask.get_codec(name)
        for i, flow in enumerate(flows):
            decoded = rio.read_flow(out / f"dec/seq/f{i}.{fmt}")
            assert _same_nan(decoded, flow)
            extra = KITTI_BOUND * 2**0.5 if fmt == "png" else 0.0  # KITTI's 1/64 px steps
            bound = np.asarray(codec.roundtrip_bound(flow)) * (1 + 1e-6) + extra
            error = np.asarray(codec.roundtrip_error(flow, decoded))
            assert np.all((error <= bound) | np.isnan(error)), name


def test_cli_encode_and_decode_flo(plain_flow, tmp_path, capsys):
    flow = _flows()[1]
    rio.write_flow(tmp_path / "a.flo", flow)
    args = ["--codec", "flowiotest/rg16"]
    assert main(["encode", str(tmp_path / "a.flo"), str(tmp_path / "a.png"), *args]) == 0
    assert main(["decode", str(tmp_path / "a.png"), str(tmp_path / "b.flo"), *args]) == 0
    back = rio.read_flo(tmp_path / "b.flo")
    assert _same_nan(back, flow)
    assert np.nanmax(plain_flow.roundtrip_error(flow, back)) <= plain_flow.roundtrip_bound(flow)
    batch = ["decode", str(tmp_path / "a.png"), "--out", str(tmp_path / "o"), "--format", "flo"]
    assert main([*batch, *args]) == 0
    assert np.array_equal(rio.read_flo(tmp_path / "o/a.flo"), back, equal_nan=True)
    assert main(["decode", str(tmp_path / "a.png"), str(tmp_path / "b.pfm"), *args]) == 2
    assert "expected an output ending in .npy, .flo, .png" in capsys.readouterr().err
    (tmp_path / "bad.flo").write_bytes(struct.pack("<fii", 1.0, 2, 2))
    assert main(["encode", str(tmp_path / "bad.flo"), str(tmp_path / "x.png"), *args]) == 2
    err = capsys.readouterr().err
    assert "tag 'PIEH'" in err and "Traceback" not in err


# --------------------------------------------------------------------------- golden files
GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"


def _golden_flow() -> np.ndarray:
    """The scene's flow at 12x16 (seed 11) with an unknown vector and a large one, as a golden
    ``.flo`` written once (RGBTASK_REGEN_GOLDEN=1) and read back by every later run."""
    path = GOLDEN / "flow_scene.flo"
    if REGEN:
        from rgbtask.samples import make_scene

        flow = make_scene(12, 16, seed=11).flow.copy()
        flow[0, 0] = np.nan
        flow[0, 1] = (-512.0, 511.984375)  # KITTI's extremes
        rio.write_flo(path, flow)
    return rio.read_flo(path)


def test_golden_flo_is_written_byte_for_byte():
    flow = _golden_flow()
    assert np.isnan(flow[0, 0]).all() and tuple(flow[0, 1]) == (-512.0, 511.984375)
    raw = (GOLDEN / "flow_scene.flo").read_bytes()
    assert raw[:12] == struct.pack("<fii", FLO_TAG, 16, 12)
    assert np.frombuffer(raw, "<f4", count=2, offset=12).tolist() == [1e10, 1e10]


def test_golden_flo_and_kitti_png_writers_reproduce_the_files(tmp_path):
    flow = _golden_flow()
    rio.write_flo(tmp_path / "again.flo", flow)
    assert (tmp_path / "again.flo").read_bytes() == (GOLDEN / "flow_scene.flo").read_bytes()
    path = GOLDEN / "flow_scene_kitti.png"
    if REGEN:
        rio.write_kitti_flow(path, flow)
    rio.write_kitti_flow(tmp_path / "again.png", flow)
    golden = rio.read_rgb(path)  # compared by the codes, not the compressed bytes
    assert golden.dtype == np.uint16 and np.array_equal(
        rio.read_rgb(tmp_path / "again.png"), golden
    )
    assert golden[0, 0].tolist() == [0, 0, 0] and golden[0, 1].tolist() == [0, 65535, 1]
    back = rio.read_flow(path)
    assert _same_nan(back, flow) and np.nanmax(np.abs(back - flow)) <= KITTI_BOUND


def test_golden_scene_flow_is_still_the_scene_flow():
    """The samples' flow has not drifted (flow codecs' examples use it)."""
    from rgbtask.samples import make_scene

    flow, golden = make_scene(12, 16, seed=11).flow, _golden_flow()
    assert np.allclose(flow[1:], golden[1:], rtol=0, atol=1e-4, equal_nan=True)
    assert np.allclose(flow[0, 2:], golden[0, 2:], rtol=0, atol=1e-4, equal_nan=True)
    assert np.isfinite(flow).all(axis=-1).mean() > 0.5


@needs_data
@pytest.mark.skipif("flow/uv" not in rgbtask.list_codecs(), reason="flow/uv not registered")
def test_cli_convert_real_flo_files_and_decode_them_as_flo(tmp_path, capsys):
    """``rgbtask convert`` on the shipped .flo files and ``rgbtask decode --format flo`` back."""
    args = ["--codec", "flow/uv", "--param", "bits=16", "--workers", "1"]
    pattern = str(DATA / "**" / "*.flo")
    assert main(["convert", pattern, "--out", str(tmp_path / "enc"), *args]) == 0
    manifest = str(tmp_path / "enc/manifest.json")
    batch = [str(tmp_path / "enc/**/*.png"), "--out", str(tmp_path / "dec")]
    assert main(["decode", *batch, "--manifest", manifest, "--format", "flo"]) == 0
    capsys.readouterr()
    codec = rgbtask.get_codec("flow/uv", bits=16)
    for path in REAL_FLO:
        flow = rio.read_flow(path)
        back = rio.read_flo(tmp_path / "dec" / path.parent.name / path.name)
        assert _same_nan(back, flow)
        error, bound = codec.roundtrip_error(flow, back), codec.roundtrip_bound(flow)
        assert np.all((error <= np.asarray(bound) * (1 + 1e-6)) | np.isnan(error))


@pytest.mark.skipif("flow/wheel" not in rgbtask.list_codecs(), reason="flow/wheel not registered")
def test_per_image_scale_is_recorded_and_decodes_in_pixels(tmp_path):
    """flow/wheel normalises each image by its own scale: convert records it per output, and
    decoding with the manifest gives pixels (the codes are those of max_flow=s)."""
    flows = _flows()
    flows[2] *= 3.0  # another scale
    for i, flow in enumerate(flows):
        rio.write_flow(tmp_path / f"in/f{i}.flo", flow)
    (tmp_path / "in/bad.flo").write_bytes(b"nope")
    result = convert([str(tmp_path / "in/*.flo")], tmp_path / "enc", "flow/wheel", workers=1)
    assert len(result.converted) == 3 and list(result.failed) == [str(tmp_path / "in/bad.flo")]
    manifest = json.loads((tmp_path / "enc/manifest.json").read_text())
    wheel = rgbtask.get_codec("flow/wheel")
    for i, flow in enumerate(flows):
        assert manifest["samples"][f"f{i}"] == {"max_flow": wheel.flow_scale(flow)}
    decode_files(
        [str(tmp_path / "enc/*.png")],
        tmp_path / "dec",
        manifest=tmp_path / "enc/manifest.json",
        fmt="flo",
        workers=1,
    )
    for i, flow in enumerate(flows):
        sized = rgbtask.get_codec("flow/wheel", max_flow=wheel.flow_scale(flow))
        back = rio.read_flo(tmp_path / f"dec/f{i}.flo")
        assert _same_nan(back, flow)
        error = np.asarray(sized.roundtrip_error(flow, back))
        bound = np.asarray(sized.roundtrip_bound(flow)) * (1 + 1e-6)
        assert np.all((error <= bound) | np.isnan(error))
        assert np.nanmax(np.abs(back)) > 10  # pixels, not units of the scale
    assert rio.FLOW_IO.sample_record(rgbtask.get_codec("flow/uv"), {"path": "x"}) is None
    assert rio.FLOW_IO.sample_codec(wheel, None) is wheel
