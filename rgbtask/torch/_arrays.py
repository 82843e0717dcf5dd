"""Tensors <-> NumPy arrays, and the float dtypes an image may have."""

from __future__ import annotations

import numpy as np
import torch

from rgbtask.codec import Decoded

_FLOATS = (torch.bfloat16, torch.float16, torch.float32, torch.float64)


def _to_host(tensor: torch.Tensor) -> np.ndarray:
    t = tensor.detach()
    if t.dtype in (torch.bfloat16, torch.float16):
        t = t.to(torch.float32)
    return t.cpu().numpy()


def _to_device(array: np.ndarray, device: torch.device) -> torch.Tensor:
    array = np.asarray(array)
    if not array.dtype.isnative:
        array = array.astype(array.dtype.newbyteorder("="))
    if array.dtype == np.uint16:
        array = array.astype(np.int32)
    return torch.from_numpy(np.ascontiguousarray(array)).to(device)


def _decoded_to(dec: Decoded, device: torch.device) -> Decoded:
    return Decoded(*(_to_device(np.asarray(x), device) for x in dec))


_TORCH_DTYPES = {
    np.dtype(np.uint8).str: torch.uint8,
    np.dtype(np.int8).str: torch.int8,
    np.dtype(np.int16).str: torch.int16,
    np.dtype(np.int32).str: torch.int32,
    np.dtype(np.int64).str: torch.int64,
    np.dtype(np.float32).str: torch.float32,
    np.dtype(np.float64).str: torch.float64,
    np.dtype(np.bool_).str: torch.bool,
}
