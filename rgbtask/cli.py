"""The ``rgbtask`` command line.

``rgbtask demo``   round-trips every registered codec on the built-in samples and prints a table;
``rgbtask list``   lists the registered codecs;
``rgbtask info``   shows one codec's config, levels and round-trip bound.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
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
    value = values[0]
    rgb = codec.encode(value)  # also compiles (or loads) the kernels
    decoded = codec.decode_with_confidence(rgb)
    err = np.asarray(codec.roundtrip_error(value, decoded.value), dtype=np.float64)
    bound = np.broadcast_to(np.asarray(codec.roundtrip_bound(value), dtype=np.float64), err.shape)
    ok = bool(np.all(err <= bound * (1 + 1e-6) + 1e-12))
    finite = err[np.isfinite(err)]
    pixels = int(np.prod(rgb.shape[:-1]))
    t_enc = _best_time(lambda: codec.encode(value), repeat)
    t_dec = _best_time(lambda: codec.decode_with_confidence(rgb), repeat)
    conf = decoded.confidence[decoded.valid]
    params = {k: v for k, v in codec.get_config().items() if k != "name"}
    return {
        "codec": codec.name,
        "params": " ".join(f"{k}={json.dumps(v)}" for k, v in params.items()),
        "levels": "-" if codec.levels is None else str(codec.levels),
        "max_err": float(finite.max()) if finite.size else 0.0,
        "mean_err": float(finite.mean()) if finite.size else 0.0,
        "bound": float(np.max(bound)) if bound.size else 0.0,
        "unit": codec.error_unit,
        "conf": float(conf.mean()) if conf.size else float("nan"),
        "valid": 100.0 * float(np.mean(decoded.valid)),
        "enc": pixels / t_enc / 1e6,
        "dec": pixels / t_dec / 1e6,
        "status": "ok" if ok else "OVER BOUND",
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
                [
                    r["codec"],
                    r.get("params", ""),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    r["error"],
                ]
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

    codec = get_codec(args.codec, **parse_params(args.param))
    print(json.dumps(codec.info(), indent=2))
    return 0


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except RgbtaskError as exc:
        print(f"rgbtask: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
