"""Procedural scenes with consistent ground truth for every task.

:func:`make_scene` ray-casts a room (floor, ceiling, walls, a window) holding boxes and spheres, seen
by a pinhole camera, and returns depth, normals, semantic and instance masks, keypoints, optical
flow (to a second view after a small camera move) and a shaded image that all describe the same
geometry. Seeded, at any resolution (the geometry does not change
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
* ``flow`` is the optical flow ``(u, v)`` in pixels from this view to a second one, taken by the
  same camera after it moved by :data:`FLOW_CAMERA_MOVE` metres (OpenCV frame of the first view)
  and turned by :data:`FLOW_CAMERA_YAW_DEG` about its y axis: the room is static, so a pixel ``x``
  at depth ``Z`` goes to ``K R^T (Z K^-1 x - c)`` (projected), the rigid flow a flow dataset's
  camera motion gives. Forward motion makes it diverge from a focus of expansion inside the image,
  so every direction (every hue of a flow wheel) occurs. NaN where depth is NaN; pixels whose
  point leaves the view or gets hidden in the second view keep their flow, as Sintel's do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "CLASS_NAMES",
    "FLOW_CAMERA_MOVE",
    "FLOW_CAMERA_YAW_DEG",
    "Scene",
    "box_points",
    "camera_flow",
    "make_scene",
    "spread_keypoints",
]

#: The second view of ``Scene.flow``: the camera centre moves by this (x right, y down, z forward;
#: metres, the first view's OpenCV frame) ...
FLOW_CAMERA_MOVE = (0.03, -0.02, 0.2)
#: ... and the camera turns by this many degrees about its y axis (positive: toward +x; here
#: slightly toward -x, which puts the focus of expansion near the image centre).
FLOW_CAMERA_YAW_DEG = -0.3

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
    keypoints : (B, K, 2) float32
        K points of each of the B boxes projected to pixels (x, y): its 8 corners (K = 8, the
        default), the first K of them (K < 8), or the corners then points spread over its faces
        (K > 8); see :func:`box_points`.
    visible : (B, K) bool
        Point inside the image and not hidden by a nearer surface.
    image : (H, W, 3) uint8
        A Lambertian shading of the scene, for figures.
    intrinsics : (3, 3) float64
        The camera matrix K.
    flow : (H, W, 2) float32
        Optical flow ``(u, v)`` in pixels to the view after a small camera move
        (:func:`camera_flow` with :data:`FLOW_CAMERA_MOVE`, :data:`FLOW_CAMERA_YAW_DEG`); NaN
        where depth is NaN.
    params : dict
        What :func:`make_scene` rendered it with: ``size`` (H, W), ``seed``, ``num_keypoints``,
        ``fov_deg``, ``n_boxes``, ``n_spheres``. :meth:`with_params` renders it again with some
        changed (how :func:`rgbtask.fidelity.value_for` serves a codec that asks for 17 keypoints).
    """

    depth: np.ndarray
    normals: np.ndarray
    semantic: np.ndarray
    instance: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    image: np.ndarray
    intrinsics: np.ndarray
    params: dict[str, Any] = field(default_factory=dict, compare=False)
    flow: np.ndarray | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.depth.shape  # type: ignore[return-value]

    def with_params(self, **changes: Any) -> Scene:
        """The same scene rendered with some of :attr:`params` changed (``num_keypoints=17``,
        ``size=(480, 640)``); unknown names raise ``TypeError``."""
        unknown = sorted(set(changes) - set(self.params))
        if unknown:
            raise TypeError(f"expected scene parameters {sorted(self.params)}, got {unknown}")
        params = {**self.params, **changes}
        height, width = params.pop("size")
        return make_scene(int(height), int(width), **params)


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
    num_keypoints: int = 8,
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
    num_keypoints : int
        Keypoints per box (>= 1): its corners, then points on its faces (:func:`box_points`).
    """
    if height < 1 or width < 1:
        raise ValueError(f"expected height and width >= 1, got {height} x {width}")
    if isinstance(num_keypoints, bool) or not isinstance(num_keypoints, (int, np.integer)):
        raise ValueError(f"expected num_keypoints an integer >= 1, got {num_keypoints!r}")
    if num_keypoints < 1:
        raise ValueError(f"expected num_keypoints an integer >= 1, got {num_keypoints!r}")
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
    unit = box_points(int(num_keypoints))
    keypoints = np.zeros((n_boxes, len(unit), 2), dtype=np.float32)
    visible = np.zeros((n_boxes, len(unit)), dtype=bool)
    for k, (blo, bhi) in enumerate(boxes):
        corners = blo + unit * (bhi - blo)
        px = corners[:, 0] / corners[:, 2] * f + cx
        py = corners[:, 1] / corners[:, 2] * f + cy
        keypoints[k] = np.stack([px, py], axis=-1)
        col, row = np.rint(px).astype(int), np.rint(py).astype(int)
        inside = (px >= -0.5) & (px < width - 0.5) & (py >= -0.5) & (py < height - 0.5)
        seen = np.zeros(len(unit), dtype=bool)
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
        flow=camera_flow(np.where(np.isnan(depth), np.nan, t), K).astype(np.float32),
        params={
            "size": (height, width),
            "seed": seed,
            "num_keypoints": int(num_keypoints),
            "fov_deg": fov_deg,
            "n_boxes": n_boxes,
            "n_spheres": n_spheres,
        },
    )


def camera_flow(
    depth: np.ndarray,
    intrinsics: np.ndarray,
    move: tuple[float, float, float] = FLOW_CAMERA_MOVE,
    yaw_deg: float = FLOW_CAMERA_YAW_DEG,
) -> np.ndarray:
    """The optical flow ``(H, W, 2)`` float64 (u, v pixels) of a static scene with z-depth
    ``depth`` ``(H, W)`` (metres; NaN where unknown) when the pinhole camera ``intrinsics`` moves
    its centre by ``move`` (its own OpenCV frame) and turns by ``yaw_deg`` about its y axis.

    Pixel ``x = (j, i)`` sees ``P = Z K^-1 (j, i, 1)``; the second camera sees it at ``P' = R^T
    (P - move)`` with ``R`` the yaw, and the flow is ``pi(K P') - x``. NaN where the depth is not
    finite or positive, or where the point ends up behind the second camera.
    """
    depth = np.asarray(depth, dtype=np.float64)
    height, width = depth.shape
    fx, fy = float(intrinsics[0, 0]), float(intrinsics[1, 1])
    cx, cy = float(intrinsics[0, 2]), float(intrinsics[1, 2])
    x, y = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    with np.errstate(invalid="ignore"):
        z = np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)
    points = np.stack([(x - cx) / fx * z, (y - cy) / fy * z, z], axis=-1) - np.asarray(move)
    yaw = math.radians(yaw_deg)
    rotation = np.array(
        [[math.cos(yaw), 0.0, math.sin(yaw)], [0.0, 1.0, 0.0], [-math.sin(yaw), 0.0, math.cos(yaw)]]
    )
    seen = points @ rotation  # row vectors: P' = R^T P
    with np.errstate(invalid="ignore", divide="ignore"):
        ahead = seen[..., 2] > 1e-6
        u = np.where(ahead, fx * seen[..., 0] / seen[..., 2] + cx - x, np.nan)
        v = np.where(ahead, fy * seen[..., 1] / seen[..., 2] + cy - y, np.nan)
    return np.stack([u, v], axis=-1)


def box_points(k: int) -> np.ndarray:
    """``(k, 3)`` points of the unit box ``[0, 1]^3`` that :func:`make_scene` projects as a box's
    keypoints: the 8 corners (corner ``i`` takes ``hi`` on axis ``a`` where bit ``a`` of ``i`` is
    set), then face points: round ``r`` puts one point on each of the 6 faces, at a fixed
    low-discrepancy position (so keypoint ``j`` is the same point whatever ``k``)."""
    corners = [[float((i >> a) & 1) for a in range(3)] for i in range(8)]
    points = corners[:k]
    r = 0
    while len(points) < k:
        # Halton (2, 3) position in the face, kept off its edges.
        u = _radical_inverse(r + 1, 2) * 0.8 + 0.1
        v = _radical_inverse(r + 1, 3) * 0.8 + 0.1
        for axis in range(3):
            for side in (0.0, 1.0):
                if len(points) == k:
                    break
                p = [u, v]
                p.insert(axis, side)
                points.append(p)
        r += 1
    return np.array(points, dtype=np.float64)


def _radical_inverse(n: int, base: int) -> float:
    out, scale = 0.0, 1.0 / base
    while n:
        n, digit = divmod(n, base)
        out += digit * scale
        scale /= base
    return out


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
