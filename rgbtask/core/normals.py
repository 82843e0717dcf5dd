"""Normal-map kernels: unit vectors <-> integer RGB codes, and their NumPy references.

Encode (per pixel, computed in float64):
    v = n * signs;  m = max|v_i|;  invalid if m is 0, NaN or inf
    u = (v / m) / |v / m|                       (scale first: no overflow or underflow)
    code_i = floor((u_i + 1) / 2 * scale + offset)  (offset 0.5: round half up; 0: truncate,
                                                   quantization="floor"; scale = 255 or 65535)
    invalid -> code (0, 0, 0)

Decode (per pixel, float64): v_i = (code_i + offset) / scale * 2 - 1 (offset 0.5 reads a
    truncated code as the centre of its cell, quantization="floor"; else 0);  r = |v|;  dev = |r - 1|;
    valid iff dev < max_dev  ->  n = v / r * signs,  confidence = clip(1 - (dev - slack) / (max_dev - slack))
    invalid                  ->  n = NaN,            confidence = 0
"""

from __future__ import annotations

import math

import numpy as np

from rgbtask.core._jit import jit, run_rows

__all__ = ["decode", "decode_values", "encode"]


def encode(
    normals: np.ndarray, *, signs: np.ndarray, scale: float, dtype: np.dtype, offset: float = 0.5
) -> np.ndarray:
    """Normals ``(..., 3)`` (float32 or float64, C-contiguous) -> codes ``(..., 3)`` of ``dtype``
    (``scale`` = 255 or 65535; ``offset`` 0.5 rounds, 0 truncates; module docstring)."""
    out = np.empty(normals.shape, dtype=dtype)
    run_rows(encode_kernel, (normals.reshape(-1, 3), out.reshape(-1, 3)), (signs, scale, offset))
    return out


def decode(
    rgb: np.ndarray,
    *,
    scale: float,
    signs: np.ndarray,
    slack: float,
    max_dev: float,
    offset: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Codes ``(..., 3)`` (C-contiguous) -> float32 normals ``(..., 3)``, float32 confidence
    ``(...)`` and the valid mask ``(...)`` (module docstring)."""
    flat = rgb.reshape(-1, 3)
    normals = np.empty(flat.shape, dtype=np.float32)
    confidence = np.empty(flat.shape[0], dtype=np.float32)
    valid = np.empty(flat.shape[0], dtype=np.bool_)
    run_rows(
        decode_kernel, (flat, normals, confidence, valid), (scale, signs, slack, max_dev, offset)
    )
    shape = rgb.shape[:-1]
    return normals.reshape(rgb.shape), confidence.reshape(shape), valid.reshape(shape)


def decode_values(
    rgb: np.ndarray, *, scale: float, signs: np.ndarray, max_dev: float, offset: float = 0.0
) -> np.ndarray:
    """The normals of :func:`decode` alone (float32 ``(..., 3)``)."""
    flat = rgb.reshape(-1, 3)
    normals = np.empty(flat.shape, dtype=np.float32)
    run_rows(decode_values_kernel, (flat, normals), (scale, signs, max_dev, offset))
    return normals.reshape(rgb.shape)


#: Pixels per block of the kernels: a block is read into per-axis float64 buffers, computed in a
#: branch-free loop over them (which LLVM turns into SIMD: four divisions per instruction), and
#: written out. The arithmetic is the module docstring's, operation for operation, so the codes
#: and normals are the same bits as a pixel-by-pixel loop's (tests compare with the references).
BLOCK = 256


@jit(error_model="numpy")
def encode_kernel(normals, out, signs, scale, offset):
    half = 0.5 * scale
    s0, s1, s2 = signs[0], signs[1], signs[2]
    n = normals.shape[0]
    bx = np.empty(BLOCK)
    by = np.empty(BLOCK)
    bz = np.empty(BLOCK)
    cx = np.empty(BLOCK)
    cy = np.empty(BLOCK)
    cz = np.empty(BLOCK)
    for start in range(0, n, BLOCK):
        size = n - start if n - start < BLOCK else BLOCK
        for j in range(size):
            bx[j] = float(normals[start + j, 0]) * s0
            by[j] = float(normals[start + j, 1]) * s1
            bz[j] = float(normals[start + j, 2]) * s2
        for j in range(size):  # branch-free: invalid pixels compute garbage, replaced below
            x = bx[j]
            y = by[j]
            z = bz[j]
            m = abs(x)  # max(abs(x), abs(y), abs(z)) as Python computes it (NaN first stays)
            m = abs(y) if abs(y) > m else m
            m = abs(z) if abs(z) > m else m
            d = m if m > 0.0 else 1.0
            x = x / d
            y = y / d
            z = z / d
            r = math.sqrt(x * x + y * y + z * z)
            cx[j] = (x / r + 1.0) * half + offset
            cy[j] = (y / r + 1.0) * half + offset
            cz[j] = (z / r + 1.0) * half + offset
        for j in range(size):
            m = abs(bx[j])
            m = abs(by[j]) if abs(by[j]) > m else m
            m = abs(bz[j]) if abs(bz[j]) > m else m
            i = start + j
            if m > 0.0 and m < math.inf:
                out[i, 0] = math.floor(cx[j])
                out[i, 1] = math.floor(cy[j])
                out[i, 2] = math.floor(cz[j])
            else:
                out[i, 0] = 0
                out[i, 1] = 0
                out[i, 2] = 0


def encode_reference(normals, signs, scale, out_dtype, offset=0.5):
    """NumPy specification of :func:`encode_kernel`; returns the code array."""
    v = normals.astype(np.float64) * np.asarray(signs, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        m = np.max(np.abs(v), axis=-1, keepdims=True)
        ok = (m > 0.0) & (m < np.inf)
        v = v / np.where(ok, m, 1.0)
        r = np.sqrt(np.sum(v * v, axis=-1, keepdims=True))
        codes = np.floor((v / r + 1.0) * (0.5 * scale) + offset)
    return np.where(ok, codes, 0.0).astype(out_dtype)


@jit(error_model="numpy")
def decode_kernel(rgb, out, confidence, valid, scale, signs, slack, max_dev, offset):
    n = rgb.shape[0]
    s0, s1, s2 = signs[0], signs[1], signs[2]
    bx = np.empty(BLOCK)
    by = np.empty(BLOCK)
    bz = np.empty(BLOCK)
    ox = np.empty(BLOCK, dtype=np.float32)
    oy = np.empty(BLOCK, dtype=np.float32)
    oz = np.empty(BLOCK, dtype=np.float32)
    oc = np.empty(BLOCK, dtype=np.float32)
    ov = np.empty(BLOCK, dtype=np.bool_)
    for start in range(0, n, BLOCK):
        size = n - start if n - start < BLOCK else BLOCK
        for j in range(size):
            bx[j] = float(rgb[start + j, 0]) + offset
            by[j] = float(rgb[start + j, 1]) + offset
            bz[j] = float(rgb[start + j, 2]) + offset
        for j in range(size):
            x = bx[j] / scale * 2.0 - 1.0
            y = by[j] / scale * 2.0 - 1.0
            z = bz[j] / scale * 2.0 - 1.0
            r = math.sqrt(x * x + y * y + z * z)
            dev = abs(r - 1.0)
            ok = dev < max_dev
            c = 1.0 - (dev - slack) / (max_dev - slack)
            ox[j] = x / r * s0 if ok else math.nan
            oy[j] = y / r * s1 if ok else math.nan
            oz[j] = z / r * s2 if ok else math.nan
            c = c if c > 0.0 else 0.0  # clip to [0, 1] as max(0, c), then min(1, .)
            oc[j] = (c if c < 1.0 else 1.0) if ok else 0.0
            ov[j] = ok
        for j in range(size):
            i = start + j
            out[i, 0] = ox[j]
            out[i, 1] = oy[j]
            out[i, 2] = oz[j]
            confidence[i] = oc[j]
            valid[i] = ov[j]


@jit(error_model="numpy")
def decode_values_kernel(rgb, out, scale, signs, max_dev, offset):
    """The normals of :func:`decode_kernel` alone (``decode``: no confidence, no valid mask)."""
    n = rgb.shape[0]
    s0, s1, s2 = signs[0], signs[1], signs[2]
    bx = np.empty(BLOCK)
    by = np.empty(BLOCK)
    bz = np.empty(BLOCK)
    ox = np.empty(BLOCK, dtype=np.float32)
    oy = np.empty(BLOCK, dtype=np.float32)
    oz = np.empty(BLOCK, dtype=np.float32)
    for start in range(0, n, BLOCK):
        size = n - start if n - start < BLOCK else BLOCK
        for j in range(size):
            bx[j] = float(rgb[start + j, 0]) + offset
            by[j] = float(rgb[start + j, 1]) + offset
            bz[j] = float(rgb[start + j, 2]) + offset
        for j in range(size):
            x = bx[j] / scale * 2.0 - 1.0
            y = by[j] / scale * 2.0 - 1.0
            z = bz[j] / scale * 2.0 - 1.0
            r = math.sqrt(x * x + y * y + z * z)
            ok = abs(r - 1.0) < max_dev
            ox[j] = x / r * s0 if ok else math.nan
            oy[j] = y / r * s1 if ok else math.nan
            oz[j] = z / r * s2 if ok else math.nan
        for j in range(size):
            i = start + j
            out[i, 0] = ox[j]
            out[i, 1] = oy[j]
            out[i, 2] = oz[j]


def decode_reference(rgb, scale, signs, slack, max_dev, out_dtype, offset=0.0):
    """NumPy specification of :func:`decode_kernel`; returns ``(normals, confidence, valid)``."""
    v = (rgb.astype(np.float64) + offset) / scale * 2.0 - 1.0
    r = np.sqrt(np.sum(v * v, axis=-1))
    dev = np.abs(r - 1.0)
    valid = dev < max_dev
    with np.errstate(invalid="ignore", divide="ignore"):
        n = v / r[..., None] * np.asarray(signs, dtype=np.float64)
    n = np.where(valid[..., None], n, np.nan).astype(out_dtype)
    conf = np.where(valid, np.clip(1.0 - (dev - slack) / (max_dev - slack), 0.0, 1.0), 0.0)
    return n, conf.astype(np.float32), valid
