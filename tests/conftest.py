"""Shared fixtures: the real data folder (skipped when absent), sample scenes, hypothesis profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# CI draws the same examples every run (a red CI must mean a real change, not a new random draw);
# local runs explore. HYPOTHESIS_PROFILE=thorough runs 1000 examples per property.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(
    os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "default")
)

#: Real ground truth made by others, next to the repository (never copied into it).
DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """``../shared/data``; the test is skipped when it is absent (a user's fresh clone)."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not found at {DATA_DIR.resolve()}")
    return DATA_DIR.resolve()


@pytest.fixture(scope="session")
def scene():
    """A small procedural scene, shared by the session."""
    from rgbtask.samples import make_scene

    return make_scene(height=48, width=64, seed=3)
