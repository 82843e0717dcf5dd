"""The fuzzers run bounded, seeded campaigns in CI: the image decoders (fuzz/fuzz_decoders.py) in
both modes, and the file readers (fuzz/fuzz_files.py).

With the JIT and ``NUMBA_BOUNDSCHECK=1`` (an out-of-bounds index in a kernel raises instead of
corrupting memory; its own ``NUMBA_CACHE_DIR``, since Numba's cache does not key on the flag), and
under ``NUMBA_DISABLE_JIT=1`` (atheris then instruments the kernels' branches too). A finding makes
libFuzzer write ``crash-*`` (``timeout-*`` for an input that runs over a minute, a hang;
``oom-*`` past 2 GB of memory) and exit non-zero; the test shows the input. Long campaigns and
their results: docs/hardening.md.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
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


@pytest.mark.parametrize(
    ("harness", "mode"), sorted(CAMPAIGNS), ids=[f"{h[:-3]}-{m}" for h, m in sorted(CAMPAIGNS)]
)
def test_bounded_fuzzing_finds_nothing(harness, mode, tmp_path):
    runs, seeds, coverage = CAMPAIGNS[harness, mode]
    env = {**os.environ}
    env.pop("NUMBA_DISABLE_JIT", None)
    if mode == "jit":
        env.update(NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "numba-boundscheck"))
    else:
        env["NUMBA_DISABLE_JIT"] = "1"
    corpus = tmp_path / "corpus"
    seeded = subprocess.run(
        [sys.executable, str(FUZZ / harness), "--make-corpus", str(corpus)],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert len(list(corpus.iterdir())) >= seeds
    # libFuzzer's RSS is the process's peak RSS (getrusage), which on Linux a child inherits from
    # the process that started it: a pytest process holding 2 GB of tables would trip the default
    # 2048 MB limit before the first input. The child gets 2048 MB above what it inherits.
    inherited_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    out = subprocess.run(
        [sys.executable, str(FUZZ / harness), f"-runs={runs}", "-seed=1", "-max_len=2048",
         "-timeout=60", f"-rss_limit_mb={inherited_mb + 2048}",
         f"-artifact_prefix={tmp_path}/", str(corpus)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    crashes = sorted(p for kind in ("crash", "timeout", "oom") for p in tmp_path.glob(f"{kind}-*"))
    assert out.returncode == 0 and not crashes, (
        f"the fuzzer found something ({[c.name for c in crashes]}):\n{out.stderr[-6000:]}"
    )
    assert f"Done {runs} runs" in out.stderr, out.stderr[-3000:]
    reached = max(int(c) for c in re.findall(r" cov: (\d+)", out.stderr))
    assert reached >= coverage, f"coverage {reached} < {coverage}: is rgbtask instrumented?"
