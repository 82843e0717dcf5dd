"""Palette-mode PNG read / write keeps labels and palette."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from rgbtask import InputError
from rgbtask.io import read_palette_png, write_palette_png
from rgbtask.palettes import named_palette


def test_palette_png_round_trip(tmp_path):
    labels = np.random.default_rng(0).integers(0, 151, (17, 23)).astype(np.uint8)
    path = write_palette_png(tmp_path / "m.png", labels, named_palette("ade20k"))
    with Image.open(path) as img:
        assert img.mode == "P"
        shown = np.asarray(img.convert("RGB"))
    assert np.array_equal(shown, named_palette("ade20k")[labels])  # viewers see the colours
    back, palette = read_palette_png(path)
    assert np.array_equal(back, labels) and np.array_equal(palette[:151], named_palette("ade20k"))


def test_errors(tmp_path):
    with pytest.raises(InputError, match="expected labels in 0..255"):
        write_palette_png(tmp_path / "a.png", np.full((2, 2), 300), named_palette("voc"))
    Image.fromarray(np.zeros((2, 2, 3), np.uint8)).save(tmp_path / "rgb.png")
    with pytest.raises(InputError, match="expected a palette"):
        read_palette_png(tmp_path / "rgb.png")


def test_real_voc_files(data_dir):
    for path in sorted((data_dir / "semantic/voc_labelme/SegmentationClass").glob("*.png")):
        labels, palette = read_palette_png(path)
        assert np.array_equal(palette, named_palette("voc"))
        assert set(np.unique(labels).tolist()) <= set(range(21)) | {255}
