"""``mask/instance`` with ``colors="random"`` (seeded random distinct colours per image, decoded by
colour clustering), :func:`rgbtask.metrics.panoptic_quality`, and its PQ on COCO panoptic samples.

PQ figures (printed with ``-s``): ``CI=1 python -m pytest -q -s -p no:cacheprovider
tests/test_instances.py -k coco``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import instance_maps

import rgbtask
from rgbtask.codecs.masks import random_instance_colors, relabel_error
from rgbtask.colorspace import convert
from rgbtask.errors import ConfigError
from rgbtask.metrics import panoptic_quality
from rgbtask.testing import check_codec, check_roundtrip

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"
COCO = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "panoptic" / "coco"

RANDOM = rgbtask.get_codec("mask/instance", colors="random", seed=5, max_instances=12)


def _with(codec, **changes):
    return rgbtask.get_codec({**codec.get_config(), **changes})


def _pairwise(coords: np.ndarray) -> float:
    d = np.sqrt(((coords[:, None] - coords[None]) ** 2).sum(-1))
    d[np.diag_indices_from(d)] = np.inf
    return float(d.min()) if d.size else np.inf


# ---------------------------------------------------------------- properties


@settings(max_examples=40, deadline=None)
@given(instance_maps())
def test_random_colours_are_distinct_and_far_from_black(ids):
    rgb = RANDOM.encode(ids)
    assert rgb.dtype == np.uint8 and rgb.shape == ids.shape + (3,) and rgb.flags.c_contiguous
    d_min = RANDOM.random_min_distance
    for img_ids, img in zip(
        ids.reshape((-1,) + ids.shape[-2:]), rgb.reshape((-1,) + rgb.shape[-3:])
    ):
        assert np.all(img[img_ids == 0] == 0)  # background black
        present = np.unique(img_ids[img_ids > 0])
        colours = np.asarray([img[img_ids == k][0] for k in present], dtype=np.uint8).reshape(-1, 3)
        for k, c in zip(present, colours):
            assert np.all(img[img_ids == k] == c)  # one colour per instance
        coords = convert(np.concatenate([np.zeros((1, 3), np.uint8), colours]), RANDOM.space)
        assert _pairwise(coords) >= d_min  # the rejection rule, black included


@settings(max_examples=40, deadline=None)
@given(instance_maps())
def test_random_round_trip_within_the_derived_bound(ids):
    # bound: 0 on background and on instances of >= min_size pixels that are one 8-connected
    # region (components=True) or any shape (default, components=False); 1 elsewhere
    for codec in (RANDOM, _with(RANDOM, components=True), _with(RANDOM, min_size=1)):
        dec = codec.decode(codec.encode(ids))
        assert dec.shape == ids.shape and dec.dtype == np.int32
        err = codec.roundtrip_error(ids, dec)
        assert np.all(err <= codec.roundtrip_bound(ids))


@settings(max_examples=20, deadline=None)
@given(instance_maps(max_side=12, max_batch_dims=0), st.integers(0, 3))
def test_random_batch_equals_loop_and_seed_maps_by_content(ids, position):
    # an image gets the same colours wherever it sits in a batch (the seed is keyed by content)
    others = [np.roll(ids, k + 1, axis=-1) for k in range(3)]
    others.insert(position, ids)
    batch = np.stack(others)
    enc = RANDOM.encode(batch)
    assert np.array_equal(enc[position], RANDOM.encode(ids))
    assert np.array_equal(enc, np.stack([RANDOM.encode(v) for v in others]))
    assert np.array_equal(RANDOM.decode(enc), np.stack([RANDOM.decode(e) for e in enc]))


def test_random_is_deterministic_and_seeded(scene):
    ids = scene.instance
    a = RANDOM.encode(ids)
    assert np.array_equal(a, RANDOM.encode(ids))
    assert not np.array_equal(a, _with(RANDOM, seed=6).encode(ids))
    # the published rule, spelled out: ascending present ids take the accepted draws in order
    assert np.array_equal(a, random_instance_colors(ids, "oklab", RANDOM.random_min_distance, 5))
    assert not np.array_equal(a, _with(RANDOM, colors="distinct").encode(ids))


def test_random_decode_renumbers_in_raster_order():
    ids = np.zeros((20, 20), np.int32)
    ids[10:20, 0:10] = 9
    ids[0:8, 5:15] = 4
    ids[12:18, 12:18] = 4  # two regions of one instance: one instance (components=False)
    dec = RANDOM.decode(RANDOM.encode(ids))
    assert set(np.unique(dec).tolist()) == {0, 1, 2}
    assert np.all(dec[ids == 4] == 1) and np.all(dec[ids == 9] == 2)
    split = _with(RANDOM, components=True).decode(RANDOM.encode(ids))
    assert set(np.unique(split[ids == 4]).tolist()) == {1, 3}


def test_codec_conformance_random():
    from rgbtask.samples import make_scene

    scene = make_scene(height=40, width=56, seed=9)
    check_codec(_with(RANDOM, max_instances=64), [scene.instance, scene.instance.T.copy()])


def test_random_config():
    c = rgbtask.get_codec("mask/instance", colors="random", seed=3)
    assert c.get_config()["colors"] == "random" and c.get_config()["seed"] == 3
    assert rgbtask.get_codec(c.get_config()) == c
    assert not c.pixelwise and rgbtask.get_codec("mask/instance", decoder="pixel").pixelwise
    assert c.split_components is False and _with(c, colors="distinct").split_components is True
    with pytest.raises(ConfigError, match="expected"):
        rgbtask.get_codec("mask/instance", colors="rainbow")
    with pytest.raises(ConfigError, match="cluster_distance < min_distance"):
        rgbtask.get_codec("mask/instance", colors="random", min_distance=0.05, cluster_distance=0.1)
    with pytest.raises(ConfigError, match="expected"):
        rgbtask.get_codec("mask/instance", colors="random", seed=-1)


def test_too_many_instances_for_min_distance_is_a_clear_error():
    codec = rgbtask.get_codec("mask/instance", colors="random", min_distance=0.9)
    ids = np.arange(6, dtype=np.int32).reshape(2, 3)
    with pytest.raises(rgbtask.InputError, match="expected room"):
        codec.encode(ids)


def test_distinct_default_unchanged(scene):
    # colors="distinct" is the default: the codes of before (the golden test_masks.py pins them)
    codec = rgbtask.get_codec("mask/instance")
    assert codec.colors == "distinct"
    assert np.array_equal(codec.encode(scene.instance), codec.palette_colors[scene.instance])


# ---------------------------------------------------------------- relabel error and PQ


def test_relabel_error():
    ref = np.array([[0, 1, 1], [2, 2, 0]])
    assert relabel_error(ref, np.array([[0, 7, 7], [3, 3, 0]])).sum() == 0
    assert relabel_error(ref, np.array([[0, 7, 7], [7, 7, 0]])).sum() == 2  # merged: one wins
    assert relabel_error(ref, np.array([[5, 7, 7], [3, 3, 0]])).sum() == 1  # background moved


def test_panoptic_quality_values():
    t = np.zeros((4, 10), np.int32)
    t[:, :5], t[:, 5:] = 1, 2
    assert panoptic_quality(t, t)["pq"] == 100.0
    p = t.copy()
    p[:, 4] = 2  # segment 1 IoU 16/20 = 0.8, segment 2 IoU 20/24
    out = panoptic_quality(p + 10, t)
    assert out["tp"] == 2 and out["fp"] == 0 and out["fn"] == 0
    assert out["sq"] == pytest.approx(100 * (0.8 + 20 / 24) / 2) and out["rq"] == 100.0
    # a half-and-half split: no match (IoU 0.5 is not > 0.5): 2 FP, 1 FN
    q = np.zeros((2, 4), np.int32)
    q[:, 2:] = 1
    r = np.ones((2, 4), np.int32)
    out = panoptic_quality(q + 1, r)
    assert (out["tp"], out["fp"], out["fn"], out["pq"]) == (0, 2, 1, 0.0)
    # a predicted segment mostly on target void is no false positive; void pixels leave the union
    v = np.zeros((2, 6), np.int32)
    v[:, :3] = 1
    pv = np.ones((2, 6), np.int32)
    pv[:, 5] = 2
    out = panoptic_quality(pv, v)
    assert (out["tp"], out["fp"], out["fn"]) == (1, 0, 0) and out["sq"] == 100.0
    assert np.isnan(panoptic_quality(np.zeros((2, 2)), np.zeros((2, 2)))["pq"])
    # void=None: 0 is a segment like any other; the speck on it is a false positive
    out = panoptic_quality(pv, v, void=None)
    assert (out["tp"], out["fp"], out["fn"]) == (1, 1, 1)  # pred 2 unmatched, target 0 unmatched
    speck = v.copy()
    speck[0, 5] = 7
    out = panoptic_quality(speck, v, void=None)
    assert (out["tp"], out["fp"], out["fn"]) == (2, 1, 0)
    assert panoptic_quality(speck, v)["fp"] == 0  # void=0: a speck on void is not counted


# ---------------------------------------------------------------- golden


GOLDEN_RANDOM = {
    "mask_instance_random": {"name": "mask/instance", "colors": "random", "seed": 0},
    "mask_palette_painter_ade20k": {"name": "mask/palette", "palette": "painter_ade20k"},
    "mask_palette_painter_coco": {"name": "mask/palette", "palette": "painter_coco"},
}


@pytest.mark.parametrize("case", sorted(GOLDEN_RANDOM))
def test_golden_files(case):
    from PIL import Image

    codec = rgbtask.get_codec(GOLDEN_RANDOM[case])
    with np.load(GOLDEN / "mask_inputs.npz") as data:
        value = data["instance" if "instance" in case else "semantic"]
    path = GOLDEN / f"{case}.png"
    if REGEN and not path.exists():
        Image.fromarray(codec.encode(value)).save(path)
    stored = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(codec.encode(value), stored), "the encoding changed: a format break"
    check_roundtrip(codec, value, stored)


# ---------------------------------------------------------------- COCO panoptic samples


def _coco_samples():
    from PIL import Image

    folder = COCO / "panoptic_examples"
    if not folder.is_dir():
        pytest.skip(f"COCO panoptic samples not found in {folder}")
    out = []
    for f in sorted(folder.glob("*.png")):
        rgb = np.asarray(Image.open(f).convert("RGB")).astype(np.int64)
        seg = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]  # panopticapi rgb2id
        u, inv = np.unique(seg, return_inverse=True)
        out.append((f.name, (inv.reshape(seg.shape) + (u[0] != 0)).astype(np.int32)))
    if not out:
        pytest.skip("no COCO panoptic sample PNGs")
    return out


@pytest.mark.slow
def test_coco_panoptic_quality_random_colours():
    from rgbtask.fidelity.perturb import JPEG

    for name, ids in _coco_samples():
        codec = rgbtask.get_codec("mask/instance", colors="random", seed=0)
        rgb = codec.encode(ids)
        lossless = panoptic_quality(codec.decode(rgb), ids)
        jpeg = panoptic_quality(codec.decode(JPEG(90, "4:4:4")(rgb, np.random.default_rng(0))), ids)
        print(
            f"{name}: {ids.max()} segments, PQ lossless {lossless['pq']:.1f}, jpeg q90 4:4:4 "
            f"PQ {jpeg['pq']:.1f} (SQ {jpeg['sq']:.1f}, RQ {jpeg['rq']:.1f}, TP {jpeg['tp']}, "
            f"FP {jpeg['fp']}, FN {jpeg['fn']})"
        )
        assert lossless["pq"] == 100.0
        assert jpeg["pq"] > 40.0 and jpeg["fn"] <= 2


def test_torch_runs_random_colours_on_the_host_path(scene):
    torch = pytest.importorskip("torch")
    from rgbtask.torch import TensorCodec

    tc = TensorCodec(RANDOM, layout="NHWC")
    ids = scene.instance.astype(np.int64) % 13
    got = tc.encode(torch.from_numpy(ids), as_uint8=True)
    assert np.array_equal(got.cpu().numpy(), RANDOM.encode(ids))
    distinct = rgbtask.get_codec("mask/instance", max_instances=12)
    got = TensorCodec(distinct, layout="NHWC").encode(torch.from_numpy(ids), as_uint8=True)
    assert np.array_equal(got.cpu().numpy(), distinct.encode(ids))
