"""Every metric in ``rgbtask.metrics`` on a case small enough to compute by hand.

The expected numbers are written out as the arithmetic that gives them (not recomputed with the
formula under test), so a slip in a formula (SqRel over t^2, a delta threshold off by a power, IoU
over the wrong union, an error averaged over keypoints that were not found) changes a number here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from rgbtask import metrics

nan = float("nan")


# ---------------------------------------------------------------- depth


def _depth_case():
    # four pixels valid in both: (pred, target) = (2, 1), (3, 3), (6, 4), (1.9, 1);
    # four more: pred invalid (0), target invalid (NaN), both invalid (NaN, NaN) and (-1, 0)
    pred = np.array([[2.0, 3.0, 6.0, 1.9], [0.0, 7.0, nan, -1.0]])
    target = np.array([[1.0, 3.0, 4.0, 1.0], [5.0, nan, nan, 0.0]])
    return pred, target


def test_depth_metrics_by_hand():
    pred, target = _depth_case()
    m = metrics.depth_metrics(pred, target)
    assert m["count"] == 4
    # |p - t| / t = 1, 0, 0.5, 0.9
    assert m["abs_rel"] == pytest.approx((1 + 0 + 0.5 + 0.9) / 4)
    # (p - t)^2 / t = 1, 0, 1, 0.81   (over t^2 it would be 1, 0, 0.25, 0.81: 0.515)
    assert m["sq_rel"] == pytest.approx((1 + 0 + 1 + 0.81) / 4)
    assert m["sq_rel"] == pytest.approx(0.7025)
    # (p - t)^2 = 1, 0, 4, 0.81
    assert m["rmse"] == pytest.approx(math.sqrt((1 + 0 + 4 + 0.81) / 4))
    logs = [math.log(2.0), 0.0, math.log(1.5), math.log(1.9)]
    assert m["log_rmse"] == pytest.approx(math.sqrt(sum(x * x for x in logs) / 4))
    # max(p/t, t/p) = 2, 1, 1.5, 1.9 against 1.25, 1.5625, 1.953125
    assert m["delta1"] == pytest.approx(25.0)
    assert m["delta2"] == pytest.approx(50.0)
    assert m["delta3"] == pytest.approx(75.0)
    # validity differs on 2 of 8 pixels: (0, 5) and (7, NaN)
    assert m["invalid_flips"] == pytest.approx(25.0)


def test_depth_metrics_divide_by_the_target_not_the_prediction():
    pred, target = _depth_case()
    swapped = metrics.depth_metrics(target, pred)
    # |p - t| / p with the roles swapped: 1/2, 0, 2/6, 0.9/1.9
    assert swapped["abs_rel"] == pytest.approx((0.5 + 0 + 2 / 6 + 0.9 / 1.9) / 4)
    assert swapped["sq_rel"] == pytest.approx((1 / 2 + 0 + 4 / 6 + 0.81 / 1.9) / 4)
    # symmetric ones do not change
    assert swapped["rmse"] == pytest.approx(metrics.depth_metrics(pred, target)["rmse"])


def test_depth_metrics_exact_prediction():
    t = np.array([0.5, 1.0, 80.0])
    m = metrics.depth_metrics(t.copy(), t)
    assert m["abs_rel"] == m["sq_rel"] == m["rmse"] == m["log_rmse"] == 0.0
    assert m["delta1"] == m["delta2"] == m["delta3"] == 100.0
    assert m["invalid_flips"] == 0.0


def test_depth_metrics_nothing_valid():
    m = metrics.depth_metrics(np.array([0.0, nan]), np.array([1.0, 2.0]))
    assert m["count"] == 0 and math.isnan(m["abs_rel"]) and math.isnan(m["delta1"])
    assert m["invalid_flips"] == pytest.approx(100.0)


# ---------------------------------------------------------------- normals


def _unit(deg: float) -> list[float]:
    """(0, 0, 1) tilted by ``deg`` degrees towards +x."""
    r = math.radians(deg)
    return [math.sin(r), 0.0, math.cos(r)]


def test_angular_error_known_angles():
    a = np.array([[1, 0, 0], [1, 0, 0], [1, 0, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float64)
    b = np.array([[1, 0, 0], [0, 1, 0], [1, 1, 0], [-1, 0, 0], _unit(10)], dtype=np.float64)
    np.testing.assert_allclose(
        metrics.angular_error_deg(a, b), [0.0, 90.0, 45.0, 180.0, 10.0], atol=1e-12
    )
    # not normalised: the angle only depends on the directions
    assert metrics.angular_error_deg([3.0, 0, 0], [2.0, 2.0, 0]) == pytest.approx(45.0)


def test_angular_error_keeps_precision_at_tiny_angles():
    # arccos of the dot product would give 0 (or 1e-6 deg off) here; atan2 gives the angle
    eps = 1e-7  # radians
    got = metrics.angular_error_deg([0.0, 0.0, 1.0], [math.sin(eps), 0.0, math.cos(eps)])
    assert got == pytest.approx(math.degrees(eps), rel=1e-6)


def test_normal_metrics_by_hand():
    target = np.array([[0.0, 0.0, 1.0]] * 8)
    errors = [0, 10, 20, 25, 45, 90]
    pred = np.array([_unit(e) for e in errors] + [[nan, nan, nan], _unit(5)])
    valid = np.array([True] * 7 + [False])  # the last row is excluded by valid, the NaN by itself
    m = metrics.normal_metrics(pred, target, valid)
    assert m["count"] == 6
    assert m["mean"] == pytest.approx(190 / 6)
    assert m["median"] == pytest.approx((20 + 25) / 2)
    assert m["rmse"] == pytest.approx(math.sqrt((0 + 100 + 400 + 625 + 2025 + 8100) / 6))
    assert m["within_11.25"] == pytest.approx(2 / 6 * 100)
    assert m["within_22.5"] == pytest.approx(3 / 6 * 100)
    assert m["within_30"] == pytest.approx(4 / 6 * 100)


def test_normal_metrics_thresholds_are_strict():
    target = np.array([[0.0, 0.0, 1.0]] * 3)
    pred = np.array([_unit(11.2), _unit(22.4), _unit(29.9)])
    m = metrics.normal_metrics(pred, target)
    assert (m["within_11.25"], m["within_22.5"], m["within_30"]) == pytest.approx(
        (100 / 3, 200 / 3, 100.0)
    )


# ---------------------------------------------------------------- masks


def _mask_case():
    target = np.array([[0, 0, 1, 1], [2, 2, 255, 1]])
    pred = np.array([[0, 1, 1, 1], [2, 0, 0, 255]])
    return pred, target


def test_confusion_matrix_by_hand():
    pred, target = _mask_case()
    cm = metrics.confusion_matrix(pred, target, num_classes=3, ignore=255)
    # rows: target class; columns: predicted 0, 1, 2, and "outside 0..2" (the 255 predicted)
    expected = [
        [1, 1, 0, 0],
        [0, 2, 0, 1],
        [1, 0, 1, 0],
    ]
    assert cm.tolist() == expected


def test_mask_metrics_by_hand():
    pred, target = _mask_case()
    m = metrics.mask_metrics(pred, target, ignore=255)
    # 7 target pixels count (one is ignore); correct: (0,0), (1,1), (1,1), (2,2)
    assert m["count"] == 7
    assert m["pixel_acc"] == pytest.approx(4 / 7 * 100)
    # class 0: tp 1, fn 1, fp 1 -> 1/3; class 1: tp 2, fn 1, fp 1 -> 2/4; class 2: tp 1, fn 1 -> 1/2
    assert m["per_class_iou"] == pytest.approx({0: 100 / 3, 1: 50.0, 2: 50.0})
    assert m["miou"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 2) / 3 * 100)


def test_mask_metrics_absent_classes_do_not_count():
    pred, target = _mask_case()
    m = metrics.mask_metrics(pred, target, num_classes=6, ignore=255)
    assert sorted(m["per_class_iou"]) == [0, 1, 2]
    assert m["miou"] == pytest.approx((1 / 3 + 1 / 2 + 1 / 2) / 3 * 100)


def test_mask_metrics_class_only_predicted_counts_as_zero():
    target = np.array([0, 0, 1, 1])
    pred = np.array([0, 2, 1, 1])
    m = metrics.mask_metrics(pred, target, ignore=None)
    # class 0: 1/2; class 1: 2/2; class 2 (predicted once, never in the target): 0/1
    assert m["per_class_iou"] == pytest.approx({0: 50.0, 1: 100.0, 2: 0.0})
    assert m["miou"] == pytest.approx(50.0)


def test_instance_matching_by_hand():
    # ids need not agree: target 1 ~ pred 5, target 2 ~ pred 7, target 3 and pred 9 disjoint
    target = np.array([1, 1, 1, 1, 2, 2, 0, 0, 3, 0])
    pred = np.array([5, 5, 5, 0, 7, 7, 7, 0, 0, 9])
    m = metrics.instance_matching(pred, target)
    # IoU(1, 5) = 3 / (4 + 3 - 3) = 3/4; IoU(2, 7) = 2 / (2 + 3 - 2) = 2/3
    assert (m["matched"], m["target_instances"], m["pred_instances"]) == (2, 3, 3)
    assert m["precision"] == pytest.approx(200 / 3)
    assert m["recall"] == pytest.approx(200 / 3)
    assert m["mean_iou"] == pytest.approx((3 / 4 + 2 / 3) / 2 * 100)
    strict = metrics.instance_matching(pred, target, iou_threshold=0.7)
    assert strict["matched"] == 1 and strict["mean_iou"] == pytest.approx(75.0)


def test_instance_matching_below_half_is_one_to_one():
    # target 1 overlaps pred 4 and pred 5, both above 0.2 IoU: one match only
    target = np.array([1, 1, 1, 0, 0])
    pred = np.array([4, 4, 5, 5, 0])
    m = metrics.instance_matching(pred, target, iou_threshold=0.2)
    # IoU(1, 4) = 2 / 3; IoU(1, 5) = 1 / 4: the assignment keeps the better one
    assert m["matched"] == 1
    assert m["mean_iou"] == pytest.approx(200 / 3)
    assert m["recall"] == pytest.approx(100.0) and m["precision"] == pytest.approx(50.0)


# ---------------------------------------------------------------- keypoints


def _keypoint_case():
    target = np.array([[[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [nan, nan]]])  # (N=1, K=4, 2)
    pred = np.array([[[3.0, 4.0], [10.0, 1.0], [nan, nan], [5.0, 5.0]]])
    return pred, target


def test_keypoint_metrics_by_hand():
    pred, target = _keypoint_case()
    m = metrics.keypoint_metrics(pred, target, bbox_size=100.0)
    # visible: the three finite targets; errors 5, 1, and a miss (NaN)
    assert m["count"] == 3
    assert m["mean_px"] == pytest.approx(3.0)
    assert m["max_px"] == pytest.approx(5.0)
    assert m["p95_px"] == pytest.approx(1 + 0.95 * (5 - 1))  # linear interpolation
    assert m["found"] == pytest.approx(200 / 3)
    # threshold 0.05 * 100 = 5 px, inclusive: both found keypoints hit, the miss does not
    assert m["pck@0.05"] == pytest.approx(200 / 3)
    tight = metrics.keypoint_metrics(pred, target, bbox_size=100.0, alpha=0.02)
    assert tight["pck@0.02"] == pytest.approx(100 / 3)  # 2 px: only the 1 px error


def test_keypoint_metrics_visible_mask_and_no_box():
    pred, target = _keypoint_case()
    m = metrics.keypoint_metrics(pred, target, visible=np.array([[True, False, True, True]]))
    # visible and finite target: keypoints 0 and 2; found: 0 only
    assert m["count"] == 2
    assert m["mean_px"] == pytest.approx(5.0)
    assert m["found"] == pytest.approx(50.0)
    assert not any(k.startswith("pck") for k in m)


def test_keypoint_metrics_per_instance_box():
    target = np.zeros((2, 1, 2))
    pred = np.array([[[3.0, 0.0]], [[3.0, 0.0]]])
    m = metrics.keypoint_metrics(pred, target, bbox_size=np.array([100.0, 40.0]))
    # thresholds 5 px and 2 px for an error of 3 px: one hit of two
    assert m["pck@0.05"] == pytest.approx(50.0)


def test_depth_delta_thresholds_are_strict():
    # ratios exactly 1.25, 1.25^2 and 1.25^3 (all exact in binary): none counts for its own delta
    pred = np.array([1.25, 1.5625, 1.953125])
    m = metrics.depth_metrics(pred, np.ones(3))
    assert (m["delta1"], m["delta2"], m["delta3"]) == pytest.approx((0.0, 100 / 3, 200 / 3))


def test_depth_invalid_flips_count_both_directions():
    # a valid depth lost (5 -> 0) and an invalid one decoded as a depth (NaN -> 7): 2 of 4
    pred = np.array([0.0, 7.0, 1.0, 1.0])
    target = np.array([5.0, nan, 1.0, 1.0])
    assert metrics.depth_metrics(pred, target)["invalid_flips"] == pytest.approx(50.0)
    assert metrics.depth_metrics(target, pred)["invalid_flips"] == pytest.approx(50.0)


def test_angular_error_is_scale_safe():
    """A component equal to the largest finite float must not overflow the cross product (issue 16):
    the angle depends on the directions only."""
    big = np.finfo(np.float64).max
    got = metrics.angular_error_deg([big, big, big], [1.0, 0.0, 0.0])
    assert got == pytest.approx(math.degrees(math.acos(1 / math.sqrt(3))), rel=1e-12)
    assert metrics.angular_error_deg([big, 0.1, 0.0], [1.0, 0.0, 0.0]) == pytest.approx(0.0)
    assert metrics.angular_error_deg([0.0, 0.0, 1e-310], [0.0, 1e-310, 0.0]) == pytest.approx(90.0)
    # zero vectors and non-finite rows behave as before
    assert metrics.angular_error_deg([0.0, 0.0, 0.0], [1.0, 0.0, 0.0]) == 0.0
    assert np.isnan(metrics.angular_error_deg([np.nan, 0.0, 1.0], [1.0, 0.0, 0.0]))
