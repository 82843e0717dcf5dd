"""The torch implementations of the built-in codecs, by family (the package docstring lists
what runs where)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from rgbtask.codec import Codec, Decoded
from rgbtask.errors import ConfigError, InputError
from rgbtask.torch._adapters import (
    _binary_parts,
    _depth_parts,
    _keypoint_drawable,
    _keypoint_finish,
    _keypoint_parts,
    _normals_parts,
    _palette_parts,
)
from rgbtask.torch._arrays import _FLOATS, _TORCH_DTYPES, _decoded_to, _to_host
from rgbtask.torch._colour import to_space
from rgbtask.torch._tables import _colour_table

# ================================================================ native implementations

#: Brute-force searches (pixels x palette colours, segments or blobs) run in chunks of about this
#: many float64 values per temporary: 32 MiB on CPU, 128 MiB on an accelerator.
_CHUNK_VALUES = {"cpu": 1 << 22}
_CHUNK_VALUES_ELSEWHERE = 1 << 24


def _chunk_values(device: torch.device) -> int:
    return _CHUNK_VALUES.get(device.type, _CHUNK_VALUES_ELSEWHERE)


class _Native:
    """A codec family's torch implementation. Methods return None where they do not apply
    (the caller then takes the host path)."""

    def encode(self, codec: Codec, value: torch.Tensor) -> torch.Tensor | None:
        return None

    def encode_with(self, codec: Codec, value: torch.Tensor, **options: Any):
        """``encode`` with the codec's encode options (None: take the host path)."""
        return None if options else self.encode(codec, value)

    def decode_u8(self, codec: Codec, codes: torch.Tensor) -> Decoded | None:
        return None

    def decode_float(self, codec: Codec, rgb01: torch.Tensor) -> Decoded | None:
        return None

    def soft_decode(self, codec: Codec, rgb01: torch.Tensor, **options: Any) -> torch.Tensor:
        raise ConfigError(
            f"soft_decode is not available for {codec.name}: it is defined for depth, "
            "normals/xyz, mask/palette, mask/instance and keypoints/heatmap"
        )


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
        half = 0.5 * scale
        codes = torch.stack([torch.floor((t / r + 1.0) * half + 0.5) for t in (x, y, z)], dim=-1)
        codes = torch.where(ok[..., None], codes, torch.zeros_like(codes))
        return codes.to(torch.uint8 if scale == 255.0 else torch.int32)

    def _decode(self, codec, rgb, scale):
        signs, code_scale, max_dev = _normals_parts(codec)
        slack = math.sqrt(3.0) / (scale if scale > 1.0 else code_scale)
        v = rgb.to(torch.float64)
        x, y, z = (v[..., i] / scale * 2.0 - 1.0 for i in range(3))
        r = torch.sqrt(x * x + y * y + z * z)
        dev = (r - 1.0).abs()
        valid = dev < max_dev
        n = torch.stack([x / r * signs[0], y / r * signs[1], z / r * signs[2]], dim=-1)
        n = torch.where(valid[..., None], n, torch.full_like(n, math.nan)).to(torch.float32)
        conf = (1.0 - (dev - slack) / (max_dev - slack)).clamp(0.0, 1.0)
        conf = torch.where(valid, conf, torch.zeros_like(conf)).to(torch.float32)
        return Decoded(n, conf, valid)

    def decode_u8(self, codec, codes):
        return self._decode(codec, codes, 255.0)

    def decode_float(self, codec, rgb01):
        return self._decode(codec, rgb01, 1.0)

    def soft_decode(self, codec, rgb01, **options):
        _no_options(codec, options)
        signs, _, _ = _normals_parts(codec)
        v = rgb01 * 2.0 - 1.0
        norm = torch.sqrt((v * v).sum(-1, keepdim=True).clamp_min(1e-24))
        sign = torch.tensor(signs, dtype=v.dtype, device=v.device)
        return v / norm * sign


def _gather_labels(value: torch.Tensor, colors: np.ndarray, allow_bool: bool = False):
    """``colors[labels]`` on the device when ``value`` is a valid label tensor (integer, or
    bool where allowed; at least 2-D; every label a row of ``colors``); None otherwise (the host
    path then raises NumPy's error)."""
    ok_dtype = value.dtype == torch.bool if allow_bool else False
    ok_dtype = ok_dtype or (
        not value.dtype.is_floating_point
        and not value.dtype.is_complex
        and value.dtype != torch.bool
    )
    if not ok_dtype or value.ndim < 2 or value.numel() == 0:
        return None
    labels = value.to(torch.int64)
    lo, hi = torch.aminmax(labels)
    if int(lo) < 0 or int(hi) >= colors.shape[0]:
        return None
    table = torch.from_numpy(np.array(colors, dtype=np.uint8)).to(value.device)
    return table[labels]


class _BinaryNative(_Native):
    def encode(self, codec, value):
        bg, direction, _, _ = _binary_parts(codec)
        fg = [b + d for b, d in zip(bg, direction)]
        return _gather_labels(value, np.asarray([bg, fg], dtype=np.uint8), allow_bool=True)

    def _decode(self, codec, rgb, scale):
        bg, direction, inv_len2, threshold = _binary_parts(codec)
        v = rgb.to(torch.float64)
        t = torch.zeros(v.shape[:-1], dtype=torch.float64, device=v.device)
        for c in range(3):
            t = t + (v[..., c] / scale * 255.0 - bg[c]) * direction[c]
        t = t * inv_len2
        half = min(threshold, 1.0 - threshold)
        conf = torch.clamp((t - threshold).abs() / half, max=1.0).to(torch.float32)
        labels = (t >= threshold).to(torch.uint8)
        return Decoded(labels, conf, torch.ones_like(labels, dtype=torch.bool))

    def decode_u8(self, codec, codes):
        return self._decode(codec, codes, 255.0)

    def decode_float(self, codec, rgb01):
        return self._decode(codec, rgb01, 1.0)


class _PanopticNative(_Native):
    def encode(self, codec, value):
        if value.dtype.is_floating_point or value.dtype.is_complex or value.dtype == torch.bool:
            return None
        if value.ndim < 2 or value.numel() == 0:
            return None
        ids = value.to(torch.int64)
        lo, hi = torch.aminmax(ids)
        if int(lo) < 0 or int(hi) >= 1 << 24:
            return None
        return torch.stack([ids & 255, (ids >> 8) & 255, ids >> 16], dim=-1).to(torch.uint8)

    def decode_u8(self, codec, codes):
        c = codes.to(torch.int32)
        ids = c[..., 0] + (c[..., 1] << 8) + (c[..., 2] << 16)
        ones = torch.ones(ids.shape, dtype=torch.bool, device=ids.device)
        return Decoded(ids, ones.to(torch.float32), ones)

    def decode_float(self, codec, rgb01):
        x = rgb01.to(torch.float64) * 255.0
        q = torch.floor(x + 0.5)
        worst = (x - q).abs().amax(-1)
        qi = q.to(torch.int64)
        ids = (qi[..., 0] + 256 * qi[..., 1] + 65536 * qi[..., 2]).to(torch.int32)
        conf = torch.clamp(1.0 - 2.0 * worst, min=0.0).to(torch.float32)
        return Decoded(ids, conf, torch.ones(ids.shape, dtype=torch.bool, device=ids.device))


def _nearest_colour(coords: torch.Tensor, palette: torch.Tensor, reject: float, ignore: int):
    """Nearest palette row of each pixel (first on ties), with the two smallest distances:
    ``(labels int64, confidence float32, valid)`` (rgbtask.core.masks' rule)."""
    flat = coords.reshape(-1, 3)
    chunk = max(1024, _chunk_values(coords.device) // palette.shape[0])
    labels, confs = [], []
    for start in range(0, flat.shape[0], chunk):
        p = flat[start : start + chunk]
        dx = p[:, None, 0] - palette[None, :, 0]
        dy = p[:, None, 1] - palette[None, :, 1]
        dz = p[:, None, 2] - palette[None, :, 2]
        d = dx * dx + dy * dy + dz * dz
        labels.append(torch.argmin(d, dim=1))
        if palette.shape[0] > 1:
            two = torch.topk(d, 2, dim=1, largest=False).values
            d1, d2 = torch.sqrt(two[:, 0]), torch.sqrt(two[:, 1])
            conf = torch.where(
                d2 <= 0.0, torch.zeros_like(d1), (d2 - d1) / torch.where(d2 > 0, d2 + d1, 1.0)
            )
        else:
            d1 = torch.sqrt(d[:, 0])
            conf = torch.ones_like(d1)
        conf = torch.where(d1 > reject, torch.zeros_like(conf), conf)
        confs.append(torch.stack([conf, (d1 > reject).to(conf.dtype)], dim=-1))
    label = torch.cat(labels)
    cr = torch.cat(confs)
    rejected = cr[:, 1] > 0
    label = torch.where(rejected, torch.full_like(label, ignore), label)
    shape = coords.shape[:-1]
    return (
        label.reshape(shape),
        cr[:, 0].to(torch.float32).reshape(shape),
        (~rejected).reshape(shape),
    )


class _PaletteNative(_Native):
    def _palette(self, codec, device, dtype=torch.float64):
        parts = _palette_parts(codec)
        cols = torch.from_numpy(parts["colors"].astype(np.float64) / 255.0).to(device, dtype)
        return parts, to_space(cols, parts["space"])

    def encode(self, codec, value):
        return _gather_labels(value, _palette_parts(codec)["colors"])

    def decode_u8(self, codec, codes):
        if not _palette_parts(codec)["pixelwise"]:
            return None
        return _colour_table(codec, codes.device).decode(codes)

    def decode_float(self, codec, rgb01):
        parts, pal = self._palette(codec, rgb01.device)
        if not parts["pixelwise"]:
            return None
        coords = to_space(rgb01.to(torch.float64), parts["space"])
        labels, conf, valid = _nearest_colour(coords, pal, parts["reject"], parts["ignore"])
        dtype = _TORCH_DTYPES[parts["label_dtype"].str]
        return Decoded(labels.to(dtype), conf, valid)

    def soft_decode(self, codec, rgb01, tau=None, log=False, **options):
        _no_options(codec, options)
        parts, pal = self._palette(codec, rgb01.device, rgb01.dtype)
        if tau is None:
            tau = default_tau(codec)
        tau = float(tau)
        if not tau > 0:
            raise ConfigError(f"expected tau > 0, got {tau!r}")
        coords = to_space(rgb01, parts["space"])
        d2 = ((coords[..., None, :] - pal) ** 2).sum(-1)
        dist = torch.sqrt(d2 + 1e-12)
        logits = -dist / tau
        out = torch.log_softmax(logits, dim=-1) if log else torch.softmax(logits, dim=-1)
        return out.movedim(-1, -3).contiguous()


def default_tau(codec: Codec) -> float:
    """The default ``tau`` of a palette's ``soft_decode``: a tenth of the smallest distance
    between two distinct palette colours in the codec's colour space."""
    parts = _palette_parts(codec)
    cols = torch.from_numpy(parts["colors"].astype(np.float64) / 255.0)
    pal = to_space(cols, parts["space"])
    d = torch.cdist(pal, pal)
    d = d[d > 0]
    return 0.1 * float(d.min()) if d.numel() else 1.0


#: A level ``floor(u)`` with ``u = f (levels - 1) + 0.5`` closer than this to a level boundary may
#: round the other way under another libm's pow/log (an ulp): such pixels are encoded on the host.
_LEVEL_MARGIN = 1e-9


class _DepthNative(_Native):
    def decode_u8(self, codec, codes):
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

    def encode(self, codec, value):
        """rgbtask.core.depth's encode: level ``floor(clip(f, 0, 1) (levels - 1) + 0.5)``, its
        code; invalid depth -> the reserved code. Pixels within ``_LEVEL_MARGIN`` of a level
        boundary are encoded by the NumPy codec, so the codes are NumPy's exactly."""
        if value.dtype == torch.bool or value.dtype.is_complex or value.ndim < 2:
            return None
        if value.numel() == 0 or (value.ndim >= 3 and value.shape[-1] == 3):
            return None  # NumPy's validation (an RGB image given to encode, ...) speaks
        parts = _depth_parts(codec)
        if parts["per_image"]:
            return None
        d = value.to(torch.float64)
        ok = (d >= 0.0) if parts["zero_ok"] else (d > 0.0)
        ok = ok & (d < math.inf)
        safe = torch.where(ok, d, torch.ones_like(d))
        n = parts["levels"]
        f = self._forward(safe, parts["params"])
        u = f.clamp(0.0, 1.0) * (n - 1) + 0.5
        level = torch.floor(u)
        frac = u - level
        unsure = ok & (torch.minimum(frac, 1.0 - frac) < _LEVEL_MARGIN) & (f > 0.0) & (f < 1.0)
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
        if parts["power"]:
            f = f.clamp(max=1.0 - 2.0**-20)  # keep metres finite at the far end (white)
        return self._inverse(f, parts["params"])


def _axis_offset(vm: float, v0: float, vp: float, refine: str) -> float:
    """rgbtask.core.keypoints' sub-pixel offset along one axis, in Python floats (libm's log,
    as the Numba kernel's), for the few peak candidates: bit for bit the kernel's."""
    if refine == "quarter":
        return 0.25 if vp > vm else (-0.25 if vp < vm else 0.0)
    if refine == "dark":
        lm, l0, lp = math.log(vm), math.log(v0), math.log(vp)
        second = lp - 2.0 * l0 + lm
        if not second < 0.0:
            return 0.0
        return min(0.5, max(-0.5, -(lp - lm) / 2.0 / second))
    return 0.0


class _KeypointsNative(_Native):
    def decode_u8(self, codec, codes):
        return self._decode(codec, codes, 255.0)

    def decode_float(self, codec, rgb01):
        return self._decode(codec, rgb01, 1.0)

    @staticmethod
    def _planes(rgb, parts, scale):
        """rgbtask.core.keypoints' value and id planes ``(B, P, H, W)`` of images ``(B, H, W', 3)``."""
        w = parts["size"][1]
        k = parts["k"]
        v = rgb.to(torch.float64) / scale
        min_value = 0.5 * parts["threshold"]
        if parts["layout"] == "stacked":
            val = torch.stack(
                [v[:, :, (p // 3) * w : (p // 3 + 1) * w, p % 3] for p in range(k)], 1
            )
            ids = torch.arange(k, device=v.device)[None, :, None, None].expand(val.shape)
            return val, ids
        r, g, b = v[..., 0], v[..., 1], v[..., 2]
        if parts["layout"] == "painter":
            n = math.isqrt(k) + 1
            sep = float(256 // n)
            gi = torch.floor((255.0 - g * 255.0) / sep + 0.5)
            bi = torch.floor((255.0 - b * 255.0) / sep + 0.5)
            kk = gi * n + bi
            ok = (r >= min_value) & (gi >= 0) & (gi < n) & (bi >= 0) & (bi < n) & (kk < k)
            return r[:, None], torch.where(ok, kk, -1).to(torch.int64)[:, None]
        m = torch.maximum(torch.maximum(r, g), b)
        ok = (m >= min_value) & (m > 0.0)
        safe = torch.where(ok, m, 1.0)
        cols = torch.from_numpy(np.array(parts["colors"])).to(v.device)
        d0 = (r / safe)[..., None] - cols[:, 0]
        d1 = (g / safe)[..., None] - cols[:, 1]
        d2 = (b / safe)[..., None] - cols[:, 2]
        kk = torch.argmin(d0 * d0 + d1 * d1 + d2 * d2, dim=-1)
        return m[:, None], torch.where(ok, kk, -1)[:, None]

    def _decode(self, codec, rgb, scale):
        """Peak candidates found on the device (rgbtask.core.keypoints' rule: a same-id local
        maximum above the threshold); their refinement (a few logs each) and grouping into
        instances on the host."""
        parts = _keypoint_parts(codec)
        shape = parts["image_shape"]
        if tuple(rgb.shape[-3:]) != shape:
            return None  # the host path raises the codec's error
        lead = tuple(rgb.shape[:-3])
        flat = rgb.reshape(-1, *shape)
        val, ids = self._planes(flat, parts, scale)
        n_img, _, h, w = val.shape
        pv = torch.nn.functional.pad(val, (1, 1, 1, 1), value=-math.inf)
        pk = torch.nn.functional.pad(ids, (1, 1, 1, 1), value=-2)
        is_max = (ids >= 0) & (val >= parts["threshold"])
        n_in = torch.zeros(val.shape, dtype=torch.int64, device=val.device)
        n_same = torch.zeros_like(n_in)
        for di in (-1, 0, 1):
            for dj in (-1, 0, 1):
                if di == 0 and dj == 0:
                    continue
                nv = pv[..., 1 + di : 1 + di + h, 1 + dj : 1 + dj + w]
                nk = pk[..., 1 + di : 1 + di + h, 1 + dj : 1 + dj + w]
                same = nk == ids
                n_in += nk != -2
                n_same += same
                beaten = nv > val
                if di < 0 or (di == 0 and dj < 0):
                    beaten = beaten | (nv == val)
                is_max &= ~(same & beaten)
        is_max &= 2 * n_same > n_in
        bi, pi, ii, ji = torch.nonzero(is_max, as_tuple=True)  # scan order, as the kernel's
        kk = ids[bi, pi, ii, ji]
        v0 = val[bi, pi, ii, ji]
        # per candidate and axis: whether it is refined, and its two neighbours' values
        axes = []
        for axis in (0, 1):  # x (columns), then y (rows)
            pos, limit = (ji, w) if axis == 0 else (ii, h)
            inside = (pos > 0) & (pos < limit - 1)
            lo = (pos - 1).clamp(min=0)
            hi = (pos + 1).clamp(max=limit - 1)
            at_lo = (bi, pi, ii, lo) if axis == 0 else (bi, pi, lo, ji)
            at_hi = (bi, pi, ii, hi) if axis == 0 else (bi, pi, hi, ji)
            vm, vp = val[at_lo], val[at_hi]
            use = inside & (ids[at_lo] == kk) & (ids[at_hi] == kk) & (vm > 0.0) & (vp > 0.0)
            axes += [use.to(torch.float64), vm, vp]
        host = torch.stack([bi.to(torch.float64), kk.to(torch.float64), ji, ii, v0, *axes], -1)
        host = host.cpu().numpy()
        cap = max(64, 8 * parts["k"] * parts["max_instances"])
        cand = np.zeros((n_img, cap, 4), dtype=np.float64)
        count = np.zeros(n_img, dtype=np.int64)
        for b in range(n_img):
            mine = host[host[:, 0] == b][:cap]  # scan order; the kernel keeps the first cap
            for c, row in enumerate(mine):
                _, k_id, x, y, v, use_x, xm, xp, use_y, ym, yp = row
                ox = _axis_offset(xm, v, xp, parts["refine"]) if use_x else 0.0
                oy = _axis_offset(ym, v, yp, parts["refine"]) if use_y else 0.0
                cand[b, c] = (k_id, x + ox, y + oy, v)
            count[b] = len(mine)
        return _decoded_to(_keypoint_finish(codec, cand, count, lead), rgb.device)

    def encode_with(self, codec, value, visible=None, **options):
        """rgbtask.core.keypoints' render on the device: per plane, the strongest blob (first
        in (instance, id) order on ties) and its code. The keypoints (small) are validated on
        the host; an image with a pixel whose code or owner an ulp of ``exp`` could change is
        rendered by the NumPy codec, so the codes are NumPy's exactly."""
        if options:
            return None
        vis = _to_host(visible) if isinstance(visible, torch.Tensor) else visible
        lead, kp = _keypoint_drawable(codec, _to_host(value), vis)
        parts = _keypoint_parts(codec)
        device = value.device
        h, w = parts["size"]
        k = parts["k"]
        out = torch.zeros((kp.shape[0], *parts["image_shape"]), dtype=torch.uint8, device=device)
        stacked = parts["layout"] == "stacked"
        colours = torch.from_numpy(np.array(parts["colors"])).to(device)
        ii = torch.arange(h, dtype=torch.float64, device=device)
        jj = torch.arange(w, dtype=torch.float64, device=device)
        inv = 1.0 / (2.0 * parts["sigma"] ** 2)
        radius = parts["radius"]
        kp_dev = torch.from_numpy(np.ascontiguousarray(kp)).to(device)
        for b in range(kp.shape[0]):
            planes = [[kk] for kk in range(k)] if stacked else [list(range(k))]
            unsure = False
            for ids in planes:
                blobs = kp_dev[b][:, ids].reshape(-1, 2)  # (instance, id) order
                heat, second, owner = self._strongest(blobs, ii, jj, inv, radius)
                owner_id = torch.tensor(ids, device=device)[owner.clamp(min=0) % len(ids)]
                drawn = owner >= 0
                u = heat * 255.0 + 0.5
                near = [u]
                code = torch.floor(u)
                if parts["layout"] == "painter":
                    on = drawn & (code >= 1)
                    out[b, ..., 0] = torch.where(on, code, 0).to(torch.uint8)
                    for c in (1, 2):
                        out[b, ..., c] = torch.where(on, colours[owner_id, c], 0).to(torch.uint8)
                elif parts["layout"] == "palette":
                    for c in range(3):
                        v = heat * 255.0 * colours[owner_id, c] + 0.5
                        near.append(torch.where(drawn, v, 0.25))
                        out[b, ..., c] = torch.where(drawn, torch.floor(v), 0).to(torch.uint8)
                else:
                    kk = ids[0]
                    page = out[b, :, (kk // 3) * w : (kk // 3 + 1) * w, kk % 3]
                    page.copy_(torch.where(drawn, code, 0).to(torch.uint8))
                frac = torch.stack([x - torch.floor(x) for x in near])
                edge = (torch.minimum(frac, 1.0 - frac) < _LEVEL_MARGIN) & drawn
                tie = (second > 0) & (heat - second <= heat * 1e-12)
                unsure = unsure or bool((edge.any(0) | tie).any())
            if unsure:
                out[b] = torch.from_numpy(codec.encode(kp[b][None])[0]).to(device)
        return out.reshape(*lead, *parts["image_shape"])

    @staticmethod
    def _strongest(blobs, ii, jj, inv, radius):
        """Per pixel: the largest blob value, the second largest and the first blob giving the
        largest (-1 where none is drawn). Blobs outside their window count as 0."""
        h, w = ii.shape[0], jj.shape[0]
        heat = torch.zeros((h, w), dtype=torch.float64, device=ii.device)
        second = torch.zeros_like(heat)
        owner = torch.full((h, w), -1, dtype=torch.int64, device=ii.device)
        finite = torch.isfinite(blobs).all(-1)
        x = torch.where(finite, blobs[:, 0], 0.0)[:, None]
        y = torch.where(finite, blobs[:, 1], 0.0)[:, None]
        gy = torch.exp(-((ii - y) * (ii - y)) * inv)
        gy = torch.where(((ii - y).abs() <= radius) & finite[:, None], gy, 0.0)
        gx = torch.exp(-((jj - x) * (jj - x)) * inv)
        gx = torch.where(((jj - x).abs() <= radius) & finite[:, None], gx, 0.0)
        step = max(2, _chunk_values(ii.device) // (h * w))
        for start in range(0, blobs.shape[0], step):
            hv = gy[start : start + step, :, None] * gx[start : start + step, None, :]
            if hv.shape[0] > 1:
                top = torch.topk(hv, 2, dim=0)
                # topk does not promise the first index among equals: take argmax for that
                best_v, best_i = top.values[0], torch.argmax(hv, dim=0)
                next_v = top.values[1]
            else:
                best_v, best_i, next_v = hv[0], torch.zeros_like(owner), torch.zeros_like(heat)
            take = best_v > heat
            second = torch.where(take, torch.maximum(heat, next_v), torch.maximum(second, best_v))
            owner = torch.where(take & (best_v > 0), best_i + start, owner)
            heat = torch.where(take, best_v, heat)
        return heat, second, owner

    def soft_decode(self, codec, rgb01, tau=0.05, **options):
        """Soft-argmax per keypoint id: ``softmax(heat_k / tau)`` over the canvas, its mean
        pixel position ``(x, y)``. ``heat_k`` is the id's heatmap: ``stacked``: its channel;
        ``painter``: R weighted by how close (G, B) is to the id's code; ``palette``: the
        intensity ``max(R, G, B)`` weighted by how close the chroma ``RGB / max`` is to the
        id's colour (Gaussian weights, width a quarter of the code spacing)."""
        _no_options(codec, options)
        parts = _keypoint_parts(codec)
        h, w = parts["size"]
        k = parts["k"]
        if rgb01.shape[-3:] != (h, w * parts["pages"], 3):
            raise InputError(
                f"expected images of shape (..., {h}, {w * parts['pages']}, 3), got "
                f"{tuple(rgb01.shape)}"
            )
        if parts["layout"] == "stacked":
            lead = rgb01.ndim - 3
            pages = rgb01.reshape(*rgb01.shape[:-2], parts["pages"], w, 3)  # (..., H, P, W, 3)
            planes = pages.permute(*range(lead), lead + 1, lead + 3, lead, lead + 2)
            heat = planes.reshape(*rgb01.shape[:-3], parts["pages"] * 3, h, w)[..., :k, :, :]
        elif parts["layout"] == "painter":
            spacing = 256 // (math.isqrt(k) + 1) / 255.0
            cols = torch.from_numpy(parts["colors"] / 255.0).to(rgb01.device, rgb01.dtype)
            gb = rgb01[..., None, 1:]  # (..., H, W, 1, 2)
            sim = torch.exp(-((gb - cols[:, 1:]) ** 2).sum(-1) / (2.0 * (spacing / 4) ** 2))
            heat = (rgb01[..., None, 0] * sim).movedim(-1, -3)
        else:
            cols = torch.from_numpy(np.array(parts["colors"])).to(rgb01.device, rgb01.dtype)
            peak = rgb01.amax(-1, keepdim=True)  # (..., H, W, 1)
            chroma = rgb01 / peak.clamp_min(1e-6)
            c = parts["colors"]
            gaps = np.linalg.norm(c[:, None] - c[None], axis=-1) + np.eye(k) * 9.0
            hue_step = float(gaps.min()) if k > 1 else 1.0
            sim = torch.exp(
                -((chroma[..., None, :] - cols) ** 2).sum(-1) / (2.0 * (hue_step / 4) ** 2)
            )
            heat = (peak * sim).movedim(-1, -3)
        tau = float(tau)
        if not tau > 0:
            raise ConfigError(f"expected tau > 0, got {tau!r}")
        p = torch.softmax(heat.reshape(*heat.shape[:-2], h * w) / tau, dim=-1)
        p = p.reshape(heat.shape)
        ys = torch.arange(h, dtype=rgb01.dtype, device=rgb01.device)
        xs = torch.arange(w, dtype=rgb01.dtype, device=rgb01.device)
        x = (p.sum(-2) * xs).sum(-1)
        y = (p.sum(-1) * ys).sum(-1)
        return torch.stack([x, y], dim=-1)


def _no_options(codec: Codec, options: Mapping[str, Any]) -> None:
    if options:
        raise ConfigError(f"unexpected soft_decode options for {codec.name}: {sorted(options)}")


#: Torch implementations by codec class (qualified ``module:Class``); a codec class not listed
#: (a plugin) takes the host path. A subclass of a listed class does not inherit the entry.
_NATIVE: dict[str, _Native] = {
    "rgbtask.codecs.normals:NormalsXYZ": _NormalsNative(),
    "rgbtask.codecs.masks:MaskBinary": _BinaryNative(),
    "rgbtask.codecs.masks:MaskPanoptic": _PanopticNative(),
    "rgbtask.codecs.masks:MaskPalette": _PaletteNative(),
    "rgbtask.codecs.masks:MaskInstance": _PaletteNative(),
    "rgbtask.codecs.depth:DepthCubewalk": _DepthNative(),
    "rgbtask.codecs.depth:DepthHue": _DepthNative(),
    "rgbtask.codecs.depth:DepthGray": _DepthNative(),
    "rgbtask.codecs.depth:DepthColormap": _DepthNative(),
    "rgbtask.codecs.depth:DepthCurve": _DepthNative(),
    "rgbtask.codecs.keypoints:KeypointsHeatmap": _KeypointsNative(),
}
_HOST = _Native()


def _on_device(device: torch.device) -> bool:
    """True when the torch implementations run for tensors on ``device`` (everywhere but the CPU,
    and there too with ``rgbtask.torch.CPU_BACKEND = "torch"``)."""
    import rgbtask.torch as package

    return device.type != "cpu" or package.CPU_BACKEND == "torch"


def _native_of(codec: Codec) -> _Native:
    cls = type(codec)
    return _NATIVE.get(f"{cls.__module__}:{cls.__qualname__}", _HOST)
