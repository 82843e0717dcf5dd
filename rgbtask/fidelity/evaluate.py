"""evaluate(): every codec x sample x perturbation, as a tidy table of records.

One record per (codec, sample, perturbation) holds the codec's name and JSON config, the sample's
name, the perturbation's label, the task's standard metrics (``codec.metrics``: AbsRel ... for depth,
mIoU for masks, angular error for normals, PCK for keypoints), the mean confidence and the share of
items decoded as valid. Scalars only, so the records go straight into CSV, Markdown or pandas.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import zlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from rgbtask._progress import progress_bar
from rgbtask.codec import Codec, within_bound
from rgbtask.fidelity.perturb import JPEG, PNG, Identity, Noise, Perturbation, parse_perturbation

__all__ = [
    "COLUMN_NOTES",
    "DEFAULT_PERTURBATIONS",
    "describe_config",
    "error_budget",
    "evaluate",
    "metric_notes",
    "quantization_report",
    "summarize",
    "to_csv",
    "to_markdown",
    "to_pandas",
    "value_for",
]

#: What `evaluate` and `rgbtask eval` apply when none are given.
DEFAULT_PERTURBATIONS: tuple[Perturbation, ...] = (
    Identity(),
    PNG(),
    JPEG(95, "4:4:4"),
    JPEG(90, "4:4:4"),
    JPEG(90, "4:2:0"),
    Noise(2.0),
)


def _as_codec(spec: Any) -> Codec:
    from rgbtask.registry import get_codec

    return get_codec(spec)


def value_for(codec: Codec, scene: Any) -> np.ndarray:
    """A task value for ``codec`` from a :class:`rgbtask.samples.Scene`.

    The codec's own examples on that scene are used: the value of the example whose config equals
    the codec's, else the first example's (its task is the same; its range may not fit an unusual
    config, e.g. a depth range far from the room's 3-8 m). A codec parameter that names one of the
    scene's own (``scene.params``: ``size``, ``num_keypoints``) asks for the scene rendered with
    that value: ``keypoints/heatmap`` with ``num_keypoints=17`` gets 17 keypoints per box.
    """
    scene = _scene_for(codec, scene)
    examples = list(type(codec).examples(scene))
    if not examples:
        raise ValueError(f"expected {codec.name} to yield examples for a scene, got none")
    for example, values in examples:
        if example == codec:
            return values[0]
    return examples[0][1][0]


def _json(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def _scene_for(codec: Codec, scene: Any) -> Any:
    """``scene`` rendered again with the scene parameters ``codec``'s config sets differently."""
    params = getattr(scene, "params", None)
    if not params or not hasattr(scene, "with_params"):
        return scene
    config = codec.get_config()
    changes = {
        k: config[k]
        for k in params
        if config.get(k) is not None and _json(config[k]) != _json(params[k])
    }
    return scene.with_params(**changes) if changes else scene


def _samples(samples: Any) -> list[tuple[str, Any]]:
    if samples is None:
        from rgbtask.samples import make_scene

        return [(f"scene{seed}", make_scene(240, 320, seed=seed)) for seed in (0, 1)]
    if isinstance(samples, Mapping):
        return list(samples.items())
    if isinstance(samples, np.ndarray):
        return [("sample0", samples)]
    return [(f"sample{i}", s) for i, s in enumerate(samples)]


def evaluate(
    codecs: Any,
    samples: Any = None,
    perturbations: Iterable[Perturbation | str] | None = None,
    *,
    seed: int = 0,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """Round-trip every codec on every sample under every perturbation.

    Parameters
    ----------
    codecs : name, config dict, Codec, or a list of them
    samples : None (two built-in scenes), a list or dict of :class:`~rgbtask.samples.Scene` or of
        task values (arrays the codecs encode)
    perturbations : :class:`~rgbtask.fidelity.perturb.Perturbation` objects or strings such as
        ``"jpeg:q=90,sub=420"`` (default :data:`DEFAULT_PERTURBATIONS`)
    seed : seeds the random perturbations; each (sample, perturbation) gets its own stream, so a
        record does not depend on which other codecs or perturbations ran
    progress : a tqdm bar on stderr; default only when stderr is a terminal
    """
    if isinstance(codecs, (str, Mapping, Codec)):
        codecs = [codecs]
    codec_list = [_as_codec(c) for c in codecs]
    perts = [
        parse_perturbation(p) if isinstance(p, str) else p
        for p in (perturbations if perturbations is not None else DEFAULT_PERTURBATIONS)
    ]
    sample_list = _samples(samples)
    bar = progress_bar(
        len(codec_list) * len(sample_list) * len(perts), progress, "rgbtask eval", "run"
    )
    records: list[dict[str, Any]] = []
    try:
        for codec in codec_list:
            config = json.dumps(codec.get_config(), sort_keys=True)
            for s_name, sample in sample_list:
                value = sample if isinstance(sample, np.ndarray) else value_for(codec, sample)
                rgb = codec.encode(value)
                for pert in perts:
                    # A stream per (sample, perturbation), keyed by their names: a record does
                    # not depend on which other samples or perturbations ran.
                    rng = np.random.default_rng(
                        [seed, zlib.crc32(s_name.encode()), zlib.crc32(pert.label.encode())]
                    )
                    decoded = codec.decode_with_confidence(pert(rgb, rng))
                    metrics = codec.metrics(value, decoded.value)
                    record = {
                        "codec": codec.name,
                        "config": config,
                        "sample": s_name,
                        "perturbation": pert.label,
                    }
                    record.update({k: v for k, v in metrics.items() if np.isscalar(v)})
                    conf = decoded.confidence[decoded.valid]
                    record["confidence"] = float(conf.mean()) if conf.size else float("nan")
                    record["valid_pct"] = float(np.mean(decoded.valid) * 100)
                    records.append(record)
                    if bar is not None:
                        bar.update()
    finally:
        if bar is not None:
            bar.close()
    return records


def summarize(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Average the numeric fields over samples: one row per (codec config, perturbation)."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in records:
        groups.setdefault((r["config"], r["perturbation"]), []).append(r)
    rows = []
    for (config, pert), group in groups.items():
        row: dict[str, Any] = {
            "codec": group[0]["codec"],
            "config": config,
            "perturbation": pert,
            "samples": len(group),
        }
        keys = [k for k in group[0] if k not in ("codec", "config", "sample", "perturbation")]
        for k in keys:
            vals = [g[k] for g in group if isinstance(g.get(k), (int, float))]
            row[k] = float(np.mean(vals)) if vals else float("nan")
        rows.append(row)
    return rows


def describe_config(config: str | Mapping[str, Any], width: int | None = None) -> str:
    """A codec config's parameters that differ from its class's defaults, as ``k=v`` text
    (``(defaults)`` when none do), cut to ``width`` characters."""
    from rgbtask.registry import get_codec_class

    config = json.loads(config) if isinstance(config, str) else dict(config)
    try:
        cls = get_codec_class(config["name"])
        defaults = {
            f.name: json.loads(json.dumps(f.default, default=list))
            for f in dataclasses.fields(cls)
            if f.init and f.default is not dataclasses.MISSING
        }
    except Exception:  # not a dataclass, or a codec no longer registered: show every parameter
        defaults = {}
    params = {k: v for k, v in config.items() if k != "name" and defaults.get(k) != v}
    text = " ".join(f"{k}={json.dumps(v)}" for k, v in params.items()) or "(defaults)"
    if width is not None and len(text) > width:
        text = text[: width - 3] + "..."
    return text


def _params(config: str) -> str:
    return describe_config(config, width=60)


#: What the columns of an evaluation table mean (the legend under ``rgbtask eval``'s table).
#: Counts and shares are not errors: a ``count 4`` is 4 reference items compared.
COLUMN_NOTES: dict[str, str] = {
    "samples": "samples averaged over",
    "count": "reference items compared per sample (pixels, keypoints): a size, not an error",
    "valid_pct": (
        "% of the decoded output's items flagged valid (pixels; for keypoints, of max_instances x "
        "K slots, so unused instance slots lower it: not a failure)"
    ),
    "confidence": "mean decoder confidence over valid items (0..1)",
    "found": "% of the reference's visible keypoints the decoder found",
    "mean_px": "mean keypoint error in pixels (found keypoints)",
    "p95_px": "95th percentile keypoint error in pixels",
    "max_px": "largest keypoint error in pixels",
    "pck@0.05": "% of keypoints within 0.05 x the instance's extent (PCK)",
    "abs_rel": "mean |d - d*| / d* (depth)",
    "sq_rel": "mean (d - d*)^2 / d* (depth)",
    "rmse": "root mean square error, in the task's unit",
    "log_rmse": "RMSE of log depth",
    "delta1": "% of pixels with max(d/d*, d*/d) < 1.25",
    "delta2": "% of pixels with max(d/d*, d*/d) < 1.25^2",
    "delta3": "% of pixels with max(d/d*, d*/d) < 1.25^3",
    "invalid_flips": "items whose validity changed (valid decoded as invalid or the reverse)",
    "miou": "mean IoU over the classes present, %",
    "pixel_acc": "% of pixels with the right label",
    "mean": "mean angular error, degrees",
    "median": "median angular error, degrees",
    "within_30": "% of pixels within 30 degrees",
    "mean_error": "mean round-trip error, in the codec's error unit",
    "max_error": "largest round-trip error, in the codec's error unit",
}


def metric_notes(rows: Sequence[Mapping[str, Any]]) -> str:
    """The legend of an evaluation table: one line per column of ``rows`` that
    :data:`COLUMN_NOTES` explains."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    lines = [f"- {c}: {COLUMN_NOTES[c]}" for c in columns if c in COLUMN_NOTES]
    return ("Columns:\n" + "\n".join(lines)) if lines else ""


def to_markdown(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, digits: int = 4
) -> str:
    """A Markdown table of records or summary rows (configs shown as their parameters)."""
    if not rows:
        return "(no results)"
    if columns is None:
        columns = []
        for r in rows:
            columns += [k for k in r if k not in columns]
    header = ["params" if c == "config" else c for c in columns]

    def cell(r, c):
        v = r.get(c, "")
        if c == "config":
            return _params(v)
        if isinstance(v, float):
            if v != v:
                return "nan"
            return str(int(v)) if v.is_integer() and abs(v) < 1e15 else f"{v:.{digits}g}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(r, c) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def to_csv(rows: Sequence[Mapping[str, Any]], path) -> None:
    """Write records (or summary rows) to CSV, with the union of their keys as columns."""
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)


def to_pandas(rows: Sequence[Mapping[str, Any]]):
    """A pandas DataFrame of the records (pandas is optional: ImportError names it)."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("to_pandas needs pandas: pip install pandas") from exc
    return pd.DataFrame(list(rows))


def quantization_report(
    codec: Any, values: Sequence[np.ndarray] | np.ndarray, at: Sequence[float] = ()
) -> dict[str, Any]:
    """What an encoding loses losslessly: levels, the theoretical bound, the measured error.

    ``measured_max`` / ``bound_max`` is at most 1 for a correct codec. For codecs with a
    ``step_at(value)`` method (depth: the quantization step at a depth), ``at`` lists the values to
    report it at, e.g. ``at=(2.0, 40.0)`` for 2 m and 40 m.
    """
    codec = _as_codec(codec)
    if isinstance(values, np.ndarray):
        values = [values]
    errors, bounds = [], []
    for value in values:
        decoded = codec.decode(codec.encode(value))
        err = np.asarray(codec.roundtrip_error(value, decoded), dtype=np.float64)
        bound = np.broadcast_to(
            np.asarray(codec.roundtrip_bound(value), dtype=np.float64), err.shape
        )
        keep = np.isfinite(err)
        errors.append(err[keep])
        bounds.append(bound[keep])
    err, bound = np.concatenate(errors), np.concatenate(bounds)
    report = {
        "codec": codec.name,
        "config": codec.get_config(),
        "levels": codec.levels,
        "unit": codec.error_unit,
        "bound_text": codec.bound_text(),
        "bound_max": float(bound.max()) if bound.size else float("nan"),
        "measured_max": float(err.max()) if err.size else float("nan"),
        "measured_mean": float(err.mean()) if err.size else float("nan"),
        "within_bound": bool(np.all(within_bound(err, bound))),
    }
    step_at = getattr(codec, "step_at", None)
    for x in at:
        if step_at is not None:
            report[f"step_at_{x:g}"] = float(np.asarray(step_at(np.asarray(x, dtype=np.float64))))
    return report


def error_budget(
    codec: Any,
    values: Sequence[np.ndarray] | np.ndarray,
    metric: str,
    reference: float,
    reference_name: str = "the reference",
) -> dict[str, Any]:
    """How much of an error budget the lossless encoding spends.

    Example: ``error_budget("depth/cubewalk", nyu_depths, "abs_rel", 0.056, "a state-of-the-art
    NYU model")`` gives the AbsRel that encoding alone adds, its share of the reference's 0.056,
    and a sentence saying so.
    """
    codec = _as_codec(codec)
    if isinstance(values, np.ndarray):
        values = [values]
    scores = [codec.metrics(v, codec.decode(codec.encode(v)))[metric] for v in values]
    added = float(np.mean(scores))
    share = added / reference if reference else float("nan")
    params = _params(json.dumps(codec.get_config()))
    return {
        "codec": codec.name,
        "metric": metric,
        "added": added,
        "reference": reference,
        "share": share,
        "text": (
            f"{codec.name} {params if params.startswith('(') else f'({params})'} adds {metric} "
            f"{added:.3g} on these "
            f"samples, {share * 100:.2g}% of the {reference:g} of {reference_name}"
        ),
    }
