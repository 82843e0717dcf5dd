"""Built-in codecs, one module per task family.

``BUILTIN_CODECS`` names them for the registry without importing anything: a codec module (and the
Numba kernels under it) is imported on first use. A new built-in codec adds one line here.
"""

BUILTIN_CODECS: dict[str, str] = {
    "normals/xyz": "rgbtask.codecs.normals:NormalsXYZ",
    "keypoints/heatmap": "rgbtask.codecs.keypoints:KeypointsHeatmap",
    "mask/palette": "rgbtask.codecs.masks:MaskPalette",
    "mask/panoptic": "rgbtask.codecs.masks:MaskPanoptic",
    "mask/instance": "rgbtask.codecs.masks:MaskInstance",
    "mask/binary": "rgbtask.codecs.masks:MaskBinary",
    "depth/cubewalk": "rgbtask.codecs.depth:DepthCubewalk",
    "depth/hue": "rgbtask.codecs.depth:DepthHue",
    "depth/gray": "rgbtask.codecs.depth:DepthGray",
    "depth/colormap": "rgbtask.codecs.depth:DepthColormap",
    "depth/curve": "rgbtask.codecs.depth:DepthCurve",
}
