"""The ``rgbtask`` command line.

``rgbtask demo``     round-trips every registered codec on the built-in samples and prints a table;
``rgbtask list``     lists the registered codecs;
``rgbtask info``     shows one codec's config, levels and round-trip bound;
``rgbtask eval``     measures what codecs lose under perturbations (Markdown table, CSV, plots);
``rgbtask encode``   encodes one task file (depth, mask, normals, COCO keypoints) to a PNG;
``rgbtask decode``   decodes a PNG back to a task file;
``rgbtask convert``  encodes a whole dataset in parallel, restartable, with a manifest.

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

__all__ = ["main", "parse_params"]


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``["near=0.5", "cmap=turbo", "convention=[1,-1,1]"]`` -> dict (values read as JSON when they parse)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise RgbtaskError(f"expected --param KEY=VALUE, got {item!r}")
        try:
            params[key] = json.loads(text)
        except json.JSONDecodeError:
            params[key] = text
    return params


def _best_time(fn, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _demo_row(codec, values: list[np.ndarray], repeat: int) -> dict[str, Any]:
    """One demo row, measured with the fidelity toolkit: the lossless quantization report, the
    task's headline metric after JPEG q90, and encode / decode throughput."""
    from rgbtask.fidelity import JPEG, evaluate, quantization_report
    from rgbtask.fidelity.evaluate import describe_config
    from rgbtask.metrics import primary_metric

    value = values[0]
    rgb = codec.encode(value)  # also compiles (or loads) the kernels
    decoded = codec.decode_with_confidence(rgb)
    report = quantization_report(codec, [value])
    metric = primary_metric(codec)[0]
    jpeg = evaluate(codec, {"scene": value}, [JPEG(90)], progress=False)[0].get(metric, np.nan)
    pixels = int(np.prod(rgb.shape[:-1]))
    t_enc = _best_time(lambda: codec.encode(value), repeat)
    t_dec = _best_time(lambda: codec.decode_with_confidence(rgb), repeat)
    conf = decoded.confidence[decoded.valid]
    return {
        "codec": codec.name,
        "params": describe_config(codec.get_config(), width=56),
        "levels": "-" if codec.levels is None else str(codec.levels),
        "max_err": report["measured_max"],
        "mean_err": report["measured_mean"],
        "bound": report["bound_max"],
        "unit": codec.error_unit,
        "jpeg": f"{metric} {jpeg:.3g}",
        "conf": float(conf.mean()) if conf.size else float("nan"),
        "valid": 100.0 * float(np.mean(decoded.valid)),
        "enc": pixels / t_enc / 1e6,
        "dec": pixels / t_dec / 1e6,
        "status": "ok" if report["within_bound"] else "OVER BOUND",
    }


def _format_table(rows: list[dict[str, Any]]) -> str:
    headers = [
        "codec",
        "params",
        "levels",
        "max err",
        "mean err",
        "bound",
        "unit",
        "JPEG q90",
        "conf",
        "valid %",
        "enc Mpx/s",
        "dec Mpx/s",
        "status",
    ]
    body = []
    for r in rows:
        if "error" in r:
            body.append(
                [r["codec"], r.get("params", "")] + ["-"] * (len(headers) - 3) + [r["error"]]
            )
            continue
        body.append(
            [
                r["codec"],
                r["params"],
                r["levels"],
                f"{r['max_err']:.3g}",
                f"{r['mean_err']:.3g}",
                f"{r['bound']:.3g}",
                r["unit"],
                r["jpeg"],
                f"{r['conf']:.3f}",
                f"{r['valid']:.1f}",
                f"{r['enc']:.1f}",
                f"{r['dec']:.1f}",
                r["status"],
            ]
        )
    widths = [
        max(len(h), *(len(row[i]) for row in body)) if body else len(h)
        for i, h in enumerate(headers)
    ]
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    out = [line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(row) for row in body]
    return "\n".join(out)


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
    print(
        f"rgbtask demo: {len(names)} codecs on a {height}x{width} procedural scene "
        f"(seed {args.seed}); round trip = decode(encode(x)) from 8/16-bit codes\n"
    )
    print(_format_table(rows))
    failed = [r for r in rows if r.get("status") != "ok"]
    print(
        f"\n{len(rows) - len(failed)} of {len(rows)} round trips within their bound "
        f"({time.perf_counter() - t0:.1f} s)"
    )
    return 1 if failed else 0


def cmd_list(args: argparse.Namespace) -> int:
    from rgbtask.registry import get_codec_class, list_codecs

    for name in list_codecs(task=args.task):
        try:
            doc = (get_codec_class(name).__doc__ or "").strip().splitlines()[0]
        except RgbtaskError as exc:
            doc = f"(cannot load: {exc})"
        print(f"{name:24s} {doc}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from rgbtask.registry import get_codec

    codec = _build(get_codec, args.codec, parse_params(args.param))
    print(json.dumps(codec.info(), indent=2))
    return 0


def _build(get_codec, spec: Any, params: dict[str, Any]):
    """``get_codec(spec, **params)``, with any error a bad parameter raises turned into one
    :class:`RgbtaskError` line (exit status 2): a parameter a codec's own checks let through to a
    ``TypeError`` (``ignore=null``) must not end in a traceback."""
    try:
        return get_codec(spec, **params)
    except RgbtaskError:
        raise
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
        try:
            manifest = json.loads(Path(args.manifest).read_bytes())
        except OSError as exc:
            raise RgbtaskError(
                f"expected a readable manifest.json, got {args.manifest!r}: {exc.strerror}"
            ) from None
        except ValueError as exc:
            raise RgbtaskError(
                f"expected a manifest.json as rgbtask convert writes it, got invalid JSON in "
                f"{args.manifest!r}: {exc}"
            ) from None
        if not isinstance(manifest, dict) or not isinstance(manifest.get("codec"), (dict, str)):
            raise RgbtaskError(
                f"expected a manifest.json holding a 'codec' config (as rgbtask convert writes "
                f"it), got {args.manifest!r} without one"
            )
        return _build(get_codec, manifest["codec"], params)
    if not args.codec:
        raise RgbtaskError("expected --codec NAME (or --manifest FILE)")
    return _build(get_codec, args.codec, params)


def cmd_eval(args: argparse.Namespace) -> int:
    from rgbtask.fidelity import evaluate, parse_perturbation, summarize, to_csv, to_markdown
    from rgbtask.registry import get_codec
    from rgbtask.samples import make_scene

    params = parse_params(args.param)
    codecs = [_build(get_codec, name, params) for name in args.codec]
    perturbations = [parse_perturbation(p) for p in args.perturb] if args.perturb else None
    height, width = args.size
    scenes = {f"scene{s}": make_scene(height, width, seed=s) for s in range(args.scenes)}
    records = evaluate(codecs, scenes, perturbations, seed=args.seed)
    rows = summarize(records)
    table = to_markdown(rows)
    print(table)
    if args.out:
        from rgbtask.fidelity.plots import plot_metric_vs_perturbation

        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "eval.md").write_text(table + "\n")
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


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(x) for x in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW like 480x640, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size, got {text!r}")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rgbtask", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="round-trip every codec on the built-in samples")
    demo.add_argument("--size", type=_size, default=(480, 640), help="scene size HxW (480x640)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--codec", action="append", help="only this codec (repeatable)")
    demo.add_argument("--repeat", type=int, default=3, help="timing repeats (best of)")
    demo.set_defaults(func=cmd_demo)

    lst = sub.add_parser("list", help="list the registered codecs")
    lst.add_argument("--task", help="only this task's codecs (depth, mask, normals, keypoints)")
    lst.set_defaults(func=cmd_list)

    info = sub.add_parser("info", help="a codec's config, levels and round-trip bound")
    info.add_argument("codec")
    info.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    info.set_defaults(func=cmd_info)
    ev = sub.add_parser("eval", help="what codecs lose under perturbations")
    ev.add_argument("--codec", action="append", required=True, help="codec name (repeatable)")
    ev.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="codec parameter, applied to every --codec",
    )
    ev.add_argument(
        "--perturb",
        action="append",
        metavar="SPEC",
        help="e.g. jpeg:q=90,sub=420 or noise:sigma=2 (repeatable; default: lossless, "
        "png, jpeg q95/q90 4:4:4, jpeg q90 4:2:0, noise 2/255)",
    )
    ev.add_argument("--out", help="also write eval.md, eval.csv and eval.png here")
    ev.add_argument("--size", type=_size, default=(240, 320), help="scene size HxW (240x320)")
    ev.add_argument("--scenes", type=int, default=2, help="number of built-in scenes (2)")
    ev.add_argument("--seed", type=int, default=0)
    ev.set_defaults(func=cmd_eval)

    def codec_args(p):
        p.add_argument("--codec", help="codec name")
        p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
        p.add_argument("--manifest", help="take the codec from a convert manifest.json")
        p.add_argument(
            "--depth-scale",
            type=float,
            dest="depth_scale",
            help="integer depth PNG value / S = metres (1000 for mm, 256 for KITTI)",
        )

    enc = sub.add_parser("encode", help="encode one task file to a PNG")
    enc.add_argument(
        "input",
        help="depth .png/.npy/.pfm/.exr, mask .png/.npy, normals .npy/.exr, or COCO keypoint .json",
    )
    enc.add_argument("output", help="the PNG to write")
    enc.add_argument("--image", help="COCO: the image file name to encode")
    enc.add_argument("--manifest-out", dest="manifest_out", help="also write the codec config here")
    codec_args(enc)
    enc.set_defaults(func=cmd_encode)

    dec = sub.add_parser(
        "decode",
        help="decode a PNG back to a task file, or a folder of them (--out)",
        epilog="examples:\n  rgbtask decode enc/frame.png frame.npy --manifest enc/manifest.json\n"
        "  rgbtask decode 'enc/**/*.png' --out decoded/ --manifest enc/manifest.json\n"
        "  rgbtask decode 'enc/**/*.png' --out depth16/ --manifest enc/manifest.json "
        "--format png --depth-scale 1000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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

    conv = sub.add_parser(
        "convert",
        help="encode a whole dataset (files or globs) in parallel",
        epilog="examples:\n"
        "  rgbtask convert 'nyu/**/*.png' --out encoded/ --codec depth/cubewalk --depth-scale 1000\n"
        "  rgbtask convert 'kitti/train/**/*.png' 'kitti/val/**/*.png' --root kitti --out enc/ "
        "--codec depth/cubewalk --depth-scale 256\n"
        "  rgbtask convert person_keypoints_val2017.json --out kp/ --codec keypoints/heatmap "
        "--param num_keypoints=17",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
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
