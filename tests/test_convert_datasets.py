"""Real dataset layouts through ``convert`` and ``decode`` (issue 16): nested folders that repeat
file names, per-sample keypoint canvases, batch decode, empty globs, and image writers that honour
the file name's suffix."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pytest

import rgbtask
from rgbtask import io as rio
from rgbtask.cli import main
from rgbtask.convert import convert, decode_files, glob_root

KITTI = ("2011_09_26_drive_0001/image_02", "2011_09_26_drive_0002/image_02")


def _kitti(root):
    """Two drives holding the same file name, as KITTI depth ships them (uint16, / 256 = m)."""
    rng = np.random.default_rng(0)
    values = {}
    for drive in KITTI:
        folder = root / "kitti" / drive
        folder.mkdir(parents=True)
        depth = rng.integers(256, 20000, (6, 8), dtype=np.uint16)
        depth[0, 0] = 0  # invalid
        rio.write_png(folder / "0000000005.png", depth)
        values[drive] = depth
    return values


def test_glob_root_is_the_patterns_leading_folders():
    assert str(glob_root("kitti/**/*.png")) == "kitti"
    assert str(glob_root("*.npy")) == "."
    assert str(glob_root("/data/nyu/*/d*.png")) == "/data/nyu"
    assert str(glob_root("a/b.png")) == "a"


def test_convert_mirrors_the_input_tree_and_repeated_names(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _kitti(tmp_path)
    argv = ["convert", "kitti/**/*.png", "--out", "enc", "--codec", "depth/cubewalk"]
    argv += ["--depth-scale", "256", "--workers", "1"]
    assert main(argv) == 0, capsys.readouterr().err
    outs = sorted(
        p.relative_to(tmp_path / "enc").as_posix() for p in (tmp_path / "enc").rglob("*.png")
    )
    assert outs == [f"{d}/0000000005.png" for d in KITTI]
    manifest = json.loads((tmp_path / "enc" / "manifest.json").read_text())
    assert manifest["inputs"] == {f"{d}/0000000005": f"kitti/{d}/0000000005.png" for d in KITTI}
    # resumable: a second run skips both, the manifest still names both
    assert main(argv) == 0
    assert "converted 0, skipped 2" in capsys.readouterr().out
    assert (
        json.loads((tmp_path / "enc" / "manifest.json").read_text())["inputs"] == manifest["inputs"]
    )
    # --root: folders relative to it
    assert main([*argv[:3], "enc2", *argv[4:], "--root", "."]) == 0
    assert (tmp_path / "enc2" / "kitti" / KITTI[0] / "0000000005.png").is_file()
    # an input outside --root is refused, nothing written
    assert main([*argv[:3], "enc3", *argv[4:], "--root", "kitti/" + KITTI[0]]) == 2
    assert "expected every input under --root" in capsys.readouterr().err
    assert not (tmp_path / "enc3").exists()


def test_convert_two_patterns_whose_outputs_collide_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _kitti(tmp_path)
    with pytest.raises(rgbtask.InputError, match="give --root"):
        convert(
            [f"kitti/{d}/*.png" for d in KITTI],
            "enc",
            "depth/cubewalk",
            depth_scale=256,
            workers=1,
            progress=False,
        )
    result = convert(
        [f"kitti/{d}/*.png" for d in KITTI],
        "enc",
        "depth/cubewalk",
        depth_scale=256,
        workers=1,
        progress=False,
        root="kitti",
    )
    assert result.ok and len(result.converted) == 2


def test_convert_with_an_empty_glob_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = ["convert", "nothing/**/*.png", "--out", "enc", "--codec", "normals/xyz"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "expected input files, got none" in err and "no file matches" in err
    assert not (tmp_path / "enc").exists()
    with pytest.raises(rgbtask.InputError, match="expected input files"):
        convert(["nothing/*.npy"], tmp_path / "enc", "normals/xyz", progress=False)
    assert not (tmp_path / "enc").exists()


def test_batch_decode_mirrors_the_tree_and_resumes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    values = _kitti(tmp_path)
    assert convert(["kitti/**/*.png"], "enc", "depth/cubewalk", depth_scale=256, progress=False).ok
    codec = rgbtask.get_codec("depth/cubewalk")
    argv = ["decode", "enc/**/*.png", "--out", "dec", "--manifest", "enc/manifest.json"]
    assert main([*argv, "--workers", "2"]) == 0, capsys.readouterr().err
    assert "decoded 2, skipped 0 (already done), failed 0" in capsys.readouterr().out
    for drive, depth in values.items():
        back = np.load(tmp_path / "dec" / drive / "0000000005.npy")
        ref = np.where(depth > 0, depth / 256.0, np.nan)
        assert np.array_equal(np.isnan(back), np.isnan(ref))
        assert np.all(codec.roundtrip_error(ref, back) <= codec.roundtrip_bound(ref))
    mtime = (tmp_path / "dec" / KITTI[0] / "0000000005.npy").stat().st_mtime_ns
    assert main(argv) == 0
    assert "decoded 0, skipped 2" in capsys.readouterr().out
    assert (tmp_path / "dec" / KITTI[0] / "0000000005.npy").stat().st_mtime_ns == mtime
    # 16-bit PNG depth, and a corrupt encoded file fails alone (exit 1)
    (tmp_path / "enc" / "broken.png").write_bytes(b"not a png")
    argv16 = ["decode", "enc/**/*.png", "--out", "d16", "--manifest", "enc/manifest.json"]
    assert main([*argv16, "--format", "png", "--depth-scale", "256", "--workers", "1"]) == 1
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "decoded 2," in captured.out
    back16 = rio.read_image(tmp_path / "d16" / KITTI[1] / "0000000005.png")
    assert back16.dtype == np.uint16 and back16[0, 0] == 0
    back = np.load(tmp_path / "dec" / KITTI[1] / "0000000005.npy")
    assert np.array_equal(back16, np.rint(np.nan_to_num(back) * 256).astype(np.uint16))
    # a format the task does not write is refused up front
    assert main([*argv, "--format", "json"]) == 2
    assert "expected --format in" in capsys.readouterr().err
    # an empty glob: exit 2, nothing written
    assert main(["decode", "none/*.png", "--out", "d0", "--codec", "depth/cubewalk"]) == 2
    assert not (tmp_path / "d0").exists()


def test_batch_decode_masks_to_label_pngs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    labels = np.arange(20, dtype=np.uint8).reshape(4, 5) % 21
    for city in ("aachen", "bochum"):
        (tmp_path / "voc" / city).mkdir(parents=True)
        rio.write_png(tmp_path / "voc" / city / "x.png", labels)
    codec = {"name": "mask/palette", "palette": "voc"}
    assert convert(["voc/**/*.png"], "enc", codec, workers=1, progress=False).ok
    result = decode_files(
        ["enc/**/*.png"], "dec", manifest="enc/manifest.json", fmt="png", workers=1, progress=False
    )
    assert result.ok and len(result.converted) == 2
    assert np.array_equal(rio.read_image(tmp_path / "dec" / "bochum" / "x.png"), labels)


def _coco(tmp_path, sizes, k=17):
    images, anns = [], []
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate(sizes):
        images.append({"id": 100 + i, "file_name": f"img{i}.jpg", "height": h, "width": w})
        kp = np.zeros((k, 3))
        kp[:, 0] = np.linspace(8, w - 8, k).round()
        kp[:, 1] = rng.permutation(np.linspace(8, h - 8, k)).round()
        kp[:, 2] = 2
        anns.append(
            {"id": i, "image_id": 100 + i, "keypoints": kp.ravel().tolist(), "bbox": [0, 0, w, h]}
        )
    path = tmp_path / "person_keypoints.json"
    path.write_text(json.dumps({"images": images, "annotations": anns}))
    return path


def test_keypoints_size_none_takes_each_images_size(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sizes = [(96, 128), (120, 90), (64, 64)]
    path = _coco(tmp_path, sizes)
    coco = rio.read_coco_keypoints(path)
    argv = ["convert", path.name, "--out", "enc", "--codec", "keypoints/heatmap"]
    assert main([*argv, "--param", "num_keypoints=17", "--workers", "1"]) == 0, capsys.readouterr()
    manifest = json.loads((tmp_path / "enc" / "manifest.json").read_text())
    assert manifest["codec"]["size"] is None
    for i, (h, w) in enumerate(sizes):
        assert rio.read_rgb(tmp_path / "enc" / f"img{i}.png").shape == (h, w, 3)
        assert manifest["samples"][f"img{i}"] == {"image_id": 100 + i, "size": [h, w]}
    # single-file decode with the manifest uses the recorded size
    assert main(["decode", "enc/img1.png", "k1.npy", "--manifest", "enc/manifest.json"]) == 0
    err = np.linalg.norm(
        np.load(tmp_path / "k1.npy")[0] - coco["img1.jpg"]["keypoints"][0], axis=-1
    )
    assert np.nanmax(err) < 0.1
    # batch decode: one COCO results JSON, image ids from the manifest
    dec = ["decode", "enc/*.png", "--out", "res", "--manifest", "enc/manifest.json"]
    assert main([*dec, "--format", "json", "--workers", "1"]) == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "res" / "results.json").read_text())
    assert sorted(r["image_id"] for r in results) == [100, 101, 102]
    for r in results:
        ref = coco[f"img{r['image_id'] - 100}.jpg"]["keypoints"][0]
        got = np.asarray(r["keypoints"]).reshape(17, 3)
        assert np.max(np.linalg.norm(got[:, :2] - ref, axis=-1)) < 0.1
        assert r["category_id"] == 1 and 0 < r["score"] <= 1
    # a per-sample codec cannot encode without a size, and says how to give one
    codec = rgbtask.get_codec("keypoints/heatmap", num_keypoints=17)
    with pytest.raises(rgbtask.ConfigError, match="size=None"):
        codec.encode(coco["img0.jpg"]["keypoints"])


def test_keypoints_fixed_size_behaves_as_before(tmp_path):
    path = _coco(tmp_path, [(48, 64), (40, 40)])
    codec = {"name": "keypoints/heatmap", "size": [48, 64], "num_keypoints": 17}
    result = convert([path], tmp_path / "enc", codec, workers=1, progress=False)
    assert [p.split("/")[-1] for p in result.converted] == ["img0.png"]
    assert "img1.jpg" in next(iter(result.failed))
    manifest = json.loads((tmp_path / "enc" / "manifest.json").read_text())
    assert manifest["samples"]["img0"] == {"image_id": 100}


def test_write_png_writes_the_format_the_suffix_names(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (8, 9, 3), dtype=np.uint8)
    with pytest.warns(rio.LossyFormatWarning, match="lossy"):
        rio.write_png(tmp_path / "x.jpg", rgb)
    assert (tmp_path / "x.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, not PNG bytes
    assert issubclass(rio.LossyFormatWarning, RuntimeWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rio.write_png(tmp_path / "x.PNG", rgb)
        rio.write_png(tmp_path / "x.tif", rgb.astype(np.uint16) * 257)
    assert (tmp_path / "x.PNG").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert rio.read_rgb(tmp_path / "x.tif").dtype == np.uint16
    with pytest.raises(rgbtask.InputError, match="JPEG holds 8 bits"):
        rio.write_png(tmp_path / "y.jpg", rgb.astype(np.uint16))
    for name in ("y.webp", "y.bmp", "y"):
        with pytest.raises(rgbtask.InputError, match="expected an output named .png"):
            rio.write_png(tmp_path / name, rgb)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.PNG", "x.jpg", "x.tif"]


def test_cli_encode_to_jpg_warns_and_writes_jpeg(tmp_path):
    normals = np.zeros((4, 5, 3))
    normals[..., 2] = 1.0
    np.save(tmp_path / "n.npy", normals)
    with pytest.warns(rio.LossyFormatWarning):
        assert (
            main(
                [
                    "encode",
                    str(tmp_path / "n.npy"),
                    str(tmp_path / "n.jpg"),
                    "--codec",
                    "normals/xyz",
                ]
            )
            == 0
        )
    assert (tmp_path / "n.jpg").read_bytes()[:2] == b"\xff\xd8"
    assert (
        main(["encode", str(tmp_path / "n.npy"), str(tmp_path / "n.gif"), "--codec", "normals/xyz"])
        == 2
    )


def test_readme_dataset_pipeline_runs(tmp_path, monkeypatch, capsys):
    """The README's dataset-scale commands, run as written on a small nested NYU-like tree."""
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme[readme.index("A whole dataset, nested folders") :]
    block = block[block.index("```bash") + 7 : block.index("```\n", block.index("```bash") + 7)]
    lines = [ln.split("  #")[0] for ln in block.splitlines() if ln.startswith("rgbtask ")]
    assert [ln.split()[1] for ln in lines] == ["eval", "convert", "decode", "decode"]
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(0)
    for scene in ("kitchen_0001", "office_0002"):
        (tmp_path / "nyu" / scene).mkdir(parents=True)
        for frame in ("r-001", "r-002"):
            rio.write_png(
                tmp_path / "nyu" / scene / f"{frame}.png",
                rng.integers(500, 9000, (8, 10), dtype=np.uint16),
            )
    with pytest.raises(SystemExit):
        main(["eval", "--help"])
    eval_takes_input = "--input" in capsys.readouterr().out
    for line in lines:
        argv = shlex.split(line)[1:]
        if argv[0] == "eval" and not eval_takes_input:
            continue  # `eval --input` lands with the CLI part of issue 16
        assert main(argv) == 0, (line, capsys.readouterr().err)
    assert sorted(
        p.relative_to(tmp_path / "decoded").as_posix()
        for p in (tmp_path / "decoded").rglob("*.npy")
    ) == [f"{s}/{f}.npy" for s in ("kitchen_0001", "office_0002") for f in ("r-001", "r-002")]
    assert np.load(tmp_path / "frame.npy").shape == (8, 10)


def test_decode_to_16_bit_png_takes_the_manifests_depth_scale(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _kitti(tmp_path)
    assert convert(["kitti/**/*.png"], "enc", "depth/cubewalk", depth_scale=256, progress=False).ok
    man = ["--manifest", "enc/manifest.json"]
    assert main(["decode", "enc/**/*.png", "--out", "npy", *man, "--workers", "1"]) == 0
    assert main(["decode", "enc/**/*.png", "--out", "png", *man, "--format", "png"]) == 0
    one = f"enc/{KITTI[0]}/0000000005.png"
    assert main(["decode", one, "one.png", *man]) == 0
    back = np.load(tmp_path / "npy" / KITTI[0] / "0000000005.npy")
    want = np.rint(np.nan_to_num(back) * 256).astype(np.uint16)
    assert np.array_equal(rio.read_image(tmp_path / "png" / KITTI[0] / "0000000005.png"), want)
    assert np.array_equal(rio.read_image(tmp_path / "one.png"), want)


def test_decode_usage_errors_are_one_line_exit_2(tmp_path, capsys):
    png = tmp_path / "x.png"
    rio.write_png(png, np.full((2, 3, 3), 128, np.uint8))
    cases = [
        (["decode", str(png), "--codec", "normals/xyz"], "expected INPUT OUTPUT"),
        (["decode", str(png), "a.npy", "b.npy", "--codec", "normals/xyz"], "expected INPUT OUTPUT"),
        (["decode", str(png), "a.npy", "--format", "png", "--codec", "normals/xyz"], "--format"),
        (
            ["decode", str(png), "--out", str(tmp_path / "o"), "--confidence", "c.npy"],
            "--confidence",
        ),
        (
            ["decode", str(tmp_path), "--out", str(tmp_path / "o"), "--codec", "normals/xyz"],
            "a directory, not a file",
        ),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("rgbtask: error: ") and message in err, err
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_batch_decode_on_a_dask_local_cluster(tmp_path, monkeypatch):
    pytest.importorskip("dask.distributed")
    monkeypatch.chdir(tmp_path)
    _kitti(tmp_path)
    assert convert(["kitti/**/*.png"], "enc", "depth/cubewalk", depth_scale=256, progress=False).ok
    kw = {"manifest": "enc/manifest.json", "progress": False}
    dask = decode_files(["enc/**/*.png"], "dask", engine="dask", workers=2, **kw)
    local = decode_files(["enc/**/*.png"], "local", workers=1, **kw)
    assert dask.ok and local.ok and len(dask.converted) == 2
    for drive in KITTI:
        a = np.load(tmp_path / "dask" / drive / "0000000005.npy")
        b = np.load(tmp_path / "local" / drive / "0000000005.npy")
        assert np.array_equal(a, b, equal_nan=True)


def test_coco_file_names_in_subfolders_keep_their_folders(tmp_path):
    path = _coco(tmp_path, [(48, 64), (48, 64), (40, 40)])
    coco = json.loads(path.read_text())
    for image, name in zip(coco["images"], ["val/a/0001.jpg", "val/b/0001.jpg", "../up.jpg"]):
        image["file_name"] = name
    path.write_text(json.dumps(coco))
    codec = {"name": "keypoints/heatmap", "num_keypoints": 17}
    result = convert([path], tmp_path / "enc", codec, workers=1, progress=False)
    assert result.ok
    written = sorted(
        p.relative_to(tmp_path / "enc").as_posix() for p in (tmp_path / "enc").rglob("*.png")
    )
    assert written == ["up.png", "val/a/0001.png", "val/b/0001.png"]
    manifest = json.loads((tmp_path / "enc" / "manifest.json").read_text())
    assert manifest["inputs"]["val/b/0001"] == f"{path}:val/b/0001.jpg"


def test_batch_decode_writes_a_new_familys_format_through_its_task_io(tmp_path, monkeypatch):
    """No task branching: a family's TaskIO that declares ``.flo`` gets ``--format flo``."""
    from test_tasks import FloIO, ToyFlow, _flow

    from rgbtask.registry import unregister_codec

    class FlowFiles(FloIO):
        decode_formats = ("npy", "flo")

    @dataclass(frozen=True, eq=False, repr=False)
    class FloCodec(ToyFlow):
        name: ClassVar[str] = "toyflow/flo"
        task_io: ClassVar[Any] = FlowFiles()

    monkeypatch.chdir(tmp_path)
    rgbtask.register_codec(FloCodec)
    try:
        for seq in ("alley_1", "bamboo_1"):
            FlowFiles().write(tmp_path / "sintel" / seq / "frame_0001.flo", _flow(len(seq)))
        assert convert(["sintel/**/*.flo"], "enc", "toyflow/flo", workers=1, progress=False).ok
        dec = ["decode", "enc/**/*.png", "--out", "dec", "--manifest", "enc/manifest.json"]
        assert main([*dec, "--format", "flo", "--workers", "1"]) == 0
        back = FlowFiles().read(tmp_path / "dec" / "bamboo_1" / "frame_0001.flo")
        ref = _flow(len("bamboo_1"))
        assert back.shape == ref.shape and np.max(np.abs(back - ref)) < 0.1
        assert main([*dec, "--format", "png", "--workers", "1"]) == 2
    finally:
        unregister_codec("toyflow/flo")


def test_single_file_decode_refuses_an_output_the_task_cannot_hold(tmp_path, capsys):
    normals = np.zeros((4, 5, 3))
    normals[..., 2] = 1.0
    png = tmp_path / "n.png"
    rio.write_png(png, rgbtask.get_codec("normals/xyz").encode(normals))
    args = ["--codec", "normals/xyz"]
    # normals as a PNG used to say "expected --depth-scale to write float depth"
    assert main(["decode", str(png), str(tmp_path / "n_out.png"), *args]) == 2
    err = capsys.readouterr().err
    assert "expected an output ending in .npy, .pfm" in err and "depth" not in err
    assert main(["decode", str(png), str(tmp_path / "n.pfm"), *args]) == 0
    assert rio.read_pfm(tmp_path / "n.pfm").shape == (4, 5, 3)
    # keypoints: .npy one file; COCO results JSON only for a batch, and the error says how
    kp = rgbtask.get_codec("keypoints/heatmap", size=(24, 32), num_keypoints=3)
    rio.write_png(
        tmp_path / "k.png", kp.encode(np.array([[[5.0, 6.0], [20.0, 12.0], [9.0, 18.0]]]))
    )
    kargs = ["--codec", "keypoints/heatmap", "--param", "num_keypoints=3"]
    assert main(["decode", str(tmp_path / "k.png"), str(tmp_path / "k.json"), *kargs]) == 2
    assert "--out DIR --format json" in capsys.readouterr().err
    assert main(["decode", str(tmp_path / "k.png"), str(tmp_path / "k.npy"), *kargs]) == 0
    assert np.nanmax(np.abs(np.load(tmp_path / "k.npy")[0] - [[5, 6], [20, 12], [9, 18]])) < 0.1
    # a confidence map is a float map whatever the task: .npy or .pfm
    conf = ["--confidence", str(tmp_path / "c.pfm")]
    assert main(["decode", str(png), str(tmp_path / "n.npy"), *args, *conf]) == 0
