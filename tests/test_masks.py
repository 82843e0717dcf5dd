"""mask/* codecs: palettes on real data, exact nearest-colour decoding, kernels vs references,
robustness targets of the issue, instance decoding of generated-style images, golden files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import image_shapes

import rgbtask
from rgbtask.codecs.masks import (
    MaskBinary,
    MaskInstance,
    MaskPalette,
    MaskPanoptic,
    nearest_color,
    remove_small_regions,
)
from rgbtask.colorspace import convert
from rgbtask.core import masks as kernels
from rgbtask.errors import InputError
from rgbtask.metrics import instance_matching, mask_metrics
from rgbtask.palettes import PaletteCollisionWarning, named_palette
from rgbtask.testing import check_codec

GOLDEN = Path(__file__).parent / "golden"

pytestmark = pytest.mark.filterwarnings("ignore::rgbtask.palettes.PaletteCollisionWarning")


def brute_force(rgb, palette, space, reject=np.inf, ignore=255):
    """The specification: NumPy argmin over every palette colour."""
    flat = rgb.reshape(-1, 3)
    scale = {np.uint8: 255.0, np.uint16: 65535.0}.get(rgb.dtype.type, 1.0)
    coords = np.empty(flat.shape, np.float64)
    kernels.convert_kernel(np.ascontiguousarray(flat), coords, scale, kernels.SPACE_IDS[space])
    pal = convert(np.asarray(palette, np.uint8), space)
    labels, conf, valid = kernels.nearest_reference(coords, pal, reject, ignore)
    shape = rgb.shape[:-1]
    return labels.reshape(shape), conf.reshape(shape), valid.reshape(shape)


# ---------------------------------------------------------------- registry and config


def test_codecs_registered_with_the_issue_names():
    assert {"mask/palette", "mask/panoptic", "mask/instance", "mask/binary"} <= set(
        rgbtask.list_codecs("mask")
    )
    for name in ("ade20k", "voc", "cityscapes", "coco"):
        assert rgbtask.get_codec("mask/palette", palette=name).palette == name
    c = rgbtask.get_codec("mask/palette", palette="distinct", num_classes=21)
    assert c.levels == 21
    c = rgbtask.get_codec("mask/palette", palette=[[1, 2, 3], [4, 5, 6]])
    assert c.levels == 2 and rgbtask.get_codec(c.get_config()) == c


@pytest.mark.parametrize(
    "params",
    [
        {"palette": "nope"},
        {"palette": "distinct"},
        {"palette": [[1, 2]]},
        {"palette": [[0, 0, 300]]},
        {"space": "hsv"},
        {"reject_distance": -1},
        {"ignore": -3},
        {"min_region": -1},
        {"palette": "voc", "num_classes": 999},
    ],
)
def test_bad_palette_params(params):
    with pytest.raises(rgbtask.ConfigError, match="expected"):
        rgbtask.get_codec("mask/palette", **params)


def test_bad_labels():
    c = MaskPalette(palette="cityscapes")
    with pytest.raises(rgbtask.InputError, match="expected labels in 0..18"):
        c.encode(np.full((2, 2), 19))
    with pytest.raises(rgbtask.InputError, match=r"expected labels of shape .*integer/unsigned"):
        c.encode(np.zeros((2, 2), np.float32))
    with pytest.raises(rgbtask.InputError, match="non-empty"):
        c.encode(np.zeros((3,), np.uint8))


# ---------------------------------------------------------------- palettes and collisions


def test_ade20k_collision_is_detected_and_documented():
    colors = named_palette("ade20k")
    assert colors.shape == (151, 3) and colors[0].tolist() == [0, 0, 0]
    assert colors[7].tolist() == colors[49].tolist() == [140, 140, 140]
    from rgbtask import palettes
    from rgbtask.codecs import masks as mask_codecs

    palettes._warned.clear()
    mask_codecs._resolved_palette.cache_clear()
    with warnings.catch_warnings():
        # documented, not warned (issue 16): python -W error must build the default codec
        warnings.simplefilter("error", PaletteCollisionWarning)
        codec = MaskPalette(palette="ade20k")
    assert codec.shadowed == [49] and codec.info()["collisions"] == [[7, 49]]
    labels = np.arange(151, dtype=np.uint8).reshape(1, 151)
    back = codec.decode(codec.encode(labels))
    wrong = np.flatnonzero(back[0] != labels[0]).tolist()
    assert wrong == [49] and back[0, 49] == 7  # exactly one class cannot round-trip


def test_default_palette_builds_under_python_W_error():
    """Issue 16: with python -W error the default get_codec("mask/palette") raised."""
    code = (
        "import rgbtask; c = rgbtask.get_codec('mask/palette'); "
        "print(c.info()['collisions'], rgbtask.PaletteCollisionWarning.__name__)"
    )
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, cwd=root
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[[7,", "49]]", "PaletteCollisionWarning"]
    assert out.stderr == ""


def test_a_users_colliding_palette_warns_once_from_the_callers_line():
    """Issue 16: warn once per process, attributed to the caller's frame, not library source."""
    from rgbtask import palettes
    from rgbtask.codecs import masks as mask_codecs

    assert rgbtask.PaletteCollisionWarning is PaletteCollisionWarning
    colors = [[10, 20, 30], [40, 50, 60], [10, 20, 30]]
    palettes._warned.clear()
    mask_codecs._resolved_palette.cache_clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codec = rgbtask.get_codec("mask/palette", palette=colors)
        rgbtask.get_codec("mask/palette", palette=colors)
        MaskPalette(palette=colors, space="lab")
        MaskPalette.from_config(codec.get_config())
    collisions = [w for w in caught if issubclass(w.category, PaletteCollisionWarning)]
    assert len(collisions) == 1
    assert collisions[0].filename == __file__
    assert "labels [(0, 2)] the same colour" in str(collisions[0].message)
    # built directly, the warning names this file too
    palettes._warned.clear()
    mask_codecs._resolved_palette.cache_clear()
    with pytest.warns(PaletteCollisionWarning) as record:
        MaskPalette(palette=colors)
    assert record[0].filename == __file__


@pytest.mark.parametrize("name", ["voc", "cityscapes", "coco"])
def test_other_named_palettes_round_trip_every_label(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", PaletteCollisionWarning)
        codec = MaskPalette(palette=name, space="lab")
    labels = np.arange(codec.levels).reshape(1, -1)
    assert codec.shadowed == []
    assert np.array_equal(codec.decode(codec.encode(labels)), labels)


# ---------------------------------------------------------------- exact nearest-colour decoding


@pytest.mark.parametrize("space", ["rgb", "lab", "oklab"])
def test_8_bit_decode_equals_brute_force_on_random_and_tie_colours(space):
    rng = np.random.default_rng(1)
    palette = named_palette("ade20k")
    rgb = rng.integers(0, 256, (256, 256, 3)).astype(np.uint8)
    # Midpoints of palette pairs: the near-ties where a sloppy search would differ.
    a, b = rng.integers(0, 151, (2, 4096))
    mid = ((palette[a].astype(int) + palette[b]) // 2).astype(np.uint8)
    rgb[:16] = mid.reshape(16, 256, 3)
    reject = 25.0 if space == "lab" else np.inf
    got = nearest_color(rgb, palette, space, None if np.isinf(reject) else reject)
    want = brute_force(rgb, palette, space, reject)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)
    # A second call reads the now filled table: same answer.
    again = nearest_color(rgb, palette, space, None if np.isinf(reject) else reject)
    for g, w in zip(again, want):
        assert np.array_equal(g, w)


@given(
    st.integers(0, 2**32 - 1),
    image_shapes(max_side=8),
    st.integers(1, 40),
    st.sampled_from(["rgb", "lab", "oklab"]),
    st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]),
    st.sampled_from([None, 5.0, 40.0]),
)
def test_nearest_kernels_match_reference(seed, shape, k, space, dtype, reject):
    rng = np.random.default_rng(seed)
    palette = rng.integers(0, 256, (k, 3)).astype(np.uint8)
    if k > 2:
        palette[1] = palette[0]  # a collision
    if np.dtype(dtype).kind == "f":
        rgb = rng.random((*shape, 3)).astype(dtype)
    else:
        rgb = rng.integers(0, np.iinfo(dtype).max + 1, (*shape, 3)).astype(dtype)
    got = nearest_color(np.ascontiguousarray(rgb), palette, space, reject, 254)
    want = brute_force(rgb, palette, space, np.inf if reject is None else reject, 254)
    for g, w in zip(got, want):
        assert np.array_equal(g, w)


def test_threads_give_the_same_answer(monkeypatch):
    from rgbtask.core import _jit

    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (3 * _jit.MIN_ROWS_PER_THREAD // 64 + 7, 64, 3)).astype(np.uint8)
    palette = named_palette("voc")[:21]
    threaded = nearest_color(rgb, palette, "oklab")
    monkeypatch.setattr(_jit, "_num_threads", 1)
    single = nearest_color(rgb.astype(np.float64) / 255.0, palette, "oklab")
    for a, b in zip(threaded, single):
        assert np.array_equal(a, b)


def test_float_input_is_not_rounded_to_8_bits():
    codec = MaskPalette(palette=[[0, 0, 0], [2, 0, 0]], decoder="pixel")  # the per-pixel rule
    x = np.array([[[1.2 / 255, 0.0, 0.0]]])
    assert codec.decode(x)[0, 0] == 1  # 1.2 is nearer to 2 than to 0
    assert codec.decode(np.array([[[1, 0, 0]]], np.uint8))[0, 0] == 0  # rounded: a tie, lowest
    assert codec.decode(np.array([[[1.2 / 255 * 65535, 0, 0]]]).astype(np.uint16))[0, 0] == 1


def test_confidence_margin_and_rejection():
    # the per-pixel rule (decoder="context" would also look at the neighbours)
    codec = MaskPalette(
        palette=[[0, 0, 0], [200, 0, 0]], reject_distance=60.0, ignore=9, decoder="pixel"
    )
    rgb = np.array([[[0, 0, 0], [50, 0, 0], [100, 0, 0], [0, 90, 0], [200, 0, 0]]], np.uint8)
    value, conf, valid = codec.decode_with_confidence(rgb)
    assert value.tolist() == [[0, 0, 9, 9, 1]]
    assert valid.tolist() == [[True, True, False, False, True]]
    assert conf[0].tolist() == [1.0, np.float32((150 - 50) / 200), 0.0, 0.0, 1.0]
    value, conf, valid = MaskPalette(
        palette=[[0, 0, 0], [200, 0, 0]], decoder="pixel"
    ).decode_with_confidence(rgb)
    assert value[0, 2] == 0 and conf[0, 2] == 0.0 and valid.all()  # the midpoint: margin 0


def test_label_dtype():
    assert MaskPalette(palette="voc").decode(np.zeros((1, 1, 3), np.uint8)).dtype == np.uint8
    assert MaskPalette(palette="voc", ignore=300).label_dtype == np.int32


def test_remove_small_regions():
    labels = np.zeros((10, 10), np.int64)
    labels[:, 5:] = 2
    labels[4, 4] = 7  # a 1-pixel sliver
    out = remove_small_regions(labels, 4)
    assert out[4, 4] == 0 and (out[:, 5:] == 2).all() and (out[:, :4] == 0).all()
    assert np.array_equal(remove_small_regions(labels, 1), labels)


# ---------------------------------------------------------------- properties of every mask codec


@given(st.integers(0, 2**32 - 1), image_shapes(max_side=7))
def test_palette_roundtrip_batch_and_dtypes(seed, shape):
    rng = np.random.default_rng(seed)
    codec = MaskPalette(palette="voc", num_classes=256, space="oklab")  # the whole colour map
    labels = rng.integers(0, 256, shape).astype(np.uint8)
    rgb = codec.encode(labels)
    assert rgb.shape == (*shape, 3) and rgb.dtype == np.uint8
    back = codec.decode(rgb)
    assert back.dtype == np.uint8 and np.array_equal(back, labels)
    flat = labels.reshape(-1, *shape[-2:])
    loop = np.stack([codec.decode(codec.encode(x)) for x in flat]).reshape(shape)
    assert np.array_equal(loop, back)


@given(st.integers(0, 2**32 - 1), image_shapes(max_side=7))
def test_panoptic_roundtrip_and_kernels(seed, shape):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 1 << 24, shape)
    codec = MaskPanoptic()
    rgb = codec.encode(ids)
    assert np.array_equal(rgb, kernels.id2rgb_reference(ids))
    assert np.array_equal(codec.decode(rgb), kernels.rgb2id_reference(rgb))
    assert np.array_equal(codec.decode(rgb), ids)
    f = rgb / 255.0 + rng.uniform(-0.4, 0.4, rgb.shape) / 255.0
    f = np.clip(f, 0, 1)
    ids_f, conf_f = kernels.panoptic_float_reference(f.reshape(-1, 3), 1.0)
    d = codec.decode_with_confidence(f)
    assert np.array_equal(d.value.ravel(), ids_f) and np.array_equal(d.confidence.ravel(), conf_f)


@given(st.integers(0, 2**32 - 1), image_shapes(max_side=7), st.integers(1, 30))
def test_instance_roundtrip(seed, shape, n):
    codec = MaskInstance(max_instances=n)
    ids = np.random.default_rng(seed).integers(0, n + 1, shape)
    back = codec.decode(codec.encode(ids))
    assert back.dtype == np.int32 and np.array_equal(back, ids)


@given(
    st.integers(0, 2**32 - 1),
    image_shapes(max_side=7),
    st.floats(0.05, 0.95),
    st.sampled_from([np.uint8, np.float64]),
)
def test_binary_roundtrip_and_kernel(seed, shape, threshold, dtype):
    rng = np.random.default_rng(seed)
    codec = MaskBinary(threshold=threshold, foreground=(250, 10, 0), background=(0, 40, 90))
    mask = rng.random(shape) < 0.5
    assert np.array_equal(codec.decode(codec.encode(mask)), mask.astype(np.uint8))
    rgb = rng.integers(0, 256, (*shape, 3)).astype(np.uint8)
    if dtype is np.float64:
        rgb = rgb / 255.0
    d = codec.decode_with_confidence(rgb)
    scale = 255.0 if dtype is np.uint8 else 1.0
    want = kernels.binary_reference(rgb.reshape(-1, 3), scale, *codec._kernel_params())
    assert np.array_equal(d.value.ravel(), want[0]) and np.array_equal(
        d.confidence.ravel(), want[1]
    )


def test_binary_threshold_is_the_documented_plane():
    codec = MaskBinary()
    rgb = np.array([[[127, 127, 127], [128, 128, 128], [0, 0, 0], [255, 255, 255]]], np.uint8)
    v, c, _ = codec.decode_with_confidence(rgb)
    assert v.tolist() == [[0, 1, 0, 1]] and c[0, 2] == c[0, 3] == 1.0
    with pytest.raises(rgbtask.ConfigError, match="expected threshold"):
        MaskBinary(threshold=1.0)
    with pytest.raises(rgbtask.ConfigError, match="expected different colours"):
        MaskBinary(foreground=(0, 0, 0))


def test_conformance_of_variants(scene):
    check_codec(MaskPalette(palette="coco", space="lab", min_region=0), [scene.semantic])
    check_codec(MaskPalette(palette="cityscapes", reject_distance=3.0), [scene.semantic])
    check_codec(MaskInstance(max_instances=5), [scene.instance])


# ---------------------------------------------------------------- real data


def _ade_labels(data_dir):
    from PIL import Image

    paths = sorted((data_dir / "semantic/ade20k/annotations").glob("*.png"))
    paths.append(data_dir / "semantic/ade20k/full_format/ADE_train_00000970_challenge.png")
    return [np.asarray(Image.open(p)) for p in paths]


def test_real_ade20k_lossless_except_the_colliding_class(data_dir):
    codec = MaskPalette(palette="ade20k")
    for labels in _ade_labels(data_dir):
        back = codec.decode(codec.encode(labels))
        wrong = back != labels
        assert np.all(labels[wrong] == 49) and np.all(back[wrong] == 7)
        assert np.array_equal(back[labels != 49], labels[labels != 49])


def test_real_voc_palette_png_round_trip(data_dir):
    from rgbtask.io import read_palette_png

    codec = MaskPalette(palette="voc")
    for path in sorted((data_dir / "semantic/voc_labelme/SegmentationClass").glob("*.png")):
        labels, palette = read_palette_png(path)
        assert np.array_equal(palette, named_palette("voc"))  # the file's palette is ours
        assert np.array_equal(codec.decode(codec.encode(labels)), labels)


def test_real_coco_panoptic_bit_exact(data_dir):
    from PIL import Image

    root = data_dir / "panoptic/coco"
    info = json.loads((root / "panoptic_examples.json").read_text())
    codec = MaskPanoptic()
    for ann in info["annotations"]:
        rgb = np.asarray(Image.open(root / "panoptic_examples" / ann["file_name"]).convert("RGB"))
        ids = codec.decode(rgb)
        assert np.array_equal(ids, kernels.rgb2id_reference(rgb))  # panopticapi's formula
        assert set(np.unique(ids[ids > 0]).tolist()) == {s["id"] for s in ann["segments_info"]}
        assert np.array_equal(codec.encode(ids), rgb)


def test_jpeg_q90_444_targets_on_real_ade20k(data_dir):
    from rgbtask.fidelity.perturb import JPEG

    # min_region on the per-pixel decoder (the context decoder's figures: test_mask_context.py)
    codec = MaskPalette(
        palette="distinct", num_classes=151, space="rgb", min_region=16, decoder="pixel"
    )
    pred, ref = [], []
    for i, labels in enumerate(_ade_labels(data_dir)[:3]):
        rgb = JPEG(90, "4:4:4")(codec.encode(labels), np.random.default_rng(i))
        pred.append(codec.decode(rgb).ravel())
        ref.append(labels.ravel())
    m = mask_metrics(np.concatenate(pred), np.concatenate(ref), num_classes=151, ignore=None)
    assert m["pixel_acc"] >= 99.0 and m["miou"] >= 97.0  # measured: 99.86 / 98.83


def test_instance_decode_of_generated_style_coco_images(data_dir):
    from PIL import Image

    from rgbtask.fidelity.perturb import JPEG, Noise

    root = data_dir / "panoptic/coco"
    codec = MaskInstance(min_size=32)
    matched = total = 0
    ious = []
    for k, path in enumerate(sorted((root / "panoptic_examples").glob("*.png"))):
        ids = MaskPanoptic().decode(np.asarray(Image.open(path).convert("RGB")))
        _, dense = np.unique(ids, return_inverse=True)
        dense = dense.reshape(ids.shape)  # segments 1..N (void 0 stays 0: it is the smallest id)
        rng = np.random.default_rng(k)
        colors = rng.integers(30, 256, (dense.max() + 1, 3)).astype(np.uint8)
        colors[0] = 0
        rgb = Noise(2.0)(JPEG(90)(colors[dense], rng), rng)
        out = codec.decode_instances(rgb)
        m = instance_matching(out.ids, dense)
        matched += m["matched"]
        total += m["target_instances"]
        ious.append(m["mean_iou"])
        assert out.colors.shape == (out.ids.max(), 3) and out.scores.shape == (out.ids.max(),)
    assert matched / total >= 0.9  # measured: 48 of 50 (docs/masks.md)
    assert np.mean(ious) >= 90.0  # measured: 96.5


def test_encode_families_and_decode_instances():
    ids = np.zeros((40, 60), np.int64)
    ids[2:18, 2:25] = 1
    ids[22:38, 2:25] = 2  # same class as 1, separate
    ids[5:35, 35:58] = 3
    codec = MaskInstance(min_size=16)
    rgb = codec.encode_families(ids, {1: 0, 2: 0, 3: 2}, palette="coco", seed=4)
    person = named_palette("coco")[0]
    assert rgb[10, 10].tolist() == person.tolist()  # first instance: the class colour itself
    assert 0 < np.abs(rgb[30, 10].astype(int) - person).max() <= 30  # then jittered around it
    out = codec.decode_instances(rgb)
    assert out.ids.max() == 3 and instance_matching(out.ids, ids)["matched"] == 3
    assert np.all(out.scores > 0) and out.valid.all()
    with pytest.raises(rgbtask.InputError, match="expected a class"):
        codec.encode_families(ids, {1: 0})


# ---------------------------------------------------------------- golden files
# An encoding is a file format: today's encoder must reproduce the stored codes exactly (compared as
# pixels, not compressed bytes, which change with zlib) and today's decoder must read them back.
# Regenerate only on purpose: RGBTASK_REGEN_GOLDEN=1.

REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"
GOLDEN_CASES = {
    "mask_palette_ade20k": ({"name": "mask/palette"}, "semantic"),
    "mask_palette_voc": ({"name": "mask/palette", "palette": "voc"}, "semantic"),
    "mask_palette_distinct7": (
        {"name": "mask/palette", "palette": "distinct", "num_classes": 7},
        "semantic",
    ),
    "mask_panoptic": ({"name": "mask/panoptic"}, "panoptic"),
    "mask_instance": ({"name": "mask/instance"}, "instance"),
    "mask_binary": ({"name": "mask/binary"}, "binary"),
}


def _golden_inputs():
    path = GOLDEN / "mask_inputs.npz"
    if REGEN:
        from rgbtask.samples import make_scene

        scene = make_scene(height=12, width=16, seed=1)
        np.savez(
            path,
            semantic=scene.semantic,
            panoptic=scene.semantic.astype(np.int64) * 1000 + scene.instance,
            instance=scene.instance,
            binary=(scene.instance > 0).astype(np.uint8),
        )
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden_files(case):
    from PIL import Image

    config, kind = GOLDEN_CASES[case]
    codec = rgbtask.get_codec(config)
    value = _golden_inputs()[kind]
    path = GOLDEN / f"{case}.png"
    if REGEN:
        Image.fromarray(codec.encode(value)).save(path)
    stored = np.asarray(Image.open(path).convert("RGB"))
    assert np.array_equal(codec.encode(value), stored)  # the codes, byte for byte
    back = codec.decode(stored)
    assert np.array_equal(back.astype(np.int64), value.astype(np.int64))


# ---------------------------------------------------------------- issue 12: configs and tables


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("mask/palette", {"min_region": "x"}),
        ("mask/palette", {"min_region": 2.7}),
        ("mask/palette", {"ignore": None}),
        ("mask/palette", {"ignore": 2.5}),
        ("mask/palette", {"reject_distance": "far"}),
        ("mask/palette", {"reject_distance": float("nan")}),
        ("mask/palette", {"num_classes": 2.7}),
        ("mask/palette", {"palette": None}),
        ("mask/palette", {"avoid": "white"}),
        ("mask/palette", {"space": True}),
        ("mask/binary", {"threshold": "abc"}),
        ("mask/binary", {"foreground": (255, 255)}),
        ("mask/instance", {"max_instances": 2.7}),
        ("mask/instance", {"min_size": "3"}),
        ("mask/instance", {"cluster_distance": "far"}),
        ("mask/instance", {"space": "rgb"}),
    ],
)
def test_bad_params_raise_config_error(name, params):
    """Issue 12's repros: a ConfigError that says what was expected, never a silent cast."""
    with pytest.raises(rgbtask.ConfigError, match="expected"):
        rgbtask.get_codec(name, **params)


def test_params_keep_the_value_given():
    c = rgbtask.get_codec("mask/palette", min_region=3.0, reject_distance=5, avoid=[[9, 9, 9]])
    assert c.get_config()["min_region"] == 3 and c.get_config()["reject_distance"] == 5.0
    assert c.avoid == ((9, 9, 9),)
    assert MaskPalette(reject_distance=float("inf")).reject_distance == float("inf")
    assert MaskBinary(threshold=0.25).threshold == 0.25


@pytest.mark.parametrize(
    "change",
    [
        {"ignore": 254},
        {"space": "oklab"},
        {"reject_distance": 12.0},
        {"palette": "cityscapes"},
        {"num_classes": 12},
    ],
    ids=lambda d: next(iter(d)),
)
def test_palette_tables_differ_in_every_parameter(change, cold_tables):
    """Two configs that differ in one parameter get different lookup tables (a cache key that
    left the parameter out would hand the second codec the first one's answers)."""
    from rgbtask.codecs import masks as mask_codecs

    # the per-pixel decoder without a void entry (ignore is a class): its table holds ignore
    base = {
        "palette": "voc",
        "decoder": "pixel",
        "space": "lab",
        "reject_distance": 20.0,
        "ignore": 10,
    }
    rng = np.random.default_rng(5)
    rgb = rng.integers(0, 256, (32, 32, 3)).astype(np.uint8)
    first = MaskPalette(**base)
    second = MaskPalette(**{**base, **change})
    first.decode_with_confidence(rgb)
    (table,) = mask_codecs._tables.values()
    got = second.decode_with_confidence(rgb)
    tables = mask_codecs._tables.values()
    assert len(tables) == 2 and tables[0] is table and tables[1] is not table
    # and the second codec's answers are its own: the brute force on the same colours
    want = second.decode_with_confidence(rgb.astype(np.float64) / 255.0)
    assert np.array_equal(got.value, want.value)
    assert np.array_equal(got.confidence, want.confidence)
    assert np.array_equal(got.valid, want.valid)
    # the labels-only tables of decode() likewise
    first.decode(rgb)
    (label_table,) = mask_codecs._label_tables.values()
    assert np.array_equal(second.decode(rgb), want.value)
    label_tables = mask_codecs._label_tables.values()
    assert len(label_tables) == 2 and label_tables[0] is label_table
    assert label_tables[1] is not label_table


def test_instance_clustering_has_its_own_module():
    from rgbtask.codecs import instances, masks

    assert masks.decode_instances is instances.decode_instances
    assert masks.Instances is instances.Instances
    assert not hasattr(masks, "clear_tables")  # rgbtask.clear_tables() is the one way


# ---------------------------------------------------------------- channel axes (issue 16)


@pytest.mark.parametrize("name", ["mask/palette", "mask/panoptic", "mask/instance", "mask/binary"])
def test_labels_with_a_channel_axis_are_refused_with_squeeze(name):
    """Issue 16: labels (H, W, 1) encoded to (H, W, 1, 3) silently."""
    codec = rgbtask.get_codec(name)
    labels = np.zeros((12, 16, 1), np.uint8)
    labels[4:, 5:] = 1
    for value in (labels, labels[None], labels.astype(np.int64)):
        with pytest.raises(InputError, match=r"squeeze the last axis \(labels\[\.\.\., 0\]\)"):
            codec.encode(value)
    assert codec.encode(labels[..., 0]).shape == (12, 16, 3)


@pytest.mark.parametrize("name", ["mask/palette", "mask/panoptic", "mask/instance", "mask/binary"])
def test_a_colour_mask_passed_as_labels_is_refused_decode_it_instead(name):
    """Issue 16: a colour mask passed as labels encoded to (H, W, 3, 3) silently."""
    codec = rgbtask.get_codec(name)
    labels = np.zeros((12, 16), np.uint8)
    labels[4:, 5:] = 1
    rgb = codec.encode(labels)
    for value in (rgb, rgb[None], rgb.astype(np.int32)):
        with pytest.raises(InputError, match="this looks like an RGB image: decode it instead"):
            codec.encode(value)
    assert np.array_equal(codec.decode(rgb), labels)  # what the hint says to do


def test_small_batches_with_last_axis_1_or_3_stay_legal():
    """(..., H, W) batches are legal: images 1 or 3 pixels wide in small batches encode as before
    (the property tests draw them), and so does anything whose leading axes are under 8."""
    codec = rgbtask.get_codec("mask/palette", palette="voc")
    for shape in [(3, 7, 1), (2, 5, 3), (7, 30, 3), (30, 7, 1), (2, 3, 7, 3)]:
        labels = np.arange(np.prod(shape)).reshape(shape).astype(np.uint8) % 21
        rgb = codec.encode(labels)
        assert rgb.shape == (*shape, 3) and np.array_equal(codec.decode(rgb), labels)
    # a trailing 3 with values no label can have says RGB, whatever the size
    with pytest.raises(
        InputError, match=r"in 0\.\.1, got values in 0\.\.255; this looks like an RGB"
    ):
        rgbtask.get_codec("mask/binary").encode(np.eye(3, dtype=np.uint8)[None] * 255)


# ---------------------------------------------------------------- issue 17: the fast paths


def _brute_labels(rgb, colors, space, reject, ignore):
    """The plain NumPy rule (:func:`kernels.nearest_reference`) on uint8 colours."""
    coords = kernels.convert_reference(rgb.reshape(-1, 3), 255.0, kernels.SPACE_IDS[space])
    pal = convert(np.asarray(colors, np.uint8), space)
    labels, conf, _ = kernels.nearest_reference(coords, pal, reject, ignore)
    return labels.reshape(rgb.shape[:-1]), conf.reshape(rgb.shape[:-1])


@st.composite
def _palettes(draw, max_colors=40):
    n = draw(st.integers(1, max_colors))
    seed = draw(st.integers(0, 2**32 - 1))
    colors = np.random.default_rng(seed).integers(0, 256, (n, 3))
    if n > 2 and draw(st.booleans()):  # a shared colour: ties go to the lowest label
        colors[-1] = colors[0]
    return colors.tolist()


@pytest.mark.parametrize("need", [1, 2])
@settings(max_examples=10)
@given(palette=_palettes(), seed=st.integers(0, 2**32 - 1))
def test_candidate_grid_lists_the_nearest_of_every_point(need, palette, seed):
    """For points anywhere in a cell (its corners included), the ``need`` nearest palette colours
    (ties included) are listed for the cell, and the lists are in increasing order."""
    coords = convert(np.asarray(palette, np.uint8), "rgb")
    offsets, candidates = kernels.candidate_grid(coords, need)
    assert offsets[0] == 0 and offsets[-1] == candidates.size
    points = np.random.default_rng(seed).uniform(0, 255, (3000, 3))
    points[:8] = [[x, y, z] for x in (0, 255) for y in (0, 255) for z in (0, 255)]
    cells = np.minimum(points.astype(int) >> kernels.CELL_SHIFT, kernels.GRID - 1)
    cells = (cells[:, 0] * kernels.GRID + cells[:, 1]) * kernels.GRID + cells[:, 2]
    d = ((points[:, None] - coords[None]) ** 2).sum(-1)
    kth = np.sort(d, axis=1)[:, min(need, len(palette)) - 1]
    for i, cell in enumerate(cells):
        listed = candidates[offsets[cell] : offsets[cell + 1]]
        assert np.all(np.diff(listed) > 0)
        assert set(np.flatnonzero(d[i] <= kth[i])) <= set(listed.tolist())


@pytest.mark.parametrize("need", [1, 2])
@pytest.mark.parametrize(
    "palette",
    [[[7, 200, 13]], [[0, 0, 0], [0, 0, 0], [255, 255, 255]], [[10, 20, 30], [250, 5, 128]]],
)
def test_candidate_grid_kernel_matches_its_numpy_reference(need, palette):
    """The jitted grid (offsets counted, then lists filled) is the NumPy reference's arrays, for
    one colour, a shared colour (ties) and two; tiny palettes keep the plain-Python run short."""
    coords = convert(np.asarray(palette, np.uint8), "rgb")
    counts = np.zeros(kernels.GRID**3 + 1, dtype=np.int64)
    kernels.candidate_grid_kernel(coords, need, counts, np.zeros(0, dtype=np.int32))
    offsets = np.cumsum(counts)
    candidates = np.empty(int(offsets[-1]), dtype=np.int32)
    kernels.candidate_grid_kernel(coords, need, offsets, candidates)
    want_offsets, want_candidates = kernels.candidate_grid_reference(coords, need)
    assert np.array_equal(offsets, want_offsets)
    assert np.array_equal(candidates, want_candidates)
    got = kernels.candidate_grid(coords, need)  # the wrapper (NumPy under NUMBA_DISABLE_JIT)
    assert np.array_equal(got[0], want_offsets) and np.array_equal(got[1], want_candidates)


def test_candidate_grid_of_ade20k_is_the_reference():
    coords = convert(named_palette("ade20k"), "rgb")
    for need in (1, 2):
        got, want = (
            kernels.candidate_grid(coords, need),
            kernels.candidate_grid_reference(coords, need),
        )
        assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    _, candidates = kernels.candidate_grid(coords, 1)
    packed = kernels.packed_candidates(coords, candidates)
    assert np.array_equal(packed >> 24, candidates)
    rgb = named_palette("ade20k")[candidates].astype(np.int64)
    assert np.array_equal(packed & 0xFFFFFF, (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2])


@pytest.mark.parametrize("reject", [np.inf, 30.0])
def test_fine_cells_match_their_numpy_reference(reject):
    coords = convert(named_palette("cityscapes"), "rgb")
    codes = np.zeros(kernels.FINE_GRID**3, dtype=np.uint8)
    kernels.fine_cells(coords, *kernels.candidate_grid(coords, 1), reject, codes)
    want = kernels.fine_cells_reference(coords, reject)
    assert np.array_equal(codes, want) and 0 < np.count_nonzero(codes) < codes.size


@settings(max_examples=25)
@given(
    palette=_palettes(),
    space=st.sampled_from(["rgb", "lab"]),
    reject=st.sampled_from([None, 8.0, 40.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_labels_only_decode_is_the_brute_force(palette, space, reject, seed):
    """decode (compact label table, candidate grid, fine cells) == the NumPy brute force ==
    decode_with_confidence's labels, for colours near the palette, random ones and repeats."""
    codec = MaskPalette(
        decoder="pixel", palette=palette, space=space, reject_distance=reject, ignore=250
    )
    rng = np.random.default_rng(seed)
    near = np.asarray(palette)[rng.integers(0, len(palette), 600)] + rng.integers(-9, 10, (600, 3))
    rgb = np.concatenate([np.clip(near, 0, 255), rng.integers(0, 256, (600, 3))])
    rgb = rgb.astype(np.uint8).reshape(2, 30, 20, 3)
    want, _ = _brute_labels(rgb, codec.colors, space, np.inf if reject is None else reject, 250)
    for _ in range(2):  # the second call reads the filled table
        got = codec.decode(rgb)
        assert got.dtype == codec.label_dtype and np.array_equal(got, want)
    assert np.array_equal(codec.decode_with_confidence(rgb).value, want)


def test_labels_only_decode_of_every_colour_of_a_cell_row(cold_tables):
    """ADE20K (151 colours, two of them shared): 2^18 colours, a full slab of the cube in steps
    of 1 (every fine and coarse cell boundary it crosses), against the brute force; and a
    palette of 300 colours (uint16 table entries, int32 labels)."""
    codec = MaskPalette(decoder="pixel", palette="ade20k")
    g, b = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    for r in (37, 255):
        rgb = np.stack([np.full_like(g, r), g, b], -1).astype(np.uint8)
        want, _ = _brute_labels(rgb, codec.colors, "rgb", np.inf, 255)
        assert np.array_equal(codec.decode(rgb), want)
    big = MaskPalette(decoder="pixel", palette="distinct", num_classes=300)
    rgb = np.random.default_rng(1).integers(0, 256, (32, 32, 3)).astype(np.uint8)
    want, _ = _brute_labels(rgb, big.colors, "rgb", np.inf, 255)
    got = big.decode(rgb)
    assert got.dtype == np.int32 and np.array_equal(got, want)


def test_confidence_decode_with_the_grid_is_the_brute_force(cold_tables):
    """The confidence table path and the float path scan the listed colours only: the same labels
    and the same confidence bits as the full scan."""
    codec = MaskPalette(decoder="pixel", palette="ade20k", reject_distance=20.0)
    rgb = np.random.default_rng(2).integers(0, 256, (128, 128, 3)).astype(np.uint8)
    want, conf = _brute_labels(rgb, codec.colors, "rgb", 20.0, 255)
    got = codec.decode_with_confidence(rgb)
    assert np.array_equal(got.value, want) and np.array_equal(got.confidence, conf)
    as_float = codec.decode_with_confidence(rgb / 255.0)
    assert np.array_equal(as_float.value, want) and np.array_equal(as_float.confidence, conf)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.int32, np.int64, np.uint16, np.uint64])
@pytest.mark.parametrize("n", [1, 3, 4, 7, 1 << 16])
def test_encode_gather_is_np_take(dtype, n):
    codec = MaskPalette(palette="ade20k")
    labels = np.random.default_rng(n).integers(0, 127, (1, n)).astype(dtype)
    assert np.array_equal(codec.encode(labels), np.take(codec.colors, labels, axis=0))
    words = np.zeros(labels.size, np.uint8)  # the byte kernel (big-endian machines) too
    out = np.empty((labels.size, 3), np.uint8)
    kernels.gather_kernel(labels.ravel(), out, codec.colors, words[:1])
    assert np.array_equal(out, codec.colors[labels.ravel()]) and words[0] == 0


@pytest.mark.parametrize("bad", [-1, 151, 1 << 40])
@pytest.mark.parametrize("where", [0, 5, -1])
def test_encode_gather_refuses_out_of_range_labels_anywhere(bad, where):
    codec = MaskPalette(palette="ade20k")
    labels = np.zeros((9, 9), np.int64)
    labels.flat[where] = bad
    with pytest.raises(
        InputError, match=rf"expected labels in 0..150, got values in {min(bad, 0)}"
    ):
        codec.encode(labels)
    inst = rgbtask.get_codec("mask/instance", max_instances=8)
    with pytest.raises(InputError, match="expected instance ids in 0..8"):
        inst.encode(labels)
    with pytest.raises(InputError, match="expected binary mask in 0..1"):
        MaskBinary().encode(labels)
    with pytest.raises(InputError, match="expected segment ids in 0..16777215"):
        MaskPanoptic().encode(np.where(labels == bad, min(bad, 0) or max(bad, 1 << 24), 0))


@given(
    fg=st.tuples(*[st.integers(0, 255)] * 3),
    bg=st.tuples(*[st.integers(0, 255)] * 3),
    threshold=st.floats(0.001, 0.999),
    n=st.integers(1, 40),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_labels_only_decode_is_the_float_rule(fg, bg, threshold, n, seed):
    """decode's integer rule (s >= s_min) == binary_reference's float t >= threshold, including
    colours on the threshold plane."""
    if fg == bg:
        return
    codec = MaskBinary(foreground=fg, background=bg, threshold=threshold)
    background, direction, inv_len2, thr = codec._kernel_params()
    rng = np.random.default_rng(seed)
    t = rng.uniform(-0.2, 1.2, (n, 1))
    on_line = np.clip(np.rint(background + t * direction), 0, 255)
    rgb = np.concatenate([on_line, rng.integers(0, 256, (n, 3))]).astype(np.uint8)[None]
    want, _ = kernels.binary_reference(rgb, 255.0, background, direction, inv_len2, thr)
    assert np.array_equal(codec.decode(rgb), want)
    assert np.array_equal(codec.decode_with_confidence(rgb).value, want)


def test_panoptic_decode_alone_is_rgb2id():
    rgb = np.random.default_rng(3).integers(0, 256, (3, 17, 5, 3)).astype(np.uint8)
    got = MaskPanoptic().decode(rgb)
    assert got.dtype == np.int32 and np.array_equal(got, kernels.rgb2id_reference(rgb))


@pytest.mark.parametrize("ignore", [255, 1 << 17])
def test_void_palette_encode_is_np_take_of_the_remapped_labels(ignore):
    """A palette with a void colour encodes ``ignore`` to it through the gather kernel (a row per
    label up to ``ignore``), or by remapping first when ``ignore`` is past the table's limit."""
    codec = MaskPalette(palette="voc", ignore=ignore)
    assert codec.void_color is not None
    rng = np.random.default_rng(3)
    labels = rng.integers(0, codec.levels, (2, 33, 17)).astype(np.int64)
    labels[rng.random(labels.shape) < 0.2] = ignore
    want = np.take(codec.decode_colors, np.where(labels == ignore, codec.levels, labels), axis=0)
    got = codec.encode(labels)
    assert got.dtype == np.uint8 and np.array_equal(got, want)
    assert np.array_equal(codec.decode(got), labels)
