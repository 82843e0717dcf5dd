"""Palettes: published definitions, collisions, generated palettes and their margins."""

from __future__ import annotations

import numpy as np
import pytest

from rgbtask import ConfigError
from rgbtask.palettes import (
    ADE20K_150,
    CITYSCAPES_19,
    COCO_PANOPTIC_CATEGORIES,
    distinct_palette,
    family_colors,
    find_collisions,
    min_pairwise_distance,
    named_palette,
    resolve_palette,
    shadowed_labels,
    voc_colormap,
)


def test_voc_bit_interleaved_values():
    voc = voc_colormap()
    assert voc.shape == (256, 3)
    assert voc[:4].tolist() == [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    assert voc[15].tolist() == [192, 128, 128]  # person
    assert voc[255].tolist() == [224, 224, 192]  # ignore / boundary
    assert find_collisions(voc) == []


def test_ade20k_as_distributed():
    ade = named_palette("ade20k")
    assert len(ADE20K_150) == 150 and ade.shape == (151, 3)
    assert ade[0].tolist() == [0, 0, 0]  # label 0 = "other"
    assert ade[1].tolist() == [120, 120, 120]  # wall = entry 0
    assert ade[150].tolist() == [92, 0, 255]  # flag = entry 149
    assert find_collisions(ade) == [(7, 49)] and shadowed_labels(ade) == [49]


def test_cityscapes_and_coco():
    assert len(CITYSCAPES_19) == 19 and CITYSCAPES_19[0] == (128, 64, 128)
    assert len(COCO_PANOPTIC_CATEGORIES) == 133
    assert sum(c[1] for c in COCO_PANOPTIC_CATEGORIES) == 80
    assert named_palette("coco")[0].tolist() == [220, 20, 60]  # person


def test_coco_matches_the_shipped_json(data_dir):
    import json

    cats = json.loads((data_dir / "panoptic/coco/panoptic_coco_categories.json").read_text())
    assert [(c["id"], c["isthing"], c["name"], tuple(c["color"])) for c in cats] == list(
        COCO_PANOPTIC_CATEGORIES
    )


def test_find_collisions_groups():
    colors = [[1, 1, 1], [2, 2, 2], [1, 1, 1], [3, 3, 3], [2, 2, 2], [1, 1, 1]]
    assert find_collisions(colors) == [(0, 2, 5), (1, 4)]
    assert shadowed_labels(colors) == [2, 4, 5]


@pytest.mark.parametrize("space", ["lab", "oklab"])
def test_distinct_palette_margin_and_avoid(space):
    pal = distinct_palette(30, space, avoid=[(0, 0, 0), (255, 255, 255)])
    assert pal.shape == (30, 3) and find_collisions(pal) == []
    margin = min_pairwise_distance(pal, space)
    assert margin > (30.0 if space == "lab" else 0.12)
    from rgbtask.colorspace import convert

    far = np.sqrt(
        ((convert(pal, space)[:, None] - convert(np.array([[0, 0, 0]], np.uint8), space)) ** 2).sum(
            -1
        )
    )
    assert far.min() >= margin * 0.99  # as far from the avoided colours as from each other
    assert np.array_equal(pal, distinct_palette(30, space, avoid=[(0, 0, 0), (255, 255, 255)]))


def test_generated_beats_ade20k_margin():
    ade = named_palette("ade20k")
    gen = distinct_palette(151, "lab")
    assert min_pairwise_distance(ade[:49]) < 10 < min_pairwise_distance(gen)


def test_resolve_errors():
    with pytest.raises(ConfigError, match="expected num_classes"):
        resolve_palette("distinct")
    with pytest.raises(ConfigError, match="expected a palette name"):
        resolve_palette("viridis")
    with pytest.raises(ConfigError, match="expected palette"):
        resolve_palette([[0, 0]])
    with pytest.raises(ConfigError, match="expected num_classes"):
        distinct_palette(0)


def test_family_colors_like_panopticapi():
    fam = family_colors((220, 20, 60), 10, max_dist=30, seed=1)
    assert fam[0].tolist() == [220, 20, 60] and find_collisions(fam) == []
    assert np.abs(fam.astype(int) - [220, 20, 60]).max() <= 30


# ---------------------------------------------------------------- the on-disk cache (issue 16)


def test_distinct_palettes_are_cached_on_disk_beside_numbas_cache(tmp_path, monkeypatch):
    """Issue 16: distinct 151 colours cost ~1 s in every new process. A second process (here: a
    cleared in-memory cache) loads them; configs differing in one parameter get different files;
    a damaged file is generated again, never used."""
    import numba

    from rgbtask import palettes

    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path))
    palettes._distinct.cache_clear()
    want = palettes._generate_distinct(12, "lab", ())
    got = distinct_palette(12, "lab")
    assert np.array_equal(got, want) and not got.flags.writeable
    files = sorted((tmp_path / "rgbtask-palettes").glob("distinct-*.npy"))
    assert len(files) == 1

    # a new process: the in-memory cache is empty, the generator is not called
    palettes._distinct.cache_clear()
    calls = []
    monkeypatch.setattr(palettes, "_generate_distinct", lambda *a: calls.append(a) or want.copy())
    assert np.array_equal(distinct_palette(12, "lab"), want) and calls == []

    # one parameter differs: another file
    for args in [(13, "lab"), (12, "oklab")]:
        distinct_palette(*args)
    distinct_palette(12, "lab", avoid=[[0, 0, 0]])
    assert len(list((tmp_path / "rgbtask-palettes").glob("distinct-*.npy"))) == 4
    assert len(calls) == 3

    # a damaged file is regenerated
    palettes._distinct.cache_clear()
    files[0].write_bytes(files[0].read_bytes()[:-7])
    assert np.array_equal(distinct_palette(12, "lab"), want) and len(calls) == 4
    palettes._distinct.cache_clear()
    np.save(files[0], want[::-1][:11])  # wrong shape
    assert np.array_equal(distinct_palette(12, "lab"), want) and len(calls) == 5
    palettes._distinct.cache_clear()
