"""File validation and parsing: PNG (every chunk's CRC, the IEND end), JPEG (complete scans), PFM,
``.npy`` (header checked against the file size) and EXR, each a strict reader that names the file
and what is wrong with it.
"""

from __future__ import annotations

import math
import os
import re
import struct
import sys
import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

import numpy as np

from rgbtask.errors import InputError
from rgbtask.io.atomic import write_atomic

__all__ = [
    "FLO_TAG",
    "FLO_UNKNOWN_THRESHOLD",
    "read_flo",
    "read_pfm",
    "write_flo",
    "write_pfm",
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
_PNG_COLOR_TYPES = {
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
    color_type: int


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
            width, height, bit_depth, color_type = struct.unpack(">IIBB", data[16:26])
            kind_name, depths = _PNG_COLOR_TYPES.get(color_type, ("?", ()))
            if not (1 <= width <= 2**31 - 1 and 1 <= height <= 2**31 - 1):
                raise corrupt(f"image size {width}x{height}")
            if bit_depth not in depths:
                raise corrupt(f"bit depth {bit_depth} with colour type {color_type} ({kind_name})")
            header = _PngHeader(width, height, bit_depth, color_type)
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
_FLOW_NPY = _NpySpec("optical flow", "f", "floats", "flow.astype(np.float32)")


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


def write_pfm(path: str | Path, data: np.ndarray) -> Path:
    """Write a float ``(H, W)`` or ``(H, W, 3)`` array as little-endian PFM, atomically."""
    data = np.asarray(data, dtype="<f4")
    header = b"PF" if data.ndim == 3 else b"Pf"

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header + b"\n" + f"{data.shape[1]} {data.shape[0]}\n-1.0\n".encode())
            f.write(np.ascontiguousarray(np.flipud(data)).tobytes())

    return write_atomic(path, write)


# --------------------------------------------------------------------------- Middlebury .flo
#: The ``.flo`` tag: the bytes ``PIEH``, which read as a little-endian float32 are 202021.25
#: (Middlebury's ``flowIO.cpp``, Baker et al., "A Database and Evaluation Methodology for Optical
#: Flow", IJCV 2011).
FLO_TAG = 202021.25
#: A vector is unknown when ``|u|`` or ``|v|`` exceeds this (Middlebury's ``UNKNOWN_FLOW_THRESH``).
FLO_UNKNOWN_THRESHOLD = 1e9
#: What :func:`write_flo` writes for an unknown vector (Middlebury's ``UNKNOWN_FLOW``).
FLO_UNKNOWN = 1e10
#: Largest width or height a ``.flo`` header may declare (Middlebury's reader refuses more).
FLO_MAX_SIDE = 99999
_FLO_HEADER = struct.Struct("<fii")


def _known_flow(flow: np.ndarray) -> np.ndarray:
    """Where both components are at most 1e9 in magnitude (NaN fails the test too); per channel,
    which NumPy does several times faster than a reduction over the length-2 last axis."""
    with np.errstate(invalid="ignore", over="ignore"):
        return (np.abs(flow[..., 0]) <= FLO_UNKNOWN_THRESHOLD) & (
            np.abs(flow[..., 1]) <= FLO_UNKNOWN_THRESHOLD
        )


def read_flo(path: str | Path) -> np.ndarray:
    """Optical flow from a Middlebury ``.flo`` file: ``(H, W, 2)`` float32 ``(u, v)`` pixels, NaN
    where unknown.

    The file is the tag (float32 202021.25, the bytes ``PIEH``), the width and height (int32), then
    ``H * W`` pairs ``(u, v)`` of float32, row by row, all little-endian. A vector with ``|u|`` or
    ``|v|`` above 1e9 (Middlebury's unknown flow), or a non-finite component, reads as NaN in both
    components. A bad tag, a width or height outside 1..99999, a truncated file or bytes after the
    data are an :class:`InputError` naming the file.
    """
    path = Path(path)
    with _open_binary(path, "a readable .flo file") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(_FLO_HEADER.size)
        if not head:
            raise InputError(f"expected a .flo flow file, got an empty (0-byte) file {str(path)!r}")
        if head[:4] != _FLO_HEADER.pack(FLO_TAG, 0, 0)[:4]:
            if len(head) < 4 and b"PIEH".startswith(head):
                raise InputError(
                    f"expected a complete .flo file, got a truncated one ({size} bytes) in "
                    f"{str(path)!r}"
                )
            raise InputError(
                f"expected a .flo flow file (tag 'PIEH' = float 202021.25), got "
                f"{_describe_unknown(head + f.read(500))} in {str(path)!r}; a wrong tag also means "
                "a big-endian or damaged file"
            )
        if len(head) < _FLO_HEADER.size:
            raise InputError(
                f"expected a complete .flo header (12 bytes), got a truncated file ({size} bytes) "
                f"{str(path)!r}"
            )
        _, width, height = _FLO_HEADER.unpack(head)
        if not (1 <= width <= FLO_MAX_SIDE and 1 <= height <= FLO_MAX_SIDE):
            raise InputError(
                f"expected a .flo width and height in 1..{FLO_MAX_SIDE}, got {width}x{height} in "
                f"{str(path)!r} (a corrupt header)"
            )
        expected = width * height * 8
        available = size - _FLO_HEADER.size
        if available != expected:
            problem = "truncated" if available < expected else "extra bytes after the data"
            raise InputError(
                f"expected {width}x{height}x2 float32 ({expected} bytes) of flow in "
                f"{str(path)!r}, got {available} bytes ({problem})"
            )
        flow = np.fromfile(f, dtype="<f4", count=width * height * 2)
    flow = flow.reshape(height, width, 2).astype(np.float32, copy=False)  # native order
    flow[~_known_flow(flow)] = np.nan

    return flow


def write_flo(path: str | Path, flow: np.ndarray) -> Path:
    """Write ``(H, W, 2)`` flow as a Middlebury ``.flo`` file, atomically; a vector with a NaN or
    infinite component, or one beyond 1e9 pixels, is written as unknown (1e10, 1e10)."""
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[-1] != 2 or flow.dtype.kind not in "iuf" or flow.size == 0:
        raise InputError(
            f"expected flow of shape (H, W, 2) (real numbers) to write as .flo, got "
            f"{flow.dtype} {flow.shape}"
        )
    height, width = flow.shape[:2]
    if width > FLO_MAX_SIDE or height > FLO_MAX_SIDE:
        raise InputError(
            f"expected a width and height up to {FLO_MAX_SIDE} for a .flo file, got {width}x{height}"
        )
    data = flow.astype("<f4")
    data[~_known_flow(flow)] = FLO_UNKNOWN
    header = _FLO_HEADER.pack(FLO_TAG, width, height)

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            f.write(header)
            f.write(np.ascontiguousarray(data).tobytes())

    return write_atomic(path, write)
