"""mask/palette's context decoder (rgbtask/core/mask_context.py) and the named palettes' void.

The kernel is checked against its NumPy reference (the specification) on JPEG'd random label
maps; the codec keeps lossless images bit-exact (one-pixel regions included), removes the
slivers nearest-colour decoding leaves, and named palettes decode their void colour to ``ignore``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rgbtask
from rgbtask.codecs.masks import MaskPalette, nearest_color
from rgbtask.core import mask_context
from rgbtask.fidelity.perturb import JPEG, Noise
from rgbtask.metrics import mask_metrics


def _blocks(seed: int, n_classes: int, h: int = 6, w: int = 7, cell: int = 6) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.kron(rng.integers(0, n_classes, (h, w)), np.ones((cell, cell), np.int64))


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from(["4:4:4", "4:2:0"]))
def test_kernel_equals_reference(seed, subsampling):
    codec = MaskPalette(palette="ade20k", decoder="pixel")
    rgb = JPEG(85, subsampling)(codec.encode(_blocks(seed, 151)), np.random.default_rng(seed))
    index, _, _ = nearest_color(rgb, codec.colors, "rgb", None, -1, np.int32)
    codes = codec.colors.astype(np.float64)

    def rows(image):
        return nearest_color(image, codec.colors, "rgb", None, -1, np.int32)[0]

    got = mask_context.resolve(rgb, index, codes, 255.0, rows)
    smooth = mask_context.box_mean_reference(rgb, 255.0)
    want = mask_context.context_reference(
        rgb, index, smooth, rows(smooth), 255.0, codes, **mask_context.DEFAULTS
    )
    assert np.array_equal(got, want)


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([np.uint8, np.uint16]))
def test_prepare_kernel_box_means_equal_reference(seed, dtype):
    """The box means prepare_kernel writes for the pixels it marks as needed are the
    reference's, in raster order; trusted pixels (exact codes among exact neighbours) need none.
    Integer input only: for float input the kernel sums the 9 values in another order than the
    reference, and a mean that lands on a half level can round the other way (seed 15704,
    float32: 202 against 203)."""
    rng = np.random.default_rng(seed)
    h, w = rng.integers(1, 9, 2)
    top = {np.uint8: 255, np.uint16: 65535, np.float32: 1}[dtype]
    codes = rng.integers(0, 256, (4, 3)).astype(np.float64)
    index = rng.integers(0, 4, (h, w)).astype(np.int32)
    exact = rng.random((h, w)) < 0.7  # these pixels are their code exactly
    colours = codes[index] / 255.0 * top
    rgb = np.where(exact[..., None], colours, rng.random((h, w, 3)) * top).astype(dtype)
    flags = np.empty((h, w), np.uint8)
    smooth = np.empty((h * w, 3), np.uint8)
    n = mask_context.prepare_kernel(rgb, index, flags, smooth, float(top), codes)
    need = (flags & mask_context.NEED_BIT) != 0
    assert n == need.sum()
    assert np.array_equal(smooth[:n], mask_context.box_mean_reference(rgb, float(top))[need])


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_lossless_is_exact_with_one_pixel_regions(seed):
    codec = MaskPalette(palette="cityscapes")
    labels = _blocks(seed, 19)
    rng = np.random.default_rng(seed)
    ys, xs = rng.integers(0, labels.shape[0], 5), rng.integers(0, labels.shape[1], 5)
    labels[ys, xs] = rng.integers(0, 19, 5)  # one-pixel regions
    assert not codec.pixelwise
    assert np.array_equal(codec.decode(codec.encode(labels)), labels)


@pytest.mark.parametrize("luma_tol, kept", [(16.0, 3), (0.0, 1)])
def test_luma_fit_keeps_a_thin_region(luma_tol, kept):
    """A 3-pixel stripe whose outer columns lost chroma but not luma (as JPEG does), between two
    regions of other luma: the luma fit keeps all 3 columns; without it (luma_tol=0) the outer
    columns go to the neighbours and only the exact middle column stays (the blend fit, which
    keeps them too, off)."""
    codes = np.array([[200, 200, 200], [250, 250, 120], [60, 100, 60]], dtype=np.float64)
    labels = np.zeros((24, 24), np.int32)
    labels[:, 12:] = 1
    labels[:, 10:13] = 2
    rgb = codes[labels].astype(np.uint8)
    rgb[:, [10, 12]] += np.array([12, -8, 10]).astype(np.uint8)  # luma moves by 0.03, dev 12
    codec = MaskPalette(palette=codes.astype(int).tolist(), decoder="pixel")

    def rows(image):
        return nearest_color(image, codec.colors, "rgb", None, -1, np.int32)[0]

    index = rows(rgb)
    assert np.array_equal(index, labels)
    params = {**mask_context.DEFAULTS, "luma_tol": luma_tol, "blend_fit": 0.0}
    got = mask_context.resolve(rgb, index, codes, 255.0, rows, **params)
    assert np.array_equal((got == 2).sum(axis=1), np.full(24, kept))
    want = mask_context.context_reference(
        rgb, index, mask_context.box_mean_reference(rgb, 255.0),
        rows(mask_context.box_mean_reference(rgb, 255.0)), 255.0, codes, **params,
    )  # fmt: skip
    assert np.array_equal(got, want)


@pytest.mark.parametrize("on", [True, False])
def test_blend_fit_keeps_a_black_line_under_4_2_0_kernel_and_reference(on):
    """ADE20K's 1-px black "other" lines through coloured regions, saved as JPEG q90 4:2:0 by
    Pillow: the line keeps its luma but takes its neighbours' chroma. The blend fit (luma of the
    line, chroma a blend with a neighbour's, clipped) keeps the line; without it (blend_fit=0)
    the context decoder gives all of it to the neighbours."""
    import io

    from PIL import Image

    labels = np.full((48, 48), 10, np.int64)
    labels[:, 24:] = 3
    labels[:, 17] = labels[:, 31] = labels[20] = 0
    codec = MaskPalette(palette="ade20k", decoder="pixel")
    buf = io.BytesIO()
    Image.fromarray(codec.encode(labels)).save(buf, "JPEG", quality=90, subsampling="4:2:0")
    rgb = np.asarray(Image.open(buf).convert("RGB"))
    codes = codec.colors.astype(np.float64)

    def rows(image):
        return nearest_color(image, codec.colors, "rgb", None, -1, np.int32)[0]

    index = rows(rgb)
    assert (index[labels == 0] == 0).all()  # the per-pixel decode reads the line
    params = {**mask_context.DEFAULTS, **({} if on else {"blend_fit": 0.0})}
    got = mask_context.resolve(rgb, index, codes, 255.0, rows, **params)
    kept = (got[labels == 0] == 0).mean()
    assert kept >= 0.75 if on else kept == 0.0
    smooth = mask_context.box_mean_reference(rgb, 255.0)
    want = mask_context.context_reference(rgb, index, smooth, rows(smooth), 255.0, codes, **params)
    assert np.array_equal(got, want)
    if on:  # the codec's default decoder is this rule
        context = MaskPalette(palette="ade20k")
        assert np.array_equal(context.decode(rgb), got)
        assert np.array_equal(context.decode_with_confidence(rgb).value, got)


def test_context_removes_slivers():
    """JPEG q90 4:4:4 of a block map with the ADE20K palette: the per-pixel decoder invents
    classes along boundaries; the context decoder invents none here and its mIoU is higher."""
    labels = _blocks(3, 151, 8, 10, 12)
    pixel = MaskPalette(decoder="pixel")
    context = MaskPalette()
    rgb = JPEG(90, "4:4:4")(pixel.encode(labels), np.random.default_rng(0))
    present = set(np.unique(labels).tolist())
    invented_pixel = set(np.unique(pixel.decode(rgb)).tolist()) - present
    invented_context = set(np.unique(context.decode(rgb)).tolist()) - present
    assert invented_pixel and not invented_context
    m_pixel = mask_metrics(pixel.decode(rgb), labels)["miou"]
    m_context = mask_metrics(context.decode(rgb), labels)["miou"]
    assert m_context > m_pixel + 20


def test_noise_on_close_palette_colours():
    labels = _blocks(4, 151, 8, 10, 12)
    rgb = Noise(2.0)(MaskPalette().encode(labels), np.random.default_rng(1))
    assert mask_metrics(MaskPalette().decode(rgb), labels)["miou"] >= 99.0


def test_decoder_parameter_round_trips():
    codec = rgbtask.get_codec("mask/palette", decoder="pixel")
    assert codec.pixelwise and MaskPalette.from_config(codec.get_config()) == codec
    assert MaskPalette().get_config()["decoder"] == "context"
    with pytest.raises(rgbtask.ConfigError, match="expected"):
        MaskPalette(decoder="nearest")


# ---------------------------------------------------------------- void colours of named palettes


@pytest.mark.parametrize(
    "name, void", [("voc", (224, 224, 192)), ("cityscapes", (0, 0, 0)), ("coco", (0, 0, 0)),
                   ("painter_coco", (0, 0, 0))],
)  # fmt: skip
@pytest.mark.parametrize("decoder", ["context", "pixel"])
def test_named_palette_void_round_trip(name, void, decoder):
    codec = MaskPalette(palette=name, decoder=decoder)
    assert codec.void_color == void
    labels = _blocks(1, codec.levels) % codec.levels
    labels[:6] = 255
    rgb = codec.encode(labels)
    assert (rgb[:6] == np.asarray(void, np.uint8)).all()
    value, conf, valid = codec.decode_with_confidence(rgb)
    assert np.array_equal(value, labels)
    assert not valid[:6].any() and valid[6:].all() and (conf[:6] == 0).all()


def test_cityscapes_accepts_its_ignore_label_only():
    codec = MaskPalette(palette="cityscapes", ignore=255)
    with pytest.raises(rgbtask.InputError, match="expected labels in 0..18 or the void label 255"):
        codec.encode(np.full((2, 2), 19))


def test_voc_decodes_only_its_21_classes_and_void():
    codec = MaskPalette(palette="voc", decoder="pixel")
    assert codec.levels == 21
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    labels = codec.decode(rgb)
    assert set(np.unique(labels).tolist()) <= set(range(21)) | {255}
    assert MaskPalette(palette="voc", num_classes=256).void_color is None  # 255 is a map entry


def test_void_is_never_extra_where_black_is_a_class():
    assert MaskPalette(palette="ade20k").void_color is None  # black is label 0 ("other")
    assert MaskPalette(palette="cityscapes", ignore=3).void_color is None  # ignore is a class


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"palette": "voc"}, {"palette": "cityscapes"}),
        ({"palette": "voc"}, {"palette": "voc", "num_classes": 22}),
        ({"palette": "voc"}, {"palette": "voc", "ignore": 5}),
        ({"palette": "coco"}, {"palette": "painter_coco"}),
        ({"palette": "cityscapes"}, {"palette": "cityscapes", "ignore": 18}),
    ],
)
def test_decode_colors_cached_per_config_and_keyed_by_every_parameter(a, b):
    """The decode rows are built once per configuration (the same read-only array for equal
    configs) and two configs that differ in one parameter get different rows."""
    ca, cb = MaskPalette(**a), MaskPalette(**b)
    rows = ca.decode_colors
    assert rows is ca.decode_colors and rows is MaskPalette(**a).decode_colors
    assert not rows.flags.writeable
    assert cb.decode_colors is not rows
    assert not np.array_equal(cb.decode_colors, rows)
    for codec in (ca, cb):  # each is its palette, then its void colour if any
        want = codec.colors if codec.void_color is None else [*codec.colors, codec.void_color]
        assert np.array_equal(codec.decode_colors, np.asarray(want, np.uint8))


# ---------------------------------------------------------------- real data


def _coco_panoptic_ids(data_dir):
    from PIL import Image

    out = []
    for f in sorted((data_dir / "panoptic" / "coco" / "panoptic_examples").glob("*.png")):
        rgb = np.asarray(Image.open(f).convert("RGB")).astype(np.int64)
        seg = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]  # panopticapi rgb2id
        u, inv = np.unique(seg, return_inverse=True)
        out.append((f.name, (inv.reshape(seg.shape) + (u[0] != 0)).astype(np.int32)))
    return out


def test_instance_pq_on_coco_under_jpeg(data_dir):
    """mask/instance (distinct palette, every COCO panoptic segment an instance, void black),
    JPEG q90 4:4:4: panoptic quality >= 95 with the context decoder on every sample; printed
    beside the per-pixel decoder's (``-s``)."""
    from rgbtask.metrics import panoptic_quality

    samples = _coco_panoptic_ids(data_dir)
    if not samples:
        pytest.skip("no COCO panoptic samples")
    context = rgbtask.get_codec("mask/instance")
    pixel = rgbtask.get_codec("mask/instance", decoder="pixel")
    for name, ids in samples:
        rgb = JPEG(90, "4:4:4")(context.encode(ids), np.random.default_rng(0))
        pq_pixel = panoptic_quality(pixel.decode(rgb), ids)["pq"]
        pq_context = panoptic_quality(context.decode(rgb), ids)["pq"]
        print(f"{name}: {ids.max()} segments, PQ pixel {pq_pixel:.1f}, context {pq_context:.1f}")
        assert pq_context >= 95.0 and pq_context > pq_pixel
        assert np.array_equal(context.decode(context.encode(ids)), ids)  # lossless: exact


def test_ade20k_maps_under_jpeg_and_noise(data_dir):
    """The ADE20K label maps of ../shared/data with the ADE20K palette (the cell of
    benchmarks/bench_mask_context.py): mean mIoU of the context decoder under JPEG q90 4:4:4 and
    noise 2/255, against the per-pixel decoder's (24 % and 65 % there); and with the generated
    151-colour palette under JPEG q90 4:4:4 (95.9 %, the issue's target 95)."""
    from PIL import Image

    folder = data_dir / "semantic" / "ade20k"
    paths = sorted((folder / "annotations").glob("*.png"))
    paths.append(folder / "full_format" / "ADE_train_00000970_challenge.png")
    maps = [np.asarray(Image.open(p)).astype(np.int64) for p in paths if p.exists()]
    if not maps:
        pytest.skip("no ADE20K maps")
    context, pixel = MaskPalette(), MaskPalette(decoder="pixel")
    for perturb, floor in ((JPEG(90, "4:4:4"), 95.0), (Noise(2.0), 98.5)):
        got, base = [], []
        for i, labels in enumerate(maps):
            rgb = perturb(context.encode(labels), np.random.default_rng(i))
            got.append(mask_metrics(context.decode(rgb), labels)["miou"])
            base.append(mask_metrics(pixel.decode(rgb), labels)["miou"])
        assert np.mean(got) >= floor and np.mean(got) > np.mean(base) + 30
    distinct = MaskPalette(palette="distinct", num_classes=151)  # the 4:4:4 target
    jpeg = JPEG(90, "4:4:4")
    got = [
        mask_metrics(distinct.decode(jpeg(distinct.encode(m), np.random.default_rng(i))), m)["miou"]
        for i, m in enumerate(maps)
    ]
    assert np.mean(got) >= 95.0


@pytest.mark.parametrize(
    "config",
    [
        {"palette": "ade20k"},
        {"palette": "cityscapes"},
        {"palette": "cityscapes", "decoder": "pixel"},
    ],
    ids=["context", "context-void", "pixel-void"],
)
def test_torch_decodes_as_numpy(config):
    torch = pytest.importorskip("torch")
    from rgbtask.torch import TensorCodec

    codec = MaskPalette(**config)
    labels = _blocks(7, codec.levels) % codec.levels
    labels[:3] = 255 if codec.void_color else 0
    rgb = JPEG(90, "4:2:0")(codec.encode(labels), np.random.default_rng(2))
    tc = TensorCodec(codec, layout="NHWC")
    got = tc.decode_with_confidence(torch.from_numpy(rgb))
    want = codec.decode_with_confidence(rgb)
    for g, w in zip(got, want):
        assert np.array_equal(g.cpu().numpy(), w)
