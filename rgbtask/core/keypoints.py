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
    "REFINE_GAUSSIAN_FIT",
    "REFINE_NEWTON1D",
    "REFINE_NONE",
    "REFINE_QUARTER",
    "STACKED",
    "dark_blur_weights",
    "dark_kernel_size",
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
REFINE_NONE, REFINE_QUARTER, REFINE_NEWTON1D, REFINE_DARK, REFINE_GAUSSIAN_FIT = 0, 1, 2, 3, 4
#: Floor of the blurred heatmap before its log (mmpose's ``np.maximum(heatmaps, 1e-10)``).
DARK_FLOOR = 1e-10
#: Gauss-Newton iterations of ``gaussian_fit`` (converged to 1e-9 px from the 1-D start).
FIT_ITERATIONS = 5
#: ``gaussian_fit`` stops where its normal equations' determinant is below this fraction of
#: the product of their diagonal (too few pixels to place the Gaussian).
FIT_CONDITION = 1e-6
#: ``gaussian_fit``'s iteration leaves out a pixel that exceeds the current Gaussian by more than
#: this, 25 levels of 255: another blob's slope. (8 levels cut JPEG q90's ringing near the peak
#: on one side and doubled the error there; 25 leave JPEG alone.)
FIT_REJECT = 25.0 / 255.0
#: ``gaussian_fit`` on a lossless image: when the least-squares fit already explains every pixel
#: of its window within one 8-bit level (no noise, only the rounding of ``round(255 h)``, which
#: is within half a level), the rounding error is bounded, not Gaussian, and a minimax fit is the
#: better estimate: ``FIT_MINIMAX_ITERATIONS`` Lawson steps (weighted least squares, each pixel's
#: weight times its absolute residual), keeping the iterate with the smallest largest residual.
#: Noisy or compressed images (residuals of several levels) skip it.
FIT_LOSSLESS = 1.0 / 255.0
FIT_MINIMAX_ITERATIONS = 6


def dark_kernel_size(sigma: float) -> int:
    """DARK's blur kernel size for heatmaps of ``sigma``: the odd size whose OpenCV default
    Gaussian (``cv2.GaussianBlur(.., (k, k), 0)``: ``0.3 ((k - 1) / 2 - 1) + 0.8``) is nearest
    ``sigma``: 11 for sigma 2 and 17 for sigma 3, mmpose's pairs (``gaussian_blur`` in
    open-mmlab/mmpose ``mmpose/codecs/utils/post_processing.py``: "K=17 for sigma=3 and k=11 for
    sigma=2"); at least 3."""
    return max(3, 2 * int(math.floor(((sigma - 0.8) / 0.15 + 2.0) / 2.0 + 0.5)) + 1)


def dark_blur_weights(size: int) -> np.ndarray:
    """OpenCV's 1-D Gaussian kernel of ``size`` taps for ``sigma = 0`` (``cv2.getGaussianKernel``:
    its fixed tables for sizes 1-7, else ``exp(-(i - (size - 1) / 2)^2 / (2 s^2))`` normalised,
    ``s = 0.3 ((size - 1) / 2 - 1) + 0.8``), float64."""
    fixed = {
        1: [1.0],
        3: [0.25, 0.5, 0.25],
        5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
        7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
    }
    if size in fixed:
        return np.array(fixed[size])
    s = 0.3 * ((size - 1) * 0.5 - 1.0) + 0.8
    x = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-x * x / (2.0 * s * s))
    return g / g.sum()


def fit_half_window(sigma: float) -> int:
    """Half-width of ``gaussian_fit``'s window: ``ceil(3.5 sigma)`` (the Fisher information on
    the position beyond it is below 0.3 % of the total)."""
    return int(math.ceil(3.5 * sigma))


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
    snap: bool = False,
) -> np.ndarray:
    """Draw keypoints ``(B, N, K, 2)`` (float64, NaN = not drawn) as ``(B, height, pages * width,
    3)`` uint8 codes (module docstring); images are split over the kernel threads. ``snap``:
    mmpose's biased heatmap (centres rounded to pixels, a ``radius`` square window)."""
    out = np.zeros((keypoints.shape[0], height, pages * width, 3), dtype=np.uint8)
    run_rows(
        render_kernel,
        (keypoints, out),
        (plane_of, colors, layout, n_planes, width, sigma, radius, scale, snap),
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
    sigma: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Peak candidates of images ``(B, height, pages * width, 3)``: ``(B, capacity, 4)`` rows
    ``(id, x, y, value)`` and ``(B,)`` counts (at most ``capacity``; module docstring).
    ``sigma`` (the blobs') sizes DARK's blur and the Gaussian fit."""
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
            sigma,
            dark_blur_weights(dark_kernel_size(sigma)),
            fit_half_window(sigma),
        ),
        min_rows=1,
    )
    return cand, count


# ---------------------------------------------------------------- render


@jit
def render_kernel(
    keypoints, out, plane_of, colors, layout, n_planes, width, sigma, radius, scale, snap=False
):
    """``keypoints`` (B, N, K, 2) float64, NaN = not drawn; ``out`` (B, H, W_out, 3) zeroed.

    One (H, W) scratch plane, reused plane by plane and image by image (cleared where drawn).
    ``snap``: mmpose's biased MSRA heatmap (:func:`_snapped_window`) instead of the sub-pixel
    blob, ``radius`` its ``3 sigma``.
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
                        if snap:
                            i0, i1, cy = _snapped_window(y, radius, height)
                            j0, j1, cx = _snapped_window(x, radius, width)
                        else:
                            i0 = max(0, math.ceil(y - radius))
                            i1 = min(height - 1, math.floor(y + radius))
                            j0 = max(0, math.ceil(x - radius))
                            j1 = min(width - 1, math.floor(x + radius))
                            cy = y
                            cx = x
                        if stage == 0:
                            for i in range(i0, i1 + 1):
                                gy[i - i0] = math.exp(-((i - cy) * (i - cy)) * inv)
                            for j in range(j0, j1 + 1):
                                gx[j - j0] = math.exp(-((j - cx) * (j - cx)) * inv)
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


@jit
def _snapped_window(x, radius, n):
    """mmpose's biased heatmap along one axis (``generate_gaussian_heatmaps`` in
    open-mmlab/mmpose ``mmpose/codecs/utils/gaussian_heatmap.py``): centre
    ``mu = int(x + 0.5)``, window ``left = int(mu - radius)`` .. ``int(mu + radius + 1)``
    (exclusive; ``int`` truncates toward 0), the Gaussian's index ``t = pixel - left`` at distance
    ``t - floor((2 radius + 1) / 2)`` from its centre. Returns the first and last pixel on the
    canvas and the centre the pixel distances are measured from (``mu`` but for the window's
    truncation at a left/top edge with a fractional ``radius``, where mmpose shifts it)."""
    mu = math.floor(x + 0.5)  # x >= -0.5 on the canvas: int() and floor() agree
    left = int(mu - radius)
    right = int(mu + radius + 1.0)
    centre = left + math.floor((2.0 * radius + 1.0) / 2.0)
    return max(0, left), min(n, right) - 1, float(centre)


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
    if refine == REFINE_NEWTON1D or refine == REFINE_GAUSSIAN_FIT:
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
def _pixel(rgb, i, j, p, layout, n_kp, colors, grid_n, grid_sep, scale):
    """Value and id of one pixel of plane ``p`` as :func:`_plane` reads it, with no floor on the
    value (id -1 where the value is 0 or the code is none of the ids)."""
    if layout == STACKED:
        width = rgb.shape[1] // ((n_kp + 2) // 3)
        return float(rgb[i, (p // 3) * width + j, p % 3]) / scale, p
    r = float(rgb[i, j, 0]) / scale
    g = float(rgb[i, j, 1]) / scale
    b = float(rgb[i, j, 2]) / scale
    if layout == PAINTER:
        if not r > 0.0:
            return r, -1
        gi = math.floor((255.0 - g * 255.0) / grid_sep + 0.5)
        bi = math.floor((255.0 - b * 255.0) / grid_sep + 0.5)
        if 0 <= gi < grid_n and 0 <= bi < grid_n and gi * grid_n + bi < n_kp:
            return r, gi * grid_n + bi
        return r, -1
    m = max(r, g, b)
    if not m > 0.0:
        return m, -1
    return m, nearest_color(r / m, g / m, b / m, colors[:n_kp])[0]


@jit
def _dark_offset(
    rgb, i, j, k, p, layout, n_kp, colors, grid_n, grid_sep, scale, height, width, blur, win, tmp
):
    """DARK as published (mmpose ``refine_keypoints_dark``) at the peak pixel ``(i, j)`` of id
    ``k``: the id's heatmap (its values, 0 elsewhere and outside the image) blurred with ``blur``
    on the 5 x 5 pixels around the peak, its log (floored at 1e-10), a 2-D Newton step with the
    full Hessian from central differences (``dxx`` over +-2 px). ``(0, 0)`` within 2 px of the
    edge or for a singular Hessian; clipped to +-1 per axis (a guard against garbage: on an argmax
    tie the true peak may be more than half a pixel away)."""
    if not (1 < j < width - 2 and 1 < i < height - 2):
        return 0.0, 0.0
    bd = (blur.shape[0] - 1) // 2
    n = 5 + 2 * bd
    for a in range(n):
        ii = i - 2 - bd + a
        for c in range(n):
            jj = j - 2 - bd + c
            w = 0.0
            if 0 <= ii < height and 0 <= jj < width:
                v, kk = _pixel(rgb, ii, jj, p, layout, n_kp, colors, grid_n, grid_sep, scale)
                if kk == k:
                    w = v
            win[a, c] = w
    for a in range(n):
        for c in range(5):
            acc = 0.0
            for o in range(blur.shape[0]):
                acc += blur[o] * win[a, c + o]
            tmp[a, c] = acc
    lg = win  # the window is read; its first 5 x 5 cells take the log of the blurred values
    for a in range(5):
        for c in range(5):
            acc = 0.0
            for o in range(blur.shape[0]):
                acc += blur[o] * tmp[a + o, c]
            lg[a, c] = math.log(max(acc, DARK_FLOOR))
    dx = 0.5 * (lg[2, 3] - lg[2, 1])
    dy = 0.5 * (lg[3, 2] - lg[1, 2])
    dxx = 0.25 * (lg[2, 4] - 2.0 * lg[2, 2] + lg[2, 0])
    dxy = 0.25 * (lg[3, 3] - lg[1, 3] - lg[3, 1] + lg[1, 1])
    dyy = 0.25 * (lg[4, 2] - 2.0 * lg[2, 2] + lg[0, 2])
    det = dxx * dyy - dxy * dxy
    if det == 0.0:
        return 0.0, 0.0
    ox = -(dyy * dx - dxy * dy) / det
    oy = -(dxx * dy - dxy * dx) / det
    if not (math.isfinite(ox) and math.isfinite(oy)):
        return 0.0, 0.0
    return min(1.0, max(-1.0, ox)), min(1.0, max(-1.0, oy))


@jit
def _solve3(m00, m01, m02, m11, m12, m22, r0, r1, r2):
    """The adjugate solve of the symmetric 3 x 3 normal equations of the Gaussian fit:
    ``(ok, da, dx, dy)``, ok False where the matrix is singular or nearly (its determinant at most
    ``FIT_CONDITION`` times the product of its diagonal) or the step is not finite."""
    c00 = m11 * m22 - m12 * m12
    c01 = m02 * m12 - m01 * m22
    c02 = m01 * m12 - m02 * m11
    det = m00 * c00 + m01 * c01 + m02 * c02
    if not det > FIT_CONDITION * m00 * m11 * m22:
        return False, 0.0, 0.0, 0.0
    c11 = m00 * m22 - m02 * m02
    c12 = m01 * m02 - m00 * m12
    c22 = m00 * m11 - m01 * m01
    da = (c00 * r0 + c01 * r1 + c02 * r2) / det
    dx = (c01 * r0 + c11 * r1 + c12 * r2) / det
    dy = (c02 * r0 + c12 * r1 + c22 * r2) / det
    return math.isfinite(da) and math.isfinite(dx) and math.isfinite(dy), da, dx, dy


@jit
def _fit_offset(
    rgb, i, j, k, p, layout, n_kp, colors, grid_n, grid_sep, scale, height, width, sigma,
    ox, oy, v0, win, use, gauss, lawson,
):  # fmt: skip
    """Least-squares fit of ``A exp(-((x' - x)^2 + (y' - y)^2) / (2 sigma^2))`` (sigma known;
    A, x, y free) to the id's heatmap on the window of :func:`fit_half_window` around the peak
    pixel ``(i, j)``: Gauss-Newton from the per-axis step ``(ox, oy)``. Pixels of another id are
    left out, and in each iteration those above the current Gaussian by more than ``FIT_REJECT``
    (another blob's slope). Then, where every used pixel is within ``FIT_LOSSLESS`` of the fit
    in the last iteration (a lossless image), the minimax refinement (:func:`_minimax`;
    ``lawson`` holds its weights). Returns the offsets from ``(j, i)`` (within 1 px and on the
    canvas); the start where a Gauss-Newton step fails or leaves the 1 px square."""
    half = (win.shape[0] - 1) // 2
    for a in range(2 * half + 1):
        ii = i - half + a
        for c in range(2 * half + 1):
            jj = j - half + c
            use[a, c] = False
            if 0 <= ii < height and 0 <= jj < width:
                v, kk = _pixel(rgb, ii, jj, p, layout, n_kp, colors, grid_n, grid_sep, scale)
                if kk == k or kk < 0:
                    win[a, c] = v
                    use[a, c] = True
    inv = 1.0 / (sigma * sigma)
    x = ox
    y = oy
    amp = v0 / math.exp(-0.5 * (x * x + y * y) * inv)
    gx = gauss[0]
    gy = gauss[1]
    top = math.inf
    for _ in range(FIT_ITERATIONS):
        for c in range(2 * half + 1):
            d = c - half - x
            gx[c] = math.exp(-0.5 * d * d * inv)
        for a in range(2 * half + 1):
            d = a - half - y
            gy[a] = math.exp(-0.5 * d * d * inv)
        m00 = m01 = m02 = m11 = m12 = m22 = 0.0
        r0 = r1 = r2 = 0.0
        top = 0.0
        for a in range(2 * half + 1):
            ey = (a - half - y) * inv
            for c in range(2 * half + 1):
                if not use[a, c]:
                    continue
                g = gy[a] * gx[c]
                res = win[a, c] - amp * g
                if res > FIT_REJECT:
                    continue
                top = max(top, abs(res))
                j0 = g
                j1 = amp * g * (c - half - x) * inv
                j2 = amp * g * ey
                m00 += j0 * j0
                m01 += j0 * j1
                m02 += j0 * j2
                m11 += j1 * j1
                m12 += j1 * j2
                m22 += j2 * j2
                r0 += j0 * res
                r1 += j1 * res
                r2 += j2 * res
        ok, da, dx, dy = _solve3(m00, m01, m02, m11, m12, m22, r0, r1, r2)
        if not ok:  # singular or nearly: give up
            break
        amp += da
        x += dx
        y += dy
        if not (abs(x) < 1.0 and abs(y) < 1.0):
            return ox, oy
    if top <= FIT_LOSSLESS:  # the largest residual of the last iteration: a lossless image
        x, y = _minimax(win, use, gx, gy, lawson, half, inv, amp, x, y, top)
    x = min(width - 0.5 - j, max(-0.5 - j, x))
    y = min(height - 0.5 - i, max(-0.5 - i, y))
    return x, y


@jit
def _minimax(win, use, gx, gy, weight, half, inv, amp, x, y, top):
    """:func:`_fit_offset`'s minimax refinement from the least-squares ``(amp, x, y)`` whose
    largest residual was ``top``: the ``(x, y)`` of the smallest largest residual met. Lawson's
    rule, one pass per step: each pixel's weight (1 at first) times its absolute residual (over
    the previous largest, a scale that keeps the weights near 1 and leaves the step unchanged),
    then one weighted Gauss-Newton step; stops on a singular system or outside the 1 px square."""
    n = 2 * half + 1
    best = math.inf
    bx = x
    by = y
    scale = top
    for t in range(FIT_MINIMAX_ITERATIONS + 1):
        if not scale > 0.0:
            break
        for c in range(n):
            d = c - half - x
            gx[c] = math.exp(-0.5 * d * d * inv)
        for a in range(n):
            d = a - half - y
            gy[a] = math.exp(-0.5 * d * d * inv)
        top = 0.0
        m00 = m01 = m02 = m11 = m12 = m22 = 0.0
        r0 = r1 = r2 = 0.0
        for a in range(n):
            ey = (a - half - y) * inv
            for c in range(n):
                if not use[a, c]:
                    continue
                g = gy[a] * gx[c]
                res = win[a, c] - amp * g
                if res > FIT_REJECT:
                    weight[a, c] = 0.0
                    continue
                top = max(top, abs(res))
                wt = (1.0 if t == 0 else weight[a, c]) * abs(res) / scale
                weight[a, c] = wt
                j0 = g
                j1 = amp * g * (c - half - x) * inv
                j2 = amp * g * ey
                m00 += wt * j0 * j0
                m01 += wt * j0 * j1
                m02 += wt * j0 * j2
                m11 += wt * j1 * j1
                m12 += wt * j1 * j2
                m22 += wt * j2 * j2
                r0 += wt * j0 * res
                r1 += wt * j1 * res
                r2 += wt * j2 * res
        if top < best:
            best = top
            bx = x
            by = y
        if t == FIT_MINIMAX_ITERATIONS:
            break
        scale = top
        ok, da, dx, dy = _solve3(m00, m01, m02, m11, m12, m22, r0, r1, r2)
        if not ok:
            break
        amp += da
        x += dx
        y += dy
        if not (abs(x) < 1.0 and abs(y) < 1.0):
            break
    return bx, by


@jit
def _neighbourhood(val, ids, i, j, v, k):
    """Of pixel ``(i, j)`` with value ``v`` and id ``k``: whether it is the local maximum of its
    id over its 8 neighbours (a tie goes to the pixel first in raster order), how many of its
    in-image neighbours carry its id, and how many neighbours are in the image."""
    height, width = val.shape
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
    return is_max, n_same, n_in


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
    sigma,
    blur,
    fit_half,
):
    """Candidates per image: ``cand[b, c] = (id, x, y, value)``, ``count[b]`` of them (capped).

    ``blur``: DARK's 1-D blur weights (:func:`dark_blur_weights`); ``fit_half``: the Gaussian
    fit's half window (:func:`fit_half_window`)."""
    cap = cand.shape[1]
    val = np.zeros((height, width), dtype=np.float64)
    ids = np.full((height, width), -1, dtype=np.int64)
    bd = (blur.shape[0] - 1) // 2
    dark_win = np.zeros((5 + 2 * bd, 5 + 2 * bd), dtype=np.float64)
    dark_tmp = np.zeros((5 + 2 * bd, 5), dtype=np.float64)
    fit_win = np.zeros((2 * fit_half + 1, 2 * fit_half + 1), dtype=np.float64)
    fit_use = np.zeros((2 * fit_half + 1, 2 * fit_half + 1), dtype=np.bool_)
    fit_gauss = np.zeros((2, 2 * fit_half + 1), dtype=np.float64)
    fit_lawson = np.zeros((2 * fit_half + 1, 2 * fit_half + 1), dtype=np.float64)
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
                    is_max, n_same, n_in = _neighbourhood(val, ids, i, j, v, k)
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
                    if refine == REFINE_DARK:
                        ox, oy = _dark_offset(
                            rgb[b], i, j, k, p, layout, n_kp, colors, grid_n, grid_sep, scale,
                            height, width, blur, dark_win, dark_tmp,
                        )  # fmt: skip
                    elif refine == REFINE_GAUSSIAN_FIT:
                        ox, oy = _fit_offset(
                            rgb[b], i, j, k, p, layout, n_kp, colors, grid_n, grid_sep, scale,
                            height, width, sigma, ox, oy, v, fit_win, fit_use, fit_gauss,
                            fit_lawson,
                        )  # fmt: skip
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
    if refine in (REFINE_NEWTON1D, REFINE_GAUSSIAN_FIT):
        with np.errstate(divide="ignore", invalid="ignore"):
            lm, l0, lp = np.log(vm), np.log(v0), np.log(vp)
            second = lp - 2.0 * l0 + lm
            off = -(lp - lm) / 2.0 / second
        return np.where(second < 0, np.clip(off, -0.5, 0.5), 0.0)
    return np.zeros_like(v0)


def blur_reference(heatmap, weights):
    """mmpose's ``gaussian_blur`` of one heatmap ``(H, W)`` in NumPy (float64): zero padding of
    the kernel's half-width, the separable Gaussian (OpenCV's ``GaussianBlur``), then scaled back
    to the original maximum."""
    bd = (len(weights) - 1) // 2
    pad = np.pad(heatmap.astype(np.float64), bd)
    rows = np.stack([np.convolve(r, weights[::-1], mode="valid") for r in pad])
    out = np.stack([np.convolve(c, weights[::-1], mode="valid") for c in rows.T]).T
    top = out.max()
    return out * (heatmap.max() / top) if top > 0 else out


def dark_reference(heatmap, i, j, weights):
    """DARK as published (mmpose ``refine_keypoints_dark``) at pixel ``(i, j)`` of one heatmap:
    the offsets ``(dx, dy)`` (clipped to +-1 as :func:`_dark_offset`)."""
    height, width = heatmap.shape
    if not (1 < j < width - 2 and 1 < i < height - 2):
        return 0.0, 0.0
    h = np.log(np.maximum(blur_reference(heatmap, weights), DARK_FLOOR))
    dx = 0.5 * (h[i, j + 1] - h[i, j - 1])
    dy = 0.5 * (h[i + 1, j] - h[i - 1, j])
    dxx = 0.25 * (h[i, j + 2] - 2 * h[i, j] + h[i, j - 2])
    dxy = 0.25 * (h[i + 1, j + 1] - h[i - 1, j + 1] - h[i + 1, j - 1] + h[i - 1, j - 1])
    dyy = 0.25 * (h[i + 2, j] - 2 * h[i, j] + h[i - 2, j])
    if dxx * dyy - dxy**2 == 0:
        return 0.0, 0.0
    off = -np.linalg.inv(np.array([[dxx, dxy], [dxy, dyy]])) @ np.array([dx, dy])
    if not np.all(np.isfinite(off)):
        return 0.0, 0.0
    return tuple(np.clip(off, -1.0, 1.0))


def fit_reference(heatmap, use, i, j, sigma, start, v0):
    """:func:`_fit_offset` in NumPy: Gauss-Newton on the window of pixels ``use``."""
    height, width = heatmap.shape
    half = fit_half_window(sigma)
    ii = np.arange(i - half, i + half + 1)[:, None]
    jj = np.arange(j - half, j + half + 1)[None]
    inside = (ii >= 0) & (ii < height) & (jj >= 0) & (jj < width)
    rows, cols = np.clip(ii, 0, height - 1), np.clip(jj, 0, width - 1)
    u = inside & use[rows, cols]
    v = np.where(u, heatmap[rows, cols], 0.0)
    x, y = start
    inv = 1.0 / sigma**2
    amp = v0 / np.exp(-0.5 * (x * x + y * y) * inv)
    top = np.inf
    for _ in range(FIT_ITERATIONS):
        g = np.exp(-0.5 * (ii - i - y) ** 2 * inv) * np.exp(-0.5 * (jj - j - x) ** 2 * inv)
        here = u & ~(v - amp * g > FIT_REJECT)
        top = np.abs(np.where(here, v - amp * g, 0.0)).max(initial=0.0)
        jac = [g, amp * g * (jj - j - x) * inv, amp * g * (ii - i - y) * inv]
        jac = [np.where(here, a, 0.0) for a in jac]
        res = np.where(here, v - amp * g, 0.0)
        m = np.array([[np.sum(a * b) for b in jac] for a in jac])
        # the kernel's adjugate solve (a singular system must fail the same way)
        step = _solve3_reference(m, np.array([np.sum(a * res) for a in jac]))
        if step is None:
            break
        amp, x, y = amp + step[0], x + step[1], y + step[2]
        if not (abs(x) < 1 and abs(y) < 1):
            return start
    if top <= FIT_LOSSLESS:
        x, y = minimax_reference(v, u, ii - i, jj - j, inv, amp, x, y, top)
    return min(width - 0.5 - j, max(-0.5 - j, x)), min(height - 0.5 - i, max(-0.5 - i, y))


def _solve3_reference(m, rhs):
    """The kernels' adjugate solve of the 3 x 3 normal equations (None where singular)."""
    adj = np.array(
        [[m[1, 1] * m[2, 2] - m[1, 2] ** 2, m[0, 2] * m[1, 2] - m[0, 1] * m[2, 2],
          m[0, 1] * m[1, 2] - m[0, 2] * m[1, 1]],
         [0.0, m[0, 0] * m[2, 2] - m[0, 2] ** 2, m[0, 1] * m[0, 2] - m[0, 0] * m[1, 2]],
         [0.0, 0.0, m[0, 0] * m[1, 1] - m[0, 1] ** 2]]
    )  # fmt: skip
    adj = np.triu(adj) + np.triu(adj, 1).T
    det = m[0] @ adj[0]
    if not det > FIT_CONDITION * m[0, 0] * m[1, 1] * m[2, 2]:
        return None
    step = adj @ rhs / det
    return step if np.all(np.isfinite(step)) else None


def minimax_reference(v, u, di, dj, inv, amp, x, y, top):
    """:func:`_minimax` in NumPy: Lawson's iteration from the least-squares fit on the window
    ``v`` (pixels ``u``, offsets ``di``, ``dj`` from the peak pixel) whose largest residual was
    ``top``."""
    best, bx, by, scale = np.inf, x, y, top
    weight = np.ones(v.shape)
    for t in range(FIT_MINIMAX_ITERATIONS + 1):
        if not scale > 0:
            break
        g = np.exp(-0.5 * (di - y) ** 2 * inv) * np.exp(-0.5 * (dj - x) ** 2 * inv)
        res = v - amp * g
        here = u & ~(res > FIT_REJECT)
        absres = np.where(here, np.abs(res), 0.0)
        weight = np.where(here, weight * absres / scale, 0.0)
        top = absres.max(initial=0.0)
        if top < best:
            best, bx, by = top, x, y
        if t == FIT_MINIMAX_ITERATIONS:
            break
        scale = top
        jac = [g, amp * g * (dj - x) * inv, amp * g * (di - y) * inv]
        m = np.array([[np.sum(weight * a * b) for b in jac] for a in jac])
        step = _solve3_reference(m, np.array([np.sum(weight * a * res) for a in jac]))
        if step is None:
            break
        amp, x, y = amp + step[0], x + step[1], y + step[2]
        if not (abs(x) < 1 and abs(y) < 1):
            break
    return bx, by


def peaks_reference(
    rgb_one, layout, n_kp, colors, grid_n, grid_sep, scale, threshold, refine, sigma=2.0
):
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
        if refine in (REFINE_DARK, REFINE_GAUSSIAN_FIT):
            full, full_ids = planes_reference(
                rgb_one, layout, n_kp, colors, grid_n, grid_sep, scale, 0.0
            )
            full_ids = np.where(full > 0, full_ids, -1)
            if refine == REFINE_DARK:
                heat = np.where(full_ids[p] == k, full[p], 0.0)
                weights = dark_blur_weights(dark_kernel_size(sigma))
                off = list(dark_reference(heat, i, j, weights))
            else:
                use = (full_ids[p] == k) | (full_ids[p] < 0)
                off = list(fit_reference(full[p], use, i, j, sigma, off, v))
        rows.append((k, j + off[0], i + off[1], v))
    return np.array(rows, dtype=np.float64).reshape(-1, 4)


def argmax_dark_reference(heatmaps, sigma=2.0):
    """Plain NumPy argmax + DARK as published (mmpose ``get_heatmap_maximum`` and
    ``refine_keypoints_dark``: every heatmap blurred whole) on heatmaps ``(B, K, H, W)``: the
    benchmark's peer. Returns ``(B, K, 2)`` pixel coordinates and ``(B, K)`` peak values."""
    n_img, n_kp, _, width = heatmaps.shape
    flat = heatmaps.reshape(n_img, n_kp, -1)
    i, j = np.divmod(np.argmax(flat, axis=-1), width)
    v0 = np.take_along_axis(flat, (i * width + j)[..., None], axis=-1)[..., 0]
    out = np.stack([j, i], axis=-1).astype(np.float64)
    weights = dark_blur_weights(dark_kernel_size(sigma))
    for b in range(n_img):
        for k in range(n_kp):
            out[b, k] += dark_reference(heatmaps[b, k], i[b, k], j[b, k], weights)
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
                is_max, n_same, n_in = _neighbourhood(val, ids, i, j, v, k)
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
