"""What every torch implementation shares: the base class, the CPU backend switch, chunk sizes."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from rgbtask.codec import Codec, Decoded
from rgbtask.errors import ConfigError

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


def _no_options(codec: Codec, options: Mapping[str, Any]) -> None:
    if options:
        raise ConfigError(f"unexpected soft_decode options for {codec.name}: {sorted(options)}")


def _on_device(device: torch.device) -> bool:
    """True when the torch implementations run for tensors on ``device`` (everywhere but the CPU,
    and there too with ``rgbtask.torch.CPU_BACKEND = "torch"``)."""
    import rgbtask.torch as package

    return device.type != "cpu" or package.CPU_BACKEND == "torch"


#: A level ``floor(u)`` with ``u = f (levels - 1) + 0.5`` closer than this to a level boundary may
#: round the other way under another libm's pow/log/exp (an ulp): such pixels (depth) or images
#: (keypoints) are encoded on the host.
_LEVEL_MARGIN = 1e-9
