"""Hypothesis strategies shared by the test modules."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def image_shapes(max_side: int = 6, max_batch_dims: int = 2):
    """Shapes ``(*batch, H, W)`` with small sides."""
    return st.tuples(
        st.lists(st.integers(1, 3), min_size=0, max_size=max_batch_dims),
        st.integers(1, max_side),
        st.integers(1, max_side),
    ).map(lambda t: (*t[0], t[1], t[2]))


@st.composite
def flow_fields_with_unknown(draw, max_side: int = 7, max_flow: float = 600.0):
    """One optical flow field ``(H, W, 2)`` float64 in pixels, with some vectors unknown (NaN) and
    magnitudes from sub-pixel to ``max_flow``."""
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.01, 1.0, 30.0, max_flow]))
    flow = rng.uniform(-scale, scale, (height, width, 2))
    flow[rng.random((height, width)) < draw(st.sampled_from([0.0, 0.3]))] = np.nan
    return flow


@st.composite
def unit_vectors(draw, shape=None, dtype=np.float64):
    """Unit vectors of shape ``shape + (3,)`` drawn uniformly on the sphere."""
    if shape is None:
        shape = draw(image_shapes())
    seed = draw(st.integers(0, 2**32 - 1))
    v = np.random.default_rng(seed).normal(size=(*shape, 3))
    v /= np.linalg.norm(v, axis=-1, keepdims=True)
    return v.astype(dtype)


def rgb_arrays(shape=None, dtype=np.uint8):
    """RGB arrays ``(..., H, W, 3)`` covering the whole code range of ``dtype``."""
    shapes = image_shapes() if shape is None else st.just(shape)
    if np.dtype(dtype).kind == "f":
        elements = st.floats(0.0, 1.0, width=np.dtype(dtype).itemsize * 8)
    else:
        elements = st.integers(0, int(np.iinfo(dtype).max))
    return shapes.flatmap(lambda s: hnp.arrays(dtype, (*s, 3), elements=elements))


@st.composite
def instance_maps(draw, max_side: int = 24, max_instances: int = 12, max_batch_dims: int = 1):
    """Instance id maps ``(*batch, H, W)`` int32 (0 = background) painted from random rectangles:
    instances of every size, sometimes split in two regions, sometimes under any ``min_size``."""
    batch = draw(st.lists(st.integers(1, 3), min_size=0, max_size=max_batch_dims))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    seed = draw(st.integers(0, 2**32 - 1))
    n_rects = draw(st.integers(0, 2 * max_instances))
    rng = np.random.default_rng(seed)
    out = np.zeros((int(np.prod(batch, dtype=np.int64)), h, w), dtype=np.int32)
    for img in out:
        for _ in range(n_rects):
            y0, x0 = rng.integers(0, h), rng.integers(0, w)
            y1, x1 = rng.integers(y0, h) + 1, rng.integers(x0, w) + 1
            img[y0:y1, x0:x1] = rng.integers(0, max_instances + 1)
    return out.reshape((*batch, h, w))


@st.composite
def flow_batches(draw, max_side: int = 6, max_batch_dims: int = 2):
    """Flow fields ``(*batch, H, W, 2)`` float64: magnitudes from sub-pixel to a few hundred
    pixels, some vectors unknown (NaN, inf or Middlebury's > 1e9)."""
    shape = draw(image_shapes(max_side, max_batch_dims))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([0.01, 1.0, 20.0, 300.0]))
    flow = rng.uniform(-scale, scale, (*shape, 2)) * rng.random((*shape, 1))
    if draw(st.booleans()):
        unknown = rng.random(shape) < 0.2
        flow[unknown, rng.integers(0, 2)] = draw(st.sampled_from([np.nan, np.inf, 1e10]))
    return flow
