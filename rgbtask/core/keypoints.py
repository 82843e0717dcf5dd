"""Keypoint heatmap kernels: render Gaussian blobs into RGB codes, find and refine peaks.

Each kernel sits beside its plain NumPy reference (``*_reference``), which is its specification.

Pixel convention: pixel ``(row i, column j)`` is the point ``(x=j, y=i)``.

Render (per image, in float64). A keypoint ``(x, y)`` of id ``k`` draws on plane ``plane_of[k]``::

    h(i, j) = exp(-(i - y)^2 / (2 sigma^2)) * exp(-(j - x)^2 / (2 sigma^2))
              for |j - x|, |i - y| <= radius   (separable: one exp per row and per column)

Blobs on one plane combine by maximum; the owner of a pixel is the id of the blob that gives the
maximum (the first one drawn on exact ties). Codes (``s`` = 255)::

    layout 0 (painter): R = round(s h),     (G, B) = colors[owner] where R >= 1, else (0, 0, 0)
    layout 1 (palette): RGB = round(s h colors[owner])    (colors have a maximum component 1)
    layout 2 (stacked): page p = k // 3, channel k % 3 of the page, pages side by side: round(s h)

``round(v) = floor(v + 0.5)``.

Peaks (per image): a plane value ``v`` and an id per pixel (painter: R / s and the nearest G/B grid
code; palette: max(R, G, B) / s and the nearest palette colour of ``RGB / max``; stacked: the
channel, id fixed). A candidate is a pixel with ``v >= threshold`` that is a maximum among its 8
neighbours of the same id (strictly above the ones before it in raster order, at least equal to the
ones after), and more than half of whose in-image neighbours have its id (an isolated pixel of
another id, such as JPEG's chroma smear makes at a blob's edge, is no peak). Refinement per axis from the same-id values ``v-, v0, v+`` along it:

    refine 0 (none):    offset 0
    refine 1 (quarter): offset 0.25 * sign(v+ - v-)
    refine 2 (dark):    L = log v;  offset = -(L+ - L-) / 2 / (L+ - 2 L0 + L-)   (Newton on log h)

An axis whose neighbour is outside the image, has another id or is not > 0, or (dark) whose second
difference is not < 0, gets offset 0. Offsets are clipped to [-0.5, 0.5].
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit, run_rows
from rgbtask.core._tables import TableCache
from rgbtask.core.color import nearest_color

__all__ = [
    "GRID",
    "PAINTER",
    "PAINTER_PUBLISHED",
    "PALETTE",
    "REFINE_DARK",
    "REFINE_NONE",
    "REFINE_QUARTER",
    "STACKED",
    "find_peaks",
    "find_peaks_painter",
    "render",
    "render_painter",
]

#: Layout flags (``layout`` argument of the kernels). ``PAINTER`` is the single-sigma grid layout
#: (``layout="grid"``); Painter's own two-sigma images (``PAINTER_PUBLISHED``) have their own
#: kernels, :func:`render_painter` and :func:`find_peaks_painter`.
PAINTER, PALETTE, STACKED = 0, 1, 2
GRID = PAINTER
PAINTER_PUBLISHED = 3
#: Refinement flags (``refine`` argument of the kernels).
REFINE_NONE, REFINE_QUARTER, REFINE_DARK = 0, 1, 2


# ---------------------------------------------------------------- wrappers


def render(
    keypoints: np.ndarray,
    *,
    height: int,
    width: int,
    pages: int,
    plane_of: np.ndarray,
    colors: np.ndarray,
    layout: int,
    n_planes: int,
    sigma: float,
    radius: float,
    scale: float,
) -> np.ndarray:
    """Draw keypoints ``(B, N, K, 2)`` (float64, NaN = not drawn) as ``(B, height, pages * width,
    3)`` uint8 codes (module docstring); images are split over the kernel threads."""
    out = np.zeros((keypoints.shape[0], height, pages * width, 3), dtype=np.uint8)
    run_rows(
        render_kernel,
        (keypoints, out),
        (plane_of, colors, layout, n_planes, width, sigma, radius, scale),
        min_rows=1,
    )
    return out


def find_peaks(
    rgb: np.ndarray,
    *,
    colors: np.ndarray,
    layout: int,
    num_keypoints: int,
    n_planes: int,
    height: int,
    width: int,
    grid_n: int,
    grid_sep: float,
    scale: float,
    threshold: float,
    refine: int,
    capacity: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Peak candidates of images ``(B, height, pages * width, 3)``: ``(B, capacity, 4)`` rows
    ``(id, x, y, value)`` and ``(B,)`` counts (at most ``capacity``; module docstring)."""
    n_img = rgb.shape[0]
    cand = np.zeros((n_img, capacity, 4), dtype=np.float64)
    count = np.zeros(n_img, dtype=np.int64)
    run_rows(
        peaks_kernel,
        (rgb, cand, count),
        (
            colors,
            layout,
            num_keypoints,
            n_planes,
            height,
            width,
            grid_n,
            grid_sep,
            scale,
            threshold,
            refine,
        ),
        min_rows=1,
    )
    return cand, count


# ---------------------------------------------------------------- render


@jit
def render_kernel(keypoints, out, plane_of, colors, layout, n_planes, width, sigma, radius, scale):
    """``keypoints`` (B, N, K, 2) float64, NaN = not drawn; ``out`` (B, H, W_out, 3) zeroed.

    One (H, W) scratch plane, reused plane by plane and image by image (cleared where drawn).
    """
    n_img, n_inst, n_kp = keypoints.shape[0], keypoints.shape[1], keypoints.shape[2]
    height = out.shape[1]
    heat = np.zeros((height, width), dtype=np.float64)
    owner = np.full((height, width), -1, dtype=np.int64)
    inv = 1.0 / (2.0 * sigma * sigma)
    span = 2 * int(math.ceil(radius)) + 3
    gx = np.empty(span, dtype=np.float64)
    gy = np.empty(span, dtype=np.float64)
    for b in range(n_img):
        for p in range(n_planes):
            for stage in range(3):  # 0: draw, 1: write codes, 2: clear the scratch plane
                for n in range(n_inst):
                    for k in range(n_kp):
                        if plane_of[k] != p:
                            continue
                        x = keypoints[b, n, k, 0]
                        y = keypoints[b, n, k, 1]
                        if not (math.isfinite(x) and math.isfinite(y)):
                            continue
                        i0 = max(0, math.ceil(y - radius))
                        i1 = min(height - 1, math.floor(y + radius))
                        j0 = max(0, math.ceil(x - radius))
                        j1 = min(width - 1, math.floor(x + radius))
                        if stage == 0:
                            for i in range(i0, i1 + 1):
                                gy[i - i0] = math.exp(-((i - y) * (i - y)) * inv)
                            for j in range(j0, j1 + 1):
                                gx[j - j0] = math.exp(-((j - x) * (j - x)) * inv)
                        for i in range(i0, i1 + 1):
                            for j in range(j0, j1 + 1):
                                if stage == 0:
                                    h = gy[i - i0] * gx[j - j0]
                                    if h > heat[i, j]:
                                        heat[i, j] = h
                                        owner[i, j] = k
                                elif stage == 1:
                                    kk = owner[i, j]
                                    if kk < 0:
                                        continue
                                    code = math.floor(heat[i, j] * scale + 0.5)
                                    if layout == PAINTER:
                                        if code >= 1:
                                            out[b, i, j, 0] = code
                                            out[b, i, j, 1] = colors[kk, 1]
                                            out[b, i, j, 2] = colors[kk, 2]
                                    elif layout == PALETTE:
                                        for c in range(3):
                                            v = heat[i, j] * scale * colors[kk, c]
                                            out[b, i, j, c] = math.floor(v + 0.5)
                                    else:
                                        out[b, i, (kk // 3) * width + j, kk % 3] = code
                                else:
                                    heat[i, j] = 0.0
                                    owner[i, j] = -1


def render_reference(
    keypoints, out_shape, plane_of, colors, layout, n_planes, width, sigma, radius, scale
):
    """NumPy specification of :func:`render_kernel`; returns the uint8 codes."""
    n_img, n_inst, n_kp = keypoints.shape[:3]
    height = out_shape[1]
    out = np.zeros(out_shape, dtype=np.uint8)
    ii, jj = np.mgrid[0:height, 0:width].astype(np.float64)
    for b in range(n_img):
        heat = np.zeros((n_planes, height, width))
        owner = np.full((n_planes, height, width), -1)
        for n in range(n_inst):
            for k in range(n_kp):
                x, y = keypoints[b, n, k]
                if not (np.isfinite(x) and np.isfinite(y)):
                    continue
                p = plane_of[k]
                window = (np.abs(jj - x) <= radius) & (np.abs(ii - y) <= radius)
                window &= (ii >= np.ceil(y - radius)) & (jj >= np.ceil(x - radius))
                inv = 1.0 / (2.0 * sigma * sigma)
                h = np.exp(-((ii - y) * (ii - y)) * inv) * np.exp(-((jj - x) * (jj - x)) * inv)
                take = window & (h > heat[p])
                heat[p][take] = h[take]
                owner[p][take] = k
        for p in range(n_planes):
            drawn = owner[p] >= 0
            code = np.floor(heat[p] * scale + 0.5)
            k = np.where(drawn, owner[p], 0)
            if layout == PAINTER:
                on = drawn & (code >= 1)
                out[b, ..., 0][on] = code[on]
                out[b, ..., 1][on] = colors[k, 1][on]
                out[b, ..., 2][on] = colors[k, 2][on]
            elif layout == PALETTE:
                for c in range(3):
                    v = np.floor(heat[p] * scale * colors[k, c] + 0.5)
                    out[b, ..., c][drawn] = v[drawn]
            else:
                for k_ in range(n_kp):
                    if plane_of[k_] != p:
                        continue
                    page = out[b, :, (k_ // 3) * width : (k_ // 3 + 1) * width, k_ % 3]
                    page[drawn] = code[drawn]
    return out


# ---------------------------------------------------------------- peaks


@jit
def _plane(rgb, val, ids, p, layout, n_kp, colors, grid_n, grid_sep, scale, min_value):
    """Fill the value and id plane ``p`` of one image (see the module docstring)."""
    height = val.shape[0]
    width = val.shape[1]
    for i in range(height):
        for j in range(width):
            if layout == STACKED:
                val[i, j] = float(rgb[i, (p // 3) * width + j, p % 3]) / scale
                ids[i, j] = p
                continue
            r = float(rgb[i, j, 0]) / scale
            g = float(rgb[i, j, 1]) / scale
            b = float(rgb[i, j, 2]) / scale
            ids[i, j] = -1
            if layout == PAINTER:
                val[i, j] = r
                if r >= min_value:
                    gi = math.floor((255.0 - g * 255.0) / grid_sep + 0.5)
                    bi = math.floor((255.0 - b * 255.0) / grid_sep + 0.5)
                    if 0 <= gi < grid_n and 0 <= bi < grid_n and gi * grid_n + bi < n_kp:
                        ids[i, j] = gi * grid_n + bi
            else:
                m = max(r, g, b)
                val[i, j] = m
                if m >= min_value and m > 0.0:
                    ids[i, j] = nearest_color(r / m, g / m, b / m, colors[:n_kp])[0]


@jit
def _axis_offset(vm, v0, vp, refine):
    if refine == REFINE_QUARTER:
        if vp > vm:
            return 0.25
        if vp < vm:
            return -0.25
        return 0.0
    if refine == REFINE_DARK:
        lm = math.log(vm)
        l0 = math.log(v0)
        lp = math.log(vp)
        second = lp - 2.0 * l0 + lm
        if not second < 0.0:
            return 0.0
        off = -(lp - lm) / 2.0 / second
        return min(0.5, max(-0.5, off))
    return 0.0


@jit
def peaks_kernel(
    rgb,
    cand,
    count,
    colors,
    layout,
    n_kp,
    n_planes,
    height,
    width,
    grid_n,
    grid_sep,
    scale,
    threshold,
    refine,
):
    """Candidates per image: ``cand[b, c] = (id, x, y, value)``, ``count[b]`` of them (capped)."""
    cap = cand.shape[1]
    val = np.zeros((height, width), dtype=np.float64)
    ids = np.full((height, width), -1, dtype=np.int64)
    for b in range(rgb.shape[0]):
        c = 0
        for p in range(n_planes):
            _plane(
                rgb[b], val, ids, p, layout, n_kp, colors, grid_n, grid_sep, scale, 0.5 * threshold
            )
            for i in range(height):
                for j in range(width):
                    v = val[i, j]
                    k = ids[i, j]
                    if k < 0 or not v >= threshold:
                        continue
                    is_max = True
                    n_in = 0
                    n_same = 0
                    for di in range(-1, 2):
                        for dj in range(-1, 2):
                            if di == 0 and dj == 0:
                                continue
                            ni = i + di
                            nj = j + dj
                            if ni < 0 or ni >= height or nj < 0 or nj >= width:
                                continue
                            n_in += 1
                            if ids[ni, nj] != k:
                                continue
                            n_same += 1
                            w = val[ni, nj]
                            before = di < 0 or (di == 0 and dj < 0)
                            if w > v or (before and w == v):
                                is_max = False
                    if not is_max or 2 * n_same <= n_in:
                        continue
                    ox = 0.0
                    if 0 < j < width - 1 and ids[i, j - 1] == k and ids[i, j + 1] == k:
                        vm = val[i, j - 1]
                        vp = val[i, j + 1]
                        if vm > 0.0 and vp > 0.0:
                            ox = _axis_offset(vm, v, vp, refine)
                    oy = 0.0
                    if 0 < i < height - 1 and ids[i - 1, j] == k and ids[i + 1, j] == k:
                        vm = val[i - 1, j]
                        vp = val[i + 1, j]
                        if vm > 0.0 and vp > 0.0:
                            oy = _axis_offset(vm, v, vp, refine)
                    if c < cap:
                        cand[b, c, 0] = k
                        cand[b, c, 1] = j + ox
                        cand[b, c, 2] = i + oy
                        cand[b, c, 3] = v
                    c += 1
        count[b] = min(c, cap)


def planes_reference(rgb, layout, n_kp, colors, grid_n, grid_sep, scale, min_value):
    """NumPy specification of the plane decoding of one image: ``(values, ids)``."""
    v = rgb.astype(np.float64) / scale
    if layout == STACKED:
        width = v.shape[1] // ((n_kp + 2) // 3)
        val = np.stack([v[:, (k // 3) * width : (k // 3 + 1) * width, k % 3] for k in range(n_kp)])
        ids = np.broadcast_to(np.arange(n_kp)[:, None, None], val.shape).copy()
        return val, ids
    if layout == PAINTER:
        val = v[..., 0]
        gi = np.floor((255.0 - v[..., 1] * 255.0) / grid_sep + 0.5)
        bi = np.floor((255.0 - v[..., 2] * 255.0) / grid_sep + 0.5)
        k = gi * grid_n + bi
        ok = (val >= min_value) & (gi >= 0) & (gi < grid_n) & (bi >= 0) & (bi < grid_n)
        ok &= k < n_kp
        return val[None], np.where(ok, k, -1).astype(np.int64)[None]
    m = v.max(axis=-1)
    ok = (m >= min_value) & (m > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        u = v / m[..., None]
    d = np.sum((u[..., None, :] - colors[None, None]) ** 2, axis=-1)
    k = np.argmin(np.where(np.isfinite(d), d, np.inf), axis=-1)
    return m[None], np.where(ok, k, -1).astype(np.int64)[None]


def _axis_offset_reference(vm, v0, vp, refine):
    if refine == REFINE_QUARTER:
        return 0.25 * np.sign(vp - vm)
    if refine == REFINE_DARK:
        with np.errstate(divide="ignore", invalid="ignore"):
            lm, l0, lp = np.log(vm), np.log(v0), np.log(vp)
            second = lp - 2.0 * l0 + lm
            off = -(lp - lm) / 2.0 / second
        return np.where(second < 0, np.clip(off, -0.5, 0.5), 0.0)
    return np.zeros_like(v0)


def peaks_reference(rgb_one, layout, n_kp, colors, grid_n, grid_sep, scale, threshold, refine):
    """NumPy specification of :func:`peaks_kernel` for one image: candidates ``(C, 4)``."""
    val, ids = planes_reference(
        rgb_one, layout, n_kp, colors, grid_n, grid_sep, scale, 0.5 * threshold
    )
    _, height, width = val.shape
    pv = np.pad(val, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    pk = np.pad(ids, ((0, 0), (1, 1), (1, 1)), constant_values=-2)
    is_max = (ids >= 0) & (val >= threshold)
    n_in = np.zeros(val.shape, dtype=np.int64)
    n_same = np.zeros(val.shape, dtype=np.int64)
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            w = pv[:, 1 + di : 1 + di + height, 1 + dj : 1 + dj + width]
            nb = pk[:, 1 + di : 1 + di + height, 1 + dj : 1 + dj + width]
            same = nb == ids
            n_in += nb != -2
            n_same += same
            before = di < 0 or (di == 0 and dj < 0)
            beaten = (w > val) | ((w == val) if before else False)
            is_max &= ~(same & beaten)
    is_max &= 2 * n_same > n_in
    rows = []
    for p, i, j in zip(*np.nonzero(is_max)):
        k = ids[p, i, j]
        v = val[p, i, j]
        off = [0.0, 0.0]
        for axis, (a, lo, hi) in enumerate(
            ((j, (i, j - 1), (i, j + 1)), (i, (i - 1, j), (i + 1, j)))
        ):
            limit = width if axis == 0 else height
            if not (0 < a < limit - 1):
                continue
            if ids[(p, *lo)] != k or ids[(p, *hi)] != k:
                continue
            vm, vp = val[(p, *lo)], val[(p, *hi)]
            if vm > 0 and vp > 0:
                off[axis] = float(_axis_offset_reference(vm, v, vp, refine))
        rows.append((k, j + off[0], i + off[1], v))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def argmax_dark_reference(heatmaps):
    """Plain NumPy argmax + DARK on heatmaps ``(B, K, H, W)`` (the benchmark's peer).

    Returns ``(B, K, 2)`` pixel coordinates and ``(B, K)`` peak values.
    """
    n_img, n_kp, height, width = heatmaps.shape
    flat = heatmaps.reshape(n_img, n_kp, -1)
    idx = np.argmax(flat, axis=-1)
    i, j = np.divmod(idx, width)
    b_, k_ = np.meshgrid(np.arange(n_img), np.arange(n_kp), indexing="ij")
    v0 = heatmaps[b_, k_, i, j]
    out = np.stack([j, i], axis=-1).astype(np.float64)
    for axis, (di, dj) in enumerate(((0, 1), (1, 0))):
        pos = j if axis == 0 else i
        limit = width if axis == 0 else height
        inside = (pos > 0) & (pos < limit - 1)
        im, jm = np.clip(i - di, 0, height - 1), np.clip(j - dj, 0, width - 1)
        ip, jp = np.clip(i + di, 0, height - 1), np.clip(j + dj, 0, width - 1)
        vm, vp = heatmaps[b_, k_, im, jm], heatmaps[b_, k_, ip, jp]
        ok = inside & (vm > 0) & (vp > 0) & (v0 > 0)
        off = _axis_offset_reference(
            np.where(ok, vm, 1), np.where(ok, v0, 1), np.where(ok, vp, 1), REFINE_DARK
        )
        out[..., axis] += np.where(ok, off, 0.0)
    return out, v0


# ---------------------------------------------------------------- Painter's layout as published
#
# Painter (baaivision/Painter @cfec84587da2a2cc4e0b9acebe6fba1666e66477,
# Painter/data/mmpose_custom/data/pipelines/custom_transform.py ``encode_rgb_target_to_image``,
# fed by ``TopDownGenerateTargetCustom`` with ``sigma=[1.5, 3]``, i.e. mmpose 0.x
# ``TopDownGenerateTarget._msra_generate_target``, open-mmlab/mmpose
# @03b7d98b19ba5d5ca0920e1d6155e5e4fe5b321e mmpose/datasets/pipelines/top_down_transform.py):
#
# * each visible keypoint's centre is rounded to a whole pixel, ``mu = int(x + 0.5)`` on the float32
#   coordinate, and a float32 Gaussian window of ``n = len(arange(0, 6 s + 1))`` pixels, peak at
#   index ``(6 s + 1) // 2``, is pasted at ``ul = int(mu - 3 s)`` (int truncates toward zero, so
#   near the top/left edge a window of non-integer ``3 s`` lands one pixel late, as published);
# * R = ``uint8(float32(255 * max over blobs of the sigma_R window)))``: truncated;
# * (G, B) = the code of the only id whose sigma_C window (sigma_C = sigma_R / 2) covers the pixel;
#   where windows of several ids overlap, the code of the id whose sigma_R window value is the
#   largest there (numpy argmax: the lowest id on ties); (0, 0) where no window covers.
#
# Decode (Painter/eval/mmpose_custom/model/top_down.py ``decode_images_to_heatmaps_minmax`` and
# mmpose 0.x ``keypoints_from_heatmaps(post_process="default")``, open-mmlab/mmpose
# @0146679a963b7375659bc816284863d22e3db90e mmpose/core/evaluation/top_down_eval.py): every pixel
# takes the nearest of the K codes plus black (0, 0) by L1 distance on (G, B) (the first on ties);
# id k's heatmap is R where the pixel's class is k, else 0; the argmax, then a quarter pixel toward
# the larger neighbour per axis when ``1 < x < W - 1 and 1 < y < H - 1``.


def painter_window(sigma: float) -> tuple[np.ndarray, float]:
    """mmpose 0.x's MSRA Gaussian window for ``sigma``: the float32 values ``(n, n)`` (the
    published expression, evaluated by NumPy) and ``tmp_size = 3 sigma``."""
    tmp_size = sigma * 3
    size = 2 * tmp_size + 1
    x = np.arange(0, size, 1, np.float32)
    y = x[:, None]
    x0 = y0 = size // 2
    g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
    return g.astype(np.float32), float(tmp_size)


def painter_r_codes(window: np.ndarray) -> np.ndarray:
    """Painter's R code of each window value: ``uint8(float32(g * 255.))`` (truncated)."""
    return (
        (window.astype(np.float32) * 255.0).astype(np.float32).astype(np.float64).astype(np.uint8)
    )


def render_painter(
    keypoints: np.ndarray,
    *,
    height: int,
    width: int,
    codes: np.ndarray,
    sigma_r: float,
    sigma_c: float,
) -> np.ndarray:
    """Painter's target images ``(B, height, width, 3)`` uint8 of keypoints ``(B, N, K, 2)``
    (float64, NaN = not drawn; ``codes`` the ``(K, 2)`` (G, B) table); see the section comment."""
    g_r, tmp_r = painter_window(sigma_r)
    g_c, tmp_c = painter_window(sigma_c)
    out = np.zeros((keypoints.shape[0], height, width, 3), dtype=np.uint8)
    run_rows(
        render_painter_kernel,
        (keypoints, out),
        (
            g_r.astype(np.float64),
            painter_r_codes(g_r),
            tmp_r,
            (g_c != 0).astype(np.uint8),
            tmp_c,
            np.ascontiguousarray(codes, dtype=np.int64),
        ),
        min_rows=1,
    )
    return out


@jit
def _painter_place(x, tmp, n, limit):
    """mmpose's window placement along one axis: ``(first image index, last + 1, first window
    index)``, or ``(0, 0, 0)`` when the window misses the image."""
    mu = int(np.float64(np.float32(x)) + 0.5)
    ul = int(mu - tmp)
    br = int(mu + tmp + 1)
    if ul >= limit or br < 0:
        return 0, 0, 0
    lo = max(0, ul)
    hi = min(br, limit)
    g0 = max(0, -ul)
    if hi - lo > n - g0:
        hi = lo + n - g0
    return lo, hi, g0


@jit
def render_painter_kernel(keypoints, out, g_r, r_codes, tmp_r, m_c, tmp_c, codes):
    """``keypoints`` (B, N, K, 2), ``out`` (B, H, W, 3) zeroed; windows from :func:`painter_window`."""
    n_img, n_inst, n_kp = keypoints.shape[0], keypoints.shape[1], keypoints.shape[2]
    height, width = out.shape[1], out.shape[2]
    n_r = g_r.shape[0]
    n_c = m_c.shape[0]
    cover = np.zeros((height, width), dtype=np.int64)
    best = np.zeros((height, width), dtype=np.float64)
    best_id = np.zeros((height, width), dtype=np.int64)
    for b in range(n_img):
        cover[:] = 0
        best[:] = 0.0
        best_id[:] = 0
        for n in range(n_inst):
            for k in range(n_kp):
                x = keypoints[b, n, k, 0]
                y = keypoints[b, n, k, 1]
                if not (math.isfinite(x) and math.isfinite(y)):
                    continue
                j0, j1, gj = _painter_place(x, tmp_r, n_r, width)
                i0, i1, gi = _painter_place(y, tmp_r, n_r, height)
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        code = r_codes[gi + i - i0, gj + j - j0]
                        if code > out[b, i, j, 0]:
                            out[b, i, j, 0] = code
                        v = g_r[gi + i - i0, gj + j - j0]
                        if v > best[i, j] or (v == best[i, j] and k < best_id[i, j]):
                            best[i, j] = v
                            best_id[i, j] = k
                j0, j1, gj = _painter_place(x, tmp_c, n_c, width)
                i0, i1, gi = _painter_place(y, tmp_c, n_c, height)
                for i in range(i0, i1):
                    for j in range(j0, j1):
                        if m_c[gi + i - i0, gj + j - j0]:
                            cover[i, j] |= np.int64(1) << k
        for i in range(height):
            for j in range(width):
                bits = cover[i, j]
                if bits == 0:
                    continue
                if bits & (bits - 1):  # several ids: the strongest sigma_R window
                    k = best_id[i, j]
                else:
                    k = 0
                    while not (bits >> k) & 1:
                        k += 1
                out[b, i, j, 1] = codes[k, 0]
                out[b, i, j, 2] = codes[k, 1]


def render_painter_reference(keypoints, height, width, codes, sigma_r, sigma_c):
    """NumPy specification of :func:`render_painter`: per id, the sigma_R and sigma_C heatmaps
    (max over instances) as mmpose pastes them, combined as Painter does."""
    n_img, n_inst, n_kp = keypoints.shape[:3]
    out = np.zeros((n_img, height, width, 3), dtype=np.uint8)
    windows = [painter_window(s) for s in (sigma_r, sigma_c)]

    def paste(x, y, g, tmp, plane):
        def axis(v, limit):
            mu = int(float(np.float32(v)) + 0.5)
            ul, br = int(mu - tmp), int(mu + tmp + 1)
            if ul >= limit or br < 0:
                return None
            return slice(max(0, ul), min(br, limit)), slice(max(0, -ul), min(br, limit) - ul)

        ax, ay = axis(x, width), axis(y, height)
        if ax is None or ay is None:
            return
        gw = g[ay[1], ax[1]]
        view = plane[ay[0], ax[0]][: gw.shape[0], : gw.shape[1]]
        np.maximum(view, gw[: view.shape[0], : view.shape[1]], out=view)

    for b in range(n_img):
        heat = np.zeros((2, n_kp, height, width), dtype=np.float32)
        for n in range(n_inst):
            for k in range(n_kp):
                x, y = keypoints[b, n, k]
                if np.isfinite(x) and np.isfinite(y):
                    for s, (g, tmp) in enumerate(windows):
                        paste(x, y, g, tmp, heat[s, k])
        r = (heat[0].max(0) * 255.0).astype(np.float32)
        owner = heat[0].argmax(0)
        area = heat[1] != 0
        count = area.sum(0)
        only = area.argmax(0)
        k = np.where(count > 1, owner, only)
        gb = np.where((count > 0)[..., None], np.asarray(codes)[k], 0)
        out[b] = np.concatenate([r[..., None], gb], axis=-1).astype(np.uint8)
    return out


def find_peaks_painter(
    rgb: np.ndarray,
    *,
    codes: np.ndarray,
    scale: float,
    threshold: float,
    refine: int,
    capacity: int,
    majority: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Peak candidates of Painter images ``(B, H, W, 3)`` (``codes`` the ``(K, 2)`` (G, B)
    table): ``(B, capacity, 4)`` rows ``(id, x, y, value)`` in scan order and ``(B,)`` counts.

    Painter's classification (section comment) and per-class heatmaps; a candidate is a pixel of
    value >= ``threshold`` that is a maximum of its class's heatmap among its 8 neighbours
    (strictly above the ones before it in scan order, at least equal to the ones after: the first
    of equal maxima, as argmax). ``REFINE_QUARTER`` is mmpose's rule on the class heatmap,
    ``REFINE_NONE`` the pixel, any other flag a per-axis Newton step on the log class heatmap
    (Painter's blob is symmetric about its centre pixel: every rule returns that pixel on a clean
    image). ``majority``: a candidate must also have more than half of its in-image neighbours in
    its class (the other layouts' rule: an island of another class, as JPEG's chroma smear makes at
    a class window's corners, is no peak); the codec asks for it with ``max_instances > 1``, where
    such islands would become people, and not for one person, where the argmax is Painter's."""
    n_img = rgb.shape[0]
    cand = np.zeros((n_img, capacity, 4), dtype=np.float64)
    count = np.zeros(n_img, dtype=np.int64)
    table = np.zeros((codes.shape[0] + 1, 2), dtype=np.float64)
    table[:-1] = codes
    # 8-bit codes: the class of every (G, B) pair, looked up (the same rule, computed once per K)
    lut = _painter_class_lut(table) if rgb.dtype == np.uint8 else _NO_LUT
    run_rows(
        painter_peaks_kernel,
        (rgb, cand, count),
        (table, lut, 255.0 / scale, threshold, refine, majority),
        min_rows=1,
    )
    return cand, count


_NO_LUT = np.zeros((0, 0), dtype=np.int64)
_painter_luts = TableCache("Painter class tables", max_entries=32)


def _painter_class_lut(table: np.ndarray) -> np.ndarray:
    """``(256, 256)`` class of each 8-bit (G, B) (nearest code by L1, the first on ties; the last
    row of ``table`` is black), cached per table."""

    def build() -> np.ndarray:
        g = np.arange(256, dtype=np.float64)
        dist = np.abs(g[:, None, None] - table[:, 0]) + np.abs(g[None, :, None] - table[:, 1])
        lut = np.argmin(dist, axis=-1).astype(np.int64)
        lut.setflags(write=False)
        return lut

    return _painter_luts.get(table.tobytes(), build)


@jit
def _painter_classes(rgb, val, ids, table, lut, to_code, scale_r):
    """Painter's per-pixel class (nearest code by L1 on (G, B), black = -1) and class heatmap."""
    height, width = val.shape[0], val.shape[1]
    n_codes = table.shape[0]
    for i in range(height):
        for j in range(width):
            if lut.shape[0] > 0:
                best = lut[int(rgb[i, j, 1]), int(rgb[i, j, 2])]
            else:
                g = float(rgb[i, j, 1]) * to_code
                b = float(rgb[i, j, 2]) * to_code
                best = 0
                best_d = math.inf
                for c in range(n_codes):
                    d = abs(g - table[c, 0]) + abs(b - table[c, 1])
                    if d < best_d:
                        best_d = d
                        best = c
            if best == n_codes - 1:
                ids[i, j] = -1
                val[i, j] = 0.0
            else:
                ids[i, j] = best
                val[i, j] = float(rgb[i, j, 0]) * scale_r


@jit
def painter_peaks_kernel(rgb, cand, count, table, lut, to_code, threshold, refine, majority):
    cap = cand.shape[1]
    height, width = rgb.shape[1], rgb.shape[2]
    val = np.zeros((height, width), dtype=np.float64)
    ids = np.full((height, width), -1, dtype=np.int64)
    scale_r = to_code / 255.0
    for b in range(rgb.shape[0]):
        _painter_classes(rgb[b], val, ids, table, lut, to_code, scale_r)
        c = 0
        for i in range(height):
            for j in range(width):
                v = val[i, j]
                k = ids[i, j]
                if k < 0 or not v >= threshold:
                    continue
                is_max = True
                n_in = 0
                n_same = 0
                for di in range(-1, 2):
                    for dj in range(-1, 2):
                        if di == 0 and dj == 0:
                            continue
                        ni = i + di
                        nj = j + dj
                        if ni < 0 or ni >= height or nj < 0 or nj >= width:
                            continue
                        n_in += 1
                        if ids[ni, nj] != k:
                            continue
                        n_same += 1
                        w = val[ni, nj]
                        before = di < 0 or (di == 0 and dj < 0)
                        if w > v or (before and w == v):
                            is_max = False
                if not is_max or (majority and 2 * n_same <= n_in):
                    continue
                ox = 0.0
                oy = 0.0
                if refine == REFINE_QUARTER:
                    if 1 < j < width - 1 and 1 < i < height - 1:
                        ox = _painter_quarter(
                            _painter_at(val, ids, i, j - 1, k), _painter_at(val, ids, i, j + 1, k)
                        )
                        oy = _painter_quarter(
                            _painter_at(val, ids, i - 1, j, k), _painter_at(val, ids, i + 1, j, k)
                        )
                elif refine != REFINE_NONE:
                    if 0 < j < width - 1:
                        vm = _painter_at(val, ids, i, j - 1, k)
                        vp = _painter_at(val, ids, i, j + 1, k)
                        if vm > 0.0 and vp > 0.0:
                            ox = _painter_newton(vm, v, vp)
                    if 0 < i < height - 1:
                        vm = _painter_at(val, ids, i - 1, j, k)
                        vp = _painter_at(val, ids, i + 1, j, k)
                        if vm > 0.0 and vp > 0.0:
                            oy = _painter_newton(vm, v, vp)
                if c < cap:
                    cand[b, c, 0] = k
                    cand[b, c, 1] = j + ox
                    cand[b, c, 2] = i + oy
                    cand[b, c, 3] = v
                c += 1
        count[b] = min(c, cap)


@jit
def _painter_at(val, ids, i, j, k):
    """Class ``k``'s heatmap at ``(i, j)``: the value where the pixel is of class k, else 0."""
    return val[i, j] if ids[i, j] == k else 0.0


@jit
def _painter_newton(vm, v0, vp):
    """Any other refinement on Painter's images: one Newton step per axis on the log of the class
    heatmap's three samples, clipped to half a pixel (0 where the log is not concave)."""
    lm = math.log(vm)
    l0 = math.log(v0)
    lp = math.log(vp)
    second = lp - 2.0 * l0 + lm
    if not second < 0.0:
        return 0.0
    return min(0.5, max(-0.5, -(lp - lm) / 2.0 / second))


def _painter_newton_reference(vm, v0, vp):
    lm, l0, lp = np.log(vm), np.log(v0), np.log(vp)
    second = lp - 2.0 * l0 + lm
    if not second < 0.0:
        return 0.0
    return float(np.clip(-(lp - lm) / 2.0 / second, -0.5, 0.5))


@jit
def _painter_quarter(vm, vp):
    if vp > vm:
        return 0.25
    if vp < vm:
        return -0.25
    return 0.0


def painter_peaks_reference(rgb_one, codes, scale, threshold, refine, majority=False):
    """NumPy specification of :func:`find_peaks_painter` for one image: candidates ``(C, 4)``."""
    table = np.concatenate([np.asarray(codes, np.float64), np.zeros((1, 2))])
    gb = rgb_one[..., 1:].astype(np.float64) * (255.0 / scale)
    dist = np.abs(gb[..., None, :] - table).sum(-1)
    cls = np.argmin(dist, axis=-1)
    n_kp = len(table) - 1
    height, width = cls.shape
    heat = np.zeros((n_kp, height, width))
    r = rgb_one[..., 0].astype(np.float64) / scale
    for k in range(n_kp):
        heat[k][cls == k] = r[cls == k]
    pad = np.pad(heat, ((0, 0), (1, 1), (1, 1)), constant_values=-np.inf)
    is_max = (heat >= threshold) & (cls[None] == np.arange(n_kp)[:, None, None])
    if majority:
        padded = np.pad(cls, 1, constant_values=-2)
        n_in = np.zeros(cls.shape, dtype=np.int64)
        n_same = np.zeros(cls.shape, dtype=np.int64)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di or dj:
                    nb = padded[1 + di : 1 + di + height, 1 + dj : 1 + dj + width]
                    n_in += nb != -2
                    n_same += nb == cls
        is_max &= (2 * n_same > n_in)[None]
    for di in (-1, 0, 1):
        for dj in (-1, 0, 1):
            if di == 0 and dj == 0:
                continue
            w = pad[:, 1 + di : 1 + di + height, 1 + dj : 1 + dj + width]
            before = di < 0 or (di == 0 and dj < 0)
            is_max &= ~((w > heat) | ((w == heat) if before else False))
    rows = []
    ii, jj = np.nonzero(is_max.any(0))
    for i, j in zip(ii, jj):
        k = cls[i, j]
        h = heat[k]
        v = h[i, j]
        off = [0.0, 0.0]
        if refine == REFINE_QUARTER:
            if 1 < j < width - 1 and 1 < i < height - 1:
                off = [
                    0.25 * np.sign(h[i, j + 1] - h[i, j - 1]),
                    0.25 * np.sign(h[i + 1, j] - h[i - 1, j]),
                ]
        elif refine != REFINE_NONE:
            for axis, (a, lim, lo, hi) in enumerate(
                ((j, width, (i, j - 1), (i, j + 1)), (i, height, (i - 1, j), (i + 1, j)))
            ):
                if 0 < a < lim - 1 and h[lo] > 0 and h[hi] > 0:
                    off[axis] = _painter_newton_reference(h[lo], v, h[hi])
        rows.append((k, j + off[0], i + off[1], v))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)
