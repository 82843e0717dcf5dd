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


@pytest.fixture
def cold_tables(monkeypatch):
    """Empty lookup-table caches for one test (the session's warm ones come back after it)."""
    import gc

    from rgbtask import curves
    from rgbtask.codecs import depth, masks
    from rgbtask.core._tables import TableCache

    for module, attr in (
        (curves, "_LUTS"),
        (depth, "_TABLES"),
        (depth, "_ENCODE_TABLES"),
        (masks, "_tables"),
    ):
        old = getattr(module, attr)
        monkeypatch.setattr(module, attr, TableCache(old.name, old.max_entries))
    yield
    gc.collect()


@pytest.fixture
def normals_dir(tmp_path):
    """Three normal maps as .npy files, for the convert and file tests."""
    import numpy as np

    from rgbtask.samples import make_scene

    src = tmp_path / "src"
    src.mkdir()
    for i in range(3):
        np.save(src / f"frame{i}.npy", make_scene(20, 24, seed=i).normals)
    return src
