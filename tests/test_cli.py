"""The command line: demo, list, info, errors and exit codes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

import rgbtask
from rgbtask.cli import main, parse_params


def test_demo_round_trips_every_codec(capsys):
    assert main(["demo", "--size", "24x32", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    for name in rgbtask.list_codecs():
        assert any(ln.startswith(f"{name} ") for ln in lines), name
    assert "OVER BOUND" not in out and "ERROR" not in out
    assert "round trips within their bound" in out
    # issue 16: fits 120 columns, parameters never cut, a legend, no lossy-storage numbers that
    # read as failures (miou 31 "ok") in a lossless table.
    assert max(len(ln) for ln in lines) <= 120
    assert "..." not in out and "Columns:" in out and "enc: encode throughput" in out
    assert "JPEG q90" not in out and "miou" not in out and "pixel_acc" not in out
    assert "palette=[[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0]" in out


def test_demo_one_codec(capsys):
    assert main(["demo", "--size", "16x16", "--codec", "normals/xyz", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    lines = [ln for ln in out.splitlines() if ln.startswith("normals/xyz")]
    assert len(lines) == 5 and all(ln.endswith("  ok") for ln in lines)  # one per example config
    assert "1 codec on a" in out


def test_demo_reports_a_codec_over_its_bound(capsys, monkeypatch):
    from rgbtask.codecs.normals import NormalsXYZ

    monkeypatch.setattr(NormalsXYZ, "roundtrip_bound", lambda self, ref: 0.0)
    assert main(["demo", "--size", "16x16", "--codec", "normals/xyz", "--repeat", "1"]) == 1
    assert "OVER BOUND" in capsys.readouterr().out


def test_list_and_info(capsys):
    assert main(["list"]) == 0
    assert "normals/xyz" in capsys.readouterr().out
    assert (
        main(["info", "normals/xyz", "--param", "bits=16", "--param", "convention=[1,-1,1]"]) == 0
    )
    info = json.loads(capsys.readouterr().out)
    assert info["config"] == {
        "name": "normals/xyz",
        "bits": 16,
        "convention": [1, -1, 1],
        "image_convention": "opengl",
        "quantization": "round",
    }
    assert info["dtype"] == "uint16" and info["levels"] == 65536


def test_unknown_codec_is_a_clear_error(capsys):
    assert main(["info", "normals/xzy"]) == 2
    assert "did you mean 'normals/xyz'" in capsys.readouterr().err


def test_parse_params():
    assert parse_params(["a=1", "b=turbo", "c=[1, 2]", "d=0.5", "e="]) == {
        "a": 1,
        "b": "turbo",
        "c": [1, 2],
        "d": 0.5,
        "e": "",
    }
    with pytest.raises(ValueError, match="expected --param KEY=VALUE"):
        parse_params(["novalue"])


@pytest.mark.parametrize(
    "argv", [["eval", "--codec", "normals/xyz", "--scenes", "0"], ["demo", "--repeat", "-1"]]
)
def test_counts_must_be_positive(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and "expected a positive integer" in capsys.readouterr().err


def test_bad_size_exits_2():
    out = subprocess.run(
        [sys.executable, "-m", "rgbtask", "demo", "--size", "big"], capture_output=True, text=True
    )
    assert out.returncode == 2 and "expected HxW" in out.stderr


def test_warmup_compiles_the_kernels():
    from rgbtask.core import normals as kernels

    rgbtask.warmup("normals/xyz")
    if hasattr(kernels.encode_kernel, "signatures"):  # absent under NUMBA_DISABLE_JIT=1
        assert kernels.encode_kernel.signatures and kernels.decode_kernel.signatures


@pytest.mark.parametrize(
    "codec, param",
    [
        ("mask/palette", "ignore=null"),
        ("mask/palette", "min_region=x"),
        ("mask/palette", "min_region=[1]"),
        ("mask/palette", "palette=7"),
        ("mask/palette", "space=[1,2]"),
        ("mask/binary", "threshold=abc"),
        ("normals/xyz", "bits=null"),
        ("normals/xyz", "convention={}"),
        ("depth/cubewalk", "near=far"),
        ("keypoints/heatmap", "sigma=x"),
        ("mask/palette", "nosuch=1"),
    ],
)
def test_a_bad_param_is_one_line_and_exit_2(codec, param, capsys):
    assert main(["info", codec, "--param", param]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rgbtask: error: ")
    assert "Traceback" not in captured.err


def test_a_bad_param_is_exit_2_in_every_command_that_builds_a_codec(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    np.save(tmp_path / "m.npy", np.zeros((4, 4), np.uint8))
    bad = ["--codec", "mask/palette", "--param", "ignore=null"]
    for argv in (
        ["encode", str(tmp_path / "m.npy"), str(tmp_path / "m.png"), *bad],
        ["decode", str(tmp_path / "m.png"), str(tmp_path / "m2.npy"), *bad],
        ["convert", str(tmp_path / "m.npy"), "--out", str(tmp_path / "out"), *bad],
        ["eval", *bad],
    ):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("rgbtask: error: ") and "Traceback" not in err


def test_the_cli_process_prints_no_traceback_for_a_bad_param():
    out = subprocess.run(
        [sys.executable, "-m", "rgbtask", "info", "mask/palette", "--param", "ignore=null"],
        capture_output=True,
        text=True,
    )
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith("rgbtask: error: ") and "ignore" in out.stderr


# ---------------------------------------------------------------- issue 16


def test_param_values_take_json_and_comma_lists():
    assert parse_params(["size=425,640", "size2=[425,640]", "palette=voc", "c=1,-1,1"]) == {
        "size": [425, 640],
        "size2": [425, 640],
        "palette": "voc",
        "c": [1, -1, 1],
    }


def test_param_help_says_how_values_are_read(capsys):
    with pytest.raises(SystemExit):
        main(["info", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "size=425,640" in out and "JSON" in out


def test_hints_use_the_cli_spelling_not_python(capsys):
    assert main(["eval", "--codec", "keypoints/heatmap", "--param", "sigma=3"]) == 2
    err = capsys.readouterr().err
    assert "get_codec(" not in err and "(256, 192)" not in err
    assert "--codec keypoints/heatmap --param size=256,192 --param num_keypoints=17" in err


def test_codec_spec_carries_its_own_params():
    from rgbtask.cli import parse_codec_spec

    assert parse_codec_spec("mask/palette?palette=voc&space=lab") == (
        "mask/palette",
        {"palette": "voc", "space": "lab"},
    )
    assert parse_codec_spec("keypoints/heatmap?size=48,64&num_keypoints=17") == (
        "keypoints/heatmap",
        {"size": [48, 64], "num_keypoints": 17},
    )
    assert parse_codec_spec("normals/xyz") == ("normals/xyz", {})


def test_info_of_a_codec_that_needs_parameters_shows_them(capsys):
    assert main(["info", "keypoints/heatmap"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"]["size"]["default"] is None
    assert "size" in info["needs"] and "num_keypoints" in info["needs"]
    assert "--param size=256,192" in info["needs"] and "get_codec(" not in info["needs"]
    assert info["parameters"]["sigma"]["default"] == 2.0
    assert "0.5" in info["parameters"]["sigma"]["accepts"]
    assert main(["info", "keypoints/heatmap", "--param", "size=48,64"]) == 2  # given, and wrong
    assert (
        main(["info", "keypoints/heatmap", "--param", "size=48,64", "--param", "num_keypoints=17"])
        == 0
    )
    assert json.loads(capsys.readouterr().out)["config"]["size"] == [48, 64]


@pytest.mark.parametrize("task", ["masks", "foo"])
def test_list_an_unknown_task_says_which_exist(task, capsys):
    assert main(["list", "--task", task]) == 2
    err = capsys.readouterr().err
    assert "depth" in err and "mask" in err and "normals" in err and "keypoints" in err
    assert ("did you mean 'mask'" in err) == (task == "masks")


def test_list_a_task_and_no_rest_markup(capsys):
    assert main(["list", "--task", "mask"]) == 0
    out = capsys.readouterr().out
    assert "mask/palette" in out and "depth/" not in out
    assert main(["list"]) == 0
    assert "`" not in capsys.readouterr().out


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"rgbtask {rgbtask.__version__}"


def _all_actions():
    from rgbtask.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, p in sub.choices.items():
        for action in p._actions:
            yield name, p, action


def test_every_argument_has_help_and_every_command_an_example():
    seen = set()
    for name, p, action in _all_actions():
        assert action.help, (name, action.dest)
        assert "`" not in action.help, (name, action.dest)
        if name not in seen:
            seen.add(name)
            assert p.epilog and f"rgbtask {name}" in p.epilog, name
            assert "`" not in (p.description or ""), name
    assert {"demo", "list", "info", "eval", "encode", "decode", "convert"} <= seen


def test_main_help_has_no_rest_markup(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "`" not in capsys.readouterr().out


def test_eval_keypoints_with_17_ids(capsys):
    argv = ["eval", "--codec", "keypoints/heatmap", "--param", "size=[48,64]"]
    argv += ["--param", "num_keypoints=17", "--size", "48x64", "--scenes", "1"]
    assert main([*argv, "--perturb", "png"]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| keypoints/heatmap"))
    assert "num_keypoints=17" in row
    # The legend says what count and valid_pct are: sizes and shares, not failures.
    assert "- count:" in out and "not an error" in out
    assert "- valid_pct:" in out and "not a failure" in out


def test_eval_per_codec_params(capsys):
    argv = ["eval", "--codec", "mask/palette?palette=voc&space=lab", "--codec", "mask/palette"]
    assert main([*argv, "--size", "24x32", "--scenes", "1", "--perturb", "png"]) == 0
    rows = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| mask/palette")]
    assert len(rows) == 2
    assert 'palette="voc" space="lab"' in rows[0] and "voc" not in rows[1]


def test_eval_on_the_users_own_files(tmp_path, capsys):
    np = pytest.importorskip("numpy")
    from rgbtask.io import write_png
    from rgbtask.samples import make_scene

    for i, folder in enumerate(["a", "b/c"]):
        (tmp_path / folder).mkdir(parents=True)
        depth = make_scene(24, 32, seed=i).depth
        write_png(tmp_path / folder / "0001.png", np.nan_to_num(depth * 1000).astype(np.uint16))
    pattern = str(tmp_path / "**" / "*.png")
    argv = ["eval", "--codec", "depth/cubewalk", "--input", pattern, "--perturb", "png"]
    assert main([*argv, "--depth-scale", "1000", "--out", str(tmp_path / "report")]) == 0
    out = capsys.readouterr().out
    row = next(ln for ln in out.splitlines() if ln.startswith("| depth/cubewalk"))
    assert "| png | 2 |" in row  # both files, averaged
    csv_text = (tmp_path / "report" / "eval.csv").read_text()
    assert "a/0001.png" in csv_text and "b/c/0001.png" in csv_text
    # Integer depth without a scale is refused (the reader's hint), a glob with no match too.
    assert main(argv) == 2
    assert "depth_scale" in capsys.readouterr().err
    assert main(["eval", "--codec", "depth/cubewalk", "--input", str(tmp_path / "*.exr")]) == 2
    assert "no file matches" in capsys.readouterr().err
    # Options that shape the built-in scenes do nothing to the user's files: refused, not ignored.
    assert main([*argv, "--depth-scale", "1000", "--size", "8x8"]) == 2
    assert "only without --input" in capsys.readouterr().err
    assert main(["eval", "--codec", "depth/cubewalk", "--depth-scale", "1000"]) == 2


def test_eval_on_coco_keypoints(tmp_path, capsys):
    coco = {
        "images": [{"id": 1, "file_name": "x.jpg", "height": 48, "width": 64}],
        "annotations": [
            {"image_id": 1, "bbox": [0, 0, 30, 30], "keypoints": [10, 12, 2, 30, 20, 2, 0, 0, 0]}
        ],
    }
    (tmp_path / "kp.json").write_text(json.dumps(coco))
    argv = ["eval", "--codec", "keypoints/heatmap?size=48,64&num_keypoints=3"]
    assert main([*argv, "--input", str(tmp_path / "kp.json"), "--perturb", "png"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| keyp"))
    assert "| png | 1 |" in row
    # A canvas that is not the image's is refused, as encode refuses it; no sample at all too.
    argv = ["eval", "--codec", "keypoints/heatmap?size=40,64&num_keypoints=3"]
    assert main([*argv, "--input", str(tmp_path / "kp.json")]) == 2
    assert "expected an image of size (40, 64)" in capsys.readouterr().err
    coco["annotations"] = []
    (tmp_path / "empty.json").write_text(json.dumps(coco))
    assert main([*argv, "--input", str(tmp_path / "empty.json")]) == 2
    assert "expected samples in --input" in capsys.readouterr().err


def test_hints_rewrite_python_keywords_too(capsys):
    argv = ["info", "keypoints/heatmap", "--param", "size=48,64", "--param", "num_keypoints=40"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "use --param layout=stacked" in err and "layout='stacked'" not in err
    assert main(["info", "depth/gray", "--param", "transform=linear"]) == 2
    err = capsys.readouterr().err
    assert "rgbtask info depth/gray --param transform=linear --param near=0.5" in err


def test_hints_are_quoted_for_the_shell(capsys):
    assert main(["info", "depth/curve"]) == 0
    needs = json.loads(capsys.readouterr().out)["needs"]
    assert "--param 'curve=[[0,0,0],[1,0,0],[1,1,0]]' --param near=1" in needs


def test_info_says_what_a_codec_validator_accepts(capsys):
    assert main(["info", "mask/palette", "--param", "palette=voc"]) == 0
    accepts = json.loads(capsys.readouterr().out)["parameters"]["palette"]["accepts"]
    assert "palette name" in accepts


def test_warmup_names_each_codec_and_what_it_compiled(capsys):
    assert main(["warmup", "normals/xyz", "mask/binary"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = {
        line.split()[0]: line for line in out if line.split()[0] in ("normals/xyz", "mask/binary")
    }
    assert set(lines) == {"normals/xyz", "mask/binary"}
    if os.environ.get("NUMBA_DISABLE_JIT", "0") in ("", "0"):
        assert out[0].startswith("Numba cache: ")
        assert all(
            re.search(r" s  \d+ compiled, \d+ loaded from cache$", line) for line in lines.values()
        )
    assert out[-1].startswith("2 codecs warm in ")


def test_warmup_of_a_task(capsys):
    assert main(["warmup", "--task", "normals"]) == 0
    assert "normals/xyz" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["warmup", "normals/xzy"], "no codec named 'normals/xzy'"),
        (["warmup", "normals/xyz", "nope"], "no codec named 'nope'"),
        (["warmup", "--task", "normal"], "expected a task in"),
    ],
)
def test_warmup_of_an_unknown_codec_exits_2_before_compiling(capsys, argv, message):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
