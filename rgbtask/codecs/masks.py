"""Masks as RGB: ``mask/palette``, ``mask/panoptic``, ``mask/instance``, ``mask/binary``.

Labels are integer arrays ``(..., H, W)``; every codec encodes to ``uint8`` RGB ``(..., H, W, 3)``.
A trailing axis of length 1 or 3 under two axes of 8 or more (``(H, W, 1)``, an RGB image
``(H, W, 3)``) is refused with a hint (squeeze it; decode an RGB image instead), as is a trailing
axis of length 3 holding out-of-range values (:data:`CHANNEL_AXIS_MIN_SIDE`).

``mask/palette`` (semantic). Encoding: ``rgb = palette[label]`` for a palette of K colours (named,
generated or given; see :mod:`rgbtask.palettes`), so K levels. Decoding: the nearest palette colour
in ``space`` (``"rgb"``: 8-bit units, ``"lab"``: CIE76 Delta E, ``"oklab"``), ties to the lowest
label; with ``reject_distance`` set, a pixel farther than that from every colour gets the ``ignore``
label (255 unless ``ignore=`` is given) and ``valid = False``. Confidence is the margin
``(d2 - d1) / (d2 + d1)`` of the nearest (d1) and second-nearest (d2) distances. 8-bit input uses a
cached lookup table filled by the same brute force (identical result for every pixel); uint16 and
float input is decoded by brute force without rounding to 8 bits. Round-trip bound: exact (0 label
errors) for every label except the *shadowed* ones of a palette that gives two labels one colour
(ADE20K-150: label 49 decodes as 7), which decode to the lowest label of their group.
That is ``decoder="pixel"``; the default ``decoder="context"`` then re-decides every pixel that
is not an exact code among exact neighbours from its colour and its neighbourhood
(:mod:`rgbtask.core.mask_context`), so lossless images stay exact and lossy ones lose their
slivers. A named palette's void colour (:data:`rgbtask.palettes.NAMED_VOID`) encodes and decodes
the ``ignore`` label (``valid = False``).

``mask/panoptic`` (lossless storage of COCO panoptic segment ids). ``id = R + 256 G + 256^2 B``,
``R = id % 256, G = id // 256 % 256, B = id // 256^2`` (panopticapi ``utils.py``: ``rgb2id`` /
``id2rgb``), ids in ``0 .. 2^24 - 1`` (2^24 levels), 0 = void. Exact round trip. This encoding has no
robustness margin (neighbouring ids differ by one code value): use it for storage only, never for a
generated or lossy image. uint16 / float input is rounded per channel to its nearest 8-bit code,
confidence ``1 - 2 max |255 c - code|``.

``mask/instance``: instance id ``k`` in ``1..max_instances`` -> colour ``k - 1`` of a generated
palette (:func:`rgbtask.palettes.distinct_palette` in ``space``, avoiding black), id 0 (background)
-> black; ``max_instances + 1`` levels; nearest-colour decoding as ``mask/palette``; exact round trip.
``decode_instances`` decodes a *generated* image whose colours are not known in advance (see its
docstring): it returns :class:`Instances`, the instance id map plus each instance's colour and score.
``encode_families`` colours instances by class families (jitter around a class colour, as
panopticapi's ``IdGenerator``) for training targets that carry the class in the hue. With
``colors="random"`` (and ``seed``) each image gets random distinct colours instead
(:func:`random_instance_colors`: generator keyed by ``seed`` and the image's content, rejection of
colours within ``min_distance`` of black or of each other); ``decode`` then clusters colours
(``decode_instances``) and returns ids renumbered in raster order, exact up to renumbering for
instances of at least ``min_size`` pixels (:meth:`MaskInstance.roundtrip_bound`).

``mask/binary``: 1 -> ``foreground``, 0 -> ``background`` (default white / black). A pixel decodes
to 1 where its projection ``t`` on the segment background -> foreground is ``>= threshold`` (0.5:
the perpendicular bisector plane); confidence ``min(1, |t - threshold| / min(threshold,
1 - threshold))``. Exact round trip.
"""

from __future__ import annotations

import functools
import math
import numbers
import zlib
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rgbtask.codec import Codec, Decoded, check_rgb, check_value, describe_array, rgb_scale
from rgbtask.codecs.instances import Instances, decode_instances
from rgbtask.colorspace import convert, space_id
from rgbtask.core import mask_context
from rgbtask.core import masks as kernels
from rgbtask.core._jit import writable
from rgbtask.core._tables import TableCache, new_lut
from rgbtask.errors import ConfigError, InputError
from rgbtask.io.tasks import MASK_IO
from rgbtask.metrics import instance_metrics, mask_metrics, panoptic_quality
from rgbtask.palettes import (
    NAMED_VOID,
    distinct_palette,
    find_collisions,
    min_pairwise_distance,
    resolve_palette,
    shadowed_labels,
)
from rgbtask.params import boolean, color_list, integer, number, one_of, param, plain, rgb_triple
from rgbtask.registry import register_codec

__all__ = [
    "Instances",
    "LabelCodec",
    "MaskBinary",
    "MaskInstance",
    "MaskPalette",
    "MaskPanoptic",
    "decode_instances",
    "nearest_color",
    "random_instance_colors",
    "relabel_error",
]

# ---------------------------------------------------------------- shared nearest-colour decoding

#: One 2^24-entry uint64 table per (palette, space, reject, ignore) (:func:`table_key`): 128 MiB
#: of address space, pages committed as colours are seen; the 4 most recently used are kept.
#: ``rgbtask.clear_tables()`` frees them.
_tables = TableCache("palette decode tables", max_entries=4)


def table_key(palette: np.ndarray, space: str, reject: float, ignore: int) -> tuple:
    """What defines a palette decode table: every input of the nearest-colour rule."""
    return (np.asarray(palette, dtype=np.uint8).tobytes(), space_id(space), reject, int(ignore))


def _table(key: tuple) -> np.ndarray:
    """The lazily filled 2^24-entry table for ``key``."""
    return _tables.get(key, _new_table)


def _new_table() -> np.ndarray:
    # pages cost no memory until a colour in them is first decoded
    return new_lut(np.uint64)


#: The RGB-space candidate grids (:func:`rgbtask.core.masks.candidate_grid`) per (palette, need):
#: a few hundred KiB each, built by a jitted kernel in a few ms (the NumPy form took ~100 ms).
_grids = TableCache("palette candidate grids", max_entries=8)

#: Labels-only decode tables (``decode``, not ``decode_with_confidence``): one 2^24-entry uint8
#: (16 MiB; palettes of up to 254 colours) or uint16 (32 MiB) table per :func:`table_key`.
_label_tables = TableCache("palette label tables", max_entries=4)


def _grid(pal_coords: np.ndarray, space: str, need: int) -> tuple[np.ndarray, ...] | None:
    """The candidate grid of a palette in RGB space (None in the other spaces: full scans); for
    ``need=1`` (the labels-only decode) with its lists as
    :func:`rgbtask.core.masks.packed_candidates` too."""
    if space != "rgb":
        return None
    key = (pal_coords.tobytes(), need)

    def build() -> tuple[np.ndarray, ...]:
        offsets, candidates = kernels.candidate_grid(pal_coords, need)
        if need == 1:
            return offsets, candidates, kernels.packed_candidates(pal_coords, candidates)
        return offsets, candidates

    return _grids.get(key, build)


#: The codes of the fine cells of one colour (:func:`rgbtask.core.masks.fine_cells`) per label
#: table: 256 KiB (uint8) or 512 KiB (uint16), filled as colours are met.
_fine_cells = TableCache("palette fine cells", max_entries=4)


def _new_fine(entry: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """Fine cells' codes and per-coarse-cell flags, all 0: filled as colours are met."""
    return np.zeros(kernels.FINE_GRID**3, dtype=entry), np.zeros(kernels.GRID**3, dtype=np.uint8)


def _code_labels(k: int, ignore: int, label_dtype: Any) -> tuple[np.dtype, np.ndarray] | None:
    """The entry dtype of a labels-only table for a palette of ``k`` colours and the code -> label
    map (code 0 unknown, ``j + 1`` label ``j``, the largest code ``ignore``); None when the labels
    do not fit one (the labels-only path is then not used)."""
    for entry in (np.uint8, np.uint16):
        top = int(np.iinfo(entry).max)
        if k <= top - 1:
            code_label = np.zeros(top + 1, dtype=label_dtype)
            code_label[1 : k + 1] = np.arange(k)
            code_label[top] = ignore
            return np.dtype(entry), code_label
    return None


def nearest_color(
    rgb: np.ndarray,
    palette: np.ndarray,
    space: str = "rgb",
    reject_distance: float | None = None,
    ignore: int = 255,
    label_dtype: Any = np.int64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest palette colour of each pixel of a checked RGB array ``(..., 3)``.

    Returns ``(labels, confidence float32, valid bool)`` of shape ``rgb.shape[:-1]``, the labels in
    ``label_dtype`` (which must hold every label and ``ignore``: the kernels write it directly, so
    no wider temporary is allocated). See the module docstring of :mod:`rgbtask.core.masks` for the
    exact rule.
    """
    sid = space_id(space)
    pal_coords = convert(np.asarray(palette, dtype=np.uint8).reshape(-1, 3), space)
    reject = math.inf if reject_distance is None else float(reject_distance)
    lut = None
    if rgb.dtype == np.uint8:
        lut = _table(table_key(palette, space, reject, ignore))
    labels, confidence, valid = kernels.nearest(
        rgb.reshape(-1, 3),
        scale=rgb_scale(rgb),
        palette=pal_coords,
        space_id=sid,
        reject=reject,
        ignore=int(ignore),
        label_dtype=label_dtype,
        lut=lut,
        grid=_grid(pal_coords, space, 2),
    )
    shape = rgb.shape[:-1]
    return labels.reshape(shape), confidence.reshape(shape), valid.reshape(shape)


#: Pixels per block of :func:`_exact_codes` (it stops at the first block with an off-code pixel).
EXACT_BLOCK = 1 << 16


def _exact_codes(rgb: np.ndarray, index: np.ndarray, palette: np.ndarray) -> bool:
    """Whether every pixel of an 8- or 16-bit image ``(..., 3)`` is exactly the code of its row
    (``index``, int32, -1 = rejected). Such an image is a lossless one: every pixel is trusted by
    :mod:`rgbtask.core.mask_context` (its ``dev <= EXACT`` is equality for integer codes: the
    nearest other 16-bit value is 255 / 65535 > ``EXACT`` away), which then keeps every row."""
    if rgb.dtype not in (np.uint8, np.uint16):
        return False
    colors = np.asarray(palette, dtype=rgb.dtype).reshape(-1, 3)
    if rgb.dtype == np.uint16:
        colors = colors * np.uint16(257)
    pixels = rgb.reshape(-1, 3)
    rows = index.reshape(-1)
    for start in range(0, rows.size, EXACT_BLOCK):
        block = rows[start : start + EXACT_BLOCK]
        if block.min() < 0 or not np.array_equal(
            colors[block], pixels[start : start + EXACT_BLOCK]
        ):
            return False
    return True


def _resolve(
    rgb: np.ndarray, index: np.ndarray, codes: np.ndarray, scale: float, nearest: Any
) -> np.ndarray:
    """:func:`rgbtask.core.mask_context.resolve`, which keeps every row of a lossless image: such
    an image (:func:`_exact_codes`) returns ``index`` without compiling or running the context
    kernels (a decoded PNG never needs them). A read-only image (PIL's ``np.asarray``) reaches the
    kernels as a writable alias: one compiled specialisation, not two."""
    if _exact_codes(rgb, index, codes):
        return index
    return mask_context.resolve(writable(rgb), index, codes, scale, nearest)


def context_decode(
    rgb: np.ndarray,
    palette: np.ndarray,
    space: str = "rgb",
    reject_distance: float | None = None,
    context: bool = True,
    confidence: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Palette rows of checked RGB images ``(..., H, W, 3)``: ``(index int32, confidence
    float32)``, index -1 where rejected. The nearest colour per pixel, then (``context=True``)
    :mod:`rgbtask.core.mask_context` re-decides the off-code pixels from their neighbourhood;
    a pixel whose row it changed gets confidence 0 (its colour alone pointed elsewhere).
    ``confidence=False``: the same index from the labels-only tables, and None."""
    rejected = len(palette)  # the colour tables hold labels >= 0: a row past the end marks it

    def labels(image: np.ndarray) -> np.ndarray:
        index = nearest_labels(image, palette, space, reject_distance, rejected, np.int32)
        if reject_distance is not None:
            index[index == rejected] = -1
        return index

    conf = None
    if confidence:
        index, conf, valid = nearest_color(rgb, palette, space, reject_distance, rejected, np.int32)
        if reject_distance is not None:
            index[~valid] = -1
    else:
        index = labels(rgb)
    if context and rgb.ndim >= 3:
        resolved = _resolve(
            rgb,
            index,
            np.asarray(palette, dtype=np.float64),
            rgb_scale(rgb),
            # the 8-bit box means (N, 3): through the compact label table for 8-bit input, as
            # floats (the brute force, the same rows) otherwise, so a float decode builds no table
            labels if rgb.dtype == np.uint8 else (lambda means: labels(means / 255.0)),
        )
        if conf is not None:
            conf = np.where(resolved == index, conf, np.float32(0.0))
        index = resolved
    return index, conf


def nearest_labels(
    rgb: np.ndarray,
    palette: np.ndarray,
    space: str = "rgb",
    reject_distance: float | None = None,
    ignore: int = 255,
    label_dtype: Any = np.int64,
) -> np.ndarray:
    """The labels of :func:`nearest_color` alone, for ``decode``: 8-bit input goes through a
    compact table of labels (1 or 2 bytes per colour instead of 8; no confidence written), other
    input through :func:`nearest_color`."""
    palette = np.asarray(palette, dtype=np.uint8).reshape(-1, 3)
    codes = _code_labels(palette.shape[0], int(ignore), label_dtype)
    if rgb.dtype != np.uint8 or codes is None:
        return nearest_color(rgb, palette, space, reject_distance, ignore, label_dtype)[0]
    entry, code_label = codes
    pal_coords = convert(palette, space)
    reject = math.inf if reject_distance is None else float(reject_distance)
    key = (*table_key(palette, space, reject, ignore), entry.str)
    table = _label_tables.get(key, lambda: new_lut(entry))
    grid = _grid(pal_coords, space, 1)
    fine = None
    if grid is not None:
        fine = _fine_cells.get(key, lambda: _new_fine(entry))
    labels = kernels.nearest_labels(
        rgb.reshape(-1, 3),
        palette=pal_coords,
        space_id=space_id(space),
        reject=reject,
        table=table,
        code_label=code_label,
        grid=grid,
        fine=fine,
    )
    return labels.reshape(rgb.shape[:-1])


def remove_small_regions(labels: np.ndarray, min_region: int) -> np.ndarray:
    """Relabel every 8-connected region of one label with fewer than ``min_region`` pixels with
    the label of the nearest pixel (Euclidean, ties as ``scipy.ndimage.distance_transform_edt``)
    of a region that is kept. ``labels`` is one image ``(H, W)``; returns a new array."""
    from scipy import ndimage

    structure = np.ones((3, 3), dtype=bool)
    drop = np.zeros(labels.shape, dtype=bool)
    for k in np.unique(labels):
        comps, n = ndimage.label(labels == k, structure=structure)
        sizes = np.bincount(comps.ravel(), minlength=n + 1)
        small = sizes < min_region
        small[0] = False
        if small.any():
            drop |= small[comps]
    if not drop.any() or drop.all():
        return labels.copy()
    _, (rows, cols) = ndimage.distance_transform_edt(drop, return_indices=True)
    return labels[rows, cols]


@functools.lru_cache(maxsize=64)
def _resolved_palette(palette: Any, num_classes: Any, space: str, avoid: Any) -> np.ndarray:
    colors = resolve_palette(palette, num_classes, space, avoid)
    colors = np.array(colors, dtype=np.uint8)
    colors.setflags(write=False)
    return colors


@functools.lru_cache(maxsize=64)
def _palette_rows(
    palette: Any, num_classes: Any, space: str, avoid: Any, ignore: int
) -> tuple[tuple[int, int, int] | None, np.ndarray, np.ndarray | None]:
    """``mask/palette``'s void colour (None when there is none), its decode rows (the palette,
    then the void colour) and, with a void colour and ``ignore`` at most
    :data:`_VOID_GATHER_MAX`, its encode rows (a row per label up to ``ignore``, which holds the
    void colour; else None), read-only, keyed by every parameter that defines them."""
    colors = _resolved_palette(palette, num_classes, space, avoid)
    if not isinstance(palette, str) or palette not in NAMED_VOID or ignore < colors.shape[0]:
        return None, colors, None
    void = NAMED_VOID[palette]
    if (colors == np.asarray(void, dtype=np.uint8)).all(axis=1).any():
        return None, colors, None
    rows = np.concatenate([colors, np.asarray([void], dtype=np.uint8)])
    rows.setflags(write=False)
    encode_rows = None
    if ignore <= _VOID_GATHER_MAX:  # past it, a table that large is not worth building
        encode_rows = np.zeros((ignore + 1, 3), dtype=np.uint8)
        encode_rows[: colors.shape[0]] = colors
        encode_rows[ignore] = void
        encode_rows.setflags(write=False)
    return void, rows, encode_rows


#: A trailing axis of length 1 or 3 under two axes at least this long is read as a channel axis:
#: labels ``(H, W, 1)`` (a label image read with its channel) or an RGB image ``(H, W, 3)`` passed
#: as labels. A batch of that many images 1 or 3 pixels wide is not plausible; pass those as rows
#: (``labels.swapaxes(-1, -2)``).
CHANNEL_AXIS_MIN_SIDE = 8

_RGB_HINT = "this looks like an RGB image: decode it instead (codec.decode(rgb))"


def _check_labels(
    value: Any, what: str, upper: int, allow_bool: bool = False, check_range: bool = True
) -> np.ndarray:
    """Labels ``(..., H, W)`` of an integer (or bool) dtype in ``0..upper`` (``check_range=False``:
    the caller checks the range, e.g. inside its encode kernel, with :func:`_range_error`).

    Refused with a hint (:data:`CHANNEL_AXIS_MIN_SIDE`): a trailing axis of length 1 on image-sized
    axes ("squeeze the last axis"), and one of length 3, an RGB image, whatever its values; any
    trailing axis of length 3 is also named in the out-of-range error (colour values are rarely
    labels)."""
    labels = check_value(value, what, "(..., H, W)", kinds="iub" if allow_bool else "iu")
    shape = labels.shape
    image_sized = labels.ndim >= 3 and min(shape[-3], shape[-2]) >= CHANNEL_AXIS_MIN_SIDE
    if image_sized and shape[-1] == 1:
        raise InputError(
            f"expected {what} of shape (..., H, W), got {describe_array(labels)}: a trailing "
            f"axis of length 1 after two of {CHANNEL_AXIS_MIN_SIDE} or more looks like a channel "
            "axis; squeeze the last axis (labels[..., 0]); images 1 pixel wide go as rows "
            "(labels.swapaxes(-1, -2))"
        )
    if image_sized and shape[-1] == 3:
        raise InputError(
            f"expected {what} of shape (..., H, W), got {describe_array(labels)}: {_RGB_HINT}; "
            f"(a trailing axis of length 3 after two of {CHANNEL_AXIS_MIN_SIDE} or more is read "
            "as colour channels; images 3 pixels wide go as rows: labels.swapaxes(-1, -2))"
        )
    if check_range:
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi > upper:
            raise _range_error(labels, what, upper)
    return labels


def _range_error(labels: np.ndarray, what: str, upper: int) -> InputError:
    """The error of labels outside ``0..upper`` (their extremes named)."""
    lo, hi = int(labels.min()), int(labels.max())
    hint = f"; {_RGB_HINT}" if labels.ndim >= 3 and labels.shape[-1] == 3 else ""
    return InputError(f"expected {what} in 0..{upper}, got values in {lo}..{hi}{hint}")


def _encode_colors(
    value: Any, what: str, colors: np.ndarray, allow_bool: bool = False
) -> np.ndarray:
    """Labels ``(..., H, W)`` -> ``colors[labels]`` ``(..., H, W, 3)`` uint8 in one pass: the
    gather kernel checks the range as it goes (the error is :func:`_check_labels`'s)."""
    upper = colors.shape[0] - 1
    labels = _check_labels(value, what, upper, allow_bool=allow_bool, check_range=False)
    flat = labels.reshape(-1)
    if flat.dtype == np.bool_:
        flat = flat.view(np.uint8)
    rgb, ok = kernels.gather(flat, np.ascontiguousarray(colors, dtype=np.uint8))
    if not ok:
        raise _range_error(labels, what, upper)
    return rgb.reshape((*labels.shape, 3))


#: The largest ``ignore`` for which a void-colour palette encodes through a table with a row per
#: label up to ``ignore`` (:meth:`MaskPalette._encode`); past it, ``ignore`` is remapped first.
_VOID_GATHER_MAX = 1 << 16


def _label_dtype(max_label: int) -> np.dtype:
    return np.dtype(np.uint8 if max_label <= 255 else np.int32)


def _palette(value: Any, name: str) -> Any:
    """A palette name (checked when the colours are resolved) or a list of RGB colours."""
    if isinstance(value, str):
        return value
    return color_list(1)(value, name)


def _colors(value: Any, name: str) -> tuple[tuple[int, int, int], ...]:
    """A list of RGB colours (possibly empty), or one RGB triple (a list of one colour)."""
    try:
        return color_list(0)(value, name)
    except ConfigError:
        pass
    try:
        return (rgb_triple(value, name),)
    except ConfigError:
        raise ConfigError(
            f"expected {name} a list of RGB colours (three integers in 0..255 each), "
            f"got {plain(value)!r}"
        ) from None


def _distance(value: Any, name: str) -> float:
    """A distance > 0 (inf allowed: no limit), as a float; refuses bools, strings and NaN."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ConfigError(f"expected {name} a number > 0, got {plain(value)!r}")
    v = float(value)
    if not v > 0:
        raise ConfigError(f"expected {name} a number > 0, got {plain(value)!r}")
    return v


def _label_error(reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    return (np.asarray(reference).astype(np.int64) != np.asarray(decoded).astype(np.int64)).astype(
        np.float64
    )


# ---------------------------------------------------------------- the label codecs' base


class LabelCodec(Codec):
    """What every label codec shares: labels ``(..., H, W)`` decoded pixel by pixel, errors
    counted in labels (1 where the decoded label differs from the reference), an exact round trip.
    Subclasses with exceptions (shadowed labels, region cleaning) override the members."""

    error_unit: ClassVar[str] = "label"
    task_io: ClassVar[Any] = MASK_IO  # label images in, label images out

    def bound_text(self) -> str:
        return "exact (0 label errors)"

    @property
    def pixelwise(self) -> bool:
        return True

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """1 where the decoded label differs from the reference, else 0."""
        return _label_error(reference, decoded)

    def roundtrip_bound(self, reference: np.ndarray) -> float | np.ndarray:
        """0: every label round-trips."""
        return 0.0

    def decode(self, rgb: Any) -> np.ndarray:
        """RGB -> labels, equal to ``decode_with_confidence(rgb).value`` (see :meth:`Codec.decode`)
        without computing the confidence and validity nobody asked for (:meth:`_decode_labels`)."""
        return self._decode_labels(check_rgb(rgb))

    def _decode_labels(self, rgb: np.ndarray) -> np.ndarray:
        """The labels of :meth:`_decode` (a subclass computes them alone where that is faster)."""
        return self._decode(rgb).value


# ---------------------------------------------------------------- mask/palette


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskPalette(LabelCodec):
    """Semantic labels ``(..., H, W)`` <-> palette colours, decoded by nearest colour and context.

    Parameters
    ----------
    palette : str or list of RGB triples
        ``"ade20k"`` (default), ``"voc"``, ``"cityscapes"``, ``"coco"``, ``"painter_ade20k"``,
        ``"painter_coco"``, ``"distinct"`` (generated, needs ``num_classes``), or a list of
        ``[R, G, B]`` (row k = label k).
    num_classes : int, optional
        Size of a ``"distinct"`` palette; for the others, keep only the first ``num_classes``.
    space : {"rgb", "lab", "oklab"}
        Colour space of the nearest-colour search (and of the generation of ``"distinct"``,
        where ``"rgb"`` means CIELAB).
    reject_distance : float, optional
        Pixels farther than this (in ``space`` units) from every palette colour decode to
        ``ignore`` with ``valid = False``. None: never reject.
    ignore : int
        The label of rejected pixels and of the named palette's void colour (255).
    avoid : list of RGB triples, optional
        Colours a ``"distinct"`` palette keeps away from (e.g. a background); one triple is a
        list of one colour.
    min_region : int
        0 (default): plain per-pixel decoding. Otherwise, after it, every 8-connected region of
        one label smaller than ``min_region`` pixels takes the label of the nearest pixel of a
        kept region (per image): removes the slivers of other classes a lossy file leaves
        along boundaries. Real regions under that size are lost too, so this is off by default
        and not part of the round-trip bound (which assumes 0).
    decoder : {"context", "pixel"}
        ``"context"`` (default): a pixel whose colour is exactly a code, among exact
        neighbours, keeps its label (lossless images decode bit-exact, one-pixel regions
        included); the other pixels are re-decided from their colour and the labels of the
        confident pixels around them (:mod:`rgbtask.core.mask_context`): no slivers of
        unrelated classes along the boundaries of a lossy or generated image. ``"pixel"``: the
        nearest colour of each pixel alone.

    A named palette has its dataset's void colour (:data:`rgbtask.palettes.NAMED_VOID`): when
    that colour is not one of the palette's and ``ignore`` is no palette label, the ``ignore``
    label encodes to it and it decodes to ``ignore`` with ``valid = False``, never to a class.
    """

    name: ClassVar[str] = "mask/palette"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._masks:_PaletteNative"
    primary_metric: ClassVar[tuple[str, bool]] = ("miou", False)

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.mask_metrics` (mIoU, pixel accuracy) without ``ignore`` pixels."""
        return mask_metrics(decoded, reference, ignore=self.ignore)

    palette: Any = param("ade20k", _palette)
    num_classes: int | None = param(None, integer(1, 65535), optional=True)
    space: str = param("rgb", one_of("rgb", "lab", "oklab"))
    reject_distance: float | None = param(None, _distance, optional=True)
    ignore: int = param(255, integer(0, (1 << 30) - 1))
    avoid: Any = param(None, _colors, optional=True)
    min_region: int = param(0, integer(0, None))
    decoder: str = param("context", one_of("context", "pixel"))

    def __post_init__(self) -> None:
        super().__post_init__()
        self.colors  # noqa: B018 (validate now, warn on collisions at construction)

    @property
    def void_color(self) -> tuple[int, int, int] | None:
        """The named palette's void colour when it is an extra entry (decoded to ``ignore``):
        not one of the palette's colours, and ``ignore`` no palette label; else None."""
        return _palette_rows(self.palette, self.num_classes, self.space, self.avoid, self.ignore)[0]

    @property
    def decode_colors(self) -> np.ndarray:
        """The rows decoding searches: :attr:`colors`, then the void colour if any (read-only,
        cached per configuration)."""
        return _palette_rows(self.palette, self.num_classes, self.space, self.avoid, self.ignore)[1]

    @property
    def colors(self) -> np.ndarray:
        """The palette as ``(K, 3)`` uint8 (read-only, cached per configuration)."""
        return _resolved_palette(self.palette, self.num_classes, self.space, self.avoid)

    @property
    def shadowed(self) -> list[int]:
        """Labels that cannot round-trip (they share a colour with a lower label)."""
        return shadowed_labels(self.colors)

    @property
    def palette_colors(self) -> np.ndarray:
        """The ``(K, 3)`` palette (:attr:`colors`), under the name ``mask/instance`` shares."""
        return self.colors

    def info(self) -> dict[str, Any]:
        """:meth:`Codec.info` plus ``collisions``: the groups of labels sharing a colour (each
        decodes to its lowest label), ``[[7, 49]]`` for ADE20K, ``[]`` for most palettes."""
        return {**super().info(), "collisions": [list(g) for g in find_collisions(self.colors)]}

    @property
    def levels(self) -> int:
        return int(self.colors.shape[0])

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(np.uint8)

    @property
    def label_dtype(self) -> np.dtype:
        """dtype of decoded labels: uint8 when every label and ``ignore`` fit, else int32."""
        return _label_dtype(max(self.levels - 1, self.ignore))

    def bound_text(self) -> str:
        shadowed = self.shadowed
        if shadowed:
            return f"exact, except labels {shadowed} (shared colours) decode to a lower label"
        return "exact (0 label errors)"

    def validate_value(self, value: Any) -> np.ndarray:
        if self.void_color is None:
            return _check_labels(value, "labels", self.levels - 1)
        labels = _check_labels(value, "labels", max(self.levels - 1, self.ignore))
        bad = (labels >= self.levels) & (labels != self.ignore)
        if bad.any():
            raise InputError(
                f"expected labels in 0..{self.levels - 1} or the void label {self.ignore}, "
                f"got {int(labels[bad].flat[0])}"
            )
        return labels

    def _encode(self, labels: np.ndarray) -> np.ndarray:
        void, colors, encode_rows = _palette_rows(
            self.palette, self.num_classes, self.space, self.avoid, self.ignore
        )
        if encode_rows is not None:  # row ``ignore`` holds the void colour: one gather pass
            colors = encode_rows
        elif void is not None:
            labels = np.where(labels == self.ignore, self.levels, labels)
        flat = labels.reshape(-1)
        rgb, _ = kernels.gather(flat.view(np.uint8) if flat.dtype == np.bool_ else flat, colors)
        return rgb.reshape((*labels.shape, 3))  # labels were validated: all in range

    def encode(self, value: Any) -> np.ndarray:
        """Labels -> palette colours, the range checked in the same pass (:func:`_encode_colors`);
        a palette with a void colour maps the ``ignore`` label first (:meth:`_encode`)."""
        if self.void_color is not None:
            return super().encode(value)
        return _encode_colors(value, "labels", self.colors)

    def _decode_labels(self, rgb: np.ndarray) -> np.ndarray:
        # the compact label table answers both decoders (the same labels as the confidence
        # table: decode == decode_with_confidence(rgb).value); min_region goes through _decode
        if self.min_region > 1:
            return self._decode(rgb).value
        if self.decoder == "context":
            index, _ = context_decode(
                rgb, self.decode_colors, self.space, self.reject_distance, confidence=False
            )
            if self.reject_distance is None and self.void_color is None:
                return index.astype(self.label_dtype, copy=False)  # every row is a label
            valid = (index >= 0) & (index < self.levels)
            return np.where(valid, index, self.ignore).astype(self.label_dtype)
        labels = nearest_labels(
            rgb, self.decode_colors, self.space, self.reject_distance, self.ignore, self.label_dtype
        )
        if self.void_color is not None:  # the void colour's row decodes as the ignore label
            labels[labels == self.levels] = self.ignore
        return labels

    def _decode(self, rgb: np.ndarray) -> Decoded:
        if self.decoder == "pixel" and self.void_color is None:
            labels, conf, valid = nearest_color(
                rgb, self.colors, self.space, self.reject_distance, self.ignore, self.label_dtype
            )
        else:
            index, conf = context_decode(
                rgb, self.decode_colors, self.space, self.reject_distance, self.decoder == "context"
            )
            valid = (index >= 0) & (index < self.levels)
            labels = np.where(valid, index, self.ignore).astype(self.label_dtype)
            conf = np.where(valid, conf, np.float32(0.0))
        if self.min_region > 1:
            flat = labels.reshape((-1, *labels.shape[-2:]))
            for i in range(flat.shape[0]):
                flat[i] = remove_small_regions(flat[i], self.min_region)
            if self.reject_distance is not None or self.void_color is not None:
                # a sliver may take the ignore label of a rejected region, or a rejected speck
                # the label of a class region: validity follows the final label
                valid = labels != self.ignore
                conf = np.where(valid, conf, np.float32(0.0))
        return Decoded(labels, conf, valid)

    def range_text(self) -> str:
        shadowed = self.shadowed
        text = f"labels 0..{self.levels - 1}"
        if shadowed:
            text += f" except the shadowed {shadowed}"
        if self.void_color is not None:
            text += f", or ignore = {self.ignore} on the void colour {self.void_color}"
        if self.reject_distance is not None:
            text += f", or ignore = {self.ignore} where rejected"
        return text

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Valid: a palette label that can be decoded (not shadowed); invalid: ``ignore``."""
        labels = np.asarray(decoded.value).astype(np.int64)
        ok = (labels >= 0) & (labels < self.levels) & ~np.isin(labels, self.shadowed)
        return np.where(decoded.valid, ok, labels == self.ignore)

    @property
    def pixelwise(self) -> bool:
        return self.min_region <= 1 and self.decoder == "pixel"

    def roundtrip_bound(self, reference: np.ndarray) -> np.ndarray:
        """0, and 1 on pixels whose label is shadowed by a colliding lower label."""
        reference = np.asarray(reference)
        return np.isin(reference, self.shadowed).astype(np.float64)

    @classmethod
    def examples(cls, scene: Any):
        semantic = scene.semantic
        yield cls(), [semantic, semantic[::-1, ::-1]]
        yield cls(palette="voc", space="lab", reject_distance=30.0), [semantic]
        yield cls(palette="distinct", num_classes=7, space="oklab"), [semantic]
        yield cls(palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0],
                           [0, 255, 255], [255, 0, 255]]), [semantic]  # fmt: skip


# ---------------------------------------------------------------- mask/panoptic


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskPanoptic(LabelCodec):
    """COCO panoptic segment ids ``(..., H, W)`` in ``0 .. 2^24 - 1`` <-> ``R + 256 G + 256^2 B``.

    Lossless storage only: exact, with no margin against any change of a code value.
    """

    name: ClassVar[str] = "mask/panoptic"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._masks:_PanopticNative"
    primary_metric: ClassVar[tuple[str, bool]] = ("pixel_acc", False)

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.instance_metrics` (matched segments, pixel accuracy)."""
        return instance_metrics(decoded, reference)

    @property
    def levels(self) -> int:
        return 1 << 24

    def bound_text(self) -> str:
        return "exact (lossless storage; no robustness margin)"

    def validate_value(self, value: Any) -> np.ndarray:
        return _check_labels(value, "segment ids", (1 << 24) - 1)

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        return kernels.panoptic_rgb(ids.reshape(-1)).reshape((*ids.shape, 3))

    def encode(self, value: Any) -> np.ndarray:
        """Ids -> RGB, the range checked in the same pass."""
        upper = (1 << 24) - 1
        ids = _check_labels(value, "segment ids", upper, check_range=False)
        rgb, ok = kernels.panoptic_rgb_checked(ids.reshape(-1))
        if not ok:
            raise _range_error(ids, "segment ids", upper)
        return rgb.reshape((*ids.shape, 3))

    def _decode_labels(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.dtype != np.uint8:
            return self._decode(rgb).value
        return kernels.panoptic_ids_u8(rgb.reshape(-1, 3)).reshape(rgb.shape[:-1])

    def _decode(self, rgb: np.ndarray) -> Decoded:
        ids, conf = kernels.panoptic_ids(rgb.reshape(-1, 3), scale=rgb_scale(rgb))
        shape = rgb.shape[:-1]
        return Decoded(ids.reshape(shape), conf.reshape(shape), np.ones(shape, dtype=np.bool_))

    def range_text(self) -> str:
        return "segment ids 0..2^24 - 1 (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        ids = np.asarray(decoded.value).astype(np.int64)
        return (ids >= 0) & (ids < (1 << 24)) & np.asarray(decoded.valid)

    def rgb2id(self, rgb: Any) -> np.ndarray:
        """panopticapi's ``rgb2id`` for uint8 ``(..., 3)``, as int32."""
        return self.decode(rgb)

    def id2rgb(self, ids: Any) -> np.ndarray:
        """panopticapi's ``id2rgb``, as uint8 ``(..., 3)``."""
        return self.encode(ids)

    @classmethod
    def examples(cls, scene: Any):
        semantic = scene.semantic.astype(np.int64)
        panoptic = semantic * 1000 + scene.instance  # panopticapi's 2-channel OFFSET convention
        yield cls(), [panoptic, panoptic * 997 % (1 << 24), np.zeros_like(panoptic) + (1 << 24) - 1]


# ---------------------------------------------------------------- mask/instance


@functools.lru_cache(maxsize=32)
def _distinct_margin(n: int, space: str) -> float:
    """Minimum pairwise distance of the ``"distinct"`` instance palette (black and ``n`` colours)."""
    generated = distinct_palette(n, space, avoid=[(0, 0, 0)])
    return min_pairwise_distance(np.concatenate([np.zeros((1, 3), np.uint8), generated]), space)


def _image_key(ids: np.ndarray) -> int:
    """32-bit CRC of one id map (shape, then the ids as little-endian int64, C order)."""
    arr = np.ascontiguousarray(ids, dtype="<i8")
    head = np.asarray(arr.shape, dtype="<i8").tobytes()
    return zlib.crc32(arr.tobytes(), zlib.crc32(head))


def random_instance_colors(
    ids: Any, space: str = "oklab", min_distance: float = 0.05, seed: int = 0
) -> np.ndarray:
    """One id map ``(H, W)`` -> RGB ``(H, W, 3)`` uint8 with random distinct colours per instance.

    The rule (``mask/instance`` with ``colors="random"``): the image's generator is
    ``np.random.default_rng([seed, crc])``, ``crc`` the CRC-32 of the id map (its shape, then its
    ids as little-endian int64 in C order), so an image gets the same colours wherever it sits in
    a batch and different images get independent draws. Candidates are uniform sRGB triples
    (``rng.integers(0, 256, (64, 3))`` per round); a candidate is rejected when it is closer than
    ``min_distance`` (in ``space``) to black or to a colour already accepted. The present ids, in
    ascending order, take the accepted colours in the order drawn; id 0 stays black. Raises
    :class:`~rgbtask.errors.InputError` when 10,000 candidates per instance cannot place them.
    """
    ids = np.asarray(ids)
    present = np.unique(ids[ids > 0])
    rng = np.random.default_rng([int(seed), _image_key(ids)])
    black = convert(np.zeros((1, 3), np.uint8), space)[0]
    accepted = np.empty((present.size, 3), dtype=np.uint8)
    coords = np.empty((present.size + 1, 3))
    coords[0] = black
    n = 0
    limit2 = float(min_distance) ** 2
    drawn = 0
    while n < present.size:
        if drawn > 10_000 * present.size:
            raise InputError(
                f"expected room for {present.size} random colours at least {min_distance:.6g} apart "
                f"in {space}; lower min_distance or use colors='distinct'"
            )
        cand = rng.integers(0, 256, (64, 3)).astype(np.uint8)
        cc = convert(cand, space)
        drawn += 64
        for j in range(64):
            if ((coords[: n + 1] - cc[j]) ** 2).sum(-1).min() < limit2:
                continue
            accepted[n] = cand[j]
            n += 1
            coords[n] = cc[j]
            if n == present.size:
                break
    lut = np.zeros((int(ids.max(initial=0)) + 1, 3), dtype=np.uint8)
    lut[present] = accepted
    return np.ascontiguousarray(np.take(lut, ids, axis=0))


def relabel_error(reference: Any, decoded: Any) -> np.ndarray:
    """Per pixel of one image: 1.0 where ``decoded`` disagrees with ``reference`` up to a one-to-one
    renumbering, else 0.0. Background (0) must stay 0; the other (reference id, decoded id) pairs
    are matched greedily by decreasing overlap (ties to the lower ids), each id used once."""
    ref = np.asarray(reference).astype(np.int64).ravel()
    dec = np.asarray(decoded).astype(np.int64).ravel()
    r_ids, r_inv = np.unique(ref, return_inverse=True)
    d_ids, d_inv = np.unique(dec, return_inverse=True)
    joint = np.bincount(r_inv * d_ids.size + d_inv, minlength=r_ids.size * d_ids.size)
    joint = joint.reshape(r_ids.size, d_ids.size)
    target = np.full(r_ids.size, -1, dtype=np.int64)
    if r_ids.size and r_ids[0] == 0:
        target[0] = 0
    used = {0}
    rows, cols = np.nonzero(joint)
    order = np.lexsort((cols, rows, -joint[rows, cols]))
    for k in order:
        r, c = rows[k], cols[k]
        if r_ids[r] == 0 or target[r] >= 0 or int(d_ids[c]) in used:
            continue
        target[r] = d_ids[c]
        used.add(int(d_ids[c]))
    return (target[r_inv] != dec).astype(np.float64).reshape(np.shape(reference))


def _well_formed(ids: np.ndarray, min_size: int, components: bool = True) -> np.ndarray:
    """True on background and on pixels of instances of at least ``min_size`` pixels that are one
    8-connected region (any shape with ``components=False``): those round-trip through
    ``colors="random"`` exactly up to renumbering."""
    from scipy import ndimage

    ids = np.asarray(ids)
    ok = ids == 0
    structure = np.ones((3, 3), dtype=bool)
    for k in np.unique(ids[ids > 0]).tolist():
        sel = ids == k
        n = ndimage.label(sel, structure=structure)[1] if components else 1
        if n == 1 and int(sel.sum()) >= min_size:
            ok |= sel
    return ok


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskInstance(LabelCodec):
    """Instance ids ``(..., H, W)`` (0 = background) <-> distinct colours, generated or random.

    Parameters
    ----------
    max_instances : int
        Largest instance id (the palette has ``max_instances + 1`` colours, black for 0).
    space : {"lab", "oklab"}
        Space the palette is generated in and colours are compared in.
    min_size : int
        ``decode_instances``: components with fewer pixels are dropped (id 0, invalid).
    cluster_distance : float, optional
        ``decode_instances``: colours closer than this (in ``space`` units) belong to one
        cluster; default half the palette's minimum pairwise distance (``colors="distinct"``) or
        half ``min_distance`` (``colors="random"``).
    colors : {"distinct", "random"}
        ``"distinct"`` (default): id ``k`` -> colour ``k - 1`` of the generated palette, decoded by
        nearest colour, exact. ``"random"``: random distinct colours per image (as Vision Banana
        and SAM-style visualisations draw instances), decoded by :meth:`decode_instances`
        (colour clustering + connected components); ids come back renumbered in raster order
        of each instance's first pixel (:func:`random_instance_colors` gives the rule).
    seed : int
        ``colors="random"``: seed of the per-image generator.
    min_distance : float, optional
        ``colors="random"``: a drawn colour closer than this (in ``space`` units) to black or to a
        colour already drawn for the image is rejected; default half the minimum pairwise
        distance of the ``"distinct"`` palette of ``max_instances`` colours.
    components : bool, optional
        ``decode_instances`` (and so ``decode`` with ``colors="random"``): True splits each colour
        cluster into 8-connected components, as a model may reuse a colour for two instances;
        False keeps a cluster whole, so an instance in several regions (occluded objects, COCO
        stuff) stays one instance. Default (None): True with ``colors="distinct"`` (the behaviour
        before ``colors`` existed), False with ``colors="random"`` (its colours never repeat in
        an image); :attr:`split_components` is the value in use.
    decoder : {"context", "pixel"}
        ``colors="distinct"``: ``"context"`` (default) re-decides the off-code pixels of a lossy
        or generated image from their neighbourhood as ``mask/palette`` does (exact codes among
        exact neighbours keep their id); ``"pixel"``: the nearest colour of each pixel alone.
    """

    name: ClassVar[str] = "mask/instance"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._masks:_PaletteNative"
    primary_metric: ClassVar[tuple[str, bool]] = ("mean_iou", False)

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.instance_metrics` (matched instances, pixel accuracy); with
        ``colors="random"`` also :func:`rgbtask.metrics.panoptic_quality` (``pq``, ``sq``,
        ``rq``, class-agnostic) and ``pixel_acc`` up to the relabelling."""
        if self.colors == "distinct":
            return instance_metrics(decoded, reference)
        out = instance_metrics(decoded, reference)
        out["pixel_acc"] = float(100.0 * (1.0 - np.mean(self.roundtrip_error(reference, decoded))))
        pq = panoptic_quality(decoded, reference)
        out.update({k: pq[k] for k in ("pq", "sq", "rq")})
        return out

    max_instances: int = param(64, integer(1, 4095))
    space: str = param("oklab", one_of("lab", "oklab"))
    min_size: int = param(16, integer(1, None))
    cluster_distance: float | None = param(None, _distance, optional=True)
    colors: str = param("distinct", one_of("distinct", "random"))
    seed: int = param(0, integer(0, 2**32 - 1))
    min_distance: float | None = param(None, _distance, optional=True)
    components: bool | None = param(None, boolean, optional=True)
    decoder: str = param("context", one_of("context", "pixel"))

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.colors == "random" and self.cluster_distance is not None:
            if not self.cluster_distance < self.random_min_distance:
                raise ConfigError(
                    f"expected cluster_distance < min_distance ({self.random_min_distance:.6g}) "
                    f"with colors='random', got {plain(self.cluster_distance)!r}"
                )

    @property
    def palette_colors(self) -> np.ndarray:
        """``(max_instances + 1, 3)``: black, then the generated colours (``colors="distinct"``;
        with ``colors="random"``, the colours of no image in particular)."""
        generated = distinct_palette(self.max_instances, self.space, avoid=[(0, 0, 0)])
        return np.concatenate([np.zeros((1, 3), np.uint8), generated])

    @property
    def random_min_distance(self) -> float:
        """The rejection distance of ``colors="random"`` (``min_distance`` or its default)."""
        if self.min_distance is not None:
            return float(self.min_distance)
        return 0.5 * _distinct_margin(self.max_instances, self.space)

    @property
    def split_components(self) -> bool:
        """``components`` resolved: whether clusters are split into connected components."""
        if self.components is not None:
            return bool(self.components)
        return self.colors == "distinct"

    @property
    def torch_native(self) -> bool:
        """Whether the torch adapter may use its native palette path (``colors="distinct"``)."""
        return self.colors == "distinct"

    @property
    def pixelwise(self) -> bool:
        return self.colors == "distinct" and self.decoder == "pixel"

    @property
    def levels(self) -> int:
        return self.max_instances + 1

    def bound_text(self) -> str:
        if self.colors == "distinct":
            return "exact (0 label errors)"
        shape = "one 8-connected region of " if self.split_components else ""
        return (
            f"exact up to renumbering for every instance that is {shape}at least min_size "
            "pixels (and on background); 1 label error allowed elsewhere"
        )

    def validate_value(self, value: Any) -> np.ndarray:
        return _check_labels(value, "instance ids", self.max_instances)

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        if self.colors == "distinct":
            return np.ascontiguousarray(np.take(self.palette_colors, ids, axis=0))
        out = np.zeros(ids.shape + (3,), dtype=np.uint8)
        flat_ids = ids.reshape((-1,) + ids.shape[-2:])
        flat_out = out.reshape((-1,) + out.shape[-3:])
        for i in range(flat_ids.shape[0]):
            flat_out[i] = random_instance_colors(
                flat_ids[i], self.space, self.random_min_distance, self.seed
            )
        return out

    def encode(self, value: Any) -> np.ndarray:
        """Ids -> colours; ``"distinct"``: the range checked in the gather's pass."""
        if self.colors == "distinct":
            return _encode_colors(value, "instance ids", self.palette_colors)
        return super().encode(value)

    def _decode_labels(self, rgb: np.ndarray) -> np.ndarray:
        if self.colors == "distinct" and self.decoder == "pixel":
            return nearest_labels(rgb, self.palette_colors, self.space, label_dtype=np.int32)
        if self.colors == "distinct":
            return context_decode(rgb, self.palette_colors, self.space, confidence=False)[0]
        return self._decode(rgb).value

    def _decode(self, rgb: np.ndarray) -> Decoded:
        if self.colors == "distinct":
            if self.decoder == "pixel":
                labels, conf, valid = nearest_color(
                    rgb, self.palette_colors, self.space, label_dtype=np.int32
                )
                return Decoded(labels, conf, valid)
            ids, conf = context_decode(rgb, self.palette_colors, self.space)
            return Decoded(ids, conf, np.ones(ids.shape, dtype=np.bool_))
        lead, (h, w) = rgb.shape[:-3], rgb.shape[-3:-1]
        ids = np.zeros(lead + (h, w), dtype=np.int32)
        conf = np.zeros(lead + (h, w), dtype=np.float32)
        valid = np.zeros(lead + (h, w), dtype=bool)
        flat = rgb.reshape((-1, h, w, 3))
        fi, fc, fv = (a.reshape((-1, h, w)) for a in (ids, conf, valid))
        for i in range(flat.shape[0]):
            res = self.decode_instances(flat[i])
            fi[i], fc[i], fv[i] = res.ids, res.confidence, res.valid
        return Decoded(ids, conf, valid)

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """``colors="distinct"``: 1 where the id differs. ``"random"``: 1 where the decoded id is
        not the one matched to the reference instance (:func:`relabel_error`, per image)."""
        if self.colors == "distinct":
            return _label_error(reference, decoded)
        ref = np.asarray(reference)
        dec = np.asarray(decoded)
        h, w = ref.shape[-2:]
        out = np.zeros(ref.shape, dtype=np.float64)
        r, d, o = ref.reshape(-1, h, w), dec.reshape(-1, h, w), out.reshape(-1, h, w)
        for i in range(r.shape[0]):
            o[i] = relabel_error(r[i], d[i])
        return out

    def roundtrip_bound(self, reference: np.ndarray) -> float | np.ndarray:
        """``"distinct"``: 0. ``"random"``: 0 on background and on every instance that is one
        8-connected region of at least ``min_size`` pixels, 1 elsewhere (such an instance's
        colour is at least ``min_distance > cluster_distance`` from black and from every other
        colour of its image, so its pixels form a cluster of their own and one component)."""
        if self.colors == "distinct":
            return 0.0
        ref = np.asarray(reference)
        h, w = ref.shape[-2:]
        out = np.zeros(ref.shape, dtype=np.float64)
        r, o = ref.reshape(-1, h, w), out.reshape(-1, h, w)
        for i in range(r.shape[0]):
            o[i] = ~_well_formed(r[i], self.min_size, self.split_components)
        return out

    def range_text(self) -> str:
        if self.colors == "random":
            return "instance ids >= 0 in raster order of first pixel (0: background or dropped)"
        return f"instance ids 0..max_instances = 0..{self.max_instances} (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        ids = np.asarray(decoded.value).astype(np.int64)
        if self.colors == "random":
            return (ids >= 0) & (np.asarray(decoded.valid) | (ids == 0))
        return (ids >= 0) & (ids <= self.max_instances) & np.asarray(decoded.valid)

    def encode_families(
        self,
        ids: Any,
        classes: Any,
        palette: Any = "coco",
        max_dist: int = 30,
        seed: int = 0,
    ) -> np.ndarray:
        """Instance ids ``(..., H, W)`` -> RGB with per-class colour families.

        Instance ``k`` of class ``classes[k]`` gets a colour from
        :func:`rgbtask.palettes.family_colors` around ``palette[classes[k]]`` (the class colour
        itself for its first instance, then jitter of up to ``max_dist`` per channel), as
        panopticapi's ``IdGenerator`` colours COCO things; id 0 stays black. ``classes`` is a
        sequence or mapping from instance id to class label. Such images are decoded with
        :meth:`decode_instances` (their colours are not this codec's palette).
        """
        from rgbtask.palettes import family_colors

        ids = self.validate_value(ids)
        class_colors = resolve_palette(palette, warn=False)
        lookup = dict(classes) if isinstance(classes, dict) else dict(enumerate(classes))
        colors = np.zeros((int(ids.max()) + 1, 3), dtype=np.uint8)
        per_class: dict[int, list[int]] = {}
        for k in np.unique(ids[ids > 0]).tolist():
            if k not in lookup:
                raise InputError(f"expected a class for every instance id, got none for id {k}")
            c = int(lookup[k])
            if not 0 <= c < class_colors.shape[0]:
                raise InputError(
                    f"expected class labels in 0..{class_colors.shape[0] - 1}, got {c}"
                )
            per_class.setdefault(c, []).append(k)
        taken = [(0, 0, 0)]
        for c, members in sorted(per_class.items()):
            fam = family_colors(class_colors[c], len(members), max_dist, seed + c, taken=taken)
            colors[members] = fam
            taken.extend(tuple(int(v) for v in f) for f in fam)
        return np.ascontiguousarray(np.take(colors, ids, axis=0))

    def decode_instances(self, rgb: Any, background_distance: float | None = None) -> Instances:
        """Instances of one *generated* image ``(H, W, 3)`` whose colours are not known.

        Clustering in ``space`` (:func:`rgbtask.codecs.instances.decode_instances`, whose module
        docstring gives the algorithm) with this codec's ``min_size`` and ``cluster_distance``
        (default half the palette's minimum pairwise distance); pixels nearer than
        ``background_distance`` (default the cluster distance) to black are background.

        This does not fit :class:`~rgbtask.Decoded` alone (it has per-instance outputs), so it is a
        method of its own; ``decode_with_confidence`` is the palette decode of images this codec
        encoded.
        """
        if self.cluster_distance is not None:
            radius = self.cluster_distance
        elif self.colors == "random":
            radius = 0.5 * self.random_min_distance
        else:
            radius = 0.5 * min_pairwise_distance(self.palette_colors, self.space)
        return decode_instances(
            rgb, self.space, self.min_size, radius, background_distance, self.split_components
        )

    @classmethod
    def examples(cls, scene: Any):
        yield cls(), [scene.instance, scene.instance.T.copy()]
        yield cls(max_instances=8, space="lab"), [scene.instance]
        yield cls(colors="random", seed=7), [scene.instance, scene.instance.T.copy()]
        yield cls(colors="random", components=True, space="lab"), [scene.instance]


# ---------------------------------------------------------------- mask/binary


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskBinary(LabelCodec):
    """Foreground (1) / background (0) masks ``(..., H, W)`` <-> two colours.

    Parameters
    ----------
    threshold : float
        In (0, 1): position along background -> foreground at which a colour becomes foreground.
    foreground, background : RGB triple
        The two colours (white and black by default); they must differ.
    """

    name: ClassVar[str] = "mask/binary"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._masks:_BinaryNative"
    primary_metric: ClassVar[tuple[str, bool]] = ("miou", False)

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.mask_metrics` (mIoU, pixel accuracy) of the 0/1 labels."""
        return mask_metrics(decoded, reference, ignore=255)

    threshold: float = param(0.5, number(0.0, 1.0, lo_open=True, hi_open=True))
    foreground: Any = param((255, 255, 255), rgb_triple)
    background: Any = param((0, 0, 0), rgb_triple)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.foreground == self.background:
            raise ConfigError(f"expected different colours, got {self.foreground} for both")

    @property
    def levels(self) -> int:
        return 2

    def validate_value(self, value: Any) -> np.ndarray:
        return _check_labels(value, "binary mask", 1, allow_bool=True).astype(np.uint8)

    def _encode(self, mask: np.ndarray) -> np.ndarray:
        colors = np.asarray([self.background, self.foreground], dtype=np.uint8)
        return np.ascontiguousarray(np.take(colors, mask, axis=0))

    def encode(self, value: Any) -> np.ndarray:
        """0/1 (or bool) -> the two colours, the range checked in the gather's pass."""
        colors = np.asarray([self.background, self.foreground], dtype=np.uint8)
        return _encode_colors(value, "binary mask", colors, allow_bool=True)

    def _decode_labels(self, rgb: np.ndarray) -> np.ndarray:
        if rgb.dtype != np.uint8:
            return self._decode(rgb).value
        background, direction, inv_len2, threshold = self._kernel_params()
        labels = kernels.binary_labels(
            rgb.reshape(-1, 3), background, direction, inv_len2, threshold
        )
        return labels.reshape(rgb.shape[:-1])

    def _kernel_params(self) -> tuple:
        bg = np.asarray(self.background, dtype=np.float64)
        direction = np.asarray(self.foreground, dtype=np.float64) - bg
        return bg, direction, 1.0 / float(direction @ direction), self.threshold

    def _decode(self, rgb: np.ndarray) -> Decoded:
        background, direction, inv_len2, threshold = self._kernel_params()
        labels, conf = kernels.binary(
            rgb.reshape(-1, 3),
            scale=rgb_scale(rgb),
            background=background,
            direction=direction,
            inv_len2=inv_len2,
            threshold=threshold,
        )
        shape = rgb.shape[:-1]
        return Decoded(labels.reshape(shape), conf.reshape(shape), np.ones(shape, dtype=np.bool_))

    def range_text(self) -> str:
        return "0 or 1 (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        labels = np.asarray(decoded.value)
        return ((labels == 0) | (labels == 1)) & np.asarray(decoded.valid)

    @classmethod
    def examples(cls, scene: Any):
        fg = scene.instance > 0
        yield cls(), [fg, ~fg]
        yield (
            cls(threshold=0.3, foreground=(255, 0, 0), background=(0, 0, 80)),
            [fg.astype(np.uint8)],
        )
