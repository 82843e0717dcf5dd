"""Fidelity toolkit: how much does an encoding lose, and under what?

* :mod:`~rgbtask.fidelity.perturb`: seeded, composable perturbations (JPEG, WebP, PNG, noise, blur,
  resize, 8-bit quantization, colour shift, chains);
* :func:`evaluate`: codecs x samples x perturbations -> a tidy table of the tasks' standard metrics;
* :func:`quantization_report`, :func:`error_budget`: the lossless side;
* :mod:`~rgbtask.fidelity.plots`: error vs perturbation, error maps, colour strips (matplotlib, lazily).
"""

from rgbtask.fidelity.evaluate import (
    DEFAULT_PERTURBATIONS,
    error_budget,
    evaluate,
    quantization_report,
    summarize,
    to_csv,
    to_markdown,
    to_pandas,
    value_for,
)
from rgbtask.fidelity.perturb import (
    JPEG,
    PNG,
    Blur,
    Chain,
    ChannelShift,
    Identity,
    Noise,
    Perturbation,
    Quantize8,
    Resize,
    WebP,
    parse_perturbation,
)

__all__ = [
    "DEFAULT_PERTURBATIONS",
    "JPEG",
    "PNG",
    "Blur",
    "Chain",
    "ChannelShift",
    "Identity",
    "Noise",
    "Perturbation",
    "Quantize8",
    "Resize",
    "WebP",
    "error_budget",
    "evaluate",
    "parse_perturbation",
    "quantization_report",
    "summarize",
    "to_csv",
    "to_markdown",
    "to_pandas",
    "value_for",
]
