"""Keypoints as heatmap images: ``keypoints/heatmap``.

Keypoints ``(..., N, K, 2)`` (x, y in pixels; N instances of K keypoint ids) are drawn on a canvas of
``size = (H, W)`` as Gaussian blobs of standard deviation ``sigma``; the keypoint id travels in the
colour (``layout``).

Pixel convention: pixel centres at integer coordinates, as in :mod:`rgbtask.samples`: pixel
``(row i, column j)`` is the point ``(x=j, y=i)`` and the canvas covers ``[-0.5, W - 0.5] x
[-0.5, H - 0.5]``. Encode and decode use the same frame, so ``decode(encode(kp))`` returns ``kp``
with no scale or half-pixel correction anywhere else.

Encoding (per pixel, float64, ``s = 255``, ``round(v) = floor(v + 0.5)``)::

    h(i, j) = max over blobs on the plane of exp(-((j - x)^2 + (i - y)^2) / (2 sigma^2))
    owner   = id of the blob giving that maximum

* ``layout="painter"``: Painter's own pose target image, pixel for pixel (Wang et al., "Images Speak
  in Images: A Generalist Painter for In-Context Visual Learning", CVPR 2023; baaivision/Painter
  @cfec84587da2a2cc4e0b9acebe6fba1666e66477 ``Painter/data/mmpose_custom/data/pipelines/
  custom_transform.py`` ``encode_rgb_target_to_image`` on mmpose 0.x MSRA targets of sigma
  ``[1.5, 3]``): centres rounded to whole pixels, ``R = uint8(255 * max of the sigma windows)``
  (truncated), ``(G, B)`` the id's code (the grid below) in its ``sigma / 2`` window, collisions to
  the id of the largest sigma window (:func:`rgbtask.core.keypoints.render_painter` states the
  rule). Default sigma 3 and Painter's decode: nearest of the K codes plus black by L1 on
  ``(G, B)``, the class-masked R, its maxima and mmpose's quarter-pixel step
  (:func:`rgbtask.core.keypoints.find_peaks_painter`). Capacity ``K <= 24``.
* ``layout="grid"`` (named ``painter`` before Painter's own images took the name; images unchanged):
  one RGB image; ``R = round(s h)`` and ``(G, B)`` the owner's code on Painter's grid of
  ``n = floor(sqrt(K)) + 1`` levels per channel, ``G = 255 - (k // n) * (256 // n)``,
  ``B = 255 - (k % n) * (256 // n)`` (``define_colors_gb_mean_sep``); ``(0, 0, 0)`` where
  ``R = 0``: for the 17 COCO keypoints, 5 levels {255, 204, 153, 102, 51} on G and B, 51 code
  values apart; overlapping blobs take the id of the larger one. Capacity ``K <= 24`` (n <= 5 keeps
  the levels 51 apart).
* ``layout="palette"``: one RGB image, ``RGB = round(s h c_k)`` with a distinct colour ``c_k`` per id:
  the fully saturated hue wheel ``c_k = HSV(k / K, 1, 1)`` (max component 1, so ``max(R, G, B)``
  carries the intensity at full 8-bit precision and ``RGB / max`` the id). Capacity ``K <= 36``
  (adjacent hues 10 degrees apart at 36).
* ``layout="stacked"``: ``K`` grayscale heatmaps, three per RGB image (id ``k`` in channel ``k % 3`` of
  page ``k // 3``); the ``P = ceil(K / 3)`` pages lie side by side in one image ``(H, P * W, 3)``.
  Exact for overlapping blobs of different ids; any ``K``; ``P`` times the pixels.

Invisible (``visible=False``) or NaN keypoints are not drawn, and neither are keypoints outside the
canvas ``[-0.5, W - 0.5) x [-0.5, H - 0.5)`` (policy: off-canvas = not in the image); they decode as
NaN. inf is an error.

``unbiased=False`` draws mmpose's default (biased) MSRA heatmap instead: each centre rounded to a
whole pixel and the blob cut to its ``3 sigma`` square window (:func:`rgbtask.core.keypoints.
_snapped_window`).

Decoding: peak candidates are local maxima of the heatmap among same-id neighbours above
``threshold``; refined (``refine``) by

* ``"dark"``: DARK as published (Zhang et al., "Distribution-Aware Coordinate Representation for
  Human Pose Estimation", CVPR 2020; mmpose ``refine_keypoints_dark`` and ``gaussian_blur``,
  open-mmlab/mmpose@759b39c ``mmpose/codecs/utils/refinement.py``, ``post_processing.py``): the
  id's heatmap blurred with OpenCV's Gaussian of the size matching sigma (11 at sigma 2, 17 at
  sigma 3), its log, one 2-D Newton step with the full Hessian (cross term included) at the peak
  pixel; computed on the 5 x 5 blurred pixels around each peak only (the renormalisation to the
  original maximum is a constant in the log and cancels);
* ``"gaussian_fit"``: Gauss-Newton least squares of ``A exp(-|p - c|^2 / (2 sigma^2))`` (sigma
  known, ``A`` and ``c`` free) on a ``ceil(3.5 sigma)`` window around the peak, from the
  per-axis step, without the pixels of other ids and, in each iteration, those more than 25
  levels above the current Gaussian (another blob of the same id): the maximum likelihood estimate under white noise, at the
  Cramer-Rao bound; where it explains every pixel within one level (a lossless image, whose
  only error is the bounded rounding), a few Lawson steps toward the minimax fit
  (:data:`rgbtask.core.keypoints.FIT_LOSSLESS`): 0.2-0.6x DARK's lossless error; the default;
* ``"newton1d"``: per axis a Newton step on the log of the three samples,
  ``-(L+ - L-) / 2 / (L+ - 2 L0 + L-)`` (exact for a sampled Gaussian, whose log is a parabola;
  cheapest, more sensitive to quantisation);
* ``"quarter"`` (a quarter pixel toward the larger neighbour, Newell et al. 2016) or ``"none"``. Per id, candidates closer than
``sigma * sqrt(2 ln(1 / threshold))`` (the blob's radius above the threshold) to a stronger one are
suppressed (NMS) and the ``max_instances`` strongest kept. Instances are assembled id by id (most
detected ids first) by optimal assignment of each id's peaks to the instances so far, at the
distance to their nearest keypoint (single linkage). The output has a fixed shape ``(...,
max_instances, K, 2)``: instances sorted by total score, unused slots NaN (batches need fixed
shapes; ``max_instances`` defaults to 20, COCO's ``maxDets`` for keypoints). The score of a keypoint
is its peak value over the lowest peak a clean blob can have, ``exp(-1 / (4 sigma^2))``, clipped to 1.
The peaks come from :func:`rgbtask.core.keypoints.find_peaks`; NMS, grouping and the matching
of decoded to reference instances live in :mod:`rgbtask.codecs.keypoint_grouping`.

Round-trip bound, ``layout="painter"``: the centre pixel, ``sqrt(2) (0.5 + max(H, W) 2^-24)`` (the
rounding of the float32 coordinate) for a keypoint at least ``isolation_px`` from the others.

Round-trip bound (8-bit codes, the other layouts), for a keypoint at least ``isolation_px`` from
every other drawn keypoint on its plane (grid / palette: any keypoint; stacked: same id) and at
least 1 px inside the canvas edge. Writing ``s = 255``:

* Ties: two pixels straddling the peak can get the same code when the peak is within
  ``delta = sigma^2 / (0.8 s A exp(-1 / (8 sigma^2)))`` (``A = exp(-0.18 / sigma^2)``) of their
  midpoint (mean value theorem on the Gaussian's slope there), so the argmax may be the second
  nearest pixel: the true offset from the argmax is at most ``0.5 + delta`` per axis.
* quarter-offset: the estimate is ``j + 0.25 sign(v+ - v-)`` (0 on equal codes). For a true offset
  ``d`` in ``[-0.5, 0.5]`` with the right sign, ``|d - 0.25 sign d| <= 0.25``; rounding is monotone, so
  the sign is never wrong, only 0, and then ``|d|`` is below a quantization step's worth
  (< 0.25). With ties: per axis ``<= 0.25 + delta``, vector ``<= sqrt(2) (0.25 + delta)``
  (0.377 px at sigma 2).
* DARK: each sample ``v`` is off by at most half a code, so ``|log error| <= eps =
  -log(1 - 0.5 / (s v_min))``, ``v_min = exp(-((1.5 + delta)^2 + (0.5 + delta)^2) / (2 sigma^2))``
  the smallest of the three samples. With ``g = (L+ - L-) / 2`` (error <= eps) and the second
  difference ``c = -1 / sigma^2`` (error <= 4 eps), the Newton offset ``-g / c`` is exact for the
  parabola and off by ``|dg + d dc| / |c + dc| <= eps (1 + 4 (0.5 + delta)) / (1 / sigma^2 - 4 eps)``;
  add ``delta`` for the clip at +-0.5. Vector: ``sqrt(2)`` times that, 0.0735 px at sigma 2.
* ``gaussian_fit`` and ``dark`` declare the DARK bound above, derived for the 3-sample step
  (``newton1d``), not for them: the tests check it (their measured maxima are 20x below); ``dark``
  only ``radius + 1`` px inside the canvas (its zero-padded blur pulls a blob cut by the edge
  inward) and no bound nearer the edge.
* ``refine="none"``, and any keypoint within 1 px of the canvas edge: ``sqrt(2) (0.5 + delta)``.
* ``unbiased=False``: half a pixel more per axis (the blob sits at the rounded keypoint).

Keypoints closer than ``isolation_px`` to another blob on their plane have no bound (the blobs
merge). ``isolation_px = sigma * sqrt(2 ln(1 / threshold)) + 2`` (5.1 px at sigma 2): beyond it the
NMS radius and the 3 x 3 neighbourhood of each peak are untouched by the other blob. The bound is
per keypoint: :meth:`roundtrip_error` matches decoded keypoints to the reference ones of the same id
(optimal assignment) and counts a missed keypoint or a spurious one as infinite. It measures
localisation and identity; the grouping into instances is not bounded (two people's wrists are
equally good wrists) and :meth:`metrics` scores it, matching whole instances.
"""

from __future__ import annotations

import colorsys
import dataclasses
import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from rgbtask.codec import Codec, Decoded, check_value, describe_array, rgb_scale
from rgbtask.codecs.keypoint_grouping import (  # noqa: F401  (nms, assemble, strongest: old paths)
    assemble,
    group_peaks,
    match_error,
    match_instances,
    nms,
    strongest,
)
from rgbtask.core import keypoints as kernels
from rgbtask.core._tables import TableCache
from rgbtask.errors import ConfigError, InputError
from rgbtask.io.tasks import COCO_KEYPOINTS_IO
from rgbtask.params import boolean, integer, number, one_of, param, size_hw
from rgbtask.registry import register_codec

__all__ = [
    "LAYOUTS",
    "REFINES",
    "KeypointsHeatmap",
    "painter_codes",
    "painter_grid",
    "palette_colors",
]

#: Layout name -> (kernel flag, maximum number of keypoint ids).
LAYOUTS: dict[str, tuple[int, int | None]] = {
    "painter": (kernels.PAINTER_PUBLISHED, 24),
    "grid": (kernels.PAINTER, 24),
    "palette": (kernels.PALETTE, 36),
    "stacked": (kernels.STACKED, None),
}
#: Refinement name -> kernel flag (module docstring).
REFINES = {
    "none": kernels.REFINE_NONE,
    "quarter": kernels.REFINE_QUARTER,
    "newton1d": kernels.REFINE_NEWTON1D,
    "dark": kernels.REFINE_DARK,
    "gaussian_fit": kernels.REFINE_GAUSSIAN_FIT,
}
SCALE = 255.0
#: Per layout, the defaults of ``sigma`` and ``refine`` (None in the constructor): Painter's
#: published sigma (3 for R; the G/B class code within the sigma / 2 = 1.5 windows) and its decode
#: (mmpose's quarter-pixel step); DARK at sigma 2 for the others.
LAYOUT_DEFAULTS: dict[str, tuple[float, str]] = {
    "painter": (3.0, "quarter"),
    "grid": (2.0, "gaussian_fit"),
    "palette": (2.0, "gaussian_fit"),
    "stacked": (2.0, "gaussian_fit"),
}

_tables = TableCache("keypoint layout colours", max_entries=64)


def painter_grid(num_keypoints: int) -> tuple[int, int]:
    """Painter's code grid for K ids: ``(n, sep)``, ``n = floor(sqrt(K)) + 1`` levels per channel
    (G and B), ``sep = 256 // n`` code values apart (``define_colors_gb_mean_sep`` in Painter)."""
    n = math.isqrt(num_keypoints) + 1
    return n, 256 // n


def painter_codes(num_keypoints: int) -> np.ndarray:
    """Painter's (G, B) code per id, ``(K, 2)`` integers: id ``k`` gets
    ``G = 255 - (k // n) * sep``, ``B = 255 - (k % n) * sep`` on :func:`painter_grid`'s grid."""
    n, sep = painter_grid(num_keypoints)
    k = np.arange(num_keypoints)
    return np.stack([255 - (k // n) * sep, 255 - (k % n) * sep], axis=-1)


def palette_colors(num_keypoints: int) -> np.ndarray:
    """The hue-wheel palette ``(K, 3)`` in [0, 1], max component 1."""
    return np.array(
        [colorsys.hsv_to_rgb(k / num_keypoints, 1.0, 1.0) for k in range(num_keypoints)]
    )


def _colors(layout: str, num_keypoints: int) -> np.ndarray:
    """The id colours the kernels take, ``(K, 3)`` float64 (read-only, cached per layout and K)."""

    def build() -> np.ndarray:
        table = np.zeros((num_keypoints, 3))
        if layout in ("painter", "grid"):
            table[:, 1:] = painter_codes(num_keypoints)
        elif layout == "palette":
            table[:] = palette_colors(num_keypoints)
        table.setflags(write=False)
        return table

    return _tables.get((layout, num_keypoints), build)


@register_codec
@dataclass(frozen=True, eq=False, repr=False)
class KeypointsHeatmap(Codec):
    """Keypoints ``(..., N, K, 2)`` <-> Gaussian heatmap images, the id in the colour.

    Parameters
    ----------
    size : (H, W) or None
        Canvas size in pixels; decode refuses any other image size. None means per sample: the
        canvas is each image's own (``rgbtask convert`` takes it from the COCO image's width and
        height and records it per output in the manifest); such a codec cannot encode on its own
        (give it a size), and decodes an image at the size the image has.
    num_keypoints : int
        K, the number of keypoint ids.
    sigma : float or None
        Blob standard deviation in pixels (>= 0.5); None: the layout's (painter: 3, the R
        heatmap's sigma as Painter, whose G/B class code lies in the sigma / 2 = 1.5 windows;
        the others: 2). :attr:`blob_sigma` is the one in use.
    layout : {"painter", "grid", "palette", "stacked"}
        How the id travels (module docstring); ``stacked`` gives ``(H, ceil(K / 3) * W, 3)`` images.
    refine : {"gaussian_fit", "dark", "newton1d", "quarter", "none"} or None
        Sub-pixel refinement of each peak (module docstring); None: the layout's (painter:
        ``"quarter"``, Painter's own decode; the others: ``"gaussian_fit"``, a least-squares fit
        of the known-sigma Gaussian, the most accurate). ``"dark"`` is DARK as published
        (mmpose), ``"newton1d"`` the cheap per-axis Newton step on the log of the 3 samples.
        :attr:`refine_method` is the one in use.
    max_instances : int
        Instances per image: encode refuses more, decode always returns this many (NaN padded).
    threshold : float
        Lowest peak value (0..1) that counts as a keypoint.
    unbiased : bool
        True (default): each blob centred at its sub-pixel keypoint. False: mmpose's default
        (biased) MSRA heatmap (``MSRAHeatmap(unbiased=False)``): the centre rounded to a whole
        pixel, ``int(x + 0.5)``, and the blob cut to its square window of half-width
        ``3 sigma`` (mmpose's ``generate_gaussian_heatmaps``). Decoding then finds the rounded
        centre, so the round trip is off by up to half a pixel per axis.
    """

    name: ClassVar[str] = "keypoints/heatmap"
    torch_impl: ClassVar[str | None] = "rgbtask.torch._keypoints:_KeypointsNative"
    error_unit: ClassVar[str] = "px"
    primary_metric: ClassVar[tuple[str, bool]] = ("mean_px", True)
    task_io: ClassVar[Any] = COCO_KEYPOINTS_IO

    size: tuple[int, int] | None = param(None, size_hw, optional=True)
    num_keypoints: int | None = param(None, integer(lo=1), optional=True)
    sigma: float | None = param(None, number(lo=0.5, hi=64.0), optional=True)
    layout: str = param("painter", one_of(*LAYOUTS))
    refine: str | None = param(None, one_of(*REFINES), optional=True)
    max_instances: int = param(20, integer(lo=1))
    threshold: float = param(0.3, number(lo=0.01, hi=0.9))
    unbiased: bool = param(True, boolean)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.num_keypoints is None:
            raise ConfigError(
                "keypoints/heatmap needs num_keypoints: e.g. get_codec("
                "'keypoints/heatmap', size=(256, 192), num_keypoints=17)"
            )
        capacity = LAYOUTS[self.layout][1]
        if capacity is not None and self.num_keypoints > capacity:
            raise ConfigError(
                f"expected num_keypoints <= {capacity} for layout {self.layout!r}, "
                f"got {self.num_keypoints}; use layout='stacked' for more ids"
            )

    # ---------------------------------------------------------------- description
    @property
    def blob_sigma(self) -> float:
        """The blob sigma in use: ``sigma``, or the layout's default when None (painter: 3, as
        Painter; the others: 2)."""
        return LAYOUT_DEFAULTS[self.layout][0] if self.sigma is None else self.sigma

    @property
    def refine_method(self) -> str:
        """The refinement in use: ``refine``, or the layout's default when None (painter:
        ``"quarter"``, Painter's own decode; the others: ``"gaussian_fit"``)."""
        return LAYOUT_DEFAULTS[self.layout][1] if self.refine is None else self.refine

    @property
    def pages(self) -> int:
        """RGB pages side by side in one encoded image (``stacked``: ceil(K / 3); else 1)."""
        return -(-self.num_keypoints // 3) if self.layout == "stacked" else 1

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """The shape of one encoded image."""
        h, w = self._canvas()
        return (h, w * self.pages, 3)

    def _canvas(self) -> tuple[int, int]:
        """``size``, or a ConfigError saying how a per-sample codec (``size=None``) gets one."""
        if self.size is None:
            raise ConfigError(
                "expected a canvas size: this keypoints/heatmap codec has size=None (per sample); "
                "give it each image's size, e.g. get_codec({**codec.get_config(), 'size': "
                "(H, W)}), or let rgbtask convert take it from the COCO file"
            )
        return self.size

    @property
    def levels(self) -> int:
        """Intensity levels of the heatmap (8-bit codes)."""
        return 256

    @property
    def radius(self) -> float:
        """Half-width of a drawn blob: beyond it ``255 h`` rounds to 0."""
        return self.blob_sigma * math.sqrt(2.0 * math.log(2.0 * SCALE))

    @property
    def class_sigma(self) -> float:
        """``layout="painter"``: the sigma whose window carries the G/B class code (sigma / 2;
        Painter's 1.5 for its R sigma 3)."""
        return self.blob_sigma / 2.0

    @property
    def nms_radius(self) -> float:
        """Radius of a blob above the threshold; peaks of one id closer than it are merged.
        ``painter``: at least the half-diagonal of the square class window (7.1 px at Painter's
        sigma 1.5), inside which a second maximum of the id can only be an artefact (JPEG rings at
        the window's edges) since the window is the id's own."""
        radius = self.blob_sigma * math.sqrt(2.0 * math.log(1.0 / self.threshold))
        if self.layout == "painter":
            radius = max(radius, math.sqrt(2.0) * (3.0 * self.class_sigma + 0.5))
        return radius

    @property
    def isolation_px(self) -> float:
        """Distance from other blobs on its plane beyond which a keypoint keeps the bound."""
        return self.nms_radius + 2.0

    @property
    def tie_px(self) -> float:
        """delta of the module docstring: how far from a pixel midpoint the argmax may flip."""
        s2 = self.blob_sigma**2
        amp = math.exp(-0.18 / s2)
        return s2 / (0.8 * SCALE * amp * math.exp(-1.0 / (8.0 * s2)))

    def axis_bound(self, refine: str | None = None) -> float:
        """The per-axis round-trip bound of an isolated interior keypoint (module docstring)."""
        refine = self.refine_method if refine is None else refine
        if self.layout == "painter":
            # centres rounded to whole pixels (on the float32 coordinate, as mmpose): the blob is
            # symmetric about the argmax, every refinement returns that pixel
            return 0.5 + max(self.size or (1 << 16,)) * 2.0**-24
        delta = self.tie_px
        if delta > 0.1:
            return math.inf
        if not self.unbiased:  # the blob sits at the rounded keypoint: up to half a pixel off
            return 0.5 + dataclasses.replace(self, unbiased=True).axis_bound(refine)
        if refine == "none":
            return 0.5 + delta
        if refine == "quarter":
            return 0.25 + delta
        s2 = self.blob_sigma**2
        v_min = math.exp(-((1.5 + delta) ** 2 + (0.5 + delta) ** 2) / (2.0 * s2))
        eps = -math.log(1.0 - 0.5 / (SCALE * v_min))
        denom = 1.0 / s2 - 4.0 * eps
        if denom <= 0:
            return math.inf
        return eps * (1.0 + 4.0 * (0.5 + delta)) / denom + delta

    @property
    def max_error_px(self) -> float:
        """The round-trip bound (px) of an isolated keypoint 1 px or more inside the canvas."""
        return math.sqrt(2.0) * self.axis_bound()

    def bound_text(self) -> str:
        return (
            f"error <= {self.max_error_px:.4g} px ({self.refine_method}) for keypoints "
            f">= {self.isolation_px:.3g} px from other blobs and >= 1 px inside the canvas"
        )

    # ---------------------------------------------------------------- encode
    def encode(self, keypoints: Any, visible: Any = None) -> np.ndarray:
        """Keypoints ``(..., N, K, 2)`` (or ``(K, 2)``) and optional visibility ``(..., N, K)``
        -> RGB ``(..., H, W', 3)`` uint8 (``W' = W``, or ``ceil(K / 3) * W`` for ``stacked``).

        NaN, invisible and off-canvas keypoints are not drawn.
        """
        return self._encode(self.with_visibility(keypoints, visible))

    def with_visibility(self, keypoints: Any, visible: Any = None) -> np.ndarray:
        """Validated keypoints ``(..., N, K, 2)`` float64 with NaN where ``visible`` (bool
        ``(..., N, K)``, broadcast) is False: what :meth:`encode` draws."""
        kp = self.validate_value(keypoints)
        if visible is not None:
            vis = np.asarray(visible)
            if vis.dtype != np.bool_:
                raise InputError(f"expected visible as a bool array, got {describe_array(vis)}")
            if vis.ndim == 1 and kp.shape[:-3] == () and kp.shape[-3] == 1:
                vis = vis[None]
            try:
                vis = np.broadcast_to(vis, kp.shape[:-1])
            except ValueError:
                raise InputError(
                    f"expected visible of shape {kp.shape[:-1]} (the keypoints' (..., N, K)), "
                    f"got {describe_array(np.asarray(visible))}"
                ) from None
            kp = np.where(vis[..., None], kp, np.nan)
        return kp

    def validate_value(self, value: Any) -> np.ndarray:
        k = self.num_keypoints
        # zero instances (N = 0) are a valid value: an image with nobody in it
        kp = check_value(value, "keypoints", f"(..., N, {k}, 2) or ({k}, 2)", allow_empty=True)
        if kp.ndim == 2:
            kp = kp[None]
        if kp.ndim < 3 or kp.shape[-1] != 2 or kp.shape[-2] != k:
            raise InputError(
                f"expected keypoints of shape (..., N, {k}, 2) or ({k}, 2), got {describe_array(kp)}"
            )
        if kp.shape[-3] > self.max_instances:
            raise InputError(
                f"expected at most max_instances={self.max_instances} instances, got "
                f"{kp.shape[-3]}; raise max_instances"
            )
        kp = kp.astype(np.float64)
        if np.any(np.isinf(kp)):
            raise InputError("expected finite keypoints (NaN = absent), got inf")
        return np.ascontiguousarray(kp)

    def _drawable(self, kp: np.ndarray) -> np.ndarray:
        """Keypoints with NaN where not drawn (off-canvas policy)."""
        h, w = self._canvas()
        with np.errstate(invalid="ignore"):
            on = (kp[..., 0] >= -0.5) & (kp[..., 0] < w - 0.5)
            on &= (kp[..., 1] >= -0.5) & (kp[..., 1] < h - 0.5)
        return np.where(on[..., None], kp, np.nan)

    def _plane_of(self) -> np.ndarray:
        if self.layout == "stacked":
            return np.arange(self.num_keypoints, dtype=np.int64)
        return np.zeros(self.num_keypoints, dtype=np.int64)

    def _encode(self, kp: np.ndarray) -> np.ndarray:
        kp = self._drawable(kp)
        lead = kp.shape[:-3]
        flat = np.ascontiguousarray(_batch_of(kp))
        if self.layout == "painter":
            h, w = self._canvas()
            out = kernels.render_painter(
                flat,
                height=h,
                width=w,
                codes=painter_codes(self.num_keypoints),
                sigma_r=self.blob_sigma,
                sigma_c=self.class_sigma,
            )
            return out.reshape(lead + self.image_shape)
        out = kernels.render(
            flat,
            height=self._canvas()[0],
            width=self._canvas()[1],
            pages=self.pages,
            plane_of=self._plane_of(),
            colors=_colors(self.layout, self.num_keypoints),
            layout=LAYOUTS[self.layout][0],
            n_planes=self.num_keypoints if self.layout == "stacked" else 1,
            sigma=self.blob_sigma,
            radius=self.radius if self.unbiased else 3.0 * self.blob_sigma,
            scale=SCALE,
            snap=not self.unbiased,
        )
        return out.reshape(lead + self.image_shape)

    # ---------------------------------------------------------------- decode
    def _decode(self, rgb: np.ndarray) -> Decoded:
        """``Decoded((..., M, K, 2) pixels, (..., M, K) score, found)``: peaks, grouped."""
        if self.size is None:  # per sample: the canvas is the image's own
            if rgb.ndim < 3 or rgb.shape[-2] % self.pages:
                raise InputError(
                    f"expected images (..., H, {self.pages} * W, 3) for layout {self.layout!r} "
                    f"({self.pages} page(s) side by side), got {describe_array(rgb)}"
                )
            size = (rgb.shape[-3], rgb.shape[-2] // self.pages)
            return dataclasses.replace(self, size=size)._decode(rgb)
        if rgb.shape[-3:] != self.image_shape:
            raise InputError(
                f"expected images of shape (..., {', '.join(map(str, self.image_shape))}) "
                f"(size={self.size}, layout={self.layout!r}), got {describe_array(rgb)}"
            )
        lead = rgb.shape[:-3]
        flat = rgb.reshape((-1,) + self.image_shape)
        k, m = self.num_keypoints, self.max_instances
        if self.layout == "painter":
            cand, count = kernels.find_peaks_painter(
                flat,
                codes=painter_codes(k),
                scale=rgb_scale(rgb),
                threshold=self.threshold,
                refine=REFINES[self.refine_method],
                capacity=max(64, 8 * k * m),
                majority=m > 1,
            )
        else:
            cand, count = self._find_peaks(flat, rgb_scale(rgb))
        clean_peak = math.exp(-1.0 / (4.0 * self.blob_sigma**2))
        value, peak = group_peaks(cand, count, k, m, self.nms_radius)
        score = np.clip(peak / clean_peak, 0.0, 1.0)
        valid = np.all(np.isfinite(value), axis=-1)
        score = np.where(valid, score, 0.0).astype(np.float32)
        shape = lead + (m, k)
        return Decoded(value.reshape(shape + (2,)), score.reshape(shape), valid.reshape(shape))

    def _find_peaks(self, flat: np.ndarray, scale: float) -> tuple[np.ndarray, np.ndarray]:
        k, m = self.num_keypoints, self.max_instances
        h, w = self._canvas()
        n, sep = painter_grid(k)
        return kernels.find_peaks(
            flat,
            colors=_colors(self.layout, k),
            layout=LAYOUTS[self.layout][0],
            num_keypoints=k,
            n_planes=k if self.layout == "stacked" else 1,
            height=h,
            width=w,
            grid_n=n,
            grid_sep=float(sep),
            scale=scale,
            threshold=self.threshold,
            refine=REFINES[self.refine_method],
            capacity=max(64, 8 * k * m),
            sigma=self.blob_sigma,
        )

    # ---------------------------------------------------------------- range
    def range_text(self) -> str:
        if self.size is None:
            return (
                "keypoints on each image's canvas (size=None: per sample), or NaN where not found "
                f"(max_instances = {self.max_instances} slots)"
            )
        h, w = self._canvas()
        return (
            f"keypoints on the canvas, x in [-0.5, {w - 0.5:g}] and y in [-0.5, {h - 0.5:g}] px "
            f"(max_instances = {self.max_instances} slots), or NaN where not found"
        )

    def in_range(self, decoded: Decoded) -> np.ndarray:
        """Valid: finite and on the canvas ``[-0.5, W - 0.5] x [-0.5, H - 0.5]`` (a peak pixel's
        centre plus a refinement of at most half a pixel); not found: NaN."""
        h, w = self._canvas()
        kp = np.asarray(decoded.value, dtype=np.float64)
        x, y = kp[..., 0], kp[..., 1]
        with np.errstate(invalid="ignore"):
            on = (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)
        return np.where(decoded.valid, on, np.isnan(x) & np.isnan(y))

    # ---------------------------------------------------------------- bound
    def _as_instances(self, reference: Any) -> np.ndarray:
        ref = np.asarray(reference, dtype=np.float64)
        if ref.ndim == 2:
            ref = ref[None]
        return self._drawable(ref)

    def roundtrip_error(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """Pixel distance per ``(..., max_instances, K)`` slot: localisation and id, not grouping.

        Per id, decoded keypoints are matched to the reference ones (optimal assignment on
        distance, whatever instance they were grouped into); slot ``(n, k)`` holds reference
        keypoint ``(n, k)``'s distance to its match, inf if it has none, and a spurious decoded
        keypoint puts inf in a slot whose reference is absent. Grouping into instances is a
        heuristic when instances interleave (module docstring); :meth:`metrics` scores it.
        """
        ref = self._as_instances(reference)
        dec = np.asarray(decoded, dtype=np.float64)
        lead = dec.shape[:-3]
        ref = _batch_of(np.broadcast_to(ref, lead + ref.shape[-3:]))
        dec = _batch_of(dec)
        out = np.stack([match_error(r, d) for r, d in zip(ref, dec)])
        return out.reshape(lead + out.shape[-2:])

    def roundtrip_bound(self, reference: np.ndarray) -> np.ndarray:
        """Per slot: the bound for isolated keypoints 1 px inside the canvas (module docstring),
        ``sqrt(2) (0.5 + delta)`` for isolated ones nearer the edge, inf for crowded ones, 0 for
        absent ones and for the padding slots."""
        ref = self._as_instances(reference)
        h, w = self._canvas()
        n = ref.shape[-3]
        flat = _batch_of(ref)
        bounds = np.zeros((flat.shape[0], self.max_instances, self.num_keypoints))
        edge = math.sqrt(2.0) * (0.5 + self.tie_px) if self.tie_px <= 0.1 else math.inf
        margin = 1.0
        if self.layout == "painter":
            edge = self.max_error_px
        elif self.refine_method == "dark":  # the zero-padded blur pulls an edge-cut blob inward
            edge, margin = math.inf, self.radius + 1.0
        plane = self._plane_of()
        for b, inst in enumerate(flat):
            x, y = inst[..., 0], inst[..., 1]
            drawn = np.isfinite(x)
            interior = drawn & (x >= margin) & (x <= w - 1 - margin)
            interior &= (y >= margin) & (y <= h - 1 - margin)
            pts = inst.reshape(-1, 2)
            planes = np.broadcast_to(plane, x.shape).reshape(-1)
            d = np.linalg.norm(pts[:, None] - pts[None], axis=-1)
            same = (planes[:, None] == planes[None]) & ~np.eye(len(pts), dtype=bool)
            with np.errstate(invalid="ignore"):
                crowded = np.any(same & (d < self.isolation_px), axis=1).reshape(x.shape)
            bound = np.where(interior, self.max_error_px, edge)
            bound = np.where(crowded, np.inf, bound)
            bounds[b, :n] = np.where(drawn, bound, 0.0)
        return bounds.reshape(ref.shape[:-3] + bounds.shape[-2:])

    def metrics(self, reference: np.ndarray, decoded: np.ndarray) -> dict[str, Any]:
        """:func:`rgbtask.metrics.keypoint_metrics` after matching decoded instances to the
        reference (PCK@0.05 of each instance's keypoint extent)."""
        from rgbtask.metrics import keypoint_box_size, keypoint_metrics

        ref = self._as_instances(reference)
        aligned = self.align(reference, decoded)[..., : ref.shape[-3], :, :]
        ref = np.broadcast_to(ref, aligned.shape)
        out = keypoint_metrics(aligned, ref, bbox_size=keypoint_box_size(ref))
        return out

    def align(self, reference: np.ndarray, decoded: np.ndarray) -> np.ndarray:
        """Decoded instances reordered to match the reference's ``(..., N, K, 2)``."""
        ref = self._as_instances(reference)
        dec = np.asarray(decoded, dtype=np.float64)
        lead = dec.shape[:-3]
        ref = _batch_of(np.broadcast_to(ref, lead + ref.shape[-3:]))
        flat = _batch_of(dec)
        out = np.stack([d[match_instances(r, d)] for r, d in zip(ref, flat)])
        return out.reshape(lead + out.shape[-3:])

    # ---------------------------------------------------------------- examples
    @classmethod
    def examples(cls, scene: Any):
        kp = np.where(scene.visible[..., None], scene.keypoints, np.nan).astype(np.float64)
        size = scene.shape
        k = kp.shape[1]
        yield cls(size=size, num_keypoints=k, max_instances=1), [kp[:1], kp[1:2], kp[2:3]]
        yield cls(size=size, num_keypoints=k, layout="palette", max_instances=1), [kp[:1]]
        yield (
            cls(size=size, num_keypoints=k, layout="stacked", refine="quarter", max_instances=4),
            [kp, kp[::-1]],
        )
        yield cls(size=size, num_keypoints=k, max_instances=4), [kp]


# ---------------------------------------------------------------- helpers


def _batch_of(array: np.ndarray) -> np.ndarray:
    """``(..., N, K, 2)`` as ``(B, N, K, 2)``; unlike ``reshape(-1, ...)``, fine with N = 0."""
    return array.reshape((math.prod(array.shape[:-3]),) + array.shape[-3:])
