"""Shared fixtures: the real data folder (skipped when absent), sample scenes, hypothesis profiles."""

from __future__ import annotations

import os
import shutil
import tempfile
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
        (masks, "_label_tables"),
        (masks, "_grids"),
        (masks, "_fine_cells"),
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


# ---------------------------------------------------------------- tiers
#: The slowest tests (a few seconds or more each, measured with ``--durations``): marked ``slow`` so
#: that ``python -m pytest -m "not slow"`` is the fast inner loop; ``python -m pytest`` runs all.
#: Node ids, or a prefix of one ending in "[" (every parametrization) or "::" (a whole class).
SLOW = (
    "tests/test_written_by_tools.py::test_max_distance_none_equals_hilbertmap_on_every_colour",
    "tests/test_written_by_tools.py::test_torch_follows_floor_and_image_convention",
    "tests/test_written_by_tools.py::test_torch_soft_decode_of_a_tool_table_agrees_with_decode",
    "tests/test_written_by_tools.py::test_torch_soft_decode_of_floor_normals_agrees_with_decode",
    "tests/test_fuzz.py::",
    "tests/test_mask_context.py::test_ade20k_maps_under_jpeg_and_noise",
    "tests/test_registry_stateful.py::TestRegistryMachine::",
    "tests/test_registry_stateful.py::test_machine_leaves_the_registry_as_it_found_it",
    "tests/test_registry_stateful.py::test_concurrent_first_lookups_agree_and_import_once",
    "tests/test_registry_stateful.py::test_concurrent_register_unregister_distinct_names",
    "tests/test_registry_stateful.py::test_replacing_a_builtin_before_its_module_is_imported",
    "tests/test_resources.py::test_disable_jit_gives_identical_results",
    "tests/test_resources.py::test_read_only_install_caches_elsewhere[",
    "tests/test_resources.py::test_numba_cache_dir_is_written_then_loaded",
    "tests/test_resources.py::test_import_and_construction_build_no_table",
    "tests/test_resources.py::test_later_decodes_allocate_no_table[",
    "tests/test_resources.py::test_warm_decode_memory_is_bounded_per_pixel[",
    "tests/test_resources.py::test_tables_commit_pages_only_for_colours_seen[",
    "tests/test_concurrency.py::test_spawned_workers_decode_exactly_what_this_process_does",
    "tests/test_concurrency.py::test_each_table_is_built_once_under_concurrent_first_use",
    "tests/test_masks.py::test_instance_decode_of_generated_style_coco_images",
    "tests/test_masks.py::test_nearest_kernels_match_reference",
    "tests/test_masks.py::test_8_bit_decode_equals_brute_force_on_random_and_tie_colours[",
    "tests/test_masks.py::test_instance_roundtrip",
    "tests/test_masks.py::test_jpeg_q90_444_targets_on_real_ade20k",
    "tests/test_masks.py::test_fine_cells_match_their_numpy_reference[",
    "tests/test_convert_real.py::",
    "tests/test_keypoints_real.py::",
    "tests/test_files.py::test_convert_reports_corrupt_inputs_and_converts_the_rest",
    "tests/test_files.py::test_convert_killed_mid_run_leaves_only_complete_outputs[",
    "tests/test_files.py::test_cli_bad_files_exit_2_with_one_line_and_no_traceback",
    "tests/test_files.py::test_jpeg_truncated_at_every_cut_point_is_refused[",
    "tests/test_files.py::test_png_truncated_at_every_cut_point_is_refused[",
    "tests/test_convert.py::test_convert_on_a_dask_local_cluster",
    "tests/test_convert.py::test_convert_writes_manifest_skips_done_and_decodes_exactly",
    "tests/test_core_jit.py::test_works_when_no_cache_location_is_writable",
    "tests/test_core_jit.py::test_disable_jit_gives_the_same_codes",
    "tests/test_core_jit.py::test_read_only_inputs_share_the_writable_specialisation",
    "tests/test_core_jit.py::test_numba_num_threads_sets_the_pool_size",
    "tests/test_depth.py::test_import_does_not_pull_matplotlib_or_numba",
    "tests/test_depth.py::test_fast_encode_path_equals_reference[",
    "tests/test_adversarial.py::test_arbitrary_images_never_decode_out_of_range[",
    "tests/test_registry.py::test_entry_point_plugin_is_found_lazily",
    "tests/test_fidelity.py::test_plots_write_pngs",
    "tests/test_fidelity.py::test_evaluate_is_tidy_seeded_and_orders_the_damage",
    "tests/test_docs.py::test_hardening_cases_are_current",
    "tests/test_convert.py::test_cli_eval_writes_table_csv_and_plot",
    "tests/test_palettes.py::test_generated_beats_ade20k_margin",
    "tests/test_files.py::test_pfm_truncated_anywhere_is_refused",
    "tests/test_depth.py::test_real_frames_lossless_within_half_step[",
    "tests/test_depth_grid.py::test_float32_and_uint16_input_through_the_grid[",
    "tests/test_depth_grid.py::test_grid_projection_is_the_brute_force_bit_for_bit[turbo16]",
    # 2 to 7 s of CPU each, warm (per-test CPU of a full run, 2026-12-02): the fast tier's largest
    "tests/test_depth16.py::test_u16_decode_kernel_equals_numpy_reference[turbo16]",
    "tests/test_torch.py::test_docs_training_examples_hold",
    "tests/test_torch.py::test_soft_decode_palette[",
    "tests/test_torch.py::test_codes_and_decode_equal_numpy",
    "tests/test_torch.py::test_fill_table_makes_every_colour_known",
    "tests/test_convert_datasets.py::test_readme_dataset_pipeline_runs",
    "tests/test_convert_datasets.py::test_batch_decode_mirrors_the_tree_and_resumes",
    "tests/test_convert_datasets.py::test_decode_to_16_bit_png_takes_the_manifests_depth_scale",
    "tests/test_flow.py::test_wheel_decode_kernel_matches_reference_on_all_codes_sampled",
    "tests/test_core_jit.py::test_warmup_compiles_what_a_first_jpegd_image_needs",
    "tests/test_flow_io.py::test_cli_convert_real_flo_files_and_decode_them_as_flo",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        nodeid = item.nodeid.replace("\\", "/")
        if any(nodeid == s or (s[-1] in "[:" and nodeid.startswith(s)) for s in SLOW):
            item.add_marker(pytest.mark.slow)


# ---------------------------------------------------------------- background campaigns
#: tests/test_fuzz.py, when the session runs any of its campaigns.
_fuzz_module = None
_fuzz_root: Path | None = None


def pytest_collection_finish(session):
    """Start the selected fuzz campaigns now, in the background (tests/test_fuzz.py): they are
    separate processes, mostly one core compiling, that run beside the rest of the suite."""
    global _fuzz_module
    if session.config.option.collectonly:
        return
    keys = []
    for item in session.items:
        if item.nodeid.replace("\\", "/").startswith("tests/test_fuzz.py::"):
            _fuzz_module = item.module
            keys.append((item.callspec.params["harness"], item.callspec.params["mode"]))
    if keys:
        global _fuzz_root
        # a folder of our own (pytest's tmp_path base is only reachable through a private
        # attribute this early), removed when the session ends
        _fuzz_root = Path(tempfile.mkdtemp(prefix="rgbtask-fuzz-campaigns-"))
        _fuzz_module.start_campaigns(keys, _fuzz_root)


def pytest_sessionfinish(session):
    if _fuzz_module is not None:
        _fuzz_module.stop_campaigns()
    if _fuzz_root is not None:
        shutil.rmtree(_fuzz_root, ignore_errors=True)
