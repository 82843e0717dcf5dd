"""Built-in codecs, one module per task family.

``BUILTIN_MODULES`` declares each family's module to the registry without importing it: the module
(and the Numba kernels under it) is imported on the first lookup of a name of that task, and its
classes register themselves with ``@register_codec``, so each codec's name is written once, in its
class's ``name``. A new built-in family adds one line here; a new codec in an existing family adds
nothing here.
"""

from rgbtask.registry import declare_builtin_modules

#: task -> the module holding that task's built-in codecs.
BUILTIN_MODULES: dict[str, str] = {
    "depth": "rgbtask.codecs.depth",
    "flow": "rgbtask.codecs.flow",
    "keypoints": "rgbtask.codecs.keypoints",
    "mask": "rgbtask.codecs.masks",
    "normals": "rgbtask.codecs.normals",
}

declare_builtin_modules(BUILTIN_MODULES)
