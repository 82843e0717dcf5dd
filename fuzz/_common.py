"""What the fuzz harnesses share (they run as scripts: ``python fuzz/<harness>.py``)."""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
from pathlib import Path

import atheris


def modules_of(subpackage: str) -> list[str]:
    """``rgbtask.<subpackage>.*`` module names (``"core"``, ``"codecs"``), found without importing
    rgbtask."""
    spec = importlib.util.find_spec("rgbtask")
    folder = Path(next(iter(spec.submodule_search_locations))) / subpackage
    return sorted(
        f"rgbtask.{subpackage}.{p.stem}" for p in folder.glob("*.py") if p.stem != "__init__"
    )


def import_all(names: list[str]) -> None:
    """Import modules now (inside :func:`instrument`), not on first use, so that they are
    instrumented: codec modules are otherwise imported lazily by the registry."""
    for name in names:
        importlib.import_module(name)


def instrument(exclude: list[str] = ()):
    """Instrument rgbtask's branches for coverage, without atheris's comparison tracing: atheris
    3.0 keeps about 120 bytes per instrumented comparison of NumPy arrays (measured: 48 MiB after
    200k comparisons of a 10-element array), which ran long campaigns out of memory; our
    comparisons are on arrays, where its value hints do not apply anyway."""
    try:
        return atheris.import_hook.HookManager(
            {"rgbtask"}, set(exclude), True, trace_dataflow=False
        )
    except (AttributeError, TypeError):  # another atheris: its public (leaking) hook
        return atheris.instrument_imports(include=["rgbtask"], exclude=list(exclude))


def artifact_args(argv: list[str]) -> list[str]:
    """``argv`` with ``-artifact_prefix=`` added when it has none: libFuzzer otherwise writes its
    findings (``crash-*``, ``slow-unit-*`` for an input over 10 s, such as the first one of a cold
    ``NUMBA_BOUNDSCHECK=1`` compile, ...) into the current folder, which is the checkout when a
    campaign is started from there. They go to ``$RGBTASK_FUZZ_ARTIFACTS``, else to
    ``<temp>/rgbtask-fuzz-artifacts/``."""
    if any(arg.startswith("-artifact_prefix=") for arg in argv[1:]):
        return argv
    folder = os.environ.get("RGBTASK_FUZZ_ARTIFACTS") or os.path.join(
        tempfile.gettempdir(), "rgbtask-fuzz-artifacts"
    )
    os.makedirs(folder, exist_ok=True)
    print(f"findings (crash-*, slow-unit-*, ...) go to {folder}", file=sys.stderr)
    return [*argv, f"-artifact_prefix={os.path.join(folder, '')}"]


def main(argv: list[str], fuzz_one_input, make_corpus) -> None:
    """``--make-corpus DIR`` writes the seed inputs; anything else is libFuzzer's command line
    (with :func:`artifact_args`' default for where findings go)."""
    if len(argv) == 3 and argv[1] == "--make-corpus":
        print(f"wrote {make_corpus(argv[2])} seed inputs to {argv[2]}")
        return
    atheris.Setup(artifact_args(argv), fuzz_one_input)
    atheris.Fuzz()
