"""The procedural scene: every field describes the same geometry."""

from __future__ import annotations

import numpy as np
import pytest

from rgbtask.samples import CLASS_NAMES, make_scene


@pytest.fixture(scope="module")
def big():
    return make_scene(120, 160, seed=5)


def test_shapes_dtypes_and_determinism(big):
    s = big
    assert s.depth.shape == (120, 160) and s.depth.dtype == np.float32
    assert s.normals.shape == (120, 160, 3) and s.normals.dtype == np.float32
    assert s.semantic.dtype == np.uint8 and s.instance.dtype == np.int32
    assert s.keypoints.shape == (3, 8, 2) and s.visible.shape == (3, 8)
    assert s.image.shape == (120, 160, 3) and s.image.dtype == np.uint8
    again = make_scene(120, 160, seed=5)
    assert s.params == again.params
    for a, b in zip(s.__dict__.values(), again.__dict__.values()):
        if not isinstance(a, dict):
            assert np.array_equal(a, b, equal_nan=True)
    other = make_scene(120, 160, seed=6)
    assert not np.array_equal(s.depth, other.depth, equal_nan=True)


def test_invalid_depth_exactly_on_the_window(big):
    window = big.semantic == CLASS_NAMES.index("window")
    assert window.any()
    assert np.array_equal(np.isnan(big.depth), window)
    assert np.array_equal(np.isnan(big.normals).any(axis=-1), window)
    assert np.all(big.depth[~window] > 0)


def test_normals_are_unit_and_face_the_camera(big):
    n = big.normals[~np.isnan(big.depth)]
    assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-6)
    # Visible surfaces face the camera: the normal has a positive component toward it, i.e.
    # n . (-ray) > 0 in the OpenGL frame, where the ray through pixel (u, v) is (x, -y, -1).
    K = big.intrinsics
    v, u = np.mgrid[0:120, 0:160]
    ray = np.stack([(u - K[0, 2]) / K[0, 0], -(v - K[1, 2]) / K[1, 1], -np.ones_like(u, float)], -1)
    facing = np.sum(big.normals * -ray, axis=-1)
    assert np.all(facing[~np.isnan(big.depth)] > 0)


def test_normals_agree_with_the_depth_map(big):
    # Back-project the depth, take finite differences, and compare with the normals away from edges.
    K = big.intrinsics
    v, u = np.mgrid[0:120, 0:160].astype(float)
    z = big.depth.astype(float)
    p = np.stack([(u - K[0, 2]) / K[0, 0] * z, (v - K[1, 2]) / K[1, 1] * z, z], axis=-1)
    du = p[1:-1, 2:] - p[1:-1, :-2]
    dv = p[2:, 1:-1] - p[:-2, 1:-1]
    n_cv = np.cross(dv, du)  # x-right cross y-down points away; the surface faces the camera
    n_cv /= np.linalg.norm(n_cv, axis=-1, keepdims=True)
    n_gl = n_cv * np.array([1, -1, -1])
    given = big.normals[1:-1, 1:-1]
    same = big.instance[1:-1, 1:-1]
    flat = np.ones_like(same, dtype=bool)
    for dy, dx in [(-1, 0), (1, 0), (0, -1), (0, 1)]:  # neighbours on the same surface
        flat &= big.semantic[1 + dy : 119 + dy, 1 + dx : 159 + dx] == big.semantic[1:-1, 1:-1]
        flat &= np.all(big.normals[1 + dy : 119 + dy, 1 + dx : 159 + dx] == given, axis=-1)
    flat &= np.isfinite(n_gl).all(axis=-1) & np.isfinite(given).all(axis=-1)
    assert flat.mean() > 0.5
    cos = np.sum(n_gl[flat] * given[flat], axis=-1)
    assert np.all(cos > 0.9999)


def test_instances_belong_to_object_classes(big):
    objects = np.isin(big.semantic, [CLASS_NAMES.index("box"), CLASS_NAMES.index("sphere")])
    assert np.array_equal(big.instance > 0, objects)
    assert set(np.unique(big.instance)) <= set(range(0, 6))


def test_visible_keypoints_lie_on_their_box(big):
    h, w = big.depth.shape
    K = big.intrinsics
    for b in range(big.keypoints.shape[0]):
        for x, y in big.keypoints[b][big.visible[b]]:
            col, row = round(x), round(y)
            assert 0 <= col < w and 0 <= row < h
            # Within 2 px of a visible corner there is a pixel of this box.
            patch = big.instance[max(row - 2, 0) : row + 3, max(col - 2, 0) : col + 3]
            assert (patch == b + 1).any()
    # Projection is consistent with K: the principal point is the image centre.
    assert K[0, 2] == (w - 1) / 2 and K[1, 2] == (h - 1) / 2


def test_geometry_does_not_depend_on_resolution():
    small, large = make_scene(60, 80, seed=2), make_scene(120, 160, seed=2)
    # Pixel (i, j) of the small image is at the centre of the 2x2 block (2i, 2j)..(2i+1, 2j+1).
    sub = large.depth.reshape(60, 2, 80, 2)
    valid = np.isfinite(sub).all(axis=(1, 3)) & np.isfinite(small.depth)
    block = np.nan_to_num(sub).mean(axis=(1, 3))  # used only where all four are finite
    same_surface = (large.semantic.reshape(60, 2, 80, 2) == small.semantic[:, None, :, None]).all(
        axis=(1, 3)
    )
    ok = valid & same_surface
    assert ok.mean() > 0.8
    assert np.allclose(block[ok], small.depth[ok], rtol=0.02)


@pytest.mark.parametrize("size", [(1, 1), (1, 7), (5, 1)])
def test_tiny_sizes(size):
    s = make_scene(*size, seed=0)
    assert s.depth.shape == size


def test_bad_size():
    with pytest.raises(ValueError, match="expected height and width >= 1"):
        make_scene(0, 5)


@pytest.mark.parametrize("k", [1, 5, 17, 30])
def test_scenes_serve_any_number_of_keypoints(k):
    base = make_scene(60, 80, seed=3)
    s = make_scene(60, 80, seed=3, num_keypoints=k)
    assert s.keypoints.shape == (3, k, 2) and s.visible.shape == (3, k)
    n = min(k, 8)  # the corners come first, the same whatever k
    assert np.array_equal(s.keypoints[:, :n], base.keypoints[:, :n])
    assert np.array_equal(s.depth, base.depth, equal_nan=True)
    again = base.with_params(num_keypoints=k)
    assert np.array_equal(again.keypoints, s.keypoints) and again.params["num_keypoints"] == k
    assert np.unique(s.keypoints.reshape(-1, 2), axis=0).shape[0] == 3 * k  # distinct points


def test_with_params_renders_at_another_size():
    s = make_scene(30, 40, seed=1).with_params(size=(60, 80))
    assert s.shape == (60, 80) and s.params["size"] == (60, 80)
    with pytest.raises(TypeError, match="expected scene parameters"):
        s.with_params(nosuch=1)


def test_num_keypoints_is_checked():
    with pytest.raises(ValueError, match="num_keypoints"):
        make_scene(8, 8, num_keypoints=0)
