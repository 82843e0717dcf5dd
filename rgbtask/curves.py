"""Curves through the RGB cube: a parameter ``f`` in [0, 1] -> a colour, and back by projection.

A :class:`Curve` is an ordered table of ``levels`` distinct 8-bit colours (``codes``): level ``i`` sits at
``f = i / (levels - 1)`` and encoding picks the nearest level, ``i = floor(f * (levels - 1) + 0.5)``.
Decoding projects a colour onto the curve:

* ``kind == "polyline"`` (``cubewalk``, ``hue``, ``gray``): the exact nearest point on the piecewise
  linear path through ``vertices`` (first segment wins ties); on segment ``k`` at local position
  ``t`` the parameter is ``(k + t) / K`` for equal segments (as in hilbertmap, so results agree bit for
  bit) and ``(knot_k + t * (knot_{k+1} - knot_k)) / (levels - 1)`` otherwise.
* ``kind == "palette"`` (matplotlib colormaps, user control points): the nearest of the ``codes``
  (nearest colour; lowest index wins ties), ``f = i / (levels - 1)``.

Every curve reserves one **off-curve code** for invalid depth, far from every level, and a colour is
valid while its distance to the curve is below ``threshold`` (half the reserved code's distance).

Sources: ``cubewalk`` is the Vision Banana encoding as published in the ``hilbertmap`` package 0.1.3
(``hilbertmap/cubewalk.py``: black, red, yellow, green, cyan, blue, magenta, white along 7 cube edges);
``hue`` is Intel RealSense's hue colorization ("Depth image compression by colorization for Intel
RealSense depth cameras", Intel white paper, 2020: red -> yellow -> green -> cyan -> blue -> magenta and
back towards red, 1530 levels, decoded by the largest channel); ``gray`` replicates one value in three
channels (Marigold, Ke et al. CVPR 2024).

16 bits (``bits=16``, issue 15): the same vertices, every code on a 65535 scale (``uint16``
``codes``). The polylines scale their knots by 65535 / 255 = 257, so each edge is walked in steps of
one 16-bit code: cubewalk 7 * 65535 + 1 = 458,746 levels, hue ``wrap`` 1529 * 257 + 1 = 392,954,
``nowrap`` 5 * 65535 + 1 = 327,676, gray 65,536 (257 times the 8-bit steps less one). Colormaps and
control points become the polyline through their colours rounded to 16 bits, each segment walked in
steps of one code of its largest channel change (:func:`_polyline16`), decoded by projection onto
that polyline (not by nearest colour: a palette of ~10^5 colours has no fast exact search). Reserved
codes are the 8-bit ones times 257. Decoding 16-bit codes needs no table: the projection lands
within 0.36 of a level on the segment (the largest channel moves exactly one code per level, the
others are off by at most half a code), so rounding it and checking ``codes`` gives the exact level.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from rgbtask.core._tables import TableCache, new_lut
from rgbtask.errors import ConfigError

__all__ = [
    "Curve",
    "SourceTable",
    "colormap_curve",
    "cubewalk",
    "curve_from_points",
    "decode_lut",
    "gray",
    "hue",
    "projection_grid",
    "source_table",
]

#: Cube-walk vertices (hilbertmap 0.1.3, ``VERTICES``): a Gray-code order along 7 cube edges.
CUBEWALK_VERTICES = (
    (0, 0, 0),
    (1, 0, 0),
    (1, 1, 0),
    (0, 1, 0),
    (0, 1, 1),
    (0, 0, 1),
    (1, 0, 1),
    (1, 1, 1),
)
#: RealSense hue wheel: red, yellow, green, cyan, blue, magenta.
HUE_VERTICES = ((1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 1, 1), (0, 0, 1), (1, 0, 1))


@dataclass(frozen=True, eq=False)
class Curve:
    """An invertible colour curve (see the module docstring). Build with the factory functions."""

    key: tuple
    kind: str  # "polyline" or "palette"
    codes: np.ndarray  # (levels, 3) uint8
    vertices: np.ndarray  # (K + 1, 3) float64 in [0, 1] (polyline) or codes / 255 (palette)
    knots: np.ndarray  # (K + 1,) float64, level units
    uniform: bool
    reserved: tuple[int, int, int]
    threshold: float
    fine: int = 3  # fine indices per level: q = round(f * fine * (levels - 1))
    bits: int = 8  # codes are uint8 (8) or uint16 (16)

    @property
    def levels(self) -> int:
        return int(self.codes.shape[0])

    @property
    def n_fine(self) -> int:
        return self.fine * (self.levels - 1) + 1

    def colors(self, f: np.ndarray) -> np.ndarray:
        """Float colours (..., 3) of the continuous curve at parameters ``f`` (for figures)."""
        f = np.clip(np.asarray(f, dtype=np.float64), 0.0, 1.0)
        if self.kind == "palette":
            x = np.arange(self.levels) / (self.levels - 1)
            cols = self.codes / 255.0
            return np.stack([np.interp(f, x, cols[:, j]) for j in range(3)], axis=-1)
        u = f * (self.levels - 1)
        return np.stack([np.interp(u, self.knots, self.vertices[:, j]) for j in range(3)], axis=-1)


def _polyline_codes(vertices: np.ndarray, knots: np.ndarray, bits: int = 8) -> np.ndarray:
    u = np.arange(int(round(knots[-1])) + 1, dtype=np.float64)
    cols = np.stack([np.interp(u, knots, vertices[:, j]) for j in range(3)], axis=-1)
    full = float(2**bits - 1)
    return np.floor(cols * full + 0.5).astype(np.uint8 if bits == 8 else np.uint16)


def _distance_to_polyline(p: np.ndarray, vertices: np.ndarray) -> float:
    best = math.inf
    for a, b in zip(vertices[:-1], vertices[1:]):
        e = b - a
        t = min(1.0, max(0.0, float(np.dot(p - a, e) / np.dot(e, e))))
        best = min(best, float(np.linalg.norm(p - (a + t * e))))
    return best


def _make_polyline(key, vertices, knots, reserved, bits: int = 8) -> Curve:
    """An 8-bit polyline curve; ``bits=16``: the same with knots times 257, codes and reserved
    code on the 16-bit scale (see the module docstring)."""
    vertices = np.asarray(vertices, dtype=np.float64)
    knots = np.asarray(knots, dtype=np.float64)
    dist = _distance_to_polyline(np.asarray(reserved) / 255.0, vertices)
    if bits == 16:
        knots = knots * 257.0
        reserved = tuple(int(v) * 257 for v in reserved)
        key = (*key, 16)
    steps = np.diff(knots)
    codes = _polyline_codes(vertices, knots, bits)
    return Curve(
        key=key,
        kind="polyline",
        codes=codes,
        vertices=vertices,
        knots=knots,
        uniform=bool(np.all(steps == steps[0])),
        reserved=tuple(int(v) for v in reserved),
        threshold=0.5 * dist,
        bits=bits,
    )


@functools.cache
def cubewalk(bits: int = 8) -> Curve:
    """Vision Banana's cube walk: 7 edges, 7 * 255 + 1 = 1786 levels; invalid = grey (128, 128, 128).
    ``bits=16``: 458,746 levels."""
    return _make_polyline(
        ("cubewalk",), CUBEWALK_VERTICES, np.arange(8) * 255.0, (128, 128, 128), bits
    )


@functools.cache
def hue(variant: str = "wrap", bits: int = 8) -> Curve:
    """RealSense hue: ``"wrap"`` 1530 levels (stops one step short of red), ``"nowrap"`` 1276
    levels (red to magenta, 300 degrees). Invalid = black, as in the RealSense colorizer."""
    if variant == "wrap":
        vertices = (*HUE_VERTICES, (1, 0, 1 / 255))
        knots = (0, 255, 510, 765, 1020, 1275, 1529)
    elif variant == "nowrap":
        vertices = HUE_VERTICES
        knots = (0, 255, 510, 765, 1020, 1275)
    else:
        raise ConfigError(f"expected variant 'wrap' or 'nowrap', got {variant!r}")
    return _make_polyline(("hue", variant), vertices, knots, (0, 0, 0), bits)


@functools.cache
def gray(bits: int = 8) -> Curve:
    """One value in three channels: 256 levels (``bits=16``: 65,536). Invalid = red (255, 0, 0),
    the furthest corner."""
    return _make_polyline(("gray",), ((0, 0, 0), (1, 1, 1)), (0, 255), (255, 0, 0), bits)


#: Invalid-code candidates for colormaps and control points: the cube's corners, then its centre.
_RESERVED_CANDIDATES = [(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)] + [
    (128, 128, 128)
]


def _polyline16(key, points: np.ndarray, what: str) -> Curve:
    """The 16-bit curve of colormap colours or control points (K, 3) in [0, 1]: the polyline
    through them rounded to 16-bit codes (repeats dropped), segment ``k`` walked in ``n_k`` =
    its largest channel change in codes steps (knots = cumulative ``n_k``), decoded by projection.
    The reserved code is the candidate (corners, centre) furthest from the polyline."""
    v = np.floor(np.asarray(points, dtype=np.float64) * 65535.0 + 0.5)
    keep = np.ones(len(v), dtype=bool)
    keep[1:] = np.any(v[1:] != v[:-1], axis=1)
    v = v[keep]
    if len(v) < 2:
        raise ConfigError(f"expected at least 2 distinct colours, got {what}")
    n = np.max(np.abs(np.diff(v, axis=0)), axis=1)
    knots = np.concatenate([[0.0], np.cumsum(n)])
    vertices = v / 65535.0
    codes = _polyline_codes(vertices, knots, 16)
    packed = (codes[:, 0].astype(np.uint64) << 32) | (codes[:, 1].astype(np.uint64) << 16)
    packed |= codes[:, 2].astype(np.uint64)
    _, first, counts = np.unique(packed, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = codes[first[np.argmax(counts > 1)]]
        raise ConfigError(
            f"expected an injective curve, got {what} with duplicate 16-bit colour "
            f"{tuple(int(x) for x in dup)}: it cannot be decoded unambiguously"
        )
    dists = [_distance_to_polyline(np.asarray(p) / 255.0, vertices) for p in _RESERVED_CANDIDATES]
    best = int(np.argmax(dists))
    if dists[best] < 0.2:
        raise ConfigError(
            f"expected a curve that leaves room for an invalid code, got {what} passing within "
            f"{dists[best]:.3f} of every cube corner and the centre"
        )
    steps = np.diff(knots)
    return Curve(
        key=(*key, 16),
        kind="polyline",
        codes=codes,
        vertices=vertices,
        knots=knots,
        uniform=bool(np.all(steps == steps[0])),
        reserved=tuple(int(c) * 257 for c in _RESERVED_CANDIDATES[best]),
        threshold=0.5 * dists[best],
        bits=16,
    )


def _make_palette(key, codes: np.ndarray, what: str) -> Curve:
    codes = np.ascontiguousarray(codes, dtype=np.uint8)
    if codes.ndim != 2 or codes.shape[1] != 3 or codes.shape[0] < 2:
        raise ConfigError(f"expected at least 2 colours of shape (N, 3), got {codes.shape}")
    if codes.shape[0] > 20000:
        raise ConfigError(f"expected at most 20000 levels, got {codes.shape[0]} from {what}")
    _, first, counts = np.unique(codes, axis=0, return_index=True, return_counts=True)
    if np.any(counts > 1):
        dup = codes[first[np.argmax(counts > 1)]]
        where = np.flatnonzero(np.all(codes == dup, axis=1))
        raise ConfigError(
            f"expected an injective curve, got {what} with duplicate 8-bit colour {tuple(int(v) for v in dup)} at "
            f"levels {where.tolist()}: it cannot be decoded unambiguously"
        )
    cands = [(r, g, b) for r in (0, 255) for g in (0, 255) for b in (0, 255)] + [(128, 128, 128)]
    c = codes.astype(np.float64) / 255.0
    dists = [float(np.min(np.linalg.norm(c - np.asarray(p) / 255.0, axis=1))) for p in cands]
    best = int(np.argmax(dists))
    if dists[best] < 0.2:
        raise ConfigError(
            f"expected a curve that leaves room for an invalid code, got {what} passing within "
            f"{dists[best]:.3f} of every cube corner and the centre"
        )
    n = codes.shape[0]
    return Curve(
        key=key,
        kind="palette",
        codes=codes,
        vertices=c,
        knots=np.arange(n, dtype=np.float64),
        uniform=True,
        reserved=cands[best],
        threshold=0.5 * dists[best],
    )


@functools.lru_cache(maxsize=64)
def colormap_curve(name: str, bits: int = 8) -> Curve:
    """A matplotlib colormap (its ``N`` entries, rounded to 8 bits), decoded by nearest colour;
    ``bits=16``: the polyline through its ``N`` entries at 16-bit resolution (:func:`_polyline16`).

    matplotlib is imported here, only when a colormap is requested.
    """
    import matplotlib

    try:
        cmap = matplotlib.colormaps[name]
    except KeyError:
        raise ConfigError(
            f"expected a matplotlib colormap name such as 'turbo' or 'viridis', got {name!r}"
        ) from None
    rgba = cmap(np.arange(cmap.N))
    if bits == 16:
        return _polyline16(("colormap", name), rgba[:, :3], f"colormap {name!r}")
    codes = np.floor(rgba[:, :3] * 255.0 + 0.5).astype(np.uint8)
    return _make_palette(("colormap", name), codes, f"colormap {name!r}")


#: How other tools turn a value ``f`` in [0, 1] into an index of their 256-entry colour table
#: (``quantization`` of ``depth/colormap``): ``index = trunc(f * scale)``, at most ``entries - 1``.
#: matplotlib: ``Colormap.__call__(x, bytes=True)`` (matplotlib 3.x ``colors.py``,
#: ``_get_rgba_and_mask``: ``xa *= N``, ``xa[xa == N] = N - 1``, ``xa.astype(int)``; the table
#: is ``(lut * 255).astype(np.uint8)``, truncated). OpenCV: ``cv2.applyColorMap`` indexes its own
#: 256-entry tables by the 8-bit input, which callers make as ``(255 * f).astype(np.uint8)``.
TABLE_SOURCES = ("matplotlib", "opencv")


@dataclass(frozen=True, eq=False)
class SourceTable:
    """A tool's colour table as a curve: ``curve`` (a palette: the table's distinct colours, runs
    of equal adjacent entries merged), ``level_of_index`` (table index -> curve level) and, per
    level, the interval ``[f_lo, f_hi]`` of values the tool paints with that colour; decoding a
    colour gives the centre ``(f_lo + f_hi) / 2``, so the error is at most half the interval."""

    curve: Curve
    level_of_index: np.ndarray  # (entries,) int64
    f_lo: np.ndarray  # (levels,) float64
    f_hi: np.ndarray  # (levels,) float64
    scale: float  # index = trunc(f * scale), clipped to entries - 1 (0: by the intervals)

    def levels_of(self, f: np.ndarray) -> np.ndarray:
        """The curve level a tool paints ``f`` (float64 in [0, 1]) with."""
        if self.scale == 0.0:  # intervals in order: the last one starting at or before f
            f = np.clip(f, 0.0, 1.0)
            return np.maximum(np.searchsorted(self.f_lo, f, side="right") - 1, 0)
        n = self.level_of_index.shape[0]
        k = np.clip(np.floor(np.clip(f, 0.0, 1.0) * self.scale), 0, n - 1).astype(np.int64)
        return self.level_of_index[k]


def _table_rgb(name: str, source: str) -> np.ndarray:
    """The (256, 3) uint8 RGB table ``source`` paints colormap ``name`` with."""
    if source == "matplotlib":
        import matplotlib

        try:
            cmap = matplotlib.colormaps[name]
        except KeyError:
            raise ConfigError(
                f"expected a matplotlib colormap name such as 'turbo' or 'viridis', got {name!r}"
            ) from None
        return np.asarray(cmap(np.arange(cmap.N), bytes=True)[:, :3], dtype=np.uint8)
    try:
        import cv2
    except ImportError:
        raise ConfigError(
            "expected OpenCV (pip install opencv-python-headless) for quantization='opencv', "
            "got no module named cv2"
        ) from None
    flag = getattr(cv2, "COLORMAP_" + name.upper(), None)
    if not isinstance(flag, int):
        names = sorted(k[9:].lower() for k in dir(cv2) if k.startswith("COLORMAP_"))
        raise ConfigError(f"expected an OpenCV colormap name in {names}, got {name!r}")
    bgr = cv2.applyColorMap(np.arange(256, dtype=np.uint8)[:, None], flag)[:, 0]
    return np.ascontiguousarray(bgr[:, ::-1])  # OpenCV paints BGR


@functools.lru_cache(maxsize=32)
def source_table(name: str, source: str) -> SourceTable:
    """Colormap ``name`` as ``source`` (``"matplotlib"`` or ``"opencv"``) paints it
    (:data:`TABLE_SOURCES`)."""
    rgb = _table_rgb(name, source)
    n = rgb.shape[0]
    scale = float(n) if source == "matplotlib" else 255.0
    start = np.ones(n, dtype=bool)
    start[1:] = np.any(rgb[1:] != rgb[:-1], axis=1)
    level_of_index = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.append(first[1:] - 1, n - 1)
    what = f"{source}'s colormap {name!r}"
    curve = _make_palette(("colormap", name, source), rgb[start], what)
    f_lo = np.minimum(first / scale, 1.0)
    f_hi = np.minimum((last + 1) / scale, 1.0)
    return SourceTable(curve, level_of_index.astype(np.int64), f_lo, f_hi, scale)


@functools.lru_cache(maxsize=16)
def floor_table(curve: Curve) -> SourceTable:
    """The colours a truncating writer paints an 8-bit polyline ``curve`` with,
    ``floor(colour(f) * 255)`` (``(rgb * 255).astype(np.uint8)``: hilbertmap's examples,
    matplotlib's ``imsave`` of an RGB array), in order of ``f``, with the interval of ``f`` each
    one covers. Only one channel moves along a cube-walk or hue edge (all three, equally, on
    gray), so the colour is constant between whole levels: between levels ``k`` and ``k + 1``
    it is ``floor(colour((k + 0.5) / (levels - 1)) * 255)``, and at level ``k`` itself that of
    ``f = k / (levels - 1)``; runs of one colour merge (at a vertex where a falling channel
    reaches 0, two levels share a colour). Reserved code and threshold: the curve's."""
    n = curve.levels
    k = np.arange(n, dtype=np.float64)
    f = np.empty(2 * n - 1)
    f[0::2] = k / (n - 1)  # the levels themselves
    f[1::2] = (k[:-1] + 0.5) / (n - 1)  # between them
    lo = np.empty(2 * n - 1)
    lo[0::2] = k / (n - 1)
    lo[1::2] = k[:-1] / (n - 1)
    hi = np.empty(2 * n - 1)
    hi[0::2] = k / (n - 1)
    hi[1::2] = (k[:-1] + 1.0) / (n - 1)
    rgb = np.clip(np.floor(curve.colors(f) * 255.0), 0, 255).astype(np.uint8)
    start = np.ones(len(rgb), dtype=bool)
    start[1:] = np.any(rgb[1:] != rgb[:-1], axis=1)
    run = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.append(first[1:] - 1, len(rgb) - 1)
    codes = rgb[start]
    palette = _make_palette((*curve.key, "floor"), codes, f"the truncated {curve.key[0]} curve")
    palette = dataclasses.replace(palette, reserved=curve.reserved, threshold=curve.threshold)
    return SourceTable(palette, run.astype(np.int64), lo[first], hi[last], 0.0)


def _points_key(points: Any) -> tuple:
    try:
        pts = np.asarray(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(
            f"expected control points as (K, 3) floats in [0, 1], got {points!r}"
        ) from None
    if pts.ndim != 2 or pts.shape[1] != 3 or pts.shape[0] < 2:
        raise ConfigError(f"expected control points of shape (K >= 2, 3), got shape {pts.shape}")
    if not np.all(np.isfinite(pts)) or pts.min() < 0 or pts.max() > 1:
        raise ConfigError("expected control points in [0, 1] (divide 8-bit colours by 255)")
    return tuple(tuple(float(v) for v in row) for row in pts)


def curve_from_points(points: Any, bits: int = 8) -> Curve:
    """A user curve: the polyline through ``points`` (K, 3) in [0, 1], rasterised to 8-bit levels
    one step (of the largest channel change) apart, decoded by nearest colour; ``bits=16``: at
    16-bit resolution, decoded by projection (:func:`_polyline16`)."""
    return _curve_from_key(_points_key(points), bits)


@functools.lru_cache(maxsize=64)
def _curve_from_key(key: tuple, bits: int = 8) -> Curve:
    pts = np.asarray(key, dtype=np.float64)
    if bits == 16:
        return _polyline16(("points", key), pts, "the control points")
    rows = [np.floor(pts[0] * 255.0 + 0.5)]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, int(math.ceil(float(np.max(np.abs(b - a))) * 255.0 - 1e-9)))
        s = np.arange(1, n + 1)[:, None] / n
        rows.extend(np.floor((a + s * (b - a)) * 255.0 + 0.5))
    codes = np.asarray(rows)
    keep = np.ones(len(codes), dtype=bool)
    keep[1:] = np.any(codes[1:] != codes[:-1], axis=1)
    return _make_palette(("points", key), codes[keep].astype(np.uint8), "the control points")


# ---------------------------------------------------------------- decode lookup table
#: ``(lut, fine parameters)`` per curve; 8 curves at most (512 MiB of address space).
_LUTS = TableCache("curve decode tables", max_entries=8)


def fine_parameters(curve: Curve) -> np.ndarray:
    """The curve parameter ``f`` (float64) of every fine index ``q``: at levels (``q % fine == 0``)
    the projection of the level's own code (bit for bit what every colour projecting there
    gets, since only the channel along the edge enters), elsewhere ``q / (fine * (levels - 1))``."""
    from rgbtask.core import depth as kernels

    n = curve.n_fine
    f = np.arange(n, dtype=np.float64) / (n - 1)
    codes = curve.codes.astype(np.float64) / 255.0
    lev_f, _ = kernels.project_reference(codes, curve)
    f[:: curve.fine] = lev_f
    return f


def decode_lut(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    """The shared 2^24-entry table for 8-bit decoding of ``curve`` and its fine parameters.

    Entry ``(r << 16) | (g << 8) | b`` holds ``1 + (q | confidence_byte << 16)`` (``q = 0xFFFF``:
    invalid), or 0 until that colour is first decoded: the decode kernel computes the exact
    projection of an unknown colour and stores it, so the table fills lazily with exactly the
    colours seen, and :func:`fill_lut` completes it. Threads that meet the same unknown colour at
    once write the same value, so no lock is needed. At most 64 MiB per curve (pages are only
    backed by memory once a colour in them is decoded), for the 8 most recently used curves.
    """
    # pages cost no memory until a colour in them is first decoded (rgbtask.core._tables)
    return _LUTS.get(curve.key, lambda: (new_lut(np.uint32), fine_parameters(curve)))


#: The projection grids (``kernels.build_projection_grid``), per curve: 0.1 to 3 MiB each.
_GRIDS = TableCache("curve projection grids", max_entries=16)


def projection_grid(curve: Curve) -> tuple[np.ndarray, np.ndarray, int]:
    """The curve's projection grid: the candidate segments (palette curves: colours) of every
    cell of a uniform grid over the RGB cube, so that projecting a colour measures only its
    cell's candidates and gets the brute force's answer bit for bit
    (``rgbtask.core.depth.build_projection_grid``). Built once per curve (0.05 to 2 s), shared."""
    from rgbtask.core import depth as kernels

    return _GRIDS.get(curve.key, lambda: kernels.build_projection_grid(curve))


def fill_lut(curve: Curve) -> np.ndarray:
    """Compute every entry of :func:`decode_lut` (all 2^24 colours) and return the table."""
    from rgbtask.core import depth as kernels

    lut, _ = decode_lut(curve)
    allc = np.arange(1 << 24, dtype=np.uint32)
    rgb = np.empty((1 << 24, 3), dtype=np.uint8)
    rgb[:, 0] = allc >> 16
    rgb[:, 1] = (allc >> 8) & 255
    rgb[:, 2] = allc & 255
    kernels.decode_u8(rgb, curve, np.zeros(curve.n_fine, np.float32), lut)
    return lut
