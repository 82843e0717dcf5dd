"""Palettes: named ones exact to their published definitions, generated ones with a known margin.

A palette is a ``(K, 3)`` ``uint8`` array: row ``k`` is the colour of label ``k``.

Named palettes (:func:`named_palette`)
--------------------------------------
* ``"voc"``: the PASCAL VOC colour map, 256 entries, built by interleaving the bits of the label
  into the colour's high bits (``VOCdevkit/VOCcode/VOClabelcolormap.m``, Everingham et al.); label
  255 (ignore, object boundaries) is (224, 224, 192).
* ``"ade20k"``: ADE20K-150 (SceneParse150) as its annotation PNGs are distributed: 151 entries,
  label 0 = "other" (unlabelled) is black (0, 0, 0), as CSAIL's ``colorEncode`` leaves pixels
  without a class, and label ``n`` in 1..150 takes entry ``n - 1`` of the CSAIL palette
  (``CSAILVision/semantic-segmentation-pytorch``, ``data/color150.mat``), the one mmsegmentation
  ships as ``ADE20KDataset.METAINFO["palette"]`` (``mmseg/datasets/ade.py``). That palette gives
  two classes the same colour, (140, 140, 140): entry 6 "road" and entry 48 "skyscraper", i.e.
  labels 7 and 49. Decoding returns the lower label, 7: label 49 cannot round-trip.
* ``"cityscapes"``: the 19 Cityscapes training classes by trainId 0..18, colours from
  ``cityscapesScripts/cityscapesscripts/helpers/labels.py`` (Cordts et al. 2016).
* ``"coco"``: the 133 COCO panoptic categories (80 things, 53 stuff) in the order of
  ``panopticapi/panoptic_coco_categories.json`` (Kirillov et al. 2018), i.e. contiguous labels
  0..132 (detectron2's convention); :data:`COCO_PANOPTIC_CATEGORIES` gives each one's COCO
  category id, ``isthing``, name and colour.
* ``"painter_ade20k"``: the ADE20K-150 colours Painter (Wang et al. 2023, "Images Speak in Images",
  github.com/baaivision/Painter, ``data/ade20k/gen_color_ade20k_sem.py``) trains and evaluates
  with: 151 entries, label 0 ("other") black as Painter's ``colorEncode`` leaves it, label ``n``
  in 1..150 the entry ``n - 1`` of its grid of 6 levels per channel (:func:`painter_grid`,
  ``sep = 256 // 6 = 42``: values 255, 213, 171, 129, 87, 45).
* ``"painter_coco"``: the 133 COCO panoptic categories in ``"coco"``'s order (contiguous labels
  0..132, the order of ``panoptic_coco_categories.json``, Painter's ``catid2colorid``) with
  Painter's grid of 7 levels per channel (``data/coco_semseg/gen_color_coco_panoptic_segm.py``,
  ``channelsep=7``, ``sep = 36``). Painter paints unlabelled pixels black, which is no entry:
  every entry has R >= 183; it is this palette's void colour (below), decoded to ``ignore``.

Void colours and class counts of named palettes (:data:`NAMED_VOID`, :data:`NAMED_CLASSES`)
------------------------------------------------------------------------------------------
Each named palette carries its dataset's colour for "void" / "ignore" pixels, which
``mask/palette`` encodes for the ``ignore`` label and decodes back to it, never to a class:

* ``"voc"``: (224, 224, 192), the colour map's entry 255, VOC's void label (object boundaries and
  difficult regions; ``VOCdevkit`` devkit_doc, "void"). A ``"voc"`` palette holds the 21 VOC
  classes by default (:data:`NAMED_CLASSES`; ``num_classes`` up to 256 keeps more of the map).
* ``"cityscapes"``: black, the colour ``cityscapesScripts/helpers/labels.py`` gives trainId 255:
  its ``trainId2label``, built over ``reversed(labels)``, maps 255 to the first label listed
  with it, ``unlabeled`` ``(0, 0, 0)``. (Not every trainId-255 label is black: ``dynamic``,
  ``ground``, ``parking``, ... keep their own colours in ``gtFine_color.png``.)
* ``"coco"``: black, panopticapi's void segment id 0 (``VOID = 0``,
  ``panopticapi/evaluation.py``; ``id2rgb(0) = (0, 0, 0)``, ``panopticapi/utils.py``);
  ``"painter_coco"``: black, what Painter paints unlabelled pixels (its output starts at 0).
* ``"ade20k"``, ``"painter_ade20k"``: black, which is already label 0 ("other", ADE20K's
  ignore: CSAIL's ``colorEncode`` leaves it at 0): no extra colour.

``tests/test_palette_sources.py`` checks each void colour and each palette's number of labels
against the dataset's own files (``tests/fixtures/void_sources.json``).

Generated palettes (:func:`distinct_palette`)
---------------------------------------------
Greedy farthest-point selection over the sRGB grid with step 5 (52 levels per channel, 140608
candidates) in CIELAB or OKLab: each new colour is the candidate farthest from every colour picked
so far (and from the ``avoid`` colours), ties to the first candidate in grid order. The greedy
choice is within a factor 2 of the best possible minimum distance; :func:`min_pairwise_distance`
reports the margin actually reached. Deterministic, cached per ``(n, space, avoid)``.

Collisions
----------
:func:`find_collisions` lists the groups of labels sharing a colour; nearest-colour decoding returns
the lowest label of each group. :func:`resolve_palette` warns (:class:`PaletteCollisionWarning`,
exported as ``rgbtask.PaletteCollisionWarning``) once per process for a user's list of colours
with a collision, from the caller's line; a named palette's known collision (ADE20K) is documented,
not warned.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sys
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.colorspace import convert, space_id
from rgbtask.errors import ConfigError
from rgbtask.params import plain

__all__ = [
    "ADE20K_150",
    "CITYSCAPES_19",
    "COCO_PANOPTIC_CATEGORIES",
    "NAMED_CLASSES",
    "NAMED_PALETTES",
    "NAMED_VOID",
    "PaletteCollisionWarning",
    "distinct_palette",
    "family_colors",
    "find_collisions",
    "min_pairwise_distance",
    "named_palette",
    "painter_grid",
    "resolve_palette",
    "voc_colormap",
]


class PaletteCollisionWarning(UserWarning):
    """A palette gives two labels the same colour: the higher one cannot round-trip."""


def voc_colormap(n: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: bit ``j`` of channel c of label ``i`` is bit ``3 k + c`` of ``i``
    put at bit ``7 - k`` (``VOClabelcolormap.m``). Returns ``(n, 3)`` uint8."""
    out = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        code, rgb = i, [0, 0, 0]
        for k in range(8):
            for c in range(3):
                rgb[c] |= ((code >> c) & 1) << (7 - k)
            code >>= 3
        out[i] = rgb
    return out


#: ADE20K-150 classes 1..150 (entry n - 1 is label n), CSAIL color150.mat = mmseg ADE20KDataset.
ADE20K_150: tuple[tuple[int, int, int], ...] = (
    (120, 120, 120),
    (180, 120, 120),
    (6, 230, 230),
    (80, 50, 50),
    (4, 200, 3),
    (120, 120, 80),
    (140, 140, 140),
    (204, 5, 255),
    (230, 230, 230),
    (4, 250, 7),
    (224, 5, 255),
    (235, 255, 7),
    (150, 5, 61),
    (120, 120, 70),
    (8, 255, 51),
    (255, 6, 82),
    (143, 255, 140),
    (204, 255, 4),
    (255, 51, 7),
    (204, 70, 3),
    (0, 102, 200),
    (61, 230, 250),
    (255, 6, 51),
    (11, 102, 255),
    (255, 7, 71),
    (255, 9, 224),
    (9, 7, 230),
    (220, 220, 220),
    (255, 9, 92),
    (112, 9, 255),
    (8, 255, 214),
    (7, 255, 224),
    (255, 184, 6),
    (10, 255, 71),
    (255, 41, 10),
    (7, 255, 255),
    (224, 255, 8),
    (102, 8, 255),
    (255, 61, 6),
    (255, 194, 7),
    (255, 122, 8),
    (0, 255, 20),
    (255, 8, 41),
    (255, 5, 153),
    (6, 51, 255),
    (235, 12, 255),
    (160, 150, 20),
    (0, 163, 255),
    (140, 140, 140),
    (250, 10, 15),
    (20, 255, 0),
    (31, 255, 0),
    (255, 31, 0),
    (255, 224, 0),
    (153, 255, 0),
    (0, 0, 255),
    (255, 71, 0),
    (0, 235, 255),
    (0, 173, 255),
    (31, 0, 255),
    (11, 200, 200),
    (255, 82, 0),
    (0, 255, 245),
    (0, 61, 255),
    (0, 255, 112),
    (0, 255, 133),
    (255, 0, 0),
    (255, 163, 0),
    (255, 102, 0),
    (194, 255, 0),
    (0, 143, 255),
    (51, 255, 0),
    (0, 82, 255),
    (0, 255, 41),
    (0, 255, 173),
    (10, 0, 255),
    (173, 255, 0),
    (0, 255, 153),
    (255, 92, 0),
    (255, 0, 255),
    (255, 0, 245),
    (255, 0, 102),
    (255, 173, 0),
    (255, 0, 20),
    (255, 184, 184),
    (0, 31, 255),
    (0, 255, 61),
    (0, 71, 255),
    (255, 0, 204),
    (0, 255, 194),
    (0, 255, 82),
    (0, 10, 255),
    (0, 112, 255),
    (51, 0, 255),
    (0, 194, 255),
    (0, 122, 255),
    (0, 255, 163),
    (255, 153, 0),
    (0, 255, 10),
    (255, 112, 0),
    (143, 255, 0),
    (82, 0, 255),
    (163, 255, 0),
    (255, 235, 0),
    (8, 184, 170),
    (133, 0, 255),
    (0, 255, 92),
    (184, 0, 255),
    (255, 0, 31),
    (0, 184, 255),
    (0, 214, 255),
    (255, 0, 112),
    (92, 255, 0),
    (0, 224, 255),
    (112, 224, 255),
    (70, 184, 160),
    (163, 0, 255),
    (153, 0, 255),
    (71, 255, 0),
    (255, 0, 163),
    (255, 204, 0),
    (255, 0, 143),
    (0, 255, 235),
    (133, 255, 0),
    (255, 0, 235),
    (245, 0, 255),
    (255, 0, 122),
    (255, 245, 0),
    (10, 190, 212),
    (214, 255, 0),
    (0, 204, 255),
    (20, 0, 255),
    (255, 255, 0),
    (0, 153, 255),
    (0, 41, 255),
    (0, 255, 204),
    (41, 0, 255),
    (41, 255, 0),
    (173, 0, 255),
    (0, 245, 255),
    (71, 0, 255),
    (122, 0, 255),
    (0, 255, 184),
    (0, 92, 255),
    (184, 255, 0),
    (0, 133, 255),
    (255, 214, 0),
    (25, 194, 194),
    (102, 255, 0),
    (92, 0, 255),
)

#: Cityscapes trainIds 0..18 (cityscapesScripts helpers/labels.py).
CITYSCAPES_19: tuple[tuple[int, int, int], ...] = (
    (128, 64, 128),  # 0 road
    (244, 35, 232),  # 1 sidewalk
    (70, 70, 70),  # 2 building
    (102, 102, 156),  # 3 wall
    (190, 153, 153),  # 4 fence
    (153, 153, 153),  # 5 pole
    (250, 170, 30),  # 6 traffic light
    (220, 220, 0),  # 7 traffic sign
    (107, 142, 35),  # 8 vegetation
    (152, 251, 152),  # 9 terrain
    (70, 130, 180),  # 10 sky
    (220, 20, 60),  # 11 person
    (255, 0, 0),  # 12 rider
    (0, 0, 142),  # 13 car
    (0, 0, 70),  # 14 truck
    (0, 60, 100),  # 15 bus
    (0, 80, 100),  # 16 train
    (0, 0, 230),  # 17 motorcycle
    (119, 11, 32),  # 18 bicycle
)

#: COCO panoptic categories (id, isthing, name, colour), in panoptic_coco_categories.json order.
COCO_PANOPTIC_CATEGORIES: tuple[tuple[int, int, str, tuple[int, int, int]], ...] = (
    (1, 1, "person", (220, 20, 60)),
    (2, 1, "bicycle", (119, 11, 32)),
    (3, 1, "car", (0, 0, 142)),
    (4, 1, "motorcycle", (0, 0, 230)),
    (5, 1, "airplane", (106, 0, 228)),
    (6, 1, "bus", (0, 60, 100)),
    (7, 1, "train", (0, 80, 100)),
    (8, 1, "truck", (0, 0, 70)),
    (9, 1, "boat", (0, 0, 192)),
    (10, 1, "traffic light", (250, 170, 30)),
    (11, 1, "fire hydrant", (100, 170, 30)),
    (13, 1, "stop sign", (220, 220, 0)),
    (14, 1, "parking meter", (175, 116, 175)),
    (15, 1, "bench", (250, 0, 30)),
    (16, 1, "bird", (165, 42, 42)),
    (17, 1, "cat", (255, 77, 255)),
    (18, 1, "dog", (0, 226, 252)),
    (19, 1, "horse", (182, 182, 255)),
    (20, 1, "sheep", (0, 82, 0)),
    (21, 1, "cow", (120, 166, 157)),
    (22, 1, "elephant", (110, 76, 0)),
    (23, 1, "bear", (174, 57, 255)),
    (24, 1, "zebra", (199, 100, 0)),
    (25, 1, "giraffe", (72, 0, 118)),
    (27, 1, "backpack", (255, 179, 240)),
    (28, 1, "umbrella", (0, 125, 92)),
    (31, 1, "handbag", (209, 0, 151)),
    (32, 1, "tie", (188, 208, 182)),
    (33, 1, "suitcase", (0, 220, 176)),
    (34, 1, "frisbee", (255, 99, 164)),
    (35, 1, "skis", (92, 0, 73)),
    (36, 1, "snowboard", (133, 129, 255)),
    (37, 1, "sports ball", (78, 180, 255)),
    (38, 1, "kite", (0, 228, 0)),
    (39, 1, "baseball bat", (174, 255, 243)),
    (40, 1, "baseball glove", (45, 89, 255)),
    (41, 1, "skateboard", (134, 134, 103)),
    (42, 1, "surfboard", (145, 148, 174)),
    (43, 1, "tennis racket", (255, 208, 186)),
    (44, 1, "bottle", (197, 226, 255)),
    (46, 1, "wine glass", (171, 134, 1)),
    (47, 1, "cup", (109, 63, 54)),
    (48, 1, "fork", (207, 138, 255)),
    (49, 1, "knife", (151, 0, 95)),
    (50, 1, "spoon", (9, 80, 61)),
    (51, 1, "bowl", (84, 105, 51)),
    (52, 1, "banana", (74, 65, 105)),
    (53, 1, "apple", (166, 196, 102)),
    (54, 1, "sandwich", (208, 195, 210)),
    (55, 1, "orange", (255, 109, 65)),
    (56, 1, "broccoli", (0, 143, 149)),
    (57, 1, "carrot", (179, 0, 194)),
    (58, 1, "hot dog", (209, 99, 106)),
    (59, 1, "pizza", (5, 121, 0)),
    (60, 1, "donut", (227, 255, 205)),
    (61, 1, "cake", (147, 186, 208)),
    (62, 1, "chair", (153, 69, 1)),
    (63, 1, "couch", (3, 95, 161)),
    (64, 1, "potted plant", (163, 255, 0)),
    (65, 1, "bed", (119, 0, 170)),
    (67, 1, "dining table", (0, 182, 199)),
    (70, 1, "toilet", (0, 165, 120)),
    (72, 1, "tv", (183, 130, 88)),
    (73, 1, "laptop", (95, 32, 0)),
    (74, 1, "mouse", (130, 114, 135)),
    (75, 1, "remote", (110, 129, 133)),
    (76, 1, "keyboard", (166, 74, 118)),
    (77, 1, "cell phone", (219, 142, 185)),
    (78, 1, "microwave", (79, 210, 114)),
    (79, 1, "oven", (178, 90, 62)),
    (80, 1, "toaster", (65, 70, 15)),
    (81, 1, "sink", (127, 167, 115)),
    (82, 1, "refrigerator", (59, 105, 106)),
    (84, 1, "book", (142, 108, 45)),
    (85, 1, "clock", (196, 172, 0)),
    (86, 1, "vase", (95, 54, 80)),
    (87, 1, "scissors", (128, 76, 255)),
    (88, 1, "teddy bear", (201, 57, 1)),
    (89, 1, "hair drier", (246, 0, 122)),
    (90, 1, "toothbrush", (191, 162, 208)),
    (92, 0, "banner", (255, 255, 128)),
    (93, 0, "blanket", (147, 211, 203)),
    (95, 0, "bridge", (150, 100, 100)),
    (100, 0, "cardboard", (168, 171, 172)),
    (107, 0, "counter", (146, 112, 198)),
    (109, 0, "curtain", (210, 170, 100)),
    (112, 0, "door-stuff", (92, 136, 89)),
    (118, 0, "floor-wood", (218, 88, 184)),
    (119, 0, "flower", (241, 129, 0)),
    (122, 0, "fruit", (217, 17, 255)),
    (125, 0, "gravel", (124, 74, 181)),
    (128, 0, "house", (70, 70, 70)),
    (130, 0, "light", (255, 228, 255)),
    (133, 0, "mirror-stuff", (154, 208, 0)),
    (138, 0, "net", (193, 0, 92)),
    (141, 0, "pillow", (76, 91, 113)),
    (144, 0, "platform", (255, 180, 195)),
    (145, 0, "playingfield", (106, 154, 176)),
    (147, 0, "railroad", (230, 150, 140)),
    (148, 0, "river", (60, 143, 255)),
    (149, 0, "road", (128, 64, 128)),
    (151, 0, "roof", (92, 82, 55)),
    (154, 0, "sand", (254, 212, 124)),
    (155, 0, "sea", (73, 77, 174)),
    (156, 0, "shelf", (255, 160, 98)),
    (159, 0, "snow", (255, 255, 255)),
    (161, 0, "stairs", (104, 84, 109)),
    (166, 0, "tent", (169, 164, 131)),
    (168, 0, "towel", (225, 199, 255)),
    (171, 0, "wall-brick", (137, 54, 74)),
    (175, 0, "wall-stone", (135, 158, 223)),
    (176, 0, "wall-tile", (7, 246, 231)),
    (177, 0, "wall-wood", (107, 255, 200)),
    (178, 0, "water-other", (58, 41, 149)),
    (180, 0, "window-blind", (183, 121, 142)),
    (181, 0, "window-other", (255, 73, 97)),
    (184, 0, "tree-merged", (107, 142, 35)),
    (185, 0, "fence-merged", (190, 153, 153)),
    (186, 0, "ceiling-merged", (146, 139, 141)),
    (187, 0, "sky-other-merged", (70, 130, 180)),
    (188, 0, "cabinet-merged", (134, 199, 156)),
    (189, 0, "table-merged", (209, 226, 140)),
    (190, 0, "floor-other-merged", (96, 36, 108)),
    (191, 0, "pavement-merged", (96, 96, 96)),
    (192, 0, "mountain-merged", (64, 170, 64)),
    (193, 0, "grass-merged", (152, 251, 152)),
    (194, 0, "dirt-merged", (208, 229, 228)),
    (195, 0, "paper-merged", (206, 186, 171)),
    (196, 0, "food-other-merged", (152, 161, 64)),
    (197, 0, "building-other-merged", (116, 112, 0)),
    (198, 0, "rock-merged", (0, 114, 143)),
    (199, 0, "wall-other-merged", (102, 102, 156)),
    (200, 0, "rug-merged", (250, 141, 255)),
)


def _ade20k() -> np.ndarray:
    return np.asarray(((0, 0, 0), *ADE20K_150), dtype=np.uint8)


def painter_grid(n: int, levels: int) -> np.ndarray:
    """Painter's mean-separation colour grid: ``n`` colours, ``levels`` values per channel.

    Entry ``i`` (Wang et al. 2023, "Images Speak in Images: A Generalist Painter", baaivision/Painter,
    ``data/ade20k/gen_color_ade20k_sem.py`` ``define_colors_per_location_mean_sep`` and
    ``data/coco_semseg/gen_color_coco_panoptic_segm.py`` ``define_colors_by_mean_sep``):
    with ``sep = 256 // levels``, ``R = 255 - (i // levels^2) sep``,
    ``G = 255 - (i % levels^2 // levels) sep``, ``B = 255 - (i % levels) sep``."""
    i = np.arange(n, dtype=np.int64)
    sep = 256 // levels
    digits = np.stack([i // levels**2, i % levels**2 // levels, i % levels], axis=-1)
    out = 255 - digits * sep
    if out.min() < 0:
        raise ConfigError(f"expected at most {levels**3} colours on a {levels}-level grid, got {n}")
    return out.astype(np.uint8)


def _painter_ade20k() -> np.ndarray:
    # Painter: int(150 ** (1 / 3)) + 1 = 6 levels (its comment "# 19" is stale); label 0 (other)
    # stays black as its colorEncode skips labels <= 0, label n takes grid entry n - 1.
    return np.concatenate([np.zeros((1, 3), np.uint8), painter_grid(150, 6)])


#: Builders of the named palettes.
NAMED_PALETTES = {
    "painter_ade20k": _painter_ade20k,
    "painter_coco": lambda: painter_grid(133, 7),
    "voc": voc_colormap,
    "ade20k": _ade20k,
    "cityscapes": lambda: np.asarray(CITYSCAPES_19, dtype=np.uint8),
    "coco": lambda: np.asarray([c[3] for c in COCO_PANOPTIC_CATEGORIES], dtype=np.uint8),
}


#: The void colour of each named palette (module docstring: sources).
NAMED_VOID: dict[str, tuple[int, int, int]] = {
    "voc": (224, 224, 192),
    "cityscapes": (0, 0, 0),
    "coco": (0, 0, 0),
    "ade20k": (0, 0, 0),
    "painter_ade20k": (0, 0, 0),
    "painter_coco": (0, 0, 0),
}

#: Named palettes whose colour map is longer than the dataset's class list: the default number
#: of classes kept (VOC: 20 classes and background; the map has 256 entries).
NAMED_CLASSES: dict[str, int] = {"voc": 21}


def named_palette(name: str) -> np.ndarray:
    """A named palette as a fresh ``(K, 3)`` uint8 array (see the module docstring)."""
    if name not in NAMED_PALETTES:
        raise ConfigError(
            f"expected a palette name in {sorted(NAMED_PALETTES)} or 'distinct', got {name!r}"
        )
    return NAMED_PALETTES[name]()


def find_collisions(colors: Any) -> list[tuple[int, ...]]:
    """Groups of labels (ascending) that share a colour, ordered by their lowest label."""
    colors = np.asarray(colors, dtype=np.int64).reshape(-1, 3)
    keys = (colors[:, 0] << 16) | (colors[:, 1] << 8) | colors[:, 2]
    _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
    groups = [
        tuple(int(i) for i in np.flatnonzero(inverse == g)) for g in np.flatnonzero(counts > 1)
    ]
    return sorted(groups)


def shadowed_labels(colors: Any) -> list[int]:
    """Labels that nearest-colour decoding never returns (all but the lowest of each collision)."""
    return sorted(i for group in find_collisions(colors) for i in group[1:])


def min_pairwise_distance(colors: Any, space: str = "lab") -> float:
    """The smallest distance between two palette colours in ``space``: the robustness margin
    (half of it is how far a colour may drift and still decode to its label). 0 on a collision;
    inf for fewer than two colours."""
    coords = convert(np.asarray(colors, dtype=np.uint8).reshape(-1, 3), space)
    if coords.shape[0] < 2:
        return float("inf")
    d = np.sqrt(((coords[:, None, :] - coords[None, :, :]) ** 2).sum(-1))
    d[np.diag_indices_from(d)] = np.inf
    return float(d.min())


_GRID_STEP = 5
_distinct_lock = threading.Lock()


@functools.lru_cache(maxsize=4)
def _grid(space: str) -> tuple[np.ndarray, np.ndarray]:
    levels = np.arange(0, 256, _GRID_STEP, dtype=np.uint8)
    grid = np.stack(np.meshgrid(levels, levels, levels, indexing="ij"), axis=-1).reshape(-1, 3)
    return grid, convert(grid, space)


#: Bump when :func:`_generate_distinct` changes its output: the on-disk cache keys on it.
_DISTINCT_VERSION = 1


def _disk_cache_dir() -> Path:
    """Where generated palettes are kept across processes, beside Numba's cache of our kernels:
    ``$NUMBA_CACHE_DIR/rgbtask-palettes`` when set, else ``rgbtask/core/__pycache__/palettes``."""
    import numba

    root = getattr(numba.config, "CACHE_DIR", "") or ""
    if root:
        return Path(root) / "rgbtask-palettes"
    return Path(__file__).resolve().parent / "core" / "__pycache__" / "palettes"


def _disk_cache_path(n: int, space: str, avoid: tuple[tuple[int, int, int], ...]) -> Path:
    key = repr((_DISTINCT_VERSION, _GRID_STEP, n, space, avoid)).encode()
    digest = hashlib.sha256(key).hexdigest()[:24]
    return _disk_cache_dir() / f"distinct-{n}-{space}-{digest}.npy"


def _load_distinct(path: Path, n: int) -> np.ndarray | None:
    """A cached palette, or None when missing, unreadable or not what it should be (then it is
    generated again: a damaged cache file never becomes a palette)."""
    try:
        colors = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    ok = colors.dtype == np.uint8 and colors.shape == (n, 3)
    ok = ok and bool(np.all((colors % _GRID_STEP == 0) | (colors == 255)))
    ok = ok and np.unique(colors, axis=0).shape[0] == n
    return colors if ok else None


def _store_distinct(path: Path, colors: np.ndarray) -> None:
    """Write atomically (a temporary name, then a rename); a read-only location is skipped."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.part")
        with open(tmp, "wb") as f:
            np.save(f, colors, allow_pickle=False)
        os.replace(tmp, path)
    except OSError:
        pass


@functools.lru_cache(maxsize=32)
def _distinct(n: int, space: str, avoid: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    """:func:`_generate_distinct`, cached in memory and on disk (generating 151 colours costs
    about a second; loading them, a millisecond)."""
    path = _disk_cache_path(n, space, avoid)
    colors = _load_distinct(path, n)
    if colors is None:
        colors = _generate_distinct(n, space, avoid)
        _store_distinct(path, colors)
    colors = np.array(colors, dtype=np.uint8)
    colors.setflags(write=False)
    return colors


def _generate_distinct(n: int, space: str, avoid: tuple[tuple[int, int, int], ...]) -> np.ndarray:
    grid, coords = _grid(space)
    min_d = np.full(grid.shape[0], np.inf)
    if avoid:
        for c in convert(np.asarray(avoid, dtype=np.uint8), space):
            min_d = np.minimum(min_d, ((coords - c) ** 2).sum(-1))
    else:
        min_d = ((coords - coords.mean(axis=0)) ** 2).sum(-1)  # start from the most extreme colour
    picks = []
    for _ in range(n):
        k = int(np.argmax(min_d))
        picks.append(k)
        d = ((coords - coords[k]) ** 2).sum(-1)
        min_d = d if not avoid and len(picks) == 1 else np.minimum(min_d, d)
    out = grid[picks]
    out.setflags(write=False)
    return out


def _as_triples(colors: Any, what: str) -> tuple[tuple[int, int, int], ...]:
    try:
        arr = np.asarray(colors)
        ok = arr.ndim == 2 and arr.shape[1] == 3 and arr.shape[0] >= 1
        ok = ok and arr.dtype.kind in "iuf" and bool(np.all(arr == np.round(arr)))
        ok = ok and bool(np.all((arr >= 0) & (arr <= 255)))
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ConfigError(
            f"expected {what} as a list of [R, G, B] triples of integers in 0..255, got {plain(colors)!r}"
        )
    return tuple(tuple(int(v) for v in row) for row in arr)  # type: ignore[misc]


def distinct_palette(
    n: int, space: str = "lab", avoid: Sequence[Sequence[int]] | None = None
) -> np.ndarray:
    """``n`` colours maximising (greedily) their minimum distance in ``space`` (``"lab"`` or
    ``"oklab"``), away from the ``avoid`` colours. Returns a read-only ``(n, 3)`` uint8 array."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 65535:
        raise ConfigError(f"expected num_classes an integer in 1..65535, got {plain(n)!r}")
    if space not in ("lab", "oklab", "rgb"):
        space_id(space)
    avoid_t = _as_triples(avoid, "avoid") if avoid is not None and len(avoid) else ()
    with _distinct_lock:
        return _distinct(int(n), space, avoid_t)


_warned: set[bytes] = set()


def resolve_palette(
    palette: Any,
    num_classes: int | None = None,
    space: str = "lab",
    avoid: Sequence[Sequence[int]] | None = None,
    warn: bool = True,
) -> np.ndarray:
    """A codec's ``palette`` parameter -> ``(K, 3)`` uint8: a name, ``"distinct"`` (with
    ``num_classes``, generated in ``space``, ``"rgb"`` meaning CIELAB), or a list of RGB triples.

    A list of colours in which two labels share a colour warns
    (:class:`PaletteCollisionWarning`) once per palette per process, attributed to the first
    caller outside rgbtask (``get_codec(...)`` in your code). A named palette's known collision
    (ADE20K-150: labels 7 and 49) does not warn: it is documented (docs/masks.md) and shown by
    ``codec.info()["collisions"]`` and ``codec.shadowed``, so that ``python -W error`` can build
    the default codec."""
    if isinstance(palette, str):
        if palette == "distinct":
            if num_classes is None:
                raise ConfigError(
                    "expected num_classes with palette='distinct', e.g. "
                    "get_codec('mask/palette', palette='distinct', num_classes=21)"
                )
            gen_space = space if space in ("lab", "oklab") else "lab"
            colors = np.asarray(distinct_palette(num_classes, gen_space, avoid))
        else:
            colors = named_palette(palette)
            if num_classes is None and palette in NAMED_CLASSES:
                colors = colors[: NAMED_CLASSES[palette]]
    else:
        colors = np.asarray(_as_triples(palette, "palette"), dtype=np.uint8)
    if num_classes is not None and not (isinstance(palette, str) and palette == "distinct"):
        if isinstance(num_classes, bool) or not 1 <= int(num_classes) <= colors.shape[0]:
            raise ConfigError(
                f"expected num_classes in 1..{colors.shape[0]} for this palette, got {plain(num_classes)!r}"
            )
        colors = colors[: int(num_classes)]
    key = colors.tobytes()
    if warn and not isinstance(palette, str) and key not in _warned:
        groups = find_collisions(colors)
        _warned.add(key)  # checked: warn at most once per palette
        if groups:
            warnings.warn(
                f"palette gives labels {groups} the same colour; decoding returns the lowest label "
                "of each group, so the others cannot round-trip",
                PaletteCollisionWarning,
                stacklevel=_outside_stacklevel(),
            )
    return colors


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep  # .../rgbtask/


def _outside_stacklevel() -> int:
    """The ``stacklevel`` for a ``warnings.warn`` in the function that calls this one, that names
    the first frame outside rgbtask (and outside the ``__init__`` a dataclass generates): the
    user's line, however deep the codec construction that got here."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        code = frame.f_code
        inside = os.path.abspath(code.co_filename).startswith(_PACKAGE_DIR) or (
            code.co_filename == "<string>" and code.co_name == "__init__"
        )
        if not inside:
            break
        frame = frame.f_back
        level += 1
    return level


def family_colors(
    base: Sequence[int], n: int, max_dist: int = 30, seed: int = 0, taken: Any = ()
) -> np.ndarray:
    """``n`` distinct colours around ``base``: the base itself first, then ``base`` plus uniform
    integer jitter in ``[-max_dist, max_dist]`` per channel, clipped to 0..255, skipping colours
    already used, as panopticapi's ``IdGenerator.get_color`` colours the instances of a thing
    category (``panopticapi/utils.py``, ``random_color(base, max_dist=30)``). Seeded."""
    rng = np.random.default_rng(seed)
    base_t = _as_triples([base], "base")[0]
    used = {tuple(int(v) for v in c) for c in np.asarray(taken, dtype=np.int64).reshape(-1, 3)}
    out: list[tuple[int, ...]] = []
    if base_t not in used:
        out.append(base_t)
        used.add(base_t)
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 1000 * n:
            raise ConfigError(f"expected room for {n} colours within {max_dist} of {base_t}")
        c = tuple(
            int(v)
            for v in np.clip(np.asarray(base_t) + rng.integers(-max_dist, max_dist + 1, 3), 0, 255)
        )
        if c not in used:
            used.add(c)
            out.append(c)
    return np.asarray(out, dtype=np.uint8)
