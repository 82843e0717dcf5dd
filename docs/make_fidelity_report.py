"""The fidelity report of the built-in codecs: docs/fidelity_report.md and docs/figures/fidelity_*.png.

Run: python docs/make_fidelity_report.py
(the same as `rgbtask eval --codec NAME ... --out DIR` for every registered codec, with plots per task)
"""

from __future__ import annotations

from pathlib import Path

import rgbtask
from rgbtask.fidelity import evaluate, parse_perturbation, summarize, to_markdown
from rgbtask.fidelity.plots import plot_error_map, plot_metric_vs_perturbation
from rgbtask.metrics import primary_metric
from rgbtask.registry import get_codec_class
from rgbtask.samples import make_scene

DOCS = Path(__file__).resolve().parent
PERTURBATIONS = [
    "none",
    "png",
    "jpeg:q=95",
    "jpeg:q=90",
    "jpeg:q=90,sub=420",
    "jpeg:q=75",
    "webp:q=90",
    "noise:sigma=2",
    "noise:sigma=4",
    "resize:scale=0.5",
    "blur:sigma=0.7",
]
COMMAND = "python docs/make_fidelity_report.py"


def main() -> None:
    scenes = {f"scene{s}": make_scene(240, 320, seed=s) for s in range(2)}
    lines = [
        "# Fidelity report of the built-in codecs",
        "",
        f"Made by `{COMMAND}` on two built-in scenes (240x320, seeds 0 and 1); every codec in its "
        "default configuration(s), as `rgbtask demo` lists them. Each row averages the two scenes. "
        "The same table for any codec comes from `rgbtask eval --codec NAME --out DIR`.",
        "",
    ]
    figures = DOCS / "figures"
    figures.mkdir(exist_ok=True)
    for task in sorted({name.split("/")[0] for name in rgbtask.list_codecs()}):
        codecs = []
        for name in rgbtask.list_codecs(task):
            examples = list(get_codec_class(name).examples(scenes["scene0"]))
            codecs += [c for c, _ in examples[:2]]
        records = evaluate(codecs, scenes, PERTURBATIONS, progress=False)
        rows = summarize(records)
        metric = primary_metric(codecs[0])[0]
        columns = ["codec", "config", "perturbation", metric]
        extra = {
            "depth": ["delta1", "invalid_flips"],
            "mask": ["pixel_acc"],
            "normals": ["within_11.25"],
            "keypoints": ["pck@0.05", "found"],
            "flow": ["px3", "fl_all"],
        }.get(task, [])
        columns += [c for c in extra if c in rows[0]] + ["confidence", "valid_pct"]
        plot = plot_metric_vs_perturbation(
            records, figures / f"fidelity_{task}.png", title=f"{task}: {metric} per perturbation"
        )
        emap = plot_error_map(
            codecs[0],
            next(iter(get_codec_class(codecs[0].name).examples(scenes["scene0"])))[1][0],
            figures / f"fidelity_{task}_errormap.png",
            parse_perturbation("jpeg:q=90"),
        )
        lines += [
            f"## {task}",
            "",
            to_markdown(rows, columns),
            "",
            f"![{task}](figures/{plot.name})",
            "",
            f"![{task} error map](figures/{emap.name})",
            "",
        ]
    (DOCS / "fidelity_report.md").write_text("\n".join(lines))
    print("wrote", DOCS / "fidelity_report.md")


if __name__ == "__main__":
    main()
