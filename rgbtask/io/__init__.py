"""File I/O: task values from the files datasets ship, and images written safely.

* depth: 16-bit PNG (``value / depth_scale`` metres, 0 = invalid -> NaN), ``.npy``, ``.pfm``, and
  ``.exr`` where the installed OpenCV supports it;
* masks: PNG (``L``, ``I;16``, palette ``P`` whose indices are the labels, or an RGB COCO panoptic PNG
  read as ``R + 256 G + 256^2 B``), ``.npy``;
* normals: ``.npy``, ``.exr`` (float, ``(H, W, 3)``);
* optical flow: Middlebury ``.flo`` (tag 202021.25, width, height, ``(u, v)`` float32; ``|u|`` or
  ``|v|`` > 1e9 = unknown -> NaN), KITTI's 16-bit flow PNG (``(u * 64 + 2^15, v * 64 + 2^15,
  valid)``), ``.npy`` and FlyingThings3D's ``.pfm``, read and (but ``.pfm``) written;
* keypoints: COCO JSON (``annotations[].keypoints`` as ``(N, 17, 2)`` plus visibility, per image);
* encoded images to decode: :func:`read_rgb`, 8- or 16-bit RGB only; written by :func:`write_png` in
  the format the file name says (``.png``; ``.tif``; ``.jpg`` with a :class:`LossyFormatWarning`;
  any other suffix refused);
* palette-mode ("P") PNGs as VOC ships its label maps: the pixel values are the labels and the file's
  palette holds the colours (:func:`write_palette_png`, :func:`read_palette_png`).

Bad files are an :class:`~rgbtask.errors.InputError` that names the file and what is wrong with it,
never a partly decoded array: every PNG chunk's CRC is checked and the file must end with its
``IEND`` chunk; a JPEG must be complete (Pillow's full decode, plus an end-of-image marker after the
last scan, whatever ``PIL.ImageFile.LOAD_TRUNCATED_IMAGES`` says); ``.npy`` headers are checked
against the file's size before anything is allocated; PFM headers are parsed strictly.

Every writer writes to a temporary name in the destination folder,
``.<name>.rgbtask-<host>-<pid>-<random>.part``, flushes it to disk and renames it into place, so an
interrupted run never leaves a half-written file under the final name;
:func:`remove_stale_partials` deletes the temporary files of processes that died on this host.

The package: :mod:`~rgbtask.io.formats` (file validation and parsing), :mod:`~rgbtask.io.images`
(image reading and writing), :mod:`~rgbtask.io.tasks` (per-task readers and writers, COCO JSON, the
:class:`~rgbtask.io.tasks.TaskIO` objects codecs declare) and :mod:`~rgbtask.io.atomic` (atomic
writes). Every public name is importable from ``rgbtask.io``.
"""

# private helpers the tests and fuzzers reach for, from where they lived before the split
from rgbtask.io.atomic import (  # noqa: F401
    _PARTIAL,
    _host,
    _pid_alive,
    partial_name,
    remove_stale_partials,
    write_atomic,
)
from rgbtask.io.formats import _cv2, read_flo, read_pfm, write_flo, write_pfm  # noqa: F401
from rgbtask.io.images import (
    LossyFormatWarning,
    read_image,
    read_palette_png,
    read_rgb,
    write_palette_png,
    write_png,
)
from rgbtask.io.tasks import (
    COCO_KEYPOINTS_IO,
    DEPTH_IO,
    FLOW_IO,
    MASK_IO,
    NORMALS_IO,
    READERS,
    TaskIO,
    read_coco_keypoints,
    read_depth,
    read_flow,
    read_kitti_flow,
    read_mask,
    read_normals,
    read_value,
    task_io_for,
    write_flow,
    write_kitti_flow,
    write_value,
)

__all__ = [
    "COCO_KEYPOINTS_IO",
    "DEPTH_IO",
    "FLOW_IO",
    "MASK_IO",
    "NORMALS_IO",
    "READERS",
    "LossyFormatWarning",
    "TaskIO",
    "partial_name",
    "read_coco_keypoints",
    "read_depth",
    "read_flo",
    "read_flow",
    "read_image",
    "read_kitti_flow",
    "read_mask",
    "read_normals",
    "read_palette_png",
    "read_pfm",
    "read_rgb",
    "read_value",
    "remove_stale_partials",
    "task_io_for",
    "write_atomic",
    "write_flo",
    "write_flow",
    "write_kitti_flow",
    "write_palette_png",
    "write_pfm",
    "write_png",
    "write_value",
]
