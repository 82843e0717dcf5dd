"""Convert a dataset of task files into encoded PNGs, in parallel, restartable.

``convert(inputs, out_dir, codec)`` reads every input (files or glob patterns), encodes it with the
codec and writes ``out_dir/<input stem>.png`` plus ``out_dir/manifest.json`` holding
``"codec": codec.get_config()``, so that ``rgbtask.get_codec(manifest["codec"])`` decodes the outputs
exactly. It is built for whole datasets:

* parallel over local processes by default (``workers``, default all cores), or on a Dask cluster
  with ``engine="dask"`` (``scheduler`` = the address of a running ``dask.distributed`` scheduler,
  or None for a ``LocalCluster`` on this machine); only where it runs changes;
* restartable: an output that exists is skipped, not rewritten; outputs are written to a temporary
  name (``.<name>.rgbtask-<host>-<pid>-<random>.part``), flushed and renamed, so a file under a
  final name is always complete, even after ``kill -9``; a later run into the same folder removes
  the temporary files of processes that died on this host (:func:`rgbtask.io.remove_stale_partials`)
  and leaves those of live processes and other hosts alone;
* a file that fails (missing, truncated, corrupt, wrong dtype or shape) is named with its reason,
  gets no output, and the others are still converted;
* the manifest is written before the first output and again at the end, so a folder that holds
  outputs always says which codec made them; a corrupt manifest is an error, never overwritten;
* an output folder holds one codec: a run with a different codec config into the same folder is
  refused rather than mixing two encodings.

What an input file holds is the codec's ``task_io``'s business (:class:`rgbtask.io.TaskIO`): one
sample per file for depth, masks and normals; a COCO keypoint JSON expands to one output per
annotated image (named by the image's file stem).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgbtask._progress import progress_bar
from rgbtask.errors import InputError

__all__ = ["ConvertResult", "convert", "expand_inputs"]

MANIFEST = "manifest.json"


@dataclass
class ConvertResult:
    """What a conversion did: output paths written, skipped (already there), and failures."""

    converted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    removed_partials: list[str] = field(default_factory=list)
    """Temporary files of dead earlier runs that this run deleted."""

    @property
    def ok(self) -> bool:
        return not self.failed


def expand_inputs(patterns: Iterable[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """Files named or matched by glob patterns (sorted, unique), and the patterns that matched
    nothing (as failures)."""
    files: dict[Path, None] = {}
    missing: dict[str, str] = {}
    for pattern in patterns:
        text = str(pattern)
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                missing[text] = "no file matches this pattern"
            files.update(dict.fromkeys(matches))
        elif Path(text).is_file():
            files[Path(text)] = None
        elif Path(text).is_dir():
            missing[text] = (
                f"a directory, not a file (for its files pass a glob, e.g. '{text}/**/*.png')"
            )
        else:
            missing[text] = "no such file"
    return list(files), missing


def _jobs(files: Sequence[Path], task_io: Any, out_dir: Path, depth_scale: float | None):
    """(key, output, payload) per output image (payload: what the worker encodes, from the codec's
    ``task_io``), and the inputs that failed already (a COCO JSON that does not parse)."""
    jobs, failed = [], {}
    for path in files:
        try:
            items = task_io.items(path, depth_scale)
        except InputError as exc:  # one bad annotation file fails alone
            failed[str(path)] = f"{type(exc).__name__}: {exc}"
            continue
        for key, stem, payload in items:
            jobs.append((key, out_dir / f"{stem}.png", payload))
    return jobs, failed


def _convert_one(job: tuple[str, str, dict[str, Any], dict[str, Any]]) -> tuple[str, str | None]:
    """Worker: encode one input and write its PNG. Returns (key, None) or (key, error message)."""
    key, out, config, payload = job
    try:
        import numpy as np

        from rgbtask.io import task_io_for, write_png
        from rgbtask.registry import get_codec

        codec = get_codec(config)
        rgb = task_io_for(codec).encode(codec, payload)
        if rgb.ndim != 3:
            raise InputError(f"expected one (H, W, 3) image per input, the codec gave {rgb.shape}")
        write_png(out, np.ascontiguousarray(rgb))
        return key, None
    except Exception as exc:  # reported per file; the run goes on
        return key, f"{type(exc).__name__}: {exc}"


def _read_manifest(out_dir: Path, config: dict[str, Any]) -> dict[str, Any]:
    path = out_dir / MANIFEST
    if not path.exists():
        return {"codec": config, "inputs": {}}
    try:
        manifest = json.loads(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise InputError(
            f"expected a readable JSON manifest in {path} (written by rgbtask convert), got "
            f"{type(exc).__name__}: {exc}; restore it, delete it if you know which codec made the "
            "outputs there, or write to another folder"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("inputs", {}), dict):
        raise InputError(
            f"expected a manifest object with 'codec' and 'inputs' in {path}, got "
            f"{type(manifest).__name__}; restore it or write to another folder"
        )
    if manifest.get("codec") != config:
        raise InputError(
            f"expected {out_dir} to hold outputs of {json.dumps(config)}, but its manifest says "
            f"{json.dumps(manifest.get('codec'))}; write to another folder"
        )
    manifest.setdefault("inputs", {})
    return manifest


def _write_manifest(out_dir: Path, manifest: dict[str, Any]) -> None:
    from rgbtask.io import write_atomic

    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    write_atomic(out_dir / MANIFEST, lambda tmp: tmp.write_text(text))


def _run_local(jobs, workers: int, bar):
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield _convert_one(job)
            if bar is not None:
                bar.update()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_convert_one, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
            if bar is not None:
                bar.update()


def _run_dask(jobs, workers: int, scheduler: str | None, bar):
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError as exc:
        raise ImportError(
            "engine='dask' needs dask.distributed: pip install 'rgbtask[dask]'"
        ) from exc
    if scheduler:
        client, cluster = Client(scheduler), None
    else:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
        client = Client(cluster)
    try:
        futures = client.map(_convert_one, jobs, pure=False)
        for future in as_completed(futures):
            yield future.result()
            if bar is not None:
                bar.update()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def convert(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    codec: Any,
    *,
    depth_scale: float | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    progress: bool | None = None,
) -> ConvertResult:
    """Encode every input file into ``out_dir/<stem>.png`` and write ``out_dir/manifest.json``.

    Parameters
    ----------
    inputs : file paths or glob patterns (``"data/**/*.png"``)
    codec : a codec, name or config (what :func:`rgbtask.get_codec` takes)
    depth_scale : for integer depth PNGs, stored value / depth_scale = metres
    workers : processes (local) or Dask workers (LocalCluster); default: all cores
    engine : ``"local"`` (processes on this machine) or ``"dask"``
    scheduler : with ``engine="dask"``, a scheduler address (``"tcp://host:8786"``); None starts a
        LocalCluster
    """
    from rgbtask.io import remove_stale_partials, task_io_for
    from rgbtask.registry import get_codec

    codec = get_codec(codec)
    if engine not in ("local", "dask"):
        raise InputError(f"expected engine 'local' or 'dask', got {engine!r}")
    out_dir = Path(out_dir)
    config = codec.get_config()
    files, failed = expand_inputs(inputs)
    jobs, failed_jobs = _jobs(files, task_io_for(codec), out_dir, depth_scale)
    failed.update(failed_jobs)
    outputs: dict[Path, str] = {}
    for key, out, _ in jobs:
        if out in outputs:
            raise InputError(
                f"expected distinct input names, got two inputs for {out.name}: "
                f"{outputs[out]} and {key}"
            )
        outputs[out] = key
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"expected an output folder, got the file {str(out_dir)!r}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(
            f"expected an output folder, got {str(out_dir)!r}: {exc.strerror}"
        ) from None
    manifest = _read_manifest(out_dir, config)
    manifest["depth_scale"] = depth_scale
    result = ConvertResult(failed=dict(failed))
    result.removed_partials = [str(p) for p in remove_stale_partials(out_dir)]
    todo = []
    for key, out, payload in jobs:
        if out.is_file():
            result.skipped.append(str(out))
            manifest["inputs"][out.stem] = key
        else:
            todo.append((key, str(out), config, payload))
    _write_manifest(out_dir, manifest)  # before any output: the folder always names its codec
    workers = workers or os.cpu_count() or 1
    bar = progress_bar(len(todo), progress, "rgbtask convert", "file")
    try:
        runner = (
            _run_dask(todo, workers, scheduler, bar)
            if engine == "dask"
            else _run_local(todo, workers, bar)
        )
        by_key = {job[0]: job for job in todo}
        for key, error in runner:
            if error is None:
                out = by_key[key][1]
                result.converted.append(out)
                manifest["inputs"][Path(out).stem] = key
            else:
                result.failed[key] = error
    finally:
        if bar is not None:
            bar.close()
        _write_manifest(out_dir, manifest)
    result.converted.sort()
    return result
