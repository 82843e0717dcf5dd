"""rgbtask: vision-task outputs as RGB images and back.

Depth through invertible colormaps, masks through palette coding, surface normals through
xyz-to-rgb, keypoints through heatmaps; one codec contract and one registry for all of them.

>>> import rgbtask
>>> codec = rgbtask.get_codec("normals/xyz")
>>> rgb = codec.encode(normals)          # (..., H, W, 3) uint8
>>> normals_back = codec.decode(rgb)     # unit vectors, NaN where invalid

Importing this package imports NumPy only; codec modules (and Numba) load on first use.
"""

from rgbtask.codec import Codec, Decoded
from rgbtask.errors import (
    ConfigError,
    InputError,
    RegistrationError,
    RgbtaskError,
    UnknownCodecError,
)
from rgbtask.registry import (
    get_codec,
    get_codec_class,
    list_codecs,
    register_codec,
    unregister_codec,
)

__all__ = [
    "Codec",
    "ConfigError",
    "Decoded",
    "InputError",
    "PaletteCollisionWarning",
    "RegistrationError",
    "RgbtaskError",
    "UnknownCodecError",
    "__version__",
    "clear_tables",
    "get_codec",
    "get_codec_class",
    "list_codecs",
    "register_codec",
    "unregister_codec",
    "warmup",
]


def __getattr__(name: str):
    # ``__version__`` comes from the installed package's metadata, read on first access only.
    if name == "__version__":
        global __version__
        from importlib.metadata import PackageNotFoundError, version

        try:
            __version__ = version("rgbtask")
        except PackageNotFoundError:  # run from a source tree that was never installed
            __version__ = "0+unknown"
        return __version__
    if name == "PaletteCollisionWarning":  # lives with the palettes, loaded on first use
        from rgbtask.palettes import PaletteCollisionWarning

        return PaletteCollisionWarning
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def warmup(*names: str) -> None:
    """Compile (or load from Numba's cache) the kernels of the named codecs (default: all).

    Call once at start-up so that the first real batch does not pay the compile latency. Runs each
    codec's examples on a tiny scene: encode, and decode from uint8 and from float.
    """
    from rgbtask.codec import rgb_scale
    from rgbtask.samples import make_scene

    scene = make_scene(height=8, width=8, seed=0)
    for name in names or list_codecs():
        for codec, values in get_codec_class(name).examples(scene):
            rgb = codec.encode(values[0])
            codec.decode_with_confidence(rgb)
            codec.decode_with_confidence(rgb / rgb_scale(rgb))


def clear_tables() -> None:
    """Drop every cached lookup table (the 2^24-entry decode tables and the smaller ones).

    Tables are built again on the next decode that needs them. Useful after decoding many
    different codecs in one long-lived process; the caches are bounded anyway (8 curves, 4
    palettes, ...: docs/hardening.md).
    """
    from rgbtask.core._tables import clear_all

    clear_all()
