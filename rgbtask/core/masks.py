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
import sys

import numba
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
def _classify(x, y, z, palette, offsets, candidates, reject, ignore):
    """(label, confidence float32, valid) of a colour at space coordinates ``(x, y, z)``: over the
    colours its cell lists (:func:`nearest_listed`, the same answer) when ``offsets`` is not
    empty (RGB space), else over the whole palette."""
    if offsets.shape[0] > 0:
        k, d1, d2 = nearest_listed(x, y, z, palette, offsets, candidates)
    else:
        k, d1, d2 = nearest_color(x, y, z, palette)
    if d1 > reject:
        return np.int64(ignore), np.float32(0.0), False
    return np.int64(k), margin_confidence(d1, d2), True


@jit
def nearest_kernel(
    rgb,
    labels,
    confidence,
    valid,
    scale,
    lut,
    palette,
    offsets,
    candidates,
    space_id,
    reject,
    ignore,
):
    """Nearest palette colour of each row of ``rgb`` (full scale ``scale``).

    ``lut``: the colour table of 8-bit input (``2**24`` uint64, 0 = not yet known), or an empty
    array for brute force on every pixel (uint16 or float input: nothing is rounded to 8 bits).
    Both paths classify a colour with the same :func:`_classify`; ``offsets`` and ``candidates``:
    the RGB-space :func:`candidate_grid` (with ``need=2``), or empty arrays.
    """
    if lut.shape[0] > 0:
        _nearest_table(
            rgb,
            labels,
            confidence,
            valid,
            lut,
            palette,
            offsets,
            candidates,
            space_id,
            reject,
            ignore,
        )
    else:
        _nearest_brute(
            rgb,
            labels,
            confidence,
            valid,
            scale,
            palette,
            offsets,
            candidates,
            space_id,
            reject,
            ignore,
        )


@jit
def _nearest_brute(
    rgb, labels, confidence, valid, scale, palette, offsets, candidates, space_id, reject, ignore
):
    for i in range(rgb.shape[0]):
        x, y, z = to_space(
            float(rgb[i, 0]) / scale, float(rgb[i, 1]) / scale, float(rgb[i, 2]) / scale, space_id
        )
        labels[i], confidence[i], valid[i] = _classify(
            x, y, z, palette, offsets, candidates, reject, ignore
        )


@jit
def _nearest_table(
    rgb, labels, confidence, valid, lut, palette, offsets, candidates, space_id, reject, ignore
):
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
            label, conf_f[0], ok = _classify(x, y, z, palette, offsets, candidates, reject, ignore)
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
    grid: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows ``(n, 3)`` of checked RGB (full scale ``scale``) -> ``(labels, confidence float32, valid bool)``, each
    ``(n,)``: the nearest of the ``palette`` coordinates ``(K, 3)`` in space ``space_id``.
    ``lut``: the colour table of uint8 input (:mod:`rgbtask.core._lut`), None for brute force;
    ``grid``: the RGB-space :func:`candidate_grid` of the palette with ``need=2``, or None."""
    n = rgb.shape[0]
    offsets, candidates = grid if grid is not None else (_NO_OFFSETS, _NO_CANDIDATES)
    labels = np.empty(n, dtype=label_dtype)
    confidence = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    run_rows(
        nearest_kernel,
        (rgb, labels, confidence, valid),
        (
            scale,
            _NO_TABLE if lut is None else lut,
            palette,
            offsets,
            candidates,
            space_id,
            reject,
            ignore,
        ),
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


def panoptic_ids_u8(rgb: np.ndarray) -> np.ndarray:
    """uint8 RGB rows ``(n, 3)`` -> ids int32 ``(n,)`` alone (``decode``: no confidence)."""
    ids = np.empty(rgb.shape[0], dtype=np.int32)
    run_rows(rgb2id_kernel, (rgb, ids))
    return ids


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


# ---------------------------------------------------------------- encode: a palette gather


@jit
def gather_kernel(labels, out, colors, bad):
    """``out[i] = colors[labels[i]]`` (uint8 rows), the range check fused into the same pass: a
    label outside ``0 .. len(colors) - 1`` sets ``bad[0]`` (its row is left unwritten)."""
    k = colors.shape[0]
    for i in range(labels.shape[0]):
        v = np.int64(labels[i])
        if v < 0 or v >= k:
            bad[0] = 1
            continue
        out[i, 0] = colors[v, 0]
        out[i, 1] = colors[v, 1]
        out[i, 2] = colors[v, 2]


@jit
def gather_packed_kernel(labels, out, packed, bad):
    """:func:`gather_kernel` with the colours packed as little-endian words (``packed[k]`` =
    ``R | G << 8 | B << 16``): four pixels (12 bytes) go out as three 32-bit stores, the last
    ``n % 4`` byte by byte. Little-endian machines only (:func:`gather`)."""
    k = packed.shape[0]
    n = labels.shape[0]
    flat = out.reshape(-1)
    quads = n // 4
    words = flat[: quads * 12].view(np.uint32)
    for q in range(quads):
        i = 4 * q
        v0 = np.int64(labels[i])
        v1 = np.int64(labels[i + 1])
        v2 = np.int64(labels[i + 2])
        v3 = np.int64(labels[i + 3])
        if min(v0, v1, v2, v3) < 0 or max(v0, v1, v2, v3) >= k:
            bad[0] = 1
            continue
        a, b, c, d = packed[v0], packed[v1], packed[v2], packed[v3]
        words[3 * q] = a | (b << 24)
        words[3 * q + 1] = (b >> 8) | (c << 16)
        words[3 * q + 2] = (c >> 16) | (d << 8)
    for i in range(quads * 4, n):
        v = np.int64(labels[i])
        if v < 0 or v >= k:
            bad[0] = 1
            continue
        w = packed[v]
        flat[3 * i] = w & 255
        flat[3 * i + 1] = (w >> 8) & 255
        flat[3 * i + 2] = (w >> 16) & 255


def gather_reference(labels, colors):
    """NumPy specification of :func:`gather_kernel` for labels in range: ``np.take``."""
    return np.take(colors, labels, axis=0)


@jit
def id2rgb_checked_kernel(ids, out, bad):
    """:func:`id2rgb_kernel` for ids in ``0 .. 2^24 - 1`` (bytes by shifts), the range check fused:
    an id outside sets ``bad[0]``."""
    for i in range(ids.shape[0]):
        v = np.int64(ids[i])
        if v < 0 or v >= 16777216:
            bad[0] = 1
            continue
        out[i, 0] = v & 255
        out[i, 1] = (v >> 8) & 255
        out[i, 2] = v >> 16


def gather(labels: np.ndarray, colors: np.ndarray) -> tuple[np.ndarray, bool]:
    """Labels ``(n,)`` (any integer dtype) -> ``(rgb (n, 3) uint8, all labels in range)``."""
    out = np.empty((labels.shape[0], 3), dtype=np.uint8)
    bad = np.zeros(1, dtype=np.uint8)
    if sys.byteorder == "little":
        packed = np.zeros((colors.shape[0], 4), dtype=np.uint8)
        packed[:, :3] = colors
        run_rows(gather_packed_kernel, (labels, out), (packed.view("<u4")[:, 0], bad))
    else:
        run_rows(gather_kernel, (labels, out), (colors, bad))
    return out, not bad[0]


def panoptic_rgb_checked(ids: np.ndarray) -> tuple[np.ndarray, bool]:
    """Segment ids ``(n,)`` -> ``(rgb (n, 3) uint8, all ids in 0 .. 2^24 - 1)``."""
    out = np.empty((ids.shape[0], 3), dtype=np.uint8)
    bad = np.zeros(1, dtype=np.uint8)
    run_rows(id2rgb_checked_kernel, (ids, out), (bad,))
    return out, not bad[0]


# ---------------------------------------------------------------- binary, labels only


@jit
def binary_labels_u8_kernel(rgb, labels, background, direction, s_min):
    """uint8 RGB -> labels of :func:`binary_kernel` in integer arithmetic: with integer colours
    ``s = (c - bg) . (fg - bg)`` is exact (``c / 255 * 255 == c`` for every 8-bit ``c``), and
    ``t = s / |fg - bg|^2 >= threshold`` iff ``s >= s_min`` (:func:`binary_s_min`)."""
    b0, b1, b2 = background[0], background[1], background[2]
    d0, d1, d2 = direction[0], direction[1], direction[2]
    for i in range(rgb.shape[0]):
        s = (
            (np.int32(rgb[i, 0]) - b0) * d0
            + (np.int32(rgb[i, 1]) - b1) * d1
            + (np.int32(rgb[i, 2]) - b2) * d2
        )
        labels[i] = 1 if s >= s_min else 0


@jit
def binary_labels_words_kernel(rgb, labels, direction, s_min_bg):
    """:func:`binary_labels_u8_kernel` reading four pixels (12 bytes) as three little-endian
    32-bit words: ``c . d >= s_min + bg . d`` (``s_min_bg``), the same integers. Little-endian
    machines only (:func:`binary_labels`)."""
    flat = rgb.reshape(-1)
    n = labels.shape[0]
    quads = n // 4
    words = flat[: quads * 12].view(np.uint32)
    d0, d1, d2 = np.int32(direction[0]), np.int32(direction[1]), np.int32(direction[2])
    for q in range(quads):
        a = words[3 * q]
        b = words[3 * q + 1]
        c = words[3 * q + 2]
        s0 = np.int32(a & 255) * d0 + np.int32((a >> 8) & 255) * d1 + np.int32((a >> 16) & 255) * d2
        s1 = np.int32(a >> 24) * d0 + np.int32(b & 255) * d1 + np.int32((b >> 8) & 255) * d2
        s2 = np.int32((b >> 16) & 255) * d0 + np.int32(b >> 24) * d1 + np.int32(c & 255) * d2
        s3 = np.int32((c >> 8) & 255) * d0 + np.int32((c >> 16) & 255) * d1 + np.int32(c >> 24) * d2
        labels[4 * q] = s0 >= s_min_bg
        labels[4 * q + 1] = s1 >= s_min_bg
        labels[4 * q + 2] = s2 >= s_min_bg
        labels[4 * q + 3] = s3 >= s_min_bg
    for i in range(quads * 4, n):
        s = (
            np.int32(flat[3 * i]) * d0
            + np.int32(flat[3 * i + 1]) * d1
            + np.int32(flat[3 * i + 2]) * d2
        )
        labels[i] = s >= s_min_bg


def binary_s_min(inv_len2: float, threshold: float) -> int:
    """The least integer ``s`` with ``s * inv_len2 >= threshold`` in float64, as
    :func:`binary_kernel` computes ``t`` (a product with a positive constant is monotone in ``s``,
    so the answer is found next to ``threshold / inv_len2``)."""
    s = math.floor(threshold / inv_len2) - 2
    while s * inv_len2 < threshold:
        s += 1
    while (s - 1) * inv_len2 >= threshold:
        s -= 1
    return int(s)


def binary_labels(
    rgb: np.ndarray,
    background: np.ndarray,
    direction: np.ndarray,
    inv_len2: float,
    threshold: float,
) -> np.ndarray:
    """uint8 RGB rows ``(n, 3)`` -> labels uint8 ``(n,)``, equal to :func:`binary`'s."""
    labels = np.empty(rgb.shape[0], dtype=np.uint8)
    s_min = binary_s_min(inv_len2, threshold)
    if sys.byteorder == "little":
        bg_d = int(np.dot(background.astype(np.int64), direction.astype(np.int64)))
        run_rows(
            binary_labels_words_kernel,
            (rgb, labels),
            (direction.astype(np.int32), np.int32(s_min + bg_d)),
        )
        return labels
    run_rows(
        binary_labels_u8_kernel,
        (rgb, labels),
        (background.astype(np.int32), direction.astype(np.int32), np.int32(s_min)),
    )
    return labels


# ---------------------------------------------------------------- candidate grid (RGB space)
#: The RGB cube (coordinates 0..255) is cut into ``GRID**3`` cells ``CELL`` codes a side; each cell
#: lists the palette colours that can be the nearest (or one of the two nearest) of a point in it.
CELL_SHIFT = 4
CELL = 1 << CELL_SHIFT
GRID = 256 // CELL
#: Relative and absolute slack on a cell's bound: a colour is listed when its distance from the cell
#: is within the bound plus this (listing one more colour never changes an answer).
GRID_SLACK = 1e-9


def candidate_grid(palette: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    """``(offsets int64, candidates int32)``: the palette rows (in increasing order) that can be
    among the ``need`` (1 or 2) nearest of a point of cell ``c`` are
    ``candidates[offsets[c]:offsets[c+1]]`` (built once per palette by
    :func:`candidate_grid_kernel`, 1-3 ms; its NumPy specification is
    :func:`candidate_grid_reference`, which also serves under ``NUMBA_DISABLE_JIT``).

    For the box ``[lo, lo + CELL]^3`` of a cell, ``B`` is the ``need``-th smallest over the palette
    of the squared distance to the box's farthest point: every point of the box has ``need``
    colours within ``sqrt(B)``, so a colour whose squared distance to the box's nearest point
    exceeds ``B`` is never among its ``need`` nearest, and a scan of the listed colours in order
    finds the same nearest (first on ties) and second-nearest distances as a scan of all.
    """
    palette = np.ascontiguousarray(palette, dtype=np.float64)
    if numba.config.DISABLE_JIT:  # 4096 cells x K colours in Python: the NumPy form is faster
        return candidate_grid_reference(palette, need)
    counts = np.zeros(GRID**3 + 1, dtype=np.int64)
    candidate_grid_kernel(palette, need, counts, np.zeros(0, dtype=np.int32))
    offsets = np.cumsum(counts)  # counts[c + 1]: cell c's; offsets[0] == 0
    candidates = np.empty(int(offsets[-1]), dtype=np.int32)
    candidate_grid_kernel(palette, need, offsets, candidates)
    return offsets, candidates


@jit
def candidate_grid_kernel(palette, need, offsets, candidates):
    """:func:`candidate_grid` cell by cell: with ``candidates`` empty, ``offsets[c + 1]`` = the
    number of colours cell ``c`` lists; else ``candidates[offsets[c]:offsets[c + 1]]`` = them."""
    k = palette.shape[0]
    kth = 0 if need == 1 or k == 1 else 1
    fill = candidates.shape[0] > 0
    for cell in range(GRID * GRID * GRID):
        lo0 = float((cell // (GRID * GRID)) * CELL)
        lo1 = float(((cell // GRID) % GRID) * CELL)
        lo2 = float((cell % GRID) * CELL)
        m1 = math.inf
        m2 = math.inf
        for j in range(k):
            far = _box_far(palette, j, lo0, lo1, lo2, float(CELL))
            if far < m1:
                m2 = m1
                m1 = far
            elif far < m2:
                m2 = far
        bound = (m1 if kth == 0 else m2) * (1.0 + GRID_SLACK) + GRID_SLACK
        n = 0
        for j in range(k):
            if _box_near(palette, j, lo0, lo1, lo2, float(CELL)) <= bound:
                if fill:
                    candidates[offsets[cell] + n] = j
                n += 1
        if not fill:
            offsets[cell + 1] = n


@jit
def _box_far(palette, j, lo0, lo1, lo2, side):
    """Squared distance from palette row ``j`` to the farthest point of the box
    ``[lo, lo + side]`` (per axis the farther face; the sum in axis order, as the references)."""
    total = 0.0
    for c, lo in ((0, lo0), (1, lo1), (2, lo2)):
        d = max(abs(palette[j, c] - lo), abs(palette[j, c] - lo - side))
        total += d * d
    return total


@jit
def _box_near(palette, j, lo0, lo1, lo2, side):
    """Squared distance from palette row ``j`` to the nearest point of the box ``[lo, lo + side]``."""
    total = 0.0
    for c, lo in ((0, lo0), (1, lo1), (2, lo2)):
        d = max(lo - palette[j, c], 0.0, palette[j, c] - lo - side)
        total += d * d
    return total


def candidate_grid_reference(palette: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    """NumPy specification of :func:`candidate_grid` (the same arrays)."""
    lo = np.stack(np.meshgrid(*[np.arange(GRID) * CELL] * 3, indexing="ij"), -1).reshape(-1, 1, 3)
    p = np.asarray(palette, dtype=np.float64)[None]
    far = (np.maximum(np.abs(p - lo), np.abs(p - lo - CELL)) ** 2).sum(-1)
    near = (np.maximum(np.maximum(lo - p, 0.0), p - lo - CELL) ** 2).sum(-1)
    k = 0 if need == 1 or p.shape[1] == 1 else 1
    bound = np.partition(far, k, axis=1)[:, k] * (1.0 + GRID_SLACK) + GRID_SLACK
    listed = near <= bound[:, None]
    offsets = np.zeros(GRID**3 + 1, dtype=np.int64)
    np.cumsum(listed.sum(axis=1), out=offsets[1:])
    candidates = np.nonzero(listed)[1].astype(np.int32)  # row-major: per cell, increasing k
    return offsets, candidates


@jit
def nearest_listed(x, y, z, palette, offsets, candidates):
    """:func:`nearest_color` of an RGB-space point ``(x, y, z)`` (0..255) over the colours its
    cell lists: the same label and distances (:func:`candidate_grid`)."""
    cell = 0
    for v in (x, y, z):
        j = min(max(int(v) >> CELL_SHIFT, 0), GRID - 1)
        cell = cell * GRID + j
    best = 0
    d1 = math.inf
    d2 = math.inf
    for j in range(offsets[cell], offsets[cell + 1]):
        k = candidates[j]
        dx = x - palette[k, 0]
        dy = y - palette[k, 1]
        dz = z - palette[k, 2]
        d = dx * dx + dy * dy + dz * dz
        if d < d1:
            d2 = d1
            d1 = d
            best = k
        elif d < d2:
            d2 = d
    return best, math.sqrt(d1), math.sqrt(d2)


# ---------------------------------------------------------------- labels only, a compact table


@jit
def nearest_labels_kernel(
    rgb,
    labels,
    table,
    code_label,
    palette,
    offsets,
    candidates,
    packed,
    fine,
    fine_done,
    space_id,
    reject,
):
    """Labels of :func:`nearest_kernel` for uint8 RGB rows through a compact lazily filled table
    (uint8 or uint16 entries, one per 8-bit colour): 0 = unknown, ``k + 1`` = label ``k``, the
    largest code = rejected (``code_label`` maps a code to its label, the ``ignore`` label for the
    largest). An unknown colour is classified by the rule of :func:`_classify`: in RGB space
    (``offsets`` not empty) by its fine cell's code when the cell has one colour
    (:func:`fine_cells_of`, computed for a coarse cell when ``fine_done`` says it is not yet),
    else over the colours its coarse cell lists, in integers (:func:`_packed_code`, ``packed``:
    the lists as :func:`packed_candidates`); in the other spaces over the whole palette.

    The fine cell is read only for a colour the table does not know: reading it first (a
    uniform cell answering without the 16 MiB table) was slower on random colours, the branch on
    the cell's kind being unpredictable there (measured: warm 75 against 56 ms at 1080p)."""
    top = code_label.shape[0] - 1
    listed = offsets.shape[0] > 0
    flat = rgb.reshape(-1)  # 1-D reads: half the time of rgb[i, c] here
    for i in range(rgb.shape[0]):
        r = np.int64(flat[3 * i])
        g = np.int64(flat[3 * i + 1])
        b = np.int64(flat[3 * i + 2])
        key = (r << 16) | (g << 8) | b
        code = table[key]
        if code == 0:
            if listed:
                cell = ((r >> CELL_SHIFT) * GRID + (g >> CELL_SHIFT)) * GRID + (b >> CELL_SHIFT)
                if fine_done[cell] == 0:
                    fine_cells_of(cell, palette, offsets, candidates, reject, fine)
                    fine_done[cell] = 1
                code = fine[
                    (((r >> FINE_SHIFT) * FINE_GRID) + (g >> FINE_SHIFT)) * FINE_GRID
                    + (b >> FINE_SHIFT)
                ]
                if code == 0:
                    code = _packed_code(r, g, b, offsets, packed, reject, top)
            else:
                x, y, z = to_space(float(r) / 255.0, float(g) / 255.0, float(b) / 255.0, space_id)
                k, d1, _ = nearest_color(x, y, z, palette)
                code = top if d1 > reject else k + 1
            table[key] = code
        labels[i] = code_label[code]


@jit
def _packed_code(r, g, b, offsets, packed, reject, top):
    """The code of 8-bit colour ``(r, g, b)`` in RGB space, where its coordinates are the integers
    themselves (``c / 255 * 255 == c``) and so are the palette's: the squared distances are exact
    integers, the first least one over the cell's list (increasing labels) is
    :func:`nearest_listed`'s, and so is the rejection ``sqrt(d1) > reject``. ``packed``: the
    cell lists of :func:`packed_candidates`, one word per colour (no float work, one load each)."""
    cell = ((r >> CELL_SHIFT) * GRID + (g >> CELL_SHIFT)) * GRID + (b >> CELL_SHIFT)
    best = np.int64(0)
    d1 = np.int64(1) << 62
    for j in range(offsets[cell], offsets[cell + 1]):
        e = packed[j]
        dr = r - ((e >> 16) & 255)
        dg = g - ((e >> 8) & 255)
        db = b - (e & 255)
        d = dr * dr + dg * dg + db * db
        if d < d1:
            d1 = d
            best = e >> 24
    return top if math.sqrt(float(d1)) > reject else best + 1


def packed_candidates(palette: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """The entries of :func:`candidate_grid`'s lists as int64 words ``k << 24 | R << 16 | G << 8
    | B`` of palette row ``k`` (RGB-space coordinates, integers 0..255)."""
    rgb = np.asarray(palette, dtype=np.int64)[candidates]
    return (candidates.astype(np.int64) << 24) | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]


def nearest_labels(
    rgb: np.ndarray,
    palette: np.ndarray,
    space_id: int,
    reject: float,
    table: np.ndarray,
    code_label: np.ndarray,
    grid: tuple[np.ndarray, np.ndarray, np.ndarray] | None,
    fine: tuple[np.ndarray, np.ndarray] | None,
) -> np.ndarray:
    """uint8 RGB rows ``(n, 3)`` -> the labels of :func:`nearest` (dtype of ``code_label``);
    ``grid``: :func:`candidate_grid` (``need=1``) and ``fine``: the fine cells' codes (dtype of
    ``table``, zeros) and the per-coarse-cell "computed" flags (uint8, zeros), both filled as
    colours are met; RGB space only (else None)."""
    labels = np.empty(rgb.shape[0], dtype=code_label.dtype)
    offsets, candidates, packed = grid if grid is not None else _NO_GRID
    codes, done = fine if fine is not None else (table[:0], _NO_FLAGS)
    run_rows(
        nearest_labels_kernel,
        (rgb, labels),
        (table, code_label, palette, offsets, candidates, packed, codes, done, space_id, reject),
    )
    return labels


_NO_FLAGS = np.zeros(0, dtype=np.uint8)
_NO_OFFSETS = np.zeros(0, dtype=np.int64)
_NO_CANDIDATES = np.zeros(0, dtype=np.int32)
_NO_GRID = (_NO_OFFSETS, _NO_CANDIDATES, np.zeros(0, dtype=np.int64))


# ---------------------------------------------------------------- fine cells of one colour (RGB space)
#: The labels-only decode first looks a colour up in a grid of ``FINE_GRID**3`` cells ``FINE``
#: codes a side (256 KiB of uint8 codes, cache-resident): a cell that lies entirely in one palette
#: colour's Voronoi region (and within ``reject`` of it) holds that colour's code, the others 0.
FINE_SHIFT = 2
FINE = 1 << FINE_SHIFT
FINE_GRID = 256 // FINE


@jit
def fine_cells(palette, offsets, candidates, reject, codes):
    """Fill ``codes`` (``FINE_GRID**3``, zeros) with ``k + 1`` for every fine cell all of whose
    points (the box ``[lo, lo + FINE]^3``) have palette colour ``k`` as their unique nearest and
    within ``reject`` (:func:`fine_cells_of`, for every coarse cell)."""
    for cell in range(GRID * GRID * GRID):
        fine_cells_of(cell, palette, offsets, candidates, reject, codes)


@jit
def fine_cells_of(cell, palette, offsets, candidates, reject, codes):
    """The fine cells of coarse cell ``cell`` (:func:`fine_cells`); ``offsets``/``candidates``:
    :func:`candidate_grid` with ``need=1``.

    As there: ``B`` = the least squared distance of a colour to the box's farthest point; when one
    colour alone is within ``B`` of the box's nearest point, every other colour is strictly
    farther from every point of the box than that colour, so it is the unique nearest (no tie to
    break). The colours a coarse cell does not list are farther than its bound, which is at least
    the fine cell's: scanning the coarse cell's list is enough."""
    per = CELL // FINE
    c0 = cell // (GRID * GRID)
    c1 = (cell // GRID) % GRID
    c2 = cell % GRID
    lo_j, hi_j = offsets[cell], offsets[cell + 1]
    for f in range(per * per * per):
        f0 = c0 * per + f // (per * per)
        f1 = c1 * per + (f // per) % per
        f2 = c2 * per + f % per
        lo0, lo1, lo2 = float(f0 * FINE), float(f1 * FINE), float(f2 * FINE)
        bound = math.inf
        for j in range(lo_j, hi_j):
            k = candidates[j]
            far = 0.0
            for c, lo in ((0, lo0), (1, lo1), (2, lo2)):
                d = max(abs(palette[k, c] - lo), abs(palette[k, c] - lo - FINE))
                far += d * d
            bound = min(bound, far)
        bound = bound * (1.0 + GRID_SLACK) + GRID_SLACK
        n = 0
        only = -1
        only_far = 0.0
        for j in range(lo_j, hi_j):
            k = candidates[j]
            near = 0.0
            far = 0.0
            for c, lo in ((0, lo0), (1, lo1), (2, lo2)):
                d = max(lo - palette[k, c], 0.0, palette[k, c] - lo - FINE)
                near += d * d
                e = max(abs(palette[k, c] - lo), abs(palette[k, c] - lo - FINE))
                far += e * e
            if near <= bound:
                n += 1
                only = k
                only_far = far
        if n == 1 and math.sqrt(only_far) * (1.0 + GRID_SLACK) + GRID_SLACK < reject:
            codes[(f0 * FINE_GRID + f1) * FINE_GRID + f2] = only + 1


def fine_cells_reference(palette, reject):
    """NumPy specification of :func:`fine_cells` (over the whole palette): the code array."""
    lo = np.stack(np.meshgrid(*[np.arange(FINE_GRID) * FINE] * 3, indexing="ij"), -1)
    lo = lo.reshape(-1, 1, 3).astype(np.float64)
    p = np.asarray(palette, dtype=np.float64)[None]
    far = (np.maximum(np.abs(p - lo), np.abs(p - lo - FINE)) ** 2).sum(-1)
    near = (np.maximum(np.maximum(lo - p, 0.0), p - lo - FINE) ** 2).sum(-1)
    bound = far.min(axis=1, keepdims=True) * (1.0 + GRID_SLACK) + GRID_SLACK
    inside = near <= bound
    only = inside.argmax(axis=1)
    far_only = np.take_along_axis(far, only[:, None], axis=1)[:, 0]
    ok = (inside.sum(axis=1) == 1) & (np.sqrt(far_only) * (1.0 + GRID_SLACK) + GRID_SLACK < reject)
    return np.where(ok, only + 1, 0)
