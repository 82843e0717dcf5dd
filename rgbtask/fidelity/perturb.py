"""Seeded, composable perturbations of RGB images: what happens to an encoded image between the
encoder and the decoder (a lossy file format, a generator's noise, a resize).

Every perturbation takes RGB ``(..., H, W, 3)`` as ``uint8``, ``uint16`` or float in [0, 1] and a
NumPy ``Generator`` (used by the random ones), and returns RGB the decoders accept:

* file formats (``JPEG``, ``WebP``) work on 8-bit images: float input is rounded to 8 bits first and
  ``uint16`` is reduced to its 8 high bits (rounded), as a real 8-bit file would; they return ``uint8``;
* ``PNG`` is the lossless control: 8 or 16 bits in, the same codes out (through OpenCV);
* the signal perturbations (``Noise``, ``Blur``, ``Resize``, ``ChannelShift``) return float in [0, 1]:
  a model's output is float, and rounding would hide part of the effect. Values pushed outside [0, 1]
  are clipped, because no image holds them (the one place rgbtask clips, and it says so here);
* ``Quantize8`` rounds float to ``uint8``, as saving a model's output to an 8-bit file does.

Image codecs are OpenCV's and Pillow's, never hand-written. ``Chain(a, b, ...)`` applies them in
order; ``parse_perturbation("jpeg:q=90,sub=420+noise:sigma=2")`` builds one from a string (the CLI's
syntax). Leading batch dimensions are processed image by image.
"""

from __future__ import annotations

import abc
import io
from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from rgbtask.codec import check_rgb, rgb_scale
from rgbtask.errors import ConfigError
from rgbtask.params import plain

__all__ = [
    "JPEG",
    "PNG",
    "Blur",
    "Chain",
    "ChannelShift",
    "Identity",
    "Noise",
    "Perturbation",
    "Quantize8",
    "Resize",
    "WebP",
    "parse_perturbation",
]


def to_float(rgb: np.ndarray) -> np.ndarray:
    """RGB as float64 in [0, 1]."""
    return rgb.astype(np.float64) / rgb_scale(rgb)


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """RGB as uint8, rounding to nearest (float: x * 255; uint16: x / 257)."""
    if rgb.dtype == np.uint8:
        return rgb
    return np.floor(to_float(rgb) * 255.0 + 0.5).astype(np.uint8)


def _per_image(fn, rgb: np.ndarray) -> np.ndarray:
    lead = rgb.shape[:-3]
    flat = rgb.reshape((-1, *rgb.shape[-3:]))
    out = [fn(img) for img in flat]
    return np.stack(out).reshape((*lead, *out[0].shape))


def _pillow_roundtrip(rgb: np.ndarray, fmt: str, **options) -> np.ndarray:
    """Save every 8-bit image to an in-memory file of format ``fmt`` (Pillow) and read it back."""
    from PIL import Image

    def one(img):
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format=fmt, **options)
        return np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))

    return _per_image(one, to_uint8(rgb))


class Perturbation(abc.ABC):
    """Base class: ``perturbation(rgb, rng)`` -> perturbed RGB. Subclasses are frozen dataclasses."""

    kind: ClassVar[str] = ""

    def __call__(self, rgb: Any, rng: np.random.Generator | None = None) -> np.ndarray:
        rgb = check_rgb(rgb)
        return self.apply(rgb, rng if rng is not None else np.random.default_rng(0))

    @abc.abstractmethod
    def apply(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Perturb a checked RGB array."""

    @property
    def label(self) -> str:
        """Short text for tables and plots, e.g. ``jpeg q90 4:2:0``."""
        params = " ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))
        return f"{self.kind} {params}".strip()

    def get_config(self) -> dict[str, Any]:
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class Identity(Perturbation):
    """No perturbation: the lossless round trip."""

    kind: ClassVar[str] = "none"

    def apply(self, rgb, rng):
        return rgb

    @property
    def label(self) -> str:
        return "lossless"


@dataclass(frozen=True)
class JPEG(Perturbation):
    """JPEG at ``quality`` with chroma ``subsampling`` "4:4:4", "4:2:2" or "4:2:0" (Pillow/libjpeg)."""

    kind: ClassVar[str] = "jpeg"
    quality: int = 90
    subsampling: str = "4:4:4"

    def __post_init__(self):
        if not 1 <= int(self.quality) <= 100:
            raise ConfigError(f"expected JPEG quality 1..100, got {self.quality}")
        if self.subsampling not in ("4:4:4", "4:2:2", "4:2:0"):
            raise ConfigError(
                f"expected subsampling 4:4:4, 4:2:2 or 4:2:0, got {plain(self.subsampling)!r}"
            )

    @property
    def label(self) -> str:
        return f"jpeg q{self.quality} {self.subsampling}"

    def apply(self, rgb, rng):
        sub = {"4:4:4": 0, "4:2:2": 1, "4:2:0": 2}[self.subsampling]
        return _pillow_roundtrip(rgb, "JPEG", quality=int(self.quality), subsampling=sub)


@dataclass(frozen=True)
class WebP(Perturbation):
    """WebP at ``quality`` (lossy, 4:2:0 like every lossy WebP), or ``lossless=True`` (Pillow/libwebp)."""

    kind: ClassVar[str] = "webp"
    quality: int = 90
    lossless: bool = False

    @property
    def label(self) -> str:
        return "webp lossless" if self.lossless else f"webp q{self.quality}"

    def apply(self, rgb, rng):
        return _pillow_roundtrip(
            rgb, "WEBP", quality=int(self.quality), lossless=bool(self.lossless)
        )


@dataclass(frozen=True)
class PNG(Perturbation):
    """Write and read back a PNG (OpenCV): the lossless control, 8 or 16 bits."""

    kind: ClassVar[str] = "png"

    @property
    def label(self) -> str:
        return "png"

    def apply(self, rgb, rng):
        import cv2

        if rgb.dtype.kind == "f":
            rgb = to_uint8(rgb)

        def one(img):
            ok, buf = cv2.imencode(".png", np.ascontiguousarray(img[..., ::-1]))
            if not ok:
                raise RuntimeError("OpenCV failed to encode a PNG")
            return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)[..., ::-1]

        return np.ascontiguousarray(_per_image(one, rgb))


@dataclass(frozen=True)
class Noise(Perturbation):
    """Additive Gaussian noise of standard deviation ``sigma`` in 8-bit levels (sigma=2 is 2/255)."""

    kind: ClassVar[str] = "noise"
    sigma: float = 2.0

    @property
    def label(self) -> str:
        return f"noise {self.sigma:g}/255"

    def apply(self, rgb, rng):
        noisy = to_float(rgb) + rng.normal(scale=self.sigma / 255.0, size=rgb.shape)
        return np.clip(noisy, 0.0, 1.0)


@dataclass(frozen=True)
class Blur(Perturbation):
    """Gaussian blur of standard deviation ``sigma`` pixels (OpenCV)."""

    kind: ClassVar[str] = "blur"
    sigma: float = 1.0

    @property
    def label(self) -> str:
        return f"blur {self.sigma:g}px"

    def apply(self, rgb, rng):
        import cv2

        def one(img):
            return cv2.GaussianBlur(img, (0, 0), float(self.sigma), borderType=cv2.BORDER_REFLECT)

        return np.clip(_per_image(one, to_float(rgb)), 0.0, 1.0)


_INTERPOLATION = {"nearest": 0, "bilinear": 1, "bicubic": 2, "area": 3, "lanczos": 4}


@dataclass(frozen=True)
class Resize(Perturbation):
    """Down-scale by ``scale`` and back up to the original size, with ``interpolation`` (OpenCV):
    "nearest", "bilinear", "bicubic", "area" or "lanczos"."""

    kind: ClassVar[str] = "resize"
    scale: float = 0.5
    interpolation: str = "bilinear"

    def __post_init__(self):
        if not 0 < float(self.scale) <= 1:
            raise ConfigError(f"expected 0 < scale <= 1, got {self.scale}")
        if self.interpolation not in _INTERPOLATION:
            raise ConfigError(
                f"expected interpolation in {sorted(_INTERPOLATION)}, got {plain(self.interpolation)!r}"
            )

    @property
    def label(self) -> str:
        return f"resize x{self.scale:g} {self.interpolation}"

    def apply(self, rgb, rng):
        import cv2

        flag = _INTERPOLATION[self.interpolation]

        def one(img):
            h, w = img.shape[:2]
            small = cv2.resize(
                img,
                (max(1, round(w * self.scale)), max(1, round(h * self.scale))),
                interpolation=flag,
            )
            return cv2.resize(small, (w, h), interpolation=flag).reshape(img.shape)

        return np.clip(_per_image(one, to_float(rgb)), 0.0, 1.0)


@dataclass(frozen=True)
class Quantize8(Perturbation):
    """Round to 8 bits, as saving a model's float output to an 8-bit file does."""

    kind: ClassVar[str] = "quantize8"

    @property
    def label(self) -> str:
        return "8-bit"

    def apply(self, rgb, rng):
        return to_uint8(rgb)


@dataclass(frozen=True)
class ChannelShift(Perturbation):
    """Add a constant ``offset`` (R, G, B), in 8-bit levels, to every pixel: a colour cast."""

    kind: ClassVar[str] = "shift"
    offset: tuple[float, float, float] = (2.0, 0.0, -2.0)

    def __post_init__(self):
        offset = tuple(float(x) for x in self.offset)
        if len(offset) != 3:
            raise ConfigError(f"expected three channel offsets, got {plain(self.offset)!r}")
        object.__setattr__(self, "offset", offset)

    @property
    def label(self) -> str:
        return "shift " + ",".join(f"{x:+g}" for x in self.offset)

    def apply(self, rgb, rng):
        return np.clip(to_float(rgb) + np.asarray(self.offset) / 255.0, 0.0, 1.0)


class Chain(Perturbation):
    """Apply perturbations in order, e.g. ``Chain(Resize(0.5), JPEG(90))``."""

    kind: ClassVar[str] = "chain"

    def __init__(self, *steps: Perturbation):
        if not steps or not all(isinstance(s, Perturbation) for s in steps):
            raise ConfigError(f"expected one or more perturbations, got {steps!r}")
        self.steps = steps

    def apply(self, rgb, rng):
        for step in self.steps:
            rgb = check_rgb(step.apply(rgb, rng))
        return rgb

    @property
    def label(self) -> str:
        return " + ".join(s.label for s in self.steps)

    def get_config(self) -> dict[str, Any]:
        return {"kind": "chain", "steps": [s.get_config() for s in self.steps]}

    def __eq__(self, other):
        return isinstance(other, Chain) and self.steps == other.steps

    def __hash__(self):
        return hash(self.steps)

    def __repr__(self):
        return f"Chain{self.steps!r}"


_KINDS = {
    cls.kind: cls
    for cls in (Identity, JPEG, WebP, PNG, Noise, Blur, Resize, Quantize8, ChannelShift)
}
_ALIASES = {"q": "quality", "sub": "subsampling", "s": "sigma", "interp": "interpolation"}
_SUBSAMPLING = {"444": "4:4:4", "422": "4:2:2", "420": "4:2:0"}


def parse_perturbation(text: str) -> Perturbation:
    """Build a perturbation from ``kind[:key=value,...]`` steps joined by ``+``.

    Examples: ``"jpeg:q=90,sub=420"``, ``"noise:sigma=2"``, ``"resize:scale=0.5,interp=bicubic"``,
    ``"resize:scale=0.5+jpeg:q=95"``, ``"none"``. Kinds: none, jpeg, webp, png, noise, blur, resize,
    quantize8, shift (``offset=2/0/-2``).
    """
    steps = []
    for part in text.split("+"):
        kind, _, args = part.strip().partition(":")
        kind = kind.strip().lower()
        if kind not in _KINDS:
            raise ConfigError(f"expected a perturbation kind in {sorted(_KINDS)}, got {kind!r}")
        params: dict[str, Any] = {}
        for item in filter(None, (a.strip() for a in args.split(","))):
            key, sep, value = item.partition("=")
            if not sep:
                raise ConfigError(f"expected key=value in perturbation {text!r}, got {item!r}")
            key = _ALIASES.get(key, key)
            params[key] = _parse_value(key, value)
        try:
            steps.append(_KINDS[kind](**params))
        except TypeError as exc:
            raise ConfigError(f"bad parameters for perturbation {kind!r}: {exc}") from None
    return steps[0] if len(steps) == 1 else Chain(*steps)


def _parse_value(key: str, value: str) -> Any:
    if key == "subsampling":
        return _SUBSAMPLING.get(value, value)
    if key == "offset":
        return tuple(float(v) for v in value.split("/"))
    if key == "lossless":
        return value.lower() in ("1", "true", "yes")
    if key == "interpolation":
        return value
    try:
        number = float(value)
    except ValueError:
        raise ConfigError(f"expected a number for {key!r}, got {plain(value)!r}") from None
    return int(number) if key == "quality" else number
