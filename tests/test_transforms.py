"""Transforms: forward/inverse are inverses, monotone, kernels == NumPy references, config errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rgbtask.core import depth as kernels
from rgbtask.errors import ConfigError
from rgbtask.transforms import make_transform

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
