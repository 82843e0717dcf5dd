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

__all__ = ["decode", "encode"]


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


@jit
def encode_kernel(normals, out, signs, scale, offset):
    half = 0.5 * scale
    for i in range(normals.shape[0]):
        x = float(normals[i, 0]) * signs[0]
        y = float(normals[i, 1]) * signs[1]
        z = float(normals[i, 2]) * signs[2]
        m = max(abs(x), abs(y), abs(z))
        if not (m > 0.0 and m < math.inf):
            out[i, 0] = 0
            out[i, 1] = 0
            out[i, 2] = 0
            continue
        x /= m
        y /= m
        z /= m
        r = math.sqrt(x * x + y * y + z * z)
        out[i, 0] = math.floor((x / r + 1.0) * half + offset)
        out[i, 1] = math.floor((y / r + 1.0) * half + offset)
        out[i, 2] = math.floor((z / r + 1.0) * half + offset)


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


@jit
def decode_kernel(rgb, out, confidence, valid, scale, signs, slack, max_dev, offset):
    for i in range(rgb.shape[0]):
        x = (float(rgb[i, 0]) + offset) / scale * 2.0 - 1.0
        y = (float(rgb[i, 1]) + offset) / scale * 2.0 - 1.0
        z = (float(rgb[i, 2]) + offset) / scale * 2.0 - 1.0
        r = math.sqrt(x * x + y * y + z * z)
        dev = abs(r - 1.0)
        if dev < max_dev:
            out[i, 0] = x / r * signs[0]
            out[i, 1] = y / r * signs[1]
            out[i, 2] = z / r * signs[2]
            c = 1.0 - (dev - slack) / (max_dev - slack)
            confidence[i] = min(1.0, max(0.0, c))
            valid[i] = True
        else:
            out[i, 0] = math.nan
            out[i, 1] = math.nan
            out[i, 2] = math.nan
            confidence[i] = 0.0
            valid[i] = False


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
