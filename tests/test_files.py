"""Bad files: every corrupt, truncated or wrong-kind file is a clear InputError naming the file, the
CLI turns it into one ``rgbtask: error:`` line and a non-zero exit, and ``convert`` never leaves a
half-written output behind (temporary names, renames, clean-up of dead runs' leftovers)."""

from __future__ import annotations

import errno
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

import rgbtask
from rgbtask import InputError
from rgbtask import io as rio
from rgbtask.cli import main
from rgbtask.convert import convert
from rgbtask.samples import make_scene

RNG = np.random.default_rng(0)
RGB8 = RNG.integers(0, 256, (12, 17, 3), dtype=np.uint8)
RGB16 = RNG.integers(0, 65536, (12, 17, 3), dtype=np.uint16)
RGB16[0, 0] = (65535, 256, 1)  # values no 8-bit reduction survives


def _png_bytes(tmp: Path, array: np.ndarray) -> bytes:
    rio.write_png(tmp, array)
    return tmp.read_bytes()


def _jpeg_bytes(tmp: Path, array: np.ndarray, **kwargs) -> bytes:
    Image.fromarray(array).save(tmp, format="JPEG", quality=90, **kwargs)
    return tmp.read_bytes()


def _rejected(path: Path, match: str = "expected", reader=rio.read_rgb) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        reader(path)
    assert str(path) in str(info.value)  # the message names the file
    return info.value


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    """A folder the hypothesis tests rewrite their one file in (function fixtures do not mix)."""
    return tmp_path_factory.mktemp("files")


@pytest.fixture(scope="module")
def valid(work) -> dict[str, bytes]:
    big = np.random.default_rng(1).integers(0, 65536, (96, 128, 3), dtype=np.uint16)
    return {
        "png8": _png_bytes(work / "v8.png", RGB8[:6, :9]),
        "png16": _png_bytes(work / "v16.png", RGB16[:6, :9]),
        "png16_big": _png_bytes(work / "vbig.png", big),  # several IDAT chunks
        "jpeg": _jpeg_bytes(work / "v.jpg", RGB8),
        "jpeg_progressive": _jpeg_bytes(work / "vp.jpg", RGB8, progressive=True),
    }


# --------------------------------------------------------------------------- good images
def test_rgb_png_8_and_16_bit_read_exactly(tmp_path):
    rio.write_png(tmp_path / "a.png", RGB8)
    rio.write_png(tmp_path / "b.png", RGB16)
    a, b = rio.read_rgb(tmp_path / "a.png"), rio.read_rgb(tmp_path / "b.png")
    assert a.dtype == np.uint8 and np.array_equal(a, RGB8)
    assert b.dtype == np.uint16 and b.shape == (12, 17, 3) and np.array_equal(b, RGB16)
    assert b[0, 0].tolist() == [65535, 256, 1]  # RGB order, all 16 bits


def test_opaque_alpha_is_dropped_8_and_16_bit(tmp_path):
    import cv2

    rgba8 = np.dstack([RGB8, np.full(RGB8.shape[:2], 255, np.uint8)])
    Image.fromarray(rgba8).save(tmp_path / "a.png")
    assert np.array_equal(rio.read_rgb(tmp_path / "a.png"), RGB8)
    rgba16 = np.dstack([RGB16, np.full(RGB16.shape[:2], 65535, np.uint16)])
    cv2.imwrite(str(tmp_path / "b.png"), rgba16[..., [2, 1, 0, 3]])
    out = rio.read_rgb(tmp_path / "b.png")
    assert out.dtype == np.uint16 and np.array_equal(out, RGB16)


def test_jpeg_and_other_rgb_formats_decode_as_pillow_does(tmp_path):
    _jpeg_bytes(tmp_path / "a.jpg", RGB8)
    expected = np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB"))
    assert np.array_equal(rio.read_rgb(tmp_path / "a.jpg"), expected)
    Image.fromarray(RGB8).save(tmp_path / "a.webp", lossless=True)
    Image.fromarray(RGB8).save(tmp_path / "a.bmp")
    for name in ("a.webp", "a.bmp"):
        assert np.array_equal(rio.read_rgb(tmp_path / name), RGB8)


def test_16_bit_tiff_keeps_16_bits(tmp_path):
    import cv2

    if not cv2.imwrite(str(tmp_path / "a.tif"), RGB16[..., ::-1]):
        pytest.skip("this OpenCV build does not write TIFF")
    out = rio.read_rgb(tmp_path / "a.tif")
    assert out.dtype == np.uint16 and np.array_equal(out, RGB16)


# --------------------------------------------------------------------------- transparency
@pytest.mark.parametrize("bits", [8, 16])
def test_any_transparent_pixel_is_refused(tmp_path, bits):
    import cv2

    rgb = RGB8 if bits == 8 else RGB16
    top = np.iinfo(rgb.dtype).max
    alpha = np.full(rgb.shape[:2], top, rgb.dtype)
    alpha[5, 7] = top - 1  # one barely transparent pixel
    cv2.imwrite(str(tmp_path / "a.png"), np.dstack([rgb, alpha])[..., [2, 1, 0, 3]])
    error = _rejected(tmp_path / "a.png", "transparent")
    assert "1 transparent pixel" in str(error) and "row 5, column 7" in str(error)
    assert "-alpha off" in str(error)  # says how to drop alpha deliberately


def test_png_colour_key_transparency_counts_as_alpha(tmp_path):
    rgb = RGB8.copy()
    rgb[2, 3] = (1, 2, 3)
    Image.fromarray(rgb).save(tmp_path / "key.png", transparency=(1, 2, 3))
    _rejected(tmp_path / "key.png", "1 transparent pixel")
    unused = RGB8.copy()
    unused[np.all(unused == (9, 9, 9), axis=-1)] = 0
    Image.fromarray(unused).save(tmp_path / "unused.png", transparency=(9, 9, 9))
    assert np.array_equal(rio.read_rgb(tmp_path / "unused.png"), unused)


# --------------------------------------------------------------------------- wrong kinds
def _write_kind(path: Path, kind: str) -> None:
    import cv2

    gray = RGB8[..., 0]
    if kind == "palette":
        Image.fromarray(RGB8).convert("P").save(path)
    elif kind == "palette_4bit":
        Image.fromarray(gray // 16).convert("P").save(path, bits=4)
    elif kind == "1bit":
        Image.fromarray(gray > 127).save(path)
    elif kind in ("2bit", "4bit"):
        Image.fromarray(gray >> (8 - int(kind[0])), "L").save(path, bits=int(kind[0]))
    elif kind == "gray8":
        Image.fromarray(gray).save(path)
    elif kind == "gray16":
        cv2.imwrite(str(path), RGB16[..., 0])
    elif kind == "gray_alpha":
        Image.fromarray(np.dstack([gray, gray]), "LA").save(path)
    elif kind == "int32_tiff":
        Image.fromarray(gray.astype(np.int32) * 70000, "I").save(path)
    elif kind == "float_tiff":
        Image.fromarray(gray.astype(np.float32) / 255, "F").save(path)
    elif kind == "cmyk_jpeg":
        Image.fromarray(np.dstack([RGB8, gray]), "CMYK").save(path, format="JPEG")
    elif kind == "gray_jpeg":
        Image.fromarray(gray).save(path, format="JPEG")
    elif kind == "animated_png":
        frames = [Image.fromarray(RGB8), Image.fromarray(RGB8[::-1].copy())]
        frames[0].save(path, save_all=True, append_images=frames[1:])
    else:
        raise AssertionError(kind)


WRONG_KINDS = {  # kind: (file name, what the message must say)
    "palette": ("p.png", r"palette \('P' mode\).*indices, not colours.*read_palette_png"),
    "palette_4bit": ("p4.png", r"palette .*read_palette_png"),
    "1bit": ("b.png", "1-bit black-and-white"),
    "2bit": ("g2.png", "2-bit grayscale.*rgbtask encode"),
    "4bit": ("g4.png", "4-bit grayscale"),
    "gray8": ("g8.png", "8-bit grayscale.*3-channel RGB"),
    "gray16": ("g16.png", "16-bit grayscale"),
    "gray_alpha": ("la.png", "grayscale image with alpha"),
    "int32_tiff": ("i.tif", "32-bit integer"),
    "float_tiff": ("f.tif", "32-bit float"),
    "cmyk_jpeg": ("c.jpg", "CMYK.*save it as RGB"),
    "gray_jpeg": ("g.jpg", "8-bit grayscale"),
    "animated_png": ("anim.png", "2 frames"),
}


@pytest.mark.parametrize("kind", sorted(WRONG_KINDS))
def test_images_that_are_not_rgb_codes_are_refused(tmp_path, kind):
    name, match = WRONG_KINDS[kind]
    _write_kind(tmp_path / name, kind)
    _rejected(tmp_path / name, match)


def test_task_readers_still_take_palette_gray_and_16_bit_pngs(tmp_path):
    _write_kind(tmp_path / "p.png", "palette")
    labels, _ = rio.read_palette_png(tmp_path / "p.png")
    assert np.array_equal(rio.read_mask(tmp_path / "p.png"), labels)
    _write_kind(tmp_path / "g16.png", "gray16")
    depth = rio.read_depth(tmp_path / "g16.png", depth_scale=1000)
    stored = RGB16[..., 0]
    assert np.array_equal(depth, np.where(stored > 0, stored / 1000, np.nan), equal_nan=True)


# --------------------------------------------------------------------------- not images at all
def test_empty_random_and_text_files_are_refused(tmp_path):
    (tmp_path / "empty.png").write_bytes(b"")
    _rejected(tmp_path / "empty.png", "empty \\(0-byte\\) file")
    (tmp_path / "random.png").write_bytes(np.random.default_rng(2).bytes(4000))
    _rejected(tmp_path / "random.png", "unrecognised contents")
    (tmp_path / "notes.png").write_text("# my notes\nthis is not an image\n")
    _rejected(tmp_path / "notes.png", "a text file")
    (tmp_path / "folder.png").mkdir()
    _rejected(tmp_path / "folder.png", "directory")
    _rejected(tmp_path / "missing.png", "existing file")


def test_pillow_errors_stay_input_errors_for_every_reader(tmp_path):
    (tmp_path / "x.png").write_bytes(b"\x89PNG\r\n")
    for reader in (rio.read_rgb, rio.read_image, rio.read_mask, rio.read_palette_png):
        _rejected(tmp_path / "x.png", "truncated", reader)
    _rejected(tmp_path / "x.png", "truncated", lambda p: rio.read_depth(p, 1000))


# --------------------------------------------------------------------------- truncation
@pytest.mark.parametrize("which", ["png8", "png16"])
def test_png_truncated_at_every_cut_point_is_refused(work, valid, which):
    data, path = valid[which], work / f"cut_{which}.png"
    for cut in range(len(data)):  # every one of them, exhaustively
        path.write_bytes(data[:cut])
        for reader in (rio.read_rgb, rio.read_image):
            with pytest.raises(InputError, match="empty|truncated|expected a complete PNG"):
                reader(path)


@given(cut=st.floats(0, 1, exclude_max=True))
def test_large_png_truncated_anywhere_is_refused(work, valid, cut):
    data = valid["png16_big"]
    path = work / "cut_big.png"
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(InputError, match=r"truncated|empty"):
        rio.read_rgb(path)


@pytest.mark.parametrize("which", ["jpeg", "jpeg_progressive"])
def test_jpeg_truncated_at_every_cut_point_is_refused(work, valid, which):
    """OpenCV's imread returns a partly grey image for these; we must not."""
    data, path = valid[which], work / f"cut_{which}.jpg"
    for cut in range(len(data)):
        path.write_bytes(data[:cut])
        with pytest.raises(InputError, match="empty|truncated|expected"):
            rio.read_rgb(path)


def test_truncated_jpeg_is_refused_even_with_load_truncated_images(work, valid, monkeypatch):
    from PIL import ImageFile

    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    data, path = valid["jpeg"], work / "cut_lti.jpg"
    for cut in (len(data) - 1, len(data) - 2, len(data) * 3 // 4, len(data) // 2):
        path.write_bytes(data[:cut])
        _rejected(path, "truncated")


# --------------------------------------------------------------------------- corruption
@st.composite
def corruptions(draw, size: int):
    """1..4 (offset, non-zero xor mask) pairs inside a file of ``size`` bytes."""
    return draw(
        st.lists(
            st.tuples(st.integers(0, size - 1), st.integers(1, 255)),
            min_size=1,
            max_size=4,
            unique_by=lambda t: t[0],
        )
    )


def _corrupt(data: bytes, changes) -> bytes:
    out = bytearray(data)
    for offset, mask in changes:
        out[offset] ^= mask
    return bytes(out)


@given(data=st.data())
def test_png_with_any_damaged_byte_is_refused(work, valid, data):
    """Every PNG byte is under a CRC (or is the signature or a length): any change is caught."""
    png = valid["png16_big"] if data.draw(st.booleans()) else valid["png8"]
    changes = data.draw(corruptions(len(png)))
    path = work / "damaged.png"
    path.write_bytes(_corrupt(png, changes))
    in_signature = min(offset for offset, _ in changes) < 8
    # caught by the chunk walk itself, not by luck in the decoder (the signature: not a PNG)
    with pytest.raises(InputError, match="expected" if in_signature else "corrupt|truncated"):
        rio.read_rgb(path)


def test_png_chunk_crc_mismatch_is_named(tmp_path):
    data = bytearray(_png_bytes(tmp_path / "a.png", RGB8))
    idat = data.index(b"IDAT")
    data[idat + 10] ^= 0x40
    (tmp_path / "a.png").write_bytes(bytes(data))
    error = _rejected(tmp_path / "a.png", "corrupt")
    assert f"CRC mismatch in chunk 'IDAT' at byte {idat - 4}" in str(error)
    _rejected(tmp_path / "a.png", "CRC mismatch", lambda p: rio.read_mask(p))


@given(data=st.data())
def test_jpeg_with_damaged_bytes_is_refused_or_decoded_never_crashes(work, valid, data):
    """JPEG has no checksum: a damaged byte in the scan data decodes to other pixels (libjpeg
    resynchronises), so the promise is only "an InputError or a full-size RGB array"."""
    jpeg = valid["jpeg"]
    path = work / "damaged.jpg"
    path.write_bytes(_corrupt(jpeg, data.draw(corruptions(len(jpeg)))))
    try:
        rgb = rio.read_rgb(path)
    except InputError as exc:
        assert str(path) in str(exc)
    else:
        assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[-1] == 3


# --------------------------------------------------------------------------- .npy
def _npy_bytes(array: np.ndarray) -> bytes:
    from io import BytesIO

    buf = BytesIO()
    np.save(buf, array, allow_pickle=True)
    return buf.getvalue()


def _header_with_shape(shape_text: str) -> bytes:
    good = _npy_bytes(np.ones((4, 5)))
    head = good[: good.index(b"\n") + 1].replace(b"(4, 5)", shape_text.encode())
    body = head[10:].rstrip()
    pad = -(10 + len(body) + 1) % 64
    return head[:8] + (len(body) + pad + 1).to_bytes(2, "little") + body + b" " * pad + b"\n"


NPY_CASES = {  # name: (bytes, what the message must say)
    "empty": (b"", "empty"),
    "random": (np.random.default_rng(3).bytes(300), "expected a .npy file"),
    "text": (b"1 2 3\n4 5 6\n", "a text file"),
    "cut_magic": (_npy_bytes(np.ones((4, 5)))[:4], "truncated"),
    "cut_header": (_npy_bytes(np.ones((4, 5)))[:50], "corrupt"),
    "cut_data": (_npy_bytes(np.ones((4, 5)))[:-8], "truncated"),
    "bad_header": (_header_with_shape("(4, 5")[:-2] + b"\n", "corrupt"),
    "negative_shape": (_header_with_shape("(4, -5)") + bytes(160), "non-negative"),
    "huge_shape": (_header_with_shape("(100000000000,)") + bytes(160), "truncated"),
    "npz": (b"PK\x03\x04" + bytes(100), ".npz archive"),
    "object": (_npy_bytes(np.array([[1, "a"]], dtype=object)), "Python objects"),
    "structured": (_npy_bytes(np.zeros((3, 3), dtype=[("a", "f4"), ("b", "i4")])), "structured"),
    "complex": (_npy_bytes(np.ones((3, 3), complex)), "complex"),
    "string": (_npy_bytes(np.array([["1", "2"], ["3", "4"]])), "strings"),
    "datetime": (_npy_bytes(np.zeros((3, 3), "datetime64[s]")), "datetimes"),
    "zero_size": (_npy_bytes(np.ones((0, 3, 3))), "at least one element|float"),
}
NPY_READERS = {
    "depth": rio.read_depth,
    "mask": rio.read_mask,
    "normals": rio.read_normals,
}


@pytest.mark.parametrize("case", sorted(NPY_CASES))
@pytest.mark.parametrize("task", sorted(NPY_READERS))
def test_bad_npy_is_an_input_error_for_every_task(tmp_path, case, task):
    data, match = NPY_CASES[case]
    path = tmp_path / f"{case}.npy"
    path.write_bytes(data)
    _rejected(
        path, match if task != "mask" or case != "zero_size" else "expected", NPY_READERS[task]
    )


@pytest.mark.parametrize(
    ("task", "array", "match"),
    [
        ("depth", np.ones((2, 3, 4)), r"\(H, W\) depth map"),
        ("depth", np.ones((2, 3), bool), "booleans"),
        ("mask", np.ones((2, 3)), "floats"),
        ("mask", np.ones((2, 3, 3), np.int32), r"integer labels \(H, W\)"),
        ("normals", np.ones((2, 3, 2)), r"normals \(H, W, 3\)"),
        ("normals", np.ones((2, 3, 3), np.int32), "floats"),
    ],
)
def test_npy_of_the_wrong_dtype_or_ndim_is_refused(tmp_path, task, array, match):
    np.save(tmp_path / "a.npy", array)
    _rejected(tmp_path / "a.npy", match, NPY_READERS[task])


def test_boolean_mask_npy_reads_as_zero_one(tmp_path):
    mask = np.random.default_rng(4).random((5, 6)) > 0.5
    np.save(tmp_path / "m.npy", mask)
    labels = rio.read_mask(tmp_path / "m.npy")
    assert labels.dtype == np.uint8 and np.array_equal(labels, mask.astype(np.uint8))


@given(cut=st.floats(0, 1, exclude_max=True), task=st.sampled_from(sorted(NPY_READERS)))
def test_npy_truncated_anywhere_is_refused(work, cut, task):
    data = _npy_bytes(np.ones((6, 7, 3), np.float32))
    path = work / "cut.npy"
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(InputError, match="expected"):
        NPY_READERS[task](path)


# --------------------------------------------------------------------------- PFM
_PFM_DATA = np.ones(20, "<f4").tobytes()
PFM_CASES = {
    "empty": (b"", "empty file"),
    "wrong_magic": (b"P6\n5 4\n-1\n" + _PFM_DATA, "'PF' or 'Pf'"),
    "no_dims": (b"Pf\n", "missing line"),
    "one_dim": (b"Pf\n5\n-1\n" + _PFM_DATA, "width height"),
    "negative_dims": (b"Pf\n-5 4\n-1\n" + _PFM_DATA, "width height"),
    "zero_dims": (b"Pf\n0 4\n-1\n", "positive width and height"),
    "huge_dims": (b"Pf\n99999999 99999999\n-1\n" + _PFM_DATA, "truncated"),
    "binary_dims": (b"Pf\n\xff\xfe\n-1\n" + _PFM_DATA, "width height"),
    "no_scale": (b"Pf\n5 4\n", "missing line"),
    "text_scale": (b"Pf\n5 4\nabc\n" + _PFM_DATA, "scale"),
    "zero_scale": (b"Pf\n5 4\n0\n" + _PFM_DATA, "non-zero scale"),
    "nan_scale": (b"Pf\n5 4\nnan\n" + _PFM_DATA, "finite"),
    "short_data": (b"Pf\n5 4\n-1\n" + _PFM_DATA[:-3], "truncated"),
    "extra_data": (b"Pf\n5 4\n-1\n" + _PFM_DATA + b"\0\0\0\0", "extra bytes"),
}


@pytest.mark.parametrize("case", sorted(PFM_CASES))
def test_bad_pfm_is_an_input_error(tmp_path, case):
    data, match = PFM_CASES[case]
    (tmp_path / "d.pfm").write_bytes(data)
    _rejected(tmp_path / "d.pfm", match, rio.read_pfm)
    _rejected(tmp_path / "d.pfm", match, rio.read_depth)


def test_pfm_with_crlf_header_reads(tmp_path):
    (tmp_path / "d.pfm").write_bytes(b"Pf\r\n5 4\r\n-1.0\r\n" + _PFM_DATA)
    assert np.array_equal(rio.read_pfm(tmp_path / "d.pfm"), np.ones((4, 5), np.float32))


@given(cut=st.floats(0, 1, exclude_max=True))
def test_pfm_truncated_anywhere_is_refused(work, cut):
    rio.write_pfm(work / "full.pfm", np.ones((5, 6, 3), np.float32))
    data = (work / "full.pfm").read_bytes()
    (work / "cut.pfm").write_bytes(data[: int(cut * len(data))])
    with pytest.raises(InputError, match="expected"):
        rio.read_depth(work / "cut.pfm")


# --------------------------------------------------------------------------- COCO JSON
@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty"),
        ("{not json", "invalid JSON"),
        ("[]", "expected COCO keypoint JSON"),
        ('{"images": []}', "missing key 'annotations'"),
        ('{"images": [], "annotations": [{"image_id": 1, "keypoints": [1, 2, 2]}]}', "lacks"),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}], '
            '"annotations": [{"image_id": 1, "keypoints": [1, 2], "bbox": [0, 0, 1, 1]}]}',
            "triples",
        ),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg"}], '
            '"annotations": [{"image_id": 1, "keypoints": [1, 2, 2], "bbox": [0, 0, 1, 1]}]}',
            "missing key 'height'",
        ),
    ],
)
def test_bad_coco_json_is_an_input_error(tmp_path, text, match):
    (tmp_path / "kp.json").write_text(text)
    _rejected(tmp_path / "kp.json", match, rio.read_coco_keypoints)


# --------------------------------------------------------------------------- the CLI
def _run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "rgbtask", *args], capture_output=True, text=True, timeout=120
    )


def test_cli_bad_files_exit_2_with_one_line_and_no_traceback(tmp_path):
    """A few representative cases through a real process: the exit code, one ``rgbtask: error:``
    line naming the file and the problem, no traceback, no output file."""
    _write_kind(tmp_path / "p.png", "palette")
    jpeg = _jpeg_bytes(tmp_path / "full.jpg", RGB8)
    (tmp_path / "cut.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (tmp_path / "cut.npy").write_bytes(_npy_bytes(make_scene(8, 8, seed=0).normals)[:-20])
    (tmp_path / "bad.pfm").write_bytes(PFM_CASES["text_scale"][0])
    (tmp_path / "manifest.json").write_text('{"codec": {"name": "normals/xyz"')
    rio.write_png(tmp_path / "ok.png", RGB8)
    out = tmp_path / "out.npy"
    cases = [
        (["decode", "p.png", "out.npy", "--codec", "normals/xyz"], "p.png", "palette"),
        (["decode", "cut.jpg", "out.npy", "--codec", "normals/xyz"], "cut.jpg", "truncated"),
        (["encode", "cut.npy", "out.png", "--codec", "normals/xyz"], "cut.npy", "truncated"),
        (["encode", "bad.pfm", "out.png", "--codec", "depth/cubewalk"], "bad.pfm", "scale"),
        (["decode", "ok.png", "out.npy", "--manifest", "manifest.json"], "manifest.json", "JSON"),
    ]
    for args, name, problem in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "rgbtask", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rgbtask: error: "), proc.stderr
        assert name in lines[0] and problem in lines[0], lines[0]
        assert not out.exists() and not (tmp_path / "out.png").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


BAD_DECODE_INPUTS = ["palette", "gray8", "gray16", "1bit", "cmyk_jpeg", "float_tiff"]


@pytest.mark.parametrize("kind", BAD_DECODE_INPUTS)
def test_cli_decode_refuses_non_rgb_images(tmp_path, capsys, kind):
    name = WRONG_KINDS[kind][0]
    _write_kind(tmp_path / name, kind)
    out = tmp_path / "out.npy"
    assert main(["decode", str(tmp_path / name), str(out), "--codec", "normals/xyz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rgbtask: error: expected") and name in err and not out.exists()


def test_cli_decode_16_bit_png_exactly(tmp_path):
    codec = rgbtask.get_codec("normals/xyz", bits=16)
    normals = make_scene(16, 20, seed=1).normals
    rio.write_png(tmp_path / "n.png", codec.encode(normals))
    args = ["decode", str(tmp_path / "n.png"), str(tmp_path / "n.npy")]
    assert main([*args, "--codec", "normals/xyz", "--param", "bits=16"]) == 0
    expected = codec.decode(codec.encode(normals))
    assert np.array_equal(np.load(tmp_path / "n.npy"), expected, equal_nan=True)


def test_cli_unwritable_outputs_are_clean_errors(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "n.npy", make_scene(8, 8, seed=0).normals)
    src = str(tmp_path / "n.npy")
    (tmp_path / "folder.png").mkdir()
    (tmp_path / "file").write_text("x")
    cases = [
        (str(tmp_path / "folder.png"), "directory"),
        (str(tmp_path / "file" / "out.png"), "a file"),
    ]
    for output, problem in cases:
        assert main(["encode", src, output, "--codec", "normals/xyz"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("rgbtask: error: ") and problem in err and output in err

    real_open = os.open

    def denied(path, *args, **kwargs):
        if ".rgbtask-" in str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    assert main(["encode", src, str(tmp_path / "out.png"), "--codec", "normals/xyz"]) == 2
    err = capsys.readouterr().err
    assert "Permission denied" in err and "out.png" in err and not (tmp_path / "out.png").exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_cli_read_only_folder_is_a_clean_error(tmp_path, capsys):
    np.save(tmp_path / "n.npy", make_scene(8, 8, seed=0).normals)
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o500)
    try:
        out = str(tmp_path / "ro" / "out.png")
        assert main(["encode", str(tmp_path / "n.npy"), out, "--codec", "normals/xyz"]) == 2
        assert "Permission denied" in capsys.readouterr().err
    finally:
        (tmp_path / "ro").chmod(0o700)


def test_cli_disk_full_mid_write_leaves_nothing(tmp_path, capsys, monkeypatch):
    np.save(tmp_path / "n.npy", make_scene(8, 8, seed=0).normals)
    _fail_writes_halfway(monkeypatch)
    out = tmp_path / "out" / "n.png"
    assert main(["encode", str(tmp_path / "n.npy"), str(out), "--codec", "normals/xyz"]) == 2
    err = capsys.readouterr().err
    assert err == f"rgbtask: error: No space left on device: {str(out)!r}\n"
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------- writes and temp files
def _fail_writes_halfway(monkeypatch):
    """Every ``Path.write_bytes`` writes half its data, then fails as a full disk does."""

    def half(self, data):
        with open(self, "wb") as f:
            f.write(bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(pathlib.Path, "write_bytes", half)


def test_failed_write_leaves_neither_output_nor_temp(tmp_path, monkeypatch):
    _fail_writes_halfway(monkeypatch)
    with pytest.raises(OSError, match="No space left") as info:
        rio.write_png(tmp_path / "a.png", RGB8)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "a.png")
    assert list(tmp_path.iterdir()) == []


def test_temp_names_are_recognisable_and_outputs_get_normal_permissions(tmp_path, monkeypatch):
    seen = []

    def spy(tmp: Path) -> None:
        seen.append(tmp.name)
        tmp.write_text("x")

    rio.write_atomic(tmp_path / "out.json", spy)
    host = rio._host()
    assert seen[0].startswith(f".out.json.rgbtask-{host}-{os.getpid()}-")
    assert seen[0].endswith(".part") and rio._PARTIAL.match(seen[0])
    if os.name == "posix":
        umask = os.umask(0)
        os.umask(umask)
        assert (tmp_path / "out.json").stat().st_mode & 0o777 == 0o666 & ~umask


def test_npy_output_keeps_its_name(tmp_path):
    rio.write_value(tmp_path / "v.npy", np.arange(6).reshape(2, 3))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v.npy"]
    assert np.array_equal(np.load(tmp_path / "v.npy"), np.arange(6).reshape(2, 3))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.mark.skipif(os.name != "posix", reason="process liveness is probed with POSIX signals")
def test_stale_partials_of_dead_processes_only_are_removed(normals_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    host = rio._host()
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        names = {
            "dead": f".frame0.png.rgbtask-{host}-{_dead_pid()}-0123abcd.part",
            "live": f".frame1.png.rgbtask-{host}-{sleeper.pid}-0123abcd.part",
            "mine": f".frame2.png.rgbtask-{host}-{os.getpid()}-0123abcd.part",
            "other_host": f".frame0.png.rgbtask-{host}x-{_dead_pid()}-0123abcd.part",
            "not_ours": ".frame0.png.tmp",
        }
        for name in names.values():
            (out / name).write_bytes(b"half a png")
        result = convert(
            [str(normals_dir / "*.npy")], out, "normals/xyz", workers=1, progress=False
        )
        assert result.ok and len(result.converted) == 3
        assert result.removed_partials == [str(out / names["dead"])]
        left = {p.name for p in out.iterdir()}
        assert left == {
            "frame0.png",
            "frame1.png",
            "frame2.png",
            "manifest.json",
            *(names[k] for k in ("live", "mine", "other_host", "not_ours")),
        }
    finally:
        sleeper.kill()
        sleeper.wait()


# --------------------------------------------------------------------------- convert
def test_convert_reports_corrupt_inputs_and_converts_the_rest(normals_dir, tmp_path, capsys):
    (normals_dir / "cut.npy").write_bytes((normals_dir / "frame0.npy").read_bytes()[:-50])
    (normals_dir / "text.npy").write_text("not an array")
    (normals_dir / "cplx.npy").write_bytes(_npy_bytes(np.ones((4, 4, 3), complex)))
    out = tmp_path / "out"
    args = ["convert", str(normals_dir / "*.npy"), "--out", str(out), "--codec", "normals/xyz"]
    assert main([*args, "--workers", "2"]) == 1
    err = capsys.readouterr().err
    for name, problem in [("cut.npy", "truncated"), ("text.npy", "text"), ("cplx.npy", "complex")]:
        line = next(ln for ln in err.splitlines() if name in ln)
        assert line.startswith("rgbtask: failed: ") and problem in line and "InputError" in line
    assert sorted(p.name for p in out.iterdir()) == [
        "frame0.png",
        "frame1.png",
        "frame2.png",
        "manifest.json",
    ]
    codec = rgbtask.get_codec(json.loads((out / "manifest.json").read_text())["codec"])
    for i in range(3):
        expected = codec.encode(np.load(normals_dir / f"frame{i}.npy"))
        assert np.array_equal(rio.read_rgb(out / f"frame{i}.png"), expected)


def test_convert_into_a_folder_with_a_corrupt_manifest_is_refused(normals_dir, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    for text, problem in [('{"codec": ', "JSON"), ("[1, 2]", "manifest object")]:
        (out / "manifest.json").write_text(text)
        args = ["convert", str(normals_dir / "*.npy"), "--out", str(out), "--codec", "normals/xyz"]
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.startswith("rgbtask: error: expected") and problem in err
        assert "manifest.json" in err and "another folder" in err
        assert (out / "manifest.json").read_text() == text  # never overwritten
        assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_convert_with_a_bad_coco_file_converts_the_good_one(tmp_path):
    good = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 32, "width": 32}],
        "annotations": [
            {"image_id": 1, "keypoints": [10, 10, 2] * 17, "bbox": [0, 0, 32, 32], "id": 1}
        ],
    }
    (tmp_path / "good.json").write_text(json.dumps(good))
    (tmp_path / "bad.json").write_text("{broken")
    codec = {"name": "keypoints/heatmap", "size": [32, 32], "num_keypoints": 17}
    result = convert(
        [tmp_path / "good.json", tmp_path / "bad.json"], tmp_path / "out", codec, progress=False
    )
    assert result.converted == [str(tmp_path / "out" / "a.png")]
    assert list(result.failed) == [str(tmp_path / "bad.json")]
    assert "invalid JSON" in result.failed[str(tmp_path / "bad.json")]


def test_convert_write_failure_leaves_neither_output_nor_temp(normals_dir, tmp_path, monkeypatch):
    _fail_writes_halfway(monkeypatch)
    out = tmp_path / "out"
    result = convert([str(normals_dir / "*.npy")], out, "normals/xyz", workers=1, progress=False)
    assert result.converted == [] and len(result.failed) == 3
    assert all("No space left on device" in e for e in result.failed.values())
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json"]


def test_convert_records_skipped_outputs_in_the_manifest(normals_dir, tmp_path):
    out = tmp_path / "out"
    convert([str(normals_dir / "frame0.npy")], out, "normals/xyz", progress=False)
    (out / "manifest.json").unlink()  # as an older version could leave it after a kill
    convert([str(normals_dir / "*.npy")], out, "normals/xyz", workers=1, progress=False)
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(manifest["inputs"]) == ["frame0", "frame1", "frame2"]


# A convert on a slow disk: every Path.write_bytes writes its data in 8 pieces, 10 ms apart, so
# that a kill lands mid-write. A writer that wrote under the final name would leave a cut PNG there.
_SLOW_DISK = """
import pathlib, sys, time

def slow_write_bytes(self, data):
    data = bytes(data)
    step = max(1, len(data) // 8)
    with open(self, "wb") as f:
        for start in range(0, len(data), step):
            f.write(data[start : start + step])
            f.flush()
            time.sleep(0.01)
    return len(data)

pathlib.Path.write_bytes = slow_write_bytes
from rgbtask.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and process groups are POSIX")
@pytest.mark.parametrize("how", ["slow_disk", "worker_processes"])
def test_convert_killed_mid_run_leaves_only_complete_outputs(tmp_path, how):
    """``kill -9`` a converting process group: every file under a final name is a complete PNG
    that decodes to exactly what the codec encodes, the manifest already names the codec, and a
    rerun removes the dead run's temp files (only those) and finishes the rest."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    count = 30 if how == "slow_disk" else 40
    base = make_scene(192, 256, seed=0).normals
    for i in range(count):
        np.save(src / f"f{i:03d}.npy", np.roll(base, i, axis=1))
    args = ["convert", str(src / "*.npy"), "--out", str(out), "--codec", "normals/xyz"]
    args += ["--param", "bits=16"]
    if how == "slow_disk":
        command = [sys.executable, "-c", _SLOW_DISK, *args, "--workers", "1"]
    else:
        command = [sys.executable, "-m", "rgbtask", *args, "--workers", "2"]
    proc = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the kill reaches the workers too
    )
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if out.is_dir() and len(list(out.glob("*.png"))) >= 4:
                break
            time.sleep(0.002)
        time.sleep(0.035)  # into the next write
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    finals = sorted(out.glob("*.png"))
    assert 4 <= len(finals) < count, "the run must be killed mid-way for this test to mean much"
    codec = rgbtask.get_codec(json.loads((out / "manifest.json").read_text())["codec"])
    assert codec == rgbtask.get_codec("normals/xyz", bits=16)
    for path in finals:
        expected = codec.encode(np.load(src / f"{path.stem}.npy"))
        assert np.array_equal(rio.read_rgb(path), expected), path.name
    leftovers = sorted(p.name for p in out.iterdir() if p.name.endswith(".part"))
    if how == "slow_disk":
        assert leftovers, "the kill should have landed inside a write"
    owners = {int(rio._PARTIAL.match(name)["pid"]) for name in leftovers}
    while owners and time.monotonic() < deadline:  # SIGKILL is delivered asynchronously
        owners = {pid for pid in owners if rio._pid_alive(pid)}
        time.sleep(0.01)
    result = convert([str(src / "*.npy")], out, codec, workers=1, progress=False)
    assert result.ok and len(result.skipped) == len(finals)
    assert sorted(Path(p).name for p in result.removed_partials) == leftovers
    assert not any(p.name.endswith(".part") for p in out.iterdir())
    assert len(list(out.glob("*.png"))) == count
