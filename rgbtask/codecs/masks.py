"""Masks as RGB: ``mask/palette``, ``mask/panoptic``, ``mask/instance``, ``mask/binary``.

Labels are integer arrays ``(..., H, W)``; every codec encodes to ``uint8`` RGB ``(..., H, W, 3)``.

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
panopticapi's ``IdGenerator``) for training targets that carry the class in the hue.

``mask/binary``: 1 -> ``foreground``, 0 -> ``background`` (default white / black). A pixel decodes
to 1 where its projection ``t`` on the segment background -> foreground is ``>= threshold`` (0.5:
the perpendicular bisector plane); confidence ``min(1, |t - threshold| / min(threshold,
1 - threshold))``. Exact round trip.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple

import numpy as np

from rgbtask.codec import Codec, Decoded, describe_array, rgb_scale
from rgbtask.colorspace import convert, space_id
from rgbtask.core import masks as kernels
from rgbtask.core._jit import run_rows
from rgbtask.core._tables import TableCache, clear_all, lazy_zeros
from rgbtask.errors import ConfigError, InputError
from rgbtask.io.tasks import MASK_IO
from rgbtask.metrics import instance_metrics, mask_metrics
from rgbtask.palettes import distinct_palette, resolve_palette, shadowed_labels
from rgbtask.registry import register_codec

__all__ = [
    "Instances",
    "MaskBinary",
    "MaskInstance",
    "MaskPalette",
    "MaskPanoptic",
    "nearest_color",
]

# ---------------------------------------------------------------- shared nearest-colour decoding

_LUT_ENTRIES = 1 << 24
#: One 2^24-entry uint64 table per (palette, space, reject, ignore): 128 MiB of address space,
#: pages committed as colours are seen; the 4 most recently used are kept.
_tables = TableCache("palette decode tables", max_entries=4)


def _table(key: tuple) -> np.ndarray:
    """The lazily filled 2^24-entry table for ``key``."""
    return _tables.get(key, _new_table)


def _new_table() -> np.ndarray:
    # pages cost no memory until a colour in them is first decoded
    return lazy_zeros(_LUT_ENTRIES, np.uint64)


def clear_tables() -> None:
    """Drop every cached lookup table of every codec (frees their memory): ``rgbtask.clear_tables``."""
    clear_all()


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
    reject = float("inf") if reject_distance is None else float(reject_distance)
    flat = rgb.reshape(-1, 3)
    labels = np.empty(flat.shape[0], dtype=label_dtype)
    confidence = np.empty(flat.shape[0], dtype=np.float32)
    valid = np.empty(flat.shape[0], dtype=np.bool_)
    if rgb.dtype == np.uint8:
        key = (np.asarray(palette, dtype=np.uint8).tobytes(), sid, reject, int(ignore))
        lut = _table(key)
        run_rows(
            kernels.nearest_lut_kernel,
            (flat, labels, confidence, valid),
            (lut, pal_coords, sid, reject, int(ignore)),
        )
    else:
        scale = rgb_scale(rgb)
        run_rows(
            kernels.nearest_float_kernel,
            (flat, labels, confidence, valid),
            (scale, pal_coords, sid, reject, int(ignore)),
        )
    shape = rgb.shape[:-1]
    return labels.reshape(shape), confidence.reshape(shape), valid.reshape(shape)


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


def _check_labels(value: Any, what: str, upper: int, allow_bool: bool = False) -> np.ndarray:
    labels = np.asarray(value)
    kinds = "iub" if allow_bool else "iu"
    if labels.dtype.kind not in kinds:
        raise InputError(
            f"expected integer {what} of shape (..., H, W), got {describe_array(labels)}"
        )
    if labels.ndim < 2 or labels.size == 0:
        raise InputError(
            f"expected non-empty {what} of shape (..., H, W), got {describe_array(labels)}"
        )
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi > upper:
        raise InputError(f"expected {what} in 0..{upper}, got values in {lo}..{hi}")
    if not labels.dtype.isnative:
        labels = labels.astype(labels.dtype.newbyteorder("="))
    return np.ascontiguousarray(labels)


def _label_dtype(max_label: int) -> np.dtype:
    return np.dtype(np.uint8 if max_label <= 255 else np.int32)


def _check_space(space: Any) -> str:
    if space not in ("rgb", "lab", "oklab"):
        raise ConfigError(f"expected space 'rgb', 'lab' or 'oklab', got {space!r}")
    return space


def _label_error(reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
    return (np.asarray(reference).astype(np.int64) != np.asarray(decoded).astype(np.int64)).astype(
        np.float64
    )


# ---------------------------------------------------------------- mask/palette


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskPalette(Codec):
    """Semantic labels ``(..., H, W)`` <-> palette colours, decoded by nearest colour.

    Parameters
    ----------
    palette : str or list of RGB triples
        ``"ade20k"`` (default), ``"voc"``, ``"cityscapes"``, ``"coco"``, ``"distinct"`` (generated,
        needs ``num_classes``), or a list of ``[R, G, B]`` (row k = label k).
    num_classes : int, optional
        Size of a ``"distinct"`` palette; for the others, keep only the first ``num_classes``.
    space : {"rgb", "lab", "oklab"}
        Colour space of the nearest-colour search (and of the generation of ``"distinct"``,
        where ``"rgb"`` means CIELAB).
    reject_distance : float, optional
        Pixels farther than this (in ``space`` units) from every palette colour decode to
        ``ignore`` with ``valid = False``. None: never reject.
    ignore : int
        The label of rejected pixels (255).
    avoid : list of RGB triples, optional
        Colours a ``"distinct"`` palette keeps away from (e.g. a background).
    min_region : int
        0 (default): plain per-pixel decoding. Otherwise, after it, every 8-connected region of
        one label smaller than ``min_region`` pixels takes the label of the nearest pixel of a
        kept region (per image): removes the slivers of other classes a lossy file leaves
        along boundaries. Real regions under that size are lost too, so this is off by default
        and not part of the round-trip bound (which assumes 0).
    """

    name: ClassVar[str] = "mask/palette"
    error_unit: ClassVar[str] = "label"
    primary_metric: ClassVar[tuple[str, bool]] = ("miou", False)
    task_io: ClassVar[Any] = MASK_IO

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.mask_metrics` (mIoU, pixel accuracy) without ``ignore`` pixels."""
        return mask_metrics(decoded, reference, ignore=self.ignore)

    palette: Any = "ade20k"
    num_classes: int | None = None
    space: str = "rgb"
    reject_distance: float | None = None
    ignore: int = 255
    avoid: Any = None
    min_region: int = 0

    def __post_init__(self) -> None:
        _check_space(self.space)
        if isinstance(self.min_region, bool) or int(self.min_region) < 0:
            raise ConfigError(f"expected min_region an integer >= 0, got {self.min_region!r}")
        object.__setattr__(self, "min_region", int(self.min_region))
        if not isinstance(self.palette, str):
            colors = resolve_palette(self.palette, warn=False)
            object.__setattr__(self, "palette", tuple(tuple(int(v) for v in c) for c in colors))
        if self.avoid is not None:
            avoid = np.asarray(self.avoid, dtype=np.int64).reshape(-1, 3)
            object.__setattr__(self, "avoid", tuple(tuple(int(v) for v in c) for c in avoid))
        if self.reject_distance is not None:
            r = float(self.reject_distance)
            if not r > 0:
                raise ConfigError(
                    f"expected reject_distance > 0 or None, got {self.reject_distance!r}"
                )
            object.__setattr__(self, "reject_distance", r)
        if isinstance(self.ignore, bool) or not 0 <= int(self.ignore) < (1 << 30):
            raise ConfigError(f"expected ignore an integer in 0..2^30-1, got {self.ignore!r}")
        object.__setattr__(self, "ignore", int(self.ignore))
        self.colors  # noqa: B018 (validate now, warn on collisions at construction)

    @property
    def colors(self) -> np.ndarray:
        """The palette as ``(K, 3)`` uint8 (read-only, cached per configuration)."""
        return _resolved_palette(self.palette, self.num_classes, self.space, self.avoid)

    @property
    def shadowed(self) -> list[int]:
        """Labels that cannot round-trip (they share a colour with a lower label)."""
        return shadowed_labels(self.colors)

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
        return _check_labels(value, "labels", self.levels - 1)

    def _encode(self, labels: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.take(self.colors, labels, axis=0))

    def _decode(self, rgb: np.ndarray) -> Decoded:
        labels, conf, valid = nearest_color(
            rgb, self.colors, self.space, self.reject_distance, self.ignore, self.label_dtype
        )
        if self.min_region > 1:
            flat = labels.reshape((-1, *labels.shape[-2:]))
            for i in range(flat.shape[0]):
                flat[i] = remove_small_regions(flat[i], self.min_region)
            if self.reject_distance is not None:
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
        return self.min_region <= 1

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """1 where the decoded label differs from the reference, else 0."""
        return _label_error(reference, decoded)

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
class MaskPanoptic(Codec):
    """COCO panoptic segment ids ``(..., H, W)`` in ``0 .. 2^24 - 1`` <-> ``R + 256 G + 256^2 B``.

    Lossless storage only: exact, with no margin against any change of a code value.
    """

    name: ClassVar[str] = "mask/panoptic"
    error_unit: ClassVar[str] = "label"
    primary_metric: ClassVar[tuple[str, bool]] = ("pixel_acc", False)
    task_io: ClassVar[Any] = MASK_IO

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
        out = np.empty((*ids.shape, 3), dtype=np.uint8)
        run_rows(kernels.id2rgb_kernel, (ids.reshape(-1), out.reshape(-1, 3)))
        return out

    def _decode(self, rgb: np.ndarray) -> Decoded:
        flat = rgb.reshape(-1, 3)
        ids = np.empty(flat.shape[0], dtype=np.int32)
        shape = rgb.shape[:-1]
        if rgb.dtype == np.uint8:
            run_rows(kernels.rgb2id_kernel, (flat, ids))
            conf = np.ones(shape, dtype=np.float32)
        else:
            conf = np.empty(flat.shape[0], dtype=np.float32)
            run_rows(kernels.panoptic_float_kernel, (flat, ids, conf), (rgb_scale(rgb),))
            conf = conf.reshape(shape)
        return Decoded(ids.reshape(shape), conf, np.ones(shape, dtype=np.bool_))

    def range_text(self) -> str:
        return "segment ids 0..2^24 - 1 (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        ids = np.asarray(decoded.value).astype(np.int64)
        return (ids >= 0) & (ids < (1 << 24)) & np.asarray(decoded.valid)

    @property
    def pixelwise(self) -> bool:
        return True

    def rgb2id(self, rgb: Any) -> np.ndarray:
        """panopticapi's ``rgb2id`` for uint8 ``(..., 3)``, as int32."""
        return self.decode(rgb)

    def id2rgb(self, ids: Any) -> np.ndarray:
        """panopticapi's ``id2rgb``, as uint8 ``(..., 3)``."""
        return self.encode(ids)

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        return _label_error(reference, decoded)

    def roundtrip_bound(self, reference: np.ndarray) -> float:
        return 0.0

    @classmethod
    def examples(cls, scene: Any):
        semantic = scene.semantic.astype(np.int64)
        panoptic = semantic * 1000 + scene.instance  # panopticapi's 2-channel OFFSET convention
        yield cls(), [panoptic, panoptic * 997 % (1 << 24), np.zeros_like(panoptic) + (1 << 24) - 1]


# ---------------------------------------------------------------- mask/instance


class Instances(NamedTuple):
    """What :meth:`MaskInstance.decode_instances` returns for one image.

    Attributes
    ----------
    ids : (H, W) int32
        0 = background (and dropped specks), 1..N the instances in raster order of their first pixel.
    colors : (N, 3) uint8
        Each instance's mean colour (row k - 1 for id k).
    scores : (N,) float32
        Each instance's mean pixel confidence, in [0, 1].
    confidence : (H, W) float32
        Per pixel: margin between the nearest and second-nearest colour cluster (0 where invalid).
    valid : (H, W) bool
        False on dropped specks (pixels whose component was smaller than ``min_size``).
    """

    ids: np.ndarray
    colors: np.ndarray
    scores: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskInstance(Codec):
    """Instance ids ``(..., H, W)`` (0 = background) <-> distinct generated colours.

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
        cluster; default half the palette's minimum pairwise distance.
    """

    name: ClassVar[str] = "mask/instance"
    error_unit: ClassVar[str] = "label"
    primary_metric: ClassVar[tuple[str, bool]] = ("mean_iou", False)
    task_io: ClassVar[Any] = MASK_IO

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.instance_metrics` (matched instances, pixel accuracy)."""
        return instance_metrics(decoded, reference)

    max_instances: int = 64
    space: str = "oklab"
    min_size: int = 16
    cluster_distance: float | None = None

    def __post_init__(self) -> None:
        if self.space not in ("lab", "oklab"):
            raise ConfigError(f"expected space 'lab' or 'oklab', got {self.space!r}")
        n = self.max_instances
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 4095:
            raise ConfigError(f"expected max_instances an integer in 1..4095, got {n!r}")
        if isinstance(self.min_size, bool) or int(self.min_size) < 1:
            raise ConfigError(f"expected min_size an integer >= 1, got {self.min_size!r}")
        object.__setattr__(self, "max_instances", int(n))
        object.__setattr__(self, "min_size", int(self.min_size))
        if self.cluster_distance is not None:
            if not float(self.cluster_distance) > 0:
                raise ConfigError(
                    f"expected cluster_distance > 0 or None, got {self.cluster_distance!r}"
                )
            object.__setattr__(self, "cluster_distance", float(self.cluster_distance))

    @property
    def colors(self) -> np.ndarray:
        """``(max_instances + 1, 3)``: black, then the generated colours."""
        generated = distinct_palette(self.max_instances, self.space, avoid=[(0, 0, 0)])
        return np.concatenate([np.zeros((1, 3), np.uint8), generated])

    @property
    def levels(self) -> int:
        return self.max_instances + 1

    def bound_text(self) -> str:
        return "exact (0 label errors)"

    def validate_value(self, value: Any) -> np.ndarray:
        return _check_labels(value, "instance ids", self.max_instances)

    def _encode(self, ids: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.take(self.colors, ids, axis=0))

    def _decode(self, rgb: np.ndarray) -> Decoded:
        labels, conf, valid = nearest_color(rgb, self.colors, self.space, label_dtype=np.int32)
        return Decoded(labels, conf, valid)

    def range_text(self) -> str:
        return f"instance ids 0..max_instances = 0..{self.max_instances} (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        ids = np.asarray(decoded.value).astype(np.int64)
        return (ids >= 0) & (ids <= self.max_instances) & np.asarray(decoded.valid)

    @property
    def pixelwise(self) -> bool:
        return True

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        return _label_error(reference, decoded)

    def roundtrip_bound(self, reference: np.ndarray) -> float:
        return 0.0

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

        1. Colours are converted to ``space``; pixels nearer than ``background_distance`` (default
           ``cluster_distance``) to black are background.
        2. Clustering: the other pixels' colours are binned (bin side ``cluster_distance / 2``);
           bins of at least ``min_size`` pixels, in decreasing count, become cluster centres when
           farther than ``cluster_distance`` from every centre so far; every pixel joins its nearest centre and
           each centre moves to its pixels' mean (one k-means step).
        3. Each cluster is split into 8-connected components (``scipy.ndimage.label``); components
           under ``min_size`` pixels are dropped (id 0, invalid).

        This does not fit :class:`~rgbtask.Decoded` alone (it has per-instance outputs), so it is a
        method of its own; ``decode_with_confidence`` is the palette decode of images this codec
        encoded.
        """
        from scipy import ndimage

        from rgbtask.codec import check_rgb

        rgb = check_rgb(rgb)
        if rgb.ndim != 3:
            raise InputError(f"expected one RGB image (H, W, 3), got {describe_array(rgb)}")
        h, w = rgb.shape[:2]
        coords = convert(rgb, self.space).reshape(-1, 3)
        if self.cluster_distance is not None:
            radius = self.cluster_distance
        else:
            from rgbtask.palettes import min_pairwise_distance

            radius = 0.5 * min_pairwise_distance(self.colors, self.space)
        bg_radius = radius if background_distance is None else float(background_distance)
        black = convert(np.zeros((1, 3), np.uint8), self.space)[0]
        is_bg = ((coords - black) ** 2).sum(-1) < bg_radius * bg_radius
        fg = np.flatnonzero(~is_bg)
        ids = np.zeros(h * w, dtype=np.int32)
        confidence = np.zeros(h * w, dtype=np.float32)
        valid = np.ones(h * w, dtype=bool)
        if fg.size == 0:
            return Instances(
                ids.reshape(h, w),
                np.zeros((0, 3), np.uint8),
                np.zeros(0, np.float32),
                np.where(is_bg, 1.0, 0.0).astype(np.float32).reshape(h, w),
                valid.reshape(h, w),
            )
        pts = coords[fg]
        side = radius / 2.0
        bins = np.floor(pts / side).astype(np.int64)
        uniq, inverse, counts = np.unique(bins, axis=0, return_inverse=True, return_counts=True)
        inverse = inverse.ravel()
        sums = np.zeros((uniq.shape[0], 3))
        np.add.at(sums, inverse, pts)
        means = sums / counts[:, None]
        centres: list[np.ndarray] = []
        for b in np.argsort(-counts, kind="stable"):
            if centres and counts[b] < self.min_size:
                break  # too few pixels to seed an instance: they join the nearest centre
            c = means[b]
            if not centres or np.min(((np.asarray(centres) - c) ** 2).sum(-1)) > radius * radius:
                centres.append(c)
        cents = np.asarray(centres)
        for _ in range(2):
            d = ((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1)
            nearest = np.argmin(d, axis=1)
            for k in range(cents.shape[0]):
                sel = nearest == k
                if sel.any():
                    cents[k] = pts[sel].mean(axis=0)
        d = np.sqrt(((pts[:, None, :] - cents[None, :, :]) ** 2).sum(-1))
        nearest = np.argmin(d, axis=1)
        if cents.shape[0] > 1:
            part = np.partition(d, 1, axis=1)
            d1, d2 = part[:, 0], part[:, 1]
            conf_fg = np.where(d2 > 0, (d2 - d1) / np.maximum(d2 + d1, 1e-300), 0.0)
        else:
            conf_fg = np.ones(pts.shape[0])
        cluster = np.full(h * w, -1, dtype=np.int64)
        cluster[fg] = nearest
        pixel_conf = np.zeros(h * w)
        pixel_conf[fg] = conf_fg
        pixel_conf[is_bg] = 1.0
        structure = np.ones((3, 3), dtype=bool)
        next_id = 0
        comp_map = np.zeros(h * w, dtype=np.int64)
        cluster_img = cluster.reshape(h, w)
        for k in range(cents.shape[0]):
            comps, n = ndimage.label(cluster_img == k, structure=structure)
            if n == 0:
                continue
            flat = comps.ravel()
            sizes = np.bincount(flat, minlength=n + 1)
            keep = sizes >= self.min_size
            keep[0] = False
            small = (flat > 0) & ~keep[flat]
            valid[small] = False
            new = np.cumsum(keep) * keep  # 1..m for kept components
            sel = keep[flat]
            comp_map[sel] = new[flat[sel]] + next_id
            next_id += int(keep.sum())
        # Renumber in raster order of the first pixel.
        present = comp_map > 0
        order_ids, first = np.unique(comp_map[present], return_index=True)
        rank = np.empty(next_id + 1, dtype=np.int32)
        rank[0] = 0
        positions = np.flatnonzero(present)[first]
        rank[order_ids[np.argsort(positions, kind="stable")]] = np.arange(1, order_ids.size + 1)
        ids = rank[comp_map].astype(np.int32)
        n_inst = order_ids.size
        area = np.bincount(ids, minlength=n_inst + 1)[1:]
        colors = np.zeros((n_inst, 3))
        for c in range(3):
            colors[:, c] = np.bincount(ids, weights=rgb.reshape(-1, 3)[:, c], minlength=n_inst + 1)[
                1:
            ]
        colors = colors / np.maximum(area, 1)[:, None] / rgb_scale(rgb) * 255.0
        scores = np.bincount(ids, weights=pixel_conf, minlength=n_inst + 1)[1:] / np.maximum(
            area, 1
        )
        confidence = np.where(valid, pixel_conf, 0.0).astype(np.float32)
        return Instances(
            ids.reshape(h, w),
            np.floor(colors + 0.5).clip(0, 255).astype(np.uint8),
            scores.astype(np.float32),
            confidence.reshape(h, w),
            valid.reshape(h, w),
        )

    @classmethod
    def examples(cls, scene: Any):
        yield cls(), [scene.instance, scene.instance.T.copy()]
        yield cls(max_instances=8, space="lab"), [scene.instance]


# ---------------------------------------------------------------- mask/binary


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class MaskBinary(Codec):
    """Foreground (1) / background (0) masks ``(..., H, W)`` <-> two colours.

    Parameters
    ----------
    threshold : float
        In (0, 1): position along background -> foreground at which a colour becomes foreground.
    foreground, background : RGB triple
        The two colours (white and black by default); they must differ.
    """

    name: ClassVar[str] = "mask/binary"
    error_unit: ClassVar[str] = "label"
    primary_metric: ClassVar[tuple[str, bool]] = ("miou", False)
    task_io: ClassVar[Any] = MASK_IO

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.mask_metrics` (mIoU, pixel accuracy) of the 0/1 labels."""
        return mask_metrics(decoded, reference, ignore=255)

    threshold: float = 0.5
    foreground: Any = (255, 255, 255)
    background: Any = (0, 0, 0)

    def __post_init__(self) -> None:
        t = float(self.threshold)
        if not 0.0 < t < 1.0:
            raise ConfigError(f"expected threshold in (0, 1), got {self.threshold!r}")
        object.__setattr__(self, "threshold", t)
        for field in ("foreground", "background"):
            c = resolve_palette([getattr(self, field)], warn=False)[0]
            object.__setattr__(self, field, tuple(int(v) for v in c))
        if self.foreground == self.background:
            raise ConfigError(f"expected different colours, got {self.foreground} for both")

    @property
    def levels(self) -> int:
        return 2

    def bound_text(self) -> str:
        return "exact (0 label errors)"

    def validate_value(self, value: Any) -> np.ndarray:
        return _check_labels(value, "binary mask", 1, allow_bool=True).astype(np.uint8)

    def _encode(self, mask: np.ndarray) -> np.ndarray:
        colors = np.asarray([self.background, self.foreground], dtype=np.uint8)
        return np.ascontiguousarray(np.take(colors, mask, axis=0))

    def _kernel_params(self) -> tuple:
        bg = np.asarray(self.background, dtype=np.float64)
        direction = np.asarray(self.foreground, dtype=np.float64) - bg
        return bg, direction, 1.0 / float(direction @ direction), self.threshold

    def _decode(self, rgb: np.ndarray) -> Decoded:
        flat = rgb.reshape(-1, 3)
        labels = np.empty(flat.shape[0], dtype=np.uint8)
        conf = np.empty(flat.shape[0], dtype=np.float32)
        run_rows(
            kernels.binary_kernel, (flat, labels, conf), (rgb_scale(rgb), *self._kernel_params())
        )
        shape = rgb.shape[:-1]
        return Decoded(labels.reshape(shape), conf.reshape(shape), np.ones(shape, dtype=np.bool_))

    def range_text(self) -> str:
        return "0 or 1 (every colour is valid)"

    def in_range(self, decoded: Decoded) -> np.ndarray:
        labels = np.asarray(decoded.value)
        return ((labels == 0) | (labels == 1)) & np.asarray(decoded.valid)

    @property
    def pixelwise(self) -> bool:
        return True

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        return _label_error(reference, decoded)

    def roundtrip_bound(self, reference: np.ndarray) -> float:
        return 0.0

    @classmethod
    def examples(cls, scene: Any):
        fg = scene.instance > 0
        yield cls(), [fg, ~fg]
        yield (
            cls(threshold=0.3, foreground=(255, 0, 0), background=(0, 0, 80)),
            [fg.astype(np.uint8)],
        )
