"""TensorCodec: a codec for tensors in a model's layout and value range."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from rgbtask.codec import Codec, Decoded
from rgbtask.errors import ConfigError, InputError
from rgbtask.registry import get_codec
from rgbtask.torch._adapters import _palette_parts
from rgbtask.torch._arrays import _FLOATS, _decoded_to, _to_device, _to_host
from rgbtask.torch._base import _on_device
from rgbtask.torch._depth import _DepthNative
from rgbtask.torch._masks import _PaletteNative
from rgbtask.torch._native import _HOST, _native_of
from rgbtask.torch._tables import _colour_table

#: Image layouts: where the colour channel is.
LAYOUTS = ("NCHW", "NHWC")


def _check_value_range(value_range: Any) -> tuple[float, float]:
    try:
        lo, hi = value_range
        ok = all(
            isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            for v in (lo, hi)
        )
        ok = ok and math.isfinite(float(lo)) and math.isfinite(float(hi)) and float(lo) < float(hi)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(
            f"expected value_range as (lo, hi) finite numbers with lo < hi, such as (0.0, 1.0) "
            f"or (-1.0, 1.0), got {value_range!r}"
        )
    return float(lo), float(hi)


class TensorCodec:
    """A codec for PyTorch tensors on any device (module docstring).

    Parameters
    ----------
    codec : Codec, str or dict
        A codec, a registered name, or a config dict (``codec.get_config()``).
    layout : {"NCHW", "NHWC"}
        Where the colour channel of the image side is: ``(..., 3, H, W)`` or ``(..., H, W, 3)``.
    value_range : (lo, hi)
        The float range of the model's image: ``(0.0, 1.0)`` (default), ``(-1.0, 1.0)``, any
        ``lo < hi``. Colour ``c`` in [0, 1] is ``lo + c (hi - lo)``.
    """

    def __init__(
        self,
        codec: Codec | str | Mapping[str, Any],
        layout: str = "NCHW",
        value_range: tuple[float, float] = (0.0, 1.0),
    ) -> None:
        if layout not in LAYOUTS:
            raise ConfigError(f"expected layout 'NCHW' or 'NHWC', got {layout!r}")
        self._codec = get_codec(codec)
        self._layout = layout
        self._range = _check_value_range(value_range)
        self._native = _native_of(self._codec)

    # ---------------------------------------------------------------- identity
    @property
    def codec(self) -> Codec:
        """The wrapped NumPy codec."""
        return self._codec

    @property
    def layout(self) -> str:
        return self._layout

    @property
    def value_range(self) -> tuple[float, float]:
        return self._range

    @property
    def native(self) -> bool:
        """True when the codec has torch implementations (False: a plugin, host path only)."""
        return self._native is not _HOST

    def get_config(self) -> dict[str, Any]:
        """``{"codec": codec config, "layout": ..., "value_range": [lo, hi]}`` (JSON-safe)."""
        return {
            "codec": self._codec.get_config(),
            "layout": self._layout,
            "value_range": [self._range[0], self._range[1]],
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> TensorCodec:
        """Build from :meth:`get_config`'s output."""
        if not isinstance(config, Mapping) or "codec" not in config:
            raise ConfigError(
                f"expected a TensorCodec config with 'codec', 'layout', 'value_range', got {config!r}"
            )
        extra = set(config) - {"codec", "layout", "value_range"}
        if extra:
            raise ConfigError(f"unexpected TensorCodec config keys {sorted(extra)}")
        return cls(
            config["codec"],
            layout=config.get("layout", "NCHW"),
            value_range=tuple(config.get("value_range", (0.0, 1.0))),
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, TensorCodec):
            return NotImplemented
        return self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((hash(self._codec), self._layout, self._range))

    def __repr__(self) -> str:
        return f"TensorCodec({self._codec!r}, layout={self._layout!r}, value_range={self._range!r})"

    def __reduce__(self):
        return (type(self).from_config, (self.get_config(),))

    # ---------------------------------------------------------------- image side
    def _image(self, image: Any) -> tuple[torch.Tensor, bool]:
        """The image as ``(..., H, W, 3)`` (a view where possible) and whether it is 8-bit codes
        (else float64 in [0, 1]). Checks dtype, shape and range (NumPy's policy)."""
        if not isinstance(image, torch.Tensor):
            raise InputError(
                f"expected a torch.Tensor image, got {type(image).__name__}; for NumPy arrays "
                "use the codec itself (tensor_codec.codec.decode(array))"
            )
        x = image.detach()
        if x.dtype != torch.uint8 and x.dtype not in _FLOATS:
            raise InputError(
                f"expected the image as uint8 codes or a float tensor (bfloat16, float16, float32, "
                f"float64) in value_range {self._range}, got {x.dtype}"
            )
        axis = -3 if self._layout == "NCHW" else -1
        if x.ndim < 3 or x.shape[axis] != 3:
            shape = "(..., 3, H, W)" if self._layout == "NCHW" else "(..., H, W, 3)"
            raise InputError(
                f"expected an image tensor of shape {shape} (layout={self._layout!r}), got "
                f"{x.dtype} tensor of shape {tuple(x.shape)}"
            )
        if x.numel() == 0:
            raise InputError(f"expected a non-empty image, got shape {tuple(x.shape)}")
        if self._layout == "NCHW":
            x = x.movedim(-3, -1)
        if x.dtype != torch.uint8:
            self._check_range(x)
        return x, x.dtype == torch.uint8

    def _check_range(self, x: torch.Tensor) -> None:
        """A float image must be finite and inside value_range (InputError; never clips)."""
        lo, hi = self._range
        lo_v, hi_v = (float(v) for v in torch.aminmax(x))
        if not (math.isfinite(lo_v) and math.isfinite(hi_v)):
            bad = int((~torch.isfinite(x)).sum())
            raise InputError(f"expected a finite float image, got {bad} NaN/inf values")
        if lo_v < lo or hi_v > hi:
            raise InputError(
                f"expected float image values in value_range [{lo:g}, {hi:g}], got values in "
                f"[{lo_v:.6g}, {hi_v:.6g}]; clamp the model's overshoot first "
                f"(image.clamp({lo:g}, {hi:g})): rgbtask never clips silently"
            )

    def _to_unit(self, x: torch.Tensor) -> torch.Tensor:
        """A checked float image -> float64 in [0, 1]: ``(x - lo) / (hi - lo)``."""
        lo, hi = self._range
        x64 = x.to(torch.float64)
        return x64 if (lo, hi) == (0.0, 1.0) else (x64 - lo) / (hi - lo)

    def _host_array(self, x: torch.Tensor, is_codes: bool) -> np.ndarray:
        """What the NumPy codec gets: the codes, or the float image in [0, 1] (the tensor's own
        memory where it can be: float16/32/64 CPU tensors with value_range (0, 1))."""
        if is_codes:
            return x.cpu().numpy()
        if self._range == (0.0, 1.0) and x.dtype != torch.bfloat16:
            return x.cpu().numpy()
        return self._to_unit(x).cpu().numpy()

    def _soft_unit(self, image: Any) -> torch.Tensor:
        """The image as ``(..., H, W, 3)`` in [0, 1], differentiable (no range check: soft
        decoding takes a model's overshoot as it is)."""
        if not isinstance(image, torch.Tensor) or not image.dtype.is_floating_point:
            raise InputError(
                f"expected a float image tensor for soft_decode, got "
                f"{getattr(image, 'dtype', type(image).__name__)}"
            )
        axis = -3 if self._layout == "NCHW" else -1
        if image.ndim < 3 or image.shape[axis] != 3:
            raise InputError(
                f"expected an image tensor with 3 channels (layout={self._layout!r}), got shape "
                f"{tuple(image.shape)}"
            )
        x = image.movedim(-3, -1) if self._layout == "NCHW" else image
        lo, hi = self._range
        if x.dtype in (torch.bfloat16, torch.float16):
            x = x.to(torch.float32)
        return (x - lo) / (hi - lo)

    def _from_codes(self, codes: torch.Tensor, scale: float, as_uint8: bool, dtype) -> torch.Tensor:
        if as_uint8:
            if scale != 255.0:
                raise ConfigError(
                    f"as_uint8=True needs an 8-bit codec, got {self._codec!r} ({int(scale)} levels "
                    "per channel); use the float image"
                )
            out = codes.to(torch.uint8)
        else:
            lo, hi = self._range
            out = (codes.to(torch.float64) / scale * (hi - lo) + lo).to(dtype)
        return out.movedim(-1, -3).contiguous() if self._layout == "NCHW" else out

    # ---------------------------------------------------------------- encode
    def encode(
        self,
        value: Any,
        *,
        dtype: torch.dtype = torch.float32,
        as_uint8: bool = False,
        **options: Any,
    ) -> torch.Tensor:
        """Task value (NumPy's shape, a tensor on any device) -> image in the layout: float in
        ``value_range`` of ``dtype`` (float32 by default), or ``uint8`` codes with
        ``as_uint8=True``; on the value's device. ``options`` go to the codec's ``encode``
        (``visible=`` for keypoints)."""
        if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
            raise ConfigError(f"expected dtype a torch float dtype, got {dtype!r}")
        device = value.device if isinstance(value, torch.Tensor) else torch.device("cpu")
        codes = None
        if isinstance(value, torch.Tensor) and _on_device(device):
            codes = self._native.encode_with(self._codec, value.detach(), **options)
        if codes is None:
            host = _to_host(value) if isinstance(value, torch.Tensor) else value
            opts = {
                k: (_to_host(v) if isinstance(v, torch.Tensor) else v) for k, v in options.items()
            }
            codes = _to_device(self._codec.encode(host, **opts), device)
        scale = float(np.iinfo(self._codec.dtype).max)
        return self._from_codes(codes, scale, as_uint8, dtype)

    # ---------------------------------------------------------------- decode
    def decode(self, image: Any) -> torch.Tensor:
        """Image (layout, ``value_range`` or uint8 codes) -> task value on the image's device."""
        return self.decode_with_confidence(image).value

    def decode_with_confidence(self, image: Any) -> Decoded:
        """``Decoded(value, confidence, valid)`` tensors on the image's device (NumPy's answer)."""
        x, is_codes = self._image(image)
        dec = None
        with torch.no_grad():
            if _on_device(x.device):
                if is_codes:
                    dec = self._native.decode_u8(self._codec, x)
                else:
                    dec = self._native.decode_float(self._codec, self._to_unit(x))
            if dec is None:
                host = self._host_array(x, is_codes)
                dec = _decoded_to(self._codec.decode_with_confidence(host), image.device)
        return dec

    def fill_table(self, device: Any = "cpu") -> bool:
        """Fill this codec's device table on ``device`` with every 8-bit colour now (one NumPy
        decode of all 2^24 colours, seconds to a minute), so that no later 8-bit decode on that
        device leaves it, even for colours never seen. False (nothing to do) for codecs that
        decode 8-bit codes without a table, and on CPU tensors (the NumPy kernels and their own
        tables run there)."""
        device = torch.device(device)
        probe = torch.zeros((1, 1, 3), dtype=torch.uint8, device=device)
        if not _on_device(device) or not isinstance(self._native, (_DepthNative, _PaletteNative)):
            return False
        if isinstance(self._native, _PaletteNative) and (
            not _palette_parts(self._codec)["pixelwise"] or getattr(self._codec, "void_color", None)
        ):
            return False
        if isinstance(self._native, _DepthNative) and self._codec.bits != 8:
            return False  # 16-bit depth codecs decode on the host, without an 8-bit table
        self._native.decode_u8(self._codec, probe)  # creates the table
        _colour_table(self._codec, probe.device).fill()  # probe.device: "cuda" -> "cuda:0"
        return True

    def soft_decode(self, image: Any, **options: Any) -> torch.Tensor:
        """A differentiable decode (module docstring): depth in metres ``(..., H, W)``, unit
        normals ``(..., H, W, 3)``, class probabilities ``(..., C, H, W)`` (``tau=``, ``log=``),
        keypoints ``(..., K, 2)`` (``tau=``). Float images only; the result has the image's
        float dtype (float32 for half precision)."""
        return self._native.soft_decode(self._codec, self._soft_unit(image), **options)


def available_devices() -> list[torch.device]:
    """Every device torch reports here: the CPU, then each CUDA device (tests run on all)."""
    devices = [torch.device("cpu")]
    if torch.cuda.is_available():
        devices += [torch.device("cuda", i) for i in range(torch.cuda.device_count())]
    return devices
