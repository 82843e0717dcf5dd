"""``keypoints/heatmap`` with ``layout="painter"``: Painter's own pose target images, pixel for
pixel, and Painter's own decode.

The peer below is a NumPy re-implementation, step by step, of what Painter publishes (no code
copied):

* target heatmaps: mmpose 0.x ``TopDownGenerateTarget._msra_generate_target`` (MSRA, not unbiased;
  open-mmlab/mmpose @03b7d98b19ba5d5ca0920e1d6155e5e4fe5b321e,
  mmpose/datasets/pipelines/top_down_transform.py), called by Painter's
  ``TopDownGenerateTargetCustom`` with ``sigma=[1.5, 3]`` (baaivision/Painter
  @cfec84587da2a2cc4e0b9acebe6fba1666e66477, Painter/data/mmpose_custom/configs/
  coco_256x192_gendata.py and .../data/pipelines/top_down_transform.py), heatmap size = image size
  (stride 1), joints stored as float32;
* the RGB image: Painter's ``encode_rgb_target_to_image`` (.../data/pipelines/custom_transform.py):
  R = the sigma-3 heatmaps' max times 255, G/B the class code painted where the sigma-1.5 heatmap
  is non-zero, collisions given to the argmax of the sigma-3 heatmaps, ``astype(uint8)``;
* the decode: ``decode_images_to_heatmaps_minmax`` (Painter/eval/mmpose_custom/model/top_down.py)
  and mmpose 0.x ``keypoints_from_heatmaps(post_process="default")`` (open-mmlab/mmpose
  @0146679a963b7375659bc816284863d22e3db90e, mmpose/core/evaluation/top_down_eval.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask.codecs.keypoints import painter_codes
from rgbtask.core import keypoints as kernels
from rgbtask.testing import check_codec

# ---------------------------------------------------------------- the peer (Painter as published)


def painter_colors(num_locations: int = 17) -> dict[int, tuple[int, int]]:
    """``define_colors_gb_mean_sep``: id -> (G, B)."""
    n = int(num_locations ** (1 / 2)) + 1
    sep = 256 // n
    return {k: (255 - (k // n) * sep, 255 - (k % n) * sep) for k in range(num_locations)}


def msra_target(joints: np.ndarray, visible: np.ndarray, width: int, height: int, sigma: float):
    """mmpose 0.x ``_msra_generate_target`` at stride 1: ``(K, H, W)`` float32 heatmaps."""
    joints = joints.astype(np.float32)  # mmpose keeps joints_3d as float32
    num_joints = len(joints)
    target = np.zeros((num_joints, height, width), dtype=np.float32)
    tmp_size = sigma * 3
    for joint_id in range(num_joints):
        if not visible[joint_id]:
            continue
        mu_x = int(joints[joint_id][0] / 1.0 + 0.5)
        mu_y = int(joints[joint_id][1] / 1.0 + 0.5)
        ul = [int(mu_x - tmp_size), int(mu_y - tmp_size)]
        br = [int(mu_x + tmp_size + 1), int(mu_y + tmp_size + 1)]
        if ul[0] >= width or ul[1] >= height or br[0] < 0 or br[1] < 0:
            continue
        size = 2 * tmp_size + 1
        x = np.arange(0, size, 1, np.float32)
        y = x[:, None]
        x0 = y0 = size // 2
        g = np.exp(-((x - x0) ** 2 + (y - y0) ** 2) / (2 * sigma**2))
        g_x = max(0, -ul[0]), min(br[0], width) - ul[0]
        g_y = max(0, -ul[1]), min(br[1], height) - ul[1]
        img_x = max(0, ul[0]), min(br[0], width)
        img_y = max(0, ul[1]), min(br[1], height)
        target[joint_id][img_y[0] : img_y[1], img_x[0] : img_x[1]] = g[
            g_y[0] : g_y[1], g_x[0] : g_x[1]
        ]
    return target


def painter_image(joints: np.ndarray, visible: np.ndarray, height: int, width: int) -> np.ndarray:
    """Painter's label image of one person: ``encode_rgb_target_to_image`` on the sigma 1.5
    (class) and sigma 3 (kernel) targets."""
    num_joints = len(joints)
    colors = painter_colors(num_joints)
    target_class = msra_target(joints, visible, width, height, 1.5)
    target_kernel = msra_target(joints, visible, width, height, 3)
    r = target_kernel.max(0)[:, :, None] * 255.0
    owner = target_kernel.argmax(0)
    areas = np.stack([target_class[k] != 0 for k in range(num_joints)])
    collision = areas.sum(0) > 1
    gb_each = np.zeros((num_joints, height, width, 2))
    for k in range(num_joints):
        gb_each[k][areas[k]] = colors[k]
    gb = gb_each.sum(0)
    if collision.any():
        for k in range(num_joints):
            here = (owner == k) * collision
            if here.any():
                gb[here] = colors[k]
    return np.concatenate([r, gb], axis=-1).astype(np.uint8)


def painter_decode(rgb: np.ndarray, num_joints: int = 17) -> np.ndarray:
    """Painter's decode of one label image: per class (nearest of the K codes plus black by L1 on
    G/B) the masked R's argmax and mmpose's quarter-pixel step; ``(K, 2)``, -1 where the class's
    heatmap is all 0."""
    colors = [*painter_colors(num_joints).values(), (0, 0)]
    table = np.array(colors, dtype=np.float32)
    image = rgb.astype(np.float32)
    dist = np.abs(image[..., None, 1:] - table).sum(-1)
    cls = np.argmin(dist, axis=-1)
    heat = np.stack([(cls == k) * image[..., 0] for k in range(num_joints)]) / 255.0
    height, width = cls.shape
    flat = heat.reshape(num_joints, -1)
    idx, maxval = np.argmax(flat, 1), np.amax(flat, 1)
    preds = np.stack([idx % width, idx // width], -1).astype(np.float64)
    preds[maxval <= 0] = -1
    for k in range(num_joints):
        px, py = int(preds[k][0]), int(preds[k][1])
        if 1 < px < width - 1 and 1 < py < height - 1:
            h = heat[k]
            diff = np.array([h[py][px + 1] - h[py][px - 1], h[py + 1][px] - h[py - 1][px]])
            preds[k] += np.sign(diff) * 0.25
    return preds


# ---------------------------------------------------------------- helpers


def painter_codec(size=(256, 192), k=17, **params):
    params.setdefault("max_instances", 1)
    return rgbtask.get_codec("keypoints/heatmap", size=size, num_keypoints=k, **params)


def person(rng: np.random.Generator, size, k=17, margin=-0.5):
    h, w = size
    kp = np.stack([rng.uniform(margin, w - 0.5, k), rng.uniform(margin, h - 0.5, k)], -1)
    kp = np.minimum(kp, np.array([w - 0.5, h - 0.5]) - 1e-9)
    return kp


def differing(a: np.ndarray, b: np.ndarray) -> float:
    """Fraction of pixels whose RGB differs."""
    return float(np.any(a != b, axis=-1).mean())


# ---------------------------------------------------------------- encode: pixel for pixel


def test_defaults_are_painters():
    c = painter_codec()
    assert c.sigma is None and c.refine is None  # the config keeps what was given
    assert c.blob_sigma == 3.0 and c.class_sigma == 1.5 and c.refine_method == "quarter"
    assert rgbtask.get_codec(c.get_config()) == c
    grid = painter_codec(layout="grid")
    assert grid.blob_sigma == 2.0 and grid.refine_method == "gaussian_fit"


def test_person_on_256x192_equals_painter_pixel_for_pixel():
    """A seeded 17-keypoint person on Painter's 256 x 192 canvas: every pixel equals Painter's;
    the single-sigma layout (``grid``, which was ``painter``) differs on a tenth of them."""
    rng = np.random.default_rng(14)
    kp = person(rng, (256, 192))
    vis = np.ones(17, bool)
    want = painter_image(kp, vis, 256, 192)
    got = painter_codec().encode(kp[None])
    assert got.shape == want.shape and differing(got, want) == 0.0
    old = painter_codec(layout="grid").encode(kp[None])
    print("grid vs Painter: %.1f %% of pixels differ" % (100 * differing(old, want)))
    assert differing(old, want) > 0.05


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from([(256, 192), (40, 30), (17, 23)]),
    st.floats(0.0, 1.0),
)
def test_random_keypoint_sets_equal_painter(seed, size, p_hidden):
    """Any single person (positions anywhere on the canvas, edges included; some keypoints
    hidden; whole-pixel and half-pixel positions where rounding ties): Painter's image."""
    rng = np.random.default_rng(seed)
    kp = person(rng, size)
    snap = rng.random(17) < 0.3
    kp[snap] = np.floor(kp[snap]) + rng.choice([0.0, 0.5], (int(snap.sum()), 2))
    kp = np.clip(kp, -0.5, np.array([size[1] - 0.5, size[0] - 0.5]) - 1e-9)  # on the canvas
    vis = rng.random(17) >= p_hidden
    want = painter_image(kp, vis, *size)
    got = painter_codec(size).encode(kp[None], visible=vis[None])
    np.testing.assert_array_equal(got, want)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(1, 24), st.floats(0.5, 5.0))
def test_render_kernel_matches_its_reference(seed, k, sigma):
    """Several instances, any K and sigma: the kernel equals its NumPy specification."""
    rng = np.random.default_rng(seed)
    c = painter_codec((21, 26), k=k, sigma=sigma, max_instances=3)
    kp = rng.uniform(-0.5, 25.4, (2, 3, k, 2))
    kp[..., 1] = np.minimum(kp[..., 1], 20.4)
    kp[rng.random(kp.shape[:-1]) < 0.2] = np.nan
    want = kernels.render_painter_reference(kp, 21, 26, painter_codes(k), sigma, sigma / 2)
    np.testing.assert_array_equal(c.encode(kp), want)


# ---------------------------------------------------------------- decode: Painter's rule


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**31 - 1), st.booleans())
def test_default_decode_is_painters(seed, noisy):
    """One person, lossless or with integer noise: the codec's default decode returns Painter's
    coordinates exactly (where Painter finds the class at all)."""
    rng = np.random.default_rng(seed)
    c = painter_codec((64, 48))
    kp = person(rng, c.size)
    rgb = c.encode(kp[None])
    if noisy:
        rgb = np.clip(rgb.astype(int) + rng.integers(-6, 7, rgb.shape), 0, 255).astype(np.uint8)
    want = painter_decode(rgb)
    got = c.decode(rgb)[0]
    found = np.isfinite(got[:, 0])
    np.testing.assert_array_equal(got[found], want[found])
    assert np.all(want[~found] == -1) or noisy


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**31 - 1),
    st.sampled_from(["quarter", "dark", "none"]),
    st.booleans(),
    st.booleans(),
)
def test_peaks_kernel_matches_its_reference(seed, refine, noisy, majority):
    rng = np.random.default_rng(seed)
    c = painter_codec((19, 23), k=5, refine=refine, max_instances=3)
    rgb = c.encode(rng.uniform(0, 18, (1, 3, 5, 2)))
    if noisy:
        rgb = np.clip(rgb.astype(int) + rng.integers(-40, 41, rgb.shape), 0, 255).astype(np.uint8)
    flag = kernels.__dict__[f"REFINE_{refine.upper()}"]
    cand, count = kernels.find_peaks_painter(
        rgb,
        codes=painter_codes(5),
        scale=255.0,
        threshold=c.threshold,
        refine=flag,
        capacity=400,
        majority=majority,
    )
    want = kernels.painter_peaks_reference(
        rgb[0], painter_codes(5), 255.0, c.threshold, flag, majority
    )
    np.testing.assert_allclose(cand[0, : count[0]], want, rtol=0, atol=1e-12)


def test_lossless_round_trip_is_the_rounding_and_check_codec():
    """Centres are rounded to whole pixels (Painter's render): the decode returns that pixel,
    within sqrt(2) / 2 px of the keypoint, everywhere on the canvas."""
    rng = np.random.default_rng(3)
    c = painter_codec((64, 48))
    kp = person(rng, c.size)
    dec = c.decode(c.encode(kp[None]))[0]
    rounded = np.floor(kp.astype(np.float32).astype(np.float64) + 0.5)
    isolated = (
        np.min(np.linalg.norm(kp[:, None] - kp[None], axis=-1) + np.eye(17) * 1e9, axis=1)
        >= c.isolation_px
    )
    np.testing.assert_array_equal(dec[isolated], rounded[isolated])
    assert c.max_error_px == pytest.approx(np.sqrt(2) * 0.5, abs=1e-5)
    check_codec(painter_codec((40, 48), k=6, max_instances=2), [person(rng, (40, 48), 6)[None]])


def test_float_images_decode_like_their_codes():
    c = painter_codec((64, 48))
    rgb = c.encode(person(np.random.default_rng(5), c.size)[None])
    np.testing.assert_array_equal(c.decode(rgb / 255.0), c.decode(rgb))


def test_coco_people_in_painters_crop_equal_painter(data_dir):
    """Every annotated person of ../shared/data/keypoints/coco, cropped as Painter's pipeline does
    (``TopDownGetBboxCenterScale`` with padding 1.25 at the 192 / 256 aspect, ``TopDownAffine``:
    the box centre to the canvas centre, its padded width to 192 px): the codec's image equals
    Painter's pixel for pixel, and its decode Painter's coordinates (keypoints falling outside the
    crop are left out of both: off the canvas is not drawn here, see docs/keypoints.md)."""
    from rgbtask.io import read_coco_keypoints

    path = data_dir / "keypoints" / "coco" / "test_coco.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    c = painter_codec()
    before = painter_codec(layout="grid")  # the single-sigma layout that was "painter"
    h, w = c.size
    aspect = w / h
    n_people = 0
    old = []
    for ann in read_coco_keypoints(path).values():
        for kp, (x, y, bw, bh) in zip(ann["keypoints"], ann["bbox"]):
            if not np.isfinite(kp[:, 0]).any():
                continue
            centre = np.array([x + 0.5 * bw, y + 0.5 * bh])
            bw, bh = (bw, bw / aspect) if bw > aspect * bh else (bh * aspect, bh)
            crop = (kp - centre) * (w / (1.25 * bw)) + np.array([0.5 * w, 0.5 * h])
            crop = c._drawable(crop[None])[0]  # the canvas policy (both sides get the same)
            vis = np.isfinite(crop[:, 0])
            want = painter_image(np.nan_to_num(crop), vis, h, w)
            got = c.encode(crop[None])
            np.testing.assert_array_equal(got, want)
            decoded = c.decode(got)[0]
            theirs = painter_decode(want)
            np.testing.assert_array_equal(decoded[vis], theirs[vis])
            old.append(differing(before.encode(crop[None]), want))
            n_people += 1
    assert n_people == 12  # the 14 annotated people, less the two with no keypoint
    print(
        f"grid vs Painter on the COCO crops: mean {100 * np.mean(old):.2f} %, max "
        f"{100 * np.max(old):.2f} %"
    )


def test_one_jpeg_person_stays_one_person_among_many_slots():
    """JPEG q90 (4:2:0) of Painter's image, decoded with 20 instance slots: the chroma islands at
    the class windows' corners and the ringing inside them make no second person."""
    import cv2

    rng = np.random.default_rng(8)
    c = painter_codec(max_instances=20)
    kp = np.array([96.0, 128.0]) + rng.uniform(-70, 70, (17, 2)) * [1, 1.5]
    rgb = c.encode(kp[None])
    ok, buf = cv2.imencode(
        ".jpg", np.ascontiguousarray(rgb[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, 90]
    )
    assert ok
    decoded = c.decode(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    people = np.isfinite(decoded[..., 0]).any(axis=-1)
    assert people.sum() == 1
    err = np.linalg.norm(decoded[0] - kp, axis=-1)
    assert np.nanmax(err) <= 1.5 and np.isfinite(err).sum() >= 16
