"""Transforms: forward/inverse are inverses, monotone, kernels == NumPy references, config errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgbtask.core import depth as kernels
from rgbtask.errors import ConfigError
from rgbtask.transforms import TRANSFORMS, Transform, make_transform

CASES = [
    ("linear", 0.5, 80.0),
    ("log", 0.5, 80.0),
    ("inverse", 0.5, 80.0),
    ("power", None, None),
    ("normalized", None, None),
]


@pytest.mark.parametrize("name,near,far", CASES)
def test_inverse_undoes_forward_and_is_monotone(name, near, far):
    tr = make_transform(name, near, far, -3.0, 10 / 3, "depth/x")
    f = np.linspace(0.0, 0.999, 1001)
    d = tr.inverse(f)
    assert np.all(np.diff(d) > 0)
    np.testing.assert_allclose(tr.forward(d), f, atol=1e-12)
    if name in ("linear", "log", "inverse"):
        assert d[0] == pytest.approx(near) and tr.inverse(1.0) == pytest.approx(far)
    if name == "power":
        assert tr.inverse(1.0) == np.inf and tr.inverse(0.0) == 0.0


@settings(max_examples=30, deadline=None)
@given(st.sampled_from(CASES), st.integers(0, 2**32 - 1))
def test_level_kernel_matches_reference(case, seed):
    name, near, far = case
    tr = make_transform(name, near, far, -3.0, 10 / 3, "depth/x")
    rng = np.random.default_rng(seed)
    d = rng.uniform(-1, 100, 300)
    d[:4] = [0.0, np.nan, np.inf, -np.inf]
    got = kernels.levels_of(d, tr.params, 1786, tr.zero_ok)
    want = kernels.levels_reference(d, tr.params, 1786, tr.zero_ok)
    np.testing.assert_array_equal(got, want)


def test_matches_hilbertmap_transform():
    hm = pytest.importorskip("hilbertmap")
    tr = make_transform("power", None, None, -3.0, 10 / 3, "depth/x")
    d = np.geomspace(1e-3, 1e4, 500)
    np.testing.assert_array_equal(tr.forward(d), hm.depth_to_normalized(d))
    f = np.linspace(0, 0.999, 500)
    np.testing.assert_array_equal(tr.inverse(f), hm.normalized_to_depth(f))


def test_config_errors_name_the_problem():
    with pytest.raises(ConfigError, match="near and far"):
        make_transform("linear", None, None, -3.0, 1.0, "depth/hue")
    with pytest.raises(ConfigError, match="far"):
        make_transform("log", 1.0, None, -3.0, 1.0, "depth/hue")
    with pytest.raises(ConfigError, match="near < far"):
        make_transform("log", 0.0, 1.0, -3.0, 1.0, "depth/hue")
    with pytest.raises(ConfigError, match="transform in"):
        make_transform("sqrt", 1.0, 2.0, -3.0, 1.0, "depth/hue")
    with pytest.raises(ConfigError, match="no near/far"):
        make_transform("power", 1.0, 2.0, -3.0, 1.0, "depth/hue")
    with pytest.raises(ConfigError, match="lam"):
        make_transform("power", None, None, -0.5, 1.0, "depth/hue")


# ---------------------------------------------------------------- the classes describe themselves
def test_registry_maps_names_to_classes_with_distinct_kinds():
    assert list(TRANSFORMS) == [
        "linear",
        "log",
        "inverse",
        "power",
        "normalized",
        "affine",
        "quantile",
    ]
    for name, cls in TRANSFORMS.items():
        assert cls.name == name and issubclass(cls, Transform)
    kinds = {
        "linear": kernels.KIND_LINEAR,
        "log": kernels.KIND_LOG,
        "inverse": kernels.KIND_INVERSE,
        "power": kernels.KIND_POWER,
        "normalized": kernels.KIND_NORMALIZED,
        "affine": kernels.KIND_NORMALIZED,  # normalised per image, then the identity
        "quantile": kernels.KIND_NORMALIZED,  # likewise (by quantiles, clipped)
    }
    assert {name: cls.kind for name, cls in TRANSFORMS.items()} == kinds
    assert len({kernels.KIND_LINEAR, kernels.KIND_LOG, kernels.KIND_INVERSE}) == 3


@pytest.mark.parametrize(
    "name,near,far,bounded,zero_ok,per_image,lo,hi",
    [
        ("linear", 0.0, 80.0, True, False, False, 0.0, 80.0),
        ("log", 0.5, 80.0, True, False, False, 0.5, 80.0),
        ("inverse", 0.5, 80.0, True, False, False, 0.5, 80.0),
        ("power", None, None, False, False, False, 0.0, np.inf),
        ("normalized", None, None, False, True, False, 0.0, 1.0),
        ("affine", None, None, False, True, True, 0.0, 1.0),
        ("quantile", None, None, False, True, True, 0.0, 1.0),
    ],
)
def test_each_transform_describes_itself(name, near, far, bounded, zero_ok, per_image, lo, hi):
    tr = make_transform(name, near, far, -3.0, 10 / 3, "depth/x")
    assert type(tr) is TRANSFORMS[name] and tr.name == name
    assert (tr.bounded, tr.zero_ok, tr.per_image) == (bounded, zero_ok, per_image)
    assert tr.decoded_range == (lo, hi)
    assert tr.params[0] == tr.kind
    d = np.array([-1.0, 0.0, 0.25, 0.7, 200.0, np.nan, np.inf])
    want_valid = np.isfinite(d) & ((d >= 0) if zero_ok and not per_image else (d > 0))
    np.testing.assert_array_equal(tr.valid(d), want_valid)
    clipped = tr.clip(d[2:5])
    if name == "power":
        np.testing.assert_array_equal(clipped, d[2:5])
    else:
        np.testing.assert_array_equal(clipped, np.clip(d[2:5], lo, hi))
    text = tr.range_text()
    assert text.endswith("or NaN where invalid")
    assert ("near, far" in text) == bounded


def test_transforms_are_cache_keys_that_differ_by_class_and_parameter():
    a = make_transform("linear", 0.5, 80.0, -3.0, 10 / 3, "depth/x")
    assert a == make_transform("linear", 0.5, 80, -3.0, 10 / 3, "depth/x")
    assert hash(a) == hash(make_transform("linear", 0.5, 80.0, -3.0, 10 / 3, "depth/x"))
    assert a != make_transform("log", 0.5, 80.0, -3.0, 10 / 3, "depth/x")
    assert a != make_transform("linear", 0.6, 80.0, -3.0, 10 / 3, "depth/x")
    assert make_transform("normalized", None, None, -3.0, 10 / 3, "d") != make_transform(
        "affine", None, None, -3.0, 10 / 3, "d"
    )


def test_affine_normalises_per_image():
    tr = make_transform("affine", None, None, -3.0, 10 / 3, "depth/x")
    d = np.stack([np.linspace(2.0, 10.0, 12).reshape(3, 4), np.full((3, 4), 5.0)])
    d[0, 0, 0] = 0.0  # invalid: metric depth 0
    rel, scale, shift = tr.normalise(d)
    np.testing.assert_allclose(scale, [10.0 - d[0].ravel()[1], 1.0])
    np.testing.assert_allclose(shift, [d[0].ravel()[1], 5.0])
    assert np.isnan(rel[0, 0, 0]) and rel[0].ravel()[1] == 0.0 and rel[0, -1, -1] == 1.0
    assert np.all(rel[1] == 0.0)
    same, none1, none2 = make_transform("power", None, None, -3.0, 10 / 3, "x").normalise(d)
    assert same is d and none1 is None and none2 is None


@pytest.mark.parametrize("bad", ["3", True, None, [1.0], float("nan")])
def test_make_transform_casts_nothing(bad):
    with pytest.raises(ConfigError, match="expected lam"):
        make_transform("power", None, None, bad, 1.0, "depth/x")
    if bad is not None:  # None means "not given" for near
        with pytest.raises(ConfigError, match="expected near"):
            make_transform("linear", bad, 2.0, -3.0, 1.0, "depth/x")


# ---------------------------------------------------------------- quantile (Marigold's normalisation)
def test_quantile_normalises_each_image_by_its_quantiles_and_clips():
    tr = make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x")
    assert (tr.low, tr.high) == (0.02, 0.98)
    # 1..100 m valid (pixel 0 is NaN): linear-interpolated quantiles 2.98 m and 98.02 m
    d = np.stack([np.arange(101.0).reshape(1, 101), np.full((1, 101), 5.0)])
    d[0, 0, 0] = np.nan  # invalid, and not counted in the quantiles
    lo, hi = tr.depths(d)
    want_lo, want_hi = np.quantile(np.arange(1.0, 101.0), [0.02, 0.98])  # 2.98 and 98.02
    np.testing.assert_allclose([lo[0], hi[0]], [want_lo, want_hi], rtol=1e-12)
    assert (lo[1], hi[1]) == (5.0, 5.0)
    rel, scale, shift = tr.normalise(d)
    np.testing.assert_allclose(scale, [want_hi - want_lo, 1.0], rtol=1e-12)
    np.testing.assert_allclose(shift, [want_lo, 5.0], rtol=1e-12)
    assert np.isnan(rel[0, 0, 0])
    assert rel[0, 0, 1] == 0.0 and rel[0, 0, 2] == 0.0  # below d_lo: clipped to 0 (Marigold clips)
    assert rel[0, 0, 99] == 1.0 and rel[0, 0, 100] == 1.0  # above d_hi: clipped to 1
    np.testing.assert_allclose(rel[0, 0, 50], (50.0 - want_lo) / (want_hi - want_lo))
    assert np.all(rel[1] == 0.0)  # constant image: scale 1, every pixel at d_lo
    raw, _, _ = tr.normalise(d, clip=False)
    assert raw[0, 0, 1] < 0.0 and raw[0, 0, 100] > 1.0
    np.testing.assert_array_equal(np.clip(raw[0, 0, 1:], 0, 1), rel[0, 0, 1:])


def test_quantile_matches_marigold_formula_on_random_depth():
    """Marigold's NearFarMetricNormalizer (torch.quantile at 2 % / 98 % of depth > 0, to [-1, 1],
    clipped), restated in NumPy and mapped from [-1, 1] to [0, 1]."""
    rng = np.random.default_rng(3)
    d = rng.uniform(0.5, 30.0, (2, 17, 23))
    d[0, :3, :4] = 0.0
    tr = make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x", low=0.05, high=0.9)
    rel, _, _ = tr.normalise(d)
    for i in range(2):
        ok = d[i] > 0
        q_min, q_max = np.quantile(d[i][ok], [0.05, 0.9])
        marigold = np.clip((d[i] - q_min) / (q_max - q_min) * 2.0 - 1.0, -1.0, 1.0)
        np.testing.assert_allclose(rel[i][ok], (marigold[ok] + 1.0) / 2.0, atol=1e-15)
        assert np.all(np.isnan(rel[i][~ok]))


def test_quantile_parameters_are_checked():
    with pytest.raises(ConfigError, match="low < high"):
        make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x", low=0.5, high=0.5)
    with pytest.raises(ConfigError, match="expected high"):
        make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x", high=1.5)
    with pytest.raises(ConfigError, match="expected low"):
        make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x", low="0.1")
    with pytest.raises(ConfigError, match="no near/far"):
        make_transform("quantile", 1.0, 2.0, -3.0, 10 / 3, "depth/x")
    for other in ("linear", "power", "affine"):
        near, far = (1.0, 2.0) if other == "linear" else (None, None)
        with pytest.raises(ConfigError, match="low/high only with transform='quantile'"):
            make_transform(other, near, far, -3.0, 10 / 3, "depth/x", low=0.1)
    a = make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x")
    assert a != make_transform("quantile", None, None, -3.0, 10 / 3, "depth/x", high=0.9)
    assert a != make_transform("affine", None, None, -3.0, 10 / 3, "depth/x")
