"""Procedural scenes with consistent ground truth for every task.

:func:`make_scene` ray-casts a room (floor, ceiling, walls, a window) holding boxes and spheres, seen
by a pinhole camera, and returns depth, normals, semantic and instance masks, keypoints and a shaded
image that all describe the same geometry. Seeded, at any resolution (the geometry does not change
with the resolution, only its sampling).

Conventions
-----------
* Pixel centres are at integer coordinates: pixel ``(row i, column j)`` is the point ``(x=j, y=i)``,
  and the image covers ``[-0.5, W - 0.5] x [-0.5, H - 0.5]``.
* The camera is a pinhole with ``fx = fy = W / (2 tan(fov / 2))`` and principal point at the image
  centre ``((W - 1) / 2, (H - 1) / 2)``; rays are cast in the OpenCV camera frame (x right, y down,
  z forward), so the ray parameter is the z-depth.
* ``depth`` is metric z-depth in metres, NaN where the sensor would fail (the window's glass).
* ``normals`` are unit vectors in the **OpenGL** camera frame (x right, y up, z toward the viewer),
  the default of ``normals/xyz``; NaN where depth is NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["CLASS_NAMES", "Scene", "make_scene", "spread_keypoints"]

#: Semantic class ids of the scene (index = id).
CLASS_NAMES = ("unlabeled", "floor", "ceiling", "wall", "window", "box", "sphere")
_FLOOR, _CEILING, _WALL, _WINDOW, _BOX, _SPHERE = 1, 2, 3, 4, 5, 6
_ALBEDO = (
    np.array(
        [
            [0, 0, 0],
            [150, 120, 90],
            [235, 235, 230],
            [200, 195, 180],
            [150, 200, 240],
            [190, 70, 60],
            [70, 110, 190],
        ],
        dtype=np.float32,
    )
    / 255.0
)


@dataclass(frozen=True)
class Scene:
    """One rendered scene; every field describes the same geometry.

    Attributes
    ----------
    depth : (H, W) float32
        Metric z-depth in metres; NaN on the window (invalid measurement).
    normals : (H, W, 3) float32
        Unit surface normals, OpenGL camera frame; NaN where depth is NaN.
    semantic : (H, W) uint8
        Class ids, names in :data:`CLASS_NAMES`.
    instance : (H, W) int32
        0 for stuff (floor, walls, ...), 1..N for the objects (boxes first, then spheres).
    keypoints : (B, 8, 2) float32
        The 8 corners of each of the B boxes projected to pixels (x, y).
    visible : (B, 8) bool
        Corner inside the image and not hidden by a nearer surface.
    image : (H, W, 3) uint8
        A Lambertian shading of the scene, for figures.
    intrinsics : (3, 3) float64
        The camera matrix K.
    """

    depth: np.ndarray
    normals: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    image: np.ndarray
    intrinsics: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape  # type: ignore[return-value]


def _slab_hit(d, lo, hi):
    """Ray (from the origin, directions d) against an axis-aligned box: t, normal axis, sign."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = lo / d
        t2 = hi / d
    tmin = np.fmin(t1, t2)
    tmax = np.fmax(t1, t2)
    tmin = np.where(d == 0, np.where((lo <= 0) & (hi >= 0), -np.inf, np.inf), tmin)
    tmax = np.where(d == 0, np.where((lo <= 0) & (hi >= 0), np.inf, -np.inf), tmax)
    tnear = tmin.max(axis=-1)
    tfar = tmax.min(axis=-1)
    hit = (tnear <= tfar) & (tnear > 1e-6)
    axis = tmin.argmax(axis=-1)
    return np.where(hit, tnear, np.inf), axis


def make_scene(
    height: int = 480,
    width: int = 640,
    seed: int = 0,
    *,
    fov_deg: float = 70.0,
    n_boxes: int = 3,
    n_spheres: int = 2,
) -> Scene:
    """Render a room with ``n_boxes`` boxes and ``n_spheres`` spheres.

    Parameters
    ----------
    height, width : int
        Image size in pixels (>= 1).
    seed : int
        Seeds the room size and the objects' sizes and places.
    fov_deg : float
        Horizontal field of view.
    """
    if height < 1 or width < 1:
        raise ValueError(f"expected height and width >= 1, got {height} x {width}")
    rng = np.random.default_rng(seed)
    f = width / (2.0 * math.tan(math.radians(fov_deg) / 2.0))
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    d = np.stack([(u - cx) / f, (v - cy) / f, np.ones_like(u)], axis=-1)  # (H, W, 3), d_z = 1

    # Room interior, OpenCV frame: camera 1.4 m above the floor (y down).
    half_w = rng.uniform(2.2, 3.0)
    floor_y, ceil_y = rng.uniform(1.3, 1.6), -rng.uniform(1.2, 1.6)
    back_z = rng.uniform(6.0, 8.0)
    lo = np.array([-half_w, ceil_y, -1.0])
    hi = np.array([half_w, floor_y, back_z])

    t = np.full(d.shape[:2], np.inf)
    normal = np.zeros(d.shape)
    label = np.zeros(d.shape[:2], dtype=np.uint8)
    instance = np.zeros(d.shape[:2], dtype=np.int32)
    for axis in range(3):
        da = d[..., axis]
        with np.errstate(divide="ignore"):
            ta = np.where(da > 0, hi[axis] / da, np.where(da < 0, lo[axis] / da, np.inf))
        closer = ta < t
        t = np.where(closer, ta, t)
        normal[closer] = 0.0
        normal[closer, axis] = -np.sign(da[closer])
        if axis == 1:
            label[closer] = np.where(da[closer] > 0, _FLOOR, _CEILING)
        else:
            label[closer] = _WALL
    # A window on the back wall: glass, where a depth sensor returns nothing.
    p = d * t[..., None]
    win = (
        (label == _WALL) & (np.abs(p[..., 2] - back_z) < 1e-9) & (np.abs(p[..., 0]) < 0.35 * half_w)
    )
    win &= (p[..., 1] > ceil_y + 0.3) & (p[..., 1] < ceil_y + 0.3 + 0.4 * (floor_y - ceil_y))
    label[win] = _WINDOW

    boxes = []
    slots = rng.permutation(max(n_boxes, 1))  # spread the boxes across the room's width
    for k in range(n_boxes):
        size = rng.uniform([0.4, 0.3, 0.4], [1.1, 1.0, 1.1])
        span = 2 * (half_w - 0.6) / max(n_boxes, 1)
        centre_x = -half_w + 0.6 + span * (slots[k] + rng.uniform(0.25, 0.75))
        centre_z = rng.uniform(2.2, back_z - 1.0)
        blo = np.array([centre_x - size[0] / 2, floor_y - size[1], centre_z - size[2] / 2])
        bhi = blo + size
        boxes.append((blo, bhi))
        tb, axis = _slab_hit(d, blo, bhi)
        closer = tb < t
        t = np.where(closer, tb, t)
        ax = axis[closer]
        n = np.zeros((ax.size, 3))
        n[np.arange(ax.size), ax] = -np.sign(d[closer][np.arange(ax.size), ax])
        normal[closer] = n
        label[closer] = _BOX
        instance[closer] = k + 1
    for k in range(n_spheres):
        r = rng.uniform(0.25, 0.5)
        c = np.array(
            [rng.uniform(-half_w + 0.5, half_w - 0.5), floor_y - r, rng.uniform(2.0, back_z - 1.0)]
        )
        a = np.sum(d * d, axis=-1)
        b = d @ c
        disc = b * b - a * (c @ c - r * r)
        with np.errstate(invalid="ignore"):
            ts = np.where(disc >= 0, (b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
        ts = np.where(ts > 1e-6, ts, np.inf)
        closer = ts < t
        t = np.where(closer, ts, t)
        normal[closer] = (d[closer] * ts[closer][:, None] - c) / r
        label[closer] = _SPHERE
        instance[closer] = n_boxes + k + 1

    depth = t.astype(np.float32)
    depth[label == _WINDOW] = np.nan
    normal /= np.linalg.norm(normal, axis=-1, keepdims=True)
    normals_gl = (normal * np.array([1.0, -1.0, -1.0])).astype(np.float32)
    normals_gl[label == _WINDOW] = np.nan

    K = np.array([[f, 0.0, cx], [0.0, f, cy], [0.0, 0.0, 1.0]])
    keypoints = np.zeros((n_boxes, 8, 2), dtype=np.float32)
    visible = np.zeros((n_boxes, 8), dtype=bool)
    for k, (blo, bhi) in enumerate(boxes):
        corners = np.array(
            [[(bhi if (i >> a) & 1 else blo)[a] for a in range(3)] for i in range(8)]
        )
        px = corners[:, 0] / corners[:, 2] * f + cx
        py = corners[:, 1] / corners[:, 2] * f + cy
        keypoints[k] = np.stack([px, py], axis=-1)
        col, row = np.rint(px).astype(int), np.rint(py).astype(int)
        inside = (px >= -0.5) & (px < width - 0.5) & (py >= -0.5) & (py < height - 0.5)
        seen = np.zeros(8, dtype=bool)
        seen[inside] = t[row[inside], col[inside]] >= corners[inside, 2] * 0.97
        visible[k] = inside & seen

    light = np.array([0.3, -0.8, -0.5])  # toward the light: up, left of and behind the camera
    light /= np.linalg.norm(light)
    shade = np.clip(normal @ light, 0.0, 1.0) * 0.75 + 0.25
    image = np.clip(_ALBEDO[label] * shade[..., None] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return Scene(
        depth=depth,
        normals=normals_gl,
        semantic=label,
        instance=instance,
        keypoints=keypoints,
        visible=visible,
        image=image,
        intrinsics=K,
    )


def spread_keypoints(
    rng: np.random.Generator,
    n_img: int,
    k: int,
    size: tuple[int, int],
    spacing: float = 9.0,
    margin: float = 4.0,
) -> np.ndarray:
    """``(n_img, 1, k, 2)`` random sub-pixel keypoints on a jittered grid of a ``size`` canvas:
    at least ``spacing - 1`` px apart and inside ``margin``, so that blobs do not overlap (what a
    keypoint decoder's lossless bound assumes)."""
    h, w = size
    cols = int((w - 2 * margin) // spacing)
    out = np.empty((n_img, 1, k, 2))
    for b in range(n_img):
        cells = rng.permutation(cols * int((h - 2 * margin) // spacing))[:k]
        out[b, 0, :, 0] = margin + (cells % cols) * spacing + rng.uniform(0, 1, k) + 0.5 * spacing
        out[b, 0, :, 1] = margin + (cells // cols) * spacing + rng.uniform(0, 1, k) + 0.5 * spacing
    return out
