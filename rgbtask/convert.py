"""Convert a dataset of task files into encoded PNGs, in parallel, restartable.

``convert(inputs, out_dir, codec)`` reads every input (files or glob patterns), encodes it with the
codec and writes ``out_dir/<input folder>/<input stem>.png`` (the input tree mirrored, relative to
each pattern's root or to ``root``) plus ``out_dir/manifest.json`` holding
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
  gets no output, and the others are still converted; no input file at all (a pattern that
  matches nothing) is an :class:`~rgbtask.errors.InputError` before anything is written;
* the manifest is written before the first output and again at the end, so a folder that holds
  outputs always says which codec made them; a corrupt manifest is an error, never overwritten;
* an output folder holds one codec: a run with a different codec config into the same folder is
  refused rather than mixing two encodings.

What an input file holds is the codec's ``task_io``'s business (:class:`rgbtask.io.TaskIO`): one
sample per file for depth, masks and normals; a COCO keypoint JSON expands to one output per
annotated image (named by the image's file name without its suffix), and what the manifest records
per output (``samples``: a per-sample keypoint canvas, COCO image ids) is its
``sample_record``.

``decode_files(inputs, out_dir, manifest=...)`` is the inverse, for ``rgbtask decode GLOB --out
DIR``: the same mirroring, parallelism, restarts and per-file failures, writing what the codec's
``task_io`` says for the format asked (``.npy`` files by default; one COCO results JSON for
keypoints).
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rgbtask._progress import progress_bar
from rgbtask.errors import InputError

__all__ = ["ConvertResult", "convert", "decode_files", "expand_inputs", "glob_root"]

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
    found, missing = _expand(patterns)
    return list(found), missing


def glob_root(pattern: str | Path) -> Path:
    """The folder a pattern's matches are relative to: its leading components without glob magic
    (``'kitti/**/*.png'`` -> ``kitti``, ``'*.npy'`` -> ``.``); a plain file's folder."""
    parts = Path(pattern).parts
    for i, part in enumerate(parts):
        if glob.has_magic(part):
            return Path(*parts[:i]) if i else Path(".")
    return Path(pattern).parent


def _expand(patterns: Iterable[str | Path]) -> tuple[dict[Path, Path], dict[str, str]]:
    """``{file: the root it mirrors from}`` for files named or matched by the patterns (sorted
    per pattern, first pattern wins), and the patterns that matched nothing (as failures)."""
    files: dict[Path, Path] = {}
    missing: dict[str, str] = {}
    for pattern in patterns:
        text = str(pattern)
        if glob.has_magic(text):
            matches = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not matches:
                missing[text] = "no file matches this pattern"
            root = glob_root(text)
            for match in matches:
                files.setdefault(match, root)
        elif Path(text).is_file():
            files.setdefault(Path(text), Path(text).parent)
        elif Path(text).is_dir():
            missing[text] = (
                f"a directory, not a file (for its files pass a glob, e.g. '{text}/**/*.png')"
            )
        else:
            missing[text] = "no such file"
    return files, missing


def mirrored(files: dict[Path, Path], root: str | Path | None = None) -> dict[Path, Path]:
    """Each file's folder relative to its pattern's root (or to ``root`` when given): the
    subfolder of the output folder its outputs go to. A file outside ``root`` is an error."""
    if root is None:
        return {f: Path(os.path.relpath(f.parent, r)) for f, r in files.items()}
    base = Path(root).resolve()
    out = {}
    for f in files:
        try:
            out[f] = f.parent.resolve().relative_to(base)
        except ValueError:
            raise InputError(
                f"expected every input under --root {str(root)!r}, got {str(f)!r}"
            ) from None
    return out


def require_inputs(files: dict[Path, Path], missing: dict[str, str]) -> None:
    """Refuse a run that found no input file at all (exit status 2 on the command line)."""
    if not files:
        detail = "; ".join(f"{k}: {v}" for k, v in missing.items()) or "no inputs given"
        raise InputError(f"expected input files, got none ({detail})")


def output_key(out_dir: Path, out: Path) -> str:
    """How the manifest names an output: its path relative to the output folder, without the
    suffix, in POSIX form (``drive1/0000000005``; ``frame0`` in a flat folder)."""
    return out.relative_to(out_dir).with_suffix("").as_posix()


def _jobs(
    files: dict[Path, Path], task_io: Any, out_dir: Path, depth_scale: float | None, root=None
):
    """(key, output, payload) per output image (payload: what the worker encodes, from the codec's
    ``task_io``), and the inputs that failed already (a COCO JSON that does not parse)."""
    jobs, failed = [], {}
    folders = mirrored(files, root)
    for path in files:
        try:
            items = task_io.items(path, depth_scale)
        except InputError as exc:  # one bad annotation file fails alone
            failed[str(path)] = f"{type(exc).__name__}: {exc}"
            continue
        for key, stem, payload in items:
            jobs.append((key, out_dir / folders[path] / f"{stem}.png", payload))
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


def _run_local(jobs, workers: int, bar, fn=None):
    fn = fn or _convert_one
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            yield fn(job)
            if bar is not None:
                bar.update()
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        for future in as_completed(futures):
            yield future.result()
            if bar is not None:
                bar.update()


def _run_dask(jobs, workers: int, scheduler: str | None, bar, fn=None):
    fn = fn or _convert_one
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
        futures = client.map(fn, jobs, pure=False)
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
    root: str | Path | None = None,
) -> ConvertResult:
    """Encode every input file into ``out_dir/<folder>/<stem>.png`` and write
    ``out_dir/manifest.json``.

    The input tree is mirrored: ``<folder>`` is the input's folder relative to its pattern's root
    (the pattern's leading components without glob magic: ``kitti/**/*.png`` -> ``kitti``; a
    plain file's own folder), or relative to ``root`` when given, so inputs that share a file name
    in different folders (KITTI drives, Cityscapes cities) get distinct outputs. No input file at
    all (a pattern that matches nothing) is an :class:`~rgbtask.errors.InputError` and nothing is
    written. The manifest's ``inputs`` maps each output, by its path relative to ``out_dir``
    without ``.png`` (``drive1/0000000005``), to the input it came from; ``samples`` (only where
    the codec's ``task_io`` records something per output, e.g. the canvas size of a
    ``keypoints/heatmap`` codec with ``size=None``) holds what decoding that output needs.

    Parameters
    ----------
    inputs : file paths or glob patterns (``"data/**/*.png"``)
    codec : a codec, name or config (what :func:`rgbtask.get_codec` takes)
    depth_scale : for integer depth PNGs, stored value / depth_scale = metres
    workers : processes (local) or Dask workers (LocalCluster); default: all cores
    engine : ``"local"`` (processes on this machine) or ``"dask"``
    scheduler : with ``engine="dask"``, a scheduler address (``"tcp://host:8786"``); None starts a
        LocalCluster
    root : mirror every input's folder relative to this folder (default: each pattern's root)
    """
    from rgbtask.io import remove_stale_partials, task_io_for
    from rgbtask.registry import get_codec

    codec = get_codec(codec)
    if engine not in ("local", "dask"):
        raise InputError(f"expected engine 'local' or 'dask', got {engine!r}")
    out_dir = Path(out_dir)
    config = codec.get_config()
    task_io = task_io_for(codec)
    files, failed = _expand(inputs)
    require_inputs(files, failed)
    jobs, failed_jobs = _jobs(files, task_io, out_dir, depth_scale, root)
    failed.update(failed_jobs)
    outputs: dict[Path, str] = {}
    for key, out, _ in jobs:
        if out in outputs:
            raise InputError(
                f"expected distinct outputs, got two inputs for {out}: {outputs[out]} and {key} "
                "(inputs from different patterns mirror their folders from each pattern's root: "
                "give --root to mirror them from one folder)"
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
    for folder in sorted({out_dir} | {out.parent for _, out, _ in jobs}):
        result.removed_partials += [str(p) for p in remove_stale_partials(folder)]
    records = manifest.get("samples") if isinstance(manifest.get("samples"), dict) else {}
    todo = []
    for key, out, payload in jobs:
        record = task_io.sample_record(codec, payload)
        if record:
            records[output_key(out_dir, out)] = record
        if out.is_file():
            result.skipped.append(str(out))
            manifest["inputs"][output_key(out_dir, out)] = key
        else:
            todo.append((key, str(out), config, payload))
    if records:
        manifest["samples"] = records
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
                manifest["inputs"][output_key(out_dir, Path(out))] = key
            else:
                result.failed[key] = error
    finally:
        if bar is not None:
            bar.close()
        _write_manifest(out_dir, manifest)
    result.converted.sort()
    return result


# ---------------------------------------------------------------- batch decode


def read_manifest(path: str | Path) -> dict[str, Any]:
    """A ``manifest.json`` as :func:`convert` writes it (``codec``, ``inputs``, maybe ``samples``)."""
    path = Path(path)
    try:
        manifest = json.loads(path.read_bytes())
    except OSError as exc:
        raise InputError(
            f"expected a readable manifest.json, got {str(path)!r}: {exc.strerror}"
        ) from None
    except ValueError as exc:
        raise InputError(
            f"expected a manifest.json as rgbtask convert writes it, got invalid JSON in "
            f"{str(path)!r}: {exc}"
        ) from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("codec"), (dict, str)):
        raise InputError(
            f"expected a manifest.json holding a 'codec' config (as rgbtask convert writes "
            f"it), got {str(path)!r} without one"
        )
    return manifest


def manifest_record(manifest_path: str | Path, manifest: dict[str, Any], encoded: str | Path):
    """What ``manifest`` recorded for the encoded file ``encoded`` (its ``samples`` entry, by the
    file's path relative to the manifest's folder), or None."""
    samples = manifest.get("samples")
    if not isinstance(samples, dict):
        return None
    base = Path(manifest_path).resolve().parent
    try:
        key = Path(encoded).resolve().relative_to(base).with_suffix("").as_posix()
    except ValueError:
        return None
    return samples.get(key)


def _decode_one(job) -> tuple[str, str | None, Any]:
    """Worker: decode one encoded image and write its output (or return what the task collects).
    Returns (key, None or an error message, collected result)."""
    key, out, config, record, depth_scale = job
    try:
        from rgbtask.io import read_rgb, task_io_for
        from rgbtask.registry import get_codec

        codec = get_codec(config)
        task_io = task_io_for(codec)
        codec = task_io.sample_codec(codec, record)
        decoded = codec.decode_with_confidence(read_rgb(key))
        if out is None:
            return key, None, task_io.collect(codec, decoded, record, Path(key).stem)
        task_io.write(out, decoded.value, depth_scale)
        return key, None, None
    except Exception as exc:  # reported per file; the run goes on
        return key, f"{type(exc).__name__}: {exc}", None


def decode_files(
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    codec: Any = None,
    *,
    manifest: str | Path | None = None,
    fmt: str | None = None,
    depth_scale: float | None = None,
    workers: int | None = None,
    engine: str = "local",
    scheduler: str | None = None,
    progress: bool | None = None,
    root: str | Path | None = None,
) -> ConvertResult:
    """Decode every encoded image (files or glob patterns) into ``out_dir``, mirroring the tree.

    The inverse of :func:`convert`: ``encoded/drive1/0005.png`` -> ``out_dir/drive1/0005.npy``
    (folders relative to each pattern's root, or to ``root``), in parallel, restartable (an output
    that exists is skipped), a failing file named with its reason while the others go on. What is
    written is the codec's ``task_io``'s decision (:meth:`rgbtask.io.TaskIO.batch_suffix`): ``fmt``
    ``"npy"`` (the default: the decoded value as is), ``"pfm"`` (float depth), ``"png"`` (label
    maps; depth as 16-bit PNG times ``depth_scale``), or ``"json"`` for keypoints: one COCO results
    file ``out_dir/results.json`` for all images (written whole at the end, so not resumable per
    image).

    Parameters
    ----------
    codec : a codec, name or config; or None with ``manifest``
    manifest : a ``manifest.json`` written by :func:`convert`: its codec (unless ``codec`` is
        given), what it recorded per output (the canvas of a per-sample keypoints codec, COCO
        image ids) and its ``depth_scale`` (the default for ``depth_scale``)
    fmt : what to write (above); default: the task's first format, ``"npy"``
    depth_scale : ``fmt="png"`` depth: metres * depth_scale = stored value
    workers, engine, scheduler, progress, root : as for :func:`convert`

    Returns
    -------
    A :class:`ConvertResult`: ``converted`` the outputs written, ``skipped`` those already there,
    ``failed`` the encoded files that did not decode (with the reason).
    """
    from rgbtask.io import remove_stale_partials, task_io_for
    from rgbtask.registry import get_codec

    if engine not in ("local", "dask"):
        raise InputError(f"expected engine 'local' or 'dask', got {engine!r}")
    saved = read_manifest(manifest) if manifest is not None else {}
    if codec is None:
        if manifest is None:
            raise InputError("expected a codec or a manifest to decode with")
        codec = saved["codec"]
    codec = get_codec(codec)
    if depth_scale is None and isinstance(saved.get("depth_scale"), (int, float)):
        depth_scale = saved["depth_scale"]  # 16-bit depth PNGs back in the units they came in
    task_io = task_io_for(codec)
    fmt = fmt or task_io.decode_formats[0]
    suffix = task_io.batch_suffix(fmt)
    out_dir = Path(out_dir)
    files, failed = _expand(inputs)
    require_inputs(files, failed)
    folders = mirrored(files, root)
    config = codec.get_config()
    result = ConvertResult(failed=dict(failed))
    todo, outputs = [], {}
    for path in files:
        record = manifest_record(manifest, saved, path) if manifest is not None else None
        out = None if suffix is None else out_dir / folders[path] / (path.stem + suffix)
        if out is not None:
            if out in outputs:
                raise InputError(
                    f"expected distinct outputs, got two inputs for {out}: {outputs[out]} and "
                    f"{path} (give --root to mirror them from one folder)"
                )
            outputs[out] = path
            if out.is_file():
                result.skipped.append(str(out))
                continue
        todo.append((str(path), None if out is None else str(out), config, record, depth_scale))
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"expected an output folder, got the file {str(out_dir)!r}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for folder in {Path(job[1]).parent for job in todo if job[1] is not None}:
        folder.mkdir(parents=True, exist_ok=True)
        result.removed_partials += [str(p) for p in remove_stale_partials(folder)]
    workers = workers or os.cpu_count() or 1
    bar = progress_bar(len(todo), progress, "rgbtask decode", "file")
    collected: dict[str, Any] = {}
    try:
        runner = (
            _run_dask(todo, workers, scheduler, bar, _decode_one)
            if engine == "dask"
            else _run_local(todo, workers, bar, _decode_one)
        )
        by_key = {job[0]: job for job in todo}
        for key, error, part in runner:
            if error is not None:
                result.failed[key] = error
            elif by_key[key][1] is None:
                collected[key] = part
            else:
                result.converted.append(by_key[key][1])
    finally:
        if bar is not None:
            bar.close()
    if suffix is None:
        parts = [collected[k] for k in sorted(collected)]
        result.converted += [str(p) for p in task_io.write_collected(out_dir, fmt, parts)]
    result.converted.sort()
    return result
