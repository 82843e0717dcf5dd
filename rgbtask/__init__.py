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
    "num_threads",
    "register_codec",
    "set_num_threads",
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


def set_num_threads(n: int | None) -> None:
    """Set how many threads a large encode or decode is split over (the calling thread included).

    ``1`` runs every kernel in the calling thread (use it when the caller parallelises already: a
    DataLoader's workers, a server's threads); ``None`` goes back to the default, which is the
    first of ``RGBTASK_NUM_THREADS``, ``NUMBA_NUM_THREADS``, ``OMP_NUM_THREADS`` that is set, else
    the CPUs this process may run on. Inputs under 2^16 pixels (and batches under 2 images, for
    per-image kernels) always run in the calling thread. See docs/performance.md.
    """
    from rgbtask.core._jit import set_num_threads as set_

    set_(n)


def num_threads() -> int:
    """How many threads a large encode or decode is split over (:func:`set_num_threads`)."""
    from rgbtask.core._jit import num_threads as get

    return get()


def warmup(*names: str) -> None:
    """Compile (or load from Numba's cache) the kernels of the named codecs (default: all).

    Call once at start-up so that the first real batch does not pay the compile latency. Runs each
    codec's examples on a tiny scene: encode, and decode from uint8, from a read-only uint8 image
    whose colours are off the codes (a JPEG'd or generated image as ``np.asarray`` of a PIL image
    gives it: the inexact paths; read-only arrays reach the kernels as writable aliases, so they
    share the writable arrays' compiled code) and from float; for a pixelwise codec's first
    example, also an encode of 2^16 pixels in float32 and float64 (the size from which large
    inputs take their own, table-driven kernels).

    The command line does the same for container images: ``rgbtask warmup [NAME ...]`` (run where
    the image is built, with ``NUMBA_CACHE_DIR`` pointing into it), so a deployed model never
    compiles. See docs/performance.md."""
    import numpy as np

    from rgbtask.codec import rgb_scale
    from rgbtask.samples import make_scene

    scene = make_scene(height=8, width=8, seed=0)
    rng = np.random.default_rng(0)
    for name in names or list_codecs():
        for i, (codec, values) in enumerate(get_codec_class(name).examples(scene)):
            value = values[0]
            rgb = codec.encode(value)
            codec.decode_with_confidence(rgb)
            codec.decode(rgb)  # labels alone take kernels of their own (mask codecs)
            if rgb.dtype == np.uint8:
                off = rng.integers(-6, 7, rgb.shape)
                jpegd = _read_only(np.clip(rgb + off, 0, 255).astype(np.uint8))
                codec.decode_with_confidence(jpegd)
                codec.decode(jpegd)
            if rgb.dtype == np.uint16:  # 16-bit codes: read-only, and 8-bit (JPEG'd) images
                codec.decode_with_confidence(_read_only(rgb.copy()))
                codec.decode_with_confidence((rgb >> 8).astype(np.uint8))
                codec.decode_with_confidence(_read_only((rgb >> 8).astype(np.uint8)))
            as_float = rgb / rgb_scale(rgb)
            codec.decode_with_confidence(_read_only(as_float))
            value = np.asarray(value)
            if i == 0 and codec.pixelwise and value.ndim >= 2 and value.dtype != object:
                copies = -(-(1 << 16) // max(1, value.size))
                dtypes = (np.float32, np.float64) if value.dtype.kind == "f" else (value.dtype,)
                for dtype in dtypes:  # per-image transforms hand float64 on
                    codec.encode(np.broadcast_to(value.astype(dtype), (copies, *value.shape)))


def _read_only(array):
    array.setflags(write=False)
    return array


def clear_tables() -> None:
    """Drop every cached lookup table (the 2^24-entry decode tables and the smaller ones).

    Tables are built again on the next decode that needs them. Useful after decoding many
    different codecs in one long-lived process; the caches are bounded anyway (8 curves, 4
    palettes, ...: docs/hardening.md).
    """
    from rgbtask.core._tables import clear_all

    clear_all()
