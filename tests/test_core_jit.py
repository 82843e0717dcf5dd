"""The Numba layer: cache fallbacks, threads.

NUMBA_CACHE_DIR, read-only installs (cache hits proven by the dispatchers' stats) and
NUMBA_DISABLE_JIT=1 against the compiled kernels: tests/test_resources.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import rgbtask
from rgbtask.core import _jit

ENCODE_ONE = """
import numpy as np, rgbtask
n = np.zeros((2, 2, 3)); n[..., 2] = 1
print(rgbtask.get_codec("normals/xyz").encode(n)[0, 0].tolist())
"""


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_works_when_no_cache_location_is_writable():
    # As in a read-only site-packages with an unwritable home: every Numba cache locator fails.
    code = (
        textwrap.dedent("""
        import warnings
        warnings.simplefilter("always")
        import numba.core.caching as caching
        def read_only(self):
            raise OSError("read-only file system")
        caching._CacheLocator.ensure_cache_path = read_only
    """)
        + ENCODE_ONE
    )
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[128, 128, 255]"
    if os.environ.get("NUMBA_DISABLE_JIT") != "1":  # nothing is cached, nor warned, without JIT
        assert "no writable Numba cache location" in out.stderr


def test_disable_jit_gives_the_same_codes():
    out = run_python(ENCODE_ONE, NUMBA_DISABLE_JIT="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[128, 128, 255]"


def test_run_rows_splits_and_covers_every_row(monkeypatch):
    seen = []

    def kernel(a, out, offset):
        seen.append(a.shape[0])
        out[:] = a + offset

    monkeypatch.setattr(_jit, "MIN_ROWS_PER_THREAD", 10)
    monkeypatch.setattr(_jit, "_num_threads", 3)
    a = np.arange(95)
    out = np.zeros_like(a)
    _jit.run_rows(kernel, (a, out), (1,))
    # 95 rows // 10 per thread: 3 threads; 4 chunks per thread of >= 10 // 4 rows: 12 chunks
    assert sorted(seen) == [7] * 1 + [8] * 11 and np.array_equal(out, a + 1)


def test_set_num_threads_validates():
    with pytest.raises(ValueError, match="expected a thread count >= 1"):
        _jit.set_num_threads(0)


def test_codecs_are_safe_from_many_threads():
    codec = rgbtask.get_codec("normals/xyz")
    rng = np.random.default_rng(0)
    inputs = [rng.normal(size=(64, 64 + i, 3)) for i in range(16)]
    expected = [codec.decode(codec.encode(x)) for x in inputs]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda x: codec.decode(codec.encode(x)), inputs * 4))
    for g, e in zip(got, expected * 4):
        assert np.array_equal(g, e, equal_nan=True)


_COMPILES_AFTER_WARMUP = textwrap.dedent(
    """
    import io, sys, numpy as np, numba, rgbtask
    from numba.core.registry import CPUDispatcher
    from PIL import Image
    from rgbtask.fidelity.perturb import parse_perturbation

    def signatures():
        return sum(
            len(obj.signatures)
            for name, mod in list(sys.modules.items()) if name.startswith("rgbtask")
            for obj in list(vars(mod).values()) if isinstance(obj, CPUDispatcher)
        )

    names = sys.argv[1:]
    rgbtask.warmup(*names)
    before = signatures()
    from rgbtask.samples import make_scene
    scene = make_scene(256, 256, seed=3)  # 2^16 pixels: large inputs take their own kernels
    jpeg = parse_perturbation("jpeg:q=80,sub=420")
    for name in names:
        for codec, values in rgbtask.get_codec_class(name).examples(scene):
            rgb = codec.encode(values[0])
            codec.decode_with_confidence(jpeg(rgb, np.random.default_rng(0)))
            # as read from a file: np.asarray(PIL image) is read-only, a type of its own to Numba
            if rgb.dtype == np.uint8:
                buf = io.BytesIO()
                Image.fromarray(rgb.reshape(-1, *rgb.shape[-2:])).save(buf, "JPEG", quality=90)
                codec.decode_with_confidence(np.asarray(Image.open(buf)).reshape(rgb.shape))
    print(before, signatures())
    """
)


@pytest.mark.skipif(os.environ.get("NUMBA_DISABLE_JIT") == "1", reason="nothing compiles")
def test_warmup_compiles_what_a_first_jpegd_image_needs():
    """Issue 16: kernels compiled again (keypoints: 1.7 s) on the first JPEG'd image after
    warmup(): a read-only array (np.asarray of a PIL image) and a large encode (2^16 pixels and
    more, float32 or float64) each take kernel signatures of their own."""
    names = ["keypoints/heatmap", "depth/cubewalk", "mask/palette", "normals/xyz"]
    out = subprocess.run(
        [sys.executable, "-c", _COMPILES_AFTER_WARMUP, *names],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    assert out.returncode == 0, out.stderr
    before, after = map(int, out.stdout.split())
    assert after == before, "a JPEG'd image compiled new kernel signatures after warmup()"


@pytest.mark.parametrize(
    "environ, expected",
    [
        ({"RGBTASK_NUM_THREADS": "3", "NUMBA_NUM_THREADS": "5", "OMP_NUM_THREADS": "7"}, 3),
        ({"NUMBA_NUM_THREADS": "5", "OMP_NUM_THREADS": "7"}, 5),
        ({"OMP_NUM_THREADS": "7,2"}, 7),
        ({"RGBTASK_NUM_THREADS": " ", "OMP_NUM_THREADS": "2"}, 2),
    ],
)
def test_thread_count_variables_in_order_of_precedence(environ, expected):
    assert _jit.default_num_threads(environ) == expected


def test_thread_count_default_is_the_usable_cpus():
    assert _jit.default_num_threads({}) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("text", ["0", "-1", "two", "1.5"])
def test_a_bad_thread_count_variable_says_which(text):
    with pytest.raises(
        rgbtask.ConfigError, match=f"positive integer in NUMBA_NUM_THREADS, got '{text}'"
    ):
        _jit.default_num_threads({"NUMBA_NUM_THREADS": text})


def test_numba_num_threads_sets_the_pool_size():
    out = run_python(
        "import rgbtask; print(rgbtask.num_threads())",
        NUMBA_NUM_THREADS="3",
        RGBTASK_NUM_THREADS="",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "3"


def test_public_set_num_threads_and_back_to_the_default():
    before = rgbtask.num_threads()
    try:
        rgbtask.set_num_threads(1)
        assert rgbtask.num_threads() == 1 == _jit.num_threads()
        for bad in (0, 1.5, True, "2"):
            with pytest.raises(rgbtask.ConfigError, match="expected a thread count >= 1"):
                rgbtask.set_num_threads(bad)
    finally:
        rgbtask.set_num_threads(None)
    # back to the default (not necessarily `before`: an earlier test may have set a count)
    assert rgbtask.num_threads() == _jit.default_num_threads()
    assert before >= 1


def test_the_caller_takes_the_chunks_a_busy_pool_thread_leaves(monkeypatch):
    # One chunk blocks its thread until every other chunk has run: with static halves this would
    # deadlock (the blocked thread owns half the rows); handed out one by one, the caller runs them.
    import threading

    monkeypatch.setattr(_jit, "MIN_ROWS_PER_THREAD", 8)
    monkeypatch.setattr(_jit, "_num_threads", 2)
    monkeypatch.setattr(_jit, "_pool", None)
    rows = 64
    done = []
    rest_done = threading.Event()
    callers = set()

    def kernel(a, out):
        callers.add(threading.current_thread().name)
        if a[0] == 0:
            assert rest_done.wait(10), "the other chunks did not run while chunk 0 waited"
        out[:] = a * 2
        done.append(a.shape[0])
        if sum(done) == rows - 8:  # every chunk but the first
            rest_done.set()

    a = np.arange(rows)
    out = np.zeros_like(a)
    _jit.run_rows(kernel, (a, out))
    assert np.array_equal(out, a * 2) and len(done) == 8 and len(callers) == 2


def test_read_only_inputs_share_the_writable_specialisation():
    code = """
    import numpy as np, rgbtask
    from rgbtask.core import normals
    codec = rgbtask.get_codec("normals/xyz")
    rgb = np.random.default_rng(0).integers(0, 256, (8, 8, 3)).astype(np.uint8)
    first = codec.decode_with_confidence(rgb)
    rgb.setflags(write=False)
    second = codec.decode_with_confidence(rgb)
    assert all(np.array_equal(x, y, equal_nan=True) for x, y in zip(first, second))
    print(len(getattr(normals.decode_kernel, "signatures", ())))  # none without JIT
    """
    out = run_python(code)
    assert out.returncode == 0, out.stderr
    if os.environ.get("NUMBA_DISABLE_JIT") != "1":
        assert out.stdout.strip() == "1"


@pytest.mark.parametrize("threads", [1, 2, 3])
@pytest.mark.parametrize("nan_at", [None, 0, 5000, -1])
def test_min_max_matches_numpy_over_blocks_and_threads(monkeypatch, threads, nan_at):
    monkeypatch.setattr(_jit, "MIN_MAX_BLOCK", 1000)
    monkeypatch.setattr(_jit, "_num_threads", threads)
    monkeypatch.setattr(_jit, "_pool", None)
    rng = np.random.default_rng(threads)
    for size in (1, 999, 1000, 1001, 12_345):
        a = rng.normal(size=size).astype(np.float32)
        if nan_at is not None and abs(nan_at) < size:
            a[nan_at] = np.nan
        lo, hi = _jit.min_max(a.reshape(-1, 1) if size % 2 else a)
        assert np.array_equal([lo, hi], [np.min(a), np.max(a)], equal_nan=True)
        assert lo.dtype == hi.dtype == np.float32
