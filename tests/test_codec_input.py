"""RGB input to decode and values to encode: the errors and hints of issue 16 (float ranges, BGR,
NumPy 2 scalar reprs, check_codec's arguments)."""

from __future__ import annotations

import numpy as np
import pytest

import rgbtask
from rgbtask.errors import InputError

# ---------------------------------------------------------------- float RGB outside [0, 1]


def test_float_rgb_in_minus_one_to_one_gets_the_rescale_hint():
    """A VAE's [-1, 1] output: np.clip would be wrong there."""
    codec = rgbtask.get_codec("normals/xyz")
    rgb = np.linspace(-1.0, 1.0, 12, dtype=np.float32).reshape(2, 2, 3)
    with pytest.raises(InputError, match=r"\(rgb \+ 1\) / 2") as info:
        codec.decode(rgb)
    assert "np.clip" not in str(info.value)
    assert "6 of 12 values outside it (min -1.0, max 1.0)" in str(info.value)


def test_float32_just_above_one_does_not_contradict_itself():
    """float32 1.0000001 reported "got values in [0.5, 1]"."""
    codec = rgbtask.get_codec("normals/xyz")
    rgb = np.full((2, 2, 3), 0.5, np.float32)
    rgb[0, 0, 0] = np.float32(1.0000001)
    with pytest.raises(InputError) as info:
        codec.decode(rgb)
    message = str(info.value)
    assert "1 of 12 values outside it (min 0.5, max 1.0000001)" in message
    assert "np.clip(rgb, 0, 1)" in message
    assert "np.float32" not in message


def test_float_rgb_in_0_255_gets_divide_by_255():
    codec = rgbtask.get_codec("normals/xyz")
    with pytest.raises(InputError, match=r"rgb / 255"):
        codec.decode(np.full((2, 2, 3), 200.0))


# ---------------------------------------------------------------- RGB, not BGR


def test_decode_docstring_and_read_rgb_say_rgb_not_bgr(tmp_path):
    from rgbtask.io import read_rgb, write_png

    for method in (rgbtask.Codec.decode, rgbtask.Codec.decode_with_confidence):
        assert "BGR" in method.__doc__ and "RGB" in method.__doc__
    assert "read_rgb" in rgbtask.Codec.decode.__doc__
    codec = rgbtask.get_codec("depth/cubewalk")
    depth = np.linspace(1.0, 10.0, 20).reshape(4, 5)
    rgb = codec.encode(depth)
    write_png(tmp_path / "d.png", rgb)
    back = read_rgb(tmp_path / "d.png")
    assert back.dtype == np.uint8 and np.array_equal(back, rgb)  # RGB order, as encoded
    np.testing.assert_allclose(codec.decode(back), depth, rtol=0.01)
    import cv2

    bgr = cv2.imread(str(tmp_path / "d.png"))
    assert np.array_equal(bgr[..., ::-1], rgb)


# ---------------------------------------------------------------- plain numbers in errors


def test_errors_show_plain_numbers_not_numpy_scalar_reprs():
    """Issue 16: "(np.uint8(32), np.uint8(146), np.uint8(140))" in a colormap error."""
    with pytest.raises(rgbtask.ConfigError) as info:
        rgbtask.get_codec("depth/colormap", cmap="viridis", near=1, far=2)
    assert "(32, 146, 140)" in str(info.value) and "np." not in str(info.value)
    from rgbtask.palettes import distinct_palette, resolve_palette
    from rgbtask.transforms import Power

    for call in (
        lambda: resolve_palette(np.array([[300, 0, 0]])),
        lambda: distinct_palette(np.int64(0)),
        lambda: resolve_palette("voc", num_classes=np.int64(999)),
        lambda: Power.build(np.float64(1.0), np.float64(2.0), -3.0, 1.0, "depth/cubewalk"),
        lambda: Power.build(None, None, np.float64(0.5), np.float64(1.0), "depth/cubewalk"),
    ):
        with pytest.raises(rgbtask.ConfigError) as info:
            call()
        assert "np." not in str(info.value) and "array(" not in str(info.value), str(info.value)


# ---------------------------------------------------------------- check_codec's values


def test_check_codec_takes_a_single_array_as_one_sample():
    """Issue 16: a single array was iterated along its first axis (a confusing shape error)."""
    from rgbtask.samples import make_scene
    from rgbtask.testing import check_adversarial, check_codec, check_config_values

    depth = make_scene(12, 16, seed=0).depth
    codec = rgbtask.get_codec("depth/gray", near=0.5, far=20.0)
    check_codec(codec, depth, adversarial=False)
    check_config_values(codec, depth)
    assert check_adversarial(codec, depth)
    with pytest.raises(AssertionError, match=r"expected values a list of sample values"):
        check_codec(codec, 3.0)
    with pytest.raises(AssertionError, match="at least one sample value"):
        check_codec(codec, [])
