"""Device tables: NumPy's 8-bit decode of every colour met so far, per (codec config, device)."""

from __future__ import annotations

import threading

import numpy as np
import torch

from rgbtask.codec import Codec, Decoded
from rgbtask.core._tables import TableCache

#: Lazily filled 2^24-entry decode tables per (codec config, device): value, confidence, valid.
_DEVICE_TABLES = TableCache("torch device decode tables", max_entries=4)
_N_COLOURS = 1 << 24


class _ColourTable:
    """NumPy's 8-bit decode of every colour met so far, on one device (module docstring).

    ``conf`` holds -1 for a colour not decoded yet; a colour's entry is written once, with the
    NumPy codec's answer for it, under a lock (two threads meeting it write the same values).
    """

    def __init__(self, codec: Codec, device: torch.device) -> None:
        self.codec = codec
        self.device = device
        self.conf = torch.full((_N_COLOURS,), -1.0, dtype=torch.float32, device=device)
        self.valid = torch.zeros(_N_COLOURS, dtype=torch.bool, device=device)
        self.value: torch.Tensor | None = None
        self.lock = threading.Lock()

    def _fill(self, keys: torch.Tensor) -> None:
        keys_np = keys.cpu().numpy().astype(np.int64)
        rgb = np.empty((1, keys_np.shape[0], 3), dtype=np.uint8)
        rgb[0, :, 0] = keys_np >> 16
        rgb[0, :, 1] = (keys_np >> 8) & 255
        rgb[0, :, 2] = keys_np & 255
        dec = self.codec.decode_with_confidence(rgb)
        value = torch.from_numpy(np.ascontiguousarray(dec.value[0])).to(self.device)
        with self.lock:
            if self.value is None:
                self.value = torch.zeros(_N_COLOURS, dtype=value.dtype, device=self.device)
            self.value[keys] = value
            self.valid[keys] = torch.from_numpy(np.ascontiguousarray(dec.valid[0])).to(self.device)
            # confidence last: it is the "known" flag
            self.conf[keys] = torch.from_numpy(np.ascontiguousarray(dec.confidence[0])).to(
                self.device
            )

    def fill(self, step: int = 1 << 20) -> None:
        """Decode every colour not known yet (all 2^24, in steps of ``step``)."""
        for start in range(0, _N_COLOURS, step):
            keys = torch.arange(start, start + step, dtype=torch.int64, device=self.device)
            unknown = keys[self.conf[keys] < 0]
            if unknown.numel():
                self._fill(unknown)

    def decode(self, codes: torch.Tensor) -> Decoded:
        """``codes`` uint8 ``(..., 3)`` on the table's device -> ``Decoded``."""
        c = codes.to(torch.int32)
        key = (c[..., 0] << 16) | (c[..., 1] << 8) | c[..., 2]
        conf = self.conf[key]
        unknown = conf < 0
        if bool(unknown.any()):
            self._fill(torch.unique(key[unknown]))
            conf = self.conf[key]
        assert self.value is not None
        return Decoded(self.value[key], conf, self.valid[key])


def _colour_table(codec: Codec, device: torch.device) -> _ColourTable:
    key = (type(codec).__qualname__, _config_key(codec), str(device))
    return _DEVICE_TABLES.get(key, lambda: _ColourTable(codec, device))


def _config_key(codec: Codec) -> str:
    import json

    return json.dumps(codec.get_config(), sort_keys=True, allow_nan=True)
