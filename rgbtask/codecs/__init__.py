"""Built-in codecs, one module per task family.

``BUILTIN_CODECS`` names them for the registry without importing anything: a codec module (and the
Numba kernels under it) is imported on first use. A new built-in codec adds one line here.
"""

BUILTIN_CODECS: dict[str, str] = {
    "normals/xyz": "rgbtask.codecs.normals:NormalsXYZ",
}
