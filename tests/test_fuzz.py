"""The fuzzers run bounded, seeded campaigns in CI: the image decoders (fuzz/fuzz_decoders.py) in
both modes, and the file readers (fuzz/fuzz_files.py).

With the JIT and ``NUMBA_BOUNDSCHECK=1`` (an out-of-bounds index in a kernel raises instead of
corrupting memory; its own ``NUMBA_CACHE_DIR``, since Numba's cache does not key on the flag), and
under ``NUMBA_DISABLE_JIT=1`` (atheris then instruments the kernels' branches too). A finding makes
libFuzzer write ``crash-*`` (``timeout-*`` for an input that runs over a minute, a hang;
``oom-*`` past 2 GB of memory) and exit non-zero; the test shows the input. Long campaigns and
their results: docs/hardening.md.

The campaigns are separate processes that share nothing with the tests but the checkout, and most
of their time is one core compiling the kernels with bounds checks: tests/conftest.py starts them
(:func:`start_campaigns`) in the background when the session begins, one after the other, and each
test waits for its own. On two cores they run beside the rest of the suite instead of after it.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import threading
from concurrent.futures import Future
from pathlib import Path

import pytest

pytest.importorskip("atheris")

FUZZ = Path(__file__).resolve().parents[1] / "fuzz"
#: harness, mode -> (runs, at least this many seed inputs, at least this much coverage). The
#: coverage floor (libFuzzer's "cov", instrumented edges reached) catches a harness that lost its
#: instrumentation: the decoders reach about 320 edges with the JIT, 570 without (the kernels are
#: instrumented too), the file readers about 230; uninstrumented, about 40.
CAMPAIGNS = {
    ("fuzz_decoders.py", "jit"): (1500, 2 * 20, 250),  # two seeds per decoder
    ("fuzz_decoders.py", "nojit"): (2000, 2 * 20, 450),
    ("fuzz_files.py", "jit"): (3000, 20, 150),  # every reader with each of its seed files
}


IDS = {key: f"{key[0][:-3]}-{key[1]}" for key in CAMPAIGNS}


def _env(mode: str, boundscheck_cache: Path | None = None) -> dict[str, str]:
    """The campaign's environment; without ``boundscheck_cache``, the one its seeds are made in
    (the session's Numba settings and cache: seeds are the codecs' own codes, and the kernels
    that encode them are not the ones fuzzed)."""
    env = {**os.environ}
    env.pop("NUMBA_DISABLE_JIT", None)
    if mode == "nojit":  # also for the seeds: the harness fuzzes fewer decoders then
        env["NUMBA_DISABLE_JIT"] = "1"
    elif boundscheck_cache is not None:
        env.update(NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(boundscheck_cache))
    return env


def _run(argv: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    if _stopping.is_set():
        return subprocess.CompletedProcess(argv, -1, "", "(not run: the session was ending)")
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    _children.append(proc)
    if _stopping.is_set():  # stop_campaigns() ran meanwhile
        proc.kill()
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        stdout, stderr = proc.communicate()
        stderr += f"\n(killed after {timeout} s)"
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def _campaigns(keys: list[tuple[str, str]], root: Path) -> dict:
    """Each campaign of ``keys`` in turn: its seed corpus, then the fuzzer; both JIT campaigns
    share one bounds-checked Numba cache (the kernels the file readers reach are compiled once)."""
    results = {}
    boundscheck_cache = root / "numba-boundscheck"
    for harness, mode in keys:
        runs = CAMPAIGNS[harness, mode][0]
        work = root / IDS[harness, mode]
        corpus = work / "corpus"
        seeded = _run(
            [sys.executable, str(FUZZ / harness), "--make-corpus", str(corpus)],
            _env(mode),
            timeout=300,
        )
        if seeded.returncode != 0:
            results[harness, mode] = (seeded, None, None)
            continue
        # libFuzzer's RSS is the process's peak RSS (getrusage), which on Linux a child inherits
        # from the process that started it: a pytest process holding 2 GB of tables would trip
        # the default 2048 MB limit before the first input. The child gets 2048 MB above what it
        # inherits. -reload=0: by default the corpus folder is re-read every second and each
        # input read again counts as a run, past -runs on a loaded machine ("Done 1509 runs").
        inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        out = _run(
            [sys.executable, str(FUZZ / harness), f"-runs={runs}", "-seed=1", "-max_len=2048",
             "-timeout=60", f"-rss_limit_mb={inherited_mb + 2048}", "-reload=0",
             f"-artifact_prefix={work}/", str(corpus)],
            _env(mode, boundscheck_cache),
            timeout=900,
        )  # fmt: skip
        results[harness, mode] = (seeded, out, work)
    return results


_children: list[subprocess.Popen] = []
_started: dict[tuple[str, str], Future] = {}
_stopping = threading.Event()


def start_campaigns(keys: list[tuple[str, str]], root: Path) -> None:
    """Start the campaigns ``keys`` that are not started yet, one after the other in a background
    thread, their files under ``root``; each test waits for its own (tests/conftest.py starts the
    selected ones when the session begins)."""
    keys = [key for key in sorted(keys) if key not in _started]
    if not keys:
        return
    everything: Future = Future()
    for key in keys:
        _started[key] = everything

    def run() -> None:
        try:
            everything.set_result(_campaigns(keys, root))
        except BaseException as exc:  # the tests show it
            everything.set_exception(exc)

    threading.Thread(target=run, name="fuzz-campaigns", daemon=True).start()


def stop_campaigns() -> None:
    """Kill what still runs and start nothing more (the session ends early: ``-x``, Ctrl-C)."""
    _stopping.set()
    for proc in _children:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize(
    ("harness", "mode"), sorted(CAMPAIGNS), ids=[IDS[k] for k in sorted(CAMPAIGNS)]
)
def test_bounded_fuzzing_finds_nothing(harness, mode, tmp_path):
    runs, seeds, coverage = CAMPAIGNS[harness, mode]
    start_campaigns([(harness, mode)], tmp_path)  # when the session did not start it
    seeded, out, work = _started[harness, mode].result()[harness, mode]
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert len(list((work / "corpus").iterdir())) >= seeds
    crashes = sorted(p for kind in ("crash", "timeout", "oom") for p in work.glob(f"{kind}-*"))
    assert out.returncode == 0 and not crashes, (
        f"the fuzzer found something ({[str(c) for c in crashes]}):\n{out.stderr[-6000:]}"
    )
    assert f"Done {runs} runs" in out.stderr, out.stderr[-3000:]
    reached = max(int(c) for c in re.findall(r" cov: (\d+)", out.stderr))
    assert reached >= coverage, f"coverage {reached} < {coverage}: is rgbtask instrumented?"
