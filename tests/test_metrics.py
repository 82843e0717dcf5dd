"""Task metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rgbtask.errors import ConfigError, InputError
from rgbtask.metrics import (
    align_scale_shift,
    confusion_matrix,
    depth_metrics,
    instance_matching,
    keypoint_metrics,
    keypoint_position_bound,
    mask_metrics,
)


def test_depth_metrics_by_hand():
    target = np.array([[1.0, 2.0, 4.0, np.nan]])
    pred = np.array([[1.1, 2.0, 2.0, 3.0]])  # last: an invalid pixel decoded as a depth
    m = depth_metrics(pred, target)
    assert m["abs_rel"] == pytest.approx((0.1 / 1 + 0 + 2 / 4) / 3)
    assert m["rmse"] == pytest.approx(math.sqrt((0.01 + 0 + 4) / 3))
    assert m["log_rmse"] == pytest.approx(math.sqrt((math.log(1.1) ** 2 + math.log(0.5) ** 2) / 3))
    assert m["delta1"] == pytest.approx(200 / 3)  # 1.1 and 1.0 pass, 2.0 (ratio 2) fails
    assert m["delta3"] == pytest.approx(200 / 3)  # ratio 2 > 1.25^3 = 1.95
    assert m["invalid_flips"] == 25.0 and m["count"] == 3


def test_depth_metrics_no_valid_pixel():
    m = depth_metrics(np.zeros((2, 2)), np.zeros((2, 2)))
    assert m["count"] == 0 and math.isnan(m["abs_rel"]) and m["invalid_flips"] == 0


def test_mask_metrics_by_hand():
    target = np.array([[0, 0, 1, 1, 255]])
    pred = np.array([[0, 1, 1, 1, 0]])
    m = mask_metrics(pred, target)
    # class 0: tp 1, fn 1, fp 0 -> 1/2; class 1: tp 2, fp 1 -> 2/3; the 255 pixel is ignored.
    assert m["pixel_acc"] == pytest.approx(75.0)
    assert m["per_class_iou"] == pytest.approx({0: 50.0, 1: 200 / 3})
    assert m["miou"] == pytest.approx((50 + 200 / 3) / 2)


def test_rejected_pixels_count_as_wrong():
    target = np.array([[1, 1]])
    pred = np.array([[1, 255]])  # a decoder rejected the second pixel
    assert mask_metrics(pred, target, num_classes=2)["pixel_acc"] == 50.0
    cm = confusion_matrix(pred, target, 2)
    assert cm.tolist() == [[0, 0, 0], [0, 1, 1]]


def test_instance_matching_ignores_ids():
    target = np.array([[1, 1, 2, 2, 0, 0]])
    pred = np.array([[7, 7, 7, 9, 0, 3]])
    m = instance_matching(pred, target)
    # 1 <-> 7: IoU 2/3 (match); 2 <-> 9: 1/2 (not > 0.5); 3 matches nothing.
    assert (m["matched"], m["target_instances"], m["pred_instances"]) == (1, 2, 3)
    assert m["mean_iou"] == pytest.approx(200 / 3)
    assert m["recall"] == 50.0 and m["precision"] == pytest.approx(100 / 3)


def test_keypoint_metrics_by_hand():
    target = np.array([[[10.0, 10.0], [20.0, 10.0], [np.nan, np.nan]]])
    pred = np.array([[[13.0, 14.0], [np.nan, np.nan], [5.0, 5.0]]])
    m = keypoint_metrics(pred, target, bbox_size=np.array([100.0]))
    assert m["mean_px"] == 5.0 and m["found"] == 50.0 and m["count"] == 2
    assert m["pck@0.05"] == 50.0  # 5 px <= 0.05 * 100; the missing one is a miss
    assert keypoint_metrics(pred, target, bbox_size=np.array([60.0]))["pck@0.05"] == 0.0


def test_instance_metrics_add_pixel_accuracy():
    from rgbtask.metrics import instance_metrics

    target = np.array([[0, 1, 1, 2]])
    pred = np.array([[0, 5, 5, 5]])  # instance 1 matches (IoU 2/3); instance 2 does not (1/3)
    out = instance_metrics(pred, target)
    assert out["matched"] == 1 and out["target_instances"] == 2 and out["pred_instances"] == 1
    assert out["mean_iou"] == pytest.approx(200 / 3)
    assert out["pixel_acc"] == 25.0  # only the background pixel has the same id


def test_roundtrip_metrics_by_hand():
    from rgbtask.metrics import roundtrip_metrics

    class Toy:
        def roundtrip_error(self, reference, decoded):
            return np.abs(np.asarray(decoded) - np.asarray(reference))

    out = roundtrip_metrics(Toy(), np.array([0.0, 0.0, 0.0, 0.0]), np.array([1.0, 3.0, 0, np.inf]))
    assert out == {"mean_error": 4 / 3, "max_error": 3.0, "invalid_flips": 25.0}


def test_keypoint_position_bound_by_hand():
    """Inside the canvas the sampled blob's Fisher information is the integral's (pi / 2 per axis
    over noise^2, whatever sigma; amplitude and position decouple by symmetry): the bound is
    ``noise * 2 / sqrt(pi)``. At a corner three quarters of the blob are missing and the bound
    grows; the canvas size does not matter far from the edges."""
    noise = 2 / 255
    kp = np.array([[40.0, 30.0], [40.3, 29.6], [0.0, 0.0]])
    for sigma in (1.5, 2.0, 3.0):
        b = keypoint_position_bound(kp, sigma, noise, (64, 80))
        assert b.shape == (3,)
        assert b[:2] == pytest.approx(noise * 2 / math.sqrt(math.pi), rel=1e-6)
        assert b[2] > 1.9 * b[0]  # a quarter of the blob: twice the interior's bound or more
        assert keypoint_position_bound(kp[:2], sigma, noise, (640, 800)) == pytest.approx(b[:2])
    assert keypoint_position_bound(kp[None], 2.0, noise, (64, 80)).shape == (1, 3)
    assert keypoint_position_bound(kp, 2.0, 0.0, (64, 80)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(InputError, match=r"shape \(\.\.\., 2\)"):
        keypoint_position_bound(np.zeros((3, 3)), 2.0, noise, (64, 80))
    with pytest.raises(InputError, match="finite"):
        keypoint_position_bound(np.array([[np.nan, 1.0]]), 2.0, noise, (64, 80))
    with pytest.raises(ConfigError, match="sigma > 0"):
        keypoint_position_bound(kp, 0.0, noise, (64, 80))


def test_keypoint_box_size_by_hand():
    from rgbtask.metrics import keypoint_box_size

    kp = np.array([[[1.0, 2.0], [4.0, 10.0], [np.nan, np.nan]], [[np.nan, np.nan]] * 3])
    assert keypoint_box_size(kp).tolist() == [8.0, 0.0]


def test_every_codec_declares_its_metrics_and_primary_metric():
    import rgbtask
    from rgbtask.metrics import primary_metric
    from rgbtask.registry import get_codec_class
    from rgbtask.samples import make_scene

    scene = make_scene(24, 32, seed=0)
    expected = {
        "depth": ("abs_rel", True),
        "normals": ("mean", True),
        "keypoints": ("mean_px", True),
        "mask/palette": ("miou", False),
        "mask/binary": ("miou", False),
        "mask/instance": ("mean_iou", False),
        "mask/panoptic": ("pixel_acc", False),
    }
    for name in rgbtask.list_codecs():
        cls = get_codec_class(name)
        key, lower = primary_metric(cls)
        if name in expected or name.split("/")[0] in expected:
            assert (key, lower) == expected.get(name, expected.get(name.split("/")[0])), name
        for codec, values in list(cls.examples(scene))[:1]:
            value = values[0]
            metrics = codec.metrics(value, codec.decode(codec.encode(value)))
            assert key in metrics and np.isscalar(metrics[key]), (name, key, sorted(metrics))


def test_mask_metrics_of_a_palette_leave_out_its_own_ignore_label():
    import rgbtask

    codec = rgbtask.get_codec("mask/palette", palette="voc", ignore=7)
    reference = np.array([[1, 2, 7, 7]])
    decoded = np.array([[1, 3, 5, 6]])
    out = codec.metrics(reference, decoded)
    assert out["count"] == 2 and out["pixel_acc"] == 50.0


# ---------------------------------------------------------------- alignment (affine-invariant depth)
def test_align_scale_shift_by_hand():
    # target = 2 pred + 1 exactly: scale 2, shift 1, aligned = target
    aligned, scale, shift = align_scale_shift(
        np.array([[1.0, 2.0, 3.0]]), np.array([[3.0, 5.0, 7.0]])
    )
    assert (scale, shift) == (2.0, 1.0) and isinstance(scale, float)
    np.testing.assert_array_equal(aligned, [[3.0, 5.0, 7.0]])
    # not exact: pred 0, 1, 2 vs target 1, 2, 4 -> scale = cov/var = 1.5, shift = 7/3 - 1.5 = 5/6
    aligned, scale, shift = align_scale_shift(
        np.array([[0.0, 1.0, 2.0]]), np.array([[1.0, 2.0, 4.0]])
    )
    assert scale == pytest.approx(1.5) and shift == pytest.approx(5.0 / 6.0)
    np.testing.assert_allclose(aligned, [[5 / 6, 5 / 6 + 1.5, 5 / 6 + 3.0]])


def test_align_scale_only_by_hand():
    # scale = sum(p t) / sum(p^2) = (1*2 + 2*5) / (1 + 4) = 2.4
    aligned, scale, shift = align_scale_shift(
        np.array([[1.0, 2.0]]), np.array([[2.0, 5.0]]), shift=False
    )
    assert scale == pytest.approx(2.4) and shift == 0.0
    np.testing.assert_allclose(aligned, [[2.4, 4.8]])


def test_align_in_disparity_space_by_hand():
    # depth 1, 1/2, 1/4 m: disparity 1, 2, 4 = pred + 1 for pred 0, 1, 3
    pred = np.array([[0.0, 1.0, 3.0]])
    target = np.array([[1.0, 0.5, 0.25]])
    aligned, scale, shift = align_scale_shift(pred, target, space="disparity")
    assert scale == pytest.approx(1.0) and shift == pytest.approx(1.0)
    np.testing.assert_allclose(aligned, target)
    # a fitted disparity <= 0 has no depth: NaN
    aligned, _, _ = align_scale_shift(
        np.array([[0.0, 1.0, 3.0, -5.0]]), np.array([[1.0, 0.5, 0.25, np.nan]]), space="disparity"
    )
    assert np.isnan(aligned[0, 3])


def test_align_uses_only_valid_pixels_and_works_per_image():
    pred = np.array([[[1.0, 2.0, 3.0, 100.0]], [[1.0, 2.0, 3.0, 4.0]]])
    target = np.array([[[3.0, 5.0, 7.0, 0.0]], [[2.0, 4.0, 6.0, 8.0]]])  # 0: invalid target
    aligned, scale, shift = align_scale_shift(pred, target)
    np.testing.assert_allclose(scale, [2.0, 2.0])
    np.testing.assert_allclose(shift, [1.0, 0.0], atol=1e-12)
    assert aligned[0, 0, 3] == pytest.approx(201.0)  # every pixel is mapped, fitted or not
    valid = np.array([[[True, True, False, False]], [[True] * 4]])
    target2 = target.copy()
    target2[0, 0, 2] = 1000.0  # outside valid: ignored by the fit
    _, scale2, shift2 = align_scale_shift(pred, target2, valid)
    np.testing.assert_allclose(scale2, [2.0, 2.0])
    np.testing.assert_allclose(shift2, [1.0, 0.0], atol=1e-12)


def test_align_degenerate_images():
    aligned, scale, shift = align_scale_shift(
        np.full((2, 2), 0.5), np.array([[1.0, 2.0], [3.0, 4.0]])
    )
    assert (scale, shift) == (0.0, 2.5)  # constant prediction: the mean target
    np.testing.assert_array_equal(aligned, np.full((2, 2), 2.5))
    aligned, scale, shift = align_scale_shift(np.ones((2, 2)), np.zeros((2, 2)))
    assert math.isnan(scale) and math.isnan(shift) and np.all(np.isnan(aligned))


def test_align_refuses_bad_input():
    with pytest.raises(ConfigError, match="space"):
        align_scale_shift(np.ones((2, 2)), np.ones((2, 2)), space="inverse")
    with pytest.raises(InputError, match="same shape"):
        align_scale_shift(np.ones((2, 2)), np.ones((2, 3)))
    with pytest.raises(InputError, match="valid"):
        align_scale_shift(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)))


def test_depth_metrics_align():
    target = np.array([[1.0, 2.0, 4.0, 8.0]])
    rel = (target - 1.0) / 7.0  # an affine-invariant prediction of the same scene
    assert depth_metrics(rel, target)["abs_rel"] > 0.5
    for align in ("scale_shift", None):
        m = depth_metrics(rel * 7.0 + 1.0 if align is None else rel, target, align=align)
        assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12) and m["count"] == 4
    # scale only: pred = target / 2 -> scale 2, exact
    m = depth_metrics(target / 2.0, target, align="scale")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    # but scale alone cannot undo a shift: pred = target - 1 -> not exact
    assert depth_metrics(target - 1.0, target, align="scale")["abs_rel"] > 0.01
    # disparity space: pred = 2 / target (a relative disparity) -> exact
    m = depth_metrics(2.0 / target, target, align="scale_shift", space="disparity")
    assert m["abs_rel"] == pytest.approx(0.0, abs=1e-12)
    # valid restricts the fit and the metrics
    pred = np.array([[1.0, 2.0, 4.0, 50.0]])
    m = depth_metrics(pred, target, valid=np.array([[True, True, True, False]]))
    assert m["abs_rel"] == 0.0 and m["count"] == 3
    with pytest.raises(ConfigError, match="align"):
        depth_metrics(pred, target, align="affine")
    with pytest.raises(ConfigError, match="space"):
        depth_metrics(pred, target, space="disparity")
