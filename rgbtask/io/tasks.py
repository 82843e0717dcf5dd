"""Per-task readers and writers: the task values datasets ship (depth, masks, normals, COCO keypoint
JSON), and the :class:`TaskIO` objects through which codecs declare how their task's samples are
read from and written to files.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rgbtask.errors import InputError
from rgbtask.io.atomic import write_atomic
from rgbtask.io.formats import (
    _DEPTH_NPY,
    _FLOW_NPY,
    _MASK_NPY,
    _NORMALS_NPY,
    _imread_exr,
    _read_bytes,
    _read_npy,
    read_flo,
    read_pfm,
    write_flo,
    write_pfm,
)
from rgbtask.io.images import read_image, write_png

__all__ = [
    "COCO_KEYPOINTS_IO",
    "DEPTH_IO",
    "FLOW_IO",
    "MASK_IO",
    "NORMALS_IO",
    "READERS",
    "CocoKeypointsIO",
    "DepthIO",
    "FlowIO",
    "MaskIO",
    "NormalsIO",
    "TaskIO",
    "read_coco_keypoints",
    "read_depth",
    "read_flow",
    "read_kitti_flow",
    "read_mask",
    "read_normals",
    "read_value",
    "task_io_for",
    "write_flow",
    "write_kitti_flow",
    "write_value",
]


#: What an integer depth map needs, said the same way by every path that refuses one (the PNG
#: and ``.npy`` readers, ``DepthCodec.encode``).
INTEGER_DEPTH_HINT = "value / scale = metres, e.g. 1000 for millimetres, 256 for KITTI"


def _no_depth_scale(path: Path) -> InputError:
    return InputError(
        f"expected depth_scale for integer depth {str(path)!r} ({INTEGER_DEPTH_HINT})"
    )


def read_depth(path: str | Path, depth_scale: float | None = None) -> np.ndarray:
    """Depth in metres, float64, NaN where invalid (0 in integer PNGs, non-finite or <= 0 in floats).

    Integer images and integer ``.npy`` arrays need ``depth_scale`` (stored value / depth_scale =
    metres: 1000 for NYU's mm, 256 for KITTI); without it they are an :class:`InputError`, never
    read as metres. A ``.npy`` must hold a real-valued (integer or float) ``(H, W)`` array.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        depth = _read_npy(path, _DEPTH_NPY)
    elif suffix == ".pfm":
        depth = read_pfm(path)
    elif suffix == ".exr":
        depth = _imread_exr(path)
        if depth.ndim == 3:
            depth = depth[..., 0]
    else:
        depth = read_image(path)
        if depth.ndim != 2 or depth.dtype.kind not in "ui":
            raise InputError(
                f"expected a single-channel 8/16-bit depth image, got {depth.dtype} "
                f"{depth.shape} in {str(path)!r}"
            )
        if depth_scale is None:
            raise _no_depth_scale(path)
        return np.where(depth > 0, depth / float(depth_scale), np.nan)
    if depth.ndim != 2:
        raise InputError(
            f"expected a (H, W) depth map, got shape {depth.shape} in {str(path)!r}"
            + ("; squeeze the singleton axis first" if 1 in depth.shape and depth.ndim == 3 else "")
        )
    if depth.dtype.kind in "iu" and depth_scale is None:
        raise _no_depth_scale(path)
    depth = np.asarray(depth, dtype=np.float64)
    if depth_scale is not None:
        depth = depth / float(depth_scale)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(depth) & (depth > 0), depth, np.nan)


def read_mask(path: str | Path) -> np.ndarray:
    """Integer labels ``(H, W)``: PNG in L, I;16 or palette mode (indices), ``.npy`` (integers, or
    booleans read as 0 / 1); an RGB PNG is read as a COCO panoptic id map ``R + 256 G + 256^2 B``."""
    path = Path(path)
    if path.suffix.lower() == ".npy":
        labels = _read_npy(path, _MASK_NPY)
        if labels.dtype.kind == "b":
            labels = labels.astype(np.uint8)
    else:
        labels = read_image(path)
        if labels.ndim == 3:
            rgb = labels.astype(np.int64)
            labels = rgb[..., 0] + 256 * rgb[..., 1] + 65536 * rgb[..., 2]
    if labels.ndim != 2 or labels.dtype.kind not in "iu":
        raise InputError(
            f"expected integer labels (H, W), got {labels.dtype} {labels.shape} in {str(path)!r}"
        )
    return labels


def read_normals(path: str | Path) -> np.ndarray:
    """Float normals ``(H, W, 3)`` from ``.npy`` (a float array) or ``.exr``."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".npy":
        normals = _read_npy(path, _NORMALS_NPY)
    elif suffix == ".exr":
        normals = _imread_exr(path)
        if normals.ndim == 3:
            normals = normals[..., ::-1]
    else:
        raise InputError(f"expected normals as .npy or .exr, got {path.suffix!r} ({str(path)!r})")
    if normals.ndim != 3 or normals.shape[-1] != 3:
        raise InputError(f"expected normals (H, W, 3), got shape {normals.shape} in {str(path)!r}")
    return np.asarray(normals, dtype=np.float64)


def read_coco_keypoints(path: str | Path) -> dict[str, dict[str, Any]]:
    """COCO keypoint annotations, per image file name.

    Returns ``{file_name: {"keypoints": (N, K, 2) float64, "visible": (N, K) bool,
    "labelled": (N, K) bool, "size": (H, W), "bbox": (N, 4), "image_id": id}}``. COCO's v flag: 0 not
    labelled (coordinates NaN here), 1 labelled but occluded, 2 visible; ``visible`` is v == 2.
    """
    path = Path(path)
    text = _read_bytes(path, "a COCO keypoint JSON file")
    try:
        coco = json.loads(text)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        raise InputError(
            f"expected COCO keypoint JSON in {str(path)!r}, got invalid JSON: {exc}"
        ) from None
    try:
        images = {img["id"]: img for img in coco["images"]}
        per_image: dict[Any, list[dict]] = {}
        for ann in coco["annotations"]:
            if ann.get("keypoints"):
                per_image.setdefault(ann["image_id"], []).append(ann)
        out = {}
        for image_id, anns in per_image.items():
            if image_id not in images:
                raise KeyError(f"annotation for image_id {image_id!r}, which 'images' lacks")
            kp = np.array([a["keypoints"] for a in anns], dtype=np.float64)
            if kp.ndim != 2 or kp.shape[1] % 3:
                raise ValueError(
                    f"keypoints of image_id {image_id!r} are not lists of (x, y, v) triples of "
                    "one length"
                )
            kp = kp.reshape(len(anns), -1, 3)
            v = kp[..., 2]
            xy = np.where((v > 0)[..., None], kp[..., :2], np.nan)
            img = images[image_id]
            out[img["file_name"]] = {
                "keypoints": xy,
                "visible": v == 2,
                "labelled": v > 0,
                "size": (int(img["height"]), int(img["width"])),
                "bbox": np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(-1, 4),
                "image_id": image_id,
            }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        detail = f"missing key {exc}" if isinstance(exc, KeyError) else str(exc)
        raise InputError(
            f"expected COCO keypoint JSON (images, annotations with keypoints) in "
            f"{str(path)!r}: {detail}"
        ) from None
    return out


# ---------------------------------------------------------------- optical flow
#: KITTI's 16-bit flow PNG (the KITTI 2012/2015 devkit, A. Geiger, ``devkit/cpp/io_flow.h`` and
#: ``readme.txt``): ``R = u * 64 + 2^15``, ``G = v * 64 + 2^15``, ``B = 1`` where the flow is
#: valid (0 elsewhere), so ``u = (R - 2^15) / 64``; steps of 1/64 px over [-512, 512 - 1/64] px.
KITTI_FLOW_OFFSET = 2**15
KITTI_FLOW_SCALE = 64.0
KITTI_FLOW_MIN = -KITTI_FLOW_OFFSET / KITTI_FLOW_SCALE
KITTI_FLOW_MAX = (65535 - KITTI_FLOW_OFFSET) / KITTI_FLOW_SCALE

_FLOW_SUFFIXES = ".flo, .png (KITTI 16-bit), .npy or .pfm (FlyingThings3D)"


def read_kitti_flow(path: str | Path) -> np.ndarray:
    """Optical flow from a KITTI 16-bit flow PNG: ``(H, W, 2)`` float32 ``(u, v)`` pixels, NaN
    where the valid channel (blue) is 0.

    ``u = (R - 2^15) / 64``, ``v = (G - 2^15) / 64``, valid where ``B > 0`` (KITTI 2012/2015
    devkit, ``io_flow.h``). Anything but a 16-bit RGB(A) PNG is an :class:`InputError`.
    """
    path = Path(path)
    image = read_image(path)
    if image.ndim != 3 or image.shape[-1] != 3 or image.dtype != np.uint16:
        raise InputError(
            f"expected a KITTI flow PNG (16-bit RGB: u * 64 + 2^15, v * 64 + 2^15, valid), got "
            f"{image.dtype} {image.shape} in {str(path)!r}"
            + ("; an 8-bit RGB image is a flow picture, not flow" if image.ndim == 3 else "")
        )
    flow = (image[..., :2].astype(np.float32) - KITTI_FLOW_OFFSET) / np.float32(KITTI_FLOW_SCALE)
    flow[image[..., 2] == 0] = np.nan
    return flow


def write_kitti_flow(path: str | Path, flow: np.ndarray) -> Path:
    """Write ``(H, W, 2)`` flow as a KITTI 16-bit flow PNG, atomically: ``(rint(u * 64) + 2^15,
    rint(v * 64) + 2^15, 1)`` where both components are finite, ``(0, 0, 0)`` elsewhere (NaN is
    unknown). Components are rounded to 1/64 px (an error of at most 1/128 px each); flow outside
    the format's [-512, 511.984375] px is an :class:`InputError` (the devkit clamps it silently;
    write ``.flo`` or ``.npy`` to keep it)."""
    flow = _flow_array(flow, "a KITTI flow PNG")
    valid = np.all(np.isfinite(flow), axis=-1)
    codes = np.rint(np.where(valid[..., None], flow, 0.0) * KITTI_FLOW_SCALE) + KITTI_FLOW_OFFSET
    if codes.size and (codes.min() < 0 or codes.max() > 65535):
        worst = float(np.abs(flow[valid]).max())
        raise InputError(
            f"expected flow within [{KITTI_FLOW_MIN:g}, {KITTI_FLOW_MAX:g}] px for a KITTI flow "
            f"PNG, got a component of magnitude {worst:g} px; write .flo or .npy to keep it"
        )
    image = np.empty(flow.shape[:2] + (3,), dtype=np.uint16)
    image[..., :2] = np.where(valid[..., None], codes, 0)
    image[..., 2] = valid
    return write_png(path, image)


def _flow_array(flow: Any, what: str) -> np.ndarray:
    flow = np.asarray(flow)
    if flow.ndim != 3 or flow.shape[-1] != 2 or flow.dtype.kind not in "iuf" or flow.size == 0:
        raise InputError(
            f"expected one flow field of shape (H, W, 2) (real numbers) to write as {what}, got "
            f"{flow.dtype} {flow.shape}"
        )
    return flow.astype(np.float64)


def read_flow(path: str | Path) -> np.ndarray:
    """Optical flow ``(H, W, 2)`` (u, v) in pixels, NaN where unknown, by the file's suffix.

    * ``.flo``: Middlebury (Sintel, FlyingChairs), :func:`~rgbtask.io.formats.read_flo`; float32;
    * ``.png``: KITTI 16-bit (:func:`read_kitti_flow`); float32, NaN where not valid;
    * ``.npy``: a float ``(H, W, 2)`` array, as stored (non-finite values are NaN in both
      components);
    * ``.pfm``: FlyingThings3D's 3-channel PFM, whose third channel (zeros) is dropped; float32.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".flo":
        return read_flo(path)
    if suffix == ".png":
        return read_kitti_flow(path)
    if suffix == ".npy":
        flow = _read_npy(path, _FLOW_NPY)
        if flow.dtype == np.float16:
            flow = flow.astype(np.float32)
    elif suffix == ".pfm":
        flow = read_pfm(path)
        if flow.ndim == 3:
            flow = flow[..., :2]
    else:
        raise InputError(f"expected optical flow as {_FLOW_SUFFIXES}, got {str(path)!r}")
    if flow.ndim != 3 or flow.shape[-1] != 2:
        raise InputError(
            f"expected optical flow of shape (H, W, 2), got {flow.shape} in {str(path)!r}"
        )
    unknown = ~np.all(np.isfinite(flow), axis=-1)
    if unknown.any():
        flow = flow.copy()
        flow[unknown] = np.nan
    return np.ascontiguousarray(flow)


def write_flow(path: str | Path, flow: Any) -> Path:
    """Write one flow field ``(H, W, 2)`` by the suffix: ``.flo`` (Middlebury, unknown as 1e10),
    ``.png`` (KITTI 16-bit, :func:`write_kitti_flow`), ``.npy`` (as is, NaN kept)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".flo":
        return write_flo(path, flow)
    if suffix == ".png":
        return write_kitti_flow(path, flow)
    if suffix == ".npy":
        _flow_array(flow, ".npy")
        return write_value(path, np.asarray(flow))
    raise InputError(
        f"expected a flow output ending in .flo, .png (KITTI 16-bit) or .npy, got "
        f"{Path(path).name!r}"
    )


READERS: dict[str, Callable[..., np.ndarray]] = {
    "flow": read_flow,
    "depth": read_depth,
    "mask": read_mask,
    "normals": read_normals,
}


def read_value(task: str, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
    """The task value stored in ``path`` (depth, mask, normals or flow)."""
    if task not in READERS:
        raise InputError(f"expected a task in {sorted(READERS)} for file input, got {task!r}")
    if task == "depth":
        return read_depth(path, depth_scale)
    return READERS[task](path)


def write_value(path: str | Path, value: np.ndarray, depth_scale: float | None = None) -> Path:
    """Write a decoded value by extension: ``.npy`` as is; ``.pfm`` float; ``.png`` integer labels
    (uint8/uint16) or depth times ``depth_scale`` as uint16 (NaN -> 0)."""
    path = Path(path)
    value = np.asarray(value)
    suffix = path.suffix.lower()
    if suffix == ".npy":

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to the name
                np.save(f, value, allow_pickle=False)

        return write_atomic(path, write)
    if suffix == ".pfm":
        return write_pfm(path, value)
    if suffix == ".png":
        if value.dtype.kind == "f":
            if depth_scale is None:
                raise InputError("expected --depth-scale to write float depth as a 16-bit PNG")
            scaled = np.rint(np.nan_to_num(value, nan=0.0, posinf=0.0) * depth_scale)
            if scaled.max(initial=0) > 65535 or scaled.min(initial=0) < 0:
                raise InputError(
                    f"expected depth * {depth_scale} within 0..65535 for a 16-bit PNG, got "
                    f"{scaled.min():g}..{scaled.max():g}"
                )
            return write_png(path, scaled.astype(np.uint16))
        if value.min(initial=0) < 0 or value.max(initial=0) > 65535:
            raise InputError("expected labels within 0..65535 for a PNG; write .npy instead")
        dtype = np.uint8 if value.max(initial=0) <= 255 else np.uint16
        return write_png(path, value.astype(dtype))
    raise InputError(f"expected an output ending in .npy, .pfm or .png, got {path.name!r}")


# ---------------------------------------------------------------- task families


class TaskIO:
    """How one task family's samples are read from files and its decoded values written back.

    A codec class declares its family's reader/writer as its ``task_io`` ClassVar; ``rgbtask
    encode`` / ``decode`` and :func:`rgbtask.convert.convert` call only these hooks and the codec's
    ``encode`` / ``decode``, so a new task family needs no edit there. The default reads one sample
    per file (subclasses implement :meth:`read`) and writes decoded values with
    :func:`write_value` (``.npy``, ``.pfm``, ``.png``); a family whose files hold several samples
    (COCO JSON) overrides :meth:`items` and :meth:`select`.
    """

    def items(
        self, path: str | Path, depth_scale: float | None = None
    ) -> list[tuple[str, str, Any]]:
        """The samples one input file holds, as ``(key, output stem, payload)``.

        ``key`` names the sample in reports and the manifest, the output is ``<stem>.png`` (beside
        the input's mirrored folder; a stem may hold subfolders, ``val/0001``), and the
        payload (small, picklable: it travels to worker processes) is what :meth:`encode` takes.
        The default: one sample per file, read in :meth:`encode` (in the worker). Raises
        :class:`~rgbtask.errors.InputError` for a file that fails as a whole.
        """
        path = Path(path)
        return [(str(path), path.stem, {"path": str(path), "depth_scale": depth_scale})]

    def select(self, path: str | Path, name: str | None, depth_scale: float | None = None) -> Any:
        """The payload of the one sample ``rgbtask encode`` encodes from ``path`` (``name``: the
        ``--image`` option, for files that hold several samples)."""
        return self.items(path, depth_scale)[0][2]

    def read(self, path: str | Path, depth_scale: float | None = None) -> Any:
        """The task value stored in ``path`` (what the codec's ``encode`` takes)."""
        raise InputError(f"expected a task whose files rgbtask can read, got {str(path)!r}")

    def encode(self, codec: Any, payload: Any) -> np.ndarray:
        """Encode one sample (a payload from :meth:`items`) with ``codec``."""
        return codec.encode(self.read(payload["path"], payload["depth_scale"]))

    def write(self, path: str | Path, value: Any, depth_scale: float | None = None) -> Path:
        """Write a decoded value to ``path``, by its extension: one of :attr:`decode_formats`
        (:func:`write_value` writes them); any other is refused, naming those this task writes."""
        suffix = Path(path).suffix.lower()
        if suffix.lstrip(".") not in self.decode_formats or self.batch_suffix(suffix[1:]) is None:
            single = [f".{f}" for f in self.decode_formats if self.batch_suffix(f) is not None]
            raise InputError(
                f"expected an output ending in {', '.join(single)} for this codec's values, got "
                f"{Path(path).name!r}" + self._write_hint()
            )
        return write_value(path, value, depth_scale)

    def value(self, codec: Any, payload: Any) -> Any:
        """The task value of one sample (a payload from :meth:`items`) for ``codec``: what its
        ``encode`` takes and its ``metrics`` compare with (``rgbtask eval --input``)."""
        return self.read(payload["path"], payload["depth_scale"])

    def _write_hint(self) -> str:
        collected = [f for f in self.decode_formats if self.batch_suffix(f) is None]
        if not collected:
            return ""
        return (
            f"; {', '.join(collected)} is written for a whole batch: rgbtask decode 'GLOB' --out "
            f"DIR --format {collected[0]}"
        )

    #: Formats ``rgbtask decode --out DIR --format F`` writes (the first is the default).
    decode_formats: tuple[str, ...] = ("npy", "pfm", "png")

    def batch_suffix(self, fmt: str) -> str | None:
        """The suffix of each file a batch decode in format ``fmt`` writes (``".npy"``), or None
        where the family collects all samples into one file (:meth:`write_collected`)."""
        if fmt not in self.decode_formats:
            raise InputError(
                f"expected --format in {list(self.decode_formats)} for this codec, got {fmt!r}"
            )
        return f".{fmt}"

    def collect(self, codec: Any, decoded: Any, record: dict[str, Any] | None, key: str) -> Any:
        """What one decoded sample contributes to a collected file (picklable, small)."""
        return None

    def write_collected(self, out_dir: str | Path, fmt: str, results: list[Any]) -> list[Path]:
        """Write the file(s) :meth:`collect`'s results make up; returns their paths."""
        return []

    def sample_record(self, codec: Any, payload: Any) -> dict[str, Any] | None:
        """What a convert manifest records for one output (JSON-safe), for decoding it later
        (:meth:`sample_codec`) or naming it in results; None: nothing (the default)."""
        return None

    def sample_codec(self, codec: Any, record: dict[str, Any] | None) -> Any:
        """The codec that decodes one output, given what :meth:`sample_record` recorded for it
        (``None`` when the manifest holds nothing): ``codec`` itself by default."""
        return codec


class DepthIO(TaskIO):
    """Depth: 16-bit PNG (with ``depth_scale``), ``.npy``, ``.pfm``, ``.exr``."""

    def read(self, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
        return read_depth(path, depth_scale)


class MaskIO(TaskIO):
    """Label maps: PNG (gray, 16-bit, palette, COCO panoptic RGB), ``.npy``."""

    decode_formats = ("npy", "png")

    def read(self, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
        return read_mask(path)


class NormalsIO(TaskIO):
    """Surface normals: ``.npy``, ``.exr`` in; ``.npy``, ``.pfm`` (3-channel float) out."""

    decode_formats = ("npy", "pfm")

    def read(self, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
        return read_normals(path)


class FlowIO(TaskIO):
    """Optical flow ``(H, W, 2)``: Middlebury ``.flo``, KITTI 16-bit ``.png``, ``.npy`` and
    FlyingThings3D ``.pfm`` in (:func:`read_flow`); ``.npy``, ``.flo`` and ``.png`` (KITTI) out
    (:func:`write_flow`), NaN written as each format's unknown flow.

    A codec that normalises each image by its own scale (``max_flow=None``, with a
    ``flow_scale(flow)`` method, as ``flow/wheel`` by default) gets that scale recorded per output
    in ``convert``'s manifest (``{"max_flow": s}``), and decodes each output with ``max_flow=s``:
    the same codes, decoded in pixels. (The scale is read from the input in the parent process,
    so such a conversion reads every input twice.)"""

    decode_formats = ("npy", "flo", "png")

    @staticmethod
    def _per_image(codec: Any) -> bool:
        return getattr(codec, "max_flow", 0) is None and hasattr(codec, "flow_scale")

    def sample_record(self, codec: Any, payload: Any) -> dict[str, Any] | None:
        """``{"max_flow": s}``, the image's scale in pixels, for a per-image-scaled codec."""
        if not self._per_image(codec):
            return None
        try:
            flow = self.read(payload["path"])
        except InputError:
            return None  # the worker reports the file
        return {"max_flow": float(codec.flow_scale(flow))}

    def sample_codec(self, codec: Any, record: dict[str, Any] | None) -> Any:
        """The codec at the recorded scale (``max_flow=s``), so that outputs decode in pixels."""
        scale = (record or {}).get("max_flow")
        if scale is None or not self._per_image(codec):
            return codec
        from rgbtask.registry import get_codec

        return get_codec({**codec.get_config(), "max_flow": float(scale)})

    def read(self, path: str | Path, depth_scale: float | None = None) -> np.ndarray:
        return read_flow(path)

    def write(self, path: str | Path, value: Any, depth_scale: float | None = None) -> Path:
        suffix = Path(path).suffix.lower().lstrip(".")
        if suffix not in self.decode_formats:
            return super().write(path, value, depth_scale)  # refused, naming what it writes
        return write_flow(path, value)


class CocoKeypointsIO(TaskIO):
    """Keypoints: a COCO keypoint JSON file holds one sample per annotated image, named by the
    image's file name (the output by that name without its suffix, folders kept:
    ``val/0001.jpg`` -> ``val/0001.png``)."""

    def items(
        self, path: str | Path, depth_scale: float | None = None
    ) -> list[tuple[str, str, Any]]:
        return [
            (f"{path}:{name}", _image_stem(name), self._payload(ann))
            for name, ann in read_coco_keypoints(path).items()
        ]

    def select(self, path: str | Path, name: str | None, depth_scale: float | None = None) -> Any:
        images = read_coco_keypoints(path)
        if name is None or name not in images:
            raise InputError(f"expected --image with one of {sorted(images)}, got {name!r}")
        return self._payload(images[name])

    @staticmethod
    def _payload(ann: dict[str, Any]) -> dict[str, Any]:
        return {
            "keypoints": ann["keypoints"],
            "visible": ann["visible"],
            "size": ann["size"],
            "image_id": ann.get("image_id"),
        }

    def encode(self, codec: Any, payload: Any) -> np.ndarray:
        codec = self._sized(codec, payload["size"])
        self._check_size(codec, payload)
        return codec.encode(payload["keypoints"], visible=payload["visible"])

    def value(self, codec: Any, payload: Any) -> Any:
        """The keypoints, NaN where not visible (what the encoding keeps)."""
        self._check_size(self._sized(codec, payload["size"]), payload)
        return np.where(np.asarray(payload["visible"])[..., None], payload["keypoints"], np.nan)

    @staticmethod
    def _check_size(codec: Any, payload: Any) -> None:
        size = tuple(getattr(codec, "size", None) or payload["size"])
        if tuple(payload["size"]) != size:
            raise InputError(
                f"expected an image of size {size} (the codec's), got {tuple(payload['size'])}; "
                "size=None in the codec's config takes each image's own size"
            )

    @staticmethod
    def _sized(codec: Any, size: Any) -> Any:
        """``codec`` at canvas ``size`` when its own size is None (per sample); else itself."""
        if getattr(codec, "size", None) is not None or size is None:
            return codec
        from rgbtask.registry import get_codec

        return get_codec({**codec.get_config(), "size": [int(s) for s in size]})

    def sample_record(self, codec: Any, payload: Any) -> dict[str, Any] | None:
        """The COCO image id of each output, and its canvas size when the codec's ``size`` is
        None (per sample)."""
        record: dict[str, Any] = {"image_id": _plain_id(payload.get("image_id"))}
        if getattr(codec, "size", None) is None:
            record["size"] = [int(s) for s in payload["size"]]
        return record

    decode_formats = ("npy", "json")

    def batch_suffix(self, fmt: str) -> str | None:
        """``json``: one COCO results file for all outputs (:meth:`write_collected`)."""
        return None if fmt == "json" else super().batch_suffix(fmt)

    def collect(self, codec: Any, decoded: Any, record: dict[str, Any] | None, key: str) -> Any:
        """COCO result entries (``image_id``, ``category_id`` 1, ``keypoints`` as x, y, score
        triples with 0, 0, 0 where not found, ``score`` the mean over found keypoints), one per
        decoded instance with a keypoint found. The image id is the one the manifest recorded, or
        the output's name when there is none."""
        image_id = (record or {}).get("image_id", key)
        value = np.asarray(decoded.value, dtype=np.float64)
        score = np.asarray(decoded.confidence, dtype=np.float64)
        found = np.asarray(decoded.valid, dtype=bool)
        entries = []
        for xy, sc, ok in zip(value, score, found):
            if not ok.any():
                continue
            triples = np.where(ok[:, None], np.column_stack([xy, sc]), 0.0)
            entries.append(
                {
                    "image_id": image_id,
                    "category_id": 1,
                    "keypoints": [round(float(v), 3) for v in triples.ravel()],
                    "score": round(float(sc[ok].mean()), 4),
                }
            )
        return entries

    def write_collected(self, out_dir: str | Path, fmt: str, results: list[Any]) -> list[Path]:
        """``out_dir/results.json``: the COCO keypoint results of every decoded output."""
        entries = [entry for part in results for entry in (part or [])]
        text = json.dumps(entries) + "\n"
        path = Path(out_dir) / "results.json"
        return [write_atomic(path, lambda tmp: tmp.write_text(text))]

    def sample_codec(self, codec: Any, record: dict[str, Any] | None) -> Any:
        """A per-sample codec (``size=None``) takes the size the manifest recorded."""
        return self._sized(codec, (record or {}).get("size"))


def _image_stem(file_name: str) -> str:
    """A COCO ``file_name``'s output name: its path without the suffix, so that images in
    subfolders (``val/0001.jpg``) keep their folders; just the stem for a name that climbs out
    (``..``) or is absolute."""
    from pathlib import PurePosixPath

    name = PurePosixPath(str(file_name).replace("\\", "/"))
    if name.is_absolute() or ".." in name.parts or not name.stem:
        return Path(str(file_name)).stem
    return name.with_suffix("").as_posix()


def _plain_id(image_id: Any) -> Any:
    """A COCO image id as JSON writes it (ints and strings as they are)."""
    return image_id.item() if isinstance(image_id, np.generic) else image_id


DEPTH_IO = DepthIO()
MASK_IO = MaskIO()
NORMALS_IO = NormalsIO()
COCO_KEYPOINTS_IO = CocoKeypointsIO()
FLOW_IO = FlowIO()


class _NoTaskIO(TaskIO):
    """What a codec that declares no ``task_io`` gets: it writes decoded values, reads nothing."""

    def __init__(self, name: str) -> None:
        self.name = name

    def read(self, path: str | Path, depth_scale: float | None = None) -> Any:
        raise InputError(
            f"expected a codec that declares how its task is read from files (a task_io), got "
            f"{self.name!r}, which declares none"
        )


def task_io_for(codec: Any) -> TaskIO:
    """The reader/writer ``codec`` declares (its ``task_io``); one that only writes if none."""
    task_io = getattr(codec, "task_io", None)
    return task_io if task_io is not None else _NoTaskIO(codec.name)
