"""Mask kernels: nearest-palette search, panoptic ids, binary masks; their NumPy references.

Colour spaces (``space_id``: 0 = RGB, 1 = CIELAB, 2 = OKLab) and their constants live in
:mod:`rgbtask.core.color`; the kernels here convert each pixel with its :func:`to_space`.

Nearest palette colour (per pixel): squared distances ``d = dx*dx + dy*dy + dz*dz`` (in that order)
to every palette colour in the chosen space; the label is the first index of the minimum (ties go to
the lowest index, as ``np.argmin``). With ``d1 <= d2`` the two smallest distances (square roots):
``confidence = (d2 - d1) / (d2 + d1)`` (1 with a single colour, 0 when ``d2 == 0``, i.e. an exact
colour shared by two entries); a pixel with ``d1 > reject`` gets the ``ignore`` label, confidence 0
and ``valid = False``.

One kernel, :func:`nearest_kernel`, does the search. 8-bit input goes through a lazily filled lookup
table of ``2**24`` packed entries (the convention of :mod:`rgbtask.core._lut`: 0 = unknown, else
the filled bit, the valid bit, the label and the float32 confidence's bits). The entry for a colour
is computed by the same brute force the first time the colour is seen and then reused, so the
result is identical to the brute force for every pixel. Other input (an empty table) is decoded by
brute force, without rounding to 8 bits.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit, run_rows
from rgbtask.core._lut import (
    UNKNOWN,
    color_index,
    label_of,
    low32_of,
    pack_label,
    valid_of,
)
from rgbtask.core.color import (  # noqa: F401 (re-exported: the kernels' colour conversion)
    SPACE_IDS,
    convert_kernel,
    convert_reference,
    nearest_color,
    srgb_to_linear,
    to_space,
)

# ---------------------------------------------------------------- nearest palette colour


@jit
def margin_confidence(d1, d2):
    """``(d2 - d1) / (d2 + d1)``: 1 on a palette colour, 0 halfway between two (float32)."""
    if d2 == math.inf:
        return np.float32(1.0)
    if d2 <= 0.0:
        return np.float32(0.0)
    return np.float32((d2 - d1) / (d2 + d1))


@jit
def _classify(x, y, z, palette, reject, ignore):
    """(label, confidence float32, valid) of a colour at space coordinates ``(x, y, z)``."""
    k, d1, d2 = nearest_color(x, y, z, palette)
    if d1 > reject:
        return np.int64(ignore), np.float32(0.0), False
    return np.int64(k), margin_confidence(d1, d2), True


@jit
def nearest_kernel(rgb, labels, confidence, valid, scale, lut, palette, space_id, reject, ignore):
    """Nearest palette colour of each row of ``rgb`` (full scale ``scale``).

    ``lut``: the colour table of 8-bit input (``2**24`` uint64, 0 = not yet known), or an empty
    array for brute force on every pixel (uint16 or float input: nothing is rounded to 8 bits).
    Both paths classify a colour with the same :func:`_classify`.
    """
    if lut.shape[0] > 0:
        _nearest_table(rgb, labels, confidence, valid, lut, palette, space_id, reject, ignore)
    else:
        _nearest_brute(rgb, labels, confidence, valid, scale, palette, space_id, reject, ignore)


@jit
def _nearest_brute(rgb, labels, confidence, valid, scale, palette, space_id, reject, ignore):
    for i in range(rgb.shape[0]):
        x, y, z = to_space(
            float(rgb[i, 0]) / scale, float(rgb[i, 1]) / scale, float(rgb[i, 2]) / scale, space_id
        )
        labels[i], confidence[i], valid[i] = _classify(x, y, z, palette, reject, ignore)


@jit
def _nearest_table(rgb, labels, confidence, valid, lut, palette, space_id, reject, ignore):
    conf_f = np.empty(1, dtype=np.float32)
    conf_u = conf_f.view(np.uint32)
    for i in range(rgb.shape[0]):
        key = color_index(rgb, i)
        entry = lut[key]
        if entry == UNKNOWN:
            x, y, z = to_space(
                float(rgb[i, 0]) / 255.0,
                float(rgb[i, 1]) / 255.0,
                float(rgb[i, 2]) / 255.0,
                space_id,
            )
            label, conf_f[0], ok = _classify(x, y, z, palette, reject, ignore)
            entry = pack_label(label, conf_u[0], ok)
            lut[key] = entry
        labels[i] = label_of(entry)
        conf_u[0] = low32_of(entry)
        confidence[i] = conf_f[0]
        valid[i] = valid_of(entry)


def nearest_reference(coords, palette, reject, ignore):
    """NumPy brute force: pixel coordinates ``(N, 3)`` (from :func:`convert_kernel`) against the
    palette coordinates ``(K, 3)``; returns ``(labels int64, confidence float32, valid bool)``."""
    dx = coords[:, None, 0] - palette[None, :, 0]
    dy = coords[:, None, 1] - palette[None, :, 1]
    dz = coords[:, None, 2] - palette[None, :, 2]
    d = dx * dx + dy * dy + dz * dz
    labels = np.argmin(d, axis=1)
    d_sorted = np.sort(d, axis=1)
    d1 = np.sqrt(d_sorted[:, 0])
    d2 = np.sqrt(d_sorted[:, 1]) if palette.shape[0] > 1 else np.full_like(d1, np.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.where(d2 == np.inf, 1.0, np.where(d2 <= 0.0, 0.0, (d2 - d1) / (d2 + d1))).astype(
            np.float32
        )
    rejected = d1 > reject
    labels = np.where(rejected, ignore, labels)
    conf = np.where(rejected, np.float32(0.0), conf)
    return labels.astype(np.int64), conf, ~rejected


# ---------------------------------------------------------------- panoptic ids


@jit
def rgb2id_kernel(rgb, out):
    """``id = R + 256 G + 256^2 B`` (panopticapi's ``rgb2id``), uint8 rows -> int32."""
    for i in range(rgb.shape[0]):
        out[i] = np.int32(rgb[i, 0]) + 256 * np.int32(rgb[i, 1]) + 65536 * np.int32(rgb[i, 2])


def rgb2id_reference(rgb):
    """The published NumPy formula (panopticapi ``utils.rgb2id``)."""
    c = rgb.astype(np.int32)
    return c[..., 0] + 256 * c[..., 1] + 256 * 256 * c[..., 2]


@jit
def id2rgb_kernel(ids, out):
    """``R = id % 256, G = id // 256 % 256, B = id // 256^2 % 256`` (panopticapi ``id2rgb``)."""
    for i in range(ids.shape[0]):
        v = np.int64(ids[i])
        out[i, 0] = v % 256
        out[i, 1] = (v // 256) % 256
        out[i, 2] = (v // 65536) % 256


def id2rgb_reference(ids):
    """The published NumPy formula (panopticapi ``utils.id2rgb``)."""
    ids = ids.astype(np.int64).copy()
    out = np.zeros((*ids.shape, 3), dtype=np.uint8)
    for c in range(3):
        out[..., c] = ids % 256
        ids //= 256
    return out


@jit
def panoptic_float_kernel(rgb, out, confidence, scale):
    """uint16 / float RGB -> ids by rounding each channel to its nearest 8-bit code (half up);
    confidence ``1 - 2 max_c |255 c - code_c|`` (1 on a code, 0 halfway between two)."""
    for i in range(rgb.shape[0]):
        worst = 0.0
        v = np.int64(0)
        mult = np.int64(1)
        for c in range(3):
            x = float(rgb[i, c]) / scale * 255.0
            q = math.floor(x + 0.5)
            worst = max(worst, abs(x - q))
            v += np.int64(q) * mult
            mult *= 256
        out[i] = v
        confidence[i] = max(0.0, 1.0 - 2.0 * worst)


def panoptic_float_reference(rgb, scale):
    """NumPy specification of :func:`panoptic_float_kernel`."""
    x = rgb.astype(np.float64) / scale * 255.0
    q = np.floor(x + 0.5)
    worst = np.max(np.abs(x - q), axis=-1)
    qi = q.astype(np.int64)
    ids = qi[..., 0] + 256 * qi[..., 1] + 65536 * qi[..., 2]
    return ids.astype(np.int32), np.maximum(0.0, 1.0 - 2.0 * worst).astype(np.float32)


# ---------------------------------------------------------------- binary


@jit
def binary_kernel(rgb, labels, confidence, scale, background, direction, inv_len2, threshold):
    """Project each pixel on the segment background -> foreground: ``t = (c - bg) . (fg - bg) /
    |fg - bg|^2`` (8-bit units); label 1 where ``t >= threshold``; confidence
    ``min(1, |t - threshold| / min(threshold, 1 - threshold))``."""
    half = min(threshold, 1.0 - threshold)
    for i in range(rgb.shape[0]):
        t = 0.0
        for c in range(3):
            t += (float(rgb[i, c]) / scale * 255.0 - background[c]) * direction[c]
        t *= inv_len2
        labels[i] = 1 if t >= threshold else 0
        confidence[i] = min(1.0, abs(t - threshold) / half)


def binary_reference(rgb, scale, background, direction, inv_len2, threshold):
    """NumPy specification of :func:`binary_kernel`."""
    c = rgb.astype(np.float64) / scale * 255.0 - background
    t = (c[..., 0] * direction[0] + c[..., 1] * direction[1] + c[..., 2] * direction[2]) * inv_len2
    half = min(threshold, 1.0 - threshold)
    conf = np.minimum(1.0, np.abs(t - threshold) / half).astype(np.float32)
    return (t >= threshold).astype(np.uint8), conf


# ---------------------------------------------------------------- wrappers (named parameters)
_NO_TABLE = np.zeros(0, dtype=np.uint64)


def nearest(
    rgb: np.ndarray,
    scale: float,
    palette: np.ndarray,
    space_id: int,
    reject: float,
    ignore: int,
    label_dtype,
    lut: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``(n, 3)`` of checked RGB (full scale ``scale``) -> ``(labels, confidence float32, valid bool)``, each
    ``(n,)``: the nearest of the ``palette`` coordinates ``(K, 3)`` in space ``space_id``.
    ``lut``: the colour table of uint8 input (:mod:`rgbtask.core._lut`), None for brute force."""
    n = rgb.shape[0]
    labels = np.empty(n, dtype=label_dtype)
    confidence = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    run_rows(
        nearest_kernel,
        (rgb, labels, confidence, valid),
        (scale, _NO_TABLE if lut is None else lut, palette, space_id, reject, ignore),
    )
    return labels, confidence, valid


def panoptic_rgb(ids: np.ndarray) -> np.ndarray:
    """Segment ids ``(n,)`` -> uint8 RGB ``(n, 3)`` (panopticapi's ``id2rgb``)."""
    out = np.empty((ids.shape[0], 3), dtype=np.uint8)
    run_rows(id2rgb_kernel, (ids, out))
    return out


def panoptic_ids(rgb: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """RGB rows ``(n, 3)`` -> ``(ids int32, confidence float32)``: exact for uint8 (confidence 1),
    per-channel rounding to the nearest 8-bit code otherwise."""
    n = rgb.shape[0]
    ids = np.empty(n, dtype=np.int32)
    if rgb.dtype == np.uint8:
        run_rows(rgb2id_kernel, (rgb, ids))
        return ids, np.ones(n, dtype=np.float32)
    confidence = np.empty(n, dtype=np.float32)
    run_rows(panoptic_float_kernel, (rgb, ids, confidence), (scale,))
    return ids, confidence


def binary(
    rgb: np.ndarray,
    scale: float,
    background: np.ndarray,
    direction: np.ndarray,
    inv_len2: float,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray]:
    """RGB rows ``(n, 3)`` -> ``(labels uint8, confidence float32)`` (see :func:`binary_kernel`)."""
    n = rgb.shape[0]
    labels = np.empty(n, dtype=np.uint8)
    confidence = np.empty(n, dtype=np.float32)
    run_rows(
        binary_kernel,
        (rgb, labels, confidence),
        (scale, background, direction, inv_len2, threshold),
    )
    return labels, confidence
