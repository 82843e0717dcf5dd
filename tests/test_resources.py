"""Resources: decode memory per pixel, lookup tables (lazy, shared, never rebuilt, never pickled),
the Numba cache in every install situation, and NUMBA_DISABLE_JIT=1 giving the same results.

Memory is measured, not timed: every assertion here is deterministic. The peak figures for large
inputs (a 4K image, 64 x 512x512) come from ``python benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import gc
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest

import rgbtask
from rgbtask import curves
from rgbtask.codecs import depth as depth_codecs
from rgbtask.codecs import masks as mask_codecs
from rgbtask.core import _jit
from rgbtask.registry import get_codec_class
from rgbtask.samples import make_scene, spread_keypoints
from rgbtask.testing import registered_examples

JIT = os.environ.get("NUMBA_DISABLE_JIT") != "1"
needs_jit = pytest.mark.skipif(not JIT, reason="needs compiled kernels (NUMBA_DISABLE_JIT=1)")
KiB, MiB = 1024, 2**20
#: Python objects a decode creates besides its arrays (the Decoded tuple, views, futures, ...).
SLACK = 64 * KiB
PACKAGE = Path(rgbtask.__file__).resolve().parent


def traced_peak(fn) -> tuple[int, object]:
    """tracemalloc's peak during ``fn()`` (NumPy buffers and Numba's kernel arrays are traced)."""
    gc.collect()
    tracemalloc.start()
    try:
        result = fn()
        return tracemalloc.get_traced_memory()[1], result
    finally:
        tracemalloc.stop()


def run_python(code: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def medium_scene():
    return make_scene(height=256, width=256, seed=1)


# ---------------------------------------------------------------- decode memory per pixel
#
# Bytes per RGB pixel that a warm ``decode_with_confidence`` allocates. The RGB input is read in
# place (it is already C-contiguous, native uint8 or float32), so no term for it; the outputs are
# value + confidence (float32, 4) + valid (bool, 1); and what the codec allocates on the way:
#
# normals/xyz      17 = float32 xyz 12 + confidence 4 + valid 1
# depth/*           9 = float32 depth 4 + confidence 4 + valid 1 (8-bit and float input alike)
# mask/palette      6 = labels in label_dtype (uint8 here; the kernel writes them directly) 1 +
#                       confidence 4 + valid 1
# mask/instance     9 = int32 labels 4 + confidence 4 + valid 1
# mask/panoptic     9 = int32 ids 4 + confidence 4 (np.ones) + valid 1 (np.ones)
# mask/binary       6 = uint8 labels 1 + confidence 4 + valid 1
# keypoints        16 per pixel of ONE image per kernel thread: peaks_kernel's float64 value plane
#                       and int64 id plane, allocated once per row chunk; plus, per image, the
#                       candidates (cap x 4 float64) and strongest()'s temporaries (live bool and
#                       int64 ids per candidate, (K, cap) bool x 2 and float64): cap * (41 + 10 K)
BYTES_PER_PIXEL = {
    "normals/xyz": 17,
    "depth/cubewalk": 9,
    "depth/colormap": 9,
    "mask/palette": 6,
    "mask/instance": 9,
    "mask/panoptic": 9,
    "mask/binary": 6,
    "keypoints/heatmap": 0,
}
MEMORY_CASES = [
    ("normals/xyz", "uint8"),
    ("normals/xyz", "float32"),
    ("depth/cubewalk", "uint8"),
    ("depth/cubewalk", "float32"),
    ("depth/colormap", "uint8"),
    ("mask/palette", "uint8"),
    ("mask/instance", "uint8"),
    ("mask/panoptic", "uint8"),
    ("mask/binary", "uint8"),
    ("keypoints/heatmap", "uint8"),
]
K_KEYPOINTS = 17


def _medium_input(name: str, scene, n_img: int | None):
    """(codec, RGB) for a 256x256 image (``n_img`` None) or a batch of ``n_img`` of them."""
    if name == "keypoints/heatmap":
        codec = rgbtask.get_codec(
            name, size=scene.shape, num_keypoints=K_KEYPOINTS, max_instances=1
        )
        kp = spread_keypoints(np.random.default_rng(0), n_img or 1, K_KEYPOINTS, scene.shape)
        return codec, codec.encode(kp if n_img else kp[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ADE20K's known colour collision
        codec, values = next(iter(get_codec_class(name).examples(scene)))
    rgb = codec.encode(values[0])
    if n_img:
        rgb = np.ascontiguousarray(np.broadcast_to(rgb, (n_img, *rgb.shape)))
    return codec, rgb


def decode_bound(name: str, rgb: np.ndarray) -> int:
    """The documented bound (bytes) on a warm decode's traced peak, from BYTES_PER_PIXEL."""
    n_img = int(np.prod(rgb.shape[:-3], dtype=np.int64))
    pixels = n_img * rgb.shape[-3] * rgb.shape[-2]
    bound = BYTES_PER_PIXEL[name] * pixels + SLACK
    if name in ("mask/palette", "mask/instance"):
        # the default decoder="context" (codecs.masks.context_decode + core.mask_context.resolve),
        # counting every allocation as if none were freed: nearest_color's rows int32 4 + conf 4 +
        # valid 1, the rejected mask 1, resolve's out int32 4, the re-decided conf: compare 1 +
        # float32 4, _decode's valid 3 (two comparisons and their AND), labels 4 + cast 1 and
        # conf 4 = 31 per pixel; per pixel of ONE image (resolve works image by image): the rows
        # of the 8-bit box means (computed near off-code pixels only) 4, their float copy for
        # float input; resolve's scratch (16 per pixel) is kept per thread for the last shape
        # up to 1080p,
        # so a warm decode allocates none of it
        bound = 31 * pixels + 12 * rgb.shape[-3] * rgb.shape[-2] + SLACK
    if name == "keypoints/heatmap":
        chunks = min(_jit.num_threads(), n_img)
        cap = max(64, 8 * K_KEYPOINTS * 1)
        bound += 16 * chunks * rgb.shape[-3] * rgb.shape[-2] + n_img * cap * (41 + 10 * K_KEYPOINTS)
    return bound


@needs_jit
@pytest.mark.parametrize("n_img", [None, 8], ids=["256x256", "8x256x256"])
@pytest.mark.parametrize("name, dtype", MEMORY_CASES, ids=[f"{n}-{d}" for n, d in MEMORY_CASES])
def test_warm_decode_memory_is_bounded_per_pixel(name, dtype, n_img, medium_scene):
    """The traced peak of a warm decode is at most BYTES_PER_PIXEL (derived above, per codec
    family, from what ``_decode`` allocates) times the pixels, plus SLACK; and at least the
    outputs themselves (so the measure sees the arrays at all)."""
    codec, rgb = _medium_input(name, medium_scene, n_img)
    if dtype == "float32":
        rgb = (rgb / np.float32(255.0)).astype(np.float32)
    codec.decode_with_confidence(rgb)  # warm: kernels compiled, tables filled
    peak, out = traced_peak(lambda: codec.decode_with_confidence(rgb))
    outputs = sum(a.nbytes for a in out)
    bound = decode_bound(name, rgb)
    assert outputs <= peak <= bound, (
        f"{name} {dtype} {rgb.shape}: peak {peak / MiB:.2f} MiB, bound {bound / MiB:.2f} MiB, "
        f"outputs {outputs / MiB:.2f} MiB"
    )


# ---------------------------------------------------------------- lookup tables: lazy


def test_import_and_construction_build_no_table():
    """``import rgbtask`` loads no codec module (nor Numba); building every codec of every
    registered example builds no lookup table."""
    code = """
        import json, sys, warnings
        import rgbtask
        imported = sorted(m for m in ("numba", "rgbtask.curves", "rgbtask.codecs.depth",
                                      "rgbtask.codecs.masks") if m in sys.modules)
        from rgbtask.registry import get_codec_class
        from rgbtask.samples import make_scene
        scene = make_scene(height=12, width=16, seed=0)
        warnings.simplefilter("ignore")
        built = [c for n in rgbtask.list_codecs() for c, _ in get_codec_class(n).examples(scene)]
        from rgbtask import curves
        from rgbtask.codecs import depth, keypoints, masks
        print(json.dumps({"imported": imported, "codecs": len(built),
                          "tables": [len(curves._LUTS), len(depth._TABLES),
                                     len(depth._ENCODE_TABLES), len(masks._tables)]}))
    """
    out = json.loads(run_python(code, dict(os.environ)).stdout)
    assert out["imported"] == []
    assert out["codecs"] >= len(rgbtask.list_codecs())
    assert out["tables"] == [0, 0, 0, 0]


@needs_jit
def test_encode_and_float_decode_build_no_decode_table(cold_tables):
    """Only an 8-bit decode needs a 2^24 table: encoding and float decoding build none."""
    scene = make_scene(height=12, width=16, seed=0)
    for codec, values in registered_examples(scene):
        rgb = codec.encode(values[0])
        codec.decode_with_confidence(rgb / float(np.iinfo(rgb.dtype).max))
    assert (len(curves._LUTS), len(depth_codecs._TABLES), len(mask_codecs._tables)) == (0, 0, 0)


# ---------------------------------------------------------------- lookup tables: shared


@needs_jit
def test_depth_tables_are_shared(cold_tables):
    """Equal codecs share every table; codecs on the same curve share its 2^24 LUT and keep
    only their own small depth-per-index table."""
    scene = make_scene(height=32, width=32, seed=0)
    a = rgbtask.get_codec("depth/cubewalk")
    b = rgbtask.get_codec({"name": "depth/cubewalk"})
    c = rgbtask.get_codec("depth/cubewalk", transform="log", near=0.5, far=20.0)
    rgb = a.encode(scene.depth)
    a.decode(rgb)
    (lut,) = curves._LUTS.values()
    (table,) = depth_codecs._TABLES.values()
    b.decode(rgb)
    c.decode(c.encode(scene.depth))
    assert len(curves._LUTS) == 1 and next(iter(curves._LUTS.values())) is lut
    assert len(depth_codecs._TABLES) == 2 and table in depth_codecs._TABLES.values()
    assert curves.decode_lut(c.curve_obj()) is lut


@needs_jit
def test_mask_tables_are_shared(cold_tables):
    """One table per (palette colours, space, reject, ignore): a named palette and the same
    colours given as a list, and every instance of either, use the very same table."""
    scene = make_scene(height=32, width=32, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        named = rgbtask.get_codec("mask/palette", decoder="pixel", palette="ade20k")
        listed = rgbtask.get_codec("mask/palette", decoder="pixel", palette=named.colors.tolist())
        again = rgbtask.get_codec("mask/palette", decoder="pixel")
    rgb = named.encode(scene.semantic)
    expected = named.decode_with_confidence(rgb).value
    (table,) = mask_codecs._tables.values()
    assert np.array_equal(named.decode(rgb), expected)  # decode: the labels-only table
    (label_table,) = mask_codecs._label_tables.values()
    for codec in (listed, again):
        assert np.array_equal(codec.decode_with_confidence(rgb).value, expected)
        assert np.array_equal(codec.decode(rgb), expected)
    assert len(mask_codecs._tables) == 1 and next(iter(mask_codecs._tables.values())) is table
    assert len(mask_codecs._label_tables) == 1
    assert next(iter(mask_codecs._label_tables.values())) is label_table


# ---------------------------------------------------------------- lookup tables: never rebuilt


def _tables_now(task: str) -> list:
    return list(curves._LUTS.values()) if task == "depth" else list(mask_codecs._tables.values())


@needs_jit
@pytest.mark.parametrize(
    "name", ["depth/cubewalk", "depth/colormap", "mask/palette", "mask/instance"]
)
def test_later_decodes_allocate_no_table(name, cold_tables):
    """The first 8-bit decodes create the table (64 or 128 MiB of address space, mapped outside
    NumPy's allocator, so tracemalloc does not see it); later ones, and one of an image with new
    colours, allocate only their outputs, and the table is the same object."""
    scene = make_scene(height=64, width=64, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec, values = next(iter(get_codec_class(name).examples(scene)))
    rgb = codec.encode(values[0])
    rng = np.random.default_rng(0)
    noisy = np.clip(rgb + rng.normal(0, 3, rgb.shape), 0, 255).astype(np.uint8)
    table_bytes = 1 << 24 << (2 if codec.task == "depth" else 3)
    assert _tables_now(codec.task) == []
    codec.decode_with_confidence(rgb)
    # a palette's context decoder builds its candidate grid at its first off-code image (a
    # lossless one never reaches the context kernels): one image of other noise first
    off_code = np.clip(rgb + np.random.default_rng(1).normal(0, 3, rgb.shape), 0, 255)
    codec.decode_with_confidence(off_code.astype(np.uint8))
    tables = _tables_now(codec.task)
    lut = tables[0][0] if codec.task == "depth" else tables[0]
    assert len(tables) == 1 and lut.nbytes == table_bytes
    for image in (rgb, noisy, rgb):
        peak, _ = traced_peak(lambda image=image: codec.decode_with_confidence(image))
        assert peak <= decode_bound(name, image) and peak < table_bytes // 100
        now = _tables_now(codec.task)
        assert len(now) == 1 and now[0] is tables[0]


@needs_jit
def test_pickled_codecs_carry_no_table(cold_tables):
    """Pickling a codec whose tables are warm ships its config only (< 1 KiB), and the
    unpickled codec decodes identically."""
    scene = make_scene(height=12, width=16, seed=0)
    for codec, values in registered_examples(scene):
        rgb = codec.encode(values[0])
        before = codec.decode_with_confidence(rgb)
        blob = pickle.dumps(codec)
        assert len(blob) < 1024, f"{codec!r}: {len(blob)} bytes"
        clone = pickle.loads(blob)
        assert clone == codec
        for x, y in zip(clone.decode_with_confidence(rgb), before):
            assert np.array_equal(x, y, equal_nan=x.dtype.kind == "f")


# ---------------------------------------------------------------- lookup tables: resident memory


def _rss() -> int:
    text = Path("/proc/self/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", text).group(1)) * KiB


linux_only = pytest.mark.skipif(
    not Path("/proc/self/smaps").exists(), reason="reads /proc/self (Linux)"
)


def _typical_image(name: str):
    scene = make_scene(height=128, width=128, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        codec, values = next(iter(get_codec_class(name).examples(scene)))
    return codec, codec.encode(values[0])


@needs_jit
@linux_only
@pytest.mark.parametrize("name", ["depth/cubewalk", "mask/palette"])
def test_tables_commit_pages_only_for_colours_seen(name, cold_tables):
    """The design: a zeroed 2^24 table costs no memory until a colour is decoded, then one 4 KiB
    page per colour at most, whatever the system's transparent-huge-page setting (the tables
    opt out of huge pages; see the next test)."""
    codec, rgb = _typical_image(name)
    colours = np.unique(rgb.reshape(-1, 3), axis=0).shape[0]
    codec.decode(np.ascontiguousarray(rgb[:2, :2]))  # kernels compiled; then a cold table
    curves._LUTS.clear()
    rgbtask.clear_tables()
    gc.collect()
    before = _rss()
    out = codec.decode_with_confidence(rgb)
    del out
    gc.collect()
    committed = _rss() - before
    assert committed <= colours * 4 * KiB + 512 * KiB, f"{committed / MiB:.1f} MiB"


def _mapping_of(address: int) -> dict[str, str]:
    """The /proc/self/smaps fields of the mapping that holds ``address``."""
    fields: dict[str, str] = {}
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        head = re.match(r"^([0-9a-f]+)-([0-9a-f]+) ", line)
        if head:
            if inside:
                break
            inside = int(head.group(1), 16) <= address < int(head.group(2), 16)
        elif inside:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


@needs_jit
@linux_only
@pytest.mark.parametrize("name", ["depth/cubewalk", "mask/palette"])
def test_tables_are_not_backed_by_huge_pages(name, cold_tables):
    """A lazily filled table must commit 4 KiB pages, not 2 MiB ones: its mapping is not
    eligible for transparent huge pages (smaps ``THPeligible: 0``), whatever the system setting."""
    codec, rgb = _typical_image(name)
    if codec.task != "depth":  # the per-pixel decoder's decode() reads the labels-only table
        codec = type(codec).from_config({**codec.get_config(), "decoder": "pixel"})
    codec.decode_with_confidence(rgb)
    codec.decode(rgb)
    (table,) = _tables_now(codec.task)
    luts = [table[0]] if codec.task == "depth" else [table, *mask_codecs._label_tables.values()]
    assert len(luts) == (1 if codec.task == "depth" else 2)
    for lut in luts:
        fields = _mapping_of(lut.ctypes.data + lut.nbytes // 2)
        assert fields, "table mapping not found in /proc/self/smaps"
        assert fields.get("THPeligible") == "0", fields.get("VmFlags")


# ---------------------------------------------------------------- the Numba cache

CACHE_PROBE = """
    import json, sys
    import numpy as np
    import rgbtask
    from rgbtask.core import normals as kernels
    codec = rgbtask.get_codec("normals/xyz")
    n = np.random.default_rng(0).normal(size=(5, 7, 3))
    rgb = codec.encode(n)
    dec = codec.decode_with_confidence(rgb)
    np.savez(sys.argv[1], rgb=rgb, value=dec.value, confidence=dec.confidence, valid=dec.valid)
    stats = [kernels.encode_kernel.stats, kernels.decode_kernel.stats]
    print(json.dumps({
        "file": rgbtask.__file__,
        "hits": sum(sum(s.cache_hits.values()) for s in stats),
        "misses": sum(sum(s.cache_misses.values()) for s in stats),
        "paths": [s.cache_path for s in stats],
    }))
"""


def _probe(tmp_path: Path, run: int, env: dict[str, str]) -> dict:
    out_file = tmp_path / f"probe{run}.npz"
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(CACHE_PROBE), str(out_file)],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,  # not the checkout: "" heads sys.path under -c
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    assert "no writable Numba cache location" not in out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    # the kernels' results equal this (compiled) process's
    codec = rgbtask.get_codec("normals/xyz")
    rgb = codec.encode(np.random.default_rng(0).normal(size=(5, 7, 3)))
    dec = codec.decode_with_confidence(rgb)
    with np.load(out_file) as got:
        assert np.array_equal(got["rgb"], rgb)
        for key, want in zip(("value", "confidence", "valid"), dec):
            assert np.array_equal(got[key], want, equal_nan=want.dtype.kind == "f")
    return result


def _assert_compiled_then_loaded(tmp_path: Path, env: dict[str, str], where: Path) -> dict:
    """First process: compiles (misses, no hits) and writes its index under ``where``; second
    process with the same environment: loads every kernel from there (hits, no misses)."""
    first = _probe(tmp_path, 1, env)
    assert first["misses"] >= 2 and first["hits"] == 0, first
    assert all(Path(p).is_relative_to(where) for p in first["paths"]), first
    assert any(p.suffix == ".nbi" for p in where.rglob("*")), "no cache index written"
    second = _probe(tmp_path, 2, env)
    assert second["hits"] >= 2 and second["misses"] == 0, second
    return second


@needs_jit
def test_numba_cache_dir_is_written_then_loaded(tmp_path):
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    _assert_compiled_then_loaded(tmp_path, env, tmp_path / "numba")


@pytest.fixture
def read_only_install(tmp_path):
    """A copy of the package where Numba's in-tree cache (``__pycache__`` beside the sources)
    cannot be created, even by root: each ``__pycache__`` is a regular file."""
    site = tmp_path / "site"
    shutil.copytree(PACKAGE, site / "rgbtask", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in [site / "rgbtask", *(site / "rgbtask").rglob("*")]:
        if folder.is_dir() and any(folder.glob("*.py")):
            (folder / "__pycache__").write_text("not a directory\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(
        PYTHONPATH=os.pathsep.join([str(site), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
        HOME=str(tmp_path / "home"),
        XDG_CACHE_HOME=str(tmp_path / "xdg"),
    )
    return site, env


@needs_jit
@pytest.mark.parametrize("where", ["NUMBA_CACHE_DIR", "user-wide"])
def test_read_only_install_caches_elsewhere(where, read_only_install, tmp_path):
    """With the in-tree location unusable, Numba caches under NUMBA_CACHE_DIR when it is set,
    else in the user-wide cache ($XDG_CACHE_HOME/numba); a second process loads from there."""
    site, env = read_only_install
    if where == "NUMBA_CACHE_DIR":
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba")
        target = tmp_path / "numba"
    else:
        target = tmp_path / "xdg" / "numba"
    second = _assert_compiled_then_loaded(tmp_path, env, target)
    assert Path(second["file"]).is_relative_to(site), second["file"]
    assert not any(p.suffix in (".nbi", ".nbc") for p in site.rglob("*"))


# ---------------------------------------------------------------- NUMBA_DISABLE_JIT=1

EXAMPLES_SCRIPT = """
import warnings
import numpy as np
import rgbtask
from rgbtask.registry import get_codec_class
from rgbtask.samples import make_scene

def run_examples():
    scene = make_scene(height=12, width=16, seed=0)
    arrays = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in rgbtask.list_codecs():
            for i, (codec, values) in enumerate(get_codec_class(name).examples(scene)):
                if codec.task == "depth" and getattr(codec, "bits", 8) == 16 and codec.levels > 65536:
                    continue  # a long 16-bit curve's code hash takes minutes as Python (gray16 stays)
                for j, value in enumerate(values):
                    key = f"{name}|{i}|{j}"
                    rgb = codec.encode(value)
                    arrays[key + "|encode"] = rgb
                    if np.asarray(value).dtype.kind == "f":  # float32 values: no float64 slip
                        value32 = np.asarray(value, dtype=np.float32)
                        arrays[key + "|encode32"] = codec.encode(value32)
                    full = float(np.iinfo(rgb.dtype).max)
                    images = {
                        "int": rgb,
                        "float64": rgb / full,
                        "float32": (rgb / full).astype(np.float32),
                        "noisy float32": np.clip(
                            rgb / full + np.random.default_rng(j).normal(0, 0.01, rgb.shape), 0, 1
                        ).astype(np.float32),
                    }
                    if rgb.dtype == np.uint8:
                        images["uint16"] = rgb.astype(np.uint16) * np.uint16(257)
                    for kind, image in images.items():
                        out = codec.decode_with_confidence(image)
                        for field, array in zip(out._fields, out):
                            arrays[f"{key}|{kind}|{field}"] = np.asarray(array)
    return arrays
"""


@needs_jit
def test_disable_jit_gives_identical_results(tmp_path):
    """Every registered codec's examples on a tiny scene, encoded (float64 and float32 values)
    and decoded from 8-bit, 16-bit, float64, float32 and noisy float32 RGB, with the kernels run
    as plain Python (NUMBA_DISABLE_JIT=1) in a subprocess: exactly the arrays the compiled
    kernels give here. (float32 used to differ: a NumPy float32 scalar stays float32 against a
    Python float, so the Python fallback computed in float32.)"""
    out_file = tmp_path / "nojit.npz"
    code = EXAMPLES_SCRIPT + f"\nnp.savez({str(out_file)!r}, **run_examples())\n"
    run_python(code, {**os.environ, "NUMBA_DISABLE_JIT": "1"}, timeout=300)
    namespace: dict = {}
    exec(EXAMPLES_SCRIPT, namespace)
    expected = namespace["run_examples"]()
    with np.load(out_file) as got:
        assert sorted(got.files) == sorted(expected)
        codecs_seen = {key.split("|")[0] for key in expected}
        assert codecs_seen == set(rgbtask.list_codecs())
        for key, want in expected.items():
            have = got[key]
            assert have.dtype == want.dtype and have.shape == want.shape, key
            assert np.array_equal(have, want, equal_nan=want.dtype.kind == "f"), key


# ---------------------------------------------------------------- lookup tables: bounded


@needs_jit
def test_table_caches_are_bounded_and_keep_the_most_recent(cold_tables):
    """Every cache is bounded (docs/hardening.md): decoding with more curves or palettes than
    a cache holds drops the least recently used, and ``rgbtask.clear_tables`` drops them all."""
    rgb = np.random.default_rng(0).integers(0, 256, (4, 4, 3), dtype=np.uint8)
    points = [[[0, 0, 0], [1, 0, 0], [1, 1, k / 10]] for k in range(10)]
    curve_codecs = [rgbtask.get_codec("depth/curve", curve=p, near=1, far=2) for p in points]
    for codec in curve_codecs:
        codec.decode(rgb)
    assert len(curves._LUTS) == curves._LUTS.max_entries == 8
    newest = [c.curve_obj().key for c in curve_codecs[-8:]]
    assert all(key in curves._LUTS for key in newest)
    curve_codecs[2].decode(rgb)  # the oldest kept: now the most recently used
    curve_codecs[0].decode(rgb)  # built again, dropping the least recently used (curve 3)
    assert curve_codecs[2].curve_obj().key in curves._LUTS
    assert curve_codecs[3].curve_obj().key not in curves._LUTS
    assert curve_codecs[0].curve_obj().key in curves._LUTS
    palettes = [
        rgbtask.get_codec("mask/palette", decoder="pixel", palette="distinct", num_classes=k)
        for k in range(3, 9)
    ]
    for codec in palettes:
        codec.decode_with_confidence(rgb)
        codec.decode(rgb)
    assert len(mask_codecs._tables) == 4
    assert len(mask_codecs._label_tables) == len(mask_codecs._fine_cells) == 4
    assert len(mask_codecs._grids) == 8  # need 1 and 2 for the 4 most recent palettes
    rgbtask.clear_tables()
    assert (len(curves._LUTS), len(depth_codecs._TABLES), len(mask_codecs._tables)) == (0, 0, 0)
    assert len(mask_codecs._label_tables) == len(mask_codecs._grids) == 0


def test_huge_pages_are_an_opt_in(monkeypatch):
    """``RGBTASK_HUGE_PAGES=1`` gives NumPy's allocation back (huge pages where the system has
    them); by default the tables are their own mappings, opted out of huge pages."""
    import mmap

    from rgbtask.core._tables import lazy_zeros

    def mapped(array) -> bool:  # np.frombuffer(mmap) holds a memoryview of the mapping
        return isinstance(getattr(array.base, "obj", array.base), mmap.mmap)

    monkeypatch.delenv("RGBTASK_HUGE_PAGES", raising=False)
    default = lazy_zeros(1 << 20, np.uint32)
    assert mapped(default) or not hasattr(mmap, "MAP_ANONYMOUS")
    assert default.flags.writeable and not default.any()
    monkeypatch.setenv("RGBTASK_HUGE_PAGES", "1")
    opted = lazy_zeros(1 << 20, np.uint32)
    assert not mapped(opted) and opted.shape == (1 << 20,) and not opted.any()
