"""The ``rgbtask`` command line.

``rgbtask demo``     round-trips every registered codec on the built-in samples and prints a table;
``rgbtask list``     lists the registered codecs;
``rgbtask info``     shows one codec's config, levels, round-trip bound and parameters;
``rgbtask eval``     measures what codecs lose under perturbations, on built-in scenes or your own
                     files (Markdown table with a legend, CSV, plots);
``rgbtask encode``   encodes one task file (depth, mask, normals, COCO keypoints) to a PNG;
``rgbtask decode``   decodes a PNG back to a task file;
``rgbtask convert``  encodes a whole dataset in parallel, restartable, with a manifest;
``rgbtask warmup``   compiles the kernels of every codec (or the named ones) into Numba's cache, for
                     container images: a deployed model never compiles.

A codec is named as ``NAME`` with ``--param KEY=VALUE`` options (VALUE: JSON, a comma-separated
list, or text), or as ``NAME?KEY=VALUE&KEY=VALUE`` when several codecs each need their own.

Exit status: 0 on success, 1 when some work failed (a round trip over its bound, a file that did not
convert), 2 on bad usage (unknown codec, bad parameter, unreadable input: a missing, empty,
truncated or corrupt file, a palette / grayscale / transparent image given to ``decode``, a corrupt
``manifest.json``; an output that cannot be written), 130 when interrupted. Errors are one line,
``rgbtask: error: ...`` on stderr, naming the file; never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import RgbtaskError

__all__ = ["cli_hint", "main", "parse_codec_spec", "parse_params", "parse_value"]


def parse_value(text: str) -> Any:
    """One ``--param`` value: JSON when it parses (``[425,640]``, ``0.5``, ``null``), else a
    comma-separated list of such values (``425,640``), else the text itself (``turbo``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    if "," in text and not text.lstrip().startswith(("[", "{", '"')):
        return [parse_value(part.strip()) for part in text.split(",")]
    return text


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["near=0.5", "cmap=turbo", "size=425,640", "convention=[1,-1,1]"]`` -> dict; values are
    read by :func:`parse_value` (JSON, or a comma-separated list, or plain text)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise RgbtaskError(
                f"expected --param KEY=VALUE (e.g. bits=16, size=425,640 or size=[425,640]), "
                f"got {item!r}"
            )
        params[key] = parse_value(text)
    return params


def parse_codec_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """``"mask/palette?palette=voc&space=lab"`` -> ``("mask/palette", {"palette": "voc", "space":
    "lab"})``: a codec name with its own parameters in URL-query style, values read as ``--param``
    values (:func:`parse_value`)."""
    name, sep, query = spec.partition("?")
    if not sep:
        return spec, {}
    items = [part for part in query.split("&") if part]
    try:
        return name, parse_params(items)
    except RgbtaskError:
        raise RgbtaskError(
            f"expected --codec NAME?KEY=VALUE&KEY=VALUE (e.g. 'mask/palette?palette=voc'), "
            f"got {spec!r}"
        ) from None


def _cli_value(node) -> str:
    """A Python literal from a hint, as a ``--param`` value: tuples and lists comma-separated."""
    import ast

    value = ast.literal_eval(node)
    if isinstance(value, (tuple, list)) and all(not isinstance(v, (tuple, list)) for v in value):
        return ",".join(json.dumps(v) if not isinstance(v, str) else v for v in value)
    return json.dumps(value, separators=(",", ":")) if not isinstance(value, str) else value


def cli_hint(message: str, prefix: str = "--codec ") -> str:
    """An error message whose Python hint ``get_codec('name', k=v, ...)`` is rewritten in the
    command line's spelling, ``--codec name --param k=v ...`` (``prefix`` precedes the name),
    quoted for the shell where needed."""
    import ast
    import shlex

    start = message.find("get_codec(")
    if start < 0:
        return _cli_kwargs(message)
    depth, end = 0, -1
    for i in range(start + len("get_codec"), len(message)):
        depth += {"(": 1, ")": -1}.get(message[i], 0)
        if depth == 0:
            end = i + 1
            break
    try:
        call = ast.parse(message[start:end], mode="eval").body
        name = ast.literal_eval(call.args[0])
        cli = f"{prefix}{shlex.quote(name)}" + "".join(
            f" --param {shlex.quote(f'{kw.arg}={_cli_value(kw.value)}')}" for kw in call.keywords
        )
    except (SyntaxError, ValueError, IndexError, AttributeError, TypeError):
        return message
    return _cli_kwargs(message[:start] + cli + message[end:])


def _cli_kwargs(message: str) -> str:
    """``use layout='stacked'`` -> ``use --param layout=stacked``."""
    import re

    return re.sub(r"\buse (\w+)='([^']*)'", r"use --param \1=\2", message)


def _best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _demo_row(codec, values: list[np.ndarray], repeat: int) -> dict[str, Any]:
    """One demo row, measured with the fidelity toolkit: the lossless quantization report and
    encode / decode throughput (what lossy storage costs is ``rgbtask eval``'s business)."""
    from rgbtask.fidelity import quantization_report
    from rgbtask.fidelity.evaluate import describe_config

    value = values[0]
    rgb = codec.encode(value)  # also compiles (or loads) the kernels
    decoded = codec.decode_with_confidence(rgb)
    report = quantization_report(codec, [value])
    pixels = int(np.prod(rgb.shape[:-1]))
    t_enc = _best_time(lambda: codec.encode(value), repeat)
    t_dec = _best_time(lambda: codec.decode_with_confidence(rgb), repeat)
    conf = decoded.confidence[decoded.valid]
    return {
        "codec": codec.name,
        "params": describe_config(codec.get_config()),
        "levels": "-" if codec.levels is None else str(codec.levels),
        "max_err": report["measured_max"],
        "mean_err": report["measured_mean"],
        "bound": report["bound_max"],
        "unit": codec.error_unit,
        "conf": float(conf.mean()) if conf.size else float("nan"),
        "valid": 100.0 * float(np.mean(decoded.valid)),
        "enc": pixels / t_enc / 1e6,
        "dec": pixels / t_dec / 1e6,
        "status": "ok" if report["within_bound"] else "OVER BOUND",
    }


#: The demo table's columns: header, what it is (the legend printed under the table).
DEMO_COLUMNS: tuple[tuple[str, str], ...] = (
    ("codec", "codec name; its parameters (those not at their default) on the line below"),
    ("levels", "distinct codes the encoding uses"),
    ("max err", "largest round-trip error |decode(encode(x)) - x|, lossless storage"),
    ("mean err", "mean round-trip error"),
    ("bound", "the encoding's theoretical largest error (max err may not exceed it)"),
    ("unit", "unit of the three error columns (m, deg, px, label)"),
    ("conf", "mean decoder confidence over valid items (0..1)"),
    (
        "valid%",
        "% of decoded items valid (the scene's window has no depth; keypoints: the "
        "visible share of instance slots)",
    ),
    ("enc", "encode throughput, megapixels per second (best of --repeat)"),
    ("dec", "decode throughput, megapixels per second"),
    ("status", "ok when max err <= bound; anything else is a codec bug (exit status 1)"),
)


def _format_table(rows: list[dict[str, Any]], width: int = 120) -> str:
    """The demo table, at most ``width`` columns: one line of numbers per codec configuration, its
    parameters in full on the lines below (wrapped, never cut), and a legend."""
    import textwrap

    headers = [h for h, _ in DEMO_COLUMNS]
    body: list[tuple[list[str], str]] = []
    for r in rows:
        if "error" in r:
            cells = [r["codec"]] + [""] * (len(headers) - 2) + ["ERROR"]
            body.append((cells, f"{r.get('params', '')} {r['error']}".strip()))
            continue
        cells = [
            r["codec"],
            r["levels"],
            f"{r['max_err']:.3g}",
            f"{r['mean_err']:.3g}",
            f"{r['bound']:.3g}",
            r["unit"],
            f"{r['conf']:.3f}",
            f"{r['valid']:.1f}",
            f"{r['enc']:.1f}",
            f"{r['dec']:.1f}",
            r["status"],
        ]
        body.append((cells, "" if r["params"] == "(defaults)" else r["params"]))
    widths = [
        max(len(h), *(len(c[i]) for c, _ in body)) if body else len(h)
        for i, h in enumerate(headers)
    ]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0])]
        padded += [c.rjust(w) for c, w in zip(cells[1:-1], widths[1:-1])]
        return ("  ".join(padded) + "  " + cells[-1]).rstrip()

    out = [line(headers), "-" * min(width, len(line(headers)) + 4)]
    for cells, params in body:
        out.append(line(cells))
        if params:
            out += textwrap.wrap(
                params,
                width,
                initial_indent="    ",
                subsequent_indent="      ",
                break_long_words=True,
                break_on_hyphens=False,
            )
    legend = ["", "Columns:"]
    for h, text in DEMO_COLUMNS:
        legend += textwrap.wrap(
            f"{h}: {text}", width, initial_indent="  ", subsequent_indent="    "
        )
    return "\n".join(out + legend)


def cmd_demo(args: argparse.Namespace) -> int:
    from rgbtask.registry import get_codec_class, list_codecs
    from rgbtask.samples import make_scene

    t0 = time.perf_counter()
    height, width = args.size
    scene = make_scene(height=height, width=width, seed=args.seed)
    names = args.codec or list_codecs()
    rows: list[dict[str, Any]] = []
    for name in names:
        try:
            examples = list(get_codec_class(name).examples(scene))
        except Exception as exc:  # a broken plugin is reported, not fatal to the demo
            rows.append({"codec": name, "error": f"ERROR {type(exc).__name__}: {exc}"})
            continue
        if not examples:
            rows.append({"codec": name, "error": "no examples"})
        for codec, values in examples:
            try:
                rows.append(_demo_row(codec, values, args.repeat))
            except Exception as exc:
                rows.append(
                    {
                        "codec": name,
                        "params": repr(codec),
                        "error": f"ERROR {type(exc).__name__}: {exc}",
                    }
                )
    import textwrap

    print(
        textwrap.fill(
            f"rgbtask demo: {len(names)} codec{'s' if len(names) != 1 else ''} on a {height}x{width} procedural scene "
            f"(seed {args.seed}); round trip = decode(encode(x)) through lossless 8/16-bit codes",
            120,
        )
        + "\n"
    )
    print(_format_table(rows))
    failed = [r for r in rows if r.get("status") != "ok"]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} round trips within their bound "
        f"({time.perf_counter() - t0:.1f} s)\n"
        "What lossy storage (JPEG, noise, resizing) costs each task: rgbtask eval --codec NAME"
    )
    return 1 if failed else 0


def _plain_text(text: str) -> str:
    """Docstring text for a terminal: reST roles and double backticks dropped."""
    import re

    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", text)
    return text.replace("``", "")


def cmd_list(args: argparse.Namespace) -> int:
    from rgbtask.registry import get_codec_class, list_codecs

    names = list_codecs(task=args.task)
    if not names:  # an unknown task: say which exist
        import difflib

        tasks = sorted({n.split("/", 1)[0] for n in list_codecs()})
        close = difflib.get_close_matches(args.task, tasks, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise RgbtaskError(f"expected a task in {', '.join(tasks)}, got {args.task!r}{hint}")
    for name in names:
        try:
            doc = (get_codec_class(name).__doc__ or "").strip().splitlines()[0]
        except RgbtaskError as exc:
            doc = f"(cannot load: {exc})"
        print(f"{name:24s} {_plain_text(doc)}")
    return 0


def _expected_text(check: Any, name: str) -> str:
    """What a :func:`rgbtask.params.param` validator accepts: a codec's own validator's docstring
    (it may take several kinds of value: a palette name or colours), else the shared validator's
    ``expected ...`` text."""
    doc = (getattr(check, "__doc__", None) or "").strip()
    if doc and getattr(check, "__module__", "") != "rgbtask.params":
        return _plain_text(" ".join(doc.split("\n\n")[0].split()))
    try:
        check(_Probe(), name)
    except Exception as exc:  # the validator's ConfigError: "expected NAME ..., got ..."
        text = str(exc)
        head = f"expected {name} "
        if text.startswith(head) and ", got " in text:
            return text[len(head) : text.rindex(", got ")]
    return ""


class _Probe:
    """A value no validator accepts, to make it say what it expects."""

    def __repr__(self) -> str:
        return "?"


def codec_parameters(cls: Any) -> dict[str, dict[str, Any]]:
    """A codec class's parameters: default (None where it must be given) and what it accepts."""
    import dataclasses

    out: dict[str, dict[str, Any]] = {}
    if not dataclasses.is_dataclass(cls):
        return out
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        default = None if f.default is dataclasses.MISSING else f.default
        entry: dict[str, Any] = {"default": json.loads(json.dumps(default, default=list))}
        check = f.metadata.get("check")
        if check is not None:
            accepts = _expected_text(check, f.name)
            if accepts:
                entry["accepts"] = accepts
        out[f.name] = entry
    return out


def cmd_info(args: argparse.Namespace) -> int:
    from rgbtask.registry import get_codec, get_codec_class

    name, spec_params = parse_codec_spec(args.codec)
    params = {**spec_params, **parse_params(args.param)}
    cls = get_codec_class(name)
    try:
        codec = _build(get_codec, name, params, prefix="rgbtask info ")
    except RgbtaskError as exc:
        if params:  # the user's own parameters are wrong: bad usage
            raise
        # Defaults do not build it (size, num_keypoints must be given): say what is needed.
        shown = {
            "name": name,
            "task": name.split("/", 1)[0],
            "parameters": codec_parameters(cls),
            "needs": str(exc),
        }
        print(json.dumps(shown, indent=2))
        return 0
    shown = codec.info()
    shown["parameters"] = codec_parameters(cls)
    print(json.dumps(shown, indent=2))
    return 0


def _build(get_codec, spec: Any, params: dict[str, Any], prefix: str = "--codec "):
    """``get_codec(spec, **params)``, with any error a bad parameter raises turned into one
    :class:`RgbtaskError` line (exit status 2): a parameter a codec's own checks let through to a
    ``TypeError`` (``ignore=null``) must not end in a traceback. ``spec`` may carry its own
    parameters (``mask/palette?palette=voc``); hints are given in the command line's spelling."""
    if isinstance(spec, str):
        spec, spec_params = parse_codec_spec(spec)
        params = {**spec_params, **params}
    try:
        return get_codec(spec, **params)
    except RgbtaskError as exc:
        raise RgbtaskError(cli_hint(str(exc), prefix)) from None
    except (TypeError, ValueError, ArithmeticError) as exc:
        shown = " ".join(f"{k}={json.dumps(v)}" for k, v in params.items()) or "no parameters"
        raise RgbtaskError(
            f"expected parameters {spec if isinstance(spec, str) else 'the codec'} accepts, got "
            f"{shown}: {type(exc).__name__}: {exc}"
        ) from None


def _codec_from_args(args: argparse.Namespace):
    from rgbtask.registry import get_codec

    params = parse_params(args.param)
    if getattr(args, "manifest", None):
        from rgbtask.convert import read_manifest

        manifest = read_manifest(args.manifest)
        return _build(get_codec, manifest["codec"], params)
    if not args.codec:
        raise RgbtaskError("expected --codec NAME (or --manifest FILE)")
    return _build(get_codec, args.codec, params)


def _input_samples(codec: Any, patterns: Sequence[str], depth_scale: float | None):
    """The user's files as ``{key: task value}`` for ``codec``, read by its task's reader."""
    from rgbtask.convert import expand_inputs
    from rgbtask.io import task_io_for

    files, missing = expand_inputs(patterns)
    if missing:  # a missing input is bad usage, as in convert's docs: exit 2
        pattern, reason = next(iter(missing.items()))
        raise RgbtaskError(f"expected --input files, got {pattern!r}: {reason}")
    task_io = task_io_for(codec)
    samples: dict[str, Any] = {}
    for path in files:
        for key, _stem, payload in task_io.items(path, depth_scale):
            samples[key] = task_io.value(codec, payload)
    if not samples:
        raise RgbtaskError(f"expected samples in --input {' '.join(patterns)}, got none")
    return samples


def cmd_eval(args: argparse.Namespace) -> int:
    from rgbtask.fidelity import evaluate, parse_perturbation, summarize, to_csv, to_markdown
    from rgbtask.fidelity.evaluate import metric_notes
    from rgbtask.registry import get_codec
    from rgbtask.samples import make_scene

    params = parse_params(args.param)
    codecs = [_build(get_codec, spec, params) for spec in args.codec]
    perturbations = [parse_perturbation(p) for p in args.perturb] if args.perturb else None
    if args.depth_scale is not None and not args.input:
        raise RgbtaskError("expected --input GLOB with --depth-scale (it scales your files)")
    if args.input and (args.size is not None or args.scenes is not None):
        raise RgbtaskError(
            "expected --size and --scenes only without --input (they shape the built-in scenes)"
        )
    records: list[dict[str, Any]] = []
    if args.input:
        for codec in codecs:
            samples = _input_samples(codec, args.input, args.depth_scale)
            records += evaluate(codec, samples, perturbations, seed=args.seed)
    else:
        height, width = args.size or (240, 320)
        count = 2 if args.scenes is None else args.scenes
        scenes = {f"scene{s}": make_scene(height, width, seed=s) for s in range(count)}
        records = evaluate(codecs, scenes, perturbations, seed=args.seed)
    rows = summarize(records)
    table = to_markdown(rows)
    notes = metric_notes(rows)
    print(table)
    if notes:
        print("\n" + notes)
    if args.out:
        from rgbtask.fidelity.plots import plot_metric_vs_perturbation

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.md").write_text(table + "\n" + (f"\n{notes}\n" if notes else ""))
        to_csv(records, out / "eval.csv")
        plot_metric_vs_perturbation(records, out / "eval.png")
        print(f"\nwrote {out / 'eval.md'}, {out / 'eval.csv'}, {out / 'eval.png'}", file=sys.stderr)
    return 0


def cmd_encode(args: argparse.Namespace) -> int:
    from rgbtask.io import task_io_for, write_atomic, write_png

    codec = _codec_from_args(args)
    task_io = task_io_for(codec)
    rgb = task_io.encode(codec, task_io.select(args.input, args.image, args.depth_scale))
    if rgb.ndim != 3:
        raise RgbtaskError(f"expected one (H, W, 3) image, the codec gave {rgb.shape}")
    write_png(args.output, rgb)
    if args.manifest_out:
        text = json.dumps({"codec": codec.get_config()}, indent=2) + "\n"
        write_atomic(args.manifest_out, lambda tmp: tmp.write_text(text))
    return 0


def cmd_decode(args: argparse.Namespace) -> int:
    from rgbtask.convert import manifest_record, read_manifest
    from rgbtask.io import read_rgb, task_io_for, write_value

    if args.out:
        return _decode_batch(args)
    if len(args.inputs) != 2:
        raise RgbtaskError(
            f"expected INPUT OUTPUT (one file), or inputs with --out DIR (a batch), got "
            f"{len(args.inputs)} path(s) and no --out"
        )
    if args.format:
        raise RgbtaskError(
            "expected --format with --out DIR (a batch); one file's format is OUTPUT's suffix"
        )
    source, output = args.inputs
    codec = _codec_from_args(args)
    task_io = task_io_for(codec)
    depth_scale = args.depth_scale
    if args.manifest:
        saved = read_manifest(args.manifest)
        codec = task_io.sample_codec(codec, manifest_record(args.manifest, saved, source))
        if depth_scale is None and isinstance(saved.get("depth_scale"), (int, float)):
            depth_scale = saved["depth_scale"]  # a 16-bit PNG in the units the input had
    if args.confidence and Path(args.confidence).suffix.lower() not in (".npy", ".pfm"):
        raise RgbtaskError(f"expected --confidence FILE.npy (or .pfm), got {args.confidence!r}")
    rgb = read_rgb(source)
    decoded = codec.decode_with_confidence(rgb)
    task_io.write(output, decoded.value, depth_scale)
    if args.confidence:
        write_value(args.confidence, decoded.confidence)
    return 0


def _decode_batch(args: argparse.Namespace) -> int:
    from rgbtask.convert import decode_files

    if args.confidence:
        raise RgbtaskError("expected --confidence with one file (INPUT OUTPUT), not with --out")
    codec = _codec_from_args(args)
    result = decode_files(
        args.inputs,
        args.out,
        codec,
        manifest=args.manifest,
        fmt=args.format,
        depth_scale=args.depth_scale,
        workers=args.workers,
        engine="dask" if (args.scheduler or args.engine == "dask") else "local",
        scheduler=args.scheduler,
        root=args.root,
    )
    return _report(result, "decoded", None)


def _report(result, verb: str, manifest: Path | None) -> int:
    """Print a convert / batch decode summary; the exit status (1 when a file failed)."""
    for key, error in sorted(result.failed.items()):
        print(f"rgbtask: failed: {key}: {error}", file=sys.stderr)
    if result.removed_partials:
        print(
            f"rgbtask: removed {len(result.removed_partials)} temporary file(s) left by an "
            "interrupted earlier run",
            file=sys.stderr,
        )
    print(
        f"{verb} {len(result.converted)}, skipped {len(result.skipped)} (already done), "
        f"failed {len(result.failed)}" + (f"; manifest: {manifest}" if manifest else "")
    )
    return 0 if result.ok else 1


def cmd_convert(args: argparse.Namespace) -> int:
    from rgbtask.convert import convert

    codec = _codec_from_args(args)
    engine = "dask" if (args.scheduler or args.engine == "dask") else "local"
    result = convert(
        args.inputs,
        args.out,
        codec,
        depth_scale=args.depth_scale,
        workers=args.workers,
        engine=engine,
        scheduler=args.scheduler,
        root=args.root,
    )
    return _report(result, "converted", Path(args.out) / "manifest.json")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 480x640, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return h, w


PARAM_HELP = (
    "codec parameter (repeatable); VALUE is JSON or a comma-separated list: bits=16, "
    "palette=voc, size=425,640 or size=[425,640], ignore=null"
)


def _kernel_counts() -> tuple[int, int]:
    """(compiled, loaded from Numba's cache) kernel specialisations in this process so far."""
    from numba.core.registry import CPUDispatcher

    compiled = loaded = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("rgbtask") or module is None:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and value.__module__ == name:
                hits = sum(value.stats.cache_hits.values())
                loaded += hits
                compiled += len(value.signatures) - hits
    return compiled, loaded


def cmd_warmup(args: argparse.Namespace) -> int:
    import os

    import rgbtask
    from rgbtask.registry import get_codec_class, list_codecs

    names = list(args.codec) or list_codecs(task=args.task)
    if not names:
        raise RgbtaskError(
            f"expected a task in {', '.join(sorted({n.split('/')[0] for n in list_codecs()}))}, got {args.task!r}"
        )
    for name in names:
        get_codec_class(name)  # every name known before anything compiles: exit 2 otherwise
    jit = os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0")
    if not jit:
        import numba

        where = numba.config.CACHE_DIR or "beside the installed package (__pycache__)"
        print(f"Numba cache: {where}")
    width = max(len(n) for n in names)
    start = time.perf_counter()
    before = (0, 0) if jit else _kernel_counts()
    for name in names:
        t0 = time.perf_counter()
        rgbtask.warmup(name)
        seconds = time.perf_counter() - t0
        if jit:
            print(f"{name:{width}s}  {seconds:6.2f} s  (NUMBA_DISABLE_JIT: nothing to compile)")
            continue
        after = _kernel_counts()
        compiled, loaded = after[0] - before[0], after[1] - before[1]
        before = after
        print(f"{name:{width}s}  {seconds:6.2f} s  {compiled} compiled, {loaded} loaded from cache")
    total = time.perf_counter() - start
    print(f"{len(names)} codecs warm in {total:.2f} s")
    return 0


_EPILOGS = {
    "warmup": (
        "Run it once where the image is built (the cache goes to NUMBA_CACHE_DIR, else beside the\n"
        "installed package): later processes load the kernels instead of compiling them.\n\n"
        "examples:\n  rgbtask warmup\n  rgbtask warmup normals/xyz depth/cubewalk\n"
        "  NUMBA_CACHE_DIR=/opt/numba-cache rgbtask warmup --task mask"
    ),
    "demo": "example:\n  rgbtask demo --size 240x320 --codec depth/cubewalk",
    "list": "examples:\n  rgbtask list\n  rgbtask list --task mask",
    "info": (
        "examples:\n  rgbtask info normals/xyz --param bits=16\n"
        "  rgbtask info keypoints/heatmap --param size=480,640 --param num_keypoints=17"
    ),
    "eval": (
        "examples:\n  rgbtask eval --codec normals/xyz --codec depth/cubewalk\n"
        "  rgbtask eval --codec 'mask/palette?palette=voc&space=lab' --codec mask/palette\n"
        "  rgbtask eval --codec depth/cubewalk --input 'nyu/**/*.png' --depth-scale 1000 "
        "--perturb jpeg:q=90"
    ),
    "encode": (
        "examples:\n  rgbtask encode depth.png depth_rgb.png --codec depth/cubewalk "
        "--depth-scale 1000\n  rgbtask encode person_keypoints.json kp.png --codec "
        "keypoints/heatmap --param size=425,640 --param num_keypoints=17 --image 000000000785.jpg"
    ),
    "decode": (
        "examples:\n  rgbtask decode depth_rgb.png depth.npy --codec depth/cubewalk\n"
        "  rgbtask decode encoded/frame.png frame.npy --manifest encoded/manifest.json\n"
        "  rgbtask decode 'enc/**/*.png' --out decoded/ --manifest enc/manifest.json\n"
        "  rgbtask decode 'enc/**/*.png' --out depth16/ --manifest enc/manifest.json "
        "--format png --depth-scale 1000"
    ),
    "convert": (
        "examples:\n"
        "  rgbtask convert 'nyu/**/*.png' --out encoded/ --codec depth/cubewalk --depth-scale 1000\n"
        "  rgbtask convert 'kitti/train/**/*.png' 'kitti/val/**/*.png' --root kitti --out enc/ "
        "--codec depth/cubewalk --depth-scale 256\n"
        "  rgbtask convert person_keypoints_val2017.json --out kp/ --codec keypoints/heatmap "
        "--param num_keypoints=17"
    ),
}


def _version() -> str:
    import rgbtask

    return f"rgbtask {rgbtask.__version__}"


class _Version(argparse.Action):
    """``--version``, with the version looked up only when asked for."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        print(_version())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rgbtask",
        description=__doc__.splitlines()[0].replace("``", ""),
        epilog="run 'rgbtask COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action=_Version, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=help,
            description=help[0].upper() + help[1:] + ".",
            epilog=_EPILOGS[name],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    demo = add("demo", "round-trip every codec on the built-in samples")
    demo.add_argument("--size", type=_size, default=(480, 640), help="scene size HxW (480x640)")
    demo.add_argument("--seed", type=int, default=0, help="seeds the procedural scene's layout (0)")
    demo.add_argument("--codec", action="append", help="only this codec (repeatable)")
    demo.add_argument("--repeat", type=_positive, default=3, help="timing repeats, best of (3)")
    demo.set_defaults(func=cmd_demo)

    warm = add("warmup", "compile every codec's kernels (or the named codecs') into Numba's cache")
    warm.add_argument("codec", nargs="*", help="codec names (default: every registered codec)")
    warm.add_argument("--task", help="only this task's codecs (depth, mask, normals, keypoints)")
    warm.set_defaults(func=cmd_warmup)

    lst = add("list", "list the registered codecs")
    lst.add_argument("--task", help="only this task's codecs (depth, mask, normals, keypoints)")
    lst.set_defaults(func=cmd_list)

    info = add("info", "a codec's config, levels, round-trip bound and parameters")
    info.add_argument(
        "codec", help="codec name, e.g. normals/xyz (or NAME?KEY=VALUE&... as eval takes)"
    )
    info.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=PARAM_HELP)
    info.set_defaults(func=cmd_info)
    ev = add("eval", "what codecs lose under perturbations")
    ev.add_argument(
        "--codec",
        action="append",
        required=True,
        metavar="NAME[?KEY=VALUE&...]",
        help="codec to evaluate (repeatable), with its own parameters in URL-query style: "
        "'mask/palette?palette=voc&space=lab' (quote it); values as --param reads them",
    )
    ev.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="codec parameter applied to every --codec (its own ?KEY=VALUE wins); VALUE is JSON "
        "or a comma-separated list: size=480,640",
    )
    ev.add_argument(
        "--perturb",
        action="append",
        metavar="SPEC",
        help="e.g. jpeg:q=90,sub=420 or noise:sigma=2 (repeatable; default: lossless, "
        "png, jpeg q95/q90 4:4:4, jpeg q90 4:2:0, noise 2/255)",
    )
    ev.add_argument(
        "--input",
        action="append",
        metavar="GLOB",
        help="your own files instead of the built-in scenes (repeatable; quote globs; read as "
        "convert reads them: depth PNG/npy/pfm, mask PNG/npy, normals npy, COCO keypoint JSON)",
    )
    ev.add_argument(
        "--depth-scale",
        type=float,
        dest="depth_scale",
        help="with --input: integer depth PNG value / S = metres (1000 for mm, 256 for KITTI)",
    )
    ev.add_argument("--out", help="also write eval.md, eval.csv and eval.png here")
    ev.add_argument("--size", type=_size, help="built-in scenes' size HxW (240x320)")
    ev.add_argument("--scenes", type=_positive, help="number of built-in scenes (2)")
    ev.add_argument(
        "--seed", type=int, default=0, help="seeds the random perturbations (noise) (0)"
    )
    ev.set_defaults(func=cmd_eval)

    def codec_args(p):
        p.add_argument(
            "--codec", metavar="NAME[?KEY=VALUE&...]", help="codec name, e.g. depth/cubewalk"
        )
        p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help=PARAM_HELP)
        p.add_argument("--manifest", help="take the codec from a convert manifest.json")
        p.add_argument(
            "--depth-scale",
            type=float,
            dest="depth_scale",
            help="integer depth PNG value / S = metres (1000 for mm, 256 for KITTI)",
        )

    enc = add("encode", "encode one task file to a PNG")
    enc.add_argument(
        "input",
        help="depth .png/.npy/.pfm/.exr, mask .png/.npy, normals .npy/.exr, or COCO keypoint .json",
    )
    enc.add_argument("output", help="the PNG to write")
    enc.add_argument("--image", help="COCO: the image file name to encode")
    enc.add_argument("--manifest-out", dest="manifest_out", help="also write the codec config here")
    codec_args(enc)
    enc.set_defaults(func=cmd_encode)

    dec = add("decode", "decode a PNG back to a task file, or a folder of them (--out)")
    dec.add_argument(
        "inputs",
        nargs="+",
        metavar="PATH",
        help="INPUT OUTPUT: one encoded PNG and the file to write (.npy any value, .pfm depth, "
        ".png labels or depth with --depth-scale); with --out: encoded files or glob patterns "
        "(quote them)",
    )
    dec.add_argument(
        "--out",
        help="decode a batch into this folder, mirroring the inputs' folders (relative to each "
        "pattern's root, or --root); parallel, resumable (existing outputs are skipped)",
    )
    dec.add_argument(
        "--format",
        help="with --out: what to write per the codec's task: npy (default, any task), pfm "
        "(depth), png (label maps; depth as 16-bit with --depth-scale), json (keypoints: one "
        "COCO results file, DIR/results.json)",
    )
    dec.add_argument(
        "--workers", type=int, help="with --out: processes or Dask workers (all cores)"
    )
    dec.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="with --out: local processes, or a Dask LocalCluster",
    )
    dec.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="with --out: run on a dask.distributed scheduler (implies --engine dask)",
    )
    dec.add_argument("--root", help="with --out: mirror folders relative to this folder")
    dec.add_argument(
        "--confidence", help="one file only: also write the per-pixel confidence (.npy or .pfm)"
    )
    codec_args(dec)
    dec.set_defaults(func=cmd_decode)

    conv = add("convert", "encode a whole dataset (files or globs) in parallel")
    conv.add_argument("inputs", nargs="+", help="files or glob patterns (quote them)")
    conv.add_argument(
        "--out",
        required=True,
        help="output folder; the inputs' folders are mirrored under it (relative to each "
        "pattern's root: 'kitti/**/*.png' -> kitti, or to --root)",
    )
    conv.add_argument(
        "--root", help="mirror every input's folder relative to this folder (default: the glob's)"
    )
    conv.add_argument("--workers", type=int, help="processes or Dask workers (all cores)")
    conv.add_argument(
        "--engine",
        choices=["local", "dask"],
        default="local",
        help="local: processes on this machine (default); dask: a Dask LocalCluster, or the "
        "cluster --scheduler names",
    )
    conv.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a dask.distributed scheduler (implies --engine dask)",
    )
    codec_args(conv)
    conv.set_defaults(func=cmd_convert)
    return parser


def _os_error(exc: OSError) -> str:
    """``Permission denied: 'out/x.png'`` rather than ``[Errno 13] Permission denied: ...``."""
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename!r}"
    return str(exc)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (RgbtaskError, ImportError) as exc:
        print(f"rgbtask: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # an output folder that cannot be written, a disk that is full
        print(f"rgbtask: error: {_os_error(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rgbtask: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
