"""Every named palette, entry by entry, against its published source (tests/fixtures/README.md).

The fixtures are copies of the published tables; the VOC rule is re-implemented here from
``VOClabelcolormap.m``. A mismatch names the label, its class and both colours. Each palette is
checked twice: the table itself (``rgbtask.palettes.named_palette``) and the colours the
``mask/palette`` codec actually writes for labels 0..K-1.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import rgbtask
from rgbtask import palettes

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def _load(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def _mismatches(actual, expected, names) -> list[str]:
    actual = np.asarray(actual, dtype=np.int64)
    expected = np.asarray(expected, dtype=np.int64)
    assert actual.shape == expected.shape, f"{actual.shape} rows, expected {expected.shape}"
    return [
        f"label {k} ({names[k]}): {tuple(actual[k])} != published {tuple(expected[k])}"
        for k in range(expected.shape[0])
        if not np.array_equal(actual[k], expected[k])
    ]


def _codec_colors(name: str, num_labels: int) -> np.ndarray:
    """The colours ``mask/palette`` writes for labels 0..num_labels-1 (one row of pixels)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", palettes.PaletteCollisionWarning)
        # num_classes: the whole map (VOC's codec holds its 21 classes by default)
        codec = rgbtask.get_codec("mask/palette", palette=name, num_classes=num_labels)
        labels = np.arange(num_labels, dtype=np.int64).reshape(1, num_labels)
        return np.asarray(codec.encode(labels))[0]


# ---------------------------------------------------------------- expected tables from sources


def ade20k_expected() -> tuple[np.ndarray, list[str]]:
    """Label 0 = "other" (black, unlabelled in the PNGs), label n = mmseg palette entry n - 1."""
    src = _load("ade20k_mmseg.json")
    assert len(src["palette"]) == len(src["classes"]) == 150
    return np.asarray([[0, 0, 0], *src["palette"]]), ["other", *src["classes"]]


def cityscapes_expected() -> tuple[np.ndarray, list[str]]:
    """trainId 0..18 -> colour of the first label listed with that trainId (as labels.py's
    ``trainId2label``, built over ``reversed(labels)``, resolves a shared trainId)."""
    rows: dict[int, tuple[str, list[int]]] = {}
    for label in _load("cityscapes_labels.json")["labels"]:
        if 0 <= label["trainId"] < 255 and label["trainId"] not in rows:
            rows[label["trainId"]] = (label["name"], label["color"])
    assert sorted(rows) == list(range(19))
    return np.asarray([rows[t][1] for t in range(19)]), [rows[t][0] for t in range(19)]


def coco_expected() -> tuple[np.ndarray, list[str], list[dict]]:
    cats = _load("panoptic_coco_categories.json")
    assert len(cats) == 133
    return np.asarray([c["color"] for c in cats]), [c["name"] for c in cats], cats


def voc_expected(n: int = 256) -> np.ndarray:
    """``VOClabelcolormap.m``: for j = 0..7, bits 0, 1, 2 of ``id`` go to bit 7 - j of R, G, B;
    then ``id >>= 3``. Written per channel here, independently of rgbtask's loop."""
    out = np.zeros((n, 3), dtype=np.int64)
    for label in range(n):
        for channel in range(3):
            value = 0
            for j in range(8):
                bit = (label >> (3 * j + channel)) & 1
                value |= bit << (7 - j)
            out[label, channel] = value
    return out


# ---------------------------------------------------------------- the tables


def test_ade20k_matches_mmsegmentation_entry_by_entry():
    expected, names = ade20k_expected()
    assert _mismatches(palettes.named_palette("ade20k"), expected, names) == []
    assert _mismatches(palettes.ADE20K_150, expected[1:], names[1:]) == []


def test_ade20k_spot_entries():
    # the entries the mutations touched, spelled out: person is class 13 (entry 12)
    pal = palettes.named_palette("ade20k")
    assert tuple(pal[13]) == (150, 5, 61)  # person
    assert tuple(pal[1]) == (120, 120, 120)  # wall
    assert tuple(pal[150]) == (92, 0, 255)  # flag


def test_cityscapes_matches_labels_py_entry_by_entry():
    expected, names = cityscapes_expected()
    assert _mismatches(palettes.named_palette("cityscapes"), expected, names) == []
    assert _mismatches(palettes.CITYSCAPES_19, expected, names) == []
    assert names[8] == "vegetation" and tuple(expected[8]) == (107, 142, 35)


def test_coco_panoptic_matches_panopticapi_entry_by_entry():
    expected, names, cats = coco_expected()
    assert _mismatches(palettes.named_palette("coco"), expected, names) == []
    table = [(c["id"], c["isthing"], c["name"], tuple(c["color"])) for c in cats]
    wrong = [
        f"row {k}: {tuple(got)} != published {want}"
        for k, (got, want) in enumerate(zip(palettes.COCO_PANOPTIC_CATEGORIES, table))
        if tuple(got) != want
    ]
    assert len(palettes.COCO_PANOPTIC_CATEGORIES) == len(table)
    assert wrong == []


def test_voc_matches_the_published_bit_interleaving_rule():
    expected = voc_expected()
    names = [str(k) for k in range(256)]
    assert _mismatches(palettes.named_palette("voc"), expected, names) == []
    assert _mismatches(palettes.voc_colormap(256), expected, names) == []
    # landmarks every VOC user knows: background, aeroplane, person, the boundary / ignore colour
    assert [tuple(expected[k]) for k in (0, 1, 15, 255)] == [
        (0, 0, 0),
        (128, 0, 0),
        (192, 128, 128),
        (224, 224, 192),
    ]


@pytest.mark.parametrize("n", [1, 21, 22, 100])
def test_voc_colormap_prefixes(n):
    assert np.array_equal(palettes.voc_colormap(n), voc_expected(n))


# ---------------------------------------------------------------- what the codec writes


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ade20k", lambda: ade20k_expected()),
        ("cityscapes", lambda: cityscapes_expected()),
        ("coco", lambda: coco_expected()[:2]),
        ("voc", lambda: (voc_expected(), [str(k) for k in range(256)])),
    ],
)
def test_mask_palette_codec_writes_the_published_colors(name, expected):
    colors, names = expected()
    assert _mismatches(_codec_colors(name, colors.shape[0]), colors, names) == []


# ---------------------------------------------------------------- Painter's grids


def painter_expected(name: str) -> np.ndarray:
    """Painter's published rule (fixture ``painter_palettes.json``) re-implemented digit by digit,
    with the label mapping of its script (ADE20K: label 0 black, label n = entry n - 1)."""
    src = _load("painter_palettes.json")["palettes"][name]
    levels, n = src["levels"], src["num_colors"]
    sep = 256 // levels
    rows = []
    for location in range(n):
        seq = (location // levels**2, (location % levels**2) // levels, location % levels)
        rows.append([255 - s * sep for s in seq])
    if src["label_offset"]:
        rows = [src["label_0"], *rows]
    return np.asarray(rows)


@pytest.mark.parametrize("name", ["painter_ade20k", "painter_coco"])
def test_painter_palettes_match_the_published_rule_entry_by_entry(name):
    expected = painter_expected(name)
    names = [str(k) for k in range(expected.shape[0])]
    assert _mismatches(palettes.named_palette(name), expected, names) == []
    assert _mismatches(_codec_colors(name, expected.shape[0]), expected, names) == []
    landmarks = _load("painter_palettes.json")["palettes"][name]["landmarks"]
    for label, colour in landmarks.items():
        assert tuple(palettes.named_palette(name)[int(label)]) == tuple(colour), label


def test_painter_levels_as_published():
    src = _load("painter_palettes.json")["palettes"]
    assert int(150 ** (1 / 3)) + 1 == src["painter_ade20k"]["levels"] == 6
    assert src["painter_coco"]["levels"] == 7
    ade = palettes.named_palette("painter_ade20k")
    assert sorted(set(ade[1:].ravel().tolist())) == [45, 87, 129, 171, 213, 255]
    coco = palettes.named_palette("painter_coco")
    assert set(coco.ravel().tolist()) <= {255 - k * 36 for k in range(7)}
    assert palettes.find_collisions(ade) == [] and palettes.find_collisions(coco) == []


def test_painter_coco_order_is_the_coco_categories_order():
    # label k of painter_coco is category k of panoptic_coco_categories.json, as "coco" is
    _, names, cats = coco_expected()
    assert len(palettes.named_palette("painter_coco")) == len(cats) == 133
    assert names[0] == "person" and tuple(palettes.named_palette("painter_coco")[0]) == (255,) * 3


def test_painter_coco_unlabelled_black_is_rejected():
    codec = rgbtask.get_codec("mask/palette", palette="painter_coco", reject_distance=20.0)
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = palettes.named_palette("painter_coco")[5]
    out = codec.decode_with_confidence(rgb)
    assert out.value[0, 0] == 5 and not out.valid[1, 1] and out.value[1, 1] == 255


# ---------------------------------------------------------------- void colours and class counts


def _voids() -> dict:
    return _load("void_sources.json")


def ade20k_csail() -> tuple[np.ndarray, list[str]]:
    """CSAIL's own ADE20K-150 files (``color150.mat``, ``object150_info.csv``), the source that
    ``palettes.py`` cites and mmsegmentation copied."""
    src = _load("ade20k_csail.json")
    assert len(src["names"]) == len(src["colors"]) == 150
    return np.asarray(src["colors"]), src["names"]


def test_ade20k_matches_csail_color150_entry_by_entry():
    colors, names = ade20k_csail()
    assert _mismatches(palettes.ADE20K_150, colors, names) == []
    assert _mismatches(palettes.named_palette("ade20k")[1:], colors, names) == []


def expected_voids() -> dict[str, tuple[int, tuple[int, int, int]]]:
    """Per named palette, from the sources alone: (number of labels, void colour)."""
    src = _voids()
    voc = src["voc"]
    voc_labels = len(voc["classes"]) + voc["background_labels"]
    voc_void = tuple(int(c) for c in voc_expected()[voc["void_label"]])

    labels = _load("cityscapes_labels.json")["labels"]
    train_ids = {lab["trainId"] for lab in labels} - {255, -1}
    # labels.py's trainId2label: a dict built over reversed(labels), so the first label listed wins
    train_id_to_label = {lab["trainId"]: lab for lab in reversed(labels)}
    city_void = tuple(train_id_to_label[src["cityscapes"]["void_train_id"]]["color"])

    void_id = src["coco"]["void_segment_id"]
    coco_void = tuple((void_id // 256**c) % 256 for c in range(3))  # id2rgb
    n_coco = len(coco_expected()[2])

    n_ade = len(ade20k_csail()[1]) + 1  # label 0, "other"
    painter = _load("painter_palettes.json")["palettes"]
    return {
        "voc": (voc_labels, voc_void),
        "cityscapes": (len(train_ids), city_void),
        "coco": (n_coco, coco_void),
        "ade20k": (n_ade, tuple(src["ade20k"]["void_color"])),
        "painter_ade20k": (
            painter["painter_ade20k"]["num_colors"] + painter["painter_ade20k"]["label_offset"],
            tuple(src["painter_ade20k"]["void_color"]),
        ),
        "painter_coco": (
            painter["painter_coco"]["num_colors"],
            tuple(src["painter_coco"]["void_color"]),
        ),
    }


def test_void_sources_cover_every_named_palette():
    assert set(expected_voids()) == set(palettes.NAMED_PALETTES) == set(palettes.NAMED_VOID)
    assert set(_voids()) - {"about"} == set(palettes.NAMED_PALETTES)


def test_void_sources_landmarks():
    # the values the derivations above must give, spelled out (the brief's and the docstring's)
    assert expected_voids() == {
        "voc": (21, (224, 224, 192)),
        "cityscapes": (19, (0, 0, 0)),
        "coco": (133, (0, 0, 0)),
        "ade20k": (151, (0, 0, 0)),
        "painter_ade20k": (151, (0, 0, 0)),
        "painter_coco": (133, (0, 0, 0)),
    }


@pytest.mark.parametrize("name", sorted(palettes.NAMED_PALETTES))
def test_named_void_color_and_class_count_match_the_source(name):
    num_labels, void = expected_voids()[name]
    assert palettes.NAMED_VOID[name] == void
    assert palettes.NAMED_CLASSES.get(name, len(palettes.named_palette(name))) == num_labels
    codec = rgbtask.get_codec("mask/palette", palette=name)
    assert codec.levels == num_labels
    if name in ("ade20k", "painter_ade20k"):
        # void is label 0 ("other"), a palette entry: no extra colour
        assert codec.void_color is None
        assert tuple(codec.colors[_voids()[name]["void_label"]]) == void
        return
    assert codec.void_color == void
    assert (codec.colors != np.asarray(void, np.uint8)).any(axis=1).all()  # not a class colour
    labels = np.array([[0, codec.ignore], [num_labels - 1, codec.ignore]])
    rgb = codec.encode(labels)
    assert tuple(rgb[0, 1]) == tuple(rgb[1, 1]) == void
    assert np.array_equal(codec.decode(rgb), labels)
    out = codec.decode_with_confidence(rgb)
    assert out.valid.tolist() == [[True, False], [True, False]]
