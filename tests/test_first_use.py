"""First use (issue 17): what a first encode/decode compiles, and the shortcuts that spare it.

* a lossless label image (every pixel exactly its code) skips the context decoder's kernels,
  which keep every row of such an image anyway: the result is the per-pixel decoder's;
* a read-only image reaches the context kernels as a writable alias (one specialisation).
"""

from __future__ import annotations

import numpy as np
import pytest

from rgbtask.codecs import masks as mask_codecs
from rgbtask.codecs.masks import MaskPalette, _exact_codes
from rgbtask.samples import make_scene


def _labels() -> np.ndarray:
    return next(iter(MaskPalette.examples(make_scene(24, 32, seed=1))))[1][0]


def _forbid_resolve(monkeypatch):
    def fail(*args, **kwargs):
        raise AssertionError("the context kernels ran on a lossless image")

    monkeypatch.setattr(mask_codecs.mask_context, "resolve", fail)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_lossless_image_skips_the_context_kernels(monkeypatch, dtype):
    context = MaskPalette(palette="ade20k")
    pixel = MaskPalette(palette="ade20k", decoder="pixel")
    rgb = context.encode(_labels())
    if dtype == np.uint16:
        rgb = rgb.astype(np.uint16) * np.uint16(257)
    want = pixel.decode_with_confidence(rgb)
    _forbid_resolve(monkeypatch)
    got = context.decode_with_confidence(rgb)
    assert np.array_equal(got.value, want.value)
    assert np.array_equal(got.confidence, want.confidence)
    assert np.array_equal(context.decode(rgb), pixel.decode(rgb))


def test_one_off_code_pixel_runs_them_on_a_writable_alias(monkeypatch):
    codec = MaskPalette(palette="ade20k")
    rgb = codec.encode(_labels())
    rgb[5, 7, 1] ^= 1  # one value off its code
    rgb.setflags(write=False)
    seen = []
    resolve = mask_codecs.mask_context.resolve

    def spy(image, *args, **kwargs):
        seen.append(image.flags.writeable)
        return resolve(image, *args, **kwargs)

    monkeypatch.setattr(mask_codecs.mask_context, "resolve", spy)
    got = codec.decode_with_confidence(rgb).value
    assert seen == [True]
    monkeypatch.setattr(mask_codecs.mask_context, "resolve", resolve)
    assert np.array_equal(got, codec.decode_with_confidence(rgb.copy()).value)


def test_exact_codes_is_equality_with_the_rows_codes():
    palette = np.array([[0, 0, 0], [10, 20, 30], [255, 255, 255]], np.uint8)
    index = np.array([[1, 2], [0, 1]], np.int32)
    rgb = palette[index]
    assert _exact_codes(rgb, index, palette.astype(np.float64))
    assert _exact_codes(rgb.astype(np.uint16) * np.uint16(257), index, palette)
    off = rgb.copy()
    off[1, 1, 2] += 1
    assert not _exact_codes(off, index, palette)
    assert not _exact_codes((rgb.astype(np.uint16) * 257 + 1).astype(np.uint16), index, palette)
    rejected = index.copy()
    rejected[0, 0] = -1
    assert not _exact_codes(rgb, rejected, palette)
    assert not _exact_codes(rgb / 255.0, index, palette)  # float input: the kernels decide
