"""The code in the docs runs: the codec-author guide's example passes the conformance check."""

from __future__ import annotations

import contextlib
import json
import re
import shlex
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import rgbtask
from rgbtask import registry
from rgbtask.testing import check_codec

DOCS = Path(__file__).resolve().parents[1] / "docs"


def python_blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


def test_codec_guide_example_conforms(scene, monkeypatch):
    # Run the block as a user's module would: importable (for pickling), and without this file's
    # __future__ flags (dont_inherit).
    module = types.ModuleType("docs_codecs_example")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    code = compile(
        python_blocks(DOCS / "codecs.md")[0], "docs/codecs.md", "exec", dont_inherit=True
    )
    exec(code, module.__dict__)
    try:
        codec = rgbtask.get_codec("relative/gray")
        assert codec.get_config() == {"name": "relative/gray", "bits": 8}
        for example, values in type(codec).examples(scene):
            check_codec(example, values)
        check_codec(codec, [np.linspace(0, 1, 12).reshape(3, 4)])
    finally:
        registry.unregister_codec("relative/gray")


def test_readme_quick_start_runs(capsys):
    readme = Path(__file__).resolve().parents[1] / "README.md"
    code = compile(python_blocks(readme)[0], "README.md", "exec", dont_inherit=True)
    namespace: dict = {"__name__": "readme_quick_start"}
    exec(code, namespace)
    assert namespace["rgb"].shape == (480, 640, 3) and namespace["rgb"].dtype == np.uint8
    assert namespace["valid"].mean() > 0.9
    assert "normals/xyz" in capsys.readouterr().out


def test_hardening_cases_are_current():
    """docs/hardening_cases.md is what the adversarial suite gives today (regenerate it with
    ``python docs/make_hardening_report.py`` when a codec's behaviour changes on purpose)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_hardening_report", DOCS / "make_hardening_report.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.report() == (DOCS / "hardening_cases.md").read_text()


# ---------------------------------------------------------------- shell commands in the docs

#: Documented commands not run here, each with why (matched as a substring of the command).
NOT_RUN: dict[str, str] = {
    "pip install": "installs the package: the tests run on the checkout under test",
    "python -m pytest": "runs this test suite itself",
    "fuzz/fuzz_": "fuzzing campaigns of 10 to 25 minutes; tests/test_fuzz.py runs them seeded and bounded",
    "--scheduler tcp://": "needs a running Dask cluster at that address",
    "rgbtask convert ...": "elides the arguments of the line above (shows only --engine dask)",
}


def bash_commands(path: Path) -> list[str]:
    """The commands of ``path``'s fenced ``bash`` blocks: continuation lines joined, comments and
    blank lines dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", path.read_text(), flags=re.S):
        for command in block.replace("\\\n", " ").splitlines():
            command = re.sub(r"\s#.*$", "", command).strip()
            if command and not command.startswith("#"):
                commands.append(" ".join(command.split()))
    return commands


def _depth_png(path: Path, seed: int, size=(48, 64)) -> None:
    from rgbtask.io import write_png
    from rgbtask.samples import make_scene

    depth = make_scene(*size, seed=seed).depth
    path.parent.mkdir(parents=True, exist_ok=True)
    write_png(path, np.rint(np.nan_to_num(depth) * 1000).astype(np.uint16))


def _flow_file(path: Path, seed: int, size=(48, 64)) -> None:
    """A flow file (``.flo`` or KITTI ``.png``) of the built-in scene's flow."""
    from rgbtask.io import write_flow
    from rgbtask.samples import make_scene

    path.parent.mkdir(parents=True, exist_ok=True)
    write_flow(path, make_scene(*size, seed=seed).flow)


def _coco_keypoints(path: Path) -> None:
    """A COCO person-keypoints file with the image the docs name (COCO val2017 000000000785.jpg is
    425 x 640) and two other images; 17 keypoints, some unlabelled."""
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for i, (name, (h, w)) in enumerate(
        [("000000000785.jpg", (425, 640)), ("000000000872.jpg", (640, 621)), ("x.jpg", (425, 640))]
    ):
        images.append({"id": i + 1, "file_name": name, "height": h, "width": w})
        xy = rng.uniform([20, 20], [w - 20, h - 20], size=(17, 2))
        v = np.where(rng.uniform(size=17) < 0.2, 0, 2)
        kp = np.concatenate([np.where(v[:, None] > 0, xy, 0), v[:, None]], axis=1)
        annotations.append(
            {
                "id": i + 1,
                "image_id": i + 1,
                "category_id": 1,
                "bbox": [10, 10, w - 20, h - 20],
                "keypoints": [round(float(x), 2) for x in kp.ravel()],
                "num_keypoints": int((v > 0).sum()),
            }
        )
    path.write_text(json.dumps({"images": images, "annotations": annotations}))


#: The input files the documented commands name, made small and synthetic (the built-in scene).
#: A dataset folder holds files of the same name in different sub-folders, as real datasets do.
DOC_INPUTS = {
    "depth.png": lambda p: _depth_png(p, 0),
    "person_keypoints.json": _coco_keypoints,
    "person_keypoints_val2017.json": _coco_keypoints,
    "nyu/frame.png": lambda p: _depth_png(p, 1),
    "nyu/living_room/0001.png": lambda p: _depth_png(p, 2),
    "nyu/kitchen/0002.png": lambda p: _depth_png(p, 3),
    "nyu/kitchen_0001/r-001.png": lambda p: _depth_png(p, 4),
    "nyu/office_0002/r-001.png": lambda p: _depth_png(p, 5),
    "sintel/alley_1/frame_0001.flo": lambda p: _flow_file(p, 6),
    "sintel/ambush_2/frame_0001.flo": lambda p: _flow_file(p, 7),
    "kitti/flow_occ/000000_10.png": lambda p: _flow_file(p, 8),
}


def _doc_files() -> list[Path]:
    return [DOCS.parent / "README.md", *sorted(DOCS.glob("*.md"))]


@contextlib.contextmanager
def one_process_pool(monkeypatch):
    """Every ``ProcessPoolExecutor`` opened inside is one spawned pool, started by the first and
    shut down at the end: each ``convert`` / ``decode`` of many files would otherwise spawn its own
    workers, each importing rgbtask and NumPy and Numba anew (about 1.5 s a worker, most of a
    doc's time); the jobs still go to spawned processes, pickled, as they do for a user."""
    import concurrent.futures

    real = concurrent.futures.ProcessPoolExecutor
    pools = []

    def shared(*args, **kwargs):
        if not pools:
            pools.append(real(*args, **kwargs))
        return contextlib.nullcontext(pools[0])

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", shared)
    try:
        yield
    finally:
        monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", real)
        for pool in pools:
            pool.shutdown()


@pytest.mark.slow  # several seconds per doc: eval, convert (spawned workers), keypoints
@pytest.mark.parametrize("doc", [p for p in _doc_files() if bash_commands(p)], ids=lambda p: p.name)
def test_documented_commands_run(doc, tmp_path, monkeypatch, capsys):
    """Every command of a doc's ``bash`` blocks runs, in order, in a fresh folder holding the files
    they name (:data:`DOC_INPUTS`), and exits 0; :data:`NOT_RUN` lists what is skipped and why."""
    from rgbtask.cli import main

    for name, make in DOC_INPUTS.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        make(tmp_path / name)
    monkeypatch.chdir(tmp_path)  # before the pool: its workers keep the folder they start in
    ran = 0
    with one_process_pool(monkeypatch):
        for command in bash_commands(doc):
            if any(key in command for key in NOT_RUN):
                continue
            argv = shlex.split(command)
            assert argv[0] == "rgbtask", f"{doc.name}: {command!r} is neither run nor in NOT_RUN"
            status = main(argv[1:])
            captured = capsys.readouterr()
            assert status == 0, f"{doc.name}: {command!r} exited {status}: {captured.err}"
            ran += 1
    assert ran or all(any(k in c for k in NOT_RUN) for c in bash_commands(doc))


def test_the_doc_command_runner_sees_every_block():
    commands = bash_commands(DOCS / "fidelity.md")
    assert any(
        "--image 000000000785.jpg" in c and "--param num_keypoints=17" in c for c in commands
    )
    joined = [c for c in commands if c.startswith("rgbtask convert 'bucket")]
    assert joined and "--scheduler tcp://scheduler-host:8786" in joined[0]  # continuation joined
