"""keypoints/heatmap in torch: render, peak finding, soft-argmax."""

from __future__ import annotations

import math

import numpy as np
import torch

from rgbtask.errors import ConfigError, InputError
from rgbtask.torch._adapters import (
    _keypoint_drawable,
    _keypoint_finish,
    _keypoint_parts,
)
from rgbtask.torch._arrays import _decoded_to, _to_host
from rgbtask.torch._base import _LEVEL_MARGIN, _chunk_values, _Native, _no_options


def _axis_offsets(vm, v0, vp, use, refine: str) -> torch.Tensor:
    """rgbtask.core.keypoints' sub-pixel offset along one axis for each candidate (float64
    tensors; 0 where ``use`` is False): the kernel's ``_axis_offset``, the same operations in the
    same order (``dark``: a Newton step on the log heatmap, clamped to half a pixel)."""
    zero = torch.zeros_like(v0)
    if refine == "quarter":
        off = torch.where(vp > vm, 0.25, torch.where(vp < vm, -0.25, zero))
    elif refine in ("newton1d", "gaussian_fit"):
        one = torch.ones_like(v0)
        lm = torch.log(torch.where(use, vm, one))
        l0 = torch.log(torch.where(use, v0, one))
        lp = torch.log(torch.where(use, vp, one))
        second = lp - 2.0 * l0 + lm
        step = -(lp - lm) / 2.0 / torch.where(second < 0.0, second, -one)
        off = torch.where(second < 0.0, step.clamp(-0.5, 0.5), zero)
    else:
        return zero
    return torch.where(use, off, zero)


def _windows(val, ids, bi, pi, ii, ji, kk, half, other):
    """Per candidate the ``(2 half + 1)^2`` window of its id's heatmap around ``(ii, ji)``:
    values, and whether each pixel is on the canvas and has the candidate's id (``other``: or no
    id)."""
    h, w = val.shape[-2:]
    off = torch.arange(-half, half + 1, device=val.device)
    rows = ii[:, None, None] + off[None, :, None]
    cols = ji[:, None, None] + off[None, None, :]
    inside = (rows >= 0) & (rows < h) & (cols >= 0) & (cols < w)
    r = rows.clamp(0, h - 1)
    c = cols.clamp(0, w - 1)
    v = val[bi[:, None, None], pi[:, None, None], r, c]
    k = ids[bi[:, None, None], pi[:, None, None], r, c]
    same = k == kk[:, None, None]
    if other:
        same = same | (k < 0)
    return v, inside & same


def _dark_offsets(val, ids, bi, pi, ii, ji, kk, sigma):
    """rgbtask.core.keypoints' ``_dark_offset`` for each candidate: DARK as published on the
    blurred 5 x 5 window around the peak (float64; see the kernel)."""
    from rgbtask.core.keypoints import DARK_FLOOR, dark_blur_weights, dark_kernel_size

    weights = torch.from_numpy(dark_blur_weights(dark_kernel_size(sigma))).to(val.device)
    bd = (weights.shape[0] - 1) // 2
    h, w = val.shape[-2:]
    v, use = _windows(val, ids, bi, pi, ii, ji, kk, 2 + bd, other=False)
    win = torch.where(use, v, 0.0)
    tmp = (win.unfold(2, weights.shape[0], 1) * weights).sum(-1)  # (C, n, 5)
    blurred = (tmp.unfold(1, weights.shape[0], 1) * weights).sum(-1)  # (C, 5, 5)
    lg = torch.log(blurred.clamp_min(DARK_FLOOR))
    dx = 0.5 * (lg[:, 2, 3] - lg[:, 2, 1])
    dy = 0.5 * (lg[:, 3, 2] - lg[:, 1, 2])
    dxx = 0.25 * (lg[:, 2, 4] - 2.0 * lg[:, 2, 2] + lg[:, 2, 0])
    dxy = 0.25 * (lg[:, 3, 3] - lg[:, 1, 3] - lg[:, 3, 1] + lg[:, 1, 1])
    dyy = 0.25 * (lg[:, 4, 2] - 2.0 * lg[:, 2, 2] + lg[:, 0, 2])
    det = dxx * dyy - dxy * dxy
    ok = (det != 0.0) & (ji > 1) & (ji < w - 2) & (ii > 1) & (ii < h - 2)
    safe = torch.where(ok, det, 1.0)
    ox = -(dyy * dx - dxy * dy) / safe
    oy = -(dxx * dy - dxy * dx) / safe
    ok = ok & torch.isfinite(ox) & torch.isfinite(oy)
    zero = torch.zeros_like(ox)
    return [torch.where(ok, ox.clamp(-1.0, 1.0), zero), torch.where(ok, oy.clamp(-1.0, 1.0), zero)]


def _solve3(m, r0, r1, r2):
    """The kernel's adjugate solve (``rgbtask.core.keypoints._solve3``) of the symmetric 3 x 3
    normal equations ``m`` (nested lists of tensors) for every window at once: ``(good, da, dx,
    dy)``, good False where the matrix is singular or nearly (the step is then finite garbage)."""
    from rgbtask.core.keypoints import FIT_CONDITION

    c00 = m[1][1] * m[2][2] - m[1][2] * m[1][2]
    c01 = m[0][2] * m[1][2] - m[0][1] * m[2][2]
    c02 = m[0][1] * m[1][2] - m[0][2] * m[1][1]
    det = m[0][0] * c00 + m[0][1] * c01 + m[0][2] * c02
    c11 = m[0][0] * m[2][2] - m[0][2] * m[0][2]
    c12 = m[0][1] * m[0][2] - m[0][0] * m[1][2]
    c22 = m[0][0] * m[1][1] - m[0][1] * m[0][1]
    good = det > FIT_CONDITION * m[0][0] * m[1][1] * m[2][2]
    safe = torch.where(good, det, 1.0)
    da = (c00 * r0 + c01 * r1 + c02 * r2) / safe
    dx = (c01 * r0 + c11 * r1 + c12 * r2) / safe
    dy = (c02 * r0 + c12 * r1 + c22 * r2) / safe
    return good, da, dx, dy


def _gaussians(pos, x, y, inv):
    """The fit's window offsets from the centres ``(x, y)`` and its unit Gaussians there."""
    dxs = pos[None] - x[:, None]
    dys = pos[None] - y[:, None]
    g = (
        torch.exp(-0.5 * dys * dys * inv)[:, :, None]
        * torch.exp(-0.5 * dxs * dxs * inv)[:, None, :]
    )
    return dxs, dys, g


def _fit_offsets(val, ids, bi, pi, ii, ji, kk, v0, start, sigma):
    """rgbtask.core.keypoints' ``_fit_offset`` for each candidate: Gauss-Newton fit of the
    known-sigma Gaussian from the per-axis start (float64; see the kernel)."""
    from rgbtask.core.keypoints import (
        FIT_ITERATIONS,
        FIT_LOSSLESS,
        FIT_MINIMAX_ITERATIONS,
        FIT_REJECT,
        fit_half_window,
    )

    half = fit_half_window(sigma)
    h, w = val.shape[-2:]
    v, use = _windows(val, ids, bi, pi, ii, ji, kk, half, other=True)
    v = torch.where(use, v, 0.0)
    inv = 1.0 / (sigma * sigma)
    pos = torch.arange(-half, half + 1, dtype=torch.float64, device=val.device)
    x, y = start[0].clone(), start[1].clone()
    amp = v0 / torch.exp(-0.5 * (x * x + y * y) * inv)

    live = torch.ones_like(x, dtype=torch.bool)
    failed = torch.zeros_like(live)
    top = torch.full_like(x, math.inf)
    for _ in range(FIT_ITERATIONS):
        dxs, dys, g = _gaussians(pos, x, y, inv)
        res = v - amp[:, None, None] * g
        u = (use & ~(res > FIT_REJECT)).to(torch.float64)
        res = res * u
        top = torch.where(live, res.abs().amax((1, 2)) if res.numel() else 0.0 * x, top)
        j0 = g * u
        j1 = amp[:, None, None] * g * dxs[:, None, :] * inv * u
        j2 = amp[:, None, None] * g * dys[:, :, None] * inv * u
        m = [[(a * b).sum((1, 2)) for b in (j0, j1, j2)] for a in (j0, j1, j2)]
        r0, r1, r2 = ((a * res).sum((1, 2)) for a in (j0, j1, j2))
        good, da, dx, dy = _solve3(m, r0, r1, r2)
        step = live & good & torch.isfinite(da) & torch.isfinite(dx) & torch.isfinite(dy)
        live = step
        amp = torch.where(step, amp + da, amp)
        x = torch.where(step, x + dx, x)
        y = torch.where(step, y + dy, y)
        failed = failed | (step & ~((x.abs() < 1.0) & (y.abs() < 1.0)))
        live = live & ~failed
    # the kernel's minimax refinement (``_minimax``) where the image is lossless
    best = torch.full_like(x, math.inf)
    bx, by = x.clone(), y.clone()
    weight = torch.ones_like(v)
    live = ~failed & (top <= FIT_LOSSLESS)
    scale = top
    for t in range(FIT_MINIMAX_ITERATIONS + 1):
        live = live & (scale > 0.0)
        if not bool(live.any()):
            break
        dxs, dys, g = _gaussians(pos, x, y, inv)
        res = v - amp[:, None, None] * g
        here = use & ~(res > FIT_REJECT)
        absres = torch.where(here, res.abs(), 0.0)
        safe_scale = torch.where(live, scale, 1.0)[:, None, None]
        weight = torch.where(here, weight * absres / safe_scale, 0.0)
        top = absres.amax((1, 2))
        better = live & (top < best)
        best = torch.where(better, top, best)
        bx = torch.where(better, x, bx)
        by = torch.where(better, y, by)
        if t == FIT_MINIMAX_ITERATIONS:
            break
        scale = top
        j0 = g
        j1 = amp[:, None, None] * g * dxs[:, None, :] * inv
        j2 = amp[:, None, None] * g * dys[:, :, None] * inv
        m = [[(weight * a * b).sum((1, 2)) for b in (j0, j1, j2)] for a in (j0, j1, j2)]
        r0, r1, r2 = ((weight * a * res).sum((1, 2)) for a in (j0, j1, j2))
        good, da, dx, dy = _solve3(m, r0, r1, r2)
        live = live & good & torch.isfinite(da) & torch.isfinite(dx) & torch.isfinite(dy)
        amp = torch.where(live, amp + da, amp)
        x = torch.where(live, x + dx, x)
        y = torch.where(live, y + dy, y)
        live = live & (x.abs() < 1.0) & (y.abs() < 1.0)
    x, y = bx, by
    x = torch.where(failed, start[0], torch.minimum(w - 0.5 - ji, torch.maximum(-0.5 - ji, x)))
    y = torch.where(failed, start[1], torch.minimum(h - 0.5 - ii, torch.maximum(-0.5 - ii, y)))
    return [x, y]


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
        if parts["layout"] == "grid":
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
        """rgbtask.core.keypoints' ``peaks_kernel`` on the device: the peak candidates (a
        same-id local maximum above the threshold) and their sub-pixel refinement (each
        candidate's neighbours gathered, the kernel's offsets in float64). Only the grouping of
        the few candidates ``(B, cap, 4)`` into instances (``strongest`` / ``assemble``) runs
        on the host."""
        parts = _keypoint_parts(codec)
        shape = parts["image_shape"]
        if tuple(rgb.shape[-3:]) != shape or parts["layout"] == "painter":
            # the host path raises the codec's error; Painter's own images (two windows, a
            # per-pixel L1 class, integer windows) are decoded by the NumPy codec
            return None
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
        xy = []
        for axis in (0, 1):  # x (columns), then y (rows): the same-id neighbours on both sides
            pos, limit = (ji, w) if axis == 0 else (ii, h)
            lo = (pos - 1).clamp(min=0)
            hi = (pos + 1).clamp(max=limit - 1)
            at_lo = (bi, pi, ii, lo) if axis == 0 else (bi, pi, lo, ji)
            at_hi = (bi, pi, ii, hi) if axis == 0 else (bi, pi, hi, ji)
            vm, vp = val[at_lo], val[at_hi]
            use = (pos > 0) & (pos < limit - 1) & (ids[at_lo] == kk) & (ids[at_hi] == kk)
            use = use & (vm > 0.0) & (vp > 0.0)
            off = _axis_offsets(vm, v0, vp, use, parts["refine"])
            xy.append(off)
        if parts["refine"] in ("dark", "gaussian_fit"):
            full_val, full_ids = self._planes(flat, {**parts, "threshold": 0.0}, scale)
            full_ids = torch.where(full_val > 0.0, full_ids, -1)
            if parts["refine"] == "dark":
                xy = _dark_offsets(full_val, full_ids, bi, pi, ii, ji, kk, parts["sigma"])
            else:
                xy = _fit_offsets(full_val, full_ids, bi, pi, ii, ji, kk, v0, xy, parts["sigma"])
        xy = [ji.to(torch.float64) + xy[0], ii.to(torch.float64) + xy[1]]
        # the first ``cap`` candidates of each image in scan order (the kernel's), as its
        # (B, cap, 4) array of (id, x, y, value)
        cap = max(64, 8 * parts["k"] * parts["max_instances"])
        found = torch.bincount(bi, minlength=n_img)
        first = torch.cumsum(found, 0) - found
        rank = torch.arange(bi.shape[0], device=bi.device) - first[bi]
        keep = rank < cap
        rows = torch.stack([kk.to(torch.float64), xy[0], xy[1], v0], -1)
        cand = torch.zeros((n_img, cap, 4), dtype=torch.float64, device=val.device)
        cand[bi[keep], rank[keep]] = rows[keep]
        cand = cand.cpu().numpy()
        count = found.clamp(max=cap).cpu().numpy()
        return _decoded_to(_keypoint_finish(codec, cand, count, lead), rgb.device)

    def encode_with(self, codec, value, visible=None, **options):
        """rgbtask.core.keypoints' render on the device: per plane, the strongest blob (first
        in (instance, id) order on ties) and its code. The keypoints (small) are validated on
        the host; an image with a pixel whose code or owner an ulp of ``exp`` could change is
        rendered by the NumPy codec, so the codes are NumPy's exactly."""
        # Painter's own images and mmpose's biased heatmap: rendered by the NumPy codec (host)
        if options or codec.layout == "painter" or not codec.unbiased:  # type: ignore[attr-defined]
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
                if parts["layout"] == "grid":
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
        ``painter`` and ``grid``: R weighted by how close (G, B) is to the id's code; ``palette``: the
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
        elif parts["layout"] in ("painter", "grid"):
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
