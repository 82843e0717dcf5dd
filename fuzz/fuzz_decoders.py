"""Coverage-guided fuzzing of every decoder with atheris (libFuzzer for Python).

Run (see docs/hardening.md for the long runs and what they found)::

    pip install atheris                               # in the test extra on Linux x86_64
    NUMBA_BOUNDSCHECK=1 NUMBA_CACHE_DIR=/tmp/rgbtask-fuzz-cache \\
        python fuzz/fuzz_decoders.py -max_total_time=600 -max_len=2048 fuzz/corpus
    NUMBA_DISABLE_JIT=1 python fuzz/fuzz_decoders.py -runs=20000 fuzz/corpus

One input picks a decoder (``decode_with_confidence`` of every example configuration of every
registered codec, plus ``MaskInstance.decode_instances``), an input dtype (uint8, uint16, float in
[0, 1], raw float bits with NaN / inf / out-of-range values, float16, a dtype outside the
contract), a shape (batch dimensions, 1..12 x 1..12 pixels or the keypoint codecs' canvas, 1 to 5
channels) and a memory layout (C, Fortran, negative strides, big-endian); the rest of the bytes are
the pixels. Every decode must either raise a ``ValueError`` subclass saying what was expected, or
return a result that keeps the contract and is in range (:func:`rgbtask.testing.check_decoded`).
Anything else (another exception, a crash of the interpreter, an out-of-range value) is a finding:
libFuzzer writes the input to ``crash-<sha1>`` and exits non-zero.

Modes: with the JIT, ``NUMBA_BOUNDSCHECK=1`` makes an out-of-bounds index in a compiled kernel an
``IndexError`` instead of silent memory corruption (it needs its own ``NUMBA_CACHE_DIR``: Numba's
cache does not key on the flag); ``NUMBA_DISABLE_JIT=1`` runs the kernels as Python, so atheris
instruments their branches too and coverage guides the search inside them.

``python fuzz/fuzz_decoders.py --make-corpus DIR`` writes seed inputs (every codec's own codes)
from which the fuzzer starts.
"""

from __future__ import annotations

import os
import sys

import atheris
from _common import import_all, instrument, main, modules_of

# With the JIT on, the kernel modules stay uninstrumented (atheris would insert Python calls into
# the code Numba compiles).
_JIT = os.environ.get("NUMBA_DISABLE_JIT") != "1"
with instrument(exclude=modules_of("core") if _JIT else []):
    import numpy as np

    from rgbtask.samples import make_scene
    from rgbtask.testing import check_decoded, registered_examples

    import_all(modules_of("codecs") + modules_of("core"))

SCENE_SIZE = (10, 12)  # the keypoint codecs' canvas, from their examples on this scene


def _decoders():
    """``(name, codec, decode)`` for every decoder: every example configuration's
    ``decode_with_confidence`` and ``MaskInstance.decode_instances``."""
    out = []
    for codec, _ in registered_examples(make_scene(*SCENE_SIZE, seed=0)):
        if not _JIT and codec.task == "depth" and getattr(codec, "bits", 8) == 16:
            # a 16-bit curve's code hash (up to 458,746 levels, each projected once) takes
            # minutes as plain Python: fuzzed with the JIT on; its kernels' Python bodies run in
            # tests/test_depth16.py's reference comparisons
            continue
        out.append((repr(codec), codec, codec.decode_with_confidence))
        if hasattr(codec, "decode_instances"):
            out.append((f"{codec!r}.decode_instances", codec, codec.decode_instances))
    return out


DECODERS = _decoders()
DTYPES = ("uint8", "uint16", "float32", "float64", "raw32", "raw64", "float16", "other")
OTHER = (np.int16, np.int32, np.bool_, np.int8, np.uint32, np.complex64, np.float16)


def _array(fdp: atheris.FuzzedDataProvider, codec) -> np.ndarray:
    kind = DTYPES[fdp.ConsumeIntInRange(0, len(DTYPES) - 1)]
    batch = [fdp.ConsumeIntInRange(1, 3) for _ in range(fdp.ConsumeIntInRange(0, 2))]
    if hasattr(codec, "image_shape") and fdp.ConsumeProbability() < 0.9:
        h, w, _ = codec.image_shape  # the shape a keypoint codec accepts, most of the time
    else:
        h, w = fdp.ConsumeIntInRange(1, 12), fdp.ConsumeIntInRange(1, 12)
    channels = 3 if fdp.ConsumeProbability() < 0.9 else fdp.ConsumeIntInRange(1, 5)
    shape = (*batch, h, w, channels)
    n = int(np.prod(shape))
    layout = fdp.ConsumeIntInRange(0, 3)
    if kind == "uint8":
        raw = np.frombuffer(fdp.ConsumeBytes(n).ljust(n, b"\0"), np.uint8)
    elif kind in ("uint16", "float32", "float64", "float16"):
        raw = np.frombuffer(fdp.ConsumeBytes(2 * n).ljust(2 * n, b"\0"), "<u2")
        if kind == "float16":
            raw = raw.view(np.float16)  # any bit pattern: NaN, inf, negative, > 1
        elif kind != "uint16":
            raw = (raw / 65535.0).astype(kind)
    elif kind in ("raw32", "raw64"):
        dtype = np.dtype("<f4" if kind == "raw32" else "<f8")
        data = fdp.ConsumeBytes(dtype.itemsize * n).ljust(dtype.itemsize * n, b"\0")
        raw = np.frombuffer(data, dtype)
    else:
        dtype = OTHER[fdp.ConsumeIntInRange(0, len(OTHER) - 1)]
        raw = np.frombuffer(fdp.ConsumeBytes(n).ljust(n, b"\0"), np.uint8).astype(dtype)
    array = raw.reshape(shape)
    if layout == 1:
        array = np.asfortranarray(array)
    elif layout == 2:
        array = np.flip(np.ascontiguousarray(np.flip(array)))  # same values, negative strides
    elif layout == 3 and array.dtype.itemsize > 1:
        array = array.astype(array.dtype.newbyteorder(">"))
    return array


def _check_instances(codec, rgb: np.ndarray, result) -> None:
    """``decode_instances``: ids 0..N, one colour and score per instance, pixel fields per pixel."""
    ids = np.asarray(result.ids)
    n = int(ids.max()) if ids.size else 0
    assert ids.shape == rgb.shape[:-1] and ids.min() >= 0, (ids.shape, rgb.shape)
    assert result.colors.shape == (n, 3) and result.colors.dtype == np.uint8, result.colors.shape
    scores = np.asarray(result.scores)
    assert scores.shape == (n,) and np.all((scores >= 0) & (scores <= 1)), scores
    conf, valid = np.asarray(result.confidence), np.asarray(result.valid)
    assert conf.shape == ids.shape and valid.shape == ids.shape
    assert np.all((conf >= 0) & (conf <= 1)) and np.all(conf[~valid] == 0)
    assert np.all(ids[~valid] == 0), "a dropped pixel must be background"


def fuzz_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    name, codec, decode = DECODERS[fdp.ConsumeIntInRange(0, len(DECODERS) - 1)]
    rgb = _array(fdp, codec)
    try:
        result = decode(rgb)
    except ValueError as exc:
        if "expected" not in str(exc):
            raise AssertionError(
                f"{name}: unclear error {exc!r} for {rgb.dtype} {rgb.shape}"
            ) from exc
        return
    if name.endswith(".decode_instances"):
        _check_instances(codec, rgb, result)
    else:
        check_decoded(codec, result, f"{name} on {rgb.dtype} {rgb.shape}")


def make_corpus(directory: str) -> int:
    """Seed inputs: each decoder's index, dtype uint8/uint16, shape bytes, then its own codes."""
    os.makedirs(directory, exist_ok=True)
    count = 0
    # The decoders' configurations come from scene 0 (some examples are sized from their scene,
    # e.g. flow/uv's max_flow); their seed values from scene 1, example by example.
    configs = registered_examples(make_scene(*SCENE_SIZE, seed=0))
    values = registered_examples(make_scene(*SCENE_SIZE, seed=1))
    samples = {codec: vals[0] for (codec, _), (_, vals) in zip(configs, values)}
    for index, (_, codec, _) in enumerate(DECODERS):
        rgb = np.ascontiguousarray(codec.encode(samples[codec]))
        # The FuzzedDataProvider consumes integers from the end of the buffer, bytes from the
        # front; a seed need not decode to exactly these codes, only start near them.
        for kind in (0, 1):
            payload = rgb.astype(np.uint16).tobytes() if kind else rgb.astype(np.uint8).tobytes()
            seed = payload + bytes([0, 0, 0, 0, 0, kind, index])
            with open(os.path.join(directory, f"seed-{index:02d}-{kind}"), "wb") as f:
                f.write(seed)
            count += 1
    return count


if __name__ == "__main__":
    main(sys.argv, fuzz_one_input, make_corpus)
