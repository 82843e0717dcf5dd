"""Golden files: an encoding is a file format. Today's encoder must reproduce the committed codes
exactly and today's decoder must read them within the bound.

The golden PNGs are compared by their pixels (the codes), not by their compressed bytes: PNG
compression may change with zlib, the codes may not. Regenerate (only on purpose, with a note on
why every dataset already converted is still readable) with RGBTASK_REGEN_GOLDEN=1.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

import rgbtask
from rgbtask import io as rio
from rgbtask.testing import check_roundtrip

GOLDEN = Path(__file__).resolve().parent / "golden"
REGEN = os.environ.get("RGBTASK_REGEN_GOLDEN") == "1"

CASES = {
    "normals_xyz_8bit": {"name": "normals/xyz"},
    "normals_xyz_16bit": {"name": "normals/xyz", "bits": 16},
    "normals_xyz_opencv": {"name": "normals/xyz", "convention": "opencv"},
}


def normals_input() -> np.ndarray:
    path = GOLDEN / "normals_input.npy"
    if REGEN:
        from rgbtask.samples import make_scene

        n = make_scene(12, 16, seed=11).normals.copy()
        n[0, 0] = 0.0  # a zero vector: the reserved code
        np.save(path, n)
    return np.load(path)


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_normals(case):
    codec = rgbtask.get_codec(CASES[case])
    value = normals_input()
    path = GOLDEN / f"{case}.png"
    if REGEN:
        rio.write_png(path, codec.encode(value))
    golden = rio.read_image(path)
    assert golden.dtype == codec.dtype
    assert np.array_equal(codec.encode(value), golden), "the encoding changed: a format break"
    check_roundtrip(codec, value, golden)
    assert not codec.decode_with_confidence(golden).valid[0, 0]
