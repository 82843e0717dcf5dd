"""Figures for docs/normals.md. Run: python docs/make_normals_figures.py"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import rgbtask
from rgbtask.metrics import angular_error_deg
from rgbtask.samples import make_scene

OUT = Path(__file__).resolve().parent / "figures"


def hemisphere(size: int = 201) -> np.ndarray:
    """Normals of a sphere facing the viewer (OpenGL frame), NaN outside the disc."""
    y, x = np.mgrid[1 : -1 : size * 1j, -1 : 1 : size * 1j]
    z2 = 1 - x * x - y * y
    n = np.stack([x, y, np.sqrt(np.clip(z2, 0, None))], axis=-1)
    n[z2 < 0] = np.nan
    return n


def figure_encoding() -> None:
    codec = rgbtask.get_codec("normals/xyz")
    scene = make_scene(240, 320, seed=0)
    panels = [
        ("scene (shaded)", scene.image),
        ("normals/xyz of the scene", codec.encode(scene.normals)),
        ("legend: a sphere facing you", codec.encode(hemisphere())),
    ]
    fig, axes = plt.subplots(1, 3, figsize=(10, 2.9))
    for ax, (title, img) in zip(axes, panels):
        ax.imshow(img)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    axes[2].annotate("+x red", (0.98, 0.5), xycoords="axes fraction", ha="right", fontsize=8)
    axes[2].annotate("+y green", (0.5, 0.97), xycoords="axes fraction", ha="center", fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "normals_encoding.png", dpi=90)
    plt.close(fig)


def figure_error() -> None:
    rng = np.random.default_rng(0)
    n = rng.normal(size=(400_000, 1, 3))
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    codec = rgbtask.get_codec("normals/xyz")
    err = angular_error_deg(n, codec.decode(codec.encode(n))).ravel()

    sigmas = np.array([0, 0.5, 1, 2, 4, 8, 16]) / 255
    rgb = codec.encode(n)
    mean_err, mean_conf = [], []
    for s in sigmas:
        noisy = np.clip(rgb / 255 + rng.normal(scale=s, size=rgb.shape), 0, 1)
        value, conf, _valid = codec.decode_with_confidence(noisy)
        mean_err.append(np.nanmean(angular_error_deg(n, value)))
        mean_conf.append(conf.mean())

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
    a.hist(err, bins=80, color="#4c72b0")
    a.axvline(codec.max_error_deg, color="k", ls="--", lw=1)
    a.text(
        codec.max_error_deg,
        a.get_ylim()[1] * 0.9,
        " bound arcsin(√3/255)\n = 0.389°",
        fontsize=8,
        va="top",
    )
    a.set_xlabel("8-bit round-trip angular error (deg), uniform on the sphere")
    a.set_ylabel("count")
    a.set_title(f"mean {err.mean():.3f}°, max {err.max():.3f}°", fontsize=9)
    b.plot(sigmas * 255, mean_err, "o-", label="mean angular error (deg)")
    b.set_xlabel("Gaussian noise sigma (in 8-bit levels)")
    b.set_ylabel("mean angular error (deg)")
    b2 = b.twinx()
    b2.plot(sigmas * 255, mean_conf, "s--", color="#dd8452", label="mean confidence")
    b2.set_ylim(0, 1.05)
    b2.set_ylabel("mean confidence")
    b.set_title("decode of noisy codes (float input, not rounded)", fontsize=9)
    fig.tight_layout()
    fig.savefig(OUT / "normals_error.png", dpi=90)
    plt.close(fig)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    figure_encoding()
    figure_error()
    print("wrote", *sorted(p.name for p in OUT.glob("normals_*.png")))
