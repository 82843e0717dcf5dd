"""Optical-flow kernels: the Middlebury colour wheel and the u/v code, with their NumPy references.

The colour wheel (Baker et al., "A Database and Evaluation Methodology for Optical Flow", ICCV 2007;
Scharstein's C++ ``colorcode.cpp``) has 55 colours on the six edges of the RGB hue hexagon:
red->yellow 15, yellow->green 6, green->cyan 4, cyan->blue 11, blue->magenta 13, magenta->red 6;
entry ``i`` of a group of ``n`` is ``floor(255 * i / n)`` on its rising (or ``255 -`` that on its
falling) channel. The encoding formula is exactly that of ``flow_vis`` (Tom Runia,
github.com/tomrunia/OpticalFlow_Visualization, ``flow_vis/flow_vis.py`` at commit 248d9e4), which
torchvision's ``flow_to_image`` and mmflow's visualisation reproduce.

Wheel encode (per pixel, float64; ``(u, v)`` already divided by the scale)::

    rad = sqrt(u*u + v*v);  a = atan2(-v, -u) / pi;  fk = (a + 1) / 2 * 54
    k0 = floor(fk);  k1 = k0 + 1 (55 -> 0);  f = fk - k0
    col = (1 - f) * W[k0] / 255 + f * W[k1] / 255
    col = 1 - rad * (1 - col)   if rad <= 1   else   0.75 * col      (beyond the scale: darkened)
    code = floor(255 * col);    unknown (non-finite) -> (0, 0, 0)

Wheel decode (per pixel; ``x`` = the colour in 8-bit code units, any input depth): the largest
channel tells the class: ``x_max >= 223`` in range (its largest channel is 1), ``95.5 <= x_max <
223`` beyond the scale (largest channel 0.75), else unknown. In range ``rad = 1 - c_min`` and the
wheel's middle channel ``t = (c_mid - c_min) / rad`` with ``c = min(x + 0.5, 255) / 255`` (the
middle of the code's floor interval); beyond it ``rad = 1`` and ``t = (x_mid - x_min + 0.5) /
191.25``. ``(max channel, middle channel)`` name the hexagon edge, ``t`` is inverted on that
edge's breakpoints to ``fk`` and ``(u, v) = -rad * (cos, sin)(pi * (2 fk / 54 - 1))``.

u/v encode: ``code = clip(floor(u / step + 0.5) + 2^(b-1), 1, 2^b - 1)`` per component with
``step = max_flow / (2^(b-1) - 1)`` (zero flow is code ``2^(b-1)``, KITTI's offset), the third
channel ``2^b - 1`` (valid; KITTI's flow PNGs keep their valid flag there too); unknown ->
``(0, 0, 0)``. Decode: valid while the third channel is at least half scale; ``u = (clip(x, 1,
2^b - 1) - 2^(b-1)) * step``.
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit, run_rows

__all__ = [
    "WHEEL",
    "WHEEL_GROUPS",
    "decode_uv",
    "decode_wheel",
    "encode_uv",
    "encode_wheel",
    "make_wheel",
    "max_magnitude",
]

#: The six groups of the Middlebury wheel: (size, rising channel or -1, falling channel or -1,
#: channel held at 255) in the order red->yellow, yellow->green, green->cyan, cyan->blue,
#: blue->magenta, magenta->red (Baker et al. 2007; flow_vis ``make_colorwheel``).
WHEEL_GROUPS: tuple[tuple[int, int, int, int], ...] = (
    (15, 1, -1, 0),  # RY: G rises, R held
    (6, -1, 0, 1),  # YG: R falls, G held
    (4, 2, -1, 1),  # GC: B rises, G held
    (11, -1, 1, 2),  # CB: G falls, B held
    (13, 0, -1, 2),  # BM: R rises, B held
    (6, -1, 2, 0),  # MR: B falls, R held
)

#: Middlebury's ``UNKNOWN_FLOW_THRESH`` (``flowIO.h``): a component above it (or NaN) is unknown.
UNKNOWN = 1e9
#: Darkening of a colour beyond the scale (flow_vis: ``col * 0.75``, "out of range").
BEYOND = 0.75
#: Largest-channel thresholds (8-bit code units) between the classes: in range (255), beyond the
#: scale (floor(0.75 * 255) = 191), unknown (0); half-way between the codes.
IN_RANGE_MIN = 223.0
BEYOND_MIN = 95.5


def make_wheel() -> np.ndarray:
    """The 55 wheel colours ``(55, 3)`` float64 in 0..255 (module docstring)."""
    rows = []
    for size, rising, falling, held in WHEEL_GROUPS:
        for i in range(size):
            c = [0.0, 0.0, 0.0]
            c[held] = 255.0
            step = math.floor(255 * i / size)
            if rising >= 0:
                c[rising] = float(step)
            else:
                c[falling] = float(255 - step)
            rows.append(c)
    return np.asarray(rows, dtype=np.float64)


WHEEL = make_wheel()
WHEEL.setflags(write=False)
NCOLS = WHEEL.shape[0]  # 55


def _edge_tables() -> tuple[np.ndarray, np.ndarray]:
    """``start[i_max, i_mid]``, ``end[i_max, i_mid]``: the wheel positions of the hexagon edge whose
    held (largest) channel is ``i_max`` and varying channel ``i_mid``; -1 where no edge."""
    start = np.full((3, 3), -1, dtype=np.int64)
    end = np.full((3, 3), -1, dtype=np.int64)
    k = 0
    for size, rising, falling, held in WHEEL_GROUPS:
        mid = rising if rising >= 0 else falling
        start[held, mid] = k
        end[held, mid] = min(k + size, NCOLS - 1)  # the last group ends at entry 54 (no wrap)
        k += size
    return start, end


EDGE_START, EDGE_END = _edge_tables()


# ---------------------------------------------------------------- wheel encode
def encode_wheel(flow: np.ndarray, *, scale: float) -> np.ndarray:
    """Flow ``(..., 2)`` in pixels (float32 or float64, C-contiguous; unknown: non-finite or
    above :data:`UNKNOWN` in a component) divided by ``scale`` -> ``uint8`` codes ``(..., 3)``
    (module docstring)."""
    out = np.empty(flow.shape[:-1] + (3,), dtype=np.uint8)
    run_rows(
        wheel_encode_kernel, (flow.reshape(-1, 2), out.reshape(-1, 3)), (scale, UNKNOWN, WHEEL)
    )
    return out


def max_magnitude(flow: np.ndarray) -> np.ndarray:
    """Largest known magnitude ``sqrt(u*u + v*v)`` of each image of ``flow`` ``(n, P, 2)``
    (float32 or float64, C-contiguous) -> ``(n,)`` float64 (0 for an image without known flow)."""
    out = np.zeros(flow.shape[0], dtype=np.float64)
    run_rows(max_magnitude_kernel, (flow, out), (UNKNOWN,), min_rows=1)
    return out


@jit
def max_magnitude_kernel(flow, out, unknown):
    for n in range(flow.shape[0]):
        m = 0.0
        for i in range(flow.shape[1]):
            u = float(flow[n, i, 0])
            v = float(flow[n, i, 1])
            if abs(u) <= unknown and abs(v) <= unknown:  # False for NaN; inf is above
                r = math.sqrt(u * u + v * v)
                if r > m:
                    m = r
        out[n] = m


def max_magnitude_reference(flow: np.ndarray) -> np.ndarray:
    """NumPy specification of :func:`max_magnitude_kernel`."""
    f = flow.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.all(np.abs(f) <= UNKNOWN, axis=-1)
    r = np.sqrt(np.square(np.where(ok[..., None], f, 0.0)).sum(axis=-1))
    return r.max(axis=-1, initial=0.0)


@jit
def wheel_encode_kernel(flow, out, scale, unknown, wheel):
    ncols = wheel.shape[0]
    for i in range(flow.shape[0]):
        u = float(flow[i, 0])
        v = float(flow[i, 1])
        if not (abs(u) <= unknown and abs(v) <= unknown):
            out[i, 0] = 0
            out[i, 1] = 0
            out[i, 2] = 0
            continue
        u = u / scale
        v = v / scale
        rad = math.sqrt(u * u + v * v)
        a = math.atan2(-v, -u) / math.pi
        fk = (a + 1.0) / 2.0 * (ncols - 1)
        k0 = int(math.floor(fk))
        k1 = k0 + 1
        if k1 == ncols:
            k1 = 0
        f = fk - k0
        for ch in range(3):
            col0 = wheel[k0, ch] / 255.0
            col1 = wheel[k1, ch] / 255.0
            col = (1.0 - f) * col0 + f * col1
            if rad <= 1.0:
                col = 1.0 - rad * (1.0 - col)
            else:
                col = col * 0.75
            out[i, ch] = int(math.floor(255.0 * col))


def wheel_encode_reference(flow: np.ndarray, scale: float) -> np.ndarray:
    """NumPy specification of :func:`wheel_encode_kernel`."""
    f = flow.astype(np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.all(np.abs(f) <= UNKNOWN, axis=-1)
    u = np.where(ok, f[..., 0], 0.0) / scale
    v = np.where(ok, f[..., 1], 0.0) / scale
    rad = np.sqrt(np.square(u) + np.square(v))
    a = np.arctan2(-v, -u) / np.pi
    fk = (a + 1) / 2 * (NCOLS - 1)
    k0 = np.floor(fk).astype(np.int64)
    k1 = k0 + 1
    k1[k1 == NCOLS] = 0
    f = fk - k0
    out = np.empty(u.shape + (3,), dtype=np.uint8)
    for ch in range(3):
        col = (1 - f) * (WHEEL[k0, ch] / 255.0) + f * (WHEEL[k1, ch] / 255.0)
        col = np.where(rad <= 1, 1 - rad * (1 - col), col * BEYOND)
        out[..., ch] = np.where(ok, np.floor(255 * col), 0)
    return out


# ---------------------------------------------------------------- wheel decode
def decode_wheel(
    rgb: np.ndarray, *, to_code: float, mult: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colours ``(..., 3)`` (any checked dtype; ``to_code`` takes them to 8-bit code units) ->
    float32 flow ``(..., 2)`` times ``mult``, float32 confidence and the valid mask."""
    flat = rgb.reshape(-1, 3)
    n = flat.shape[0]
    flow = np.empty((n, 2), dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    run_rows(
        wheel_decode_kernel,
        (flat, flow, conf, valid),
        (to_code, mult, WHEEL, EDGE_START, EDGE_END),
    )
    shape = rgb.shape[:-1]
    return flow.reshape(shape + (2,)), conf.reshape(shape), valid.reshape(shape)


@jit
def _wheel_position(t, i_max, i_mid, wheel, edge_start, edge_end):
    """Wheel position ``fk`` of the point whose varying channel is ``t`` (0..1) on the edge
    ``(i_max, i_mid)``; breakpoints are monotonic along an edge, ``t`` beyond them is clamped."""
    k_start = edge_start[i_max, i_mid]
    k_end = edge_end[i_max, i_mid]
    x = t * 255.0
    first = wheel[k_start, i_mid]
    last = wheel[k_end, i_mid]
    rising = last > first
    if (rising and x <= first) or (not rising and x >= first):
        return float(k_start)
    for k in range(k_start, k_end):
        w0 = wheel[k, i_mid]
        w1 = wheel[k + 1, i_mid]
        if (rising and x <= w1) or (not rising and x >= w1):
            return k + (x - w0) / (w1 - w0)
    return float(k_end)


@jit
def wheel_decode_kernel(rgb, flow, conf, valid, to_code, mult, wheel, edge_start, edge_end):
    ncols = wheel.shape[0]
    for i in range(rgb.shape[0]):
        x0 = float(rgb[i, 0]) * to_code
        x1 = float(rgb[i, 1]) * to_code
        x2 = float(rgb[i, 2]) * to_code
        # largest = first maximum; smallest = the lower of the other two (the later one on a tie)
        if x0 >= x1 and x0 >= x2:
            i_max, a, b, x_max, xa, xb = 0, 1, 2, x0, x1, x2
        elif x1 >= x2:
            i_max, a, b, x_max, xa, xb = 1, 0, 2, x1, x0, x2
        else:
            i_max, a, b, x_max, xa, xb = 2, 0, 1, x2, x0, x1
        if xa < xb:
            i_mid, x_min, x_mid = b, xa, xb
        else:
            i_mid, x_min, x_mid = a, xb, xa
        if x_max >= 223.0:
            c_min = min(x_min + 0.5, 255.0) / 255.0
            c_mid = min(x_mid + 0.5, 255.0) / 255.0
            rad = 1.0 - c_min
            t = (c_mid - c_min) / rad if rad > 0.0 else 0.0
            c = (x_max - 223.0) / (254.0 - 223.0)
        elif x_max >= 95.5:
            rad = 1.0
            t = (x_mid - x_min + 0.5) / 191.25
            c = 0.5 * (1.0 - max(0.0, abs(x_max - 190.5) - 0.5) / 32.0)
        else:
            flow[i, 0] = math.nan
            flow[i, 1] = math.nan
            conf[i] = 0.0
            valid[i] = False
            continue
        t = min(1.0, max(0.0, t))
        fk = _wheel_position(t, i_max, i_mid, wheel, edge_start, edge_end)
        phi = math.pi * (2.0 * fk / (ncols - 1) - 1.0)
        flow[i, 0] = -rad * math.cos(phi) * mult
        flow[i, 1] = -rad * math.sin(phi) * mult
        conf[i] = min(1.0, max(0.0, c))
        valid[i] = True


def wheel_decode_reference(rgb: np.ndarray, to_code: float, mult: float):
    """NumPy specification of :func:`wheel_decode_kernel`; returns ``(flow, confidence, valid)``."""
    x = rgb.astype(np.float64).reshape(-1, 3) * to_code
    n = x.shape[0]
    # stable order with ties resolved as the kernel does: largest = first maximum, smallest =
    # last minimum among the other two
    i_max = np.argmax(x, axis=1)
    rest = np.array([[1, 2], [0, 2], [0, 1]])[i_max]
    a, b = x[np.arange(n), rest[:, 0]], x[np.arange(n), rest[:, 1]]
    i_min = np.where(a < b, rest[:, 0], rest[:, 1])
    i_mid = 3 - i_max - i_min
    rows = np.arange(n)
    x_max, x_mid, x_min = x[rows, i_max], x[rows, i_mid], x[rows, i_min]
    inside = x_max >= IN_RANGE_MIN
    beyond = ~inside & (x_max >= BEYOND_MIN)
    c_min = np.minimum(x_min + 0.5, 255.0) / 255.0
    c_mid = np.minimum(x_mid + 0.5, 255.0) / 255.0
    rad = np.where(inside, 1.0 - c_min, 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        t_in = np.where(rad > 0, (c_mid - c_min) / np.where(rad > 0, rad, 1.0), 0.0)
    t = np.clip(np.where(inside, t_in, (x_mid - x_min + 0.5) / 191.25), 0.0, 1.0)
    fk = np.empty(n)
    for j in range(n):
        k_start, k_end = EDGE_START[i_max[j], i_mid[j]], EDGE_END[i_max[j], i_mid[j]]
        knots = WHEEL[k_start : k_end + 1, i_mid[j]]
        pos = np.arange(k_start, k_end + 1, dtype=np.float64)
        if knots[-1] < knots[0]:
            knots, pos = knots[::-1], pos[::-1]
        fk[j] = np.interp(t[j] * 255.0, knots, pos)
    phi = np.pi * (2.0 * fk / (NCOLS - 1) - 1.0)
    flow = np.stack([-rad * np.cos(phi) * mult, -rad * np.sin(phi) * mult], axis=-1)
    ok = inside | beyond
    flow = np.where(ok[:, None], flow, np.nan).astype(np.float32)
    c = np.where(
        inside,
        (x_max - IN_RANGE_MIN) / (254.0 - IN_RANGE_MIN),
        0.5 * (1.0 - np.maximum(0.0, np.abs(x_max - 190.5) - 0.5) / 32.0),
    )
    conf = np.where(ok, np.clip(c, 0.0, 1.0), 0.0).astype(np.float32)
    shape = rgb.shape[:-1]
    return flow.reshape(shape + (2,)), conf.reshape(shape), ok.reshape(shape)


# ---------------------------------------------------------------- u/v
def encode_uv(flow: np.ndarray, *, step: float, bits: int) -> np.ndarray:
    """Flow ``(..., 2)`` in pixels (float64, C-contiguous; non-finite = unknown) -> codes
    ``(..., 3)`` of ``uint8`` or ``uint16`` (module docstring)."""
    dtype = np.uint8 if bits == 8 else np.uint16
    out = np.empty(flow.shape[:-1] + (3,), dtype=dtype)
    center = float(2 ** (bits - 1))
    top = float(2**bits - 1)
    run_rows(
        uv_encode_kernel, (flow.reshape(-1, 2), out.reshape(-1, 3)), (step, center, top, UNKNOWN)
    )
    return out


@jit
def uv_encode_kernel(flow, out, step, center, top, unknown):
    for i in range(flow.shape[0]):
        u = float(flow[i, 0])
        v = float(flow[i, 1])
        if not (abs(u) <= unknown and abs(v) <= unknown):
            out[i, 0] = 0
            out[i, 1] = 0
            out[i, 2] = 0
            continue
        qu = min(top, max(1.0, math.floor(u / step + 0.5) + center))
        qv = min(top, max(1.0, math.floor(v / step + 0.5) + center))
        out[i, 0] = int(qu)
        out[i, 1] = int(qv)
        out[i, 2] = int(top)


def uv_encode_reference(flow: np.ndarray, step: float, bits: int) -> np.ndarray:
    """NumPy specification of :func:`uv_encode_kernel`."""
    center, top = 2.0 ** (bits - 1), 2.0**bits - 1
    f = flow.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = np.all(np.abs(f) <= UNKNOWN, axis=-1)
        q = np.clip(np.floor(np.where(ok[..., None], f, 0.0) / step + 0.5) + center, 1, top)
    out = np.concatenate([q, np.full(q.shape[:-1] + (1,), top)], axis=-1)
    out = np.where(ok[..., None], out, 0.0)
    return out.astype(np.uint8 if bits == 8 else np.uint16)


def decode_uv(
    rgb: np.ndarray, *, to_code: float, step: float, bits: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``(..., 3)`` (``to_code`` takes them to the codec's code units) -> float32 flow
    ``(..., 2)`` in pixels, float32 confidence and the valid mask."""
    flat = rgb.reshape(-1, 3)
    n = flat.shape[0]
    flow = np.empty((n, 2), dtype=np.float32)
    conf = np.empty(n, dtype=np.float32)
    valid = np.empty(n, dtype=np.bool_)
    center = float(2 ** (bits - 1))
    top = float(2**bits - 1)
    run_rows(uv_decode_kernel, (flat, flow, conf, valid), (to_code, step, center, top))
    shape = rgb.shape[:-1]
    return flow.reshape(shape + (2,)), conf.reshape(shape), valid.reshape(shape)


@jit
def uv_decode_kernel(rgb, flow, conf, valid, to_code, step, center, top):
    half = 0.5 * top
    for i in range(rgb.shape[0]):
        flag = float(rgb[i, 2]) * to_code
        if flag < half:
            flow[i, 0] = math.nan
            flow[i, 1] = math.nan
            conf[i] = 0.0
            valid[i] = False
            continue
        xu = min(top, max(1.0, float(rgb[i, 0]) * to_code))
        xv = min(top, max(1.0, float(rgb[i, 1]) * to_code))
        flow[i, 0] = (xu - center) * step
        flow[i, 1] = (xv - center) * step
        conf[i] = min(1.0, (flag - half) / (half - 1.0))
        valid[i] = True


def uv_decode_reference(rgb: np.ndarray, to_code: float, step: float, bits: int):
    """NumPy specification of :func:`uv_decode_kernel`; returns ``(flow, confidence, valid)``."""
    center, top = 2.0 ** (bits - 1), 2.0**bits - 1
    half = 0.5 * top
    x = rgb.astype(np.float64) * to_code
    ok = x[..., 2] >= half
    f = (np.clip(x[..., :2], 1.0, top) - center) * step
    flow = np.where(ok[..., None], f, np.nan).astype(np.float32)
    conf = np.where(ok, np.minimum(1.0, (x[..., 2] - half) / (half - 1.0)), 0.0)
    return flow, conf.astype(np.float32), ok
