"""mask/binary, mask/panoptic, mask/palette and mask/instance in torch."""

from __future__ import annotations

import numpy as np
import torch

from rgbtask.codec import Codec, Decoded
from rgbtask.errors import ConfigError
from rgbtask.torch._adapters import (
    _binary_parts,
    _palette_parts,
)
from rgbtask.torch._arrays import _TORCH_DTYPES
from rgbtask.torch._base import _chunk_values, _Native, _no_options
from rgbtask.torch._colour import to_space
from rgbtask.torch._tables import _colour_table


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
        if not _palette_parts(codec)["pixelwise"] or getattr(codec, "void_color", None):
            return None  # context decoding, min_region, a void colour: the host decodes
        return _colour_table(codec, codes.device).decode(codes)

    def decode_float(self, codec, rgb01):
        parts, pal = self._palette(codec, rgb01.device)
        if not parts["pixelwise"] or getattr(codec, "void_color", None):
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
