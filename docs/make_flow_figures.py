"""Figures and the robustness table of docs/flow.md. Run: python docs/make_flow_figures.py

Draws the Middlebury wheel (flow/wheel with max_flow=1 over a disc of radius 1.3: the darkened
ring is flow beyond max_flow), a flow field (Sintel frame_0001 from ../shared/data/flow when
present, else the built-in scene's motion field) as flow/wheel and flow/uv, and prints the
end-point error of both codecs under JPEG and noise (the table in docs/flow.md)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask.codecs.flow import scene_flow
from rgbtask.fidelity.perturb import parse_perturbation
from rgbtask.samples import make_scene

OUT = Path(__file__).resolve().parent / "figures"
SINTEL = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "flow" / "sintel"


def disc(size: int = 301, radius: float = 1.3) -> np.ndarray:
    y, x = np.mgrid[-radius : radius : size * 1j, -radius : radius : size * 1j]
    flow = np.stack([x, y], axis=-1)
    flow[np.hypot(x, y) > radius] = np.nan
    return flow


def sample_flow() -> tuple[str, np.ndarray]:
    path = SINTEL / "frame_0001.flo"
    if path.exists():
        from rgbtask.io.tasks import read_flow

        return "Sintel frame_0001", read_flow(path)
    return "built-in scene", scene_flow(make_scene(240, 320, seed=0))


def figure_wheel_and_field() -> None:
    title, flow = sample_flow()
    panels = [
        (
            "flow/wheel, max_flow=1\n(ring: beyond max_flow, clamped)",
            rgbtask.get_codec("flow/wheel", max_flow=1.0).encode(disc()),
        ),
        (
            f"{title}: flow/wheel\n(per-image scale, as flow_vis)",
            rgbtask.get_codec("flow/wheel").encode(flow),
        ),
        (
            f"{title}: flow/uv\n(u red, v green, valid blue)",
            rgbtask.get_codec("flow/uv", max_flow=16.0).encode(flow),
        ),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.4), gridspec_kw={"width_ratios": [1, 2.3, 2.3]})
    for ax, (name, img) in zip(axes, panels):
        ax.imshow(img)
        ax.set_title(name, fontsize=9)
        ax.axis("off")
    axes[0].annotate("u > 0", (0.97, 0.5), xycoords="axes fraction", ha="right", fontsize=8)
    axes[0].annotate("v > 0 (down)", (0.5, 0.02), xycoords="axes fraction", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "flow_wheel.png", dpi=90)
    plt.close(fig)


def robustness_table() -> str:
    title, flow = sample_flow()
    codecs = {
        "flow/wheel (per image)": rgbtask.get_codec("flow/wheel"),
        "flow/wheel, max_flow=16": rgbtask.get_codec("flow/wheel", max_flow=16.0),
        "flow/uv, max_flow=16": rgbtask.get_codec("flow/uv", max_flow=16.0),
        "flow/uv (max_flow=64)": rgbtask.get_codec("flow/uv"),
    }
    perturbations = ["none", "jpeg:q=95,sub=444", "jpeg:q=90,sub=420", "noise:sigma=2"]
    lines = [
        f"| codec ({title}) | " + " | ".join(f"EPE `{p}`" for p in perturbations) + " |",
        "|---|" + "---|" * len(perturbations),
    ]
    for name, codec in codecs.items():
        cells = []
        for text in perturbations:
            rgb = parse_perturbation(text).apply(codec.encode(flow), np.random.default_rng(0))
            m = codec.metrics(flow, codec.decode(rgb))
            cells.append(f"{m['epe']:.3f} px (Fl {m['fl_all']:.2f} %)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    figure_wheel_and_field()
    print(robustness_table())
