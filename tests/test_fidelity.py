"""Perturbations, evaluate(), reports and plots."""

from __future__ import annotations

import json

import numpy as np
import pytest

import rgbtask
from rgbtask import fidelity
from rgbtask.fidelity import (
    JPEG,
    PNG,
    Blur,
    Chain,
    ChannelShift,
    Identity,
    Noise,
    Quantize8,
    Resize,
    WebP,
    parse_perturbation,
)


@pytest.fixture(scope="module")
def rgb():
    return rgbtask.get_codec("normals/xyz").encode(
        __import__("rgbtask.samples", fromlist=["x"]).make_scene(32, 40, seed=1).normals
    )


def test_png_is_lossless_at_8_and_16_bits(rgb):
    assert np.array_equal(PNG()(rgb), rgb)
    rgb16 = rgb.astype(np.uint16) * 257 + 3
    assert np.array_equal(PNG()(rgb16), rgb16)


def test_jpeg_uses_the_requested_quality_and_subsampling(rgb):
    q95, q50 = JPEG(95)(rgb), JPEG(50)(rgb)
    assert q95.dtype == np.uint8 and q95.shape == rgb.shape
    err = lambda x: np.abs(x.astype(int) - rgb).mean()  # noqa: E731
    assert 0 < err(q95) < err(q50)
    assert err(JPEG(90, "4:4:4")(rgb)) < err(JPEG(90, "4:2:0")(rgb))


def test_webp_lossy_and_lossless(rgb):
    assert np.array_equal(WebP(lossless=True)(rgb), rgb)
    assert not np.array_equal(WebP(quality=50)(rgb), rgb)


def test_noise_is_seeded_float_and_has_the_right_sigma(rgb):
    a = Noise(2.0)(rgb, np.random.default_rng(1))
    b = Noise(2.0)(rgb, np.random.default_rng(1))
    assert a.dtype == np.float64 and np.array_equal(a, b)
    inner = (rgb > 10) & (rgb < 245)  # away from the clipping at 0 and 1
    assert np.std((a - rgb / 255)[inner]) * 255 == pytest.approx(2.0, rel=0.05)


def test_resize_blur_shift_quantize(rgb):
    assert Resize(0.5)(rgb).shape == rgb.shape
    assert np.allclose(Resize(1.0, "nearest")(rgb), rgb / 255)
    blurred = Blur(1.0)(rgb)
    assert blurred.shape == rgb.shape and not np.allclose(blurred, rgb / 255)
    shifted = ChannelShift((2, 0, -2))(np.full((1, 2, 3), 0.5))
    assert np.allclose(shifted[..., 0], 0.5 + 2 / 255) and np.allclose(
        shifted[..., 2], 0.5 - 2 / 255
    )
    assert Quantize8()(np.array([[[0.5, 1.0, 0.0]]])).tolist() == [[[128, 255, 0]]]


def test_batches_are_perturbed_image_by_image(rgb):
    batch = np.stack([rgb, rgb[::-1]])
    out = JPEG(80)(batch)
    assert np.array_equal(out[1], JPEG(80)(rgb[::-1]))


def test_parse_perturbation():
    assert parse_perturbation("jpeg:q=90,sub=420") == JPEG(90, "4:2:0")
    assert parse_perturbation("noise:sigma=4") == Noise(4.0)
    assert parse_perturbation("none") == Identity()
    chain = parse_perturbation("resize:scale=0.5,interp=bicubic+jpeg:q=95")
    assert chain == Chain(Resize(0.5, "bicubic"), JPEG(95))
    assert chain.label == "resize x0.5 bicubic + jpeg q95 4:4:4"
    assert parse_perturbation("shift:offset=1/2/3") == ChannelShift((1, 2, 3))
    with pytest.raises(rgbtask.ConfigError, match="expected a perturbation kind"):
        parse_perturbation("gif")
    with pytest.raises(rgbtask.ConfigError, match="expected JPEG quality"):
        parse_perturbation("jpeg:q=101")
    with pytest.raises(rgbtask.ConfigError, match="expected key=value"):
        parse_perturbation("jpeg:90")


def test_evaluate_is_tidy_seeded_and_orders_the_damage():
    records = fidelity.evaluate(
        ["normals/xyz"],
        perturbations=["none", "jpeg:q=95", "jpeg:q=60,sub=420", "noise:sigma=8"],
        progress=False,
    )
    assert len(records) == 2 * 4
    assert {r["sample"] for r in records} == {"scene0", "scene1"}
    assert all(json.loads(r["config"])["name"] == "normals/xyz" for r in records)
    rows = {r["perturbation"]: r for r in fidelity.summarize(records)}
    bound = rgbtask.get_codec("normals/xyz").max_error_deg
    assert rows["lossless"]["mean"] < bound
    assert (
        rows["lossless"]["mean"] < rows["jpeg q95 4:4:4"]["mean"] < rows["jpeg q60 4:2:0"]["mean"]
    )
    again = fidelity.evaluate(["normals/xyz"], perturbations=["noise:sigma=8"], progress=False)
    assert again[0]["mean"] == records[3]["mean"]  # same stream per (sample, perturbation)


def test_evaluate_on_arrays_and_exports(tmp_path):
    n = __import__("rgbtask.samples", fromlist=["x"]).make_scene(16, 16, seed=0).normals
    records = fidelity.evaluate("normals/xyz", {"mine": n}, [Identity()], progress=False)
    assert records[0]["sample"] == "mine" and records[0]["within_11.25"] == 100.0
    md = fidelity.to_markdown(records, columns=["codec", "config", "perturbation", "mean"])
    assert md.splitlines()[0] == "| codec | params | perturbation | mean |"
    fidelity.to_csv(records, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_text().splitlines()[0].startswith("codec,config,sample")


def test_quantization_report_and_error_budget():
    n = __import__("rgbtask.samples", fromlist=["x"]).make_scene(32, 32, seed=0).normals
    q = fidelity.quantization_report("normals/xyz", n)
    assert q["within_bound"] and q["measured_max"] <= q["bound_max"] and q["levels"] == 256
    b = fidelity.error_budget("normals/xyz", n, "mean", 15.0, "a normals model")
    assert 0 < b["added"] < 0.39 and b["share"] == pytest.approx(b["added"] / 15.0)
    assert "of the 15 of a normals model" in b["text"]


def test_plots_write_pngs(tmp_path):
    from rgbtask.fidelity.plots import plot_error_map, plot_metric_vs_perturbation, plot_strip

    records = fidelity.evaluate(
        ["normals/xyz"], perturbations=["none", "jpeg:q=90"], progress=False
    )
    codec = rgbtask.get_codec("normals/xyz")
    n = __import__("rgbtask.samples", fromlist=["x"]).make_scene(24, 32).normals
    paths = [
        plot_metric_vs_perturbation(records, tmp_path / "a.png"),
        plot_error_map(codec, n, tmp_path / "b.png", JPEG(90)),
        plot_strip(
            [codec],
            np.stack([np.linspace(-1, 1, 50), np.zeros(50), np.ones(50)], -1),
            tmp_path / "c.png",
            xlabel="x",
        ),
    ]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_take_codec_names_configs_and_perturbation_specs(tmp_path):
    pytest.importorskip("matplotlib")
    from rgbtask.fidelity.plots import plot_error_map, plot_strip
    from rgbtask.samples import make_scene

    depth = make_scene(16, 20, seed=0).depth
    codec = rgbtask.get_codec("depth/cubewalk")
    assert plot_error_map(codec, depth, tmp_path / "a.png", "jpeg:q=90").is_file()
    assert plot_error_map("depth/cubewalk", depth, tmp_path / "b.png", "noise:sigma=2").is_file()
    ramp = np.linspace(1.0, 9.0, 32)
    assert plot_strip(
        ["depth/cubewalk", {"name": "depth/hue", "near": 0.5, "far": 10.0}],
        ramp,
        tmp_path / "c.png",
    ).is_file()
    assert plot_strip("depth/cubewalk", ramp, tmp_path / "d.png").is_file()
    assert plot_strip(codec, ramp, tmp_path / "e.png").is_file()


def test_error_budget_text_of_a_default_config():
    depth = __import__("rgbtask.samples", fromlist=["x"]).make_scene(16, 20, seed=0).depth
    text = fidelity.error_budget("depth/cubewalk", depth, "abs_rel", 0.056, "a model")["text"]
    assert "((" not in text and text.startswith("depth/cubewalk (defaults) adds abs_rel")


def test_value_for_serves_a_codec_asking_for_more_keypoints():
    from rgbtask.samples import make_scene

    # 96x128: on 48x64 Painter's published layout (the default) paints class windows of
    # neighbouring keypoints over each other and loses 1 of 8 (the grid layout finds all)
    scene = make_scene(96, 128, seed=0)
    codec = rgbtask.get_codec("keypoints/heatmap", size=(96, 128), num_keypoints=17)
    value = fidelity.value_for(codec, scene)
    assert value.shape[-2:] == (17, 2)
    records = fidelity.evaluate(codec, [scene], ["png"], progress=False)
    assert records[0]["found"] == 100.0
