"""sRGB -> "rgb" / "lab" / "oklab" coordinates as tensor code (rgbtask.core.color's formulas)."""

from __future__ import annotations

import torch

from rgbtask.core.color import (
    LAB_A_SCALE,
    LAB_B_SCALE,
    LAB_DELTA3,
    LAB_L_OFFSET,
    LAB_L_SCALE,
    LAB_LINEAR_SLOPE,
    LAB_OFFSET,
    OKLAB_M1,
    OKLAB_M2,
    SRGB_ENCODED_THRESHOLD,
    SRGB_GAMMA,
    SRGB_OFFSET,
    SRGB_SCALE,
    SRGB_SLOPE,
    WHITE_D65,
    XYZ_FROM_LINEAR_SRGB,
)
from rgbtask.errors import ConfigError

# The formulas of rgbtask.core.color (sRGB in [0, 1] -> "rgb", "lab", "oklab") as tensor code, on
# the same named constants.


def _cbrt(x: torch.Tensor) -> torch.Tensor:
    # real cube root with a finite gradient at 0 (the gradient there is taken as 0)
    safe = torch.where(x.abs() > 1e-30, x, torch.ones_like(x))
    root = torch.sign(safe) * safe.abs().pow(1.0 / 3.0)
    return torch.where(x.abs() > 1e-30, root, torch.zeros_like(x))


def _srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    high = ((c.clamp_min(SRGB_ENCODED_THRESHOLD) + SRGB_OFFSET) / SRGB_SCALE).pow(SRGB_GAMMA)
    return torch.where(c <= SRGB_ENCODED_THRESHOLD, c / SRGB_SLOPE, high)


def _mat(rows, vec: list[torch.Tensor], scale: tuple[float, ...] | None = None):
    out = []
    for i, (a, b, c) in enumerate(rows):
        v = a * vec[0] + b * vec[1] + c * vec[2]
        out.append(v / scale[i] if scale is not None and scale[i] != 1.0 else v)
    return out


def to_space(rgb01: torch.Tensor, space: str) -> torch.Tensor:
    """sRGB ``(..., 3)`` in [0, 1] -> coordinates in ``space`` (``"rgb"``: 8-bit units, ``"lab"``:
    CIELAB D65, ``"oklab"``), the formulas of :mod:`rgbtask.core.color`; differentiable."""
    if space == "rgb":
        return rgb01 * 255.0
    lin = _srgb_to_linear(rgb01)
    chans = [lin[..., 0], lin[..., 1], lin[..., 2]]
    if space == "lab":
        xyz = _mat(XYZ_FROM_LINEAR_SRGB, chans, WHITE_D65)
        f = [torch.where(t > LAB_DELTA3, _cbrt(t), t * LAB_LINEAR_SLOPE + LAB_OFFSET) for t in xyz]
        return torch.stack(
            [
                LAB_L_SCALE * f[1] - LAB_L_OFFSET,
                LAB_A_SCALE * (f[0] - f[1]),
                LAB_B_SCALE * (f[1] - f[2]),
            ],
            dim=-1,
        )
    if space == "oklab":
        lms = [_cbrt(t) for t in _mat(OKLAB_M1, chans)]
        return torch.stack(_mat(OKLAB_M2, lms), dim=-1)
    raise ConfigError(f"expected space 'rgb', 'lab' or 'oklab', got {space!r}")
