"""Colour codes that follow a published rule, checked code by code against the rule.

Painter's keypoint id code (baaivision/Painter, ``define_colors_gb_mean_sep``; citation in
tests/fixtures/README.md): ``n = int(K ** 0.5) + 1`` levels per channel, ``sep = 256 // n``,
``G = 255 - (k // n) * sep`` and ``B = 255 - (k % n) * sep``. The separation only differs from
``255 // n`` when ``n`` divides 256 (n = 2 for K = 1..3, n = 4 for K = 9..15), so those K are the
ones that tell the rule apart from its look-alike; every K the layout allows (1..24) is checked.
The grid is checked three ways: the table (``painter_codes``), the colours ``encode`` writes at
each keypoint's centre, and ``decode`` reading each id back from an image drawn by the published
rule; and the cached id-colour tables are checked to be keyed by layout.
"""

from __future__ import annotations

import numpy as np
import pytest

import rgbtask

ALL_K = list(range(1, 25))
#: K whose grid has n = 2 or n = 4 levels: 256 // n and 255 // n differ there.
TELLING_K = [1, 2, 3, 9, 10, 12, 15]


def painter_published(num_locations: int) -> list[tuple[int, int]]:
    """``define_colors_gb_mean_sep(num_locations)`` as published, returned as a list by id."""
    num_sep_per_channel = int(num_locations ** (1 / 2)) + 1
    separation_per_channel = 256 // num_sep_per_channel
    codes = []
    for location in range(num_locations):
        g = 255 - (location // num_sep_per_channel) * separation_per_channel
        b = 255 - (location % num_sep_per_channel) * separation_per_channel
        assert 0 <= g < 256 and 0 <= b < 256 and (g, b) not in codes
        codes.append((g, b))
    return codes


def test_published_rule_for_coco_17():
    # the paper's case: 5 levels {255, 204, 153, 102, 51} on G and B
    codes = painter_published(17)
    assert codes[0] == (255, 255) and codes[4] == (255, 51) and codes[16] == (102, 204)
    # n = 2 (K = 3): sep 128, not 127; n = 4 (K = 12): sep 64, not 63
    assert painter_published(3) == [(255, 255), (255, 127), (127, 255)]
    assert painter_published(12)[5] == (191, 191)


@pytest.mark.parametrize("k", ALL_K)
def test_painter_codes_match_published_grid(k):
    from rgbtask.codecs.keypoints import painter_codes

    got = [tuple(int(v) for v in row) for row in np.asarray(painter_codes(k))]
    assert got == painter_published(k)


def _one_of_each(k: int, spacing: int = 12, sigma: float = 1.5):
    """A codec and one instance with every id drawn once, on a grid ``spacing`` px apart, at
    integer pixel centres (so each blob's centre pixel has R = 255 and the id's exact code)."""
    cols = int(np.ceil(np.sqrt(k)))
    rows = int(np.ceil(k / cols))
    size = (rows * spacing + spacing, cols * spacing + spacing)
    codec = rgbtask.get_codec(
        "keypoints/heatmap",
        size=size,
        num_keypoints=k,
        layout="painter",
        sigma=sigma,
        max_instances=1,
    )
    ids = np.arange(k)
    xy = np.stack([(ids % cols + 1) * spacing, (ids // cols + 1) * spacing], axis=-1)
    return codec, xy.astype(np.float64)[None]  # (1, K, 2)


@pytest.mark.parametrize("k", sorted({*TELLING_K, 17, 24}))
def test_encode_writes_published_code_at_each_keypoint(k):
    codec, kp = _one_of_each(k)
    rgb = np.asarray(codec.encode(kp))
    centres = kp[0].astype(int)
    written = [tuple(int(v) for v in rgb[y, x]) for x, y in centres]
    assert written == [(255, g, b) for g, b in painter_published(k)]


@pytest.mark.parametrize("k", sorted({*TELLING_K, 17}))
def test_decode_reads_ids_from_the_published_grid(k):
    # an image written by Painter's rule (not by rgbtask's encoder) decodes to the right ids
    codec, kp = _one_of_each(k)
    h, w = codec.size
    codes = painter_published(k)
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    best = np.zeros((h, w))
    for kid, (x, y) in enumerate(kp[0]):
        heat = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * codec.sigma**2))
        take = heat > best
        best = np.where(take, heat, best)
        rgb[take] = (0, *codes[kid])
    rgb[..., 0] = np.floor(best * 255 + 0.5).astype(np.uint8)
    rgb[rgb[..., 0] == 0] = 0
    decoded = np.asarray(codec.decode(rgb))
    assert decoded.shape == (1, k, 2)
    np.testing.assert_allclose(decoded[0], kp[0], atol=0.05)


def test_id_colour_tables_are_keyed_by_layout():
    # the id colours are cached per (layout, K): a palette codec with the same K decoded or
    # encoded in between must not hand the painter codec its table (or the reverse)
    k = 12
    painter, kp = _one_of_each(k)
    palette = rgbtask.get_codec({**painter.get_config(), "layout": "palette"})
    centres = kp[0].astype(int)
    want = [(255, g, b) for g, b in painter_published(k)]
    for codec in (painter, palette, painter, palette, painter):
        rgb = np.asarray(codec.encode(kp))
        written = [tuple(int(v) for v in rgb[y, x]) for x, y in centres]
        if codec is painter:
            assert written == want
        else:
            assert written != want
            np.testing.assert_allclose(np.asarray(codec.decode(rgb))[0], kp[0], atol=0.05)
