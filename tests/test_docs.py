"""The code in the docs runs: the codec-author guide's example passes the conformance check."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np

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
