"""File I/O: task values from the files datasets ship, and images written safely.

* depth: 16-bit PNG (``value / depth_scale`` metres, 0 = invalid -> NaN), ``.npy``, ``.pfm``, and
  ``.exr`` where the installed OpenCV supports it;
* masks: PNG (``L``, ``I;16``, palette ``P`` whose indices are the labels, or an RGB COCO panoptic PNG
  read as ``R + 256 G + 256^2 B``), ``.npy``;
* normals: ``.npy``, ``.exr`` (float, ``(H, W, 3)``);
* keypoints: COCO JSON (``annotations[].keypoints`` as ``(N, 17, 2)`` plus visibility, per image);
* palette-mode ("P") PNGs as VOC ships its label maps: the pixel values are the labels and the file's
  palette holds the colours (:func:`write_palette_png`, :func:`read_palette_png`).

Every writer writes to a temporary name in the destination folder and renames it into place, so an
interrupted run never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import InputError

__all__ = [
    "read_coco_keypoints",
    "read_depth",
    "read_image",
    "read_mask",
    "read_normals",
    "read_palette_png",
    "read_pfm",
    "read_value",
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
    if not path.is_file():
        raise InputError(f"expected an existing file, got {str(path)!r}")


def read_image(path: str | Path) -> np.ndarray:
    """An image file as stored: ``(H, W)`` or ``(H, W, 3)`` RGB, uint8 or uint16 (palette PNGs give
    their indices). Alpha is dropped."""
    path = Path(path)
    _missing(path)
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode in ("P", "L", "1", "I;16", "I;16B", "I;16L", "I"):
                arr = np.array(img)
                return arr.astype(np.uint8) if arr.dtype == bool else arr
    except UnidentifiedImageError:
        raise InputError(f"expected an image file, got unreadable {str(path)!r}") from None
    except OSError as exc:
        raise InputError(f"expected a readable image, got {str(path)!r}: {exc}") from None
    img = _cv2().imread(str(path), _cv2().IMREAD_UNCHANGED)
    if img is None:
        raise InputError(f"expected an image file OpenCV can read, got {str(path)!r}")
    if img.ndim == 3:
        img = img[..., 2::-1] if img.shape[-1] >= 3 else img
    return np.ascontiguousarray(img)


def read_pfm(path: str | Path) -> np.ndarray:
    """A Portable Float Map (``Pf`` gray or ``PF`` colour), flipped to top-row-first."""
    path = Path(path)
    _missing(path)
    with open(path, "rb") as f:
        header = f.readline().strip()
        if header not in (b"PF", b"Pf"):
            raise InputError(f"expected a PFM file (PF/Pf header), got {header[:8]!r} in {path}")
        dims = re.match(rb"^(\d+)\s+(\d+)\s*$", f.readline())
        if not dims:
            raise InputError(f"expected PFM width and height in {path}")
        width, height = int(dims.group(1)), int(dims.group(2))
        scale = float(f.readline().strip())
        channels = 3 if header == b"PF" else 1
        data = np.fromfile(f, dtype="<f4" if scale < 0 else ">f4")
    if data.size != width * height * channels:
        raise InputError(
            f"expected {width * height * channels} floats in {path}, got {data.size} (truncated?)"
        )
    shape = (height, width, channels) if channels == 3 else (height, width)
    return np.flipud(data.reshape(shape)).astype(np.float32)


def read_depth(path: str | Path, depth_scale: float | None = None) -> np.ndarray:
    """Depth in metres, float64, NaN where invalid (0 in integer PNGs, non-finite or <= 0 in floats).

    Integer images need ``depth_scale`` (stored value / depth_scale = metres: 1000 for NYU's mm,
    256 for KITTI).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        _missing(path)
        try:
            depth = np.load(path, allow_pickle=False)
        except ValueError as exc:
            raise InputError(f"expected a .npy array in {path}: {exc}") from None
    elif suffix == ".pfm":
        depth = read_pfm(path)
    elif suffix == ".exr":
        _missing(path)
        depth = _cv2().imread(str(path), _cv2().IMREAD_UNCHANGED)
        if depth is None:
            raise InputError(f"expected an EXR file this OpenCV build can read, got {path}")
        if depth.ndim == 3:
            depth = depth[..., 0]
    else:
        depth = read_image(path)
        if depth.ndim != 2 or depth.dtype.kind not in "ui":
            raise InputError(
                f"expected a single-channel 8/16-bit depth image, got {depth.dtype} "
                f"{depth.shape} in {path}"
            )
        if depth_scale is None:
            raise InputError(
                f"expected depth_scale for integer depth {path} (value / scale = metres, e.g. "
                "1000 for millimetres, 256 for KITTI)"
            )
        return np.where(depth > 0, depth / float(depth_scale), np.nan)
    depth = np.asarray(depth, dtype=np.float64)
    if depth.ndim != 2:
        raise InputError(f"expected a (H, W) depth map, got shape {depth.shape} in {path}")
    if depth_scale is not None:
        depth = depth / float(depth_scale)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)


def read_mask(path: str | Path) -> np.ndarray:
    """Integer labels ``(H, W)``: PNG in L, I;16 or palette mode (indices), ``.npy``; an RGB PNG is
    read as a COCO panoptic id map ``R + 256 G + 256^2 B``."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        _missing(path)
        labels = np.load(path, allow_pickle=False)
    else:
        labels = read_image(path)
        if labels.ndim == 3:
            rgb = labels.astype(np.int64)
            labels = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise InputError(f"expected integer labels (H, W), got {labels.dtype} {labels.shape}")
    return labels


def read_normals(path: str | Path) -> np.ndarray:
    """Float normals ``(H, W, 3)`` from ``.npy`` or ``.exr``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        _missing(path)
        normals = np.load(path, allow_pickle=False)
    elif suffix == ".exr":
        _missing(path)
        normals = _cv2().imread(str(path), _cv2().IMREAD_UNCHANGED)
        if normals is None:
            raise InputError(f"expected an EXR file this OpenCV build can read, got {path}")
        normals = normals[..., ::-1]
    else:
        raise InputError(f"expected normals as .npy or .exr, got {path.suffix!r}")
    if normals.ndim != 3 or normals.shape[-1] != 3:
        raise InputError(f"expected normals (H, W, 3), got shape {normals.shape} in {path}")
    return np.asarray(normals, dtype=np.float64)


def read_coco_keypoints(path: str | Path) -> dict[str, dict[str, Any]]:
    """COCO keypoint annotations, per image file name.

    Returns ``{file_name: {"keypoints": (N, K, 2) float64, "visible": (N, K) bool,
    "labelled": (N, K) bool, "size": (H, W), "bbox": (N, 4), "image_id": id}}``. COCO's v flag: 0 not
    labelled (coordinates NaN here), 1 labelled but occluded, 2 visible; ``visible`` is v == 2.
    """
    path = Path(path)
    _missing(path)
    try:
        coco = json.loads(path.read_text())
        images = {img["id"]: img for img in coco["images"]}
        per_image: dict[int, list[dict]] = {}
        for ann in coco["annotations"]:
            if ann.get("keypoints"):
                per_image.setdefault(ann["image_id"], []).append(ann)
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"expected COCO keypoint JSON in {path}: {exc}") from None
    out = {}
    for image_id, anns in per_image.items():
        kp = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(len(anns), -1, 3)
        v = kp[..., 2]
        xy = np.where((v > 0)[..., None], kp[..., :2], np.nan)
        img = images[image_id]
        out[img["file_name"]] = {
            "keypoints": xy,
            "visible": v == 2,
            "labelled": v > 0,
            "size": (int(img["height"]), int(img["width"])),
            "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64),
            "image_id": image_id,
        }
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


def write_atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    """Call ``write(tmp)`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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
        return write_atomic(path, lambda tmp: np.save(tmp, value, allow_pickle=False))
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
    from PIL import Image

    with Image.open(path) as image:
        if image.mode != "P":
            raise InputError(
                f"expected a palette ('P' mode) PNG, got mode {image.mode!r} in {path}"
            )
        labels = np.asarray(image, dtype=np.uint8).copy()
        raw = image.getpalette() or []
    palette = np.zeros((256, 3), dtype=np.uint8)
    values = np.asarray(raw, dtype=np.uint8).reshape(-1, 3)[:256]
    palette[: values.shape[0]] = values
    return labels, palette
