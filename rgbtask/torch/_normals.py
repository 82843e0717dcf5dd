"""normals/xyz in torch: rgbtask.core.normals' formulas, in float64 as the kernels compute them."""

from __future__ import annotations

import math

import torch

from rgbtask.codec import Decoded
from rgbtask.errors import InputError
from rgbtask.torch._adapters import (
    _normals_parts,
)
from rgbtask.torch._arrays import _FLOATS
from rgbtask.torch._base import _Native, _no_options


def _expect_float(value: torch.Tensor, what: str) -> torch.Tensor:
    if value.dtype == torch.bool or value.is_complex():
        raise InputError(f"expected {what} as real numbers, got {value.dtype}")
    return value.to(torch.float64)


class _NormalsNative(_Native):
    def encode(self, codec, value):
        if value.dtype not in _FLOATS and (value.dtype.is_complex or value.dtype == torch.bool):
            return None
        if value.ndim < 3 or value.shape[-1] != 3 or value.numel() == 0:
            return None  # NumPy's validation says what is wrong
        signs, scale, _ = _normals_parts(codec)
        v = _expect_float(value, "normals")
        x, y, z = (v[..., i] * signs[i] for i in range(3))
        m = torch.maximum(torch.maximum(x.abs(), y.abs()), z.abs())
        finite = torch.isfinite(x) & torch.isfinite(y) & torch.isfinite(z)
        ok = finite & (m > 0.0)
        m = torch.where(ok, m, torch.ones_like(m))
        x, y, z = x / m, y / m, z / m
        r = torch.sqrt(x * x + y * y + z * z)
        half, offset = 0.5 * scale, codec.offset  # offset 0.5 rounds, 0 truncates ("floor")
        codes = torch.stack([torch.floor((t / r + 1.0) * half + offset) for t in (x, y, z)], -1)
        codes = torch.where(ok[..., None], codes, torch.zeros_like(codes))
        return codes.to(torch.uint8 if scale == 255.0 else torch.int32)

    def _decode(self, codec, rgb, scale, offset=0.0):
        signs, code_scale, max_dev = _normals_parts(codec)
        slack = math.sqrt(3.0) / (scale if scale > 1.0 else code_scale)
        v = rgb.to(torch.float64)
        x, y, z = ((v[..., i] + offset) / scale * 2.0 - 1.0 for i in range(3))
        r = torch.sqrt(x * x + y * y + z * z)
        dev = (r - 1.0).abs()
        valid = dev < max_dev
        n = torch.stack([x / r * signs[0], y / r * signs[1], z / r * signs[2]], dim=-1)
        n = torch.where(valid[..., None], n, torch.full_like(n, math.nan)).to(torch.float32)
        conf = (1.0 - (dev - slack) / (max_dev - slack)).clamp(0.0, 1.0)
        conf = torch.where(valid, conf, torch.zeros_like(conf)).to(torch.float32)
        return Decoded(n, conf, valid)

    def decode_u8(self, codec, codes):
        # quantization="floor": a code is the centre of its truncation cell (as NumPy's)
        offset = 0.5 * 255.0 / codec.scale if codec.quantization == "floor" else 0.0
        return self._decode(codec, codes, 255.0, offset)

    def decode_float(self, codec, rgb01):
        offset = 0.5 / codec.scale if codec.quantization == "floor" else 0.0
        return self._decode(codec, rgb01, 1.0, offset)

    def soft_decode(self, codec, rgb01, **options):
        _no_options(codec, options)
        signs, scale, _ = _normals_parts(codec)
        if codec.quantization == "floor":  # as decode: the centre of the truncation cell
            rgb01 = rgb01 + 0.5 / scale
        v = rgb01 * 2.0 - 1.0
        norm = torch.sqrt((v * v).sum(-1, keepdim=True).clamp_min(1e-24))
        sign = torch.tensor(signs, dtype=v.dtype, device=v.device)
        return v / norm * sign
