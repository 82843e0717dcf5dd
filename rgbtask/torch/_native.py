"""The torch implementation of each built-in codec class (the package docstring lists what runs
where); a codec class not listed takes the host path."""

from __future__ import annotations

from rgbtask.codec import Codec
from rgbtask.torch._base import _Native
from rgbtask.torch._depth import _DepthNative
from rgbtask.torch._keypoints import _KeypointsNative
from rgbtask.torch._masks import _BinaryNative, _PaletteNative, _PanopticNative
from rgbtask.torch._normals import _NormalsNative

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


def _native_of(codec: Codec) -> _Native:
    cls = type(codec)
    return _NATIVE.get(f"{cls.__module__}:{cls.__qualname__}", _HOST)
