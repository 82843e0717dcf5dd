"""The command line: demo, list, info, errors and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import rgbtask
from rgbtask.cli import main, parse_params


def test_demo_round_trips_every_codec(capsys):
    assert main(["demo", "--size", "24x32", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    for name in rgbtask.list_codecs():
        assert f"| {name}" in out
    assert "OVER BOUND" not in out and "ERROR" not in out
    assert "round trips within their bound" in out


def test_demo_one_codec(capsys):
    assert main(["demo", "--size", "16x16", "--codec", "normals/xyz", "--repeat", "1"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("| normals/xyz")]
    assert len(lines) == 3 and all(ln.rstrip().endswith("ok     |") for ln in lines)


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
    assert info["config"] == {"name": "normals/xyz", "bits": 16, "convention": [1, -1, 1]}
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
