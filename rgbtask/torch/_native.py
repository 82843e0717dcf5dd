"""A codec class's torch implementation, from its own declaration: the class attribute
``torch_impl = "module:Class"`` (see :class:`rgbtask.Codec`), imported on first use and shared.

The declaration is read from the class itself, not inherited: a subclass (a plugin deriving from
a built-in codec) changes what its parent's implementation may assume, so it takes the host path
unless it declares a torch implementation of its own (it may name its parent's). A plugin's
implementation subclasses :class:`rgbtask.torch._base._Native`; its methods return None where
they do not apply (the host path then runs).
"""

from __future__ import annotations

import importlib
import threading

from rgbtask.codec import Codec
from rgbtask.errors import ConfigError
from rgbtask.torch._base import _Native

_HOST = _Native()
_LOADED: dict[str, _Native] = {}
_LOCK = threading.Lock()


def _load(spec: str, cls: type) -> _Native:
    """The shared instance of the implementation ``spec`` (``"module:Class"``)."""
    with _LOCK:
        impl = _LOADED.get(spec)
        if impl is None:
            module, _, name = spec.partition(":")
            try:
                impl_cls = getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError, ValueError) as exc:
                raise ConfigError(
                    f"expected {cls.__qualname__}.torch_impl as 'module:Class' naming a torch "
                    f"implementation, got {spec!r} ({exc})"
                ) from exc
            if not (isinstance(impl_cls, type) and issubclass(impl_cls, _Native)):
                raise ConfigError(
                    f"expected {cls.__qualname__}.torch_impl to name a subclass of "
                    f"rgbtask.torch._base._Native, got {spec!r}"
                )
            impl = _LOADED[spec] = impl_cls()
        return impl


def _native_of(codec: Codec) -> _Native:
    """The torch implementation ``type(codec)`` declares (its own ``torch_impl``), else the
    host path."""
    cls = type(codec)
    spec = vars(cls).get("torch_impl")
    if spec is None or not getattr(codec, "torch_native", True):
        return _HOST  # a configuration the native path does not cover (mask/instance random)
    return _load(spec, cls)
