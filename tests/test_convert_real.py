"""End to end on real ground truth: a folder of NYU / KITTI depth frames converted to PNGs by
`rgbtask convert`, read back, decoded, and checked against the codec's bound (skips without data)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import rgbtask
from rgbtask import io as rio
from rgbtask.cli import main
from rgbtask.testing import check_roundtrip

SETS = {"nyu_demo": 1000.0, "kitti_demo": 256.0}


@pytest.mark.parametrize("dataset", sorted(SETS))
def test_convert_real_depth_frames_round_trip_within_bound(data_dir, tmp_path, dataset, capsys):
    if "depth/cubewalk" not in rgbtask.list_codecs():
        pytest.skip("depth codecs not registered")
    scale = SETS[dataset]
    frames = sorted((data_dir / "depth" / dataset / "depth").glob("*.png"))
    assert frames, f"no frames in {data_dir / 'depth' / dataset}"
    out = tmp_path / "encoded"
    argv = [
        "convert",
        str(frames[0].parent / "*.png"),
        "--out",
        str(out),
        "--codec",
        "depth/cubewalk",
        "--depth-scale",
        str(scale),
        "--workers",
        "2",
    ]
    assert main(argv) == 0
    assert f"converted {len(frames)}, skipped 0" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    codec = rgbtask.get_codec(manifest["codec"])
    for frame in frames:
        depth = rio.read_depth(frame, depth_scale=scale)
        rgb = rio.read_image(out / f"{Path(frame).stem}.png")
        check_roundtrip(codec, depth, rgb)  # every valid pixel within half a step, invalid stays
        decoded = codec.decode_with_confidence(rgb)
        assert np.array_equal(decoded.valid, np.isfinite(depth))
