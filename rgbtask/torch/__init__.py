"""rgbtask inside PyTorch pipelines: tensors on any device, model layouts and value ranges, and
differentiable decoding (the optional extra ``pip install "rgbtask[torch]"``).

A model that emits task outputs as images hands over a float tensor ``(N, 3, H, W)`` in
``[-1, 1]`` or ``[0, 1]``, often bfloat16, often on a GPU, often with ``requires_grad``.
:class:`TensorCodec` wraps any codec for such tensors::

    >>> from rgbtask.torch import TensorCodec
    >>> depth = TensorCodec("depth/cubewalk", layout="NCHW", value_range=(-1.0, 1.0))
    >>> metres = depth.decode(image)                 # (N, H, W) float32 on image.device
    >>> image = depth.encode(metres)                  # (N, 3, H, W) float32 in [-1, 1]
    >>> metres = depth.soft_decode(image)             # differentiable w.r.t. image

Conventions
-----------
* The **image side** follows ``layout`` (``"NCHW"``: ``(..., 3, H, W)``; ``"NHWC"``:
  ``(..., H, W, 3)``) and ``value_range`` (float images); ``uint8`` images are 8-bit codes
  (0..255) whatever ``value_range`` says. Any float dtype (bfloat16, float16, float32,
  float64), contiguous or not, ``channels_last`` or not, with or without ``requires_grad``
  (``decode`` never records a graph: no ``.detach()`` needed). A float image is read as
  ``(x - lo) / (hi - lo)`` in float64, i.e. exactly what NumPy's decoder gets for float input;
  values outside ``value_range`` (or NaN/inf) are an :class:`~rgbtask.InputError`, never clipped.
* The **value side** has NumPy's shapes (depth ``(..., H, W)``, normals ``(..., H, W, 3)``,
  labels ``(..., H, W)``, keypoints ``(..., N, K, 2)``) and dtypes, on the image's device;
  invalid floats are NaN, as in NumPy.

Exactness is the contract: ``TensorCodec.encode`` gives NumPy's integer codes, ``decode`` gives
NumPy's answer (bit for bit on 8-bit codes for the table-driven codecs; within float rounding on
float input, see ``docs/torch.md``).

Native paths (never leave the device)
--------------------------------------
* ``normals/xyz``: encode and decode by the formula, in float64, as the NumPy kernel computes it.
* ``mask/binary``, ``mask/panoptic``: encode and decode by the formula.
* ``mask/palette``, ``mask/instance``: encode by gathering palette colours; decode of 8-bit codes
  through a device table (below); float input by the nearest colour in the codec's colour space
  (rejection distance, margin confidence) computed on the device.
* depth codecs: encode by the level formula (the few pixels within 1e-9 of a level boundary on
  the host; ``affine`` normalises each image on the device first); decode of 8-bit codes through a device table; float input by projecting onto the
  curve on the device, as the NumPy decoder does.
* ``keypoints/heatmap``: encode renders on the device (the small keypoint array is validated on
  the host); decode finds and refines the peaks on the device and groups the few candidates
  into instances on the host (``strongest`` / ``assemble``).

On CPU tensors (``CPU_BACKEND = "numpy"``, the default) every codec runs its NumPy kernels on the
tensor's own memory instead: no copy, and faster than torch's CPU operators.

**Device tables.** 8-bit decoding of the table-driven codecs gathers from a ``2^24``-entry table per
``(codec config, device)`` holding NumPy's own answer for every colour met so far: a colour seen
for the first time is decoded once by the NumPy codec (on the host) and stored, so the table fills
lazily with exactly the colours seen and the gather is bit for bit NumPy's decode. Tables are
shared by every :class:`TensorCodec` of that config and kept for the 4 most recently used
configs (``rgbtask.clear_tables()`` drops them).

**Slow path.** Everything else (``mask/palette`` decode with ``min_region``, whose region
cleaning has no exact torch equivalent, see ``docs/torch.md``; a plugin codec that declares no
``torch_impl``) runs its NumPy implementation with the tensors moved to the host and back:
correct, and documented as the slow path.

Differentiable decoding (:meth:`TensorCodec.soft_decode`)
----------------------------------------------------------
* depth: the colour's projection onto the curve's piecewise-linear segments (nearest segment;
  gradient along the curve, zero across it), through the inverse transform to metres;
* ``normals/xyz``: the normalized vector ``(2 x - 1) / |2 x - 1|`` in the codec's convention;
* ``mask/palette`` / ``mask/instance``: class probabilities ``(..., C, H, W)``, a softmax over negative
  colour distances (in the codec's colour space) with temperature ``tau``; ``log=True`` gives
  log-probabilities for ``nll_loss``;
* ``keypoints/heatmap``: a soft-argmax (integral regression) over each keypoint's heatmap,
  ``(..., K, 2)`` pixel coordinates ``(x, y)``.

Modules
-------
``_codec`` (TensorCodec), ``_native`` (loads the implementation a codec class declares in its
``torch_impl`` class attribute, ``"module:Class"``) over ``_base`` and one
module per family (``_normals``, ``_masks``, ``_depth``, ``_keypoints``), ``_tables`` (device
tables), ``_colour`` (colour spaces), ``_arrays`` (tensors <-> arrays) and ``_adapters``:
everything read of a codec beyond ``get_config`` / ``encode`` / ``decode``, in one small function
per family, the one place to re-point when codec internals change.
"""

from __future__ import annotations


class TorchMissingError(ImportError):
    """rgbtask.torch was imported without PyTorch installed."""


try:
    import torch  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise TorchMissingError(
        'rgbtask.torch needs PyTorch (torch >= 2.1): pip install "rgbtask[torch]"'
    ) from exc

from rgbtask.codec import Decoded  # noqa: E402 (after the import guard)
from rgbtask.torch._codec import LAYOUTS, TensorCodec, available_devices  # noqa: E402 (after the import guard)
from rgbtask.torch._colour import to_space  # noqa: E402 (after the import guard)
from rgbtask.torch._masks import default_tau  # noqa: E402 (after the import guard)

#: Which implementation runs on CPU tensors: ``"numpy"`` (default) runs the NumPy codec on the
#: tensor's own memory (no copy: ``tensor.numpy()`` / ``torch.from_numpy``), whose Numba kernels
#: beat torch's CPU operators (which allocate a temporary per operation); ``"torch"`` runs the
#: torch implementations on CPU too (the tests do, to check them on a machine without a GPU).
CPU_BACKEND = "numpy"

__all__ = [
    "CPU_BACKEND",
    "LAYOUTS",
    "Decoded",
    "TensorCodec",
    "TorchMissingError",
    "available_devices",
    "default_tau",
    "to_space",
]
