"""Image I/O helpers built on Pillow: palette-mode ("P") PNG for label maps, keeping the palette.

VOC ships its label maps as palette PNGs: the pixel values are the labels and the file's palette
holds the colours, so one file serves both as data and as a picture. :func:`write_palette_png`
writes such a file from labels and a palette; :func:`read_palette_png` returns both. Readers for
other formats may be added here; the dataset-level readers live in :mod:`rgbtask.formats`.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import InputError

__all__ = ["read_palette_png", "write_palette_png"]


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
    path = Path(path)
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=path.parent)
    os.close(fd)
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


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
