"""File I/O: task values from the files datasets ship, and images written safely.

* depth: 16-bit PNG (``value / depth_scale`` metres, 0 = invalid -> NaN), ``.npy``, ``.pfm``, and
  ``.exr`` where the installed OpenCV supports it;
* masks: PNG (``L``, ``I;16``, palette ``P`` whose indices are the labels, or an RGB COCO panoptic PNG
  read as ``R + 256 G + 256^2 B``), ``.npy``;
* normals: ``.npy``, ``.exr`` (float, ``(H, W, 3)``);
* keypoints: COCO JSON (``annotations[].keypoints`` as ``(N, 17, 2)`` plus visibility, per image);
* encoded images to decode: :func:`read_rgb`, 8- or 16-bit RGB only;
* palette-mode ("P") PNGs as VOC ships its label maps: the pixel values are the labels and the file's
  palette holds the colours (:func:`write_palette_png`, :func:`read_palette_png`).

Bad files are an :class:`~rgbtask.errors.InputError` that names the file and what is wrong with it,
never a partly decoded array: every PNG chunk's CRC is checked and the file must end with its
``IEND`` chunk; a JPEG must be complete (Pillow's full decode, plus an end-of-image marker after the
last scan, whatever ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` says); ``.npy`` headers are checked
against the file's size before anything is allocated; PFM headers are parsed strictly.

Every writer writes to a temporary name in the destination folder,
``.<name>.rgbtask-<host>-<pid>-<random>.part``, flushes it to disk and renames it into place, so an
interrupted run never leaves a half-written file under the final name;
:func:`remove_stale_partials` deletes the temporary files of processes that died on this host.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import socket
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import InputError

__all__ = [
    "partial_name",
    "read_coco_keypoints",
    "read_depth",
    "read_image",
    "read_mask",
    "read_normals",
    "read_palette_png",
    "read_pfm",
    "read_rgb",
    "read_value",
    "remove_stale_partials",
    "write_atomic",
    "write_palette_png",
    "write_pfm",
    "write_png",
    "write_value",
]


def _cv2():
    # OpenCV reads OpenEXR only when asked before it is first imported.
    if "cv2" not in sys.modules:
        os.environ.setdefault("OPENCV_IO_ENABLE_OPENEXR", "1")
    import cv2

    return cv2


def _missing(path: Path) -> None:
    if path.is_dir():
        raise InputError(f"expected a file, got the directory {str(path)!r}")
    if not path.is_file():
        raise InputError(f"expected an existing file, got {str(path)!r}")


def _open_binary(path: Path, what: str):
    """The file opened for reading in binary, or an InputError that says why not."""
    _missing(path)
    try:
        return open(path, "rb")  # the caller's with-block closes it
    except OSError as exc:
        raise InputError(f"expected {what}, got {str(path)!r}: {exc.strerror}") from None


def _read_bytes(path: Path, what: str) -> bytes:
    """The whole file, or an InputError that says why not (missing, unreadable, empty)."""
    _missing(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"expected to read {what}, got {str(path)!r}: {exc.strerror}") from None
    if not data:
        raise InputError(f"expected {what}, got an empty (0-byte) file {str(path)!r}")
    return data


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# colour type -> (what it is, the bit depths the PNG specification allows for it)
_PNG_COLOUR_TYPES = {
    0: ("grayscale", (1, 2, 4, 8, 16)),
    2: ("RGB", (8, 16)),
    3: ("palette", (1, 2, 4, 8)),
    4: ("grayscale + alpha", (8, 16)),
    6: ("RGBA", (8, 16)),
}


@dataclass(frozen=True)
class _PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int


def _check_png(data: bytes, path: Path) -> _PngHeader:
    """Walk every chunk of a PNG: lengths inside the file, CRCs, IHDR first, IDAT, IEND last."""

    def truncated(detail: str) -> InputError:
        return InputError(
            f"expected a complete PNG, got a truncated file {str(path)!r} ({len(data)} bytes): "
            f"{detail}; re-export or re-download it"
        )

    def corrupt(detail: str) -> InputError:
        return InputError(
            f"expected a valid PNG, got a corrupt file {str(path)!r}: {detail}; "
            "re-export or re-download it"
        )

    if not data.startswith(_PNG_SIGNATURE):
        raise truncated("it ends inside the 8-byte PNG signature")
    view = memoryview(data)
    pos, header, has_idat = 8, None, False
    while True:
        if pos + 8 > len(data):
            last = "the IHDR chunk" if header is None else "its IEND chunk"
            raise truncated(f"it ends at byte {len(data)} before {last}")
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        name = kind.decode("latin-1")
        if not kind.isalpha():
            raise corrupt(f"invalid chunk type {kind!r} at byte {pos}")
        if length > 2**31 - 1:
            raise corrupt(f"chunk {name!r} at byte {pos} declares an impossible length {length}")
        end = pos + 12 + length
        if end > len(data):
            raise truncated(
                f"chunk {name!r} at byte {pos} needs {length + 12} bytes, the file ends "
                f"{len(data) - pos} bytes into it"
            )
        stored_crc = int.from_bytes(data[end - 4 : end], "big")
        if zlib.crc32(view[pos + 4 : end - 4]) != stored_crc:
            raise corrupt(f"CRC mismatch in chunk {name!r} at byte {pos} (the data was damaged)")
        if header is None:
            if kind != b"IHDR" or length != 13:
                raise corrupt(f"expected the IHDR chunk first, got {name!r}")
            width, height, bit_depth, colour_type = struct.unpack(">IIBB", data[16:26])
            kind_name, depths = _PNG_COLOUR_TYPES.get(colour_type, ("?", ()))
            if not (1 <= width <= 2**31 - 1 and 1 <= height <= 2**31 - 1):
                raise corrupt(f"image size {width}x{height}")
            if bit_depth not in depths:
                raise corrupt(f"bit depth {bit_depth} with colour type {colour_type} ({kind_name})")
            header = _PngHeader(width, height, bit_depth, colour_type)
        elif kind == b"IDAT":
            has_idat = True
        elif kind == b"IEND":
            break
        pos = end
    if not has_idat:
        raise corrupt("it holds no image data (no IDAT chunk)")
    return header


def _check_jpeg_end(data: bytes, path: Path) -> None:
    """A JPEG's last scan must be followed by its end-of-image marker (scan data cannot contain
    ``FF D9``: JPEG stuffs every ``FF`` byte there)."""
    if data.rfind(b"\xff\xd9") <= data.rfind(b"\xff\xda"):
        raise InputError(
            f"expected a complete JPEG, got a truncated file {str(path)!r} ({len(data)} bytes): "
            "no end-of-image marker after the last scan; re-export or re-download it"
        )


def _describe_unknown(data: bytes) -> str:
    head = data[:512]
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r\n" for c in text):
        return f"a text file (starts with {text[:24]!r})"
    return f"unrecognised contents (starts with {data[:8]!r})"


def _open_image(path: Path, what: str = "an image file"):
    """``(data, PIL image (opened, not loaded), PNG header or None)`` for an image file whose
    structure was checked; InputError for anything that is not a complete image."""
    data = _read_bytes(path, what)
    png = None
    if data.startswith(_PNG_SIGNATURE[: len(data)]):  # a PNG, or a PNG cut inside its signature
        png = _check_png(data, path)
    elif data.startswith(b"\xff\xd8\xff"):
        _check_jpeg_end(data, path)
    elif data in (b"\xff", b"\xff\xd8"):
        raise InputError(f"expected a complete JPEG, got a truncated file {str(path)!r}")
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(BytesIO(data))
    except UnidentifiedImageError:
        raise InputError(
            f"expected an image file (PNG, JPEG, TIFF, WebP, ...), got {_describe_unknown(data)} "
            f"in {str(path)!r}"
        ) from None
    except Image.DecompressionBombError as exc:
        raise InputError(f"expected an image of a sane size, got {str(path)!r}: {exc}") from None
    except Exception as exc:  # Pillow's parsers raise many types for damaged headers
        raise InputError(
            f"expected a readable image, got a corrupt file {str(path)!r}: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    return data, image, png


def _load(image, path: Path) -> None:
    """Decode every pixel with Pillow; a truncated or damaged stream is an InputError."""
    try:
        image.load()
    except Exception as exc:  # OSError, SyntaxError, ValueError, EOFError, zlib errors, ...
        raise InputError(
            f"expected a complete image, got a truncated or corrupt file {str(path)!r}: {exc}; "
            "re-export or re-download it"
        ) from None


def _cv2_decode(data: bytes, path: Path) -> np.ndarray:
    cv2 = _cv2()
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(f"expected an image OpenCV can decode, got {str(path)!r}: {exc}") from None
    if image is None:
        raise InputError(f"expected an image OpenCV can decode, got {str(path)!r}")
    return image


def read_image(path: str | Path) -> np.ndarray:
    """An image file as stored: ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16 (palette PNGs give
    their indices; 32-bit integer and float images, such as a TIFF or a PFM, give int32 and float32,
    whatever the file's name says, since Pillow reads the content). Alpha is dropped.

    This is the reader for task files stored as images (depth and label maps). An encoded image to
    decode is read with :func:`read_rgb`, which refuses everything that is not RGB.
    """
    path = Path(path)
    data, image, png = _open_image(path)
    with image:
        if image.mode in ("P", "L", "1", "I;16", "I;16B", "I;16L", "I"):
            _load(image, path)
            arr = np.array(image)
            return arr.astype(np.uint8) if arr.dtype == bool else arr
        if png is None:
            _load(image, path)  # the PNG's CRCs vouch for it; anything else is decoded fully
    img = _cv2_decode(data, path)
    if img.ndim == 3:
        img = img[..., 2::-1] if img.shape[-1] >= 3 else img
    return np.ascontiguousarray(img)


_MODE_NAMES = {
    "1": "a 1-bit black-and-white image",
    "I;16": "a 16-bit grayscale image",
    "I;16L": "a 16-bit grayscale image",
    "I;16B": "a 16-bit grayscale image",
    "I;16N": "a 16-bit grayscale image",
    "LA": "a grayscale image with alpha",
    "La": "a grayscale image with alpha",
    "I": "a 32-bit integer image",
    "F": "a 32-bit float image",
    "CMYK": "a CMYK image",
}
_ALPHA_HINT = (
    "if the alpha channel means nothing, drop it deliberately, e.g. `magick IN -alpha off OUT.png` "
    "or cv2.imwrite(OUT, cv2.imread(IN, cv2.IMREAD_UNCHANGED)[..., :3])"
)


def _not_rgb(path: Path, image, png: _PngHeader | None) -> InputError:
    mode = image.mode
    if mode in ("P", "PA"):
        return InputError(
            f"expected an RGB image to decode, got a palette ('P' mode) {image.format} in "
            f"{str(path)!r}: its pixels are palette indices, not colours. A label map stored as "
            "indices (VOC style) is read with rgbtask.io.read_palette_png (or encoded from the "
            "file with `rgbtask encode`); to decode the colours it shows, convert it to RGB "
            "first, e.g. PIL.Image.open(IN).convert('RGB').save(OUT)"
        )
    if mode == "L":
        bits = png.bit_depth if png is not None else 8
        what = f"an {bits}-bit grayscale image" if bits == 8 else f"a {bits}-bit grayscale image"
    else:
        what = _MODE_NAMES.get(mode, f"an image in mode {mode!r}")
    if mode in ("1", "L", "I;16", "I;16L", "I;16B", "I;16N", "LA", "La", "I", "F"):
        hint = (
            "codecs decode 3-channel RGB codes. A grayscale file is usually a task value "
            "itself (a depth or label map): encode it with `rgbtask encode`; an encoded image that "
            "was saved as grayscale must be converted back to RGB first"
        )
    elif mode == "CMYK":
        hint = "save it as RGB (a CMYK JPEG holds print separations, not RGB codes)"
    else:
        hint = "convert it to 8- or 16-bit RGB first"
    return InputError(
        f"expected an 8- or 16-bit RGB image to decode, got {what} in {str(path)!r}: {hint}"
    )


def _stored_bits(image, png: _PngHeader | None) -> int:
    if png is not None:
        return png.bit_depth
    if image.format == "TIFF":
        bits = image.tag_v2.get(258, (8,))
        bits = bits if isinstance(bits, tuple) else (bits,)
        return max(int(b) for b in bits)
    return 8


def read_rgb(path: str | Path) -> np.ndarray:
    """An encoded image to decode: ``(H, W, 3)`` uint8 or uint16, in RGB order, exactly as stored.

    Parameters
    ----------
    path : an 8- or 16-bit RGB or RGBA image (PNG; also JPEG, TIFF, WebP, BMP and whatever else
        Pillow reads in RGB). 16-bit PNG and TIFF keep all 16 bits.

    Returns
    -------
    The pixels, ``(H, W, 3)``; EXIF orientation is ignored (codes are read as stored) and a fully
    opaque alpha channel is dropped.

    Raises
    ------
    InputError
        naming the file, for anything that is not a complete RGB image: an empty, truncated or
        corrupt file; palette ("P") images, whose pixels are indices (VOC label maps:
        :func:`read_palette_png`); 1/2/4/8/16-bit grayscale, 32-bit integer or float, CMYK,
        grayscale + alpha; animated or multi-page files; an alpha channel with any transparent
        pixel (the colour under it is undefined).
    """
    path = Path(path)
    data, image, png = _open_image(path, "an RGB image file")
    with image:
        if image.mode not in ("RGB", "RGBA"):
            raise _not_rgb(path, image, png)
        frames = getattr(image, "n_frames", 1)
        if frames > 1 and image.format != "MPO":  # MPO: a camera JPEG plus previews; frame 0
            raise InputError(
                f"expected a single image to decode, got {frames} frames (an animated or "
                f"multi-page {image.format}) in {str(path)!r}; save the frame you mean on its own"
            )
        bits = _stored_bits(image, png)
        width, height = image.size
        if bits == 16:
            if png is None:
                _load(image, path)  # checks a TIFF's data; the pixels come from OpenCV below
            bgr = _cv2_decode(data, path)
            if bgr.dtype != np.uint16 or bgr.ndim != 3 or bgr.shape[:2] != (height, width):
                raise InputError(
                    f"expected 16-bit RGB pixels in {str(path)!r}, OpenCV decoded "
                    f"{bgr.dtype} {bgr.shape}"
                )
            rgb = bgr[..., [2, 1, 0, 3]] if bgr.shape[-1] == 4 else bgr[..., 2::-1]
        elif bits == 8:
            _load(image, path)
            rgb = np.asarray(image)
            key = image.info.get("transparency")
            if image.mode == "RGB" and isinstance(key, tuple) and len(key) == 3:
                alpha = np.where(np.all(rgb == np.asarray(key, rgb.dtype), axis=-1), 0, 255)
                rgb = np.dstack([rgb, alpha.astype(np.uint8)])
        else:
            raise InputError(
                f"expected 8 or 16 bits per channel to decode, got {bits} in {str(path)!r}"
            )
    if rgb.shape[-1] == 4:
        alpha = rgb[..., 3]
        transparent = alpha != np.iinfo(rgb.dtype).max
        if transparent.any():
            row, col = np.argwhere(transparent)[0]
            raise InputError(
                f"expected an opaque image to decode, got {int(transparent.sum())} transparent "
                f"pixel(s) (alpha below {np.iinfo(rgb.dtype).max}; the first at row {row}, column "
                f"{col}) in {str(path)!r}: the colour under a transparent pixel is undefined; "
                + _ALPHA_HINT
            )
        rgb = rgb[..., :3]
    return np.ascontiguousarray(rgb)


def _parse_error(path: Path, what: str) -> InputError:
    return InputError(f"expected a PFM file, got a bad header in {str(path)!r}: {what}")


def read_pfm(path: str | Path) -> np.ndarray:
    """A Portable Float Map (``Pf`` gray or ``PF`` colour), flipped to top-row-first.

    The header is three lines: ``PF`` or ``Pf``; ``width height``; the scale, whose sign gives the
    byte order (negative: little-endian) and which must be a finite non-zero number. The data must
    hold exactly ``width * height * channels`` 32-bit floats; anything else is an InputError.
    """
    path = Path(path)
    with _open_binary(path, "a readable PFM file") as f:
        header = f.readline(16).strip()
        if header not in (b"PF", b"Pf"):
            got = "an empty file" if not header else f"{header[:8]!r}"
            raise InputError(
                f"expected a PFM file (first line 'PF' or 'Pf'), got {got} in {str(path)!r}"
            )
        dims_line = f.readline(64)
        dims = re.match(rb"^\s*(\d{1,10})\s+(\d{1,10})\s*$", dims_line)
        if not dims:
            got = repr(dims_line.strip()[:40]) if dims_line else "a missing line"
            raise _parse_error(path, f"line 2 should be 'width height', got {got}")
        width, height = int(dims.group(1)), int(dims.group(2))
        if width < 1 or height < 1:
            raise _parse_error(path, f"expected a positive width and height, got {width}x{height}")
        scale_line = f.readline(64)
        try:
            scale = float(scale_line.strip().decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            got = repr(scale_line.strip()[:40]) if scale_line else "a missing line"
            raise _parse_error(path, f"line 3 should be the scale (e.g. -1.0), got {got}") from None
        if not math.isfinite(scale) or scale == 0:
            raise _parse_error(path, f"expected a finite non-zero scale, got {scale}")
        channels = 3 if header == b"PF" else 1
        expected = width * height * channels * 4
        available = os.fstat(f.fileno()).st_size - f.tell()
        if available != expected:
            problem = "truncated" if available < expected else "extra bytes after the data"
            raise InputError(
                f"expected {width}x{height}x{channels} floats ({expected} bytes) of data in "
                f"{str(path)!r}, got {available} bytes ({problem})"
            )
        data = np.fromfile(f, dtype="<f4" if scale < 0 else ">f4", count=expected // 4)
    shape = (height, width, channels) if channels == 3 else (height, width)
    return np.flipud(data.reshape(shape)).astype(np.float32)


_KIND_NAMES = {
    "b": "booleans",
    "i": "integers",
    "u": "integers",
    "f": "floats",
    "c": "complex numbers",
    "O": "Python objects",
    "U": "strings",
    "S": "bytes",
    "V": "raw bytes",
    "M": "datetimes",
    "m": "timedeltas",
}


@dataclass(frozen=True)
class _NpySpec:
    """What one task's ``.npy`` must hold: a name, the dtype kinds, and how to make one."""

    what: str
    kinds: str
    wanted: str
    example: str


_DEPTH_NPY = _NpySpec("a depth map", "iuf", "real numbers", "depth.astype(np.float32)")
_MASK_NPY = _NpySpec("labels", "iub", "integers (or booleans)", "labels.astype(np.int32)")
_NORMALS_NPY = _NpySpec("normals", "f", "floats", "normals.astype(np.float32)")


def _read_npy(path: Path, spec: _NpySpec) -> np.ndarray:
    """A ``.npy`` array of one of the dtype kinds ``spec`` allows, with its header checked against the file
    before anything is allocated; InputError (naming the file) for anything else."""
    fmt = np.lib.format
    with _open_binary(path, "a readable .npy file") as f:
        size = os.fstat(f.fileno()).st_size
        magic = f.read(6)
        if not magic:
            raise InputError(f"expected a .npy array, got an empty (0-byte) file {str(path)!r}")
        if magic.startswith(b"PK\x03\x04"):
            raise InputError(
                f"expected a .npy array, got a .npz archive in {str(path)!r}: take the array out "
                "(np.load(path)['name']) and np.save it on its own"
            )
        if fmt.MAGIC_PREFIX.startswith(magic) and len(magic) < len(fmt.MAGIC_PREFIX):
            raise InputError(
                f"expected a complete .npy file, got a truncated one ({size} bytes) in {str(path)!r}"
            )
        if magic != fmt.MAGIC_PREFIX:
            raise InputError(
                f"expected a .npy file (starting with {fmt.MAGIC_PREFIX!r}), got "
                f"{_describe_unknown(magic + f.read(506))} in {str(path)!r}"
            )
        f.seek(0)
        try:
            version = fmt.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = fmt.read_array_header_1_0(f)
            elif version == (2, 0):
                shape, _, dtype = fmt.read_array_header_2_0(f)
            else:
                shape = dtype = None  # a newer format: np.load below checks it
        except Exception as exc:  # ValueError, EOFError, tokenize.TokenError, SyntaxError, ...
            raise InputError(
                f"expected a valid .npy header in {str(path)!r}, got a corrupt one "
                f"({type(exc).__name__}: {exc})"
            ) from None
        if dtype is not None:
            if any(d < 0 for d in shape):
                raise InputError(
                    f"expected non-negative dimensions in the .npy header of {str(path)!r}, got "
                    f"shape {shape} (corrupt header)"
                )
            needed = math.prod(shape) * dtype.itemsize
            if size - f.tell() < needed:
                raise InputError(
                    f"expected {needed} bytes of array data for shape {shape} {dtype} in "
                    f"{str(path)!r}, got {size - f.tell()} (truncated?)"
                )
            if dtype.hasobject or dtype.names or dtype.kind not in spec.kinds:
                raise _bad_dtype(path, spec, dtype)
        f.seek(0)
        try:
            array = np.load(f, allow_pickle=False)
        except Exception as exc:  # ValueError, EOFError, MemoryError, ...
            raise InputError(
                f"expected a readable .npy array in {str(path)!r}, got {type(exc).__name__}: {exc}"
            ) from None
    if not isinstance(array, np.ndarray):
        raise InputError(f"expected one array in {str(path)!r}, got {type(array).__name__}")
    if array.dtype.hasobject or array.dtype.names or array.dtype.kind not in spec.kinds:
        raise _bad_dtype(path, spec, array.dtype)
    if array.size == 0:
        raise InputError(
            f"expected {spec.what} with at least one element, got shape {array.shape} in "
            f"{str(path)!r}"
        )
    return array


def _bad_dtype(path: Path, spec: _NpySpec, dtype: np.dtype) -> InputError:
    got = "structured records" if dtype.names else _KIND_NAMES.get(dtype.kind, "values")
    return InputError(
        f"expected {spec.what} as {spec.wanted}, got {got} ({dtype}) in {str(path)!r}; save a "
        f"plain numeric array, e.g. np.save(path, {spec.example})"
    )


def _imread_exr(path: Path) -> np.ndarray:
    _missing(path)
    cv2 = _cv2()
    try:
        image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    except cv2.error as exc:
        raise InputError(
            f"expected an EXR file OpenCV can read, got {str(path)!r}: {exc}"
        ) from None
    if image is None:
        raise InputError(f"expected an EXR file this OpenCV build can read, got {str(path)!r}")
    if image.dtype.kind != "f":
        raise InputError(f"expected float data in the EXR {str(path)!r}, got {image.dtype}")
    return image


def read_depth(path: str | Path, depth_scale: float | None = None) -> np.ndarray:
    """Depth in metres, float64, NaN where invalid (0 in integer PNGs, non-finite or <= 0 in floats).

    Integer images need ``depth_scale`` (stored value / depth_scale = metres: 1000 for NYU's mm,
    256 for KITTI). A ``.npy`` must hold a real-valued (integer or float) ``(H, W)`` array.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        depth = _read_npy(path, _DEPTH_NPY)
    elif suffix == ".pfm":
        depth = read_pfm(path)
    elif suffix == ".exr":
        depth = _imread_exr(path)
        if depth.ndim == 3:
            depth = depth[..., 0]
    else:
        depth = read_image(path)
        if depth.ndim != 2 or depth.dtype.kind not in "ui":
            raise InputError(
                f"expected a single-channel 8/16-bit depth image, got {depth.dtype} "
                f"{depth.shape} in {str(path)!r}"
            )
        if depth_scale is None:
            raise InputError(
                f"expected depth_scale for integer depth {str(path)!r} (value / scale = metres, "
                "e.g. 1000 for millimetres, 256 for KITTI)"
            )
        return np.where(depth > 0, depth / float(depth_scale), np.nan)
    if depth.ndim != 2:
        raise InputError(
            f"expected a (H, W) depth map, got shape {depth.shape} in {str(path)!r}"
            + ("; squeeze the singleton axis first" if 1 in depth.shape and depth.ndim == 3 else "")
        )
    depth = np.asarray(depth, dtype=np.float64)
    if depth_scale is not None:
        depth = depth / float(depth_scale)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)


def read_mask(path: str | Path) -> np.ndarray:
    """Integer labels ``(H, W)``: PNG in L, I;16 or palette mode (indices), ``.npy`` (integers, or
    booleans read as 0 / 1); an RGB PNG is read as a COCO panoptic id map ``R + 256 G + 256^2 B``."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        labels = _read_npy(path, _MASK_NPY)
        if labels.dtype.kind == "b":
            labels = labels.astype(np.uint8)
    else:
        labels = read_image(path)
        if labels.ndim == 3:
            rgb = labels.astype(np.int64)
            labels = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise InputError(
            f"expected integer labels (H, W), got {labels.dtype} {labels.shape} in {str(path)!r}"
        )
    return labels


def read_normals(path: str | Path) -> np.ndarray:
    """Float normals ``(H, W, 3)`` from ``.npy`` (a float array) or ``.exr``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        normals = _read_npy(path, _NORMALS_NPY)
    elif suffix == ".exr":
        normals = _imread_exr(path)
        if normals.ndim == 3:
            normals = normals[..., ::-1]
    else:
        raise InputError(f"expected normals as .npy or .exr, got {path.suffix!r} ({str(path)!r})")
    if normals.ndim != 3 or normals.shape[-1] != 3:
        raise InputError(f"expected normals (H, W, 3), got shape {normals.shape} in {str(path)!r}")
    return np.asarray(normals, dtype=np.float64)


def read_coco_keypoints(path: str | Path) -> dict[str, dict[str, Any]]:
    """COCO keypoint annotations, per image file name.

    Returns ``{file_name: {"keypoints": (N, K, 2) float64, "visible": (N, K) bool,
    "labelled": (N, K) bool, "size": (H, W), "bbox": (N, 4), "image_id": id}}``. COCO's v flag: 0 not
    labelled (coordinates NaN here), 1 labelled but occluded, 2 visible; ``visible`` is v == 2.
    """
    path = Path(path)
    text = _read_bytes(path, "a COCO keypoint JSON file")
    try:
        coco = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputError(
            f"expected COCO keypoint JSON in {str(path)!r}, got invalid JSON: {exc}"
        ) from None
    try:
        images = {img["id"]: img for img in coco["images"]}
        per_image: dict[Any, list[dict]] = {}
        for ann in coco["annotations"]:
            if ann.get("keypoints"):
                per_image.setdefault(ann["image_id"], []).append(ann)
        out = {}
        for image_id, anns in per_image.items():
            if image_id not in images:
                raise KeyError(f"annotation for image_id {image_id!r}, which 'images' lacks")
            kp = np.array([a["keypoints"] for a in anns], dtype=np.float64)
            if kp.ndim != 2 or kp.shape[1] % 3:
                raise ValueError(
                    f"keypoints of image_id {image_id!r} are not lists of (x, y, v) triples of "
                    "one length"
                )
            kp = kp.reshape(len(anns), -1, 3)
            v = kp[..., 2]
            xy = np.where((v > 0)[..., None], kp[..., :2], np.nan)
            img = images[image_id]
            out[img["file_name"]] = {
                "keypoints": xy,
                "visible": v == 2,
                "labelled": v > 0,
                "size": (int(img["height"]), int(img["width"])),
                "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
                "image_id": image_id,
            }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(
            f"expected COCO keypoint JSON (images, annotations with keypoints) in "
            f"{str(path)!r}: {detail}"
        ) from None
    return out


READERS: dict[str, Callable[..., np.ndarray]] = {
    "depth": read_depth,
    "mask": read_mask,
    "normals": read_normals,
}


def read_value(task: str, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
    """The task value stored in ``path`` (depth, mask or normals)."""
    if task not in READERS:
        raise InputError(f"expected a task in {sorted(READERS)} for file input, got {task!r}")
    if task == "depth":
        return read_depth(path, depth_scale)
    return READERS[task](path)


_PARTIAL = re.compile(
    r"^\.(?P<name>.*)\.rgbtask-(?P<host>[A-Za-z0-9._-]+)-(?P<pid>\d+)-(?P<token>[0-9a-f]{8})\.part$"
)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())[:64] or "host"


def partial_name(path: str | Path) -> str:
    """The temporary name :func:`write_atomic` writes ``path`` under before renaming it:
    ``.<name>.rgbtask-<host>-<pid>-<8 hex digits>.part`` (hidden, and matched by no ``*.png``)."""
    name = Path(path).name[:120]
    return f".{name}.rgbtask-{_host()}-{os.getpid()}-{secrets.token_hex(4)}.part"


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":  # os.kill(pid, 0) is not a probe on Windows: never call a process dead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    try:  # Linux: a zombie (killed, not yet reaped) writes nothing more
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2 : stat.rfind(")") + 3] not in ("Z", "X")


def remove_stale_partials(folder: str | Path) -> list[Path]:
    """Delete the temporary files :func:`write_atomic` left in ``folder`` when its process died.

    Only files named by :func:`partial_name` whose owner ran on this host and is no longer alive are
    removed; those of live processes (another run writing there now) and of other hosts (a shared
    file system) are left alone. Returns the removed paths.
    """
    folder = Path(folder)
    host, removed = _host(), []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _PARTIAL.match(entry.name)
        if not match or match["host"] != host or _pid_alive(int(match["pid"])):
            continue
        try:
            os.unlink(entry.path)
        except FileNotFoundError:  # another run removed it first
            continue
        except OSError:
            continue
        removed.append(Path(entry.path))
    return sorted(removed)


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, flush it to disk, rename it to ``path``.

    The temporary name is :func:`partial_name` (``.<name>.rgbtask-<host>-<pid>-<random>.part``): a
    crash leaves at most that file, never a half-written ``path``, and
    :func:`remove_stale_partials` cleans it up later. Any exception inside ``write`` removes the
    temporary file and propagates. An output that cannot be created (``path`` is a directory, its
    parent is a file or not writable) is an :class:`InputError` naming ``path``.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"expected a file name to write, got the directory {str(path)!r}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        reason = f"{str(blocker)!r}, a file" if blocker else f"{str(path.parent)!r}: {exc.strerror}"
        raise InputError(f"expected a folder to write {str(path)!r} in, got {reason}") from None
    tmp = path.parent / partial_name(path)
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))  # umask applies
    except OSError as exc:
        raise InputError(
            f"expected a writable folder for {str(path)!r}, got {exc.strerror}"
        ) from None
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        tmp.unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno is not None:
            raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        raise
    return path


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16, as PNG, atomically."""
    image = np.asarray(image)
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
        raise InputError(
            f"expected uint8/uint16 (H, W[, 3]) to write as PNG, got {image.dtype} {image.shape}"
        )
    cv2 = _cv2()
    data = np.ascontiguousarray(image[..., ::-1] if image.ndim == 3 else image)

    def write(tmp: Path) -> None:
        ok, buf = cv2.imencode(".png", data)
        if not ok:
            raise OSError(f"OpenCV could not encode {path}")
        tmp.write_bytes(buf.tobytes())

    return write_atomic(path, write)


def write_pfm(path: str | Path, data: np.ndarray) -> Path:
    """Write a float ``(H, W)`` or ``(H, W, 3)`` array as little-endian PFM, atomically."""
    data = np.asarray(data, dtype="<f4")
    header = b"PF" if data.ndim == 3 else b"Pf"

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header + b"\n" + f"{data.shape[1]} {data.shape[0]}\n-1.0\n".encode())
            f.write(np.ascontiguousarray(np.flipud(data)).tobytes())

    return write_atomic(path, write)


def write_value(path: str | Path, value: np.ndarray, depth_scale: float | None = None) -> Path:
    """Write a decoded value by extension: ``.npy`` as is; ``.pfm`` float; ``.png`` integer labels
    (uint8/uint16) or depth times ``depth_scale`` as uint16 (NaN -> 0)."""
    path = Path(path)
    value = np.asarray(value)
    suffix = path.suffix.lower()
    if suffix == ".npy":

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to the name
                np.save(f, value, allow_pickle=False)

        return write_atomic(path, write)
    if suffix == ".pfm":
        return write_pfm(path, value)
    if suffix == ".png":
        if value.dtype.kind == "f":
            if depth_scale is None:
                raise InputError("expected --depth-scale to write float depth as a 16-bit PNG")
            scaled = np.rint(np.nan_to_num(value, nan=0.0, posinf=0.0) * depth_scale)
            if scaled.max(initial=0) > 65535 or scaled.min(initial=0) < 0:
                raise InputError(
                    f"expected depth * {depth_scale} within 0..65535 for a 16-bit PNG, got "
                    f"{scaled.min():g}..{scaled.max():g}"
                )
            return write_png(path, scaled.astype(np.uint16))
        if value.min(initial=0) < 0 or value.max(initial=0) > 65535:
            raise InputError("expected labels within 0..65535 for a PNG; write .npy instead")
        dtype = np.uint8 if value.max(initial=0) <= 255 else np.uint16
        return write_png(path, value.astype(dtype))
    raise InputError(f"expected an output ending in .npy, .pfm or .png, got {path.name!r}")


def write_palette_png(path: str | Path, labels: Any, palette: Any) -> Path:
    """Write ``labels`` ``(H, W)`` (integers in 0..255) as a palette PNG with ``palette`` ``(K, 3)``
    (K <= 256 colours; entries past K are written black). Written to a temporary file and renamed."""
    from PIL import Image

    labels = np.asarray(labels)
    if labels.ndim != 2 or labels.dtype.kind not in "iu" or labels.size == 0:
        raise InputError(f"expected integer labels (H, W), got {labels.dtype} {labels.shape}")
    if labels.min() < 0 or labels.max() > 255:
        raise InputError(
            f"expected labels in 0..255 for a palette PNG, got {labels.min()}..{labels.max()}"
        )
    palette = np.asarray(palette)
    if palette.ndim != 2 or palette.shape[1] != 3 or not 1 <= palette.shape[0] <= 256:
        raise InputError(f"expected a palette of shape (K <= 256, 3), got {palette.shape}")
    flat = np.zeros((256, 3), dtype=np.uint8)
    flat[: palette.shape[0]] = palette.astype(np.uint8)
    image = Image.fromarray(labels.astype(np.uint8), mode="L").convert("P")
    image.putpalette(flat.ravel().tolist())
    return write_atomic(path, lambda tmp: image.save(tmp, format="PNG"))


def read_palette_png(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a palette PNG: ``(labels (H, W) uint8, palette (256, 3) uint8)``.

    The labels are the pixel indices, not the colours. A non-palette image is an :class:`InputError`.
    """
    path = Path(path)
    _, image, _ = _open_image(path, "a palette PNG")
    with image:
        if image.mode != "P":
            raise InputError(
                f"expected a palette ('P' mode) PNG, got mode {image.mode!r} in {str(path)!r}"
            )
        _load(image, path)
        labels = np.asarray(image, dtype=np.uint8).copy()
        raw = image.getpalette() or []
    palette = np.zeros((256, 3), dtype=np.uint8)
    values = np.asarray(raw, dtype=np.uint8).reshape(-1, 3)[:256]
    palette[: values.shape[0]] = values
    return labels, palette
