"""Images: any image (:func:`read_image`), encoded RGB to decode (:func:`read_rgb`), PNGs written
atomically (:func:`write_png`) and palette-mode PNGs as VOC ships its label maps.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import InputError
from rgbtask.io.atomic import write_atomic
from rgbtask.io.formats import (
    _cv2,
    _cv2_decode,
    _load,
    _open_image,
    _PngHeader,
)

__all__ = [
    "LossyFormatWarning",
    "read_image",
    "read_palette_png",
    "read_rgb",
    "write_palette_png",
    "write_png",
]


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


class LossyFormatWarning(RuntimeWarning):
    """An image was written in a lossy format (JPEG) because its file name asked for it: the
    codes change, and decoding gives what the codec's JPEG robustness allows, not the round-trip
    bound."""


#: Suffix -> (OpenCV extension, dtypes it stores exactly, lossy).
_WRITE_FORMATS = {
    ".png": (".png", (np.uint8, np.uint16), False),
    ".tif": (".tiff", (np.uint8, np.uint16), False),
    ".tiff": (".tiff", (np.uint8, np.uint16), False),
    ".jpg": (".jpg", (np.uint8,), True),
    ".jpeg": (".jpg", (np.uint8,), True),
}


def write_png(path: str | Path, image: np.ndarray) -> Path:
    """Write ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16, atomically, in the format the file
    name's suffix names.

    ``.png`` (lossless, 8 or 16 bits: what encoded images should be stored as); ``.tif`` /
    ``.tiff`` (lossless, 8 or 16 bits); ``.jpg`` / ``.jpeg`` (8 bits only, quality 95 with 4:4:4
    chroma, and a :class:`LossyFormatWarning`: JPEG changes the codes). Any other suffix, or none,
    is an :class:`~rgbtask.errors.InputError`: bytes of one format are never written under a name
    that says another.
    """
    image = np.asarray(image)
    if image.dtype not in (np.uint8, np.uint16) or image.ndim not in (2, 3):
        raise InputError(
            f"expected uint8/uint16 (H, W[, 3]) to write as PNG, got {image.dtype} {image.shape}"
        )
    suffix = Path(path).suffix.lower()
    if suffix not in _WRITE_FORMATS:
        raise InputError(
            f"expected an output named .png (or .tif, .tiff, .jpg, .jpeg), got {str(path)!r}; "
            "encoded images are stored as PNG"
        )
    ext, dtypes, lossy = _WRITE_FORMATS[suffix]
    if image.dtype not in dtypes:
        raise InputError(
            f"expected uint8 to write JPEG {str(path)!r} (JPEG holds 8 bits), got {image.dtype}; "
            "write .png to keep all 16 bits"
        )
    cv2 = _cv2()
    params: list[int] = []
    if lossy:
        import warnings

        warnings.warn(
            f"writing {str(path)!r} as JPEG, which is lossy: decoding it will not give the "
            "codec's round-trip bound; name it .png to store the codes exactly",
            LossyFormatWarning,
            stacklevel=2,
        )
        params = [cv2.IMWRITE_JPEG_QUALITY, 95]
        if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):
            params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
    data = np.ascontiguousarray(image[..., ::-1] if image.ndim == 3 else image)

    def write(tmp: Path) -> None:
        ok, buf = cv2.imencode(ext, data, params)
        if not ok:
            raise OSError(f"OpenCV could not encode {path}")
        tmp.write_bytes(buf.tobytes())

    return write_atomic(path, write)


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
