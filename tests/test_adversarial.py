"""Hostile input: the adversarial suite's own checks, the declared ranges, and what it found.

The suite itself (``rgbtask.testing.check_adversarial``) runs on every registered codec through
``check_codec`` in test_conformance.py; here: arbitrary images of every dtype never decode out of
range (hypothesis, every example configuration), ``in_range`` really rejects what is out of range,
the docs' per-codec table is current, and the defects the suite found stay fixed.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import rgbtask
from rgbtask import Decoded
from rgbtask.samples import make_scene
from rgbtask.testing import check_adversarial, check_decoded, registered_examples

pytestmark = pytest.mark.filterwarnings("ignore::rgbtask.palettes.PaletteCollisionWarning")


EXAMPLES = registered_examples(make_scene(height=12, width=10, seed=2))
IDS = [repr(codec)[:60] for codec, _ in EXAMPLES]


@st.composite
def arbitrary_images(draw, codec):
    """Any colours of any RGB dtype, in the shape the codec takes (batch dims included)."""
    dtype = draw(st.sampled_from([np.uint8, np.uint16, np.float32, np.float64]))
    if hasattr(codec, "image_shape"):
        h, w, _ = codec.image_shape
    else:
        h, w = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    if np.dtype(dtype).kind == "f":
        elements = st.floats(0.0, 1.0, width=np.dtype(dtype).itemsize * 8)
    else:
        elements = st.integers(0, int(np.iinfo(dtype).max))
    return draw(hnp.arrays(dtype, (*batch, h, w, 3), elements=elements))


@pytest.mark.parametrize(("codec", "values"), EXAMPLES, ids=IDS)
@given(data=st.data())
def test_arbitrary_images_never_decode_out_of_range(codec, values, data):
    rgb = data.draw(arbitrary_images(codec))
    check_decoded(codec, codec.decode_with_confidence(rgb))


def _decoded(value, valid, item_ndim=0):
    value = np.asarray(value)
    valid = np.asarray(valid, dtype=bool)
    return Decoded(value, np.where(valid, 1.0, 0.0).astype(np.float32), valid)


def test_in_range_rejects_what_is_out_of_range():
    depth = rgbtask.get_codec("depth/hue", near=0.5, far=20.0)
    got = depth.in_range(_decoded([[0.5, 20.0, 20.001, 0.49, np.nan, 3.0]], [[1, 1, 1, 1, 1, 0]]))
    assert got.tolist() == [[True, True, False, False, False, False]]
    power = rgbtask.get_codec("depth/cubewalk")
    got = power.in_range(_decoded([[0.0, np.inf, -1e-9, np.nan]], [[1, 1, 1, 0]]))
    assert got.tolist() == [[True, True, False, True]]

    normals = rgbtask.get_codec("normals/xyz")
    n = np.array([[[0.0, 0.0, 1.0], [0.0, 0.6, 0.8001], [np.nan] * 3, [0.0, 0.0, 1.0]]])
    assert normals.in_range(_decoded(n, [[1, 1, 0, 0]])).tolist() == [[True, False, True, False]]

    palette = rgbtask.get_codec("mask/palette", palette="ade20k")  # 151 labels, 49 shadowed by 7
    got = palette.in_range(_decoded([[0, 150, 151, 49, 255]], [[1, 1, 1, 1, 0]]))
    assert got.tolist() == [[True, True, False, False, True]]
    instance = rgbtask.get_codec("mask/instance", max_instances=8)
    assert instance.in_range(_decoded([[0, 8, 9]], [[1, 1, 1]])).tolist() == [[True, True, False]]
    binary = rgbtask.get_codec("mask/binary")
    assert binary.in_range(_decoded([[0, 1, 2]], [[1, 1, 1]])).tolist() == [[True, True, False]]

    keypoints = rgbtask.get_codec("keypoints/heatmap", size=(10, 20), num_keypoints=2)
    kp = np.array([[[-0.5, -0.5], [19.5, 9.5]], [[19.6, 3.0], [np.nan, np.nan]]])
    got = keypoints.in_range(_decoded(kp, [[1, 1], [1, 0]]))
    assert got.tolist() == [[True, True], [False, True]]


def test_check_decoded_fails_on_an_out_of_range_result():
    codec = rgbtask.get_codec("depth/hue", near=0.5, far=20.0)
    bad = _decoded([[21.0]], [[True]])
    with pytest.raises(AssertionError, match=r"out of range \(depth in \[near, far\]"):
        check_decoded(codec, bad)


@pytest.mark.parametrize(
    ("transform", "near", "far"), [("linear", 0.1, 0.3), ("log", 0.3, 7.1), ("inverse", 0.7, 80.3)]
)
def test_depth_ends_decode_to_near_and_far_exactly(transform, near, far):
    """Rounding in the inverse transform could put the end levels an ulp outside [near, far]."""
    for name in ("depth/cubewalk", "depth/hue", "depth/gray", "depth/colormap"):
        codec = rgbtask.get_codec(name, transform=transform, near=near, far=far)
        rgb = codec.encode(np.array([[near, far]]))
        for variant in (rgb, rgb / 255.0):
            d = codec.decode(variant)
            assert d[0, 0] == np.float32(near) and d[0, 1] == np.float32(far), (name, d)


def test_power_transform_ends_are_plus_zero_and_plus_inf():
    codec = rgbtask.get_codec("depth/cubewalk")
    for rgb in (
        np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8),
        np.array([[[0.0] * 3, [1.0] * 3]]),
    ):
        d = codec.decode(rgb)
        assert d[0, 0] == 0.0 and not np.signbit(d[0, 0])  # hilbertmap gives -0.0
        assert d[0, 1] == np.inf
    far = np.array([[1e6, 1e300, np.finfo(np.float64).max]])
    assert np.all(codec.roundtrip_bound(far) == np.inf)  # the far end holds every depth beyond
    err = codec.roundtrip_error(far, codec.decode(codec.encode(far)))
    assert np.all(err == np.inf)


def test_palette_validity_follows_the_label_after_min_region():
    """A sliver relabelled to the ignore label of a rejected region is invalid, and a rejected
    speck relabelled to a class is valid (they used to keep their first verdict)."""
    codec = rgbtask.get_codec(
        "mask/palette",
        palette=[[0, 0, 0], [255, 0, 0]],
        reject_distance=40.0,
        ignore=9,
        min_region=4,
    )
    rgb = np.zeros((6, 6, 3), np.uint8)
    rgb[:, 3:] = (0, 200, 200)  # far from both colours: a rejected region
    rgb[2, 4] = (255, 0, 0)  # a one-pixel class sliver inside it
    rgb[2, 1] = (0, 180, 180)  # a one-pixel rejected speck in the black region
    labels, conf, valid = codec.decode_with_confidence(rgb)
    assert labels[2, 4] == 9 and not valid[2, 4] and conf[2, 4] == 0
    assert labels[2, 1] == 0 and valid[2, 1]
    assert np.array_equal(valid, labels != 9)
    check_decoded(codec, (labels, conf, valid))


def test_big_endian_panoptic_ids_encode():
    codec = rgbtask.get_codec("mask/panoptic")
    ids = np.arange(12, dtype=np.int64).reshape(3, 4) * 1000003
    assert np.array_equal(codec.encode(ids.astype(">i8")), codec.encode(ids))


def test_keypoints_with_no_instance_encode_a_blank_canvas():
    codec = rgbtask.get_codec("keypoints/heatmap", size=(8, 9), num_keypoints=3, max_instances=2)
    rgb = codec.encode(np.zeros((0, 3, 2)))
    assert rgb.shape == (8, 9, 3) and not rgb.any()
    assert np.isnan(codec.decode(rgb)).all()
    assert np.all(codec.roundtrip_error(np.zeros((0, 3, 2)), codec.decode(rgb)) == 0)


def test_decode_takes_array_likes_and_refuses_files_and_masked_pixels():
    from PIL import Image

    codec = rgbtask.get_codec("normals/xyz")
    rgb = codec.encode(make_scene(6, 7, seed=0).normals)
    np.testing.assert_array_equal(codec.decode(Image.fromarray(rgb)), codec.decode(rgb))
    for bad in ("frame.png", pathlib.Path("frame.png"), b"\x89PNG"):
        with pytest.raises(rgbtask.InputError, match=r"read it first \(rgbtask\.io\.read_rgb"):
            codec.decode(bad)
    masked = np.ma.masked_array(rgb, mask=rgb == 0)
    with pytest.raises(rgbtask.InputError, match="masked values; fill them first"):
        codec.decode(masked)
    np.testing.assert_array_equal(codec.decode(np.ma.masked_array(rgb)), codec.decode(rgb))


def test_the_suite_fails_a_codec_that_clips_silently(scene):
    """A codec that turns NaN into a plausible colour is caught by the encode side."""
    from dataclasses import dataclass
    from typing import ClassVar

    from rgbtask.codec import Codec, check_value, rgb_scale

    @dataclass(frozen=True, eq=False, repr=False)
    class Clipping(Codec):
        name: ClassVar[str] = "toy/clipping"

        def validate_value(self, value):
            return check_value(value, "values", "(..., H, W)").astype(np.float64)

        def _encode(self, v):
            return np.repeat(
                np.nan_to_num(np.clip(v, 0, 1) * 255 + 0.5).astype(np.uint8)[..., None], 3, -1
            )

        def _decode(self, rgb):
            v = rgb[..., 0] / rgb_scale(rgb)
            return Decoded(v, np.ones(v.shape, np.float32), np.ones(v.shape, bool))

        def roundtrip_error(self, reference, decoded):
            return np.abs(reference - decoded)

        def roundtrip_bound(self, reference):
            return 0.5 / 255

    with pytest.raises(AssertionError, match=r"encode\(NaN\)"):
        check_adversarial(Clipping(), [np.linspace(0, 1, 12).reshape(3, 4)])


def test_catalogue_lives_in_its_module_and_the_docs_count_it():
    """``rgbtask.adversarial`` holds the cases (testing re-exports them); the prose counts are true."""
    import re

    from rgbtask import adversarial, testing

    cases = adversarial.adversarial_cases()
    assert testing.adversarial_cases is adversarial.adversarial_cases
    assert testing.Case is adversarial.Case and testing.Outcome is adversarial.Outcome
    decode = sum(c.side == "decode" for c in cases)
    encode = sum(c.side == "encode" for c in cases)
    assert decode + encode == len(cases)
    root = pathlib.Path(__file__).resolve().parents[1]
    texts = {
        "README.md": (root / "README.md").read_text(),
        "docs/codecs.md": (root / "docs" / "codecs.md").read_text(),
        "rgbtask/adversarial.py": adversarial.__doc__,
        "rgbtask/testing.py": testing.__doc__,
    }
    for where, text in texts.items():
        counts = [int(n) for n in re.findall(r"(\d+) hostile inputs", " ".join(text.split()))]
        assert counts and set(counts) == {len(cases)}, (where, counts)
        assert "sixty" not in text, where
    codecs_md = " ".join(texts["docs/codecs.md"].split())
    assert f"{decode} for decode and {encode} for encode" in codecs_md
    assert f"{len(cases)} hostile inputs: {decode} for ``decode``" in " ".join(
        adversarial.__doc__.split()
    )


def test_adversarial_suite_passes_normals_xyz_on_float64_unit_normals():
    """Issue 16: the 'largest finite float' case gave a false 90 deg failure on float64 normals
    (angular_error_deg overflowed)."""
    from rgbtask.testing import check_adversarial

    normals = make_scene(6, 7, seed=0).normals.astype(np.float64)
    check_adversarial(rgbtask.get_codec("normals/xyz"), [normals])
