"""Depth codecs in torch: level encode, device-table decode, projection onto the curve, and the
differentiable projection of soft_decode."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from rgbtask.codec import Decoded
from rgbtask.torch._adapters import (
    _depth_parts,
)
from rgbtask.torch._base import _LEVEL_MARGIN, _chunk_values, _Native, _no_options
from rgbtask.torch._tables import _colour_table


class _DepthNative(_Native):
    def decode_u8(self, codec, codes):
        if codec.bits != 8:
            return None  # 16-bit depth codecs: the host path (issue 15)
        # the device table holds NumPy's decode of each colour, keyed by the whole config
        # (quantization and max_distance included)
        return _colour_table(codec, codes.device).decode(codes)

    @staticmethod
    def _forward(d: torch.Tensor, params: tuple[float, ...]) -> torch.Tensor:
        kind, near, far, lam, c = params
        kind = int(kind)
        if kind == 0:
            return (d - near) / (far - near)
        if kind == 1:
            return torch.log(d / near) / math.log(far / near)
        if kind == 2:
            return (1.0 / near - 1.0 / d) / (1.0 / near - 1.0 / far)
        if kind == 3:
            return 1.0 - (1.0 - d / (lam * c)).pow(lam + 1.0)
        return d

    @staticmethod
    def _normalise(d: torch.Tensor) -> torch.Tensor:
        """rgbtask.transforms.Affine.normalise on the device: per image (last two axes),
        ``(d - lo) / scale`` with ``lo`` the min and ``scale`` = max - min of the valid (finite,
        positive) depth (lo = 0 and scale = 1 where there is none, scale = 1 where max = min);
        NaN where invalid. The same float64 operations as NumPy's, so the same values."""
        ok = torch.isfinite(d) & (d > 0.0)
        lo = torch.where(ok, d, math.inf).amin((-2, -1))  # d is not empty (encode's check)
        hi = torch.where(ok, d, -math.inf).amax((-2, -1))
        lo = torch.where(torch.isfinite(lo), lo, 0.0)
        scale = torch.where(torch.isfinite(hi) & (hi > lo), hi - lo, 1.0)
        rel = (d - lo[..., None, None]) / scale[..., None, None]
        return torch.where(ok, rel, math.nan)

    def encode(self, codec, value):
        """rgbtask.core.depth's encode: level ``floor(clip(f, 0, 1) (levels - 1) + 0.5)``, its
        code; invalid depth -> the reserved code; ``affine`` normalises each image first, as
        NumPy does. Pixels within ``_LEVEL_MARGIN`` of a level boundary are encoded by the
        NumPy codec (where ``f`` needs libm), so the codes are NumPy's exactly."""
        if value.dtype == torch.bool or value.dtype.is_complex or value.ndim < 2:
            return None
        if codec.bits != 8 or not codec.default_decode:
            return None  # 16-bit depth codecs (issue 15), quantization / max_distance: host
        if value.numel() == 0 or (value.ndim >= 3 and value.shape[-1] == 3):
            return None  # NumPy's validation (an RGB image given to encode, ...) speaks
        parts = _depth_parts(codec)
        if parts["per_image"] and not parts["affine"]:
            return None  # quantile: NumPy's quantiles on the host (the same codes by definition)
        d = value.to(torch.float64)
        if parts["per_image"]:
            d = self._normalise(d)
        ok = (d >= 0.0) if parts["zero_ok"] else (d > 0.0)
        ok = ok & (d < math.inf)
        safe = torch.where(ok, d, torch.ones_like(d))
        n = parts["levels"]
        f = self._forward(safe, parts["params"])
        u = f.clamp(0.0, 1.0) * (n - 1) + 0.5
        level = torch.floor(u)
        frac = u - level
        unsure = ok & (torch.minimum(frac, 1.0 - frac) < _LEVEL_MARGIN) & (f > 0.0) & (f < 1.0)
        if parts["identity"]:
            unsure = torch.zeros_like(unsure)  # f = d: no libm call, the level is NumPy's
        codes = torch.from_numpy(parts["codes"]).to(d.device)
        reserved = torch.tensor(parts["reserved"], dtype=torch.uint8, device=d.device)
        level = torch.where(ok, level, torch.zeros_like(level)).to(torch.int64).clamp(0, n - 1)
        out = torch.where(ok[..., None], codes[level], reserved)
        if bool(unsure.any()):
            host = value[unsure].detach().to(torch.float64).cpu().numpy().reshape(1, -1)
            out[unsure] = torch.from_numpy(codec.encode(host)[0]).to(d.device)
        return out

    @staticmethod
    def _inverse(f: torch.Tensor, params: tuple[float, ...]) -> torch.Tensor:
        kind, near, far, lam, c = params
        kind = int(kind)
        if kind == 0:
            return near + f * (far - near)
        if kind == 1:
            return near * torch.exp(f * math.log(far / near))
        if kind == 2:
            return 1.0 / (1.0 / near - f * (1.0 / near - 1.0 / far))
        if kind == 3:
            d = lam * c * (1.0 - (1.0 - f).clamp_min(0.0).pow(1.0 / (lam + 1.0)))
            return torch.where(f >= 1.0, torch.full_like(f, math.inf), d)
        return f

    @staticmethod
    def _project(p: torch.Tensor, parts: dict[str, Any]):
        """Nearest point of the curve for each colour ``p`` (..., 3) in [0, 1]: ``(f, distance)``;
        differentiable in ``p`` (along the nearest segment)."""
        verts = torch.from_numpy(parts["vertices"]).to(p.device, p.dtype)
        flat = p.reshape(-1, 3)
        chunk = max(1024, _chunk_values(p.device) // verts.shape[0])
        fs, ds = [], []
        if parts["kind"] == "palette":
            nlev = parts["levels"]
            for start in range(0, flat.shape[0], chunk):
                q = flat[start : start + chunk]
                x0 = q[:, None, 0] - verts[None, :, 0]
                x1 = q[:, None, 1] - verts[None, :, 1]
                x2 = q[:, None, 2] - verts[None, :, 2]
                d2 = x0 * x0 + x1 * x1 + x2 * x2
                best, k = torch.min(d2, dim=1)
                fs.append(k.to(p.dtype) / (nlev - 1))
                ds.append(torch.sqrt(best))
        else:
            a, e = verts[:-1], verts[1:] - verts[:-1]
            ee = (e * e).sum(-1)
            knots = torch.from_numpy(parts["knots"]).to(p.device, p.dtype)
            nseg, nlev = e.shape[0], parts["levels"]
            for start in range(0, flat.shape[0], chunk):
                q = flat[start : start + chunk]
                r = [q[:, None, j] - a[None, :, j] for j in range(3)]
                dot = r[0] * e[:, 0] + r[1] * e[:, 1] + r[2] * e[:, 2]
                t = (dot / ee).clamp(0.0, 1.0)
                x = [q[:, None, j] - (a[None, :, j] + t * e[:, j]) for j in range(3)]
                d2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2]
                k = torch.argmin(d2, dim=1)
                bt = t.gather(1, k[:, None])[:, 0]
                best = d2.gather(1, k[:, None])[:, 0]
                if parts["uniform"]:
                    f = (k.to(p.dtype) + bt) / nseg
                else:
                    f = (knots[k] + bt * (knots[k + 1] - knots[k])) / (nlev - 1)
                fs.append(f)
                ds.append(torch.sqrt(best))
        shape = p.shape[:-1]
        return torch.cat(fs).reshape(shape), torch.cat(ds).reshape(shape)

    def decode_float(self, codec, rgb01):
        if codec.bits != 8 or not codec.default_decode:
            return None  # 16-bit depth codecs (issue 15), quantization / max_distance: host
        parts = _depth_parts(codec)
        f, dist = self._project(rgb01.to(torch.float64), parts)
        thr = parts["threshold"]
        lo, hi = parts["range"]
        valid = dist < thr
        d = self._inverse(f.clamp(0.0, 1.0), parts["params"]).clamp(lo, hi) + 0.0
        d = torch.where(valid, d, torch.full_like(d, math.nan)).to(torch.float32)
        conf = (1.0 - dist / thr).clamp(0.0, 1.0)
        conf = torch.where(valid, conf, torch.zeros_like(conf)).to(torch.float32)
        return Decoded(d, conf, valid)

    @staticmethod
    def _soft_project(p: torch.Tensor, parts: dict[str, Any]):
        """The curve parameter ``f`` of each colour ``p`` (..., 3): its value is the exact
        projection's (as :meth:`_project`); its gradient is the projection's along the nearest
        segment. Where the nearest point is a vertex (the cone of colours beyond a segment's end,
        where the projection is flat and its true gradient zero, which would stall optimization),
        the gradient is the sum of the two adjacent segments' (a straight-through estimate).
        The search runs without a graph, in chunks; the graph holds O(pixels) values only."""
        verts = torch.from_numpy(parts["vertices"]).to(p.device, p.dtype)
        knots = torch.from_numpy(parts["knots"]).to(p.device, p.dtype)
        a, e = verts[:-1], verts[1:] - verts[:-1]
        ee = (e * e).sum(-1)
        span = (knots[1:] - knots[:-1]) / (parts["levels"] - 1)  # f per unit t, per segment
        nseg = e.shape[0]
        flat = p.reshape(-1, 3)
        chunk = max(1024, _chunk_values(p.device) // nseg)
        fs, ks, others = [], [], []
        with torch.no_grad():
            for start in range(0, flat.shape[0], chunk):
                q = flat[start : start + chunk]
                r = [q[:, None, j] - a[None, :, j] for j in range(3)]
                t = ((r[0] * e[:, 0] + r[1] * e[:, 1] + r[2] * e[:, 2]) / ee).clamp(0.0, 1.0)
                x = [q[:, None, j] - (a[None, :, j] + t * e[:, j]) for j in range(3)]
                d2 = x[0] * x[0] + x[1] * x[1] + x[2] * x[2]
                k = torch.argmin(d2, dim=1)
                bt = t.gather(1, k[:, None])[:, 0]
                if parts["uniform"]:
                    fs.append((k.to(p.dtype) + bt) / nseg)
                else:
                    fs.append((knots[k] + bt * (knots[k + 1] - knots[k])) / (parts["levels"] - 1))
                # the segment whose end vertex is nearest joins in (straight-through)
                after = (bt >= 1.0) & (k < nseg - 1)
                before = (bt <= 0.0) & (k > 0)
                ks.append(k)
                others.append(torch.where(after, k + 1, torch.where(before, k - 1, -1)))
        f, k, other = torch.cat(fs), torch.cat(ks), torch.cat(others)

        def along(seg: torch.Tensor) -> torch.Tensor:  # t of each colour on segment seg, unclamped
            s = seg.clamp(min=0)
            return ((flat - a[s]) * e[s]).sum(-1) / ee[s] * span[s]

        surrogate = along(k) + torch.where(other >= 0, along(other), 0.0)
        return (f + (surrogate - surrogate.detach())).reshape(p.shape[:-1])

    def soft_decode(self, codec, rgb01, **options):
        _no_options(codec, options)
        parts = _depth_parts(codec)
        if parts["kind"] == "palette":
            # the piecewise-linear curve through the palette's colours, one segment per level
            n = parts["levels"]
            parts = dict(parts, knots=np.arange(n, dtype=np.float64), uniform=True)
        f = self._soft_project(rgb01, parts)
        table = getattr(codec, "_table", None)
        if table is not None and parts["kind"] == "palette":
            # a tool's table (quantization "matplotlib" / "opencv"): entry k stands for the
            # centre of its interval of f; between entries, linear (as decode, at the entries)
            centre = torch.from_numpy(0.5 * (table.f_lo + table.f_hi)).to(f.device, f.dtype)
            u = f * (parts["levels"] - 1)
            k = torch.floor(u.detach()).clamp(0, parts["levels"] - 2).to(torch.int64)
            f = centre[k] + (u - k.to(f.dtype)) * (centre[k + 1] - centre[k])
        if parts["power"]:
            f = f.clamp(max=1.0 - 2.0**-20)  # keep metres finite at the far end (white)
        return self._inverse(f, parts["params"])
