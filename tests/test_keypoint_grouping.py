"""Grouping peaks into people (rgbtask.codecs.keypoint_grouping): ``regroup``'s spatial
consistency (average linkage) on top of ``assemble``'s single linkage."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from rgbtask.codecs.keypoint_grouping import assemble, match_instances, regroup


def people(rng: np.random.Generator, n: int, k: int, gap: float) -> np.ndarray:
    """``n`` people of ``k`` keypoints, each within a 30 px square, the squares ``gap`` px apart
    on a row: ``(n, k, 2)``."""
    body = rng.uniform(0, 30, (n, k, 2))
    return body + np.arange(n)[:, None, None] * np.array([30 + gap, 0.0])


def candidates(kp: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rows ``(id, x, y, value)`` of every keypoint, shuffled."""
    n, k = kp.shape[:2]
    ids = np.tile(np.arange(k), n)
    rows = np.column_stack([ids, kp.reshape(-1, 2), rng.uniform(0.5, 1.0, n * k)])
    return rows[rng.permutation(len(rows))]


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 5), st.integers(2, 17))
def test_separated_people_are_grouped_exactly(seed, n, k):
    """People apart from each other (20 px between their 30 px boxes): each decoded instance is
    exactly one person, whatever the candidates' order."""
    rng = np.random.default_rng(seed)
    kp = people(rng, n, k, gap=20.0)
    xy, _ = assemble(candidates(kp, rng), k, n + 2, radius=1.0)
    order = match_instances(kp, xy)
    np.testing.assert_array_equal(xy[order[:n]], kp)
    assert np.isnan(xy[order[n:]]).all()


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**31 - 1), st.integers(2, 4), st.integers(3, 17))
def test_regroup_undoes_a_wrong_assignment(seed, n, k):
    """Keypoints of one id handed to the wrong people (a permutation): regroup gives every person
    back its own, and a second call moves nothing (1 round)."""
    rng = np.random.default_rng(seed)
    kp = people(rng, n, k, gap=20.0)
    xy = kp.copy()
    val = np.ones((n, k))
    wrong = rng.integers(0, k)
    xy[:, wrong] = xy[np.roll(np.arange(n), 1), wrong]
    rounds = regroup(xy, val)
    assert rounds >= 2
    # people are interchangeable slots: the grouping is right up to their order
    np.testing.assert_array_equal(xy[match_instances(kp, xy)], kp)
    assert regroup(xy, val) == 1


def test_overlapping_people_need_the_mean_distance():
    """Two interleaved people of 4 keypoints (a case drawn at random where it matters): single
    linkage alone (``assemble`` without ``regroup``) mixes them up, the mean distance to each
    person's other keypoints separates them."""
    import rgbtask.codecs.keypoint_grouping as grouping

    kp = np.array(
        [
            [[35, 25], [20, 7], [27, 13], [28, 18]],
            [[45, 32], [29, 23], [33, 32], [45, 40]],
        ],
        dtype=float,
    )
    cands = np.array([[k, *kp[n, k], 1.0] for n in range(2) for k in range(4)])
    xy, _ = assemble(cands, 4, 2, radius=1.0)
    np.testing.assert_array_equal(xy[match_instances(kp, xy)], kp)
    original = grouping.regroup
    try:
        grouping.regroup = lambda xy, val, **kw: 0  # single linkage alone
        naive, _ = grouping.assemble(cands, 4, 2, radius=1.0)
    finally:
        grouping.regroup = original
    assert not np.array_equal(naive[match_instances(kp, naive)], kp)
    assert regroup(naive, np.ones((2, 4))) >= 2
    np.testing.assert_array_equal(naive[match_instances(kp, naive)], kp)


def test_missing_keypoints_and_empty_instances():
    """Instances with missing keypoints and unused slots: regroup keeps NaN where nothing is and
    never moves a keypoint into an empty slot while a person can take it."""
    rng = np.random.default_rng(1)
    kp = people(rng, 3, 8, gap=25.0)
    kp[0, 2] = np.nan
    kp[2, :5] = np.nan
    xy = np.full((5, 8, 2), np.nan)
    xy[:3] = kp
    val = np.where(np.isfinite(xy[..., 0]), 1.0, 0.0)
    regroup(xy, val)
    np.testing.assert_array_equal(xy[match_instances(kp, xy)][:3], kp)
    assert np.isnan(xy[3:]).all() and (val[3:] == 0).all()
