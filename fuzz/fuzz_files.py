"""Coverage-guided fuzzing of the file decoders (``rgbtask.io``) with atheris.

Run::

    python fuzz/fuzz_files.py --make-corpus fuzz/corpus-files
    python fuzz/fuzz_files.py -max_total_time=600 -max_len=8192 fuzz/corpus-files

One input is a reader (``read_rgb``, ``read_image``, ``read_depth`` of ``.png``/``.npy``/``.pfm``,
``read_mask``, ``read_normals``, ``read_palette_png``, ``read_coco_keypoints``) and the bytes of
the file it reads (written to a temporary file). Every read must either raise an ``InputError``
that names the file and says what was expected, or return what the reader promises (shape, dtype,
finite-or-NaN depth); anything else is a finding. Pillow's and OpenCV's C parsers are not
instrumented (atheris sees Python only), so the search is guided by rgbtask's own parsing: the PNG
chunk walk, the JPEG end check, the ``.npy`` header checks and the PFM header.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

from _common import instrument, main

with instrument():
    import numpy as np

    import rgbtask.io as rio
    from rgbtask.errors import InputError

READERS = (
    ("read_rgb", ".png", rio.read_rgb),
    ("read_rgb", ".jpg", rio.read_rgb),
    ("read_image", ".png", rio.read_image),
    ("read_depth", ".png", lambda p: rio.read_depth(p, depth_scale=1000.0)),
    ("read_depth", ".npy", rio.read_depth),
    ("read_depth", ".pfm", rio.read_depth),
    ("read_mask", ".png", rio.read_mask),
    ("read_mask", ".npy", rio.read_mask),
    ("read_normals", ".npy", rio.read_normals),
    ("read_palette_png", ".png", rio.read_palette_png),
    ("read_coco_keypoints", ".json", rio.read_coco_keypoints),
)
#: Each input is written here (in memory where /dev/shm exists), read, and removed.
_PREFIX = Path("/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()) / (
    f"rgbtask-fuzz-files-{os.getpid()}"
)


def _check(name: str, result) -> None:
    if name == "read_rgb":
        assert result.ndim == 3 and result.shape[-1] == 3, result.shape
        assert result.dtype in (np.uint8, np.uint16) and result.flags.c_contiguous
    elif name == "read_image":  # 8/16-bit, or 32-bit integer / float (a TIFF, a PFM)
        dtypes = (np.uint8, np.uint16, np.int32, np.float32)
        assert result.ndim in (2, 3) and result.dtype in dtypes, (result.shape, result.dtype)
    elif name == "read_depth":
        assert result.ndim == 2 and result.dtype == np.float64, (result.shape, result.dtype)
        with np.errstate(invalid="ignore"):
            assert np.all(np.isnan(result) | ((result > 0) & np.isfinite(result)))
    elif name == "read_mask":
        assert result.ndim == 2 and result.dtype.kind in "iu", (result.shape, result.dtype)
    elif name == "read_normals":
        assert result.ndim == 3 and result.shape[-1] == 3 and result.dtype == np.float64
    elif name == "read_palette_png":
        labels, palette = result
        assert labels.ndim == 2 and labels.dtype == np.uint8 and palette.shape == (256, 3)
    elif name == "read_coco_keypoints":
        for ann in result.values():
            kp = ann["keypoints"]
            assert kp.ndim == 3 and kp.shape[-1] == 2 and ann["visible"].shape == kp.shape[:-1]


def fuzz_one_input(data: bytes) -> None:
    if not data:
        return
    name, suffix, read = READERS[data[0] % len(READERS)]
    path = _PREFIX.with_suffix(suffix)
    path.write_bytes(data[1:])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow's warnings about odd files
            result = read(path)
    except InputError as exc:
        if "expected" not in str(exc) or str(path) not in str(exc):
            raise AssertionError(f"{name}: unclear error {exc!r}") from exc
        return
    finally:
        path.unlink(missing_ok=True)
    _check(name, result)


def _seed_files() -> dict[str, bytes]:
    """One small valid file per reader and suffix."""
    from PIL import Image

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
    out: dict[str, bytes] = {}

    def pil_bytes(array, fmt, **kwargs) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(array).save(buf, format=fmt, **kwargs)
        return buf.getvalue()

    out["rgb.png"] = pil_bytes(rgb, "PNG")
    out["rgb.jpg"] = pil_bytes(rgb, "JPEG", quality=90)
    out["gray16.png"] = pil_bytes(rng.integers(0, 65535, (6, 5), dtype=np.uint16), "PNG")
    out["labels.png"] = pil_bytes(rng.integers(0, 20, (6, 5), dtype=np.uint8), "PNG")
    palette = Image.fromarray(rng.integers(0, 20, (6, 5), dtype=np.uint8), mode="L").convert("P")
    buf = io.BytesIO()
    palette.save(buf, format="PNG")
    out["palette.png"] = buf.getvalue()
    for key, array in (
        ("depth.npy", rng.random((6, 5)) * 10),
        ("labels.npy", rng.integers(0, 20, (6, 5))),
        ("normals.npy", rng.normal(size=(6, 5, 3))),
    ):
        buf = io.BytesIO()
        np.save(buf, array)
        out[key] = buf.getvalue()
    depth = (rng.random((6, 5)) * 10).astype("<f4")
    out["depth.pfm"] = b"Pf\n5 6\n-1.0\n" + depth.tobytes()
    coco = {
        "images": [{"id": 1, "file_name": "a.jpg", "height": 20, "width": 30}],
        "annotations": [{"image_id": 1, "keypoints": [3, 4, 2] * 17, "bbox": [0, 0, 9, 9]}],
    }
    out["coco.json"] = json.dumps(coco).encode()
    return out


def make_corpus(directory: str) -> int:
    """Seed inputs: every reader with every seed file (its index byte, then the file)."""
    os.makedirs(directory, exist_ok=True)
    files = _seed_files()
    count = 0
    for index, (_, suffix, _) in enumerate(READERS):
        for key, data in files.items():
            if key.endswith(suffix):
                with open(os.path.join(directory, f"seed-{index:02d}-{key}"), "wb") as f:
                    f.write(bytes([index]) + data)
                count += 1
    return count


if __name__ == "__main__":
    main(sys.argv, fuzz_one_input, make_corpus)
