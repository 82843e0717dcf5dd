"""A codec rebuilt from its config encodes and decodes exactly as the original, for every parameter.

Equality of codecs compares configs, so a ``get_config()`` that leaves a parameter out makes the
rebuilt codec compare equal although it behaves differently. Here each case sets one parameter away
from a built-in example's value, checks that the change is observable (encode output, decoded
value / confidence / validity, or ``decode_instances``), then rebuilds the codec from its config
through JSON and requires the same observations, array for array.

Caches are checked the same way: two codecs that differ in one parameter decode the same 8-bit image
(which goes through a shared lookup table) one after the other, each to what its exact (float)
path gives.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import rgbtask
from rgbtask.palettes import PaletteCollisionWarning
from rgbtask.registry import get_codec_class
from rgbtask.samples import make_scene

#: (codec name, index of the built-in example to start from, parameters changed, noise in 8-bit levels)
CASES = [
    ("depth/gray", 0, {"far": 12.0}, 6),
    ("depth/gray", 1, {"lam": -2.0}, 6),
    ("depth/gray", 1, {"c": 4.0}, 6),
    ("depth/hue", 0, {"variant": "nowrap"}, 6),
    ("depth/colormap", 0, {"cmap": "plasma"}, 6),
    ("depth/cubewalk", 1, {"near": 1.0}, 6),
    ("depth/curve", 0, {"curve": [[0.0, 0.0, 0.2], [0.0, 1.0, 0.2], [1.0, 1.0, 0.6]]}, 6),
    ("keypoints/heatmap", 0, {"sigma": 2.0}, 6),  # example 0: painter, sigma 3 by default
    ("keypoints/heatmap", 0, {"refine": "none"}, 6),
    ("keypoints/heatmap", 2, {"max_instances": 5}, 6),
    ("mask/binary", 1, {"threshold": 0.7}, 120),
    ("mask/binary", 0, {"foreground": [250, 240, 255]}, 6),
    ("mask/instance", 0, {"cluster_distance": 0.6}, 6),
    ("mask/instance", 0, {"cluster_distance": 0.005}, 6),
    ("mask/instance", 0, {"space": "lab"}, 6),
    ("mask/palette", 1, {"reject_distance": 5.0}, 6),
    ("mask/palette", 1, {"ignore": 254, "num_classes": 21}, 40),
    ("mask/palette", 1, {"space": "oklab", "reject_distance": 0.05}, 6),
    ("mask/palette", 0, {"min_region": 30}, 6),
    ("mask/palette", 0, {"num_classes": 40}, 40),
    ("mask/palette", 2, {"avoid": [[0, 0, 0]]}, 6),
    ("normals/xyz", 0, {"convention": "dsine"}, 6),
    ("normals/xyz", 0, {"convention": [1, 1, -1]}, 6),
    ("normals/xyz", 0, {"bits": 16}, 6),
]


@pytest.fixture(scope="module")
def small_scene():
    return make_scene(48, 64, seed=3)


def _noisy(rgb: np.ndarray, levels: int, seed: int = 0) -> np.ndarray:
    top, k = (255, levels) if rgb.dtype == np.uint8 else (65535, levels * 257)
    rng = np.random.default_rng(seed)
    out = rgb.astype(np.int64) + rng.integers(-k, k + 1, size=rgb.shape)
    return np.clip(out, 0, top).astype(rgb.dtype)


def _observe(codec, value, noisy) -> list[np.ndarray]:
    """Everything a user sees of the codec on these inputs, as arrays."""
    decoded = codec.decode_with_confidence(noisy)
    seen = [np.asarray(codec.encode(value)), *(np.asarray(a) for a in decoded)]
    if hasattr(codec, "decode_instances") and noisy.ndim == 3:
        seen.extend(np.asarray(a) for a in codec.decode_instances(noisy))
    return seen


def _same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
    return len(a) == len(b) and all(
        x.shape == y.shape
        and np.array_equal(x, y, equal_nan=x.dtype.kind in "fc" and y.dtype.kind in "fc")
        for x, y in zip(a, b)
    )


@pytest.mark.parametrize(
    ("name", "example", "change", "noise"),
    CASES,
    ids=[f"{n}-{'-'.join(c)}" for n, _, c, _ in CASES],
)
def test_rebuilt_codec_behaves_like_the_original(small_scene, name, example, change, noise):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PaletteCollisionWarning)
        base, values = list(get_codec_class(name).examples(small_scene))[example]
        codec = rgbtask.get_codec({**base.get_config(), **change})
        config = json.loads(json.dumps(codec.get_config()))
        rebuilt = rgbtask.get_codec(config)
        value = values[0]
        noisy = _noisy(np.asarray(codec.encode(value)), noise)
        seen = _observe(codec, value, noisy)
        # the case is meaningful: the changed parameter shows in what the codec does
        assert not _same(_observe(base, value, noisy), seen), f"{change} changes nothing here"
        assert rebuilt == codec
        for key in change:
            assert key in config, f"get_config() leaves out {key!r}"
        assert _same(_observe(rebuilt, value, noisy), seen), (
            f"{name} rebuilt from {config} decodes differently"
        )


def test_every_init_field_is_in_the_config():
    import dataclasses

    for name in rgbtask.list_codecs():
        cls = get_codec_class(name)
        if not dataclasses.is_dataclass(cls):
            continue
        fields = {f.name for f in dataclasses.fields(cls) if f.init}
        example = next(iter(cls.examples(make_scene(48, 64, seed=3))))[0]
        assert set(example.get_config()) == fields | {"name"}, name


# ---------------------------------------------------------------- shared lookup tables


def _palette_pairs():
    base = {"palette": "cityscapes", "space": "lab", "reject_distance": 20.0, "ignore": 255}
    yield base, {**base, "ignore": 254}
    yield base, {**base, "reject_distance": 10.0}
    yield base, {**base, "space": "oklab", "reject_distance": 0.2}
    yield base, {**base, "palette": "voc"}
    yield base, {**base, "num_classes": 12}
    yield base, {**base, "reject_distance": None}


@pytest.mark.parametrize(("first", "second"), list(_palette_pairs()))
def test_palette_lookup_tables_are_keyed_by_every_parameter(first, second):
    rgb = np.random.default_rng(5).integers(0, 256, size=(40, 40, 3)).astype(np.uint8)
    codecs = [rgbtask.get_codec("mask/palette", **cfg) for cfg in (first, second)]
    for codec in codecs + codecs[::-1] + codecs:
        table = codec.decode_with_confidence(rgb)  # 8-bit: through the shared table
        exact = codec.decode_with_confidence(rgb / 255.0)  # float: computed directly
        for got, want in zip(table, exact):
            np.testing.assert_array_equal(got, want)
        rejected = ~np.asarray(table.valid)
        assert np.all(np.asarray(table.value)[rejected] == codec.ignore)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            {"transform": "linear", "near": 0.5, "far": 10.0},
            {"transform": "linear", "near": 0.5, "far": 20.0},
        ),
        (
            {"transform": "linear", "near": 0.5, "far": 10.0},
            {"transform": "log", "near": 0.5, "far": 10.0},
        ),
        ({"transform": "power"}, {"transform": "power", "lam": -2.0}),
    ],
)
def test_depth_tables_are_keyed_by_the_transform(first, second):
    rgb = np.random.default_rng(6).integers(0, 256, size=(1, 256, 3)).astype(np.uint8)
    rgb[..., 1] = rgb[..., 2] = rgb[..., 0]  # on the gray curve: every pixel decodes
    codecs = [rgbtask.get_codec("depth/gray", **cfg) for cfg in (first, second)]
    for codec in codecs + codecs[::-1] + codecs:
        table = codec.decode_with_confidence(rgb)
        exact = codec.decode_with_confidence(rgb / 255.0)
        np.testing.assert_allclose(table.value, exact.value, rtol=1e-5, atol=1e-6)
