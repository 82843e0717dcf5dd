"""sRGB -> "rgb" / "lab" / "oklab" coordinates as tensor code (rgbtask.core.masks' formulas)."""

from __future__ import annotations

import torch

from rgbtask.errors import ConfigError
from rgbtask.torch._adapters import _colour_constants

# The formulas of rgbtask.core.masks (sRGB in [0, 1] -> "rgb", "lab", "oklab"), as tensor code, on
# its constants (read through this one adapter).


def _cbrt(x: torch.Tensor) -> torch.Tensor:
    # real cube root with a finite gradient at 0 (the gradient there is taken as 0)
    safe = torch.where(x.abs() > 1e-30, x, torch.ones_like(x))
    root = torch.sign(safe) * safe.abs().pow(1.0 / 3.0)
    return torch.where(x.abs() > 1e-30, root, torch.zeros_like(x))


def _srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    high = ((c.clamp_min(0.04045) + 0.055) / 1.055).pow(2.4)
    return torch.where(c <= 0.04045, c / 12.92, high)


def _mat(rows, vec: list[torch.Tensor], scale: tuple[float, ...] | None = None):
    out = []
    for i, (a, b, c) in enumerate(rows):
        v = a * vec[0] + b * vec[1] + c * vec[2]
        out.append(v / scale[i] if scale is not None and scale[i] != 1.0 else v)
    return out


def to_space(rgb01: torch.Tensor, space: str) -> torch.Tensor:
    """sRGB ``(..., 3)`` in [0, 1] -> coordinates in ``space`` (``"rgb"``: 8-bit units, ``"lab"``:
    CIELAB D65, ``"oklab"``), the formulas of :mod:`rgbtask.core.masks`; differentiable."""
    if space == "rgb":
        return rgb01 * 255.0
    k = _colour_constants()
    lin = _srgb_to_linear(rgb01)
    chans = [lin[..., 0], lin[..., 1], lin[..., 2]]
    if space == "lab":
        xyz = _mat(k["xyz"], chans, k["white"])
        f = [torch.where(t > k["delta3"], _cbrt(t), t * k["lab_lin"] + 4.0 / 29.0) for t in xyz]
        return torch.stack(
            [116.0 * f[1] - 16.0, 500.0 * (f[0] - f[1]), 200.0 * (f[1] - f[2])], dim=-1
        )
    if space == "oklab":
        lms = [_cbrt(t) for t in _mat(k["ok_lms"], chans)]
        return torch.stack(_mat(k["ok_lab"], lms), dim=-1)
    raise ConfigError(f"expected space 'rgb', 'lab' or 'oklab', got {space!r}")
