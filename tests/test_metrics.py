"""Task metrics against values worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rgbtask.metrics import (
    confusion_matrix,
    depth_metrics,
    instance_matching,
    keypoint_metrics,
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
