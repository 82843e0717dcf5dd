"""Plots for fidelity reports (matplotlib, imported here only, with the Agg backend when headless)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import RgbtaskError

__all__ = ["plot_error_map", "plot_metric_vs_perturbation", "plot_strip"]


def _pyplot():
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "pdf", "svg", "cairo"):
        import os

        if not os.environ.get("DISPLAY"):
            matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, path: str | Path) -> Path:
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _label(config: str) -> str:
    from rgbtask.fidelity.evaluate import describe_config

    return f"{json.loads(config)['name']} {describe_config(config, width=48)}"


def plot_metric_vs_perturbation(
    rows: Sequence[Mapping[str, Any]], path: str | Path, metric: str | None = None, title: str = ""
) -> Path:
    """One line per codec config: ``metric`` (default: each task's primary metric) per perturbation.

    ``rows`` are :func:`~rgbtask.fidelity.evaluate` records or :func:`summarize` rows; samples are
    averaged. Codecs of different tasks go to separate panels.
    """
    from rgbtask.fidelity.evaluate import summarize
    from rgbtask.metrics import primary_metric
    from rgbtask.registry import get_codec_class

    rows = summarize(rows) if rows and "sample" in rows[0] else list(rows)
    plt = _pyplot()
    order: list[str] = []
    for r in rows:
        if r["perturbation"] not in order:
            order.append(r["perturbation"])
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for r in rows:
        if metric is None:
            try:
                m = primary_metric(get_codec_class(r["codec"]))[0]
            except RgbtaskError:  # a codec no longer registered
                m = "mean_error"
        else:
            m = metric
        by_metric.setdefault(m, []).append(r)
    fig, axes = plt.subplots(len(by_metric), 1, figsize=(11, 3.8 * len(by_metric)), squeeze=False)
    for ax, (m, group) in zip(axes[:, 0], by_metric.items()):
        for config in dict.fromkeys(r["config"] for r in group):
            pts = {r["perturbation"]: r.get(m, np.nan) for r in group if r["config"] == config}
            ax.plot(
                range(len(order)), [pts.get(p, np.nan) for p in order], "o-", label=_label(config)
            )
        ax.set_xticks(range(len(order)), order, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(m)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    return _save(plt, fig, path)


def plot_error_map(
    codec: Any, value: np.ndarray, path: str | Path, perturbation: Any = None, seed: int = 0
) -> Path:
    """The encoded image, the (perturbed) image and the per-item round-trip error, side by side.

    ``codec`` is a name, config dict or Codec; ``perturbation`` a
    :class:`~rgbtask.fidelity.perturb.Perturbation`, a spec such as ``"jpeg:q=90"``, or None.
    """
    from rgbtask.fidelity.evaluate import _as_codec
    from rgbtask.fidelity.perturb import parse_perturbation

    codec = _as_codec(codec)
    if isinstance(perturbation, str):
        perturbation = parse_perturbation(perturbation)
    plt = _pyplot()
    rgb = codec.encode(value)
    seen = perturbation(rgb, np.random.default_rng(seed)) if perturbation is not None else rgb
    err = np.asarray(codec.roundtrip_error(value, codec.decode(seen)), dtype=np.float64)
    while err.ndim > 2:
        err = err[0]
    shown = rgb.reshape((-1, *rgb.shape[-3:]))[0]
    seen_img = seen.reshape((-1, *seen.shape[-3:]))[0]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4))
    axes[0].imshow(shown)
    axes[0].set_title(f"{codec.name}: encoded", fontsize=9)
    axes[1].imshow(seen_img)
    axes[1].set_title(perturbation.label if perturbation is not None else "lossless", fontsize=9)
    finite = np.where(np.isfinite(err), err, np.nan)
    im = axes[2].imshow(finite, cmap="magma")
    axes[2].set_title(f"round-trip error ({codec.error_unit}); white: validity flipped", fontsize=9)
    flipped = ~np.isfinite(err)
    if flipped.any():
        axes[2].imshow(np.where(flipped, 1.0, np.nan), cmap="gray", vmin=0, vmax=1)
    fig.colorbar(im, ax=axes[2], fraction=0.04)
    for ax in axes:
        ax.axis("off")
    return _save(plt, fig, path)


def plot_strip(
    codecs: Sequence[Any],
    values: np.ndarray,
    path: str | Path,
    xlabel: str = "value",
    positions: np.ndarray | None = None,
) -> Path:
    """Colour strips: each codec (a name, config dict or Codec) encodes the same 1-D ramp of
    ``values`` (e.g. depths, or unit vectors), drawn against ``positions`` (default: the values
    themselves when scalar)."""
    from rgbtask.fidelity.evaluate import _as_codec

    if isinstance(codecs, (str, Mapping)) or not isinstance(codecs, Sequence):
        codecs = [codecs]
    codecs = [_as_codec(c) for c in codecs]
    values = np.asarray(values)
    if positions is None:
        positions = values if values.ndim == 1 else np.arange(len(values))
    plt = _pyplot()
    fig, axes = plt.subplots(len(codecs), 1, figsize=(8, 0.55 * len(codecs) + 0.6), squeeze=False)
    for ax, codec in zip(axes[:, 0], codecs):
        strip = codec.encode(np.asarray(values)[None, :])
        ax.imshow(
            np.repeat(strip, 12, axis=0),
            aspect="auto",
            extent=(float(positions[0]), float(positions[-1]), 0, 1),
        )
        ax.set_yticks([])
        ax.set_ylabel(codec.name.split("/")[-1], rotation=0, ha="right", va="center", fontsize=8)
    axes[-1, 0].set_xlabel(xlabel)
    for ax in axes[:-1, 0]:
        ax.set_xticks([])
    return _save(plt, fig, path)
