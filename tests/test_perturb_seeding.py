"""Perturbations use the generator they are given, and only the random ones use it.

For every perturbation kind: two different generators give different noise where the kind is random
(``Noise``, and any chain holding it) and the same output where it is not; the same seed gives the
same output; the random draw is exactly the documented one (``rng.normal(scale=sigma / 255)`` over
the image's shape), so a perturbation that re-seeds itself (always seed 0) or draws from the global
NumPy state is caught.
"""

from __future__ import annotations

import numpy as np
import pytest

from rgbtask.fidelity import evaluate
from rgbtask.fidelity.perturb import (
    JPEG,
    PNG,
    Blur,
    Chain,
    ChannelShift,
    Identity,
    Noise,
    Quantize8,
    Resize,
    WebP,
    parse_perturbation,
)


def _image(dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(2024)
    img = rng.integers(30, 220, size=(2, 12, 16, 3))  # a batch of two, away from the clip limits
    if dtype == np.uint8:
        return img.astype(np.uint8)
    if dtype == np.uint16:
        return (img * 257).astype(np.uint16)
    return img / 255.0


RANDOM = [
    Noise(2.0),
    Noise(0.5),
    parse_perturbation("noise:sigma=3"),
    Chain(Blur(1.0), Noise(2.0)),
    Chain(Noise(2.0), Quantize8()),
    parse_perturbation("resize:scale=0.5+noise:sigma=2+jpeg:q=95"),
]
DETERMINISTIC = [
    Identity(),
    JPEG(90),
    JPEG(75, "4:2:0"),
    WebP(90),
    WebP(lossless=True),
    PNG(),
    Blur(1.0),
    Resize(0.5),
    Resize(0.5, "nearest"),
    Quantize8(),
    ChannelShift(),
    Chain(Resize(0.5), JPEG(90)),
]


def _ids(perts):
    return [p.label for p in perts]


def test_every_kind_is_covered():
    kinds = {p.kind for p in RANDOM + DETERMINISTIC}
    kinds |= {s.kind for p in RANDOM + DETERMINISTIC if isinstance(p, Chain) for s in p.steps}
    expected = {"none", "jpeg", "webp", "png", "noise", "blur", "resize", "quantize8", "shift"}
    assert expected <= kinds


@pytest.mark.parametrize("pert", RANDOM, ids=_ids(RANDOM))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_random_kinds_follow_the_generator(pert, dtype):
    img = _image(dtype)
    a1 = pert(img, np.random.default_rng(1))
    a2 = pert(img, np.random.default_rng(1))
    b = pert(img, np.random.default_rng(2))
    assert np.array_equal(a1, a2), "same seed, different output"
    assert not np.array_equal(a1, b), "different generators, same output: generator ignored"


@pytest.mark.parametrize("pert", RANDOM, ids=_ids(RANDOM))
def test_random_kinds_draw_from_the_given_generator(pert):
    img = _image()
    rng = np.random.default_rng(7)
    first = pert(img, rng)
    second = pert(img, rng)  # the stream moved on: a re-seeded generator would repeat itself
    assert not np.array_equal(first, second)
    # and nothing comes from NumPy's global state
    saved = np.random.get_state()  # noqa: NPY002 (the legacy global state is what is tested)
    try:
        np.random.seed(0)  # noqa: NPY002
        x = pert(img, np.random.default_rng(3))
        np.random.seed(1)  # noqa: NPY002
        y = pert(img, np.random.default_rng(3))
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    assert np.array_equal(x, y)


@pytest.mark.parametrize("sigma", [0.5, 2.0, 8.0])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_noise_is_the_documented_draw(sigma, dtype):
    img = _image(dtype)
    scale = {np.uint8: 255.0, np.uint16: 65535.0, np.float64: 1.0}[dtype]
    expected = np.random.default_rng(11).normal(scale=sigma / 255.0, size=img.shape)
    expected = np.clip(img.astype(np.float64) / scale + expected, 0.0, 1.0)
    got = Noise(sigma)(img, np.random.default_rng(11))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_noise_without_a_generator_is_seed_zero():
    img = _image()
    np.testing.assert_array_equal(Noise(2.0)(img), Noise(2.0)(img, np.random.default_rng(0)))


@pytest.mark.parametrize("pert", DETERMINISTIC, ids=_ids(DETERMINISTIC))
def test_deterministic_kinds_ignore_the_generator(pert):
    img = _image()
    a = pert(img, np.random.default_rng(1))
    b = pert(img, np.random.default_rng(2))
    assert np.array_equal(a, b)
    rng = np.random.default_rng(5)
    before = rng.bit_generator.state
    pert(img, rng)
    assert rng.bit_generator.state == before, "a deterministic perturbation drew random numbers"


def test_evaluate_seed_reaches_the_noise():
    depth = np.linspace(0.5, 10.0, 16 * 16).reshape(16, 16)
    samples = {"ramp": depth}

    def run(seed):
        codec = {"name": "depth/gray", "near": 0.5, "far": 10.0}
        rows = evaluate(codec, samples, ["noise:sigma=4"], seed=seed, progress=False)
        return rows[0]["abs_rel"]

    assert run(0) == run(0)
    assert run(0) != run(1)
