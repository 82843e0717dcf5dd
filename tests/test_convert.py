"""File formats, dataset conversion (local processes and Dask) and the file commands of the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rgbtask
from rgbtask import io as rio
from rgbtask.cli import main
from rgbtask.convert import convert


def test_pfm_round_trip(tmp_path):
    depth = np.random.default_rng(0).uniform(0.5, 10, size=(5, 7)).astype(np.float32)
    rio.write_pfm(tmp_path / "d.pfm", depth)
    assert np.array_equal(rio.read_pfm(tmp_path / "d.pfm"), depth)
    rgbish = np.random.default_rng(1).random((4, 3, 3)).astype(np.float32)
    rio.write_pfm(tmp_path / "c.pfm", rgbish)
    assert np.array_equal(rio.read_pfm(tmp_path / "c.pfm"), rgbish)


def test_truncated_pfm_and_bad_files_are_clear_errors(tmp_path):
    rio.write_pfm(tmp_path / "d.pfm", np.ones((4, 4), np.float32))
    data = (tmp_path / "d.pfm").read_bytes()
    (tmp_path / "t.pfm").write_bytes(data[:-10])
    with pytest.raises(rgbtask.InputError, match="truncated"):
        rio.read_pfm(tmp_path / "t.pfm")
    (tmp_path / "x.png").write_bytes(b"not a png at all")
    with pytest.raises(rgbtask.InputError, match="expected"):
        rio.read_image(tmp_path / "x.png")
    with pytest.raises(rgbtask.InputError, match="expected an existing file"):
        rio.read_depth(tmp_path / "missing.npy")


def test_depth_png_needs_a_scale_and_zero_is_invalid(tmp_path):
    rio.write_png(tmp_path / "d.png", np.array([[0, 1000, 2500]], np.uint16))
    with pytest.raises(rgbtask.InputError, match="expected depth_scale"):
        rio.read_depth(tmp_path / "d.png")
    depth = rio.read_depth(tmp_path / "d.png", depth_scale=1000)
    assert np.isnan(depth[0, 0]) and depth[0, 1:].tolist() == [1.0, 2.5]


def test_masks_from_palette_and_panoptic_pngs(tmp_path):
    from PIL import Image

    labels = np.array([[0, 5, 255], [1, 2, 3]], np.uint8)
    img = Image.fromarray(labels, mode="P")
    img.putpalette([i % 256 for i in range(768)])
    img.save(tmp_path / "p.png")
    assert np.array_equal(rio.read_mask(tmp_path / "p.png"), labels)
    ids = np.array([[0, 1, 256], [65536, 70000, 2]], np.int64)
    rgb = np.stack([ids % 256, ids // 256 % 256, ids // 65536], axis=-1).astype(np.uint8)
    rio.write_png(tmp_path / "pan.png", rgb)
    assert np.array_equal(rio.read_mask(tmp_path / "pan.png"), ids)


def test_write_is_atomic(tmp_path, monkeypatch):
    def boom(tmp):
        tmp.write_bytes(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        rio.write_atomic(tmp_path / "out.png", boom)
    assert list(tmp_path.iterdir()) == []


def test_convert_writes_manifest_skips_done_and_decodes_exactly(normals_dir, tmp_path):
    out = tmp_path / "out"
    result = convert([str(normals_dir / "*.npy")], out, "normals/xyz", workers=2, progress=False)
    assert result.ok and len(result.converted) == 3 and result.skipped == []
    manifest = json.loads((out / "manifest.json").read_text())
    codec = rgbtask.get_codec(manifest["codec"])
    for i in range(3):
        value = np.load(normals_dir / f"frame{i}.npy")
        assert np.array_equal(rio.read_image(out / f"frame{i}.png"), codec.encode(value))
    mtime = (out / "frame0.png").stat().st_mtime_ns
    again = convert([str(normals_dir / "*.npy")], out, "normals/xyz", progress=False)
    assert again.converted == [] and len(again.skipped) == 3
    assert (out / "frame0.png").stat().st_mtime_ns == mtime


def test_convert_failures_are_named_and_others_still_convert(normals_dir, tmp_path):
    (normals_dir / "broken.npy").write_bytes(b"garbage")
    out = tmp_path / "out"
    result = convert(
        [str(normals_dir / "*.npy"), str(normals_dir / "nope.npy")],
        out,
        "normals/xyz",
        workers=1,
        progress=False,
    )
    assert len(result.converted) == 3
    assert set(result.failed) == {str(normals_dir / "broken.npy"), str(normals_dir / "nope.npy")}
    assert "no such file" in result.failed[str(normals_dir / "nope.npy")]
    assert not (out / "broken.png").exists()


def test_convert_refuses_to_mix_codecs(normals_dir, tmp_path):
    convert([str(normals_dir / "frame0.npy")], tmp_path, "normals/xyz", progress=False)
    with pytest.raises(rgbtask.InputError, match="write to another folder"):
        convert([str(normals_dir / "frame1.npy")], tmp_path, {"name": "normals/xyz", "bits": 16})


def test_convert_on_a_dask_local_cluster(normals_dir, tmp_path):
    pytest.importorskip("dask.distributed")
    out = tmp_path / "out"
    result = convert(
        [str(normals_dir / "*.npy")], out, "normals/xyz", workers=2, engine="dask", progress=False
    )
    assert result.ok and len(result.converted) == 3
    local = convert(
        [str(normals_dir / "*.npy")], tmp_path / "local", "normals/xyz", workers=1, progress=False
    )
    for name in ("frame0.png", "frame1.png", "frame2.png"):
        assert (out / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    assert local.ok


def test_cli_encode_decode_convert(normals_dir, tmp_path, capsys):
    src = normals_dir / "frame0.npy"
    png, back = tmp_path / "n.png", tmp_path / "n.npy"
    assert main(["encode", str(src), str(png), "--codec", "normals/xyz", "--param", "bits=16"]) == 0
    assert rio.read_image(png).dtype == np.uint16
    assert (
        main(
            [
                "decode",
                str(png),
                str(back),
                "--codec",
                "normals/xyz",
                "--param",
                "bits=16",
                "--confidence",
                str(tmp_path / "c.npy"),
            ]
        )
        == 0
    )
    codec = rgbtask.get_codec("normals/xyz", bits=16)
    assert np.all(codec.roundtrip_error(np.load(src), np.load(back)) <= codec.max_error_deg)
    assert np.load(tmp_path / "c.npy").dtype == np.float32

    out = tmp_path / "conv"
    assert (
        main(
            [
                "convert",
                str(normals_dir / "*.npy"),
                str(tmp_path / "missing.npy"),
                "--out",
                str(out),
                "--codec",
                "normals/xyz",
                "--workers",
                "1",
            ]
        )
        == 1
    )
    captured = capsys.readouterr()
    assert "failed: " in captured.err and "missing.npy" in captured.err
    assert "converted 3, skipped 0" in captured.out
    assert (
        main(
            [
                "decode",
                str(out / "frame1.png"),
                str(tmp_path / "f1.npy"),
                "--manifest",
                str(out / "manifest.json"),
            ]
        )
        == 0
    )
    assert main(["encode", str(tmp_path / "nothing.npy"), str(png), "--codec", "normals/xyz"]) == 2
    assert "expected an existing file" in capsys.readouterr().err


def test_cli_eval_writes_table_csv_and_plot(tmp_path, capsys):
    assert (
        main(
            [
                "eval",
                "--codec",
                "normals/xyz",
                "--size",
                "24x32",
                "--scenes",
                "1",
                "--perturb",
                "none",
                "--perturb",
                "jpeg:q=90",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert out.startswith("| codec | params | perturbation |") and "jpeg q90 4:4:4" in out
    assert {p.name for p in tmp_path.iterdir()} == {"eval.md", "eval.csv", "eval.png"}


def _coco(tmp_path, sizes):
    images, anns = [], []
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        images.append({"id": i, "file_name": f"img{i}.jpg", "height": h, "width": w})
        kp = np.zeros((17, 3))
        kp[:, 0] = rng.uniform(8, w - 8, 17).round()
        kp[:, 1] = rng.uniform(8, h - 8, 17).round()
        kp[:, 2] = 2
        kp[3, 2] = 0  # not labelled
        anns.append(
            {
                "id": i,
                "image_id": i,
                "keypoints": kp.ravel().tolist(),
                "bbox": [0, 0, w, h],
                "num_keypoints": 16,
            }
        )
    path = tmp_path / "kp.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    return path


def test_cli_keypoints_from_coco_json(tmp_path, capsys):
    path = _coco(tmp_path, [(48, 64), (48, 64), (40, 40)])
    coco = rio.read_coco_keypoints(path)
    assert np.isnan(coco["img0.jpg"]["keypoints"][0, 3]).all()
    assert (
        main(
            [
                "encode",
                str(path),
                str(tmp_path / "k.png"),
                "--image",
                "img0.jpg",
                "--codec",
                "keypoints/heatmap",
                "--param",
                "size=[48,64]",
                "--param",
                "num_keypoints=17",
            ]
        )
        == 0
    )
    params = ["--param", "size=[48,64]", "--param", "num_keypoints=17"]
    assert (
        main(
            [
                "decode",
                str(tmp_path / "k.png"),
                str(tmp_path / "k.npy"),
                "--codec",
                "keypoints/heatmap",
                *params,
            ]
        )
        == 0
    )
    decoded = np.load(tmp_path / "k.npy")
    err = np.linalg.norm(decoded[0] - coco["img0.jpg"]["keypoints"][0], axis=-1)
    # the default layout is Painter's, decoded as Painter does: whole-pixel keypoints come back at
    # their pixel, or a quarter step off it where a nearby keypoint's blob takes a neighbour
    assert np.nanmax(err) <= np.sqrt(2) * 0.25 and np.isnan(decoded[0, 3]).all()
    assert (
        main(
            [
                "encode",
                str(path),
                str(tmp_path / "k.png"),
                "--image",
                "nope.jpg",
                "--codec",
                "keypoints/heatmap",
                *params,
            ]
        )
        == 2
    )
    # convert: one PNG per image; an image whose size is not the codec's is named as failed.
    assert (
        main(
            [
                "convert",
                str(path),
                "--out",
                str(tmp_path / "out"),
                "--codec",
                "keypoints/heatmap",
                *params,
                "--workers",
                "1",
            ]
        )
        == 1
    )
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["img0.png", "img1.png"]
    assert "img2.jpg" in capsys.readouterr().err


def test_exr_depth_where_opencv_supports_it(tmp_path):
    cv2 = rio._cv2()
    depth = np.random.default_rng(0).uniform(0.5, 9, (6, 5)).astype(np.float32)
    try:
        ok = cv2.imwrite(str(tmp_path / "d.exr"), depth)
    except cv2.error:
        ok = False
    if not ok:
        pytest.skip("this OpenCV build does not write OpenEXR")
    assert np.array_equal(rio.read_depth(tmp_path / "d.exr"), depth.astype(np.float64))
