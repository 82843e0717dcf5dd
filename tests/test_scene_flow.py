"""``Scene.flow``: the rigid optical flow of the scene's depth under a small camera move, and the
other fields of the scene unchanged by its arrival."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from rgbtask.samples import FLOW_CAMERA_MOVE, FLOW_CAMERA_YAW_DEG, camera_flow, make_scene

#: sha256 (first 16 hex digits) of every field as make_scene rendered it before ``flow`` existed
#: (commit cde3862): adding the flow must not change one byte of them (the goldens depend on it).
BEFORE_FLOW = {
    (48, 64, 0, ()): {
        "depth": "4ffa5a7e8a71a554",
        "normals": "eab3bf67a924bbd2",
        "semantic": "f7acbc45cd3840b5",
        "instance": "5906399978569f43",
        "keypoints": "5cfbdf7a0645c2f0",
        "visible": "54f964d7a145a004",
        "image": "0dfeaaaeb511ae6b",
        "intrinsics": "c41ce2228ee86dc1",
    },
    (37, 53, 3, (("num_keypoints", 17),)): {
        "depth": "10e37552b2276a39",
        "normals": "6d434056120eae37",
        "semantic": "00554471a76780ac",
        "instance": "c4b3f77baa26237c",
        "keypoints": "74ce14fd4f0af5ed",
        "visible": "80e4d676e473ba58",
        "image": "11adb87ef0c3b3c7",
        "intrinsics": "fde2c86c05eb1cfb",
    },
    (120, 160, 1, (("n_boxes", 5), ("n_spheres", 0))): {
        "depth": "bc4401aa104e26b2",
        "normals": "3932dec8364601fd",
        "semantic": "852aa4555d066c58",
        "instance": "3e75df326153805c",
        "keypoints": "74e5963ac8f863fc",
        "visible": "7a74baa8b88d64c0",
        "image": "ea6d25d31816fe57",
        "intrinsics": "cb62755cd8f2e6fc",
    },
}


@pytest.mark.parametrize("key", sorted(BEFORE_FLOW, key=str))
def test_existing_fields_are_byte_identical(key):
    height, width, seed, kwargs = key
    scene = make_scene(height, width, seed, **dict(kwargs))
    for name, digest in BEFORE_FLOW[key].items():
        data = np.ascontiguousarray(getattr(scene, name)).tobytes()
        assert hashlib.sha256(data).hexdigest()[:16] == digest, name


@pytest.fixture(scope="module")
def scene():
    return make_scene(96, 128, seed=4)


def test_flow_shape_dtype_and_unknown_exactly_where_depth_is(scene):
    flow = scene.flow
    assert flow.shape == (96, 128, 2) and flow.dtype == np.float32 and flow.flags.c_contiguous
    assert np.array_equal(np.isnan(flow[..., 0]), np.isnan(scene.depth))
    assert np.array_equal(np.isnan(flow[..., 1]), np.isnan(scene.depth))
    again = make_scene(96, 128, seed=4)
    assert np.array_equal(flow, again.flow, equal_nan=True)
    assert np.array_equal(scene.with_params(size=(96, 128)).flow, flow, equal_nan=True)


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    h = points @ K.T
    return h[..., :2] / h[..., 2:]


def test_flow_is_the_reprojection_of_depth_under_the_camera_move(scene):
    """Recomputed with 4x4 homogeneous poses (an independent route): back-project each pixel
    with its depth, move it into the second camera's frame, project, subtract."""
    K, depth = scene.intrinsics, scene.depth.astype(np.float64)
    h, w = depth.shape
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    pixels = np.stack([jj, ii, np.ones_like(jj)], axis=-1).astype(np.float64)
    points = (pixels @ np.linalg.inv(K).T) * depth[..., None]
    a = np.radians(FLOW_CAMERA_YAW_DEG)
    pose = np.eye(4)  # camera 2 -> camera 1
    pose[:3, :3] = [[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]]
    pose[:3, 3] = FLOW_CAMERA_MOVE
    homogeneous = np.concatenate([points, np.ones((h, w, 1))], axis=-1)
    in_second = homogeneous @ np.linalg.inv(pose).T
    expected = _project(in_second[..., :3], K) - pixels[..., :2]
    valid = np.isfinite(depth)
    # depth is float32: the flow from the float64 ray parameter differs by its rounding only
    assert np.allclose(scene.flow[valid], expected[valid], rtol=0, atol=1e-3)


def test_flow_satisfies_the_epipolar_constraint(scene):
    K = scene.intrinsics
    a = np.radians(FLOW_CAMERA_YAW_DEG)
    R = np.array([[np.cos(a), 0, np.sin(a)], [0, 1, 0], [-np.sin(a), 0, np.cos(a)]])
    t = -R.T @ np.asarray(FLOW_CAMERA_MOVE)  # x2 = R^T x1 + t
    tx = np.array([[0, -t[2], t[1]], [t[2], 0, -t[0]], [-t[1], t[0], 0]])
    F = np.linalg.inv(K).T @ tx @ R.T @ np.linalg.inv(K)
    h, w = scene.shape
    jj, ii = np.meshgrid(np.arange(w), np.arange(h))
    x1 = np.stack([jj, ii, np.ones_like(jj)], axis=-1).astype(np.float64)
    x2 = x1.copy()
    x2[..., :2] += scene.flow
    valid = np.isfinite(scene.depth)
    line = x1[valid] @ F.T  # epipolar lines in the second image
    distance = np.abs(np.sum(x2[valid] * line, axis=-1)) / np.hypot(line[:, 0], line[:, 1])
    assert distance.max() < 1e-3  # pixels


def test_flow_covers_every_direction_at_pixel_magnitudes():
    flow = make_scene(240, 320, seed=0).flow
    angle = np.arctan2(flow[..., 1], flow[..., 0])
    counts, _ = np.histogram(angle[np.isfinite(angle)], 8, range=(-np.pi, np.pi))
    assert counts.min() > 0.03 * counts.sum()  # a flow wheel shows every hue
    magnitude = np.hypot(flow[..., 0], flow[..., 1])
    assert 1.0 < np.nanmedian(magnitude) < np.nanmax(magnitude) < 0.2 * 320


def test_camera_flow_is_zero_without_motion_and_nan_behind_the_camera(scene):
    still = camera_flow(scene.depth, scene.intrinsics, (0.0, 0.0, 0.0), 0.0)
    assert np.array_equal(np.isnan(still[..., 0]), np.isnan(scene.depth))
    assert np.nanmax(np.abs(still)) < 1e-9
    depth = np.array([[1.0, 5.0, np.nan, -1.0]])
    far = camera_flow(depth, scene.intrinsics, (0.0, 0.0, 2.0), 0.0)
    assert np.isnan(far[0, [0, 2, 3]]).all() and np.isfinite(far[0, 1]).all()
